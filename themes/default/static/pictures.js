/**
 * The figures' pictures follow the chosen input: each map, image and strip gets that input's
 * frame and an alt text with that input's range of values. Filters and colour legends do not
 * depend on the input and stay as they are.
 *
 * An input computed in the page (the reader's own) has no frames: its maps are painted from its
 * numbers onto a canvas laid over each picture (paint.js, the build's colours exactly), only for
 * the maps in view, and a carousel paints the map it moves to.
 */
import { element, find, findAll } from './dom.js';
import { urlOf } from './site.js';
import { shownInput, watch, watchLoaded } from './store.js';
import { gridOf } from './surface.js';

export function mountPictures(figures, store, site) {
  const pictured = figures.filter(figure => find('.lw-surface > img', figure));
  const painter = new Painter(site);
  watchLoaded(store, shownInput, input => site.input(input), shown => {
    const computed = site.isComputed(shown.summary.id);
    for (const figure of pictured) showInput(figure, shown, computed);
    if (computed) painter.paint(pictured, shown, store.getState().positions);
  });
  watch(store, state => state.positions, positions => {
    const input = shownInput(store.getState());
    if (site.isComputed(input)) painter.paint(pictured, null, positions, input);
  });
}

/** One figure's pictures for one input: its maps (or its strip) and their alt texts. */
function showInput(figure, { contract, writer, summary }, computed) {
  const layer = figure.dataset.layer;
  const surfaces = findAll('.lw-surface', figure);
  const ranges = summary.ranges[layer];
  surfaces.forEach((surface, k) => {
    const picture = find('img', surface);
    const range = writer.range(...ranges[k]);
    surface.classList.toggle('is-painted', computed);
    if (figure.dataset.kind === 'vector') {
      const { rows, cols } = gridOf(surface);
      if (!computed) picture.src = urlOf(contract, 'vector', { input: summary.id, layer });
      picture.alt = writer.text('vector_alt', { layer, size: rows * cols, range, rows, cols });
    } else {
      if (!computed) picture.src = urlOf(contract, 'map', { input: summary.id, layer, k });
      const count = surfaces.length;
      picture.alt = writer.text('map_alt', { layer, number: k + 1, count, range });
    }
    const canvas = find('canvas', surface);
    if (canvas) canvas.setAttribute('aria-label', picture.alt);
  });
}

/** Paints computed inputs' maps, each surface at most once per input. */
class Painter {
  constructor(site) {
    this.site = site;
    this.painted = new WeakMap();  // surface → the input it shows
  }

  /** Paint the maps in view of every figure: each carousel's current one, every other map. */
  async paint(figures, shown, positions, input = shown.summary.id) {
    this.painter ??= import('./paint.js');  // once: each import() would wait for a task of its own
    const [{ paint }, contract, outputs] = await Promise.all([
      this.painter, this.site.contract(), this.site.outputs(input)]);
    for (const figure of figures) {
      const layer = figure.dataset.layer;
      findAll('.lw-surface', figure).forEach((surface, k) => {
        const inView = figure.dataset.kind !== 'maps' || positions[layer] === k;
        if (!inView || this.painted.get(surface) === input) return;
        const scale = contract.scales[layer];
        paint(canvasOf(surface), mapOf(outputs[layer], figure.dataset.kind, k, gridOf(surface)),
              scale, contract.palettes[scale.cmap]);
        this.painted.set(surface, input);
      });
    }
    // The time from a change on the drawing pad (draw.js marks it) to its maps painted.
    if (performance.getEntriesByName('lw-drawn', 'mark').length) {
      performance.measure('lw-redraw', 'lw-drawn');
      performance.clearMarks('lw-drawn');
    }
  }
}

/** What surface k of a figure shows: map k of maps, or the vector in its rows. */
export function mapOf(output, kind, k, { rows, cols }) {
  return kind === 'vector' ? output.reshape([rows, cols]) : output.slice(k);
}

/** The canvas over a surface's picture, made the first time; it reads as the picture did. */
function canvasOf(surface) {
  let canvas = find('canvas', surface);
  if (!canvas) {
    surface.append(canvas = element('canvas', { attributes: { role: 'img', 'aria-label': find('img', surface).alt } }));
  }
  return canvas;
}
