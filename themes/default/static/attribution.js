/**
 * The attribution figure (`.lw-figure[data-kind="attribution"]`): each input pixel's contribution
 * to one logit, value × ∂logit/∂value, which add up with a constant to the logit exactly when the
 * network is piecewise linear (data/attributions.json says which, and gives integrated gradients
 * otherwise). "Logit" here stands for the class's score the output table shows, whatever the
 * last layer gives (the contract's `output`: a logit, a probability, a log-probability or a
 * sigmoid score), and the words on the page say which. It follows the chosen input, and the
 * class of the logit selected in the output table (the predicted class when none is). Below:
 * the same logit split over the units the output layer reads, and why this class rather than
 * another, as the difference of two maps. The other class and the pixel the reader selected are
 * the store's `params` (so a link names them: '#versus=4&pixel=12,9', counted from 1); the sums
 * are contributions.js's.
 *
 * A colour image's pixel has a value on each channel, each with its contribution: the maps show
 * their sum per pixel, or one channel's alone when the reader chooses it (the store's `channel`
 * param, counted from 1), and a line splits the sum channel by channel.
 *
 * The gradients of the author's inputs come from the build (PyTorch's autograd); those of the
 * reader's own input are computed here by backward.js, loaded then. Loaded itself when the figure
 * comes near the viewport (main.js).
 */
import { channelName, sum } from './arithmetic.js';
import { channelOf, contributionsOf, explained, otherClass, perPixel, unitTerms, whyNot } from './contributions.js';
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { divergingScale, paint, paintPixels } from './paint.js';
import { countUpTo } from './params.js';
import { pixelsOf } from './picture.js';
import { fetchOnce, urlOf } from './site.js';
import { shownInput, watch, watchLoaded } from './store.js';

export async function mount(figures, store, site) {
  // The output layer is known before the figure follows the store: a logit selected while the
  // figure's data loads is then the class it explains.
  const [network, contract] = await Promise.all([site.network(), site.contract()]);
  for (const figure of figures) new AttributionFigure(figure, store, site, network, createWriter(contract)).mount();
}

class AttributionFigure {
  constructor(figure, store, site, network, writer) {
    const [channels, rows, cols] = network.layers[0].shape;
    Object.assign(this, { figure, store, site, writer, lastLayer: network.layers.at(-1).id, classes: network.classes,
                          channels, rows, cols, shown: null });
  }

  mount() {
    this.picture = pictureCanvas(find('.lw-attr-input', this.figure));
    this.maps = findAll('.lw-attr-surface', this.figure).map(surface => canvasIn(surface));
    this.whyChooser = this.makeChooser();
    Object.assign(this, this.makeChannelChooser());
    // A load that ends after the reader has moved on is not drawn (watchLoaded).
    watchLoaded(this.store, state => `${shownInput(state)} ${this.classOf(state)}`,
                () => this.load(this.store.getState()), loaded => this.show(loaded), { now: true });
    watch(this.store, ({ params }) => `${params.versus} ${params.pixel} ${params.channel}`, () => this.draw());
    this.bindPixels();
  }

  /** The class whose logit is explained: the one selected in the output table, or null (predicted). */
  classOf({ selection }) {
    return selection && selection.layer === this.lastLayer ? selection.c : null;
  }

  /** The other class of "why this and not that": the one the store names, else contributions.js's choice. */
  versusOf(chosen) {
    const named = this.namedVersus();
    return named !== null && named !== chosen ? named : this.defaultVersus(chosen);
  }

  defaultVersus(chosen) {
    const { summary, contract } = this.shown;
    return otherClass(summary, summary[contract.output.kind], chosen);
  }

  /** The class the store's versus names (from 0), or null when it names none. */
  namedVersus() {
    return countUpTo(this.store.getState().params.versus, this.classes.length);
  }

  /** The selected pixel [row, column] the store names ('12,9', from 1), or null (none, or one outside the image). */
  pixel() {
    const [, r, c] = /^(\d+),(\d+)$/.exec(this.store.getState().params.pixel ?? '') ?? [];
    const at = [countUpTo(r, this.rows), countUpTo(c, this.cols)];
    return at.includes(null) ? null : at;
  }

