/**
 * The network's backward pass, so the page can say why the network gave its answer for an input
 * it computed itself (the reader's drawing, upload or test image): the gradient of a chosen
 * combination of logits with respect to every layer's output, and from it an attribution of the
 * logit to the input pixels. Plain loops over the layers in reverse, summing in double precision;
 * tests/test_backward.py checks it against PyTorch's autograd. No DOM here.
 *
 *   const outputs = run(network.layers, image, weights);           // forward.js
 *   const seed = new Float64Array(10); seed[3] = 1;                // logit 3; or +1 / −1: A − B
 *   const grads = gradient(network.layers, outputs, weights, 'fc2', seed);
 *   grads.input;                                                   // ∂logit₃ / ∂(normalised pixel)
 *   attribution(network.layers, image, weights, seed);             // pixel × gradient, adding up
 *
 * Layers, outputs and weights are as forward.js has them: data/network.json's `layers` in order,
 * {layer id: Tensor} and {layer id: {name: Tensor}}. Where a function has a kink (ReLU at 0, a
 * max pool's tie), the gradient is the one PyTorch's autograd picks, so the two agree there too.
 */
import { sizeOf, Tensor } from './data.js';
import { adaptiveWindowAt, erfc, NORMALISERS, windowAt } from './maths.js';
import { run } from './forward.js';

/**
 * {layer id: Float64Array}: the derivative of seed · (target's output) with respect to the output
 * of every layer up to `target`, in the layers' order; zeros for a layer the target does not read.
 * `seed` has the target's size: one-hot on a class for its logit, +1 and −1 for a difference.
 */
export function gradient(layers, outputs, weights, target, seed) {
  const end = layers.findIndex(layer => layer.id === target);
  if (end < 0) throw new Error(`no layer '${target}' to take the gradient of`);
  if (seed.length !== sizeOf(layers[end].shape)) {
    throw new Error(`the seed has ${seed.length} numbers, ${target} ${sizeOf(layers[end].shape)}`);
  }
  const grads = { [target]: Float64Array.from(seed) };
  // Every layer comes after the layers it reads, so by the time the walk back reaches a layer,
  // every layer that reads it has added its share: a residual's two paths are summed.
  for (let i = end; i >= 0; i--) {
    const layer = layers[i];
    grads[layer.id] ??= new Float64Array(sizeOf(layer.shape));
    if (layer.type === 'Input') continue;
    const into = layer.inputs.map(id => (grads[id] ??= new Float64Array(outputs[id].size)));
    backward(layer, layer.inputs.map(id => outputs[id]), grads[layer.id], weights[layer.id], into);
  }
  return grads;
}

/**
 * Add to `into` (a Float64Array per input) the gradient with respect to each of the layer's
 * inputs, given the gradient with respect to its output, `grad`.
 */
export function backward(layer, inputs, grad, weights = {}, into) {
  if (!Object.hasOwn(BACKWARD, layer.type)) throw new Error(`no backward pass for ${layer.type}`);
  BACKWARD[layer.type](layer, inputs, grad, weights, into);
}

/** The types whose output is piecewise linear in their input: a logit is then locally affine. */
const PIECEWISE_LINEAR = new Set(['Input', 'Conv2d', 'Linear', 'ReLU', 'LeakyReLU', 'MaxPool2d',
  'AvgPool2d', 'AdaptiveAvgPool2d', 'BatchNorm2d', 'Dropout', 'Flatten', 'Add']);

/** Whether every layer is piecewise linear, so logit = Σ x · ∂logit/∂x + a constant near x. */
export function isPiecewiseLinear(layers) {
  return layers.every(layer => PIECEWISE_LINEAR.has(layer.type));
}

/**
 * How the input's values account for seed · (the last layer's output), `value`.
 *
 * A piecewise-linear network is exactly affine near `image` (the normalised input, a Tensor),
 * so the parts add up exactly: {exact: true, gradient, contributions (x × gradient), sum (of the
 * contributions), value, constant (value − sum: what the biases put in)}.
 *
 * Any other network gets integrated gradients from `baseline` (a Tensor like `image`; required,
 * since what "no input" means is the caller's choice, such as the normalised black image):
 * the gradient's mean at `steps` midpoints of the straight path, (k + ½) ÷ steps of the way. Then
 * {exact: false, gradient (that mean), contributions ((x − baseline) × gradient), sum, value,
 * baselineValue, gap (value − baselineValue − sum: the approximation's error), steps}.
 */
export function attribution(layers, image, weights, seed, { steps = 64, baseline } = {}) {
  if (isPiecewiseLinear(layers)) return exactAttribution(layers, image, weights, seed);
  if (!baseline) {
    throw new Error('a network that is not piecewise linear needs a baseline to integrate from');
  }
  return integratedGradients(layers, image, weights, seed, baseline, steps);
}

function exactAttribution(layers, image, weights, seed) {
  const { value, inputGradient } = valueAndGradient(layers, image, weights, seed);
  const contributions = inputGradient.map((g, i) => image.values[i] * g);
  const sum = total(contributions);
  return { exact: true, gradient: inputGradient, contributions, sum, value, constant: value - sum };
}

