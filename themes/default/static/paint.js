/**
 * Draw a map from its numbers onto a <canvas>, one pixel a value, coloured exactly as the build
 * colours its PNG frames: the layer's scale (from the contract) picks one of the palette's 256
 * entries. The figures use it for the reader's own inputs, which have no frames.
 *
 *   const { paint } = await import('./static/paint.js');
 *   const scale = contract.scales.conv1;
 *   paint(canvas, outputs.conv1.slice(3), scale, contract.palettes[scale.cmap]);
 *   paint(canvas, outputs.fc1.reshape(layer.grid), …);   // a vector, in its rows
 *   const differences = divergingScale(values, contract);  // white at 0, for numbers of either sign
 *   paint(canvas, { shape: [rows, cols], values }, differences, contract.palettes[differences.cmap]);
 */

/**
 * The scale on which `values` show white at 0 and their largest size at either end (1 if all are 0),
 * in the contract's palette for numbers of either sign (the build's colours of weights).
 */
export function divergingScale(values, { diverging }) {
  let bound = 0;
  for (const value of values) bound = Math.max(bound, Math.abs(value));
  bound ||= 1;
  return { cmap: diverging, vmin: -bound, vmax: bound };
}

/** Draw `map` (a Tensor of rows × columns) on `canvas`, resized to one pixel a value. */
export function paint(canvas, map, scale, palette) {
  const [rows, cols] = map.shape;
  const colours = coloursOf(palette);
  const image = new ImageData(cols, rows);
  map.values.forEach((value, i) => {
    image.data.set(colours[paletteIndex(value, scale)], 4 * i);
    image.data[4 * i + 3] = 255;
  });
  canvas.width = cols;
  canvas.height = rows;
  canvas.getContext('2d').putImageData(image, 0, 0);
}

/**
 * Draw uint8 pixels (C, H, W: one channel as gray, three as red, green and blue) on `canvas`,
 * which has their height and width.
 */
export function paintPixels(canvas, pixels) {
  const image = new ImageData(canvas.width, canvas.height), plane = canvas.width * canvas.height;
  const [red, green, blue] = pixels.length === 3 * plane ? [0, plane, 2 * plane] : [0, 0, 0];
  for (let i = 0; i < plane; i++) {
    image.data.set([pixels[red + i], pixels[green + i], pixels[blue + i], 255], 4 * i);
  }
  canvas.getContext('2d').putImageData(image, 0, 0);
}

/**
 * The palette entry (0 to 255) of `value` on the scale {vmin, vmax}, the build's rule.
 * Only a value exactly half-way between two entries may get the other one: the build rounds
 * such ties to even, Math.round upwards.
 */
export function paletteIndex(value, { vmin, vmax }) {
  const position = Math.round((value - vmin) / (vmax - vmin || 1) * 255);
  return Math.max(0, Math.min(255, position));
}

const parsed = new WeakMap();

/** A palette's '#rrggbb' entries as [r, g, b] bytes, parsed once per palette. */
function coloursOf(palette) {
  if (!parsed.has(palette)) {
    const bytes = hex => [1, 3, 5].map(at => parseInt(hex.slice(at, at + 2), 16));
    parsed.set(palette, palette.map(bytes));
  }
  return parsed.get(palette);
}
