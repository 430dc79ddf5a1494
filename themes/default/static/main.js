/**
 * The page's one composition point: read the page, make the store, mount every view on it.
 * Loaded by <script type="module" src="static/main.js">; the inspector and its maths load with
 * the reader's first selection. Without JavaScript the page still reads: every map is in the HTML.
 */
import { carouselSizes, mountCarousels } from './carousel.js';
import { Site } from './data.js';
import { find, findAll } from './dom.js';
import { mountHash } from './hash.js';
import { mountLive } from './live.js';
import { mountOutputs } from './outputs.js';
import { checkedInput, inputIds, mountPicker } from './picker.js';
import { mountPictures } from './pictures.js';
import { createStore, initialState, reduce } from './store.js';
import { mountSurfaces } from './surface.js';

const site = new Site(document.body.dataset.contract);
const picker = find('.lw-picker');
const figures = findAll('.lw-figure[data-layer]');
const store = createStore(reduce, initialState({
  input: checkedInput(picker), maps: carouselSizes(figures) }));

if (picker) mountPicker(picker, store);
mountCarousels(figures, store, site);
mountSurfaces(figures, store);
mountPictures(figures, store, site);
mountOutputs(figures, store, site);
mountLive(document, store, site);
mountInspectorOnFirstSelection(figures, store, site);
mountHash(store, inputIds(picker));

/** The inspector's code (and maths.js) is fetched when the reader first selects a value. */
function mountInspectorOnFirstSelection(figures, store, site) {
  const stop = store.subscribe(async state => {
    if (!state.selection) return;
    stop();
    try {
      const { mountInspector } = await import('./inspector.js');
      mountInspector(figures, store, site);
    } catch (error) {
      mountInspectorOnFirstSelection(figures, store, site);  // try again with the next selection
      throw error;
    }
  });
}
