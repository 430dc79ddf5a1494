/**
 * What a channel or a unit looks for: the test images that excite it most (examples/, computed
 * over the whole test set by `layerwise examples`) and, for a convolution's channel, an image made
 * to excite it (featurevis/, made by the build).
 *
 * Every figure of a layer with examples gets a question, "What does map 3 of conv2 look for?",
 * that opens a panel following the figure's current map (a carousel) or selected element (a
 * vector). An examples figure (`![…](examples:conv2)`) shows every unit's row at once; its rows
 * become a choice, and the chosen unit's panel shows beside or below them. A layer's examples, and the one
 * atlas of crops its unit needs, load when a panel first shows them.
 */
import { element, find } from './dom.js';
import { createWriter } from './format.js';

export async function mount(channelFigures, store, site, { figures }) {
  const [index, network, contract] = await Promise.all([site.json('examples'), site.network(), site.contract()]);
  if (!index.available) return;
  const kinds = new Map(index.layers.map(layer => [layer.id, layer.kind === 'map' ? 'map' : 'unit']));
  const context = { index, site, writer: createWriter(contract), chosen: new Chosen(store, network) };
  for (const figure of figures) {
    if (kinds.has(figure.dataset.layer)) mountQuestion(figure, figure.dataset.layer, kinds, context);
  }
  for (const figure of channelFigures) {
    if (kinds.has(figure.dataset.examples)) mountRows(figure, figure.dataset.examples, kinds, context);
  }
}

/**
 * Which unit of each layer the reader has in view: a carousel's current map, the element last
 * selected in a vector's figure, or the row last chosen in an examples figure.
 */
class Chosen {
  constructor(store, network) {
    this.store = store;
    this.grids = new Map(network.layers.filter(layer => layer.grid).map(layer => [layer.id, layer.grid]));
    this.units = new Map();  // layer id → unit, for layers without a carousel
    this.listeners = new Set();
    this.follow(store.getState().selection);  // a selection made before this module loaded
    store.subscribe((state, previous) => {
      const { selection } = state;
      if (selection !== previous.selection) this.follow(selection);
      if (state.positions !== previous.positions || selection !== previous.selection) this.changed();
    });
  }

  follow(selection) {
    if (selection && this.grids.has(selection.layer)) {
      this.units.set(selection.layer, selection.r * this.grids.get(selection.layer)[1] + selection.c);
    }
  }

  unit(layer) {
    const { maps, positions } = this.store.getState();
    return layer in maps ? positions[layer] : this.units.get(layer) ?? 0;
  }

  choose(layer, unit) {
    if (layer in this.store.getState().maps) {
      this.store.dispatch({ type: 'showMap', layer, k: unit });
    } else {
      this.units.set(layer, unit);
      this.changed();
    }
  }

  listen(listener) {
    this.listeners.add(listener);
    listener();
  }

  changed() {
    for (const listener of this.listeners) listener();
  }
}

/** A layer's figure: the question, and the panel it opens under the figure's pictures. */
function mountQuestion(figure, layer, kinds, context) {
  const panel = element('div', { className: 'lw-examples', id: `lw-examples-${layer}`, hidden: true });
  const button = element('button', {
    type: 'button', className: 'lw-examples-ask',
    attributes: { 'aria-expanded': 'false', 'aria-controls': panel.id },
  });
  const before = find('.lw-inspector', figure) ?? find('figcaption', figure);
  figure.insertBefore(button, before);
  figure.insertBefore(panel, before);
  let shown = null;
  const update = () => {
    const unit = context.chosen.unit(layer);
    button.textContent = `What does ${kinds.get(layer)} ${unit + 1} of ${layer} look for?`;
    if (!panel.hidden && shown !== unit) showUnit(panel, layer, shown = unit, context);
  };
  button.addEventListener('click', () => {
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', String(!panel.hidden));
    shown = null;
    update();
  });
  context.chosen.listen(update);
}

/** An examples figure: its rows become a choice of unit, whose panel shows below them. */
function mountRows(figure, layer, kinds, context) {
  const rows = find('.lw-rows', figure);
  const count = context.index.layers.find(each => each.id === layer).units;
  const kind = kinds.get(layer);
  const buttons = Array.from({ length: count }, (_, unit) => {
    const button = element('button', {
      type: 'button', className: 'lw-examples-row', tabIndex: -1,
      attributes: { role: 'radio', 'aria-label': `${kind} ${unit + 1} of ${layer}` },
      onclick: () => context.chosen.choose(layer, unit),
    }, element('span', { attributes: { 'aria-hidden': 'true' } }, String(unit + 1)));
    Object.assign(button.style, { top: `${100 * unit / count}%`, height: `${100 / count}%` });
    return button;
  });
  const choice = element('div', {
    className: 'lw-examples-rows',
    attributes: { role: 'radiogroup', 'aria-label': `The ${kind}s of ${layer}; arrow keys choose one` },
  }, ...buttons);
  choice.addEventListener('keydown', event => {
    const unit = context.chosen.unit(layer);
    const next = { ArrowUp: unit - 1, ArrowDown: unit + 1, Home: 0, End: count - 1 }[event.key];
    if (next === undefined || next < 0 || next >= count) return;
    event.preventDefault();
    context.chosen.choose(layer, next);
    buttons[next].focus();
  });
  rows.classList.add('is-chosen');
  figure.classList.add('is-chosen');
  rows.append(choice);
  const panel = element('div', { className: 'lw-examples' });
  figure.insertBefore(panel, find('figcaption', figure));
  let shown = null;
  context.chosen.listen(() => {
    const unit = context.chosen.unit(layer);
    buttons.forEach((button, i) => {
      button.setAttribute('aria-checked', String(i === unit));
      button.tabIndex = i === unit ? 0 : -1;
    });
    if (shown !== unit) showUnit(panel, layer, shown = unit, context);
  });
}

