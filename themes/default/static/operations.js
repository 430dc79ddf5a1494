/**
 * Every operation the page computes, one entry per layer type (data/network.json's `type`, the
 * types builder/operations.py supports), each with
 *
 *   forward(layer, inputs, weights) → Tensor: the layer's output from its inputs' outputs, as plain
 *     loops over Float32Arrays, summing in double precision and storing float32 as the network does;
 *   backward(layer, inputs, grad, weights, into): adds to into[n] (a Float64Array) the gradient with
 *     respect to input n, given the gradient `grad` with respect to the output; at a kink (ReLU at 0,
 *     a max pool's tie, a clamp at its bounds) the slope PyTorch's autograd picks;
 *   explain(context) → {kind, formula, working, result, outline, …}: why one output value has its
 *     value, as data that inspector.js draws by `kind`; `context` is {layer, network, sources (the
 *     layers it reads), inputs (their outputs), weights, at, value}.
 *
 * A layer is an entry of network.json's `layers`: {id, type, shape, settings, inputs, grid, …};
 * `inputs` are Tensors (data.js), `weights` its tensors {weight, bias, running_mean, running_var}.
 * An index `at` is [k, r, c] into maps, [i] into a vector. Explanations write their arithmetic as
 * lines: arrays of words and numbers, e.g. ['max(0, ', -0.5, ')'], so the numbers stay numbers here
 * and the inspector prints them. forward.js, backward.js and maths.js run these over a network;
 * the window, broadcasting and sum helpers they share are in arithmetic.js. No DOM here.
 */
import { sizeOf, Tensor } from './data.js';
import {
  adaptiveWindow, boxOf, broadcastAt, broadcastOffsets, clamp, COLOURS, eachWindow, erf, erfc, indexAt,
  isSpatial, offsetIn, paddingOf, patchOf, range, rowsOf, sigmoid, slidingWindow, softplus, sum,
  wholeMap,
} from './arithmetic.js';

// --- element-wise functions -----------------------------------------------------------------

const GELU_TANH_SCALE = Math.sqrt(2 / Math.PI), SQRT_2PI = Math.sqrt(2 * Math.PI);