function integratedGradients(layers, image, weights, seed, baseline, steps) {
  const x = image.values, b = baseline.values, mean = new Float64Array(x.length);
  for (let k = 0; k < steps; k++) {
    const along = (k + 0.5) / steps;
    const point = new Tensor(image.shape, x.map((value, i) => b[i] + along * (value - b[i])));
    const { inputGradient } = valueAndGradient(layers, point, weights, seed);
    for (let i = 0; i < mean.length; i++) mean[i] += inputGradient[i] / steps;
  }
  const contributions = mean.map((g, i) => (x[i] - b[i]) * g);
  const sum = total(contributions);
  const value = valueAt(layers, image, weights, seed);
  const baselineValue = valueAt(layers, baseline, weights, seed);
  return { exact: false, gradient: mean, contributions, sum, value, baselineValue,
           gap: value - baselineValue - sum, steps };
}

/** seed · (the last layer's output) at `image`, and its gradient with respect to the input. */
function valueAndGradient(layers, image, weights, seed) {
  const outputs = run(layers, image, weights);
  const target = layers.at(-1).id, input = layers.find(layer => layer.type === 'Input').id;
  const grads = gradient(layers, outputs, weights, target, seed);
  return { value: dot(seed, outputs[target].values), inputGradient: grads[input] };
}

function valueAt(layers, image, weights, seed) {
  return dot(seed, run(layers, image, weights)[layers.at(-1).id].values);
}

function dot(one, other) {
  let sum = 0;
  for (let i = 0; i < one.length; i++) sum += one[i] * other[i];
  return sum;
}

function total(numbers) {
  let sum = 0;
  for (const number of numbers) sum += number;
  return sum;
}

// --- each layer type, backwards -----------------------------------------------------------------

const BACKWARD = {
  Conv2d: conv2dBackward,
  Linear: linearBackward,
  MaxPool2d: (layer, [input], grad, weights, [into]) =>
    eachWindow(layer, input, (r, c) => windowAt(layer, r, c), toFirstMax(input, grad, into)),
  AvgPool2d: (layer, [input], grad, weights, [into]) =>
    eachWindow(layer, input, (r, c) => windowAt(layer, r, c), spread(layer, grad, into)),
  AdaptiveAvgPool2d: (layer, [input], grad, weights, [into]) =>
    eachWindow(layer, input, (r, c) => adaptiveWindowAt(layer, input.shape, r, c),
               spread(layer, grad, into)),
  BatchNorm2d: batchNormBackward,
  Dropout: (layer, inputs, grad, weights, [into]) => addScaled(into, grad),
  Flatten: (layer, inputs, grad, weights, [into]) => addScaled(into, grad),  // same order
  Add: addBackward,
  Softmax: softmaxBackward,
  LogSoftmax: logSoftmaxBackward,
};

const SQRT_2PI = Math.sqrt(2 * Math.PI), GELU_TANH_SCALE = Math.sqrt(2 / Math.PI);

function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Each activation's derivative at its input x. At a kink, PyTorch's choice: ReLU's slope at 0
 * is 0, LeakyReLU's and ELU's the negative side's (theirs is x > 0 ? 1 : …).
 */
const SLOPES = {
  ReLU: x => (x > 0 ? 1 : 0),
  LeakyReLU: (x, { negative_slope: slope }) => (x > 0 ? 1 : slope),
  ELU: (x, { alpha }) => (x > 0 ? 1 : alpha * Math.exp(x)),
  GELU: (x, { approximate }) => (approximate === 'tanh' ? geluTanhSlope(x)
    : 0.5 * erfc(-x / Math.SQRT2) + x * Math.exp(-x * x / 2) / SQRT_2PI),  // Φ(x) + x φ(x)
  SiLU: x => sigmoid(x) * (1 + x * (1 - sigmoid(x))),
  Sigmoid: x => sigmoid(x) * (1 - sigmoid(x)),
  Tanh: x => 1 - Math.tanh(x) ** 2,
};
for (const [type, slope] of Object.entries(SLOPES)) {
  BACKWARD[type] = (layer, [input], grad, weights, [into]) => {
    const x = input.values;
    for (let i = 0; i < grad.length; i++) if (grad[i]) into[i] += grad[i] * slope(x[i], layer.settings);
  };
}

/** d/dx of ½ x (1 + tanh(u)), u = √(2/π) (x + 0.044715 x³). */
function geluTanhSlope(x) {
  const t = Math.tanh(GELU_TANH_SCALE * (x + 0.044715 * x ** 3));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_TANH_SCALE * (1 + 3 * 0.044715 * x * x);
}

/** y = softmax(x): ∂/∂xⱼ of Σ gᵢ yᵢ is yⱼ (gⱼ − Σ gᵢ yᵢ). */
function softmaxBackward(layer, [input], grad, weights, [into]) {
  const y = NORMALISERS.Softmax.apply(Array.from(input.values));
  const mean = y.reduce((sum, yi, i) => sum + grad[i] * yi, 0);
  for (let j = 0; j < y.length; j++) into[j] += y[j] * (grad[j] - mean);
}