  /** The channel whose share the maps show alone (from 0), or null: every channel's, summed. */
  channel() {
    return this.channels > 1 ? countUpTo(this.store.getState().params.channel, this.channels) : null;
  }

  /** What a map shows of (C, H, W) numbers: the chosen channel's, or each pixel's channels summed. */
  shownOf(values) {
    const channel = this.channel();
    return channel === null ? perPixel(values, this.channels) : channelOf(values, this.channels, channel);
  }

  inside([r, c]) {
    return [Math.max(0, Math.min(this.rows - 1, r)), Math.max(0, Math.min(this.cols - 1, c))];
  }

  /** Select a pixel: the store keeps it, so the URL names it. */
  choosePixel(at) {
    const [r, c] = this.inside(at);
    this.store.dispatch({ type: 'setParams', params: { pixel: `${r + 1},${c + 1}` } });
  }

  /** Everything the figure shows for `state`'s input (at the slider's moment, if any) and class. */
  async load(state) {
    const input = shownInput(state);
    const [contract, network, record, shown, outputs] = await Promise.all([
      this.site.contract(), this.site.network(), this.site.json('attributions'), this.site.input(input),
      this.site.outputs(input)]);
    const { gradientOf, baselineLogits } = await gradientsOf(this.site, input, network, outputs, record);
    return { contract, network, record, summary: shown.summary, writer: createWriter(contract), outputs,
             gradientOf, baselineLogits, chosen: this.classOf(state) ?? shown.summary.predicted };
  }

  show(shown) {
    this.shown = shown;
    this.draw();
  }

  draw() {
    if (!this.shown) return;
    const { summary, chosen, writer, contract } = this.shown;
    const contributions = this.contributionsOf(chosen), shown = this.shownOf(contributions);
    const scale = divergingScale(shown, contract);
    this.paintPicture();
    this.paintMap(this.maps[0], shown, scale);
    this.maps[0].setAttribute('aria-label', writer.text('attribution_alt', {
      what: contract.output.value, cls: summary.classes[chosen], low: writer.number(scale.vmin),
      high: writer.number(scale.vmax) }));
    for (const name of findAll('.lw-attr-name', this.figure)) name.textContent = summary.classes[chosen];
    find('.lw-attr-sum', this.figure).textContent = this.sumLine(chosen, contributions);
    this.drawChannels(contributions);
    this.drawUnits(chosen);
    this.drawWhy(chosen, contributions);
    this.showPixel(this.pixel());
  }

  /** Each input value's contribution to class c's score, (C, H, W). */
  contributionsOf(c) {
    const { outputs, network, gradientOf, record } = this.shown;
    return contributionsOf(outputs[network.layers[0].id].values, gradientOf(c), record.exact ? 0 : record.baseline);
  }

  sumLine(c, contributions) {
    const { writer, summary, record, contract } = this.shown;
    const logit = summary[contract.output.kind][c], cls = summary.classes[c];
    const what = contract.output.value;
    const found = explained(contributions, logit, record.exact ? null : this.baselineLogit(c));
    if (record.exact) {
      const { number: n, equals } = writer.sums([found.sum, found.constant, logit]);
      return writer.text('attribution_sum', { sum: n(found.sum), constant: n(found.constant), equals, what, cls,
                                              logit: n(logit) });
    }
    const { number: n, equals } = writer.sums([found.sum, found.baseline, found.gap, logit]);
    return writer.text('attribution_gap', { sum: n(found.sum), baseline: n(found.baseline),
                                            gap: n(found.gap), equals, what, cls, logit: n(logit) });
  }

  /** The class's score at the black baseline (known from the build for its own inputs). */
  baselineLogit(c) {
    const { record, summary, baselineLogits, contract } = this.shown;
    return record.inputs[summary.id]?.[c][`baseline_${contract.output.key}`] ?? baselineLogits[c];
  }

