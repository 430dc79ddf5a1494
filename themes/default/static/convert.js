/**
 * An image the reader brings, made into the network's input the way the build makes an author's
 * own image (builder/inputs.py, with Pillow): the contract's `conversion` says how, and a test
 * checks that both give the same pixels. Transparent parts go on white; for a one-channel network
 * colours become Pillow's luma, for a three-channel one they stay (a gray image is three equal
 * channels). Where the dataset's images are light on dark (`invert`), a light background is
 * inverted. An image of another size is, where the dataset's images show one object on a plain
 * background (`crop`), cropped to what is drawn, scaled to fit with Pillow's resampling filter
 * and centred on black; otherwise scaled to cover the input and its middle cut out.
 *
 *   const { pixels, changes } = convert(imageData, [28, 28], contract.conversion);
 *
 * `imageData` is the decoded image, {width, height, data: RGBA bytes, not premultiplied};
 * `pixels` the input's uint8 values (C, H, W), row-major; `changes` names what was done, as text ids.
 */

export function convert({ width, height, data }, [rows, cols], spec) {
  const changes = [], { channels } = spec;
  const count = width * height;
  let planes = onWhite(data, count, changes);
  const luma = lumaOf(planes, count, spec);
  if (channels === 1) {  // for three, a gray image is the same in each channel
    if (!sameBytes(planes[0], planes[1]) || !sameBytes(planes[1], planes[2])) changes.push('made_gray');
    planes = [luma];
  }
  if (spec.invert && borderMean(luma, width, height) > spec.invert_above) {
    planes = planes.map(plane => plane.map(value => 255 - value));
    changes.push('inverted');
  }
  if (width === cols && height === rows) return { pixels: joined(planes), changes };
  const filter = FILTERS[spec.resample], size = [rows, cols];
  if (!spec.crop) {
    changes.push('covered');
    return { pixels: joined(planes.map(plane => cover(plane, width, height, size, filter))), changes };
  }
  changes.push('scaled');
  const box = boundingBox(channels === 1 ? planes[0] : lumaOf(planes, count, spec), width, height, spec.crop_above);
  const [left, top, right, bottom] = box;
  const fitted = planes.map(plane => contain(crop(plane, width, box), right - left, bottom - top, size, filter));
  return { pixels: joined(fitted), changes };
}

/** The planes one after another: (C, H, W). */
function joined(planes) {
  if (planes.length === 1) return planes[0];
  const out = new Uint8Array(planes.length * planes[0].length);
  planes.forEach((plane, c) => out.set(plane, c * plane.length));
  return out;
}

function sameBytes(one, other) {
  return one.every((value, i) => value === other[i]);
}

/**
 * The red, green and blue planes, each pixel laid on white as Pillow's alpha_composite does
 * (7 bits of fixed point).
 */
function onWhite(data, count, changes) {
  const planes = [new Uint8Array(count), new Uint8Array(count), new Uint8Array(count)];
  let transparent = false;
  for (let i = 0; i < count; i++) {
    const alpha = data[4 * i + 3];
    if (alpha < 255) transparent = true;
    for (let c = 0; c < 3; c++) planes[c][i] = channelOnWhite(data[4 * i + c], alpha);
  }
  if (transparent) changes.push('transparent');
  return planes;
}

/** Pillow's 'L' luma: (R × 19595 + G × 38470 + B × 7471 + 2¹⁵) >> 16, the contract's numbers. */
function lumaOf([red, green, blue], count, { luma: [wr, wg, wb], luma_shift: shift }) {
  const gray = new Uint8Array(count);
  const round = 2 ** (shift - 1), scale = 2 ** shift;
  for (let i = 0; i < count; i++) gray[i] = Math.floor((red[i] * wr + green[i] * wg + blue[i] * wb + round) / scale);
  return gray;
}

/** One channel of a pixel with opacity `alpha` over opaque white, in Pillow's integer steps. */
function channelOnWhite(value, alpha) {
  const total = 128 * (value * alpha + 255 * (255 - alpha)) + (0x80 << 7);
  return (((total >> 8) + total) >> 8) >> 7;
}

/** The mean of the outermost rows and columns (corners counted twice, as the build does). */
function borderMean(gray, width, height) {
  let total = 0;
  for (let c = 0; c < width; c++) total += gray[c] + gray[(height - 1) * width + c];
  for (let r = 0; r < height; r++) total += gray[r * width] + gray[r * width + width - 1];
  return total / (2 * width + 2 * height);
}

/** [left, top, right, bottom) around the pixels brighter than `threshold`; all if there are none. */
function boundingBox(gray, width, height, threshold) {
  let left = width, top = height, right = 0, bottom = 0;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (gray[r * width + c] <= threshold) continue;
      left = Math.min(left, c); right = Math.max(right, c + 1);
      top = Math.min(top, r); bottom = Math.max(bottom, r + 1);
    }
  }
  return right > left ? [left, top, right, bottom] : [0, 0, width, height];
}

