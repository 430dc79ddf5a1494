/**
 * The inspector: the arithmetic behind the selected value, drawn under its figure from
 * maths.explain()'s data (each operation's own, operations.js): the layer type's formula, then
 * its numbers by kind (a conv value's patch × kernel = products, their sum and the bias; a Linear
 * value's largest terms; a pool's window; an activation written out; the input a cat's channel
 * comes from), ending in the value shown. It outlines what the value reads in
 * the figures of the layers it is computed from, and, for spatial values, the patch of the
 * input image it depends on.
 *
 * Loaded with the reader's first selection (see main.js), with maths.js and operations.js. A
 * layer's weights (data/weights/<layer>.f32) are fetched when one of its values is first explained.
 */
import { element, find } from './dom.js';
import { channelName, COLOURS, isSpatial, range } from './arithmetic.js';
import { explain, receptiveField } from './maths.js';
import { urlOf } from './site.js';
import { paint } from './paint.js';
import { shownInput, watchLoaded } from './store.js';
import { outline } from './surface.js';

/** Draw the arithmetic of each selection, from now on and of the one just made. */
export function mountInspector(figures, store, site) {
  const panels = figures.map(figure => find('.lw-inspector', figure)).filter(Boolean);
  const load = selection => selection && loadSelection(site, shownInput(store.getState()), selection);
  watchLoaded(store, state => state.selection, load, (loaded, selection) => {
    for (const panel of panels) panel.hidden = true;
    if (selection) showSelection(figures, loaded, selection, store);
  }, { now: true });
}

/** Everything an explanation needs: the contract, the network, the outputs, the weights. */
async function loadSelection(site, input, selection) {
  const network = await site.network();
  const layer = network.layers.find(candidate => candidate.id === selection.layer);
  const [shown, outputs, weights] = await Promise.all(
    [site.input(input), site.outputs(input), site.weightsFor(input, layer)]);
  return { ...shown, network, layer, outputs, weights, input, computed: site.isComputed(input) };
}

/** Explain the selected value under its figure, and outline what it reads. */
function showSelection(figures, loaded, selection, store) {
  const { layer, network, outputs, weights, writer } = loaded;
  const at = indexOf(layer, selection);
  const explanation = explain(network, outputs, weights, layer.id, at);
  const figure = figures.find(candidate => candidate.dataset.layer === layer.id);
  const panel = find('.lw-inspector', figure);
  const show = value => (Number.isFinite(value) ? writer.number(value) : infinity(value));
  fillPanel(panel, { ...loaded, explanation, store, number: show }, layer);
  find('.lw-said', figure).textContent = find('p', panel).textContent;
  pointAt(store, explanation.outline);
}

/** The panel's contents: the value, its formula and arithmetic, its input patch. */
function fillPanel(panel, view, layer) {
  panel.replaceChildren(heading(view), formulaOf(view), ...RENDER[view.explanation.kind](view));
  const field = receptiveView(view, layer);
  if (field) panel.append(field);
  panel.hidden = false;
}

/** The selected value's index in its layer's output: [k, r, c], or [i] along a vector's grid. */
function indexOf(layer, { k, r, c }) {
  return isSpatial(layer) ? [k, r, c] : [r * layer.grid[1] + c];
}

/**
 * The first line: which value this is (for the output layer, whose score of which class: "the
 * logit of Bag", as the contract's `output` names it), and the value itself.
 */
function heading({ explanation: { layer, at, value }, network, outputs, number, contract }) {
  const logit = layer === network.layers.at(-1).id && network.classes?.[at[0]];
  const where = at.length === 3
    ? `map ${at[0] + 1}, row ${at[1] + 1}, column ${at[2] + 1}`
    : `element ${at[0] + 1} of ${outputs[layer].size}${logit ? `, the ${contract.output.value} of ${logit}` : ''}`;
  return element('p', {}, `${layer}, ${where}: `, element('b', {}, number(value)));
}

/** The layer type's formula, with its settings: 'LeakyReLU: x if x > 0, else 0.1 × x'. */
function formulaOf({ explanation: { type, formula }, number }) {
  return element('p', { className: 'lw-formula' }, `${type}: `,
    element('span', {}, ...line(formula, number)));
}

