/**
 * The input figure of a colour network (class lw-figure-picture): the input in colour, above the
 * maps of its red, green and blue channels, follows the chosen input: its PNG (the contract's
 * `picture`) or, for an input computed in the page (the reader's upload or a test image), painted
 * from its numbers. With a second input to compare, that one's picture stands beside it.
 *
 * Loaded as the figure comes near (main.js's SCRIPTS); a network of one channel has no such figure.
 */
import { element, find } from './dom.js';
import { createWriter } from './format.js';
import { paintPixels } from './paint.js';
import { urlOf } from './site.js';
import { watchLoaded } from './store.js';

export function mount(figures, store, site) {
  for (const figure of figures) {
    const frame = find('.lw-picture', figure);
    const first = slotOf(find('img', frame), 'chosen');
    const second = slotOf(frame.appendChild(element('img', { className: 'lw-picture-second' })), 'compared');
    const load = input => input && pictureOf(input, site);
    watchLoaded(store, state => state.input, load, shown => show(first, shown), { now: true });
    watchLoaded(store, state => state.compare, load, shown => show(second, shown), { now: true });
  }
}

/** An <img> for pictures the site holds and, after it, a canvas for those painted here: both show input `which`. */
function slotOf(image, which) {
  const canvas = element('canvas', { hidden: true, attributes: { role: 'img', 'data-shows-input': which } });
  image.dataset.showsInput = which;
  image.after(canvas);
  return { image, canvas };
}

/** Show a picture in a slot: its PNG, or its pixels painted (the page may load no data: URL); null hides it. */
function show({ image, canvas }, picture) {
  image.hidden = !picture?.src;
  canvas.hidden = !picture?.pixels;
  if (!picture) return;
  if (picture.src) {
    image.src = picture.src;
    image.alt = picture.alt;
  } else {
    const [rows, cols] = picture.size;
    Object.assign(canvas, { width: cols, height: rows });
    paintPixels(canvas, picture.pixels);
    canvas.setAttribute('aria-label', picture.alt);
  }
}

/** An input's picture: {src, alt}, its PNG, or, computed in the page, {pixels, size, alt}. */
async function pictureOf(input, site) {
  const [contract, summary] = await Promise.all([site.contract(), site.summary(input)]);
  const alt = createWriter(contract).text('picture_alt', { name: summary.label_name ?? summary.source });
  if (!site.isComputed(input)) return { src: urlOf(contract, 'picture', { input }), alt };
  const [network, outputs] = await Promise.all([site.network(), site.outputs(input)]);
  const [layer] = network.layers, [, rows, cols] = layer.shape;
  return { pixels: pixelsOf(outputs[layer.id].values, network.normalisation, rows * cols), size: [rows, cols], alt };
}

/**
 * The uint8 pixels (C, H, W) behind a normalised image: each value × its channel's std + its mean,
 * × 255, rounded (exact: float32 keeps far more than the half a level rounding allows).
 */
export function pixelsOf(values, { mean, std }, plane) {
  return Uint8Array.from(values, (value, i) => {
    const c = Math.floor(i / plane);
    return Math.round((value * std[c] + mean[c]) * 255);
  });
}