/** Φ(x), the standard normal distribution function, exact in its far left tail too. */
function normalCdf(x) {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function geluTanhArgument(x) {
  return GELU_TANH_SCALE * (x + 0.044715 * x ** 3);
}

/** min(max(x, low), high), either bound may be missing (null): clamp, hardtanh, ReLU6. */
function bounded(x, low, high) {
  return Math.min(Math.max(x, low ?? -Infinity), high ?? Infinity);
}

/** 1 strictly between the bounds, else 0: PyTorch's slope of hardtanh and of clamp by numbers. */
function insideSlope(x, low, high) {
  return x > (low ?? -Infinity) && x < (high ?? Infinity) ? 1 : 0;
}

/**
 * Each activation: its formula with its settings, the function itself, its working for one input
 * x (a line that, followed by ' = ' and the result, is the whole computation) and its slope
 * (PyTorch's at a kink: ReLU's at 0 is 0, LeakyReLU's and ELU's the negative side's, hardtanh's,
 * ReLU6's and clamp's 0 at their bounds, hardswish's 0 at −3 and 1 at 3).
 */
const ACTIVATIONS = {
  ReLU: {
    formula: () => ['max(0, x)'],
    apply: x => Math.max(0, x),
    working: x => ['max(0, ', x, ')'],
    slope: x => (x > 0 ? 1 : 0),
  },
  LeakyReLU: {
    formula: ({ negative_slope: slope }) => ['x if x > 0, else ', slope, ' × x'],
    apply: (x, { negative_slope: slope }) => (x > 0 ? x : slope * x),
    working: (x, { negative_slope: slope }) =>
      (x > 0 ? [x, ' > 0, so x'] : [x, ' ≤ 0, so ', slope, ' × ', x]),
    slope: (x, { negative_slope: slope }) => (x > 0 ? 1 : slope),
  },
  ELU: {
    formula: ({ alpha }) => ['x if x > 0, else ', alpha, ' × (exp(x) − 1)'],
    apply: (x, { alpha }) => (x > 0 ? x : alpha * (Math.exp(x) - 1)),
    working: (x, { alpha }) => (x > 0 ? [x, ' > 0, so x']
      : [x, ' ≤ 0, so ', alpha, ' × (exp(', x, ') − 1) = ', alpha, ' × (', Math.exp(x), ' − 1)']),
    slope: (x, { alpha }) => (x > 0 ? 1 : alpha * Math.exp(x)),
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
    slope: (x, { approximate }) => {
      if (approximate !== 'tanh') return normalCdf(x) + x * Math.exp(-x * x / 2) / SQRT_2PI;
      const t = Math.tanh(geluTanhArgument(x));  // d/dx of ½ x (1 + tanh(u))
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_TANH_SCALE * (1 + 3 * 0.044715 * x * x);
    },
  },
  SiLU: {
    formula: () => ['x × σ(x), where σ(x) = 1 ÷ (1 + exp(−x))'],
    apply: x => x * sigmoid(x),
    working: x => [x, ' × σ(', x, ') = ', x, ' × ', sigmoid(x)],
    slope: x => sigmoid(x) * (1 + x * (1 - sigmoid(x))),
  },
  Sigmoid: {
    formula: () => ['1 ÷ (1 + exp(−x))'],
    apply: sigmoid,
    working: x => ['1 ÷ (1 + exp(', -x, ')) = 1 ÷ (1 + ', Math.exp(-x), ')'],
    slope: x => sigmoid(x) * (1 - sigmoid(x)),
  },
  Tanh: {
    formula: () => ['(exp(x) − exp(−x)) ÷ (exp(x) + exp(−x))'],
    apply: Math.tanh,
    working: x => ['(', Math.exp(x), ' − ', Math.exp(-x), ') ÷ (', Math.exp(x), ' + ',
                   Math.exp(-x), ')'],
    slope: x => 1 - Math.tanh(x) ** 2,
  },
  ReLU6: {
    formula: () => ['min(max(0, x), 6)'],
    apply: x => bounded(x, 0, 6),
    working: x => ['min(max(0, ', x, '), 6)'],
    slope: x => insideSlope(x, 0, 6),
  },
  Hardtanh: {
    formula: ({ min_val: low, max_val: high }) => ['min(max(', low, ', x), ', high, ')'],
    apply: (x, { min_val: low, max_val: high }) => bounded(x, low, high),
    working: (x, { min_val: low, max_val: high }) => ['min(max(', low, ', ', x, '), ', high, ')'],
    slope: (x, { min_val: low, max_val: high }) => insideSlope(x, low, high),
  },
  Clamp: {
    formula: ({ min, max }) => clampLine('x', min, max),
    apply: (x, { min, max }) => bounded(x, min, max),
    working: (x, { min, max }) => clampLine(x, min, max),
    slope: (x, { min, max }) => insideSlope(x, min, max),
  },
  Hardsigmoid: {
    formula: () => ['min(max(x + 3, 0), 6) ÷ 6'],
    apply: x => bounded(x + 3, 0, 6) / 6,
    working: x => ['min(max(', x, ' + 3, 0), 6) ÷ 6 = ', bounded(x + 3, 0, 6), ' ÷ 6'],
    slope: x => insideSlope(x, -3, 3) / 6,
  },
  Hardswish: {
    formula: () => ['x × min(max(x + 3, 0), 6) ÷ 6'],
    apply: x => x * bounded(x + 3, 0, 6) / 6,
    working: x => [x, ' × min(max(', x, ' + 3, 0), 6) ÷ 6 = ', x, ' × ', bounded(x + 3, 0, 6),
                   ' ÷ 6'],
    slope: x => (x <= -3 ? 0 : x >= 3 ? 1 : x / 3 + 0.5),
  },
  Mish: {
    formula: () => ['x × tanh(softplus(x)), where softplus(x) = ln(1 + exp(x))'],
    apply: x => x * Math.tanh(softplus(x)),
    working: x => [x, ' × tanh(ln(1 + ', Math.exp(x), ')) = ', x, ' × tanh(', softplus(x),
                   ') = ', x, ' × ', Math.tanh(softplus(x))],
    slope: x => {
      const t = Math.tanh(softplus(x));
      return t + x * (1 - t * t) * sigmoid(x);
    },
  },
  Softplus: {
    formula: ({ beta, threshold }) => ['ln(1 + exp(', beta, ' × x)) ÷ ', beta, ', or x where ',
                                       beta, ' × x > ', threshold],
    apply: (x, { beta, threshold }) => (beta * x > threshold ? x : softplus(beta * x) / beta),
    working: (x, { beta, threshold }) => (beta * x > threshold
      ? [beta, ' × ', x, ' > ', threshold, ', so x']
      : ['ln(1 + exp(', beta, ' × ', x, ')) ÷ ', beta, ' = ', softplus(beta * x), ' ÷ ', beta]),
    slope: (x, { beta, threshold }) => (beta * x > threshold ? 1 : sigmoid(beta * x)),
  },
};

/** A clamp's line for x (a word or a number), with the bounds it has. */
function clampLine(x, min, max) {
  if (max === null || max === undefined) return ['max(', x, ', ', min, ')'];
  if (min === null || min === undefined) return ['min(', x, ', ', max, ')'];
  return ['min(max(', x, ', ', min, '), ', max, ')'];
}

/** An element-wise operation from its activation: each output from the same index's input. */
function activation({ formula, apply, working, slope }) {
  return {
    forward: (layer, [input]) => input.map(x => apply(x, layer.settings)),
    backward: (layer, [input], grad, weights, [into]) => {
      const x = input.values;
      for (let i = 0; i < grad.length; i++) if (grad[i]) into[i] += grad[i] * slope(x[i], layer.settings);
    },
    explain: context => {
      const { settings } = context.layer;
      const cell = sameCell(context);
      return { kind: 'activation', formula: formula(settings), ...cell,
               working: working(cell.input, settings), result: apply(cell.input, settings) };
    },
  };
}

// --- over the classes: softmax and log-softmax ------------------------------------------------

/**
 * The operations that make a vector of scores into probabilities (Softmax) or their logarithms
 * (LogSoftmax), only ever the network's last layer (a flatten or dropout may follow), over its
 * classes (builder/graph.py refuses any other): `apply` maps the whole vector as PyTorch does,
 * shifted by its largest value and summed in double precision, `working` writes out element i,
 * and `gradient(values, grad)` is ∂/∂x of Σ grad · output.
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
    // y = softmax(x): ∂/∂xⱼ of Σ gᵢ yᵢ is yⱼ (gⱼ − Σ gᵢ yᵢ).
    gradient: (values, grad) => {
      const y = NORMALISERS.Softmax.apply(values);
      const mean = sum(y.map((yi, i) => grad[i] * yi));
      return y.map((yj, j) => yj * (grad[j] - mean));
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
    // y = log-softmax(x): ∂/∂xⱼ of Σ gᵢ yᵢ is gⱼ − softmax(x)ⱼ Σ gᵢ.
    gradient: (values, grad) => {
      const p = NORMALISERS.Softmax.apply(values), total = sum(grad);
      return p.map((pj, j) => grad[j] - pj * total);
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

function normaliser({ formula, apply, working, gradient }) {
  return {
    forward: (layer, [input]) =>
      new Tensor(input.shape, Float32Array.from(apply(Array.from(input.values)))),
    backward: (layer, [input], grad, weights, [into]) =>
      gradient(Array.from(input.values), grad).forEach((g, j) => { into[j] += g; }),
    explain: ({ layer, sources: [source], inputs: [input], at: [i] }) => {
      const values = Array.from(input.values);
      return { kind: 'activation', formula: formula(layer.settings), source: source.id,
               input: values[i], working: working(values, i), result: apply(values)[i],
               outline: source.grid ? [{ layer: source.id, k: 0, top: 0, left: 0,
                                         height: source.grid[0], width: source.grid[1] }] : [] };
    },
  };
}

// --- convolution --------------------------------------------------------------------------------

/** The input channels filter k reads: all of them, or with groups only those of its group. */
export function channelsOf(layer, k, inputChannels) {
  const groups = layer.settings.groups ?? 1;
  const perGroup = inputChannels / groups;
  const group = Math.floor(k / (layer.shape[0] / groups));
  return { group, groups, channels: range(perGroup).map(j => group * perGroup + j) };
}

function convSettings(layer) {
  const { kernel_size: [kh, kw], stride = [1, 1], padding = [0, 0] } = layer.settings;
  const [dh, dw] = layer.settings.dilation ?? [1, 1];
  return { kh, kw, sh: stride[0], sw: stride[1], ph: padding[0], pw: padding[1], dh, dw };
}

/** Convolution with zero padding, stride, dilation and groups: out = Σ w × x (+ bias). */
function conv2d(layer, [input], { weight, bias }) {
  const [channels, height, width] = input.shape;
  const [filters, rows, cols] = layer.shape;
  const { kh, kw, sh, sw, ph, pw, dh, dw } = convSettings(layer);
  const groups = layer.settings.groups ?? 1;
  const inPerGroup = channels / groups, outPerGroup = filters / groups;
  const x = input.values, w = weight.values, out = new Float32Array(filters * rows * cols);
  const sums = new Float64Array(rows * cols);
  for (let k = 0; k < filters; k++) {
    sums.fill(0);
    const group = Math.floor(k / outPerGroup);
    for (let j = 0; j < inPerGroup; j++) {
      const plane = (group * inPerGroup + j) * height * width;
      for (let u = 0; u < kh; u++) {
        for (let v = 0; v < kw; v++) {
          const wv = w[((k * inPerGroup + j) * kh + u) * kw + v];
          for (let r = 0; r < rows; r++) {
            const row = r * sh - ph + u * dh;
            if (row < 0 || row >= height) continue;
            const at = plane + row * width, first = r * cols;
            for (let c = 0; c < cols; c++) {
              const col = c * sw - pw + v * dw;
              if (col >= 0 && col < width) sums[first + c] += wv * x[at + col];
            }
          }
        }
      }
    }
    const b = bias ? bias.values[k] : 0;
    for (let i = 0; i < rows * cols; i++) out[k * rows * cols + i] = sums[i] + b;
  }
  return new Tensor(layer.shape, out);
}

/**
 * The convolution turned around: each product w × x sent its output's gradient g to x, so x
 * gathers w × g from every output that read it (padding reads nothing). Walked output by output,
 * so that the outputs a ReLU or a max pool sends nothing back to cost nothing.
 */
function conv2dBackward(layer, [input], grad, { weight }, [into]) {
  const [channels, height, width] = input.shape;
  const [filters, rows, cols] = layer.shape;
  const { kh, kw, sh, sw, ph, pw, dh, dw } = convSettings(layer);
  const groups = layer.settings.groups ?? 1;
  const inPerGroup = channels / groups, outPerGroup = filters / groups, w = weight.values;
  for (let k = 0; k < filters; k++) {
    const firstMap = Math.floor(k / outPerGroup) * inPerGroup;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const g = grad[(k * rows + r) * cols + c];
        if (g === 0) continue;
        for (let j = 0; j < inPerGroup; j++) {
          const plane = (firstMap + j) * height * width, kernel = (k * inPerGroup + j) * kh * kw;
          for (let u = 0; u < kh; u++) {
            const row = r * sh - ph + u * dh;
            if (row < 0 || row >= height) continue;
            for (let v = 0; v < kw; v++) {
              const col = c * sw - pw + v * dw;
              if (col >= 0 && col < width) into[plane + row * width + col] += w[kernel + u * kw + v] * g;
            }
          }
        }
      }
    }
  }
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

