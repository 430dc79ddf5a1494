/**
 * The arithmetic every operation shares (operations.js), written once: sums in double precision,
 * the error function, where a tensor's index lies in its numbers, the windows a sliding or adaptive
 * layer reads, and which cell of a broadcast input a sum reads. No DOM here.
 *
 * An index `at` is [k, r, c] into maps (C, H, W), [i] into a vector; shapes are row-major.
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

/** The sum of any numbers (an array, a typed array), added in double precision. */
export function sum(numbers) {
  let total = 0;
  for (const number of numbers) total += number;
  return total;
}

/** Σ one[i] × other[i], in double precision. */
export function dot(one, other) {
  let total = 0;
  for (let i = 0; i < one.length; i++) total += one[i] * other[i];
  return total;
}

/** An image of three channels has them red, green and blue; the page names them so. */
export const COLOURS = ['red', 'green', 'blue'];

/** Channel c of an image of `count` channels, by name: 'red', or 'channel 2' when not colours. */
export function channelName(count, c) {
  return count === COLOURS.length ? COLOURS[c] : `channel ${c + 1}`;
}

export function isSpatial(layer) {
  return layer.shape.length === 3;
}

/** A 2-D Tensor as rows of numbers. */
export function rowsOf(tensor) {
  const [rows, cols] = tensor.shape;
  return range(rows).map(u => range(cols).map(v => tensor.at(u, v)));
}

/** Where index `at` lies in a row-major tensor of `shape`. */
export function offsetIn(shape, at) {
  return at.reduce((flat, position, axis) => flat * shape[axis] + position, 0);
}

/** The index of a row-major tensor of `shape` at offset `flat`. */
export function indexAt(shape, flat) {
  return shape.map((_, axis) => Math.floor(flat / sizeOf(shape.slice(axis + 1))) % shape[axis]);
}

// --- functions of one number ----------------------------------------------------------------

export function sigmoid(x) {
  return 1 / (1 + Math.exp(-x));
}

/** ln(1 + exp(x)), without overflowing for large x. */
export function softplus(x) {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

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

// --- windows ----------------------------------------------------------------------------------

/**
 * The cells of its input (C, H, W) that output (r, c) of a sliding window (a conv, a pool) reads:
 * the first one (negative on the padding), how many rows and columns of cells, and the step
 * between sampled cells (a conv's dilation). With ceil_mode a pool's last window may hang past the
 * input and its padding; PyTorch leaves those cells out, and so does the window here.
 */
export function slidingWindow({ settings }, [, rows, cols]) {
  const { kernel_size: kernel, stride = [1, 1], padding = [0, 0] } = settings;
  const step = settings.dilation ?? [1, 1];
  const cellsBefore = (start, axis, end) =>
    Math.min(kernel[axis], Math.floor((end + padding[axis] - 1 - start) / step[axis]) + 1);
  return (r, c) => {
    const top = r * stride[0] - padding[0], left = c * stride[1] - padding[1];
    return { top, left, height: cellsBefore(top, 0, rows), width: cellsBefore(left, 1, cols),
             step };
  };
}

/** Adaptive pooling's windows: rows [floor(i·H/out), ceil((i+1)·H/out)) and like columns. */
export function adaptiveWindow({ shape: [, outRows, outCols] }, [, height, width]) {
  return (r, c) => {
    const top = Math.floor(r * height / outRows), left = Math.floor(c * width / outCols);
    return { top, left, height: Math.ceil((r + 1) * height / outRows) - top,
             width: Math.ceil((c + 1) * width / outCols) - left, step: [1, 1] };
  };
}

/** The whole of each map: the one window of a mean over the spatial axes. */
export function wholeMap(layer, [, height, width]) {
  return () => ({ top: 0, left: 0, height, width, step: [1, 1] });
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
 * For each output cell of a `rows` × `cols` grid whose windows `windowOf(r, c)` read a map (H, W):
 * `visit(outCell, cells, outside)` with the output cell's offset, the offsets in the map of the
 * window's cells on it, and how many of its cells fall on the padding. Each window is worked out
 * once, for every map.
 */
export function eachWindow(windowOf, [, height, width], rows, cols, visit) {
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
      visit(r * cols + c, cells, outside);
    }
  }
}

// --- broadcasting -----------------------------------------------------------------------------

/**
 * The index of a tensor of shape `from` that broadcasting reads at index `at` of a larger
 * result: shapes aligned on their last axes, an axis of length 1 read at 0.
 */
export function broadcastAt(from, at) {
  const extra = at.length - from.length;
  return from.map((length, axis) => (length === 1 ? 0 : at[axis + extra]));
}

/**
 * For each cell of `shape` in row-major order, the offset of the cell of a tensor of shape `from`
 * that broadcasting reads there (broadcastAt for every cell at once, as offsets).
 */
export function broadcastOffsets(from, shape) {
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
