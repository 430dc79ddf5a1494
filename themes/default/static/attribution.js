/**
 * The attribution figure (`.lw-figure[data-kind="attribution"]`): each input pixel's contribution
 * to one logit, value × ∂logit/∂value, which add up with a constant to the logit exactly when the
 * network is piecewise linear (data/attributions.json says which, and gives integrated gradients
 * otherwise). "Logit" here stands for the class's score the output table shows, whatever the
 * last layer gives (the contract's `output`: a logit, a probability, a log-probability or a
 * sigmoid score), and the words on the page say which. It follows the chosen input, and the
 * class of the logit selected in the output table (the predicted class when none is). Below:
 * the same logit split over the units the output layer reads, and why this class rather than
 * another, as the difference of two maps.
 *
 * The gradients of the author's inputs come from the build (PyTorch's autograd); those of the
 * reader's own input are computed here by backward.js, loaded then. Loaded itself when the figure
 * comes near the viewport (main.js).
 */
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { paint } from './paint.js';
import { fetchOnce, urlOf } from './site.js';
import { shownInput, watchLoaded } from './store.js';

export async function mountAttributions(figures, store, site) {
  // The output layer is known before the figure follows the store: a logit selected while the
  // figure's data loads is then the class it explains.
  const lastLayer = (await site.network()).layers.at(-1).id;
  for (const figure of figures) new AttributionFigure(figure, store, site, lastLayer).mount();
}

class AttributionFigure {
  constructor(figure, store, site, lastLayer) {
    Object.assign(this, { figure, store, site, lastLayer, shown: null, versus: null, pixel: null });
  }

  mount() {
    this.maps = findAll('.lw-attr-surface', this.figure).map(surface => canvasIn(surface));
    this.whyChooser = this.makeChooser();
    // A load that ends after the reader has moved on is not drawn (watchLoaded).
    watchLoaded(this.store, state => `${shownInput(state)} ${this.classOf(state)}`,
                () => this.load(this.store.getState()), loaded => this.show(loaded), { now: true });
    this.bindPixels();
  }

  /** The class whose logit is explained: the one selected in the output table, or null (predicted). */
  classOf({ selection }) {
    return selection && selection.layer === this.lastLayer ? selection.c : null;
  }

  /** Everything the figure shows for `state`'s input (at the slider's moment, if any) and class. */
  async load(state) {
    const input = shownInput(state);
    const [contract, network, record, shown, outputs] = await Promise.all([
      this.site.contract(), this.site.network(), this.site.json('attributions'), this.site.input(input),
      this.site.outputs(input)]);
    const { gradients, baselineLogits } = await this.gradientsOf(input, network, outputs);
    return { contract, network, record, summary: shown.summary, writer: createWriter(contract), outputs,
             gradients, baselineLogits, chosen: this.classOf(state) ?? shown.summary.predicted };
  }

  show(shown) {
    this.shown = shown;
    if (this.versus === null || this.versus === shown.chosen) this.versus = this.defaultVersus(shown.summary, shown.chosen);
    this.draw();
  }

  /**
   * {gradients: (classes × pixels) gradients of the logits, baselineLogits}: the build's, or
   * computed here for own inputs (with, for integrated gradients, each logit at the baseline).
   */
  async gradientsOf(input, network, outputs) {
    if (!this.site.isComputed(input)) return { gradients: await publishedGradients(this.site, input), baselineLogits: [] };
    const [{ attribution, gradient }, weights, record] = await Promise.all([
      import('./backward.js'), this.weightsOf(input, network), this.site.json('attributions')]);
    const image = outputs[network.layers[0].id], classes = network.layers.at(-1).shape.at(-1);
    const baseline = record.exact ? null : image.map(() => record.baseline);
    const baselineLogits = [];
    const gradients = Array.from({ length: classes }, (_, c) => {
      const seed = new Float64Array(classes);
      seed[c] = 1;
      if (record.exact) {
        return Float32Array.from(gradient(network.layers, outputs, weights, this.lastLayer, seed)[network.layers[0].id]);
      }
      const found = attribution(network.layers, image, weights, seed, { steps: record.steps, baseline });
      baselineLogits[c] = found.baselineValue;  // the same path and steps as the build's
      return Float32Array.from(found.gradient);
    });
    return { gradients, baselineLogits };
  }

