/**
 * The page's one composition point: read the page, make the store, mount every view on it.
 * Loaded by <script type="module" src="static/main.js">; the inspector and its maths load with
 * the reader's first selection. Without JavaScript the page still reads: every map is in the HTML.
 */
import { carouselSizes, mountCarousels } from './carousel.js';
import { Site } from './site.js';
import { find, findAll, stylesheet } from './dom.js';
import { mountHash } from './hash.js';
import { mountLive } from './live.js';
import { mountOutputs } from './outputs.js';
import { checkedInput, inputIds, mountPicker } from './picker.js';
import { mountPictures } from './pictures.js';
import { createStore, initialState, reduce } from './store.js';
import { mountSurfaces } from './surface.js';

/**
 * The kinds of figure (builder/figures.py) whose script loads as one comes near: static/<kind>.js
 * for the figures of class lw-figure-<kind>, its mount(figures, store, site, page), with
 * static/<css>.css; `near`: other figures that load it; `links`: the names it reads from links (the
 * store's `params`), which a link may give where the page has such a figure.
 */
const SCRIPTS = {
  attribution: { css: null, links: ['versus', 'pixel', 'channel'] },
  confusion: { css: 'own' },
  examples: { near: '.lw-figure-maps, .lw-figure-vector' },
  overview: { margin: 0 },
  picture: {},
};

const site = new Site(document.body.dataset.contract);
const picker = find('.lw-picker');
const figures = findAll('.lw-figure[data-layer]');
const store = createStore(reduce, initialState({
  input: checkedInput(picker), maps: carouselSizes(figures) }));

if (picker) mountPicker(picker, store, site);
mountCarousels(figures, store, site);
mountSurfaces(figures, store);
mountPictures(figures, store, site);
mountOutputs(figures, store, site);
mountLive(document, store, site);
mountInspectorOnFirstSelection(figures, store, site);
const own = mountOwnInputsOnFirstUse(picker, store, site);
const button = name => find(`.lw-${name}-open`, picker ?? document);
// Two inputs side by side, and the network as it was during training (the Learning slider).
onFirstUse(button('compare'), 'compare', async () =>
  (await view('compare', 'own')).mountCompare(picker, figures, store, site), select => select?.focus());
onFirstUse(button('learning'), 'moment', async () =>
  (await view('training', 'own')).mountTraining(picker, figures, store, site), slider => {
  button('learning')?.remove();
  slider?.focus();
}, () => button('learning')?.remove());
// The tour: its steps, panel and questions load when the reader starts it or a link opens a step.
onFirstUse(button('tour'), 'tour', async () =>
  (await view('tour')).mountTour(store, site, button('tour')), tour => tour.start());
for (const [kind, { css = kind, near, margin }] of Object.entries(SCRIPTS)) {
  const selector = `.lw-figure-${kind}`, page = { figures, own: own.load };
  whenNear(findAll(near ? `${selector}, ${near}` : selector),
    async () => (await view(kind, css)).mount(findAll(selector), store, site, page), margin);
}
const learning = Boolean(button('learning'));  // the button goes once the slider is open
mountHash(store, inputIds(picker), {
  ...own,
  moments: async () => (learning ? (await site.json('training')).snapshots.map(moment => moment.step) : null),
  figureNames: Object.entries(SCRIPTS).flatMap(([kind, { links = [] }]) =>
    (find(`.lw-figure-${kind}`) ? links : [])),
  checkParams: async state => (await import('./params.js')).unusableParams(state, site),
});

/** The inspector's code (and its arithmetic) is fetched when the reader first selects a value. */
function mountInspectorOnFirstSelection(figures, store, site) {
  const stop = store.subscribe(async state => {
    if (!state.selection) return;
    stop();
    try {
      (await view('inspector')).mountInspector(figures, store, site);
    } catch (error) {
      mountInspectorOnFirstSelection(figures, store, site);  // try again with the next selection
      throw error;
    }
  });
}

/**
 * The reader's own inputs (own.js runs the network in the page; yours.js has the pad, the upload
 * and the picker's own choice) load, with the weights, on first use: Draw, Upload, a file
 * dropped on the page, a test image's number, a link to a drawing or a test image. Returns what hash.js needs to name
 * them in links (linkOf, resolve), and `load()`, which gives own.js's OwnInputs once loaded.
 */
function mountOwnInputsOnFirstUse(picker, store, site) {
  let loading = null, own = null;
  const load = () => (loading ??= Promise.all([import('./own.js'), view('yours', 'own')])
    .then(([{ OwnInputs }, { mountYours }]) => mountYours(picker, store, site, own = new OwnInputs(site))));
  if (picker) {
    find('.lw-draw', picker)?.addEventListener('click', async () => (await load()).togglePad());
    const chooser = find('.lw-upload input', picker);
    chooser.addEventListener('change', async () => {
      const [file] = chooser.files;
      chooser.value = '';
      if (file) (await load()).useFile(file);
    });
    bindDrops(async file => (await load()).useFile(file));
    const number = find('.lw-test-pick', picker);
    const pick = async event => {
      event.preventDefault();  // Enter in the number field submits the picker: the page stays
      if (number) (await load()).pickTest(number);
    };
    number?.addEventListener('change', pick);
    picker.addEventListener('submit', pick);
  }
  // Only a drawing's or a test image's link is worth loading the network for (own.js, confusion.js).
  const resolve = async link => (/^(draw|test)\./.test(link) ? (await load()).resolve(link) : { why: 'link_input' });
  return { linkOf: id => (own ? own.linkOf(id) : id), resolve, load: async () => (await load()).own };
}

/** A file dropped anywhere on the page is the reader's input, rather than opened by the browser. */
function bindDrops(useFile) {
  const carriesFiles = event => event.dataTransfer?.types.includes('Files');
  const dropping = on => document.body.classList.toggle('is-dropping', on);
  addEventListener('dragover', event => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dropping(true);
  });
  addEventListener('dragleave', event => event.relatedTarget || dropping(false));
  addEventListener('drop', event => {
    if (!carriesFiles(event)) return;
    event.preventDefault();
    dropping(false);
    if (event.dataTransfer.files.length) useFile(event.dataTransfer.files[0]);
  });
}

/** A view's module and its stylesheet (null: none), static/<name>.js and static/<css>.css, loaded on first use. */
async function view(name, css = name) {
  const [module] = await Promise.all([import(`./${name}.js`), css && stylesheet(`static/${css}.css`)]);
  return module;
}

/** Call `mount` once, when any of `elements` comes within `margin` pixels of the viewport. */
function whenNear(elements, mount, margin = 1000) {
  if (!elements.length) return;
  const observer = new IntersectionObserver(entries => {
    if (!entries.some(entry => entry.isIntersecting)) return;
    observer.disconnect();
    mount();
  }, { rootMargin: `${margin}px 0px` });
  for (const each of elements) observer.observe(each);
}

/**
 * Load a feature on first use: when its `button` is pressed (then `opened` gets what `load`
 * gave), or when a link sets the store's `field` (then `linked` does).
 */
function onFirstUse(button, field, load, opened, linked = () => {}) {
  let loading = null;
  const mount = () => (loading ??= load().catch(error => {
    loading = null;  // a load that failed (the network dropped) is tried again on the next use
    throw error;
  }));
  button?.addEventListener('click', async () => opened(await mount()));
  const stop = store.subscribe(state => {
    if (state[field] === null) return;
    stop();
    mount().then(linked);
  });
}
