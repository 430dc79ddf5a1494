/**
 * The inspector: the arithmetic behind the selected value, drawn under its figure from
 * maths.explain()'s data, e.g. a conv value's patch × kernel = products, their sum and the
 * bias. It also outlines what the value reads in the figure of the layer before, and, for
 * spatial values, the patch of the input image it depends on.
 *
 * Loaded with the reader's first selection (see main.js), with maths.js.
 */
import { element, find } from './dom.js';
import { explain, isSpatial, range, receptiveField } from './maths.js';
import { urlOf } from './data.js';
import { watchLoaded } from './store.js';
import { outline } from './surface.js';

/** Draw the arithmetic of each selection, from now on and of the one just made. */
export function mountInspector(figures, store, site) {
  const panels = figures.map(figure => find('.lw-inspector', figure)).filter(Boolean);
  const load = selection => selection && loadSelection(site, store.getState().input);
  watchLoaded(store, state => state.selection, load, (loaded, selection) => {
    for (const panel of panels) panel.hidden = true;
    if (selection) showSelection(figures, loaded, selection, store);
  }, { now: true });
}

/** Everything an explanation needs: the contract, the network, the input's exact outputs. */
async function loadSelection(site, input) {
  const [shown, network, outputs] = await Promise.all(
    [site.input(input), site.network(), site.outputs(input)]);
  return { ...shown, network, outputs, input };
}

/** Explain the selected value under its figure, and outline what it reads. */
function showSelection(figures, loaded, selection, store) {
  const layer = loaded.network.layers.find(candidate => candidate.id === selection.layer);
  const at = indexOf(layer, selection);
  const explanation = explain(loaded.network.layers, loaded.outputs, layer.id, at);
  const figure = figures.find(candidate => candidate.dataset.layer === layer.id);
  const panel = find('.lw-inspector', figure);
  fillPanel(panel, { ...loaded, explanation, store, number: loaded.writer.number }, layer);
  find('.lw-said', figure).textContent = find('p', panel).textContent;
  pointAt(store, explanation.source);
}

/** The panel's contents: the value, its arithmetic, and for a spatial value its input patch. */
function fillPanel(panel, view, layer) {
  panel.replaceChildren(heading(view), ...RENDER[view.explanation.kind](view));
  const field = receptiveView(view, layer);
  if (field) panel.append(field);
  panel.hidden = false;
}

/** The selected value's index in its layer's output: [k, r, c], or [i] along a vector's grid. */
function indexOf(layer, { k, r, c }) {
  return isSpatial(layer) ? [k, r, c] : [r * layer.grid[1] + c];
}

/** The first line: which value this is, and the value itself. */
function heading({ explanation: { layer, at, value }, outputs, number }) {
  const where = at.length === 3
    ? `map ${at[0] + 1}, row ${at[1] + 1}, column ${at[2] + 1}`
    : `element ${at[0] + 1} of ${outputs[layer].size}`;
  return element('p', {}, `${layer}, ${where}: `, element('b', {}, number(value)));
}

/** Outline, in the layer before, the window a value reads (an element of a vector is not). */
function pointAt(store, source) {
  if (source && 'top' in source) store.dispatch({ type: 'highlight', ...source });
}

// --- each kind of explanation, as DOM nodes -----------------------------------------------------

const RENDER = {
  input: () => [paragraph('The pixel, normalised: (brightness − mean) / std.')],
  conv: view => (view.explanation.terms.length === 1 ? convOneChannel(view) : convChannels(view)),
  relu: ({ explanation: { source, input, output }, number }) => [paragraph(
    `${source.layer} gave ${number(input)}; max(0, ${number(input)}) = `,
    element('b', {}, number(output)), '.')],
  max: ({ explanation: { source, window, winner }, number }) => [
    paragraph(`The largest value in its window of ${source.layer}, map ${source.k + 1}:`),
    table(window.map(row => row.map(value =>
      (value === winner ? element('mark', {}, number(value)) : number(value)))))],
  mean: ({ explanation: { source, window }, number }) => [
    paragraph(`The mean of its window of ${source.layer}, map ${source.k + 1}:`),
    table(numbers(window, number))],
  flatten: ({ explanation: { source, index, k, r, c, mapSize, width } }) => [paragraph(
    `It is ${source.layer}, map ${k + 1}, row ${r + 1}, column ${c + 1}, moved into place: `
    + `element ${index + 1} = ${k} × ${mapSize} + ${r} × ${width} + ${c} + 1.`)],
  linear: ({ explanation: { source, count } }) => [
    paragraph(`A weighted sum of all ${count} values of ${source.layer}, plus a bias.`)],
  same: ({ explanation: { type, source } }) => [
    paragraph(`${type}: ${source.layer}'s value, unchanged.`)],
};

