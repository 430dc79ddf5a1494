/**
 * The page's numbers: the Tensor type and the decoding of the site's float32 files (an input's
 * exact outputs, a layer's weights) into Tensors. Loaded with the first numbers the page needs
 * (site.js imports it then); it imports nothing, so the first load never waits for it.
 */

/** Split an exact file (float32, little-endian, each layer's output in turn) into Tensors. */
export function decodeLayers(buffer, layers) {
  return split(buffer, layers.map(layer => [layer.id, layer.shape]), 'the layers');
}

/** Split a weights file (float32, little-endian, one tensor after another) into Tensors. */
export function decodeTensors(buffer, tensors) {
  return split(buffer, tensors.map(tensor => [tensor.name, tensor.shape]), 'its tensors');
}

/** {name: Tensor} from a file of float32 numbers and the [name, shape] of each piece, in order. */
function split(buffer, pieces, what) {
  const numbers = float32s(buffer);
  const tensors = {};
  let offset = 0;
  for (const [name, shape] of pieces) {
    const size = sizeOf(shape);
    tensors[name] = new Tensor(shape, numbers.subarray(offset, offset + size));
    offset += size;
  }
  if (offset !== numbers.length) {
    throw new Error(`the file holds ${numbers.length} numbers, ${what} ${offset}`);
  }
  return tensors;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The buffer's float32 numbers: a Float32Array reads the machine's byte order, the file is LE. */
export function float32s(buffer) {
  if (LITTLE_ENDIAN) return new Float32Array(buffer);
  const view = new DataView(buffer);
  const length = buffer.byteLength / 4;
  return Float32Array.from({ length }, (_, i) => view.getFloat32(4 * i, true));
}

/** How many numbers a tensor of `shape` holds. */
export function sizeOf(shape) {
  return shape.reduce((product, length) => product * length, 1);
}

/** Float32 numbers with a shape: maps (C, H, W), one map (H, W), a vector (N), weights (…). */
export class Tensor {
  constructor(shape, values) {
    if (values.length !== sizeOf(shape)) {
      throw new Error(`${values.length} numbers cannot have the shape ${shape.join(' × ')}`);
    }
    this.shape = [...shape];
    this.values = values;
  }

  /** A new tensor whose number at each index is `valueAt(...index)`, e.g. (k, r, c) => …. */
  static build(shape, valueAt) {
    const values = new Float32Array(sizeOf(shape));
    const index = shape.map(() => 0);
    for (let flat = 0; flat < values.length; flat++) {
      values[flat] = valueAt(...index);
      advance(index, shape);
    }
    return new Tensor(shape, values);
  }

  get size() {
    return this.values.length;
  }

  /** The number at one index: at(k, r, c) of maps, at(r, c) of a map, at(i) of a vector. */
  at(...index) {
    return this.values[this.offset(index)];
  }

  /** Where an index lies in `values` (the last axis varies fastest, as in PyTorch). */
  offset(index) {
    return index.reduce((flat, position, axis) => flat * this.shape[axis] + position, 0);
  }

  /** Entry k along the first axis, sharing these numbers: map k of maps, row k of a map. */
  slice(k) {
    const inner = this.size / this.shape[0];
    return new Tensor(this.shape.slice(1), this.values.subarray(k * inner, (k + 1) * inner));
  }

  /** The same numbers seen with another shape of the same size: a vector as rows × columns. */
  reshape(shape) {
    return new Tensor(shape, this.values);
  }

  /** A new tensor of the same shape with `transform` applied to each number. */
  map(transform) {
    return new Tensor(this.shape, this.values.map(transform));
  }
}

/** Step a row-major index to the next position of `shape`, like an odometer. */
function advance(index, shape) {
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index[axis] += 1;
    if (index[axis] < shape[axis]) return;
    index[axis] = 0;
  }
}
