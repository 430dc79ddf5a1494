/**
 * Carousels: a figure with many maps shows one at a time. The reader steps through them with
 * the Previous and Next buttons, the arrow keys (on the focused carousel) or a sideways swipe;
 * the store says which map each carousel shows.
 */
import { find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { watch } from './store.js';

/** How far a touch must travel sideways, in CSS pixels, to count as a swipe. */
const SWIPE = 40;

/** {layer id: number of maps} of the carousels among these figures, for the store. */
export function carouselSizes(figures) {
  return Object.fromEntries(carousels(figures).map(figure =>
    [figure.dataset.layer, findAll('.lw-maps > li', figure).length]));
}

export function mountCarousels(figures, store, site) {
  for (const figure of carousels(figures)) mountCarousel(figure, store, site);
}

function carousels(figures) {
  return figures.filter(figure => figure.dataset.kind === 'maps');
}

function mountCarousel(figure, store, site) {
  const layer = figure.dataset.layer;
  const step = delta => store.dispatch({
    type: 'showMap', layer, k: store.getState().positions[layer] + delta });
  bindButtons(figure, step);
  bindKeys(find('.lw-carousel', figure), step);
  bindSwipes(find('.lw-carousel', figure), step);
  watch(store, state => state.positions[layer], k => showMap(figure, k, site));
}

/** Show map k: the only current item, and its number in the counter (worded by the contract). */
async function showMap(figure, k, site) {
  const items = findAll('.lw-maps > li', figure);
  items.forEach((item, i) => item.classList.toggle('is-current', i === k));
  const writer = createWriter(await site.contract());
  const counter = writer.text('counter', { number: k + 1, count: items.length });
  find('.lw-counter', figure).textContent = counter;
}

function bindButtons(figure, step) {
  find('.lw-prev', figure).addEventListener('click', () => step(-1));
  find('.lw-next', figure).addEventListener('click', () => step(1));
}

const KEY_STEPS = { ArrowLeft: -1, ArrowRight: 1 };

function bindKeys(carousel, step) {
  carousel.addEventListener('keydown', event => {
    const delta = KEY_STEPS[event.key];
    if (delta && !event.altKey && !event.ctrlKey && !event.metaKey) {
      step(delta);
      event.preventDefault();
    }
  });
}

/** A mostly sideways touch swipe: to the left shows the next map, to the right the previous. */
function bindSwipes(carousel, step) {
  let start = null;
  carousel.addEventListener('pointerdown', event => {
    start = event.pointerType === 'touch' ? { x: event.clientX, y: event.clientY } : null;
  });
  carousel.addEventListener('pointerup', event => {
    if (!start) return;
    const across = event.clientX - start.x, down = event.clientY - start.y;
    const sideways = Math.abs(across) > SWIPE && Math.abs(across) > 2 * Math.abs(down);
    if (sideways) step(-Math.sign(across));
  });
}