/** Outline what a value reads, in the figures of the layers it reads (none for some). */
function pointAt(store, boxes) {
  store.dispatch({ type: 'highlight', boxes });
}

// --- each kind of explanation, as DOM nodes -----------------------------------------------------

const RENDER = {
  input: ({ explanation: { what = 'brightness', working, result }, number }) => [
    workingLine(number, [`The pixel's ${what}, normalised: `, ...working, ' = '], result)],
  conv: view => [convSettings(view), ...(view.explanation.terms.length === 1 ? convOneChannel(view)
    : readsTheImage(view) ? convColours(view) : convChannels(view))],
  linear: linearNodes,
  activation: ({ explanation: { source, input, working, result }, number }) => [
    workingLine(number, [`${source} gave `, input, '; ', ...working, ' = '], result, '.')],
  max: ({ explanation: { source, k, cells, result, padding, clipped }, number }) => [
    paragraph(`The largest value in its window of ${source}, map ${k + 1}`, padded(padding)
      ? `; cells beyond the map's edge (padding ${pair(padding)}) are −∞, so they never win`
      : '', clipped ? `. ${CLIPPED}:` : ':'),
    table(cells.map(row => row.map(value =>
      (value === result ? element('mark', {}, number(value)) : number(value)))))],
  mean: meanNodes,
  batchnorm: batchNormNodes,
  dropout: ({ explanation: { source, input, p, channels }, number }) => [
    paragraph(channels
      ? `Dropout2d (p = ${p}) sets whole channels (every value of a map) to 0 at random, and `
        + 'scales the others by 1 ÷ (1 − p), only while the network trains. Evaluating, as on '
        + 'this page, it passes every value through unchanged:'
      : `Dropout (p = ${p}) sets random values to 0, and scales the others by `
        + '1 ÷ (1 − p), only while the network trains. Evaluating, as on this page, it '
        + 'passes every value through unchanged:'),
    workingLine(number, [`${source} gave `, input, ', so this is '], input, '.')],
  same: ({ explanation: { source, input }, number }) => [
    workingLine(number, [`Identity passes every value on unchanged: ${source} gave `, input,
                         ', so this is '], input, '.')],
  cat: catNodes,
  flatten: flattenNodes,
  add: ({ explanation: { terms: [one, other], result }, writer }) => {
    const sums = writer.sums([one.value, other.value, result]);
    return [workingLine(sums.number, [`${one.source} gave `, one.value, ` and ${other.source} gave `,
                                      other.value, ' at the same place (both outlined): ', one.value,
                                      ' + ', other.value, sums.equals], result)];
  },
};

/**
 * The arithmetic's paragraph: a line of maths.js ending in its result, in bold, printed with `last`
 * (a quotient is no term of the sum before it, so it may read as the value shown does).
 */
function workingLine(number, pieces, result, end = ', the value shown.', last = number) {
  return element('p', { className: 'lw-working' }, ...line(pieces, number),
                 element('b', {}, last(result)), end);
}

/**
 * A batch-normalised value: its channel's stored statistics, and the formula worked out step by
 * step, so that its difference (x − mean) and its sum (… + bias) are printed to add up.
 */
function batchNormNodes({ explanation: { source, at, x, mean, variance, eps, affine, scale, shift,
                                         normalised, result }, number, writer }) {
  const learned = affine ? ['; its learned weight ', scale, ' and bias ', shift] : [];
  const difference = writer.sums([x, -mean, x - mean]), scaled = normalised * scale;
  const sum = writer.sums([scaled, shift, result]);
  const working = [
    ...line([`${source} gave `, x, ': (', x, ' − ', mean, ') ÷ √('], difference.number),
    ...line([variance, ' + ', eps, ')', ...(affine ? [' × ', scale, ' + ', shift] : [])], number),
    ...line([difference.equals, x - mean], difference.number),
    ...line([' ÷ ', Math.sqrt(variance + eps), ...(affine ? [' × ', scale, ' + ', shift, ' = '] : [' = '])],
            number),
    ...(affine ? line([scaled, ' + ', shift, sum.equals], sum.number) : []),
  ];
  return [
    paragraph(...line([`Channel ${at[0] + 1}'s statistics, stored in training: mean `, mean,
                       ', variance ', variance, '; eps ', eps, ...learned, '.'], number)),
    element('p', { className: 'lw-working' }, ...working,
            element('b', {}, (affine ? sum.number : number)(result)), ', the value shown.'),
  ];
}

