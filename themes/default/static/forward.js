/**
 * The network's forward pass, fast enough to follow a pen: each layer type as plain loops over
 * Float32Arrays, summing in double precision and storing float32 as the network does. The
 * inspector's explanations (maths.js, which also holds the activation functions) compute one
 * value at a time the same way; the tests check both against PyTorch.
 *
 *   const outputs = run(network.layers, image, weights);  // {layer id: Tensor}
 *
 * A layer is an entry of data/network.json's `layers`, weights are {layer id: {name: Tensor}}
 * (data.js), and `image` is the Input layer's output, the normalised image (C, H, W).
 */
import { Tensor, sizeOf } from './data.js';
import { ACTIVATIONS, NORMALISERS } from './maths.js';

/** Every layer's output, {layer id: Tensor}; each layer reads the outputs its `inputs` name. */
export function run(layers, image, weights = {}) {
  const outputs = {};
  for (const layer of layers) {
    outputs[layer.id] = layer.type === 'Input' ? image
      : forward(layer, layer.inputs.map(id => outputs[id]), weights[layer.id]);
  }
  return outputs;
}

/** A layer's output from its inputs' outputs (Tensors) and its own tensors, {name: Tensor}. */
export function forward(layer, inputs, weights = {}) {
  if (!Object.hasOwn(FORWARD, layer.type)) throw new Error(`no forward pass for ${layer.type}`);
  const output = FORWARD[layer.type](layer, inputs, weights);
  if (output.size !== sizeOf(layer.shape)) {
    throw new Error(`${layer.id}: computed ${output.shape} where the network has ${layer.shape}`);
  }
  return output;
}

/** The pixels (0 to 255, row-major) as the network's input: (p ÷ 255 − mean) ÷ std, float32. */
export function normalise(pixels, shape, { mean, std }) {
  return new Tensor(shape, Float32Array.from(pixels, p => (Math.fround(p / 255) - mean) / std));
}

const FORWARD = {
  Conv2d: conv2d,
  Linear: linear,
  MaxPool2d: (layer, [input]) => pool(layer, input, maxOf, windowsOf(layer, input)),
  AvgPool2d: (layer, [input]) => pool(layer, input, meanOf(layer), windowsOf(layer, input)),
  AdaptiveAvgPool2d: (layer, [input]) => pool(layer, input, meanOf(layer), adaptiveWindows(layer, input)),
  BatchNorm2d: batchNorm,
  Dropout: (layer, [input]) => input,
  Flatten: (layer, [input]) => input.reshape(layer.shape),
  Add: add,
};
for (const [type, { apply }] of Object.entries(ACTIVATIONS)) {
  FORWARD[type] = (layer, [input]) => input.map(x => apply(x, layer.settings));
}
for (const [type, { apply }] of Object.entries(NORMALISERS)) {
  FORWARD[type] = (layer, [input]) => new Tensor(input.shape, Float32Array.from(apply(Array.from(input.values))));
}

function settingsOf(layer) {
  const { kernel_size: [kh, kw], stride = [1, 1], padding = [0, 0] } = layer.settings;
  const [dh, dw] = layer.settings.dilation ?? [1, 1];
  return { kh, kw, sh: stride[0], sw: stride[1], ph: padding[0], pw: padding[1], dh, dw };
}

/** Convolution with zero padding, stride, dilation and groups: out = Σ w × x (+ bias). */
function conv2d(layer, [input], { weight, bias }) {
  const [channels, height, width] = input.shape;
  const [filters, rows, cols] = layer.shape;
  const { kh, kw, sh, sw, ph, pw, dh, dw } = settingsOf(layer);
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

/** Output cell (r, c)'s window as [top, left, height, width, step rows, step columns]. */
function windowsOf(layer) {
  const { kh, kw, sh, sw, ph, pw, dh, dw } = settingsOf(layer);
  return (r, c) => [r * sh - ph, c * sw - pw, kh, kw, dh, dw];
}

/** Adaptive pooling's rows [floor(i·H/out), ceil((i+1)·H/out)) and like columns. */
function adaptiveWindows(layer, input) {
  const [, height, width] = input.shape, [, rows, cols] = layer.shape;
  return (r, c) => {
    const top = Math.floor(r * height / rows), left = Math.floor(c * width / cols);
    return [top, left, Math.ceil((r + 1) * height / rows) - top,
            Math.ceil((c + 1) * width / cols) - left, 1, 1];
  };
}

/** Each output cell from the cells of its window on the map (null where it is padding). */
function pool(layer, input, reduce, windowAt) {
  const [channels, height, width] = input.shape, [, rows, cols] = layer.shape;
  const x = input.values, out = new Float32Array(channels * rows * cols);
  const cells = [];
  for (let k = 0; k < channels; k++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const [top, left, kh, kw, dh, dw] = windowAt(r, c);
        cells.length = 0;
        for (let u = 0; u < kh; u++) {
          for (let v = 0; v < kw; v++) {
            const row = top + u * dh, col = left + v * dw;
            const inside = row >= 0 && row < height && col >= 0 && col < width;
            cells.push(inside ? x[(k * height + row) * width + col] : null);
          }
        }
        out[(k * rows + r) * cols + c] = reduce(cells);
      }
    }
  }
  return new Tensor(layer.shape, out);
}

/** The largest cell; padding never wins. */
function maxOf(cells) {
  let largest = -Infinity;
  for (const cell of cells) if (cell !== null && cell > largest) largest = cell;
  return largest;
}

/** The mean of the cells, the padding counted as zeros when count_include_pad says so. */
function meanOf(layer) {
  const paddingCounts = layer.type === 'AvgPool2d' && (layer.settings.count_include_pad ?? true);
  return cells => {
    let total = 0, count = 0;
    for (const cell of cells) {
      if (cell !== null) { total += cell; count++; } else if (paddingCounts) count++;
    }
    return total / count;
  };
}

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

/** The sum of two outputs, an axis of length 1 in either broadcast along the other's. */
function add(layer, [one, other]) {
  const read = tensor => {
    const extra = layer.shape.length - tensor.shape.length;
    return at => tensor.at(...tensor.shape.map((length, axis) => (length === 1 ? 0 : at[axis + extra])));
  };
  const first = read(one), second = read(other);
  return Tensor.build(layer.shape, (...at) => first(at) + second(at));
}
