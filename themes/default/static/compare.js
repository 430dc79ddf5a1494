/**
 * Two inputs side by side: with a second input chosen (the store's `compare`), every map, image
 * and strip in view shows, beside the chosen input's, the second input's picture on the same
 * colour scale and the difference of the two on a diverging one. The carousels move all three.
 * The picker gets a "compare with" choice of the author's inputs and the reader's own.
 *
 * Loaded when the reader first asks to compare or a link names a comparison (main.js).
 */
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { divergingScale, paint, paintPixels } from './paint.js';
import { pixelsOf } from './picture.js';
import { mapOf } from './pictures.js';
import { shownInput, watch, watchLoaded } from './store.js';
import { gridOf } from './surface.js';

export function mountCompare(picker, figures, store, site) {
  const chooser = picker && makeChooser(picker, store, site);
  const pictured = figures.filter(figure => find('.lw-surface', figure) && figure.dataset.kind !== 'logits');
  const tables = figures.filter(figure => figure.dataset.kind === 'logits');
  // A pair that loads after the reader has moved on is not drawn (watchLoaded).
  watchLoaded(store, state => `${shownInput(state)} ${state.compare} ${Object.values(state.positions)}`,
              () => loadPair(store.getState(), site), pair => {
                showAll(pictured, pair, store.getState().positions);
                showLogits(tables, pair);
              }, { now: true });
  return chooser;
}

/**
 * A "compare with" select after the picker's own buttons: none, then every other input, each by its
 * class and its source, so that two shirts can be told apart.
 */
function makeChooser(picker, store, site) {
  const choices = () => findAll('.lw-choice input', picker).map(choice => choice.value).filter(Boolean);
  const select = element('select', { className: 'lw-compare-with', attributes: { 'aria-label': 'Compare with' } });
  const fill = async () => {
    const { input } = store.getState(), ids = choices().filter(id => id !== input);
    const [writer, summaries] = await Promise.all([
      site.contract().then(createWriter), Promise.all(ids.map(id => site.summary(id)))]);
    const { compare, input: now } = store.getState();
    if (now !== input) return;  // the reader has chosen again: that choice fills the list
    select.replaceChildren(element('option', { value: '' }, 'compare with…'),
      ...ids.map((id, i) => element('option', { value: id }, fullName(writer, summaries[i]))));
    select.value = compare ?? '';
  };
  select.addEventListener('change', () => store.dispatch({ type: 'compare', input: select.value || null }));
  watch(store, state => `${state.input} ${state.compare}`, fill);
  fill();
  find('.lw-compare-open', picker)?.replaceWith(select);
  return select;
}

/**
 * What the pair shows, both inputs through the network at the moment of training the figures
 * show: {contract, writer, outputs: [first, second], names: their summaries, pictures: their
 * pixels, to tell them apart on every map}, or null for no pair.
 */
async function loadPair(state, site) {
  if (!state.compare) return null;
  const shown = [shownInput(state), shownInput({ ...state, input: state.compare })];
  const [contract, network, outputs, names] = await Promise.all([
    site.contract(), site.network(), Promise.all(shown.map(id => site.outputs(id))),
    Promise.all(shown.map(id => site.summary(id)))]);
  const writer = createWriter(contract);
  const [{ id, shape: [, rows, cols] }] = network.layers;
  const pictures = outputs.map((each, i) => ({
    pixels: pixelsOf(each[id].values, network.normalisation, rows * cols), size: [rows, cols],
    name: fullName(writer, names[i]), which: ['chosen', 'compared'][i] }));
  return { contract, writer, outputs, names, pictures };
}