/** How a conv reads its input: the window, stride, padding, dilation and groups. */
function convSettings({ explanation: { source, at, window, stride, padding, dilation, group,
                                        groups, terms, bias } }) {
  const sentences = [`Each map it reads is multiplied by a ${window.height} × ${window.width} `
    + `kernel over a window of ${source}`
    + (dilation.some(d => d > 1) ? ` that samples every ${ordinal(dilation[0])} cell `
      + `(dilation ${pair(dilation)})` : '')
    + `; stride ${pair(stride)}`
    + (padded(padding) ? `, padding ${pair(padding)}: cells beyond the map's edge are 0.`
      : ', no padding.')];
  if (groups > 1) {
    const first = terms[0].channel + 1, last = terms.at(-1).channel + 1;
    sentences.push(`Its ${groups} groups split the maps: filter ${at[0] + 1} is in group `
                   + `${group + 1} and reads only maps ${first}–${last}.`);
  }
  if (bias === null) sentences.push('It has no bias.');
  return paragraph(sentences.join(' '));
}

/** A conv value reading one channel: its whole arithmetic at once. */
function convOneChannel(view) {
  const { terms: [term], sum } = view.explanation;
  const [products, total] = linked(view, productsSum(term), totalSum(view, sum));
  return [...convTermNodes(view, term, null, products), equation(view, sum, '', total)];
}

/**
 * The sums of an explanation printed so that they visibly add up (format.js printedSums): each
 * argument an array of terms then their total.
 */
function adding({ writer }, ...sums) {
  return writer.sums(...sums);
}

/**
 * How to print sums that share a number (one's total is a term of the next): with one number of
 * decimals for them all where one makes every one add up, so the shared number reads the same in
 * each, else each with its own.
 */
function linked(view, ...sums) {
  const together = adding(view, ...sums);
  return together.exact ? sums.map(() => together) : sums.map(sum => adding(view, sum));
}

/** A conv term's products and their sum, as a sum to print. */
function productsSum({ products, sum }) {
  return [...products.flat(), sum];
}

/** A conv value's sum, its bias and the value, as a sum to print. */
function totalSum({ explanation: { bias, result } }, sum) {
  return bias === null ? [sum, result] : [sum, bias, result];
}

/** Whether a conv value reads the input image (its colours), not maps a layer made. */
function readsTheImage({ explanation: { source }, network }) {
  return network.layers[0].id === source;
}

/**
 * A conv value reading the image's channels (its colours): each channel's patch × kernel =
 * products and their sum in turn, then the channels' sums and the bias added up to the value.
 */
function convColours(view) {
  const { explanation: { source, terms, result, bias }, number } = view;
  const names = terms.map(term => channelName(view.network.layers[0].shape[0], term.channel));
  const each = terms.flatMap((term, i) => [
    element('p', { className: `lw-channel lw-channel-${names[i]}` },
            `The ${names[i]} channel of ${source}, with the kernel's ${names[i]} weights:`),
    ...convTermNodes(view, term, names[i])]);
  const parts = terms.flatMap((term, i) => [i ? ` + ${names[i]} ` : `${capital(names[i])} `, term.sum]);
  const sums = adding(view, [...terms.map(term => term.sum), ...(bias === null ? [] : [bias]), result]);
  const total = bias === null ? [sums.equals] : [' + bias ', bias, sums.equals];
  return [
    paragraph(`It reads all ${terms.length} channels of ${source}: one kernel per channel, and the `
              + 'products of every channel add up.'),
    ...each,
    workingLine(sums.number, [...parts, ...total], result,
                bias === null ? ', the value shown; the layer has no bias.' : ', the value shown.'),
  ];
}

