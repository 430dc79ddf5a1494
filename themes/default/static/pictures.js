/**
 * The figures' pictures follow the chosen input: each map, image and strip gets that input's
 * frame and an alt text with that input's range of values. Filters and colour legends do not
 * depend on the input and stay as they are.
 */
import { find, findAll } from './dom.js';
import { urlOf } from './data.js';
import { watchLoaded } from './store.js';
import { gridOf } from './surface.js';

export function mountPictures(figures, store, site) {
  const pictured = figures.filter(figure => find('.lw-surface > img', figure));
  watchLoaded(store, state => state.input, input => site.input(input), shown => {
    for (const figure of pictured) showInput(figure, shown);
  });
}

/** One figure's pictures for one input: its maps (or its strip) and their alt texts. */
function showInput(figure, { contract, writer, summary }) {
  const layer = figure.dataset.layer;
  const surfaces = findAll('.lw-surface', figure);
  const ranges = summary.ranges[layer];
  surfaces.forEach((surface, k) => {
    const picture = find('img', surface);
    const range = writer.range(...ranges[k]);
    if (figure.dataset.kind === 'vector') {
      const { rows, cols } = gridOf(surface);
      picture.src = urlOf(contract, 'vector', { input: summary.id, layer });
      picture.alt = writer.text('vector_alt', { layer, size: rows * cols, range, rows, cols });
    } else {
      picture.src = urlOf(contract, 'map', { input: summary.id, layer, k });
      const count = surfaces.length;
      picture.alt = writer.text('map_alt', { layer, number: k + 1, count, range });
    }
  });
}