/**
 * A conv value: one term per input channel it reads (patch × kernel = products, their sum),
 * then the terms' sum plus the bias. The window is outlined in its first channel.
 */
function explainConv({ layer, sources: [source], inputs: [input], weights, at: [k, r, c] }) {
  const window = slidingWindow(layer, input.shape)(r, c);
  const { group, groups, channels } = channelsOf(layer, k, input.shape[0]);
  const terms = channels.map((channel, j) => convTerm(weights, input, k, channel, j, window));
  const total = sum(terms.map(term => term.sum));
  const bias = weights.bias ? weights.bias.at(k) : null;
  const { stride = [1, 1], padding = [0, 0], dilation = [1, 1] } = layer.settings;
  const formula = `Σ over the maps it reads of (patch × kernel)${withBias(bias)}`;
  return { kind: 'conv', formula: [formula], source: source.id, window, group, groups, terms,
           sum: total, bias, result: total + (bias ?? 0), stride, padding, dilation,
           outline: [{ layer: source.id, k: terms[0].channel, ...boxOf(window) }] };
}

function withBias(bias) {
  return bias === null ? '' : ', + bias';
}

// --- fully connected ----------------------------------------------------------------------------

/** y = W x (+ b) along the last axis. */
function linear(layer, [input], { weight, bias }) {
  const [outFeatures, inFeatures] = weight.shape;
  const x = input.values, w = weight.values;
  const rows = x.length / inFeatures, out = new Float32Array(rows * outFeatures);
  for (let row = 0; row < rows; row++) {
    for (let o = 0; o < outFeatures; o++) {
      let total = 0;
      for (let j = 0, at = o * inFeatures, from = row * inFeatures; j < inFeatures; j++) {
        total += w[at + j] * x[from + j];
      }
      out[row * outFeatures + o] = total + (bias ? bias.values[o] : 0);
    }
  }
  return new Tensor(layer.shape, out);
}

