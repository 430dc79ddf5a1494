/**
 * The confusion matrix's cells open their test images: each count the site holds images for
 * (data/confusion.json) becomes a button; pressing it lists that cell's images (fetched then, one file per cell), and
 * any of them can be made the input of every figure. `page.own()` gives the OwnInputs that
 * runs the network in the page, loading it the first time. Loaded as the figure comes near (main.js).
 */
import { sizeOf } from './data.js';
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { paintPixels } from './paint.js';
import { fetchOnce, urlOf } from './site.js';

export async function mount(figures, store, site, { own: ownInputs }) {
  const kept = await site.json('confusion');
  for (const figure of figures) {
    const list = find('.lw-cell-images', figure);
    if (!list) continue;
    const names = findAll('thead th', figure).slice(1).map(th => th.textContent);
    findAll('tbody tr', figure).forEach((row, trueClass) => findAll('td', row).forEach((cell, predicted) => {
      if (!kept.cells[`${trueClass}-${predicted}`]) return;
      const button = element('button', {
        type: 'button', className: 'lw-cell',
        attributes: { 'aria-label': `${cell.textContent}: ${names[trueClass]} predicted as ${names[predicted]}; show them` },
        onclick: () => showCell(list, { trueClass, predicted, names }, store, site, ownInputs),
      }, cell.textContent);
      cell.replaceChildren(button);
    }));
  }
}

/** List one cell's test images under the matrix, each a button that makes it the input. */
async function showCell(list, { trueClass, predicted, names }, store, site, ownInputs) {
  const [contract, kept, images] = await Promise.all([
    site.contract(), site.json('confusion'), cellImages(site, trueClass, predicted)]);
  const writer = createWriter(contract);
  const count = kept.counts[trueClass][predicted];
  const fields = { count, shown: images.length, true: names[trueClass], predicted: names[predicted] };
  const said = element('p', { className: 'lw-cell-said', attributes: { 'aria-live': 'polite' } });
  const choose = async (index, pixels) => {
    const own = await ownInputs();
    const input = await authorsInput(site, index) ?? await own.add(pixels, {
      kind: 'test', label: trueClass, link: `test.${index}`,
      source: writer.text('source_test', { index }) });
    store.dispatch({ type: 'chooseInput', input });
    said.textContent = writer.text('showing_test', { index, true: names[trueClass] });
  };
  const buttons = images.map(({ index, pixels }) => element('li', {}, element('button', {
    type: 'button', className: 'lw-cell-image',
    attributes: { 'aria-label': writer.text('test_image', { index }) },
    onclick: () => choose(index, pixels),
  }, thumbnail(pixels, kept.shape), element('span', {}, String(index)))));
  list.replaceChildren(
    element('h3', {}, writer.text(images.length < count ? 'cell_part' : 'cell', fields)),
    element('ul', {}, ...buttons), said);
  list.hidden = false;
}

/** A test image on a small canvas, gray or in colour as the dataset stores it; `shape` ends (…, H, W). */
function thumbnail(pixels, shape) {
  const [rows, cols] = shape.slice(-2);
  const canvas = element('canvas', { attributes: { width: cols, height: rows, 'aria-hidden': 'true' } });
  paintPixels(canvas, pixels);
  return canvas;
}

/**
 * The test image a link names ('test.1234'), made an input: {input} with its id, or {why, fields}
 * saying why it cannot be (store.js's unusable). The image comes from data/tests/ where the site
 * publishes every test image, else from the confusion matrix's cells.
 */
export async function resolveTestLink(link, site, own) {
  const index = Number(link.match(/^test\.(\d+)$/)?.[1] ?? NaN);
  if (!Number.isInteger(index)) return { why: 'link_input' };
  const authors = await authorsInput(site, index);
  if (authors) return { input: authors };
  const contract = await site.contract();
  const found = await ('tests' in contract.urls ? publishedImage : cellImage)(site, contract, index);
  if (found.why) return found;
  return { input: await own.add(found.pixels, { kind: 'test', label: found.label, link,
                                                 source: createWriter(contract).text('source_test', { index }) }) };
}

/** The id of the author's input (data/inputs.json, a picker's thumbnail) that is test image `index`, if one is. */
async function authorsInput(site, index) {
  const id = `test-${String(index).padStart(5, '0')}`;  // as builder/inputs.py names a test image it exports
  return (await site.json('inputs')).some(each => each.id === id) ? id : null;
}

/**
 * Test image `index` from the file of data/tests/ that holds it (builder/testset.py): {pixels, label},
 * or {why, fields} for an index past the split or past what the site publishes of it.
 */
async function publishedImage(site, contract, index) {
  const tests = await site.json('tests');
  if (index >= tests.total) return { why: 'link_test', fields: { last: tests.total - 1 } };
  if (index >= tests.count) {
    return { why: 'link_test_cap', fields: { count: tests.count, total: tests.total, cap: tests.cap / 1e6 } };
  }
  const chunk = Math.floor(index / tests.chunk), size = sizeOf(tests.shape);
  const bytes = new Uint8Array(await fetchOnce(urlOf(contract, 'test_chunk', { chunk }), 'arrayBuffer'));
  const at = (index - chunk * tests.chunk) * size;
  return { pixels: bytes.subarray(at, at + size), label: tests.labels[index] };
}

/** Test image `index` from the confusion matrix's cell that holds it: {pixels, label}, or {why}. */
async function cellImage(site, contract, index) {
  const kept = await site.json('confusion');
  const cell = Object.keys(kept.cells).find(key => kept.cells[key].includes(index));
  if (!cell) return { why: 'link_test_held' };
  const [trueClass, predicted] = cell.split('-').map(Number);
  const { pixels } = (await cellImages(site, trueClass, predicted)).find(image => image.index === index);
  return { pixels, label: trueClass };
}

/**
 * The test images of one cell of the confusion matrix, [{index, pixels}] in test-set order:
 * each its uint8 pixels (C, H, W), row-major (data/confusion/<true>-<predicted>.u8).
 */
async function cellImages(site, trueClass, predicted) {
  const [contract, kept] = await Promise.all([site.contract(), site.json('confusion')]);
  const indices = kept.cells[`${trueClass}-${predicted}`] ?? [];
  if (!indices.length) return [];
  const url = urlOf(contract, 'confusion_cell', { true: trueClass, predicted });
  const bytes = new Uint8Array(await fetchOnce(url, 'arrayBuffer'));
  const size = sizeOf(kept.shape);
  return indices.map((index, i) => ({ index, pixels: bytes.subarray(i * size, (i + 1) * size) }));
}