/**
 * A conv value reading many channels: one button per channel with that channel's sum,
 * the total, and room for the arithmetic of the channel the reader chooses.
 */
function convChannels(view) {
  const { explanation: { source, terms, sum, outline: [box] }, store, writer } = view;
  const [sums, total] = linked(view, [...terms.map(term => term.sum), sum], totalSum(view, sum));
  const number = sums.number;
  const detail = element('div', { className: 'lw-detail' });
  const buttons = terms.map(term => element('button', {
    type: 'button',
    attributes: { 'data-channel': term.channel,
                  'aria-label': `${source} map ${term.channel + 1}: ${number(term.sum)}` },
    onclick: () => {
      detail.replaceChildren(...convTermNodes(view, term));
      pointAt(store, [{ ...box, k: term.channel }]);
    },
  }, number(term.sum)));
  const columns = Math.ceil(Math.sqrt(terms.length));
  const rows = range(Math.ceil(terms.length / columns))
    .map(i => buttons.slice(i * columns, (i + 1) * columns));
  const first = terms[0].channel + 1, last = terms.at(-1).channel + 1;
  return [
    paragraph(`Each of the ${terms.length} maps of ${source} it reads adds the sum of its `
              + 'products; choose one to see them.'),
    table(rows, `map ${first} to ${last}, row by row`),
    paragraph(...line([writer.text('maps_sums', { count: terms.length, about: sums.about }), sum, '.'], number)),
    detail,
    equation(view, sum, 'Total ', total),
  ];
}

/** One channel's share: patch × kernel = products, and the products' sum; `colour`: the image's channel. */
function convTermNodes(view, term, colour = null, sums = adding(view, productsSum(term))) {
  const { explanation: { source }, number } = view;
  const { channel, patch, padded: outside, kernel, products, sum } = term;
  const patchCells = patch.map((row, u) => row.map((value, v) =>
    (outside[u][v] ? element('span', { className: 'lw-pad' }, number(value)) : number(value))));
  return [
    element('div', { className: 'lw-sum' },
      table(patchCells, colour ? `${source}, ${colour}` : `${source} map ${channel + 1}`),
      element('span', {}, '×'), table(numbers(kernel, number), colour ? `kernel, ${colour}` : 'kernel'),
      element('span', {}, '='), table(numbers(products, sums.number), 'products')),
    paragraph(`Sum of the ${products.flat().length} products`, sums.exact ? ': ' : sums.equals,
              sums.number(sum)),
  ];
}

/** 'sum + bias b = result, the value shown.' (without a bias: 'result, the value shown; …') */
function equation(view, sum, before = '', sums = adding(view, totalSum(view, sum))) {
  const { explanation: { result, bias } } = view;
  if (bias === null) {
    return workingLine(sums.number, [before], result, ', the value shown; the layer has no bias.');
  }
  return workingLine(sums.number, [before, sum, ' + bias ', bias, sums.equals], result);
}

/**
 * A Linear value: the largest products in a table (each element's button outlines it in the
 * input's figure), what the other terms add up to, the total and the bias.
 */
function linearNodes(view) {
  const { explanation: { source, count, listed, rest, sum, bias, result }, number, store } = view;
  const [terms, total] = linked(view, [...listed.map(term => term.product), ...(rest.count ? [rest.sum] : []), sum],
                                bias === null ? [sum, result] : [sum, bias, result]);
  const head = element('tr', {}, ...[`element of ${source}`, 'input', 'weight', 'product']
    .map(name => element('th', { scope: 'col' }, name)));
  const rows = listed.map(term => element('tr', {},
    element('td', {}, term.cell ? element('button', {
      type: 'button', onclick: () => pointAt(store, [term.cell]) }, String(term.index + 1))
      : String(term.index + 1)),
    ...[number(term.input), number(term.weight), terms.number(term.product)]
      .map(text => element('td', {}, text))));
  const table = element('table', { className: 'lw-terms' });
  table.createCaption().textContent = `its ${listed.length} largest products (weight × input), `
    + 'positive and negative';
  table.createTHead().append(head);
  table.createTBody().append(...rows);
  const plus = bias === null ? [] : [' + bias ', bias];
  return [
    paragraph(`A weighted sum of all ${count} values of ${source}`,
              bias === null ? ' (it has no bias).' : ', plus a bias.'),
    table,
    ...(rest.count ? [paragraph('The other ', `${rest.count}`, ' terms add up to ',
                                ...line([rest.sum], terms.number), '.')] : []),
    element('p', { className: 'lw-working' }, ...line([`All ${count} terms add up to ${terms.about}`, sum, '; '], terms.number),
            ...line([sum, ...plus, total.equals], total.number), element('b', {}, total.number(result)),
            ', the value shown.'),
  ];
}