/** y = log-softmax(x): ∂/∂xⱼ of Σ gᵢ yᵢ is gⱼ − softmax(x)ⱼ Σ gᵢ. */
function logSoftmaxBackward(layer, [input], grad, weights, [into]) {
  const p = NORMALISERS.Softmax.apply(Array.from(input.values));
  const total = grad.reduce((sum, g) => sum + g, 0);
  for (let j = 0; j < p.length; j++) into[j] += grad[j] - p[j] * total;
}

/** into += scale × grad, element by element. */
function addScaled(into, grad, scale = 1) {
  for (let i = 0; i < grad.length; i++) into[i] += scale * grad[i];
}

/**
 * The convolution turned around: each product w × x sent its output's gradient g to x, so x
 * gathers w × g from every output that read it (padding reads nothing). Walked output by output,
 * so that the outputs a ReLU or a max pool sends nothing back to cost nothing.
 */
function conv2dBackward(layer, [input], grad, { weight }, [into]) {
  const [channels, height, width] = input.shape;
  const [filters, rows, cols] = layer.shape;
  const { kernel_size: [kh, kw], stride: [sh, sw] = [1, 1], padding: [ph, pw] = [0, 0] } =
    layer.settings;
  const [dh, dw] = layer.settings.dilation ?? [1, 1];
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

/**
 * For each output cell (r, c) of a pooling layer, `route(outputs, cells, outside)` with the
 * offsets of its output cell in map 0 and of its window's cells on the input's map 0, and how
 * many of the window's cells fall on the padding; each window is worked out once for all maps.
 */
function eachWindow(layer, input, windowOf, route) {
  const [, height, width] = input.shape, [, rows, cols] = layer.shape;
  const cells = [];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const { top, left, height: kh, width: kw, step: [dh, dw] } = windowOf(r, c);
      cells.length = 0;
      let outside = 0;
      for (let u = 0; u < kh; u++) {
        for (let v = 0; v < kw; v++) {
          const row = top + u * dh, col = left + v * dw;
          if (row >= 0 && row < height && col >= 0 && col < width) cells.push(row * width + col);
          else outside++;
        }
      }
      route(r * cols + c, cells, outside);
    }
  }
}

/**
 * A max pool's gradient goes to its window's largest cell; among equal ones, to the first in
 * the window's row-major order, as PyTorch's max pool picks its index (a strict >).
 */
function toFirstMax(input, grad, into) {
  const [channels, height, width] = input.shape, plane = height * width;
  const cellsOut = grad.length / channels, x = input.values;
  return (outCell, cells) => {
    for (let k = 0; k < channels; k++) {
      const g = grad[k * cellsOut + outCell];
      if (g === 0) continue;
      let best = k * plane + cells[0];
      for (const cell of cells) if (x[k * plane + cell] > x[best]) best = k * plane + cell;
      into[best] += g;
    }
  };
}

/** A mean's gradient goes to each cell it averaged, ÷ n (the padding counted as forward.js does). */
function spread(layer, grad, into) {
  const paddingCounts = layer.type === 'AvgPool2d' && (layer.settings.count_include_pad ?? true);
  const channels = layer.shape[0], cellsOut = grad.length / channels;
  const plane = into.length / channels;
  return (outCell, cells, outside) => {
    const count = cells.length + (paddingCounts ? outside : 0);
    for (let k = 0; k < channels; k++) {
      const share = grad[k * cellsOut + outCell] / count;
      for (const cell of cells) into[k * plane + cell] += share;
    }
  };
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

/** Each term of a sum gets the sum's gradient, added up over the axes it was broadcast along. */
function addBackward(layer, inputs, grad, weights, into) {
  inputs.forEach((input, n) => {
    if (input.size === grad.length) return addScaled(into[n], grad);
    const offsets = broadcastOffsets(input.shape, layer.shape);
    for (let i = 0; i < grad.length; i++) into[n][offsets[i]] += grad[i];
  });
}

/**
 * For each cell of `shape` in row-major order, the offset of the cell of a tensor of `from`'s
 * shape that broadcasting reads there: shapes aligned on their last axes, a length 1 repeated.
 */
function broadcastOffsets(from, shape) {
  const extra = shape.length - from.length, strides = shape.map(() => 0);
  for (let axis = from.length - 1, stride = 1; axis >= 0; axis--) {
    if (from[axis] !== 1) strides[axis + extra] = stride;
    stride *= from[axis];
  }
  const offsets = new Int32Array(sizeOf(shape)), index = shape.map(() => 0);
  for (let flat = 0; flat < offsets.length; flat++) {
    offsets[flat] = index.reduce((offset, position, axis) => offset + position * strides[axis], 0);
    for (let axis = shape.length - 1; axis >= 0 && ++index[axis] === shape[axis]; axis--) {
      index[axis] = 0;
    }
  }
  return offsets;
}
