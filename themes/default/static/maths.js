/**
 * The network's arithmetic, apart from the page: for each layer type the builder supports, its
 * forward pass on Tensors, and the explanation of one output value as plain data that the
 * inspector draws. No DOM here.
 *
 * A layer is an entry of data/network.json's `layers`: {id, type, shape, settings, inputs,
 * tensors, receptive, grid}; `inputs` name the layers whose outputs it reads (two for Add).
 * Its parameters and buffers, {weight, bias, running_mean, running_var}, are Tensors decoded
 * from data/weights/<layer>.f32 (data.js). An index `at` is [k, r, c] into maps, [i] into a
 * vector.
 *
 * Explanations write their arithmetic as lines: arrays of words and numbers, e.g.
 * ['max(0, ', -0.5, ')'], so the numbers stay numbers here and the inspector prints them.
 */
import { sizeOf } from './data.js';

/** The whole numbers 0, 1, …, count - 1. */
export function range(count) {
  return [...Array(count).keys()];
}

/** `value` held inside [low, high]. */
export function clamp(value, low, high) {
  return Math.max(low, Math.min(high, value));
}

function sum(numbers) {
  return numbers.reduce((total, number) => total + number, 0);
}

export function isSpatial(layer) {
  return layer.shape.length === 3;
}

/** A 2-D Tensor as rows of numbers. */
function rowsOf(tensor) {
  const [rows, cols] = tensor.shape;
  return range(rows).map(u => range(cols).map(v => tensor.at(u, v)));
}

// --- the error function ---------------------------------------------------------------------

const TWO_OVER_ROOT_PI = 2 / Math.sqrt(Math.PI);
// Where erf and erfc leave the series for the continued fraction, which converges in fewer
// than 100 steps from 1.5 on; below 1.5, erfc = 1 − erf loses nothing (erfc > 0.03 there).
const ERF_SERIES_LIMIT = 2.5, ERFC_SERIES_LIMIT = 1.5;

/**
 * erf(x) to double precision, far beyond float32's 6e-8 (against mpmath, the relative error of
 * erf stays below 2e-15, of erfc below 3e-14): below |x| = 2.5 its Maclaurin series in the
 * form whose terms are all positive, erf(x) = 2/√π · exp(−x²) · Σ x (2x²)ⁿ / (1·3·…·(2n+1)),
 * so nothing cancels; above, 1 − erfc(x) with erfc from its continued fraction.
 */
export function erf(x) {
  if (Math.abs(x) < ERF_SERIES_LIMIT) return erfSeries(x);
  return Math.sign(x) * (1 - erfcFraction(Math.abs(x)));
}

/** erfc(x) = 1 − erf(x), accurate relative to itself where it is tiny (large x). */
export function erfc(x) {
  if (x >= ERFC_SERIES_LIMIT) return erfcFraction(x);
  if (x <= -ERFC_SERIES_LIMIT) return 2 - erfcFraction(-x);
  return 1 - erfSeries(x);
}

function erfSeries(x) {
  const twiceSquare = 2 * x * x;
  let term = x, total = x;
  for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(total); n++) {
    term *= twiceSquare / (2 * n + 1);
    total += term;
  }
  return TWO_OVER_ROOT_PI * Math.exp(-x * x) * total;
}

/**
 * erfc(x) for x ≥ 1.5: exp(−x²) / √π / (x + ½/(x + 1/(x + (3/2)/(x + …)))), the continued
 * fraction evaluated front to back with the modified Lentz method.
 */
