/**
 * Why one output value of the network has its value, apart from the page: explain() asks the
 * layer's operation (operations.js) for its arithmetic as plain data, which the inspector draws,
 * and receptiveField() says which input pixels a spatial value depends on. No DOM here.
 *
 * A layer is an entry of data/network.json's `layers`: {id, type, shape, settings, inputs,
 * tensors, receptive, grid}; `inputs` name the layers whose outputs it reads (two for Add, two or
 * more for Cat). Its parameters and buffers are Tensors decoded from data/weights/<layer>.f32
 * (data.js). An index `at` is [k, r, c] into maps, [i] into a vector.
 */
import { isSpatial } from './arithmetic.js';
import { operationOf } from './operations.js';

/**
 * Why output `at` of layer `layerId` has its value, as data: `value` (the network's own, from
 * `outputs`), a `formula` line, the arithmetic by `kind` ('input', 'conv', 'linear',
 * 'activation', 'max', 'mean', 'batchnorm', 'dropout', 'same', 'flatten', 'cat', 'add'), and
 * `outline`, the boxes to outline in the figures of the layers it reads: {layer, k, top, left,
 * height, width}. `network` is data/network.json, `outputs` every layer's exact output
 * {layer id: Tensor}, `weights` this layer's tensors {name: Tensor}.
 */
export function explain(network, outputs, weights, layerId, at) {
  const layer = network.layers.find(candidate => candidate.id === layerId);
  if (!layer) throw new Error(`no layer '${layerId}'`);
  const sources = layer.inputs.map(id => network.layers.find(candidate => candidate.id === id));
  const inputs = layer.inputs.map(id => outputs[id]);
  const value = outputs[layer.id].at(...at);
  const arithmetic = operationOf(layer).explain({ layer, network, sources, inputs, weights, at, value });
  return { layer: layer.id, type: layer.type, at, value, outline: [], ...arithmetic };
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