/** A mean: its window (the padding as it counts), and sum ÷ n. */
function meanNodes({ explanation: { source, k, window, cells, padded: outside, paddingCounts,
                                    adaptive, whole, clipped, override, padding, sum, count,
                                    result }, number, writer }) {
  const rows = `rows ${window.top + 1}–${window.top + window.height}`;
  const cols = `columns ${window.left + 1}–${window.left + window.width}`;
  const where = whole
    ? `The mean of all ${window.height} × ${window.width} values of ${source}, map ${k + 1} `
      + '(outlined): the mean over the whole map.'
    : adaptive
      ? `Its window of ${source}, map ${k + 1}, is ${rows}, ${cols}: adaptive pooling gives `
        + 'output row i the rows ⌊i × H ÷ out⌋ to ⌈(i + 1) × H ÷ out⌉, and the same for columns.'
      : `The mean of its ${window.height} × ${window.width} window of ${source}, map ${k + 1}`
        + (!padded(padding) ? '' : paddingCounts
          ? `; cells beyond the map's edge (padding ${pair(padding)}) are 0 and count`
          : `; cells beyond the map's edge (padding ${pair(padding)}) are left out `
            + '(count_include_pad=False)')
        + (clipped ? `. ${CLIPPED}.` : '.');
  const sums = writer.sums([...cells.flat().filter(value => value !== null), sum]);
  const shown = cells.map((row, u) => row.map((value, v) => (!outside[u][v] ? sums.number(value)
    : element('span', { className: 'lw-pad' }, value === null ? 'pad' : sums.number(value)))));
  const padCount = outside.flat().filter(Boolean).length;
  const which = paddingCounts && padCount ? ` (the ${padCount} padded zeros count)`
    : padCount ? ` (only the cells inside the map count)` : '';
  const divisor = override === null ? [`÷ n ${count}${which} = `]
    : [`÷ ${count}, the divisor it is given (divisor_override), whatever the window holds = `];
  return [paragraph(where), table(shown),
          workingLine(sums.number, [`Sum ${sums.about}`, sum, ' ', ...divisor], result, undefined, number)];
}

/** What a pool's window clipped by ceil_mode says. */
const CLIPPED = 'With ceil_mode the last windows hang past the map and its padding, and PyTorch '
  + 'cuts them short there: this one is smaller than the kernel';

/** A joined value: which input it comes from, and which of that input's channels. */
function catNodes({ explanation: { source, n, count, channel, first, last, from, input }, number }) {
  const maps = from.length === 3;
  const where = maps ? `map ${channel + 1}, row ${from[1] + 1}, column ${from[2] + 1}`
    : `element ${channel + 1}`;
  return [
    paragraph(`It joins its ${count} inputs' ${maps ? 'maps' : 'values'} one after another: `
              + `${maps ? 'maps' : 'elements'} ${first + 1}–${last + 1} are ${source}'s, input `
              + `${n + 1} of ${count}.`),
    workingLine(number, [`This is ${source}, ${where} (outlined), unchanged: `], input, '.')];
}

/** A flattened element: the cell of its input that it is. */
function flattenNodes({ explanation: { source, from, strides, index, input }, number }) {
  if (from.length === 1) {
    return [workingLine(number, [`It is element ${from[0] + 1} of ${source}, unchanged: `], input,
                        '.')];
  }
  if (from.length !== 3) return [paragraph(`It is ${source} at [${from.join(', ')}], unchanged.`)];
  const [k, r, c] = from;
  return [paragraph(
    `It is ${source}, map ${k + 1}, row ${r + 1}, column ${c + 1}, moved into place: `
    + `element ${index + 1} = ${k} × ${strides[0]} + ${r} × ${strides[1]} + ${c} + 1.`)];
}