  /** Every layer's tensors as `input`'s network has them (at its moment of training, or trained). */
  async weightsOf(input, network) {
    const pairs = await Promise.all(network.layers.map(async layer => [layer.id, await this.site.weightsFor(input, layer)]));
    return Object.fromEntries(pairs);
  }

  /** The other class of "why this and not that": the true one if the answer is wrong, else the runner-up. */
  defaultVersus(summary, chosen) {
    if (summary.label !== null && summary.label !== chosen) return summary.label;
    const scores = summary[this.shown.contract.output.kind];
    const others = scores.map((score, c) => [score, c]).filter(([, c]) => c !== chosen);
    return others.sort((a, b) => b[0] - a[0])[0][1];
  }

  draw() {
    const { summary, chosen, writer } = this.shown;
    const contributions = this.contributionsOf(chosen);
    const bound = largest(contributions);
    this.paintMap(this.maps[0], contributions, bound);
    this.maps[0].setAttribute('aria-label', writer.text('attribution_alt', {
      what: this.shown.contract.output.value, cls: summary.classes[chosen], low: writer.number(-bound),
      high: writer.number(bound) }));
    for (const name of findAll('.lw-attr-name', this.figure)) name.textContent = summary.classes[chosen];
    find('.lw-attr-sum', this.figure).textContent = this.sumLine(chosen, contributions);
    this.drawUnits(chosen);
    this.drawWhy(chosen, contributions);
    if (this.pixel) this.showPixel(...this.pixel);
  }

  /** Each pixel's contribution: x × gradient, or (x − baseline) × mean gradient. */
  contributionsOf(c) {
    const { outputs, network, gradients, record } = this.shown;
    const x = outputs[network.layers[0].id].values, g = gradients[c];
    const from = record.exact ? 0 : record.baseline;
    return Float64Array.from(x, (value, i) => Math.fround(value - from) * g[i]);
  }

  sumLine(c, contributions) {
    const { writer, summary, record, contract } = this.shown;
    const sum = total(contributions), logit = summary[contract.output.kind][c], cls = summary.classes[c];
    const number = writer.number, what = contract.output.value;
    if (record.exact) {
      return writer.text('attribution_sum', { sum: number(sum), constant: number(logit - sum), what, cls,
                                              logit: number(logit) });
    }
    const baseline = this.baselineLogit(c);
    return writer.text('attribution_gap', { sum: number(sum), baseline: number(baseline),
                                            gap: number(logit - baseline - sum), what, cls, logit: number(logit) });
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
    const last = network.layers.at(-1), before = last.inputs[0];
    const { weight, bias } = await this.site.weightsFor(summary.id, last);
    const [, inputs] = weight.shape, activations = outputs[before].values;
    const terms = Array.from({ length: inputs }, (_, j) => [j, weight.at(c, j) * activations[j]]);
    const sorted = [...terms].sort((a, b) => b[1] - a[1]);
    const shown = [...sorted.slice(0, 5).filter(([, t]) => t > 0), ...sorted.reverse().slice(0, 5).filter(([, t]) => t < 0)];
    const kept = new Set(shown.map(([j]) => j));
    const rest = terms.filter(([j]) => !kept.has(j));
    const n = writer.number;
    const row = ([j, term]) => element('tr', {}, element('th', { scope: 'row' }, String(j + 1)),
      element('td', {}, n(weight.at(c, j))), element('td', {}, n(activations[j])), element('td', {}, n(term)));
    const b = bias ? bias.at(c) : 0;
    find('tbody', table).replaceChildren(...shown.map(row),
      element('tr', { className: 'lw-attr-rest' },
        element('th', { scope: 'row', colSpan: 3 }, writer.text('units_rest', { count: rest.length })),
        element('td', {}, n(total(rest.map(([, t]) => t))))),
      element('tr', {}, element('th', { scope: 'row', colSpan: 3 }, 'bias'), element('td', {}, n(b))));
    find('tfoot td', table).textContent = n(total(terms.map(([, t]) => t)) + b);
  }

