/**
 * The picker's controls for the reader's own input: Draw opens the drawing pad; Upload, or
 * dropping an image anywhere on the page, converts an image of the reader's; the newest of
 * these stays in the picker as a choice of its own, with its picture.
 *
 * Loaded with own.js when the reader first uses one of them (main.js binds the triggers), so
 * the first load carries none of this.
 */
import { resolveTestLink } from './confusion.js';
import { element, find } from './dom.js';
import { Pad } from './draw.js';
import { createWriter } from './format.js';
import { pixelsOfLink } from './own.js';
import { useFile } from './upload.js';
import { paintPixels } from './paint.js';
import { watch } from './store.js';

export function mountYours(picker, store, site, own) {
  const panel = find('.lw-sketch', picker), drawButton = find('.lw-draw', picker);
  const said = find('.lw-upload-said', picker);
  let pad = null;
  const setOpen = open => {
    panel.hidden = !open;
    drawButton.setAttribute('aria-expanded', String(open));
  };
  const openPad = async () => {
    pad ??= Promise.all([site.contract(), site.network()]).then(([contract, network]) => {
      const made = new Pad(panel, network.layers[0].shape.slice(1), own, store,
                           createWriter(contract).text('source_drawing', {}));
      find('.lw-sketch-close', panel).addEventListener('click', () => {
        setOpen(false);
        drawButton.focus();
      });
      return made;
    });
    const opened = await pad;
    setOpen(true);
    return opened;
  };
  mountChip(picker, store, site, own);
  const number = find('.lw-test-pick', picker);
  let picking = null;  // the test image's link being resolved
  if (number) {
    watch(store, state => state.input, input => {
      const [, index] = /^test\.(\d+)$/.exec(own.linkOf(input) ?? '') ?? [];
      if (index !== undefined) number.value = index;
    });
  }

  return {
    own,

    /** Draw: open the pad (an empty drawing is the input until the first stroke), or close it. */
    async togglePad() {
      if (!panel.hidden) return setOpen(false);
      const opened = await openPad();
      if (!opened.started) {
        opened.started = true;
        await opened.commit();
      }
      find('.lw-sketch-canvas', panel).focus();
    },

    /** Upload: convert the reader's image, make it the input, and say what was done. */
    async useFile(file) {
      const { id, said: words } = await useFile(file, own);
      said.textContent = words;
      if (id) store.dispatch({ type: 'chooseInput', input: id });
    },

    /**
     * The input a link names when it is the reader's: a drawing (opened on the pad) or a test
     * image: {input} with its id, or {why, fields} saying why not (store.js's unusable).
     */
    async resolve(link) {
      if (link.startsWith('draw.')) {
        const input = await drawingOf(link);
        return input === null ? { why: 'link_drawing' } : { input };
      }
      return link.startsWith('test.') ? resolveTestLink(link, site, own) : { why: 'link_input' };
    },

    /**
     * The test image whose number the reader gave in the picker's `field` becomes the input; a
     * number out of the field's range is said by the field.
     */
    async pickTest(field) {
      if (field.value === '' || !field.reportValidity()) return;
      const link = `test.${Number(field.value)}`;
      if (picking === link || own.linkOf(store.getState().input) === link) return;  // Enter and change both come
      picking = link;
      try {
        const { input } = await this.resolve(link);
        if (input && picking === link) store.dispatch({ type: 'chooseInput', input });
      } finally {
        if (picking === link) picking = null;
      }
    },
  };

  async function drawingOf(link) {
    const [channels, rows, cols] = (await site.network()).layers[0].shape;
    if (channels !== 1) return null;  // the pad draws one channel: no drawing is this network's input
    const pixels = await pixelsOfLink(link, rows * cols);
    if (!pixels) return null;
    const opened = await openPad();
    opened.started = true;
    return opened.load(pixels);
  }
}

/** The picker's own choice, added with the reader's first input: the newest of their inputs,
 * its picture and its name, so the reader can come back to it. */
function mountChip(picker, store, site, own) {
  let chip = null;
  watch(store, state => state.input, async input => {
    if (!site.isComputed(input)) return;
    const summary = await site.summary(input);
    chip ??= find('.lw-choices', picker).appendChild(makeChip(own));
    const radio = find('input', chip);
    radio.value = input;
    radio.checked = store.getState().input === input;
    find('span', chip).textContent = summary.source;
    paintPixels(find('canvas', chip), own.pixelsOf.get(input));
    chip.scrollIntoView({ block: 'nearest', inline: 'nearest' });  // the end of the picker's strip
  });
}

function makeChip(own) {
  const [rows, cols] = own.size;
  return element('label', { className: 'lw-choice lw-yours' },
    element('input', { type: 'radio', name: 'input' }),
    element('canvas', { width: cols, height: rows }),
    element('span'));
}