function crop(gray, width, [left, top, right, bottom]) {
  const out = new Uint8Array((right - left) * (bottom - top));
  for (let r = top; r < bottom; r++) out.set(gray.subarray(r * width + left, r * width + right), (r - top) * (right - left));
  return out;
}

/**
 * Pillow's ImageOps.pad: scaled to fit [rows, cols] keeping its proportions (Python's round,
 * half to even), then pasted centred on black.
 */
function contain(gray, width, height, [rows, cols], filter) {
  let [fitWidth, fitHeight] = [cols, rows];
  const ratio = width / height, target = cols / rows;
  if (ratio > target) fitHeight = roundHalfEven(height / width * cols);
  else if (ratio < target) fitWidth = roundHalfEven(width / height * rows);
  const out = new Uint8Array(rows * cols);
  if (!fitWidth || !fitHeight) return out;
  const scaled = resize(gray, width, height, fitWidth, fitHeight, filter);
  const x = roundHalfEven((cols - fitWidth) * 0.5), y = roundHalfEven((rows - fitHeight) * 0.5);
  for (let r = 0; r < fitHeight; r++) out.set(scaled.subarray(r * fitWidth, (r + 1) * fitWidth), (y + r) * cols + x);
  return out;
}

/**
 * torchvision's Resize and CenterCrop for any [rows, cols]: scaled to cover them keeping its
 * proportions (Python's round), across then down, then the middle cut out.
 */
function cover(plane, width, height, [rows, cols], filter) {
  const scale = Math.max(cols / width, rows / height);
  const coverWidth = Math.max(cols, roundHalfEven(width * scale));
  const coverHeight = Math.max(rows, roundHalfEven(height * scale));
  const scaled = resize(plane, width, height, coverWidth, coverHeight, filter);
  const left = roundHalfEven((coverWidth - cols) / 2), top = roundHalfEven((coverHeight - rows) / 2);
  return crop(scaled, coverWidth, [left, top, left + cols, top + rows]);
}

/** Python's round(): to the nearest whole number, halves to the even one. */
export function roundHalfEven(x) {
  const floor = Math.floor(x), part = x - floor;
  if (part !== 0.5) return Math.round(x);
  return floor % 2 === 0 ? floor : floor + 1;
}

// Pillow's resampling (libImaging/Resample.c): a separable filter, the columns first, each pass
// rounding to bytes, with coefficients in 22 bits of fixed point.
const PRECISION_BITS = 22;

function sinc(x) {
  if (x === 0) return 1;
  return Math.sin(Math.PI * x) / (Math.PI * x);
}

const FILTERS = {
  lanczos: { support: 3, at: x => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

function resize(gray, width, height, toWidth, toHeight, filter) {
  let image = gray;
  if (toWidth !== width) image = pass(image, width, height, toWidth, filter, true);
  if (toHeight !== height) image = pass(image, toWidth, height, toHeight, filter, false);
  return image === gray ? gray.slice() : image;
}

/** One pass along rows (`across`) or columns, from `size` samples to `toSize`. */
function pass(image, width, height, toSize, filter, across) {
  const size = across ? width : height;
  const { bounds, weights } = coefficients(size, toSize, filter);
  const outWidth = across ? toSize : width, outHeight = across ? height : toSize;
  const out = new Uint8Array(outWidth * outHeight);
  const lines = across ? height : width;
  for (let line = 0; line < lines; line++) {
    for (let i = 0; i < toSize; i++) {
      const [first, count] = bounds[i];
      let total = 2 ** (PRECISION_BITS - 1);
      for (let j = 0; j < count; j++) {
        const at = across ? line * width + first + j : (first + j) * width + line;
        total += image[at] * weights[i][j];
      }
      out[across ? line * outWidth + i : i * outWidth + line] = clip8(total);
    }
  }
  return out;
}

/** Pillow's precompute_coeffs and normalize_coeffs_8bpc for one pass. */
function coefficients(size, toSize, filter) {
  const scale = size / toSize, filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale, reciprocal = 1 / filterScale;
  const bounds = [], weights = [];
  for (let i = 0; i < toSize; i++) {
    const centre = (i + 0.5) * scale;
    const first = Math.max(Math.trunc(centre - support + 0.5), 0);
    const count = Math.min(Math.trunc(centre + support + 0.5), size) - first;
    const raw = Array.from({ length: count }, (_, j) => filter.at((j + first - centre + 0.5) * reciprocal));
    const total = raw.reduce((sum, w) => sum + w, 0);
    const normalised = raw.map(w => (total !== 0 ? w / total : w));
    weights.push(normalised.map(w => Math.trunc(w < 0 ? -0.5 + w * 2 ** PRECISION_BITS
                                                      : 0.5 + w * 2 ** PRECISION_BITS)));
    bounds.push([first, count]);
  }
  return { bounds, weights };
}

function clip8(total) {
  if (total >= 2 ** (PRECISION_BITS + 8)) return 255;
  if (total <= 0) return 0;
  return Math.floor(total / 2 ** PRECISION_BITS);
}