  /** Why the chosen class and not the other: the difference of the two maps and of the logits. */
  drawWhy(c, contributions) {
    const why = find('.lw-attr-why', this.figure);
    if (!why || !this.shown.record.exact) return;
    const { writer, summary } = this.shown, other = this.versus;
    const difference = this.contributionsOf(other).map((value, i) => contributions[i] - value);
    const bound = largest(difference);
    this.paintMap(this.maps[1], difference, bound);
    this.maps[1].setAttribute('aria-label', writer.text('difference_alt', {
      a: summary.classes[c], b: summary.classes[other], low: writer.number(-bound), high: writer.number(bound) }));
    find('.lw-attr-difference', why).hidden = false;
    this.whyChooser.value = String(other);
    const scores = summary[this.shown.contract.output.kind], gap = scores[c] - scores[other];
    const sum = total(difference);
    find('.lw-attr-why-sum', why).textContent = writer.text('attribution_why', {
      sum: writer.number(sum), constant: writer.number(gap - sum), what: this.shown.contract.output.value,
      a: summary.classes[c], b: summary.classes[other], difference: writer.number(gap) });
  }

  /** The "and not" class becomes a choice. */
  makeChooser() {
    const other = find('.lw-attr-other', this.figure);
    if (!other) return null;
    const names = findAll('.lw-figure[data-kind="logits"] tbody th').map(th => th.textContent);
    const chooser = element('select', { className: 'lw-attr-other', attributes: { 'aria-label': 'the other class' } },
      ...names.map((name, c) => element('option', { value: String(c) }, name)));
    chooser.addEventListener('change', () => {
      this.versus = Number(chooser.value);
      this.draw();
    });
    other.replaceWith(chooser);
    return chooser;
  }

  paintMap(canvas, values, bound) {
    const { contract, network } = this.shown;
    const [, rows, cols] = network.layers[0].shape;
    const scale = { cmap: 'RdBu_r', vmin: -bound, vmax: bound };
    paint(canvas, { shape: [rows, cols], values }, scale, contract.palettes[scale.cmap]);
  }

  /** Hovering, clicking or the arrow keys on the map show one pixel's value, gradient and product. */
  bindPixels() {
    const canvas = this.maps[0];
    canvas.tabIndex = 0;
    const at = event => {
      const box = canvas.getBoundingClientRect(), [rows, cols] = [canvas.height, canvas.width];
      return [Math.floor((event.clientY - box.top) / box.height * rows),
              Math.floor((event.clientX - box.left) / box.width * cols)];
    };
    canvas.addEventListener('pointermove', event => this.showPixel(...at(event)));
    canvas.addEventListener('click', event => this.showPixel(...at(event)));
    canvas.addEventListener('focus', () => this.showPixel(...(this.pixel ?? [0, 0])));
    canvas.addEventListener('keydown', event => {
      const step = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[event.key];
      if (!step) return;
      const [r, c] = this.pixel ?? [0, 0];
      this.showPixel(r + step[0], c + step[1]);
      event.preventDefault();
    });
  }

  showPixel(r, c) {
    if (!this.shown) return;
    const rows = this.maps[0].height, cols = this.maps[0].width;
    r = Math.max(0, Math.min(rows - 1, r));
    c = Math.max(0, Math.min(cols - 1, c));
    this.pixel = [r, c];
    const { outputs, network, gradients, chosen, writer, record } = this.shown;
    const i = r * cols + c, x = outputs[network.layers[0].id].values[i] - (record.exact ? 0 : record.baseline);
    const g = gradients[chosen][i];
    find('.lw-attr-pixel', this.figure).textContent = writer.text('attribution_pixel', {
      row: r + 1, col: c + 1, value: writer.number(x), gradient: writer.number(g), product: writer.number(x * g) });
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

function total(values) {
  let sum = 0;
  for (const value of values) sum += value;
  return sum;
}

function largest(values) {
  let bound = 0;
  for (const value of values) bound = Math.max(bound, Math.abs(value));
  return bound || 1;
}

/** The build's gradients of every logit by an input's pixels, [class] → Float32Array. */
async function publishedGradients(site, inputId) {
  const [{ float32s }, contract, network] = await Promise.all([import('./data.js'), site.contract(), site.network()]);
  const buffer = await fetchOnce(urlOf(contract, 'attribution', { input: inputId }), 'arrayBuffer');
  const numbers = float32s(buffer), [, rows, cols] = network.layers[0].shape;
  return Array.from({ length: numbers.length / (rows * cols) },
                    (_, c) => numbers.subarray(c * rows * cols, (c + 1) * rows * cols));
}