/** y = W x + b: x gathers Wᵀ ∂/∂y, row by row of the last axis. */
function linearBackward(layer, [input], grad, { weight }, [into]) {
  const [outFeatures, inFeatures] = weight.shape, w = weight.values;
  const rows = input.size / inFeatures;
  for (let row = 0; row < rows; row++) {
    for (let o = 0; o < outFeatures; o++) {
      const g = grad[row * outFeatures + o];
      if (g === 0) continue;  // a unit ReLU turned off sends nothing back: skip its row
      for (let j = 0, at = o * inFeatures, to = row * inFeatures; j < inFeatures; j++) {
        into[to + j] += w[at + j] * g;
      }
    }
  }
}

/** How many of a Linear value's largest positive and negative products are listed. */
const LISTED_TERMS = 6;

/**
 * A Linear value: weight × input for every input; the largest positive and negative products
 * listed (element j, input, weight, product), the rest summed, then the bias.
 */
function explainLinear({ layer, sources: [source], inputs: [input], weights, at }) {
  const [outFeatures, inFeatures] = weights.weight.shape;
  const position = offsetIn(layer.shape, at);
  const o = position % outFeatures, row = Math.floor(position / outFeatures);
  const x = input.values.subarray(row * inFeatures, (row + 1) * inFeatures);
  const w = weights.weight.values.subarray(o * inFeatures, (o + 1) * inFeatures);
  const terms = Array.from(x, (value, j) => ({ index: j, input: value, weight: w[j],
                                               product: value * w[j] }));
  const total = sum(terms.map(term => term.product));
  const bias = weights.bias ? weights.bias.at(o) : null;
  const byValue = [...terms].sort((a, b) => b.product - a.product);
  const positive = byValue.filter(term => term.product > 0).slice(0, LISTED_TERMS);
  const negative = byValue.filter(term => term.product < 0).slice(-LISTED_TERMS);
  const listed = [...positive, ...negative].map(term =>
    ({ ...term, cell: cellOf(source, indexAt(input.shape, row * inFeatures + term.index)) }));
  const shown = new Set(listed.map(term => term.index));
  const others = terms.filter(term => !shown.has(term.index));
  return { kind: 'linear', formula: [`Σ weight × input over its inputs${withBias(bias)}`],
           source: source.id, count: terms.length, listed,
           rest: { count: others.length, sum: sum(others.map(term => term.product)) },
           sum: total, bias, result: total + (bias ?? 0) };
}

