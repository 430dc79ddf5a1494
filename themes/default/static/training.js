/**
 * Watch it learn: a slider over the moments training kept (data/training.json), from the first
 * weights to the trained network. At a moment, every figure shows the chosen input run through
 * the network as it was then, computed here with forward.js from that moment's weights
 * (data/snapshots/<step>.f32, fetched when the slider first reaches it): the maps, the filters
 * beside them, the output table and the inspectors. The slider says which moment it is, its test
 * accuracy, and where it sits on the training curve. The trained network stays the default.
 *
 * Loaded when the reader asks for it or a link names a moment (main.js).
 */
import { Tensor, decodeTensors } from './data.js';
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { run } from './forward.js';
import { summaryOf } from './own.js';
import { paint } from './paint.js';
import { fetchOnce, urlOf } from './site.js';
import { watch, watchLoaded } from './store.js';

/** How many inputs at moments are kept computed: a slider's sweep makes one per step. */
const KEPT = 24;

export async function mountTraining(picker, figures, store, site) {
  const [contract, network] = await Promise.all([site.contract(), site.network()]);
  const training = await fetchOnce(urlOf(contract, 'training'));
  const moments = new Moments(site, contract, network);
  site.registerMoments(moments);
  mountFilters(figures, store, moments, contract);
  return picker && training.snapshots.length ? makeSlider(picker, training, store, createWriter(contract)) : null;
}

/** The network at its moments: weights fetched once each, inputs computed when asked for. */
class Moments {
  constructor(site, contract, network) {
    Object.assign(this, { site, contract, network, loaded: new Map(), kept: [] });
  }

  /** {layer id: {name: Tensor}} at optimiser step `step`, from one file for all layers. */
  weightsAt(step) {
    if (!this.loaded.has(step)) {
      const url = urlOf(this.contract, 'snapshot', { step });
      this.loaded.set(step, fetchOnce(url, 'arrayBuffer').then(buffer => this.split(buffer)));
    }
    return this.loaded.get(step);
  }

  /** A snapshot file's layers, each as a weights file holds them, one after another. */
  split(buffer) {
    const weights = {};
    let offset = 0;
    for (const layer of this.network.layers) {
      const size = (layer.tensors ?? []).reduce((total, t) => total + t.shape.reduce((p, n) => p * n, 1), 0);
      weights[layer.id] = size ? decodeTensors(buffer.slice(offset, offset + 4 * size), layer.tensors) : {};
      offset += 4 * size;
    }
    if (offset !== buffer.byteLength) throw new Error(`a snapshot holds ${buffer.byteLength} bytes, not ${offset}`);
    return weights;
  }

  /** Compute '<input>@<step>': the input's image through the network as it was at that step. */
  async resolve(id) {
    const at = id.lastIndexOf('@'), input = id.slice(0, at), step = Number(id.slice(at + 1));
    const [weights, base, summary, contract] = await Promise.all([
      this.weightsAt(step), this.site.outputs(input), this.site.summary(input), this.site.contract()]);
    const image = base[this.network.layers[0].id];
    const outputs = run(this.network.layers, image, weights);
    const own = summaryOf(this.network, contract.output, outputs, summary.source, summary.label);
    this.site.define(id, { summary: own, outputs });
    this.kept.push(id);
    if (this.kept.length > KEPT) this.site.forget(this.kept.shift());
  }

  async weights(id, layer) {
    return (await this.weightsAt(Number(id.slice(id.lastIndexOf('@') + 1))))[layer.id] ?? {};
  }
}