/** A conv value reading one channel: its whole arithmetic at once. */
function convOneChannel(view) {
  const { terms: [term], sum, bias } = view.explanation;
  return [...convTermNodes(view, term), paragraph(...equation(view, sum, bias))];
}

/**
 * A conv value reading many channels: one button per channel with that channel's sum,
 * the total, and room for the arithmetic of the channel the reader chooses.
 */
function convChannels(view) {
  const { explanation: { source, terms, sum, bias }, number, store } = view;
  const detail = element('div', { className: 'lw-detail' });
  const buttons = terms.map(term => element('button', {
    type: 'button',
    attributes: { 'data-channel': term.channel,
                  'aria-label': `${source.layer} map ${term.channel + 1}: ${number(term.sum)}` },
    onclick: () => {
      detail.replaceChildren(...convTermNodes(view, term));
      pointAt(store, { ...source, k: term.channel });
    },
  }, number(term.sum)));
  const columns = Math.ceil(Math.sqrt(terms.length));
  const rows = range(Math.ceil(terms.length / columns))
    .map(i => buttons.slice(i * columns, (i + 1) * columns));
  return [
    paragraph(`Each of the ${terms.length} maps of ${source.layer} adds the sum of its products; `
              + 'choose one to see them.'),
    table(rows, `map 1 to ${terms.length}, row by row`),
    detail,
    paragraph('Total ', ...equation(view, sum, bias)),
  ];
}

/** One channel's share: patch × kernel = products, and the products' sum. */
function convTermNodes({ explanation: { source }, number }, term) {
  const { channel, patch, kernel, products, sum } = term;
  return [
    element('div', { className: 'lw-sum' },
      table(numbers(patch, number), `${source.layer} map ${channel + 1}`),
      element('span', {}, '×'), table(numbers(kernel, number), 'kernel'),
      element('span', {}, '='), table(numbers(products, number), 'products')),
    paragraph(`Sum of the ${products.flat().length} products: ${number(sum)}`),
  ];
}

/** 'sum + bias b = result, the value shown.' */
function equation({ explanation: { result }, number }, sum, bias) {
  return [`${number(sum)} + bias ${number(bias)} = `, element('b', {}, number(result)),
          ', the value shown.'];
}

// --- the receptive field ----------------------------------------------------------------------

/** The input patch a spatial value depends on: a small copy of the input with it outlined. */
function receptiveView({ explanation: { at }, network, contract, input }, layer) {
  const image = network.layers[0];
  const field = at.length === 3 && receptiveField(layer, image.shape, at[1], at[2]);
  if (!field) return null;
  const [, height, width] = image.shape;
  const span = ([first, last]) => `${first + 1}–${last + 1}`;
  const picture = element('div', { className: 'lw-field' }, element('img', {
    src: urlOf(contract, 'map', { input, layer: image.id, k: 0 }), alt: '', width, height }));
  outline(picture, { top: field.top, left: field.left, height: field.size, width: field.size });
  return element('div', { className: 'lw-receptive' }, picture,
    paragraph(`It depends on a ${field.size} × ${field.size} patch of the input: `
              + `rows ${span(field.rows)}, columns ${span(field.cols)}.`));
}

// --- small builders --------------------------------------------------------------------------

function paragraph(...children) {
  return element('p', {}, ...children);
}

/** A table of rows of cells (text or nodes), with an optional caption. */
function table(rows, caption) {
  const node = element('table');
  if (caption) node.createCaption().textContent = caption;
  const body = node.createTBody();
  for (const cells of rows) {
    body.append(element('tr', {}, ...cells.map(cell => element('td', {}, cell))));
  }
  return node;
}

/** Rows of numbers as rows of the page's number texts. */
function numbers(rows, number) {
  return rows.map(row => row.map(number));
}