// --- pooling: windows of each map, and the mean of a whole map ---------------------------------

/** The output grid of a pool: its rows and columns, 1 × 1 for a mean over the whole map. */
function gridOf(layer) {
  return isSpatial(layer) ? layer.shape.slice(1) : [1, 1];
}

/**
 * A pool from its windows (`windows(layer, inputShape)` → (r, c) → window, arithmetic.js) and
 * what it does with a window's cells on map k (`reduce(x, mapStart, cells, outside, settings)`),
 * and for the backward pass `route(x, mapStart, cells, outside, g, into, settings)`.
 */
function poolPasses(windows, reduce, route) {
  const over = (layer, input, visit) => {
    const [channels, height, width] = input.shape, [rows, cols] = gridOf(layer);
    eachWindow(windows(layer, input.shape), input.shape, rows, cols, (outCell, cells, outside) => {
      for (let k = 0; k < channels; k++) {
        visit(k * rows * cols + outCell, k * height * width, cells, outside);
      }
    });
  };
  return {
    forward: (layer, [input]) => {
      const out = new Float32Array(sizeOf(layer.shape)), x = input.values;
      over(layer, input, (o, start, cells, outside) => {
        out[o] = reduce(x, start, cells, outside, layer.settings);
      });
      return new Tensor(layer.shape, out);
    },
    backward: (layer, [input], grad, weights, [into]) => over(layer, input, (o, start, cells, outside) => {
      if (grad[o] !== 0) route(input.values, start, cells, outside, grad[o], into, layer.settings);
    }),
  };
}

/** The largest cell of a window; padding never wins. */
function largestCell(x, start, cells) {
  let largest = -Infinity;
  for (const cell of cells) if (x[start + cell] > largest) largest = x[start + cell];
  return largest;
}

/**
 * A max pool's gradient goes to its window's largest cell; among equal ones, to the first in the
 * window's row-major order, as PyTorch's max pool picks its index (a strict >).
 */
