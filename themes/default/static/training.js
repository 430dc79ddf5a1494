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
import { Tensor, decodeTensors, sizeOf } from './data.js';
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { run } from './forward.js';
import { summaryOf } from './own.js';
import { divergingScale, paint } from './paint.js';
import { fetchOnce, urlOf } from './site.js';
import { momentOf, watch, watchLoaded } from './store.js';

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
      const size = (layer.tensors ?? []).reduce((total, t) => total + sizeOf(t.shape), 0);
      weights[layer.id] = size ? decodeTensors(buffer.slice(offset, offset + 4 * size), layer.tensors) : {};
      offset += 4 * size;
    }
    if (offset !== buffer.byteLength) throw new Error(`a snapshot holds ${buffer.byteLength} bytes, not ${offset}`);
    return weights;
  }

  /** Compute an input at a moment (store.js's shownInput): its image through the network as it was then. */
  async resolve(id) {
    const { input, step } = momentOf(id);
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
    return (await this.weightsAt(momentOf(id).step))[layer.id] ?? {};
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
      step: writer.whole(moment.step), total: writer.whole(training.total_steps),
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
      const scale = divergingScale(weight.values, contract);
      paint(canvas, tiled(weight.slice(k), find('img:not(.lw-kernel-colour)', kernel)), scale,
            contract.palettes[scale.cmap]);
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

/**
 * A filter's kernels (C, h, w) laid out as the build's `picture` of them is (builder/layers.py's
 * tile_shape: a grid with one-pixel gaps of 0, its size the picture's), so the grid is said once.
 */
function tiled(kernels, picture) {
  const [count, h, w] = kernels.shape, size = name => Number(picture.getAttribute(name));
  const cols = (size('width') + 1) / (w + 1);
  return Tensor.build([size('height'), size('width')], (r, c) => {
    const [u, v] = [r % (h + 1), c % (w + 1)];
    const channel = Math.floor(r / (h + 1)) * cols + Math.floor(c / (w + 1));
    return u === h || v === w || channel >= count ? 0 : kernels.at(channel, u, v);
  });
}