function erfcFraction(x) {
  let fraction = x, numerators = x, denominators = 0;
  for (let n = 1; n < 500; n++) {
    denominators = 1 / (x + (n / 2) * denominators);
    numerators = x + (n / 2) / numerators;
    const change = numerators * denominators;
    fraction *= change;
    if (Math.abs(change - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / fraction;
}

// --- element-wise functions -----------------------------------------------------------------

const GELU_TANH_SCALE = Math.sqrt(2 / Math.PI);

function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Each activation: its formula with its settings, the function itself, and its working for one
 * input x (a line that, followed by ' = ' and the result, is the whole computation).
 */
export const ACTIVATIONS = {
  ReLU: {
    formula: () => ['max(0, x)'],
    apply: x => Math.max(0, x),
    working: x => ['max(0, ', x, ')'],
  },
  LeakyReLU: {
    formula: ({ negative_slope: slope }) => ['x if x > 0, else ', slope, ' × x'],
    apply: (x, { negative_slope: slope }) => (x > 0 ? x : slope * x),
    working: (x, { negative_slope: slope }) =>
      (x > 0 ? [x, ' > 0, so x'] : [x, ' ≤ 0, so ', slope, ' × ', x]),
  },
  ELU: {
    formula: ({ alpha }) => ['x if x > 0, else ', alpha, ' × (exp(x) − 1)'],
    apply: (x, { alpha }) => (x > 0 ? x : alpha * (Math.exp(x) - 1)),
    working: (x, { alpha }) => (x > 0 ? [x, ' > 0, so x']
      : [x, ' ≤ 0, so ', alpha, ' × (exp(', x, ') − 1) = ', alpha, ' × (', Math.exp(x), ' − 1)']),
  },
  GELU: {
    formula: ({ approximate }) => (approximate === 'tanh'
      ? ['½ × x × (1 + tanh(√(2 ÷ π) × (x + 0.044715 × x³)))']
      : ['x × Φ(x), where Φ(x) = ½ × (1 + erf(x ÷ √2))']),
    apply: (x, { approximate }) => (approximate === 'tanh'
      ? 0.5 * x * (1 + Math.tanh(geluTanhArgument(x))) : x * normalCdf(x)),
    working: (x, { approximate }) => {
      if (approximate === 'tanh') {
        const inner = geluTanhArgument(x);
        return ['½ × ', x, ' × (1 + tanh(', inner, ')) = ½ × ', x, ' × (1 + ', Math.tanh(inner),
                ')'];
      }
      const z = x / Math.SQRT2;
      return ['Φ(', x, ') = ½ × (1 + erf(', z, ')) = ½ × (1 + ', erf(z), ') = ', normalCdf(x),
              ', and ', x, ' × ', normalCdf(x)];
    },
  },
  SiLU: {
    formula: () => ['x × σ(x), where σ(x) = 1 ÷ (1 + exp(−x))'],
    apply: x => x * sigmoid(x),
    working: x => [x, ' × σ(', x, ') = ', x, ' × ', sigmoid(x)],
  },
  Sigmoid: {
    formula: () => ['1 ÷ (1 + exp(−x))'],
    apply: sigmoid,
    working: x => ['1 ÷ (1 + exp(', -x, ')) = 1 ÷ (1 + ', Math.exp(-x), ')'],
  },
  Tanh: {
    formula: () => ['(exp(x) − exp(−x)) ÷ (exp(x) + exp(−x))'],
    apply: Math.tanh,
    working: x => ['(', Math.exp(x), ' − ', Math.exp(-x), ') ÷ (', Math.exp(x), ' + ',
                   Math.exp(-x), ')'],
  },
};

/** Φ(x), the standard normal distribution function, exact in its far left tail too. */
function normalCdf(x) {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function geluTanhArgument(x) {
  return GELU_TANH_SCALE * (x + 0.044715 * x ** 3);
}

// --- over the classes: softmax and log-softmax ------------------------------------------------

/**
 * The operations that make a vector of scores into probabilities (Softmax) or their logarithms
 * (LogSoftmax), only ever the network's last layer (a flatten or dropout may follow), over its
 * classes (builder/graph.py refuses any other): `apply` maps the whole vector as PyTorch does,
 * shifted by its largest value and summed in double precision, and `working` writes out element i.
 */
export const NORMALISERS = {
  Softmax: {
    formula: () => ['exp(x − m) ÷ Σ exp(xⱼ − m), over every class j, m the largest xⱼ'],
    apply: values => {
      const { largest, total } = shifted(values);
      return values.map(x => Math.exp(x - largest) / total);
    },
    working: (values, i) => {
      const { largest, total } = shifted(values);
      return ['exp(', values[i], ' − ', largest, ') ÷ Σ exp(xⱼ − ', largest, ') = ',
              Math.exp(values[i] - largest), ' ÷ ', total];
    },
  },
  LogSoftmax: {
    formula: () => ['x − m − ln Σ exp(xⱼ − m), over every class j, m the largest xⱼ'],
    apply: values => {
      const { largest, total } = shifted(values);
      return values.map(x => x - largest - Math.log(total));
    },
    working: (values, i) => {
      const { largest, total } = shifted(values);
      return [values[i], ' − ', largest, ' − ln ', total];
    },
  },
};

/** The largest of `values` and Σ exp(x − largest). */
function shifted(values) {
  const largest = Math.max(...values);
  let total = 0;
  for (const x of values) total += Math.exp(x - largest);
  return { largest, total };
}

// --- sliding windows ------------------------------------------------------------------------

/**
 * The cells of its input that output (r, c) of a conv or pooling layer reads: the first one,
 * the kernel's rows and columns, and the step between sampled cells (a conv's dilation).
 */
export function windowAt(layer, r, c) {
  const { kernel_size: [height, width], stride = [1, 1], padding = [0, 0] } = layer.settings;
  const step = layer.settings.dilation ?? [1, 1];
  const top = r * stride[0] - padding[0], left = c * stride[1] - padding[1];
  return { top, left, height, width, step };
}

/** The rows [floor(i·H/out), ceil((i+1)·H/out)) and like columns that adaptive pooling reads. */
export function adaptiveWindowAt(layer, inputShape, r, c) {
  const [, height, width] = inputShape;
  const [, outRows, outCols] = layer.shape;
  const top = Math.floor(r * height / outRows), left = Math.floor(c * width / outCols);
  const bottom = Math.ceil((r + 1) * height / outRows);
  const right = Math.ceil((c + 1) * width / outCols);
  return { top, left, height: bottom - top, width: right - left, step: [1, 1] };
}

/** The part of the map a window covers, every sampled cell included: what is outlined. */
export function boxOf({ top, left, height, width, step }) {
  return { top, left, height: step[0] * (height - 1) + 1, width: step[1] * (width - 1) + 1 };
}

/** Which cells of a window fall outside a map (H, W), the padding, as rows of booleans. */
export function paddingOf([rows, cols], { top, left, height, width, step }) {
  return range(height).map(u => range(width).map(v => {
    const row = top + u * step[0], col = left + v * step[1];
    return row < 0 || row >= rows || col < 0 || col >= cols;
  }));
}

/** The numbers of one map (H, W) at a window's cells, as rows; `outside` off the map. */
export function patchOf(map, window, outside = 0) {
  const { top, left, step } = window;
  return paddingOf(map.shape, window).map((row, u) => row.map((padded, v) =>
    (padded ? outside : map.at(top + u * step[0], left + v * step[1]))));
}

/**
 * The input pixels spatial value (r, c) depends on, or null when they are not one rectangle: the
 * layer's `receptive` gives for each of its rows and columns the input rows and columns its cells
 * depend on ([first, last], [] for none), and the `size` [rows, columns] of its field.
 */
export function receptiveField(layer, r, c) {
  if (!layer.receptive || layer.type === 'Input' || !isSpatial(layer)) return null;
  const { size, rows: { [r]: rows }, cols: { [c]: cols } } = layer.receptive;
  if (!rows?.length || !cols?.length) return null;
  return { size, rows, cols };
}

// --- convolution and fully connected layers -------------------------------------------------

/** The input channels filter k reads: all of them, or with groups only those of its group. */
export function channelsOf(layer, k, inputChannels) {
  const groups = layer.settings.groups ?? 1;
  const perGroup = inputChannels / groups;
  const group = Math.floor(k / (layer.shape[0] / groups));
  return { group, groups, channels: range(perGroup).map(j => group * perGroup + j) };
}

/**
 * One input channel's share of conv output (k, r, c): the patch it reads (0 on the padding),
 * filter k's kernel for that channel (its j-th within the group), the products and their sum.
 */
export function convTerm(weights, input, k, channel, j, window) {
  const patch = patchOf(input.slice(channel), window);
  const kernel = rowsOf(weights.weight.slice(k).slice(j));
  const products = patch.map((row, u) => row.map((value, v) => value * kernel[u][v]));
  return { channel, patch, padded: paddingOf(input.shape.slice(1), window), kernel, products,
           sum: sum(products.flat()) };
}

/** Conv output (k, r, c): one term per channel it reads, their sum, the bias (null if none). */
function convValue(layer, [input], weights, [k, r, c]) {
  const window = windowAt(layer, r, c);
  const { group, groups, channels } = channelsOf(layer, k, input.shape[0]);
  const terms = channels.map((channel, j) => convTerm(weights, input, k, channel, j, window));
  const total = sum(terms.map(term => term.sum));
  const bias = weights.bias ? weights.bias.at(k) : null;
  return { window, group, groups, terms, sum: total, bias, result: total + (bias ?? 0) };
}

/**
 * A Linear output: weight × input for each input along the last axis, their sum and the bias.
 * Returns the products, the input values and the weights as arrays, element j of each together.
 */
function linearValue(layer, [input], weights, at) {
  const [outFeatures, inFeatures] = weights.weight.shape;
  const position = offsetIn(layer.shape, at);
  const o = position % outFeatures, row = Math.floor(position / outFeatures);
  const inputs = input.values.subarray(row * inFeatures, (row + 1) * inFeatures);
  const weightRow = weights.weight.values.subarray(o * inFeatures, (o + 1) * inFeatures);
  const products = Array.from(inputs, (value, j) => value * weightRow[j]);
  const bias = weights.bias ? weights.bias.at(o) : null;
  const total = sum(products);
  return { inputs, weights: weightRow, products, row, sum: total, bias,
           result: total + (bias ?? 0) };
}

/** Where index `at` lies in a row-major tensor of `shape`. */
function offsetIn(shape, at) {
  return at.reduce((flat, position, axis) => flat * shape[axis] + position, 0);
}

/** The index of a row-major tensor of `shape` at offset `flat`. */
function indexAt(shape, flat) {
  return shape.map((_, axis) => Math.floor(flat / sizeOf(shape.slice(axis + 1))) % shape[axis]);
}

/**
 * The index of `input` that output `at` reads when the two are added: the same one, with any
 * axis along which the input has length 1 (it is broadcast) read at 0.
 */
function broadcastAt(input, at) {
  const extra = at.length - input.shape.length;
  return input.shape.map((length, axis) => (length === 1 ? 0 : at[axis + extra]));
}

// --- every value of a layer -----------------------------------------------------------------

/** The value of a pool at (k, r, c): its window, the cells it reads, the result. */
function poolValue(layer, [input], [k, r, c]) {
  const map = input.slice(k);
  if (layer.type === 'MaxPool2d') {
    const window = windowAt(layer, r, c);
    const cells = patchOf(map, window, -Infinity);  // padding never wins a max
    return { window, cells, result: Math.max(...cells.flat()) };
  }
  const adaptive = layer.type === 'AdaptiveAvgPool2d';
  const window = adaptive ? adaptiveWindowAt(layer, input.shape, r, c) : windowAt(layer, r, c);
  const paddingCounts = !adaptive && (layer.settings.count_include_pad ?? true);
  const padded = paddingOf(map.shape, window);
  const cells = patchOf(map, window, paddingCounts ? 0 : null);
  const counted = cells.flat().filter(value => value !== null);
  const total = sum(counted);
  return { window, cells, padded, paddingCounts, sum: total, count: counted.length,
           result: total / counted.length };
}

/** A BatchNorm2d value in evaluation: its channel's stored statistics and affine weights. */
function batchNormValue(layer, [input], weights, at) {
  const [k] = at, x = input.at(...at);
  const mean = weights.running_mean.at(k), variance = weights.running_var.at(k);
  const eps = layer.settings.eps ?? 1e-5;
  const normalised = (x - mean) / Math.sqrt(variance + eps);
  const scale = weights.weight ? weights.weight.at(k) : 1;
  const shift = weights.bias ? weights.bias.at(k) : 0;
  return { x, mean, variance, eps, normalised, scale, shift, affine: Boolean(weights.weight),
           result: normalised * scale + shift };
}

// --- explanations ---------------------------------------------------------------------------

/**
 * Why output `at` of layer `layerId` has its value, as data: `value` (the network's own, from
 * `outputs`), a `formula` line, the arithmetic by `kind` ('input', 'conv', 'linear',
 * 'activation', 'max', 'mean', 'batchnorm', 'dropout', 'flatten', 'add'), and `outline`, the
 * boxes to outline in the figures of the layers it reads: {layer, k, top, left, height, width}.
 * `network` is data/network.json, `outputs` every layer's exact output {layer id: Tensor},
 * `weights` this layer's tensors {name: Tensor}.
 */
export function explain(network, outputs, weights, layerId, at) {
  const layer = network.layers.find(candidate => candidate.id === layerId);
  if (!layer) throw new Error(`no layer '${layerId}'`);
  if (!Object.hasOwn(EXPLAIN, layer.type)) throw new Error(`cannot explain a ${layer.type} value`);
  const sources = layer.inputs.map(id => network.layers.find(candidate => candidate.id === id));
  const inputs = layer.inputs.map(id => outputs[id]);
  const value = outputs[layer.id].at(...at);
  const arithmetic = EXPLAIN[layer.type]({ layer, network, sources, inputs, weights, at, value });
  return { layer: layer.id, type: layer.type, at, value, outline: [], ...arithmetic };
}

/** Where element `at` of a layer's output is drawn: a cell of map k, or of a vector's grid. */
export function cellOf(layer, at) {
  if (at.length === 3) {
    const [k, r, c] = at;
    return { layer: layer.id, k, top: r, left: c, height: 1, width: 1 };
  }
  if (at.length !== 1 || !layer.grid) return null;
  const cols = layer.grid[1];
  return { layer: layer.id, k: 0, top: Math.floor(at[0] / cols), left: at[0] % cols, height: 1,
           width: 1 };
}

/** An element-wise layer reads the same index of its input: its value there, outlined. */
function sameCell({ sources: [source], inputs: [input], at }) {
  return { source: source.id, input: input.at(...at),
           outline: [cellOf(source, at)].filter(Boolean) };
}

const EXPLAIN = {
  Input: ({ network: { normalisation: { mean, std } }, value }) => {
    const brightness = value * std + mean;
    return { kind: 'input', formula: ['(brightness − mean) ÷ std, brightness from 0 to 1'],
             working: ['(', brightness, ' − ', mean, ') ÷ ', std], result: value };
  },
  Conv2d: explainConv,
  Linear: explainLinear,
  MaxPool2d: explainPool,
  AvgPool2d: explainPool,
  AdaptiveAvgPool2d: explainPool,
  BatchNorm2d: context => {
    const numbers = batchNormValue(context.layer, context.inputs, context.weights, context.at);
    const formula = numbers.affine ? ['(x − mean) ÷ √(var + eps) × weight + bias']
      : ['(x − mean) ÷ √(var + eps)'];
    const { x, mean, variance, eps, normalised, scale, shift } = numbers;
    const working = ['(', x, ' − ', mean, ') ÷ √(', variance, ' + ', eps, ')'];
    if (numbers.affine) {
      working.push(' × ', scale, ' + ', shift, ' = ', normalised, ' × ', scale, ' + ', shift);
    }
    return { kind: 'batchnorm', formula, ...sameCell(context), ...numbers, working };
  },
  Dropout: context => ({ kind: 'dropout', formula: ['x (nothing is dropped when evaluating)'],
                         p: context.layer.settings.p ?? 0.5, ...sameCell(context) }),
  Flatten: explainFlatten,
  Add: ({ layer, sources, inputs, at }) => {
    const terms = inputs.map((input, i) => ({ source: sources[i].id, at: broadcastAt(input, at),
                                              value: input.at(...broadcastAt(input, at)) }));
    return { kind: 'add', formula: [`${layer.inputs[0]} + ${layer.inputs[1]}`], terms,
             result: terms[0].value + terms[1].value,
             outline: terms.map((term, i) => cellOf(sources[i], term.at)).filter(Boolean) };
  },
};
for (const [type, activation] of Object.entries(ACTIVATIONS)) {
  EXPLAIN[type] = context => {
    const { layer: { settings } } = context;
    const cell = sameCell(context);
    return { kind: 'activation', formula: activation.formula(settings), ...cell,
             working: activation.working(cell.input, settings),
             result: activation.apply(cell.input, settings) };
  };
}

for (const [type, normaliser] of Object.entries(NORMALISERS)) {
  EXPLAIN[type] = ({ layer, sources: [source], inputs: [input], at: [i] }) => {
    const values = Array.from(input.values);
    return { kind: 'activation', formula: normaliser.formula(layer.settings), source: source.id, input: values[i],
             working: normaliser.working(values, i), result: normaliser.apply(values)[i],
             outline: source.grid ? [{ layer: source.id, k: 0, top: 0, left: 0, height: source.grid[0],
                                       width: source.grid[1] }] : [] };
  };
}

/**
 * A conv value: one term per input channel it reads (patch × kernel = products, their sum),
 * then the terms' sum plus the bias. The window is outlined in its first channel.
 */
function explainConv({ layer, sources: [source], inputs, weights, at }) {
  const numbers = convValue(layer, inputs, weights, at);
  const { stride = [1, 1], padding = [0, 0], dilation = [1, 1] } = layer.settings;
  const box = { layer: source.id, k: numbers.terms[0].channel, ...boxOf(numbers.window) };
  const formula = `Σ over the maps it reads of (patch × kernel)${withBias(numbers.bias)}`;
  return { kind: 'conv', formula: [formula], source: source.id, ...numbers, stride, padding,
           dilation, outline: [box] };
}

function withBias(bias) {
  return bias === null ? '' : ', + bias';
}

/** How many of a Linear value's largest positive and negative products are listed. */
const LISTED_TERMS = 6;

/**
 * A Linear value: weight × input for every input; the largest positive and negative products
 * listed (element j, input, weight, product), the rest summed, then the bias.
 */
function explainLinear({ layer, sources: [source], inputs, weights, at }) {
  const numbers = linearValue(layer, inputs, weights, at);
  const terms = numbers.products.map((product, j) =>
    ({ index: j, input: numbers.inputs[j], weight: numbers.weights[j], product }));
  const byValue = [...terms].sort((a, b) => b.product - a.product);
  const positive = byValue.filter(term => term.product > 0).slice(0, LISTED_TERMS);
  const negative = byValue.filter(term => term.product < 0).slice(-LISTED_TERMS);
  const [input] = inputs;
  const cellOfTerm = j => cellOf(source, indexAt(input.shape, numbers.row * terms.length + j));
  const listed = [...positive, ...negative]
    .map(term => ({ ...term, cell: cellOfTerm(term.index) }));
  const shown = new Set(listed.map(term => term.index));
  const others = terms.filter(term => !shown.has(term.index));
  return { kind: 'linear', formula: [`Σ weight × input over its inputs${withBias(numbers.bias)}`],
           source: source.id, count: terms.length, listed,
           rest: { count: others.length, sum: sum(others.map(term => term.product)) },
           sum: numbers.sum, bias: numbers.bias, result: numbers.result };
}

/** A pooling value: its window of one map of the layer it reads, and the max or the mean. */
function explainPool({ layer, sources: [source], inputs, at }) {
  const numbers = poolValue(layer, inputs, at);
  const outline = [{ layer: source.id, k: at[0], ...boxOf(numbers.window) }];
  const common = { source: source.id, k: at[0], ...numbers, outline,
                   padding: layer.settings.padding ?? [0, 0], stride: layer.settings.stride };
  if (layer.type === 'MaxPool2d') {
    return { kind: 'max', formula: ['the largest value of its window'], ...common };
  }
  return { kind: 'mean', formula: ['sum ÷ n'], adaptive: layer.type === 'AdaptiveAvgPool2d',
           ...common };
}

/** Element i of a flattened vector is the cell of its input at that row-major position. */
function explainFlatten({ sources: [source], inputs: [input], at: [index] }) {
  const from = indexAt(input.shape, index);
  const strides = input.shape.map((_, axis) => sizeOf(input.shape.slice(axis + 1)));
  return { kind: 'flatten', formula: ['the same numbers, read row by row into one vector'],
           source: source.id, index, from, strides, input: input.at(...from),
           outline: [cellOf(source, from)].filter(Boolean) };
}