const showing = new WeakMap();  // panel → the unit it is loading or shows

/** Fill a panel with one unit's examples (and its made image), once they have loaded. */
async function showUnit(panel, layer, unit, { index, site, writer }) {
  showing.set(panel, unit);
  const record = await site.json('examples_layer', { layer });
  const examples = record.units[unit];
  const [atlas, made] = await Promise.all([
    site.picture('examples_atlas', { layer, part: examples.atlas }), madeFor(site, layer)]);
  if (showing.get(panel) !== unit) return;
  const kind = record.kind === 'map' ? 'map' : 'unit';
  const [height, width] = record.tile;
  const list = element('ol', { className: 'lw-examples-list' }, ...examples.test.map((test, i) => {
    const label = `${writer.text('test_image', { index: test })}, ${record.classes[examples.label[i]]}: `
      + writer.number(examples.value[i]);
    return element('li', {}, crop(atlas, examples.tiles[i], record.tile, label),
                   element('span', { className: 'lw-examples-value' }, writer.number(examples.value[i])),
                   element('span', {}, record.classes[examples.label[i]]),
                   element('span', { className: 'lw-examples-test' }, `test ${test}`));
  }));
  const title = element('p', {}, element('b', {}, `${kind === 'map' ? 'Map' : 'Unit'} ${unit + 1} of ${layer}`),
    `: the ${record.count} of the ${index.images.toLocaleString('en')} test images that excite it most, `
    + `best first, each scored by ${index.scoring[record.kind]}.`
    + (kind === 'map' ? ` Each is the ${height} × ${width} pixels its strongest value sees (black beyond the image's edge).` : ''));
  panel.replaceChildren(title, list, ...ties(examples, record, index, writer),
                        ...(made ? [madeImage(made, unit, examples.value[0], writer)] : []));
}

/** A note when other test images score as high as the ninth, or all of them score the same. */
function ties(examples, record, index, writer) {
  const ninth = writer.number(examples.value.at(-1));
  if (examples.at_least >= index.images) {
    return [element('p', { className: 'lw-examples-note' },
      `Every test image scores ${ninth} here: nothing sets these ${record.count} apart, they are only the `
      + 'first ones. A unit that gives all the test images the same value shows nothing of what it looks for.')];
  }
  if (examples.at_least > record.count) {
    return [element('p', { className: 'lw-examples-note' },
      `${examples.at_least.toLocaleString('en')} test images score at least ${ninth}; these are the `
      + `${record.count} with the lowest numbers, and many others show the same.`)];
  }
  return [];
}

/** The made image of a convolution's channel, its score against the best example's, and how it was made. */
function madeImage({ entry, picture, method }, unit, best, writer) {
  const text = writer.text('made', {});
  return element('div', { className: 'lw-made' },
    crop(picture, entry.tiles[unit], entry.tile, text),
    element('div', {},
      element('p', {}, element('b', {}, 'Made, not found. '), text, ' ',
                      writer.text('made_compared', { value: writer.number(entry.value[unit]),
                                             best: writer.number(entry.best_example?.[unit] ?? best) })),
      howItWasMade(method)));
}

function howItWasMade(method) {
  const { regularisation: rules } = method;
  return element('details', {}, element('summary', {}, 'How it was made'), element('p', {},
    `${method.steps} steps of gradient ascent (${method.optimiser}) from ${method.start} (seed `
    + `${method.seed}), in ${rules.space}, to raise ${method.objective}. After each step every pixel is clipped `
    + `to what a real pixel can be, from black to white; an L2 penalty (weight ${rules.l2}) keeps the pixels `
    + `the unit hardly uses dark, and a total-variation penalty (weight ${rules.tv}) keeps the image from `
    + `filling with pixel noise. It is scored as the examples are: ${method.scoring}.`));
}

/** The made images of a convolution (featurevis/): its index entry, atlas and method, or null. */
async function madeFor(site, layer) {
  const { method, layers } = await site.json('featurevis');
  const entry = layers.find(each => each.id === layer);
  if (!entry) return null;
  return { entry, method, picture: await site.picture('featurevis_atlas', { layer }) };
}

/** One tile of an atlas on a canvas of its own size, read out as `label`. */
function crop(picture, [x, y], [height, width], label) {
  const canvas = element('canvas', { width, height, attributes: { role: 'img', 'aria-label': label } });
  canvas.getContext('2d').drawImage(picture, x, y, width, height, 0, 0, width, height);
  return canvas;
}
