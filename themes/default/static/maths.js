/**
 * The network's arithmetic, apart from the page: for each layer type the builder supports, its
 * forward pass on Tensors, and the explanation of one output value as plain data (the inspector
 * draws it). No DOM here.
 *
 * A layer is an entry of data/network.json's `layers`: {id, type, shape, kernel_size, stride,
 * padding, weight, bias, receptive, grid}. Weights are flat, in PyTorch's order (out, in, h, w).
 * An index `at` is [k, r, c] into maps, or [i] into a vector.
 */
import { Tensor, sizeOf } from './data.js';

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

// --- sliding windows ------------------------------------------------------------------------

/** The window of the layer before that output (r, c) of a conv or pooling layer reads. */
export function windowAt(layer, r, c) {
  const [height, width] = layer.kernel_size;
  const [strideRows, strideCols] = layer.stride ?? [1, 1];
  const [padRows, padCols] = layer.padding ?? [0, 0];
  return { top: r * strideRows - padRows, left: c * strideCols - padCols, height, width };
}

/** The numbers of one map (H, W) inside a window, as rows; 0 where the window leaves the map. */
export function patchOf(map, { top, left, height, width }) {
  const [rows, cols] = map.shape;
  const inside = (row, col) => row >= 0 && row < rows && col >= 0 && col < cols;
  return range(height).map(u => range(width).map(v =>
    inside(top + u, left + v) ? map.at(top + u, left + v) : 0));
}

/** Filter k's weights for one input channel, as rows of numbers. */
export function kernelOf(layer, k, channel) {
  const [height, width] = layer.kernel_size;
  const channels = layer.weight.length / (layer.shape[0] * height * width);
  const start = (k * channels + channel) * height * width;
  return range(height).map(u => layer.weight.slice(start + u * width, start + (u + 1) * width));
}

function biasOf(layer, k) {
  return layer.bias ? layer.bias[k] : 0;
}

/**
 * One input channel's share of conv output (k, r, c): the patch it reads, the kernel,
 * their products and the products' sum.
 */
export function convTerm(layer, input, k, channel, window) {
  const patch = patchOf(input.slice(channel), window);
  const kernel = kernelOf(layer, k, channel);
  const products = patch.map((row, u) => row.map((value, v) => value * kernel[u][v]));
  return { channel, patch, kernel, products, sum: sum(products.flat()) };
}

/** The input pixels a spatial value depends on: its receptive field, clipped to the image. */
export function receptiveField(layer, imageShape, r, c) {
  if (!layer.receptive || layer.type === 'Input' || !isSpatial(layer)) return null;
  const { size, jump, start } = layer.receptive;
  const [, height, width] = imageShape;
  const top = start + r * jump, left = start + c * jump;
  const span = (first, length) =>
    [clamp(first, 0, length - 1), clamp(first + size - 1, 0, length - 1)];
  return { size, top, left, rows: span(top, height), cols: span(left, width) };
}

// --- forward passes -------------------------------------------------------------------------

/**
 * Each layer type's output from its input. Pools have no padding (the builder refuses it);
 * Dropout is the identity, as when the network is evaluated.
 */
const FORWARD = {
  Input: (layer, input) => input,
  Conv2d: (layer, input) => Tensor.build(layer.shape, (k, r, c) => {
    const window = windowAt(layer, r, c);
    const terms = range(input.shape[0]).map(channel => convTerm(layer, input, k, channel, window));
    return sum(terms.map(term => term.sum)) + biasOf(layer, k);
  }),
  ReLU: (layer, input) => input.map(value => Math.max(0, value)),
  MaxPool2d: (layer, input) => Tensor.build(layer.shape, (k, r, c) =>
    Math.max(...patchOf(input.slice(k), windowAt(layer, r, c)).flat())),
  AvgPool2d: (layer, input) => Tensor.build(layer.shape, (k, r, c) =>
    mean(patchOf(input.slice(k), windowAt(layer, r, c)).flat())),
  Flatten: (layer, input) => input.reshape(layer.shape),
  Linear: linear,
  Dropout: (layer, input) => input,
};

function mean(numbers) {
  return sum(numbers) / numbers.length;
}

/** A fully connected layer: each output a weighted sum of all inputs plus its bias. */
function linear(layer, input) {
  if (!layer.weight) throw new Error(`${layer.id}: data/network.json has no weights for it`);
  const inputs = input.size;
  const weighted = i => range(inputs).map(j => layer.weight[i * inputs + j] * input.values[j]);
  return Tensor.build(layer.shape, i => sum(weighted(i)) + biasOf(layer, i));
}