function toFirstLargest(x, start, cells, outside, g, into) {
  let best = start + cells[0];
  for (const cell of cells) if (x[start + cell] > x[best]) best = start + cell;
  into[best] += g;
}

function maxPool(windows) {
  return {
    ...poolPasses(windows, largestCell, toFirstLargest),
    explain: context => {
      const { layer, sources: [source], at: [k] } = context;
      const { window, map, common } = poolWindow(windows, context);
      const cells = patchOf(map, window, -Infinity);  // padding never wins a max
      return { kind: 'max', formula: ['the largest value of its window'], ...common, cells,
               result: Math.max(...cells.flat()),
               padding: layer.settings.padding ?? [0, 0], source: source.id, k };
    },
  };
}

/**
 * A mean pool from its windows and its divisor: `divisor(settings, inside, outside)` from how
 * many of a window's cells lie on the map and on the padding (what PyTorch divides the sum by).
 */
function meanPool(windows, divisor, { paddingCounts = () => false, formula = ['sum ÷ n'] } = {}) {
  return {
    ...poolPasses(windows,
      (x, start, cells, outside, settings) => {
        let total = 0;
        for (const cell of cells) total += x[start + cell];
        return total / divisor(settings, cells.length, outside);
      },
      (x, start, cells, outside, g, into, settings) => {
        const share = g / divisor(settings, cells.length, outside);
        for (const cell of cells) into[start + cell] += share;
      }),
    explain: context => {
      const { layer: { settings }, sources: [source], at: [k] } = context;
      const { window, map, common } = poolWindow(windows, context);
      const counts = paddingCounts(settings);
      const padded = paddingOf(map.shape, window), outside = padded.flat().filter(Boolean).length;
      const cells = patchOf(map, window, counts ? 0 : null);
      const total = sum(cells.flat().filter(value => value !== null));
      const count = divisor(settings, padded.flat().length - outside, outside);
      return { kind: 'mean', formula, ...common, cells, padded, paddingCounts: counts,
               override: settings.divisor_override ?? null, sum: total, count,
               result: total / count, padding: settings.padding ?? [0, 0], source: source.id, k };
    },
  };
}

/**
 * The window of pool value `at` on map k of its input, and what every pool's explanation says:
 * the window, its outline, and whether ceil_mode clipped it short of the kernel.
 */
function poolWindow(windows, { layer, sources: [source], inputs: [input], at }) {
  const [k, r = 0, c = 0] = at;
  const window = windows(layer, input.shape)(r, c);
  const kernel = layer.settings.kernel_size;
  const clipped = Boolean(kernel) && (window.height < kernel[0] || window.width < kernel[1]);
  return { window, map: input.slice(k),
           common: { window, clipped, stride: layer.settings.stride,
                     whole: windows === wholeMap, adaptive: windows === adaptiveWindow,
                     outline: [{ layer: source.id, k, ...boxOf(window) }] } };
}

const cellsOnTheMap = (settings, inside) => inside;

// --- per channel: batch norm --------------------------------------------------------------------

/** Batch norm in evaluation: each channel's stored statistics and affine weights. */
function batchNorm(layer, [input], weights) {
  const [channels] = input.shape, per = input.size / channels;
  const eps = layer.settings.eps ?? 1e-5, out = new Float32Array(input.size);
  for (let k = 0; k < channels; k++) {
    const mean = weights.running_mean.values[k];
    const deviation = Math.sqrt(weights.running_var.values[k] + eps);
    const scale = weights.weight ? weights.weight.values[k] : 1;
    const shift = weights.bias ? weights.bias.values[k] : 0;
    for (let i = k * per; i < (k + 1) * per; i++) {
      out[i] = (input.values[i] - mean) / deviation * scale + shift;
    }
  }
  return new Tensor(layer.shape, out);
}

/** Evaluation's batch norm is x × weight ÷ √(var + eps) plus a constant, per channel. */
function batchNormBackward(layer, [input], grad, weights, [into]) {
  const [channels] = input.shape, per = input.size / channels, eps = layer.settings.eps ?? 1e-5;
  for (let k = 0; k < channels; k++) {
    const scale = (weights.weight ? weights.weight.values[k] : 1)
      / Math.sqrt(weights.running_var.values[k] + eps);
    addScaled(into.subarray(k * per, (k + 1) * per), grad.subarray(k * per, (k + 1) * per), scale);
  }
}