/** The slider, after the picker's buttons: which moment, its accuracy, and the curve it sits on. */
function makeSlider(picker, training, store, writer) {
  const moments = training.snapshots, last = moments.length - 1;
  const slider = element('input', {
    type: 'range', min: 0, max: last, step: 1, value: last, className: 'lw-training-slider',
    attributes: { 'aria-label': 'Moment of training' } });
  const said = element('span', { className: 'lw-training-said' });
  const curve = element('canvas', { className: 'lw-training-curve', width: 160, height: 36,
                                    attributes: { 'aria-hidden': 'true' } });
  const row = element('div', { className: 'lw-training' },
    element('label', {}, 'Training ', slider), said, curve);
  find('fieldset', picker).after(row);
  slider.addEventListener('input', () => {
    const k = Number(slider.value);
    store.dispatch({ type: 'moment', step: k === last ? null : moments[k].step });
  });
  const show = step => {
    const k = step === null ? last : Math.max(0, moments.findIndex(moment => moment.step === step));
    const moment = moments[k];
    const words = writer.text('moment', {
      step: moment.step.toLocaleString('en'), total: training.total_steps.toLocaleString('en'),
      epoch: moment.epoch.toFixed(2), accuracy: writer.percent(moment.test_accuracy) })
      + (k === last ? ` ${writer.text('moment_final', {})}` : '');
    slider.value = String(k);
    slider.setAttribute('aria-valuetext', words);
    said.textContent = words;
    drawCurve(curve, moments, k);
  };
  watch(store, state => state.moment, show);
  show(store.getState().moment);
  return slider;
}

/** Test accuracy against the step (on a log scale, step 0 at the left edge), the moment marked. */
function drawCurve(canvas, moments, k) {
  const context = canvas.getContext('2d'), { width, height } = canvas;
  const x = step => (Math.log10(step + 1) / Math.log10(moments.at(-1).step + 1)) * (width - 4) + 2;
  const y = accuracy => height - 2 - accuracy * (height - 4);
  const ink = getComputedStyle(canvas).color;
  context.clearRect(0, 0, width, height);
  context.strokeStyle = ink;
  context.beginPath();
  moments.forEach((moment, i) => context[i ? 'lineTo' : 'moveTo'](x(moment.step), y(moment.test_accuracy)));
  context.stroke();
  context.fillStyle = ink;
  context.beginPath();
  context.arc(x(moments[k].step), y(moments[k].test_accuracy), 3, 0, 2 * Math.PI);
  context.fill();
}

/** The filters beside each convolution's maps, painted from the moment's weights. */
function mountFilters(figures, store, moments, contract) {
  const convolutions = figures.filter(figure => find('.lw-kernel', figure));
  const render = (weights, { moment, positions }) => {
    for (const figure of convolutions) {
      const layer = figure.dataset.layer, k = positions[layer];
      for (const kernel of findAll('.lw-kernel', figure)) kernel.classList.remove('is-painted');
      if (weights === null) continue;
      const { weight } = weights[layer];
      const kernel = findAll('.lw-kernel', figure)[k];
      let canvas = find('canvas', kernel);
      if (!canvas) kernel.prepend(canvas = element('canvas', { attributes: { role: 'img' } }));
      const bound = Math.max(...weight.values.map(Math.abs)) || 1;
      paint(canvas, tiled(weight.slice(k)), { vmin: -bound, vmax: bound }, contract.palettes.RdBu_r);
      canvas.setAttribute('aria-label', `Filter ${k + 1} of ${layer} at step ${moment}`);
      kernel.classList.add('is-painted');
    }
  };
  // A moment's weights that arrive after the slider has left it paint nothing (watchLoaded).
  watchLoaded(store, state => `${state.moment} ${Object.values(state.positions)}`, () => {
    const { moment } = store.getState();
    return moment === null ? null : moments.weightsAt(moment);
  }, weights => render(weights, store.getState()), { now: true });
}

/** A filter's kernels (C, h, w) in a near-square grid with one-pixel gaps of 0, as the build tiles them. */
function tiled(kernels) {
  const [count, h, w] = kernels.shape, cols = Math.ceil(Math.sqrt(count)), rows = Math.ceil(count / cols);
  return Tensor.build([rows * (h + 1) - 1, cols * (w + 1) - 1], (r, c) => {
    const [u, v] = [r % (h + 1), c % (w + 1)];
    const channel = Math.floor(r / (h + 1)) * cols + Math.floor(c / (w + 1));
    return u === h || v === w || channel >= count ? 0 : kernels.at(channel, u, v);
  });
}