/** A layer's output for `input` (the output of the layer before it). */
export function forward(layer, input) {
  if (!Object.hasOwn(FORWARD, layer.type)) throw new Error(`no forward pass for ${layer.type}`);
  const output = FORWARD[layer.type](layer, input);
  if (sizeOf(output.shape) !== sizeOf(layer.shape)) {
    throw new Error(`${layer.id}: computed ${output.shape} where the network has ${layer.shape}`);
  }
  return output;
}

/** Every layer's output, {layer id: Tensor}, from the normalised image (the Input layer's). */
export function run(layers, image) {
  const outputs = {};
  let current = image;
  for (const layer of layers) {
    current = forward(layer, current);
    outputs[layer.id] = current;
  }
  return outputs;
}

// --- explanations ---------------------------------------------------------------------------

/**
 * Why output `at` of layer `layerId` has its value, as data: what it reads in the layer before
 * (`source`, a window {layer, k, top, left, height, width} or an element {layer, index}) and
 * the arithmetic, by `kind`: 'input', 'conv', 'relu', 'max', 'mean', 'flatten', 'linear',
 * 'same'. `outputs` are every layer's exact outputs, {layer id: Tensor}.
 */
export function explain(layers, outputs, layerId, at) {
  const index = layers.findIndex(layer => layer.id === layerId);
  if (index < 0) throw new Error(`no layer '${layerId}'`);
  const layer = layers[index], before = layers[index - 1];
  if (!Object.hasOwn(EXPLAIN, layer.type)) throw new Error(`cannot explain a ${layer.type} value`);
  const value = outputs[layer.id].at(...at);
  const input = before && outputs[before.id];
  const arithmetic = EXPLAIN[layer.type](layer, before, input, at);
  return { layer: layer.id, type: layer.type, at, value, ...arithmetic };
}

const EXPLAIN = {
  Input: () => ({ kind: 'input' }),
  Conv2d: explainConv,
  ReLU: (layer, before, input, at) => {
    const source = sourceAt(before, at);
    return { kind: 'relu', source, input: input.at(...at), output: Math.max(0, input.at(...at)) };
  },
  MaxPool2d: (layer, before, input, [k, r, c]) => {
    const { source, window } = windowOf(layer, before, input, k, r, c);
    return { kind: 'max', source, window, winner: Math.max(...window.flat()) };
  },
  AvgPool2d: (layer, before, input, [k, r, c]) => {
    const { source, window } = windowOf(layer, before, input, k, r, c);
    return { kind: 'mean', source, window, mean: mean(window.flat()) };
  },
  Flatten: explainFlatten,
  Linear: (layer, before, input) =>
    ({ kind: 'linear', source: { layer: before.id }, count: input.size }),
  Dropout: (layer, before, input, at) => ({ kind: 'same', source: sourceAt(before, at) }),
};

/**
 * A conv value: one term per input channel (patch × kernel = products, their sum), then
 * the terms' sum plus the bias. `source` is the window in the first channel.
 */
function explainConv(layer, before, input, [k, r, c]) {
  const window = windowAt(layer, r, c);
  const terms = range(input.shape[0]).map(channel => convTerm(layer, input, k, channel, window));
  const total = sum(terms.map(term => term.sum));
  const bias = biasOf(layer, k);
  return { kind: 'conv', source: { layer: before.id, k: 0, ...window }, terms, sum: total, bias,
           result: total + bias };
}

/** Element i of a flattened vector is a cell of the maps before: i = k × H × W + r × W + c. */
function explainFlatten(layer, before, input, [index]) {
  if (!isSpatial(before)) return { kind: 'same', source: sourceAt(before, [index]) };
  const [, height, width] = before.shape;
  const k = Math.floor(index / (height * width));
  const r = Math.floor(index / width) % height, c = index % width;
  return { kind: 'flatten', source: sourceAt(before, [k, r, c]), index, k, r, c,
           mapSize: height * width, width };
}

/** The window a pooling value reads: where it lies, and its numbers. */
function windowOf(layer, before, input, k, r, c) {
  const box = windowAt(layer, r, c);
  return { source: { layer: before.id, k, ...box }, window: patchOf(input.slice(k), box) };
}

/** The one value of the layer before at the same index: a 1 × 1 window, or an element. */
function sourceAt(before, at) {
  if (at.length === 1) return { layer: before.id, index: at[0] };
  const [k, r, c] = at;
  return { layer: before.id, k, top: r, left: c, height: 1, width: 1 };
}