/** A batch-normalised value: its channel's stored statistics and affine weights. */
function explainBatchNorm(context) {
  const { layer, inputs: [input], weights, at } = context;
  const [k] = at, x = input.at(...at);
  const mean = weights.running_mean.at(k), variance = weights.running_var.at(k);
  const eps = layer.settings.eps ?? 1e-5;
  const normalised = (x - mean) / Math.sqrt(variance + eps);
  const affine = Boolean(weights.weight);
  const scale = affine ? weights.weight.at(k) : 1, shift = affine ? weights.bias.at(k) : 0;
  const formula = affine ? ['(x − mean) ÷ √(var + eps) × weight + bias']
    : ['(x − mean) ÷ √(var + eps)'];
  const working = ['(', x, ' − ', mean, ') ÷ √(', variance, ' + ', eps, ')'];
  if (affine) working.push(' × ', scale, ' + ', shift, ' = ', normalised, ' × ', scale, ' + ', shift);
  return { kind: 'batchnorm', formula, ...sameCell(context), x, mean, variance, eps, normalised,
           scale, shift, affine, working, result: normalised * scale + shift };
}

// --- values passed on: identity, dropout, flatten, and joined: cat ------------------------------

/** into += scale × grad, element by element. */
function addScaled(into, grad, scale = 1) {
  for (let i = 0; i < grad.length; i++) into[i] += scale * grad[i];
}

/** An operation that passes its input on unchanged (in evaluation), explained as `explain`. */
function samePasses(explain) {
  return { forward: (layer, [input]) => input.reshape(layer.shape),
           backward: (layer, inputs, grad, weights, [into]) => addScaled(into, grad),  // same order
           explain };
}

/** Dropout in evaluation passes its values on; `channels`: it drops whole maps when training. */
function explainDropout(channels) {
  return context => ({ kind: 'dropout', formula: ['x (nothing is dropped when evaluating)'],
                       p: context.layer.settings.p ?? 0.5, channels, ...sameCell(context) });
}

/** Element i of a flattened vector is the cell of its input at that row-major position. */
function explainFlatten({ sources: [source], inputs: [input], at: [index] }) {
  const from = indexAt(input.shape, index);
  const strides = input.shape.map((_, axis) => sizeOf(input.shape.slice(axis + 1)));
  return { kind: 'flatten', formula: ['the same numbers, read row by row into one vector'],
           source: source.id, index, from, strides, input: input.at(...from),
           outline: [cellOf(source, from)].filter(Boolean) };
}

/** Where each input of a cat starts along the channel axis: [0, C₀, C₀ + C₁, …]. */
function channelStarts(inputShapes) {
  const starts = [0];
  for (const shape of inputShapes) starts.push(starts.at(-1) + shape[0]);
  return starts;
}

/** Which input channel k of a cat comes from: {n (the input), channel (its own)}. */
function catSource(inputShapes, k) {
  const starts = channelStarts(inputShapes);
  const n = starts.findIndex((start, i) => k >= start && k < starts[i + 1]);
  return { n, channel: k - starts[n], first: starts[n], last: starts[n + 1] - 1 };
}

/** A cat along the channels: the inputs' numbers one after another (channels come first). */
function cat(layer, inputs) {
  const out = new Float32Array(sizeOf(layer.shape));
  let offset = 0;
  for (const input of inputs) {
    out.set(input.values, offset);
    offset += input.size;
  }
  return new Tensor(layer.shape, out);
}

function catBackward(layer, inputs, grad, weights, into) {
  let offset = 0;
  inputs.forEach((input, n) => {
    addScaled(into[n], grad.subarray(offset, offset + input.size));
    offset += input.size;
  });
}

/** A cat value is one input's value: which input, which of its channels, outlined there. */
function explainCat({ sources, inputs, at: [k, ...rest] }) {
  const { n, channel, first, last } = catSource(inputs.map(input => input.shape), k);
  const from = [channel, ...rest];
  const names = sources.map(source => source.id).join(', ');
  return { kind: 'cat', formula: [`${names}, joined along the channels`], source: sources[n].id, n, count: sources.length, channel, first, last, from,
           input: inputs[n].at(...from), outline: [cellOf(sources[n], from)].filter(Boolean) };
}

// --- sums ---------------------------------------------------------------------------------------

/** The sum of two outputs, an axis of length 1 in either broadcast along the other's. */
function add(layer, inputs) {
  const [one, other] = inputs.map(input => broadcastOffsets(input.shape, layer.shape));
  const [a, b] = inputs.map(input => input.values);
  const out = new Float32Array(sizeOf(layer.shape));
  for (let i = 0; i < out.length; i++) out[i] = a[one[i]] + b[other[i]];
  return new Tensor(layer.shape, out);
}