  /** The output layer's sum for class c, weight × activation per unit it reads. */
  async drawUnits(c) {
    const table = find('.lw-attr-units', this.figure);
    if (!table) return;
    const { network, outputs, writer, summary } = this.shown;
    const last = network.layers.at(-1);
    const { weight, bias } = await this.site.weightsFor(summary.id, last);
    const units = unitTerms(weight.slice(c).values, outputs[last.inputs[0]].values, bias ? bias.at(c) : 0);
    const sums = writer.sums([...units.shown.map(unit => unit.product), units.restSum, units.bias, units.total]);
    const n = writer.number, cell = value => element('td', {}, n(value));
    const term = value => element('td', {}, sums.number(value));  // the column that adds up to the total
    const row = ({ unit, weight, activation, product }) => element('tr', {},
      element('th', { scope: 'row' }, String(unit)), cell(weight), cell(activation), term(product));
    find('tbody', table).replaceChildren(...units.shown.map(row),
      element('tr', { className: 'lw-attr-rest' },
        element('th', { scope: 'row', colSpan: 3 }, writer.text('units_rest', { count: units.rest })),
        term(units.restSum)),
      element('tr', {}, element('th', { scope: 'row', colSpan: 3 }, 'bias'), term(units.bias)));
    find('tfoot td', table).textContent = `${sums.about}${sums.number(units.total)}`;
  }

  /** Why the chosen class and not the other: the difference of the two maps and of the logits. */
  drawWhy(c, contributions) {
    const why = find('.lw-attr-why', this.figure);
    if (!why || !this.shown.record.exact) return;
    const { writer, summary, contract } = this.shown, other = this.versusOf(c);
    const scores = summary[contract.output.kind];
    const found = whyNot(contributions, this.contributionsOf(other), scores[c], scores[other]);
    const differences = this.shownOf(found.differences), scale = divergingScale(differences, contract);
    this.paintMap(this.maps[1], differences, scale);
    this.maps[1].setAttribute('aria-label', writer.text('difference_alt', {
      a: summary.classes[c], b: summary.classes[other], low: writer.number(scale.vmin),
      high: writer.number(scale.vmax) }));
    find('.lw-attr-difference', why).hidden = false;
    this.whyChooser.replaceChildren(...this.classes.flatMap((name, b) =>
      b === c ? [] : [element('option', { value: String(b) }, name)]));  // why A and not A: never
    this.whyChooser.value = String(other);
    const { number: n, equals } = writer.sums([found.sum, found.constant, found.difference]);
    find('.lw-attr-why-sum', why).textContent = writer.text('attribution_why', {
      sum: n(found.sum), constant: n(found.constant), equals, what: contract.output.value,
      a: summary.classes[c], b: summary.classes[other], difference: n(found.difference) });
  }

  /** The "and not" class becomes a choice, which the store keeps. */
  makeChooser() {
    const other = find('.lw-attr-other', this.figure);
    if (!other) return null;
    const chooser = element('select', { className: 'lw-attr-other',
                                        attributes: { 'aria-label': this.writer.text('versus_label') } });
    chooser.addEventListener('change', () => this.store.dispatch({
      type: 'setParams', params: { versus: String(Number(chooser.value) + 1) } }));
    other.replaceWith(chooser);
    return chooser;
  }

  /**
   * For a colour image, the choice of the channel whose share the maps show (the store keeps it),
   * and a line for the sum channel by channel.
   */
  makeChannelChooser() {
    if (this.channels === 1) return { channelChooser: null, channelSums: null };
    const name = c => channelName(this.channels, c);
    const chooser = element('select', { attributes: { 'aria-label': 'the channels the maps show' } },
      element('option', { value: '' }, 'all channels, summed per pixel'),
      ...Array.from({ length: this.channels }, (_, c) => element('option', { value: String(c + 1) },
                                                                    `the ${name(c)} channel alone`)));
    chooser.addEventListener('change', () => this.store.dispatch({
      type: 'setParams', params: { channel: chooser.value || null } }));
    const sums = element('span');
    find('.lw-attr-sum', this.figure).after(
      element('p', { className: 'lw-attr-channels' }, element('label', {}, 'The maps show ', chooser), sums));
    return { channelChooser: chooser, channelSums: sums };
  }

