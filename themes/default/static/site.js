/**
 * The built site's files, through its contract (data/contract.json): each fetched once and only
 * when first needed. Numbers are decoded by data.js, which loads with the first of them, so the
 * first load carries only this.
 *
 *   const site = new Site(document.body.dataset.contract);
 *   const outputs = await site.outputs('test-00019');   // {layer id: Tensor}
 *   outputs.conv1.at(3, 10, 12);                        // map 3, row 10, column 12
 */
import { createWriter, fill } from './format.js';
import { momentOf } from './store.js';

const tensors = () => import('./data.js');

const requests = new Map();

/**
 * The body of `url` as 'json' or 'arrayBuffer', fetched at most once; a failed fetch is
 * forgotten, so the next call tries again.
 */
export function fetchOnce(url, as = 'json') {
  const key = `${as} ${url}`;
  if (!requests.has(key)) {
    const request = fetch(url).then(response => {
      if (!response.ok) throw new Error(`${url}: ${response.status} ${response.statusText}`);
      return response[as]();
    });
    request.catch(() => requests.delete(key));
    requests.set(key, request);
  }
  return requests.get(key);
}

/** The page-relative URL of a kind of file the contract names: ('map', {input, layer, k}). */
export function urlOf(contract, kind, fields = {}) {
  if (!(kind in contract.urls)) throw new Error(`the contract names no URL for '${kind}'`);
  return fill(contract.urls[kind], fields);
}

/** The built site's files, found through its contract; `contractUrl` is page-relative. */
export class Site {
  constructor(contractUrl) {
    this.contractUrl = contractUrl;
    this.computed = new Map();  // the reader's own inputs: id → {summary, outputs}
    // Inputs at a moment of training (store.js's shownInput) are computed on demand by training.js,
    // which registers itself here when it loads.
    this.moments = new Promise(resolve => { this.registerMoments = resolve; });
  }

  /** Compute an input at a moment of training before it is read. */
  async ensure(inputId) {
    if (this.computed.has(inputId) || momentOf(inputId).step === null) return;
    await (await this.moments).resolve(inputId);
  }

  /** A layer's tensors as the input's network has them: at its moment of training, or trained. */
  async weightsFor(inputId, layer) {
    if (momentOf(inputId).step === null) return this.weights(layer);
    return (await this.moments).weights(inputId, layer);
  }

  /**
   * Add an input computed in the page (the reader's drawing, upload or test image): its summary
   * (as in data/inputs.json) and every layer's output.
   */
  define(id, { summary, outputs }) {
    this.computed.set(id, { summary: { ...summary, id }, outputs });
  }

  /** Forget a computed input. */
  forget(id) {
    this.computed.delete(id);
  }

  /** Whether the input was computed in the page, so it has no frames or data files of its own. */
  isComputed(inputId) {
    return this.computed.has(inputId);
  }

  /** The contract; a page that names none still steps its carousels, so only this fails. */
  async contract() {
    if (!this.contractUrl) throw new Error('the page names no contract: <body data-contract>');
    return fetchOnce(this.contractUrl);
  }

  /** data/network.json: the layers, their shapes, settings and inputs, their tensors' names. */
  async network() {
    return fetchOnce(urlOf(await this.contract(), 'network'));
  }

  /** One input's summary from data/inputs.json: label, prediction, scores, each map's range. */
  async summary(inputId) {
    await this.ensure(inputId);
    if (this.computed.has(inputId)) return this.computed.get(inputId).summary;
    const summaries = await fetchOnce(urlOf(await this.contract(), 'inputs'));
    const summary = summaries.find(entry => entry.id === inputId);
    if (!summary) throw new Error(`input '${inputId}' is not in data/inputs.json`);
    return summary;
  }

  /** What a view of one input starts from: {contract, writer, summary}. */
  async input(inputId) {
    const [contract, summary] = await Promise.all([this.contract(), this.summary(inputId)]);
    return { contract, writer: createWriter(contract), summary };
  }

  /** Every layer's exact output for one input, {layer id: Tensor}, from its float32 file. */
  async outputs(inputId) {
    await this.ensure(inputId);
    if (this.computed.has(inputId)) return this.computed.get(inputId).outputs;
    const contract = await this.contract();
    const [{ decodeLayers }, network, buffer] = await Promise.all([
      tensors(), this.network(), fetchOnce(urlOf(contract, 'exact', { input: inputId }), 'arrayBuffer')]);
    return decodeLayers(buffer, network.layers);
  }

  /** A JSON file the contract names: ('examples_layer', {layer}), ('attributions'), ('confusion'). */
  async json(kind, fields) {
    return fetchOnce(urlOf(await this.contract(), kind, fields));
  }

  /** A picture the contract names, decoded to draw from. */
  async picture(kind, fields) {
    return createImageBitmap(await fetchOnce(urlOf(await this.contract(), kind, fields), 'blob'));
  }

  /**
   * A layer's parameters and buffers, {weight, bias, …: Tensor}, from its float32 file
   * (data/weights/<layer>.f32), fetched when first asked for; {} for a layer without any.
   */
  async weights(layer) {
    if (!layer.tensors?.length) return {};
    const url = urlOf(await this.contract(), 'weights', { layer: layer.id });
    const [{ decodeTensors }, buffer] = await Promise.all([tensors(), fetchOnce(url, 'arrayBuffer')]);
    return decodeTensors(buffer, layer.tensors);
  }
}
