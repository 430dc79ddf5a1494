/**
 * The reader's own inputs: a drawing, an uploaded image or a test image from the confusion
 * matrix, run through the network in the page with its real float32 weights. Each becomes an
 * input like the author's, {summary, outputs} under its own id (see Site.define), so every view
 * shows it the same way. The weights are fetched the first time the reader uses one of these.
 *
 *   const own = new OwnInputs(site);
 *   const id = await own.add(pixels, { kind: 'drawing', source: 'your drawing' });
 *   store.dispatch({ type: 'chooseInput', input: id });
 */
import { createWriter } from './format.js';
import { normalise, run } from './forward.js';
import { NORMALISERS } from './operations.js';

/**
 * How many inputs of each kind are kept: a drawing makes one per frame, and a view may still be
 * showing the one before the newest when the newest arrives.
 */
const KEPT = 4;

export class OwnInputs {
  constructor(site) {
    this.site = site;
    this.count = 0;
    this.recent = {};      // kind → the ids of its newest inputs, newest last
    this.pixelsOf = new Map();  // id → its pixels, for the pad and the picker's own choice
    this.links = new Map();     // id → its name in links (hash.js), null for none
    this.loaded = null;
    this.size = null;           // [rows, columns] of the network's input, once loaded
  }

  /** An input's name in links: an author's input's id, a reader's input's link (see add). */
  linkOf(id) {
    return this.site.isComputed(id) ? this.links.get(id) : id;
  }

  /** The network, its weights and the contract, fetched once. */
  load() {
    this.loaded ??= (async () => {
      const [contract, network] = await Promise.all([this.site.contract(), this.site.network()]);
      const weights = Object.fromEntries(await Promise.all(
        network.layers.map(async layer => [layer.id, await this.site.weights(layer)])));
      this.size = network.layers[0].shape.slice(1);
      return { contract, network, weights, writer: createWriter(contract) };
    })();
    this.loaded.catch(() => { this.loaded = null; });  // a failed download may be tried again
    return this.loaded;
  }

  /**
   * Run `pixels` (uint8 (C, H, W): each channel's rows one after another) through the network and add the
   * result as an input; its id is returned. `kind` ('drawing', 'upload', 'test') names the
   * kind of input; only its newest few are kept. `label` is the true class
   * when known. `link` is its name in links (see drawingLink); null for none, and left out
   * while it is not known yet.
   */
  async add(pixels, { kind, source, label = null, link }) {
    const { contract, network, weights } = await this.load();
    const outputs = this.outputs(pixels, network, weights);
    const id = `${kind}:${++this.count}`;
    this.site.define(id, { summary: summaryOf(network, contract.output, outputs, source, label), outputs });
    this.pixelsOf.set(id, pixels);
    if (link !== undefined) this.links.set(id, link);
    const recent = (this.recent[kind] ??= []);
    recent.push(id);
    if (recent.length > KEPT) this.forget(recent.shift());
    return id;
  }

  /** The newest input of a kind ('drawing', 'upload', 'test'), or undefined. */
  latest(kind) {
    return this.recent[kind]?.at(-1);
  }

  forget(id) {
    this.site.forget(id);
    this.pixelsOf.delete(id);
    this.links.delete(id);
  }

  /** Every layer's output for these pixels, {layer id: Tensor}. */
  outputs(pixels, network, weights) {
    const [input] = network.layers;
    return run(network.layers, normalise(pixels, input.shape, network.normalisation), weights);
  }
}

/**
 * An input's summary as data/inputs.json has it: prediction, the classes' scores under the name
 * of what they are (`output`, the contract's: logits, probabilities, …) and the probabilities
 * they give, ranges and bars.
 */
export function summaryOf(network, output, outputs, source, label) {
  const scores = Array.from(outputs[network.layers.at(-1).id].values);
  const probabilities = PROBABILITIES[output.kind](scores);
  const ranked = probabilities ?? scores;
  const predicted = ranked.indexOf(Math.max(...ranked));
  const classes = network.classes;
  return {
    source, label, label_name: label === null ? null : classes[label], predicted,
    predicted_name: classes[predicted], classes, ...(probabilities && { probabilities }), [output.kind]: scores,
    ranges: Object.fromEntries(network.layers.map(layer => [layer.id, rangesOf(layer, outputs[layer.id])])),
    bars: barsOf(scores),
  };
}

/**
 * The probabilities the last layer's values give, by what they are, rounded to float32 like the
 * network's own; sigmoid scores give none.
 */
const PROBABILITIES = {
  logits: values => NORMALISERS.Softmax.apply(values).map(Math.fround),
  probabilities: values => values,
  log_probabilities: values => values.map(value => Math.fround(Math.exp(value))),
  scores: () => null,
};

/** Each map's [lowest, highest] value, or the whole vector's. */
function rangesOf(layer, output) {
  const maps = layer.shape.length === 3 ? layer.shape[0] : 1, size = output.size / maps;
  return Array.from({ length: maps }, (_, k) => {
    const values = output.values.subarray(k * size, (k + 1) * size);
    let low = Infinity, high = -Infinity;
    for (const value of values) { low = Math.min(low, value); high = Math.max(high, value); }
    return [low, high];
  });
}

/**
 * [x, width] of each score's bar on a scale from −1 to 1, the largest magnitude at full width,
 * to 4 significant digits: builder/datafiles.py's _bars, which the tests compare with this.
 */
export function barsOf(scores) {
  const bound = Math.max(...scores.map(Math.abs)) || 1;
  const digits = value => Number(value.toPrecision(4));
  return scores.map(score => [digits(Math.min(0, score / bound)), digits(Math.abs(score) / bound)]);
}

const DRAWING = 'draw.';

/** A drawing's pixels as a name for links: 'draw.' and their deflate-raw bytes in base64url. */
export async function drawingLink(pixels) {
  const packed = await streamed(pixels, new CompressionStream('deflate-raw'));
  const text = btoa(String.fromCharCode(...packed));
  return DRAWING + text.replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** The pixels a drawing's link names, or null if it names none of `size` pixels. */
export async function pixelsOfLink(link, size) {
  if (!link.startsWith(DRAWING)) return null;
  try {
    const text = atob(link.slice(DRAWING.length).replaceAll('-', '+').replaceAll('_', '/'));
    const pixels = await streamed(Uint8Array.from(text, ch => ch.charCodeAt(0)),
                                  new DecompressionStream('deflate-raw'));
    return pixels.length === size ? pixels : null;
  } catch {
    return null;  // not base64, or not deflate: a damaged link
  }
}

async function streamed(bytes, transform) {
  const stream = new Blob([bytes]).stream().pipeThrough(transform);
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
