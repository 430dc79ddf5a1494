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
 *   attribution(network, image, weights, seed);                    // pixel × gradient, adding up
 *
 * Layers, outputs and weights are as forward.js has them: data/network.json's `layers` in order,
 * {layer id: Tensor} and {layer id: {name: Tensor}}; each layer's backward pass is its operation's
 * (operations.js). Where a function has a kink (ReLU at 0, a max pool's tie), the gradient is the
 * one PyTorch's autograd picks, so the two agree there too.
 */
import { sizeOf, Tensor } from './data.js';
import { dot, sum } from './arithmetic.js';
import { run } from './forward.js';
import { operationOf } from './operations.js';

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
  operationOf(layer).backward(layer, inputs, grad, weights, into);
}

/**
 * Whether every layer of `network` (data/network.json) is piecewise linear, so logit =
 * Σ x · ∂logit/∂x + a constant near x: its `operations` say so of each type it uses.
 */
export function isPiecewiseLinear({ layers, operations }) {
  return layers.every(layer => {
    if (!operations?.[layer.type]) throw new Error(`network.json says nothing of ${layer.type}`);
    return operations[layer.type].piecewise_linear;
  });
}

/**
 * How the input's values account for seed · (the last layer's output), `value`, in `network`
 * (data/network.json).
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
export function attribution(network, image, weights, seed, { steps = 64, baseline } = {}) {
  const { layers } = network;
  if (isPiecewiseLinear(network)) return exactAttribution(layers, image, weights, seed);
  if (!baseline) {
    throw new Error('a network that is not piecewise linear needs a baseline to integrate from');
  }
  return integratedGradients(layers, image, weights, seed, baseline, steps);
}

function exactAttribution(layers, image, weights, seed) {
  const { value, inputGradient } = valueAndGradient(layers, image, weights, seed);
  const contributions = inputGradient.map((g, i) => image.values[i] * g);
  const total = sum(contributions);
  return { exact: true, gradient: inputGradient, contributions, sum: total, value,
           constant: value - total };
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
  const total = sum(contributions);
  const value = valueAt(layers, image, weights, seed);
  const baselineValue = valueAt(layers, baseline, weights, seed);
  return { exact: false, gradient: mean, contributions, sum: total, value, baselineValue,
           gap: value - baselineValue - total, steps };
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