/** Each term of a sum gets the sum's gradient, added up over the axes it was broadcast along. */
function addBackward(layer, inputs, grad, weights, into) {
  inputs.forEach((input, n) => {
    if (input.size === grad.length) return addScaled(into[n], grad);
    const offsets = broadcastOffsets(input.shape, layer.shape);
    for (let i = 0; i < grad.length; i++) into[n][offsets[i]] += grad[i];
  });
}

function explainAdd({ layer, sources, inputs, at }) {
  const terms = inputs.map((input, i) => ({ source: sources[i].id, at: broadcastAt(input.shape, at),
                                            value: input.at(...broadcastAt(input.shape, at)) }));
  return { kind: 'add', formula: [`${layer.inputs[0]} + ${layer.inputs[1]}`], terms,
           result: terms[0].value + terms[1].value,
           outline: terms.map((term, i) => cellOf(sources[i], term.at)).filter(Boolean) };
}

// --- what explanations share --------------------------------------------------------------------

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

// --- the table ----------------------------------------------------------------------------------

/** Every operation by its type: {forward, backward, explain}. */
export const OPERATIONS = {
  Input: {
    forward: (layer, [image]) => image,  // the normalised image it is given
    backward: () => {},                  // it reads no layer
    explain: ({ network: { normalisation: { mean: means, std: stds } }, layer, at: [k], value }) => {
      // Each channel has its own mean and std; a colour image's channels are red, green and blue.
      const colour = layer.shape[0] === COLOURS.length ? COLOURS[k] : null;
      const [what, mean, std] = colour ? [`${colour} value`, `${colour} mean`, `${colour} std`]
        : ['brightness', 'mean', 'std'];
      const brightness = value * stds[k] + means[k];
      return { kind: 'input', what, formula: [`(${what} − ${mean}) ÷ ${std}, ${what} from 0 to 1`],
               working: ['(', brightness, ' − ', means[k], ') ÷ ', stds[k]], result: value };
    },
  },
  Conv2d: { forward: conv2d, backward: conv2dBackward, explain: explainConv,
            mapsRead: (layer, k, [source]) => [channelsOf(layer, k, source.shape[0]).channels] },
  Linear: { forward: linear, backward: linearBackward, explain: explainLinear },
  MaxPool2d: maxPool(slidingWindow),
  AvgPool2d: meanPool(slidingWindow,
    (settings, inside, outside) => settings.divisor_override
      ?? ((settings.count_include_pad ?? true) ? inside + outside : inside),
    { paddingCounts: settings => settings.count_include_pad ?? true }),
  AdaptiveAvgPool2d: meanPool(adaptiveWindow, cellsOnTheMap),
  Mean: meanPool(wholeMap, cellsOnTheMap, { formula: ['sum ÷ n, over the whole map'] }),
  BatchNorm2d: { forward: batchNorm, backward: batchNormBackward, explain: explainBatchNorm },
  BatchNorm1d: { forward: batchNorm, backward: batchNormBackward, explain: explainBatchNorm },
  Identity: samePasses(context => ({ kind: 'same', formula: ['x'], ...sameCell(context) })),
  Dropout: samePasses(explainDropout(false)),
  Dropout2d: samePasses(explainDropout(true)),
  Flatten: samePasses(explainFlatten),
  Cat: { forward: cat, backward: catBackward, explain: explainCat,
         mapsRead: (layer, k, sources) => {
           const { n, channel } = catSource(sources.map(source => source.shape), k);
           return sources.map((_, i) => (i === n ? [channel] : []));
         } },
  Add: { forward: add, backward: addBackward, explain: explainAdd },
};
for (const [type, entry] of Object.entries(ACTIVATIONS)) OPERATIONS[type] = activation(entry);
for (const [type, entry] of Object.entries(NORMALISERS)) OPERATIONS[type] = normaliser(entry);

/** A layer's entry, or an error naming its type. */
export function operationOf(layer) {
  if (!Object.hasOwn(OPERATIONS, layer.type)) {
    throw new Error(`no operation '${layer.type}' (${layer.id})`);
  }
  return OPERATIONS[layer.type];
}

/** The maps of each layer it reads that map k of a spatial layer is computed from. */
export function mapsRead(layer, k, sources) {
  return operationOf(layer).mapsRead?.(layer, k, sources) ?? sources.map(() => [k]);
}