/** Every figure's maps in view (by `positions`): the second input beside the first, and their difference. */
function showAll(figures, loaded, positions) {
  if (!loaded) {
    for (const pair of findAll('.lw-pair')) pair.hidden = true;
    for (const label of findAll('.lw-pair-first')) label.hidden = true;
    return;
  }
  const { contract, writer, outputs: [first, second], names, pictures: [one, two] } = loaded;
  const [oneName, twoName] = names.map(shortName);
  for (const figure of figures) {
    const layer = figure.dataset.layer;
    findAll('.lw-surface', figure).forEach((surface, k) => {
      const inView = figure.dataset.kind !== 'maps' || positions[layer] === k;
      if (!inView) return;
      const pair = pairAfter(surface);
      const grid = gridOf(surface);
      const [a, b] = [first, second].map(outputs => mapOf(outputs[layer], figure.dataset.kind, k, grid));
      const scale = contract.scales[layer];
      const [other, difference] = findAll(':scope > figure > canvas', pair);
      paint(other, b, scale, contract.palettes[scale.cmap]);
      const values = Float64Array.from(a.values, (value, i) => value - b.values[i]);
      const differences = divergingScale(values, contract), bound = differences.vmax;
      paint(difference, { shape: [grid.rows, grid.cols], values }, differences, contract.palettes[differences.cmap]);
      other.setAttribute('aria-label', `${layer}: ${names[1].source}`);
      if (surface.dataset.showsInput) other.dataset.showsInput = 'compared';  // the second input itself
      difference.setAttribute('aria-label', `${layer}: ${names[0].source} minus ${names[1].source}, ${
        writer.range(-bound, bound)}`);
      find('.lw-pair-first', surface).replaceChildren(thumbnail(one), ' ', ...words(oneName));
      find('.lw-pair-second', pair).replaceChildren(whole(writer.text('pair_versus'), thumbnail(two)), ' ', ...words(twoName));
      find('.lw-pair-range', pair).replaceChildren(whole(thumbnail(one), ' − ', thumbnail(two), ','), ' ',
                                                   whole(`±${writer.number(bound)}`));
      pair.hidden = false;
    });
  }
}

/**
 * The output table: a column with the second input's scores (logits, probabilities, …: the
 * contract's `output`) and the difference.
 */
function showLogits(tables, loaded) {
  for (const table of tables) {
    for (const cell of findAll('.lw-pair-logit', table)) cell.remove();
    if (!loaded) continue;
    const { contract, writer, names: [summary, other], pictures: [a, b] } = loaded;
    const [first, second] = [summary, other].map(each => each[contract.output.kind]);
    find('thead th:nth-child(2)', table).append(element('span', { className: 'lw-pair-logit' },
      writer.text('pair_of'), thumbnail(a), ' ', ...words(shortName(summary))));
    find('thead tr', table).append(element('th', { scope: 'col', className: 'lw-pair-logit' },
      writer.text('pair_versus'), thumbnail(b), ' ', ...words(shortName(other)),
      writer.text('pair_difference', { what: contract.output.value })));
    findAll('tbody tr', table).forEach((row, c) => row.append(element('td', { className: 'lw-pair-logit' },
      `${writer.number(second[c])} (${writer.number(first[c] - second[c])})`)));
  }
}

/** A name's words, each kept whole on its line ('T-shirt/top' would break at its hyphen), spaces between. */
function words(name) {
  return name.split(' ').flatMap((word, i) => (i ? [' ', whole(word)] : [whole(word)]));
}

/** Text (and pictures) the line does not break inside. */
function whole(...children) {
  return element('span', { className: 'lw-nowrap' }, ...children);
}

/** An input's name beside its picture: its class, or its source when it has none. */
function shortName({ label_name: label, source }) {
  return label ?? source;
}

/**
 * An input's picture, small, beside its name: two inputs of one class are told apart by it (its
 * accessible name is the input's full name). It shows the input, which data-shows-input says.
 */
function thumbnail({ pixels, size: [rows, cols], name, which }) {
  const canvas = element('canvas', { className: 'lw-pair-thumb', width: cols, height: rows,
                                     attributes: { role: 'img', 'aria-label': name, 'data-shows-input': which } });
  paintPixels(canvas, pixels);
  return canvas;
}

/** An input's class and source ("Shirt, FashionMNIST test image 4"), or its source alone when it has no class. */
function fullName(writer, { label_name: label, source }) {
  return label ? writer.text('input_named', { label, source }) : source;
}

/**
 * The second input's picture and the difference, after a surface, made the first time, and the
 * first input's name in the surface, under its map.
 */
function pairAfter(surface) {
  let pair = surface.nextElementSibling;
  find('.lw-pair-first', surface)?.removeAttribute('hidden');
  if (pair?.classList.contains('lw-pair')) return pair;
  surface.append(element('span', { className: 'lw-pair-first' }));
  const picture = caption => element('figure', {},
    element('canvas', { attributes: { role: 'img' } }), element('figcaption', { className: caption }));
  pair = element('div', { className: 'lw-pair' }, picture('lw-pair-second'), picture('lw-pair-range'));
  surface.after(pair);
  return pair;
}