  /** The chooser follows the store, and the sum is split by channel: red … + green … + blue … = Σ. */
  drawChannels(contributions) {
    if (!this.channelChooser) return;
    const channel = this.channel();
    this.channelChooser.value = channel === null ? '' : String(channel + 1);
    const sums = Array.from({ length: this.channels }, (_, c) => sum(channelOf(contributions, this.channels, c)));
    const { number, equals } = this.shown.writer.sums([...sums, sum(contributions)]);
    const parts = sums.map((part, c) => `${channelName(this.channels, c)} ${number(part)}`);
    this.channelSums.textContent = this.shown.writer.text('attribution_channels', {
      parts: parts.join(' + '), equals, total: number(sum(contributions)) });
  }

  /** The input beside its contributions: its pixels, from the numbers the figure explains. */
  paintPicture() {
    const { outputs, network, summary, writer } = this.shown;
    if (!this.picture) return;
    Object.assign(this.picture, { width: this.cols, height: this.rows });
    const values = outputs[network.layers[0].id].values;
    paintPixels(this.picture, pixelsOf(values, network.normalisation, this.rows * this.cols));
    this.picture.setAttribute('aria-label', writer.text(summary.label_name ? 'input_alt' : 'input_alt_unlabelled',
                                                        { label: summary.label_name, source: summary.source }));
  }

  paintMap(canvas, values, scale) {
    paint(canvas, { shape: [this.rows, this.cols], values }, scale, this.shown.contract.palettes[scale.cmap]);
  }

  /**
   * Hovering shows a pixel's value, gradient and product; clicking or the arrow keys select it
   * (the store keeps it), and the selected one shows when the pointer leaves.
   */
  bindPixels() {
    const canvas = this.maps[0];
    canvas.tabIndex = 0;
    const at = event => {
      const box = canvas.getBoundingClientRect();
      return [Math.floor((event.clientY - box.top) / box.height * this.rows),
              Math.floor((event.clientX - box.left) / box.width * this.cols)];
    };
    canvas.addEventListener('pointermove', event => this.showPixel(this.inside(at(event))));
    canvas.addEventListener('pointerleave', () => this.showPixel(this.pixel()));
    canvas.addEventListener('click', event => this.choosePixel(at(event)));
    canvas.addEventListener('focus', () => this.choosePixel(this.pixel() ?? [0, 0]));
    canvas.addEventListener('keydown', event => {
      const step = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[event.key];
      if (!step) return;
      const [r, c] = this.pixel() ?? [0, 0];
      this.choosePixel([r + step[0], c + step[1]]);
      event.preventDefault();
    });
  }

  /** One pixel's value (less the baseline), gradient and their product; nothing for null. */
  showPixel(at) {
    const said = find('.lw-attr-pixel', this.figure);
    if (!this.shown || !at) {
      said.textContent = '';
      return;
    }
    said.textContent = this.pixelLine(at);
  }

  /** A pixel's value × gradient = product: the chosen channel's, or each channel's and their sum. */
  pixelLine([r, c]) {
    const { writer } = this.shown, n = writer.number;
    const terms = Array.from({ length: this.channels }, (_, channel) => this.pixelTerm(channel, r, c));
    const one = this.channels === 1 ? 0 : this.channel();
    if (one !== null) {
      const { value, gradient, product } = terms[one];
      const line = writer.text('attribution_pixel', { row: r + 1, col: c + 1, value: n(value),
                                                      gradient: n(gradient), product: n(product) });
      return this.channels === 1 ? line : `${channelName(this.channels, one)}: ${line}`;
    }
    const together = sum(terms.map(term => term.product));
    const sums = writer.sums([...terms.map(term => term.product), together]);
    const each = terms.map(({ value, gradient, product }, channel) =>
      `${channelName(this.channels, channel)} ${n(value)} × ${n(gradient)} = ${sums.number(product)}`);
    return writer.text('attribution_pixel_channels', { row: r + 1, col: c + 1, each: each.join('; '),
                                                       about: sums.about, total: sums.number(together) });
  }

