/**
 * The reader's own image: decoded by the browser, converted as the build converts an author's
 * image (convert.js), and run through the network. It never leaves the page.
 *
 * Loaded when the reader first chooses or drops a file (see yours.js).
 */
import { convert } from './convert.js';
import { createWriter } from './format.js';

/** Images larger than this many pixels are refused rather than left to exhaust the tab. */
const MAX_PIXELS = 40e6;

/**
 * Make `file` the input: {id, said}, its id among the inputs and what the page says it did, or
 * {said} alone when the file cannot be used.
 */
export async function useFile(file, own) {
  const { contract, network } = await own.load();
  const writer = createWriter(contract);
  const [, rows, cols] = network.layers[0].shape;
  let image;
  try {
    if (!contract.conversion.types.includes(file.type)) throw new Error(file.type);
    image = await decode(file);
  } catch {
    return { said: writer.text('not_an_image', { name: file.name }) };
  }
  const { pixels, changes } = convert(image, [rows, cols], contract.conversion);
  const size = `${cols}×${rows}`;
  const words = changes.map(change =>
    writer.text(change, { width: image.width, height: image.height, size }));
  const id = await own.add(pixels, {
    kind: 'upload', source: writer.text('source_upload', { name: file.name }), link: null });
  const done = words.length ? writer.text('converted', { changes: words.join(', ') }) : writer.text('unchanged', {});
  return { id, said: writer.text('uploaded', { name: file.name, changes: done }) };
}

/** The file's pixels as stored in it (no colour management, alpha not premultiplied). */
export async function decode(file) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const { width, height } = bitmap;
  if (width * height > MAX_PIXELS) throw new Error('too large');
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  return context.getImageData(0, 0, width, height);
}