// --- the receptive field ----------------------------------------------------------------------

/** The input patch a spatial value depends on: a small copy of the input with it outlined. */
function receptiveView({ explanation: { at }, network, contract, input, computed, outputs }, layer) {
  const image = network.layers[0];
  const field = at.length === 3 && receptiveField(layer, at[1], at[2]);
  if (!field) return null;
  const [, height, width] = image.shape;
  const span = ([first, last]) => `${first + 1}–${last + 1}`;
  const picture = element('div', { className: 'lw-field' }, image.shape[0] === COLOURS.length
    ? paintedColours(outputs[image.id], network.normalisation)
    : computed ? painted(outputs[image.id].slice(0), contract.scales[image.id], contract)
      : element('img', { src: urlOf(contract, 'map', { input, layer: image.id, k: 0 }), alt: '', width, height }));
  const [top, bottom] = field.rows, [left, right] = field.cols;
  outline(picture, { top, left, height: bottom - top + 1, width: right - left + 1 });
  const patch = [bottom - top + 1, right - left + 1];
  const past = patch[0] < field.size[0] || patch[1] < field.size[1]
    ? `; its ${field.size[0]} × ${field.size[1]} window reaches past the image, into padding` : '';
  return element('div', { className: 'lw-receptive' }, picture,
    paragraph(`It depends on a ${patch[0]} × ${patch[1]} patch of the input: `
              + `rows ${span(field.rows)}, columns ${span(field.cols)}${past}.`));
}

// --- small builders --------------------------------------------------------------------------

/** The reader's own input has no frames: its picture is painted from its numbers. */
function painted(map, scale, contract) {
  const canvas = element('canvas', { attributes: { 'aria-hidden': 'true' } });
  paint(canvas, map, scale, contract.palettes[scale.cmap]);
  return canvas;
}

/**
 * The colour image, painted from its normalised numbers (C, H, W): on channel c each byte is
 * (x × std[c] + mean[c]) × 255, the pixel it was normalised from.
 */
function paintedColours(image, { mean, std }) {
  const [, rows, cols] = image.shape, plane = rows * cols;
  const means = [mean].flat(), stds = [std].flat(), at = c => Math.min(c, means.length - 1);
  const pixels = new ImageData(cols, rows);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < COLOURS.length; c++) {
      pixels.data[4 * i + c] = Math.round((image.values[c * plane + i] * stds[at(c)] + means[at(c)]) * 255);
    }
    pixels.data[4 * i + 3] = 255;
  }
  const canvas = element('canvas', { width: cols, height: rows, attributes: { 'aria-hidden': 'true' } });
  canvas.getContext('2d').putImageData(pixels, 0, 0);
  return canvas;
}

function paragraph(...children) {
  return element('p', {}, ...children);
}

/** A line of maths.js (words and numbers) as nodes: each number a <data> with its exact value. */
function line(pieces, number) {
  return pieces.map(piece => (typeof piece === 'number'
    ? element('data', { value: String(piece) }, number(piece)) : piece));
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

/** A setting for rows and columns: '2' when they are alike, else '2 × 1'. */
function pair([rows, cols]) {
  return rows === cols ? `${rows}` : `${rows} × ${cols}`;
}

function capital(word) {
  return word[0].toUpperCase() + word.slice(1);
}

function padded(padding) {
  return padding.some(amount => amount > 0);
}

function infinity(value) {
  return value > 0 ? '∞' : '−∞';
}

/** 2 → '2nd', 3 → '3rd', 4 → '4th'. */
function ordinal(n) {
  const suffix = { 1: 'st', 2: 'nd', 3: 'rd' }[n % 10];
  return `${n}${suffix && Math.floor(n / 10) % 10 !== 1 ? suffix : 'th'}`;
}