  /** One channel's value at pixel (r, c) (less the baseline), its gradient and their product. */
  pixelTerm(channel, r, c) {
    const { outputs, network, gradientOf, chosen, record } = this.shown;
    const i = (channel * this.rows + r) * this.cols + c;
    const baselines = [record.exact ? 0 : record.baseline].flat();
    const value = Math.fround(outputs[network.layers[0].id].values[i] - baselines[channel % baselines.length]);
    const gradient = gradientOf(chosen)[i];
    return { value, gradient, product: value * gradient };
  }
}

/** A canvas over the surface's picture (or in its place, for the difference). */
function canvasIn(surface) {
  const canvas = element('canvas', { attributes: { role: 'img' } });
  const picture = find('img', surface);
  if (picture) {
    canvas.setAttribute('aria-label', picture.alt);
    picture.replaceWith(canvas);
  }
  else surface.append(canvas);
  return canvas;
}

/** A canvas in place of the input's picture (marked, as it was, as showing the chosen input), or null. */
function pictureCanvas(picture) {
  if (!picture) return null;
  const canvas = element('canvas', { className: picture.className, attributes: {
    role: 'img', 'aria-label': picture.alt, 'data-shows-input': picture.dataset.showsInput } });
  picture.replaceWith(canvas);
  return canvas;
}

/**
 * {gradientOf: class → the gradient of its logit by every input value (C × H × W), baselineLogits}:
 * the build's, or computed here for own inputs when a class is first shown (a backward pass, or
 * with integrated gradients `steps` of them, and then the logit at the baseline), since of many
 * classes the figure shows two.
 */
async function gradientsOf(site, input, network, outputs, record) {
  if (!site.isComputed(input)) {
    const published = await publishedGradients(site, input);
    return { gradientOf: c => published[c], baselineLogits: [] };
  }
  const [{ attribution, gradient }, weights] = await Promise.all([import('./backward.js'), weightsOf(site, input, network)]);
  const image = outputs[network.layers[0].id], classes = network.layers.at(-1).shape.at(-1);
  const target = network.layers.at(-1).id;
  const baseline = record.exact ? null : baselineImage(image, record.baseline);
  const baselineLogits = [], computed = new Map();
  const compute = c => {
    const seed = new Float64Array(classes);
    seed[c] = 1;
    if (record.exact) {
      return Float32Array.from(gradient(network.layers, outputs, weights, target, seed)[network.layers[0].id]);
    }
    const found = attribution(network, image, weights, seed, { steps: record.steps, baseline });
    baselineLogits[c] = found.baselineValue;  // the same path and steps as the build's
    return Float32Array.from(found.gradient);
  };
  const gradientOf = c => {
    if (!computed.has(c)) computed.set(c, compute(c));
    return computed.get(c);
  };
  return { gradientOf, baselineLogits };
}

/** The baseline as an image like `image` (C, H, W): its value, one for all channels or one per channel. */
function baselineImage(image, baseline) {
  const values = [baseline].flat(), plane = image.size / image.shape[0];
  return image.map((_, i) => values[Math.floor(i / plane) % values.length]);
}

/** Every layer's tensors as `input`'s network has them (at its moment of training, or trained). */
async function weightsOf(site, input, network) {
  const pairs = await Promise.all(network.layers.map(async layer => [layer.id, await site.weightsFor(input, layer)]));
  return Object.fromEntries(pairs);
}

/** The build's gradients of every logit by an input's pixels, [class] → Float32Array. */
async function publishedGradients(site, inputId) {
  const [{ float32s, sizeOf }, contract, network] = await Promise.all([
    import('./data.js'), site.contract(), site.network()]);
  const buffer = await fetchOnce(urlOf(contract, 'attribution', { input: inputId }), 'arrayBuffer');
  const numbers = float32s(buffer), size = sizeOf(network.layers[0].shape);
  return Array.from({ length: numbers.length / size }, (_, c) => numbers.subarray(c * size, (c + 1) * size));
}
