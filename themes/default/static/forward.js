/**
 * The network's forward pass, fast enough to follow a pen: each layer's operation (operations.js)
 * on the outputs of the layers it reads. The inspector's explanations (maths.js) compute one value
 * at a time the same way; the tests check both against PyTorch.
 *
 *   const outputs = run(network.layers, image, weights);  // {layer id: Tensor}
 *
 * A layer is an entry of data/network.json's `layers`, weights are {layer id: {name: Tensor}}
 * (data.js), and `image` is the Input layer's output, the normalised image (C, H, W).
 */
import { Tensor, sizeOf } from './data.js';
import { operationOf } from './operations.js';

/** Every layer's output, {layer id: Tensor}; each layer reads the outputs its `inputs` name. */
export function run(layers, image, weights = {}) {
  const outputs = {};
  for (const layer of layers) {
    const inputs = layer.type === 'Input' ? [image] : layer.inputs.map(id => outputs[id]);
    outputs[layer.id] = forward(layer, inputs, weights[layer.id]);
  }
  return outputs;
}

/** A layer's output from its inputs' outputs (Tensors) and its own tensors, {name: Tensor}. */
export function forward(layer, inputs, weights = {}) {
  const output = operationOf(layer).forward(layer, inputs, weights);
  if (output.size !== sizeOf(layer.shape)) {
    throw new Error(`${layer.id}: computed ${output.shape} where the network has ${layer.shape}`);
  }
  return output;
}

/**
 * The pixels (0 to 255, row-major (C, H, W): each channel's rows after the last's) as the network's
 * input: (p ÷ 255 − mean[c]) ÷ std[c] on channel c, float32. network.json's normalisation gives a
 * mean and a std per channel; a single number serves every channel.
 */
export function normalise(pixels, shape, { mean, std }) {
  const means = [mean].flat(), stds = [std].flat(), plane = sizeOf(shape.slice(1));
  return new Tensor(shape, Float32Array.from(pixels, (p, i) => {
    const c = means.length === 1 ? 0 : Math.floor(i / plane);
    return (Math.fround(p / 255) - means[c]) / stds[c];
  }));
}
