/**
 * The page's state in one place. Views change it only by dispatching an action, and re-render
 * from it when it changes; the URL fragment is a projection of it (see hash.js).
 *
 * The state:
 *   input      the chosen input's id
 *   maps       {layer id: how many maps its carousel has}, fixed by the page
 *   positions  {layer id: the map its carousel shows, from 0}
 *   selection  the value the reader selected, {layer, k, r, c} (k = 0 outside carousels), or null
 *   highlights what the selected value reads in the layers it is computed from, outlined there:
 *              [{layer, k, top, left, height, width}, …] (a sum outlines a cell in each term)
 *   compare    a second input every figure shows beside the first, with their difference, or null
 *   moment     the optimiser step of a training snapshot the figures show the network at, or null
 *              for the trained network
 *   params     a figure's own state, as URL text: {versus: '4'} (attribution.js)
 *   tour       the step of the tour shown, counted from 1, or null when the tour is closed
 *   unusable   what the link named that the page cannot use, [{name, value, why, fields}]: the link's
 *              parameter `name`=`value`, and `why`, the name of a contract text saying why, filled
 *              with `fields`; the picker names each (picker.js)
 */

/** A store: getState(), dispatch(action), subscribe(listener) → unsubscribe. */
export function createStore(reduce, initial) {
  let state = initial;
  const listeners = new Set();
  const queue = [];
  return {
    getState: () => state,
    dispatch(action) {
      queue.push(action);
      if (queue.length > 1) return;  // a listener dispatched: its turn comes after this one
      try {
        for (; queue.length; queue.shift()) {
          const previous = state;
          state = reduce(state, queue[0]);
          if (state !== previous) for (const listener of listeners) listener(state, previous);
        }
      } finally {
        queue.length = 0;  // a failed action must not block the ones after it
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Call `render(value, state)` whenever `select(state)` is no longer the same value (===),
 * e.g. watch(store, state => state.input, input => …).
 */
export function watch(store, select, render) {
  return store.subscribe((state, previous) => {
    const value = select(state);
    if (value !== select(previous)) render(value, state);
  });
}

/**
 * Like watch(), for views that must load data before they render: `load(value)` is awaited,
 * and a render whose value is no longer the current one by then is skipped. With `now`, the
 * current value is loaded and rendered at once too.
 */
export function watchLoaded(store, select, load, render, { now = false } = {}) {
  const update = async value => {
    const loaded = await load(value);
    if (select(store.getState()) === value) render(loaded, value);
  };
  if (now) update(select(store.getState()));
  return watch(store, select, update);
}

const NONE = Object.freeze([]);  // no outlines: one shared empty list, so states compare equal

/** The state before any action: `input` chosen, every carousel on its first map. */
export function initialState({ input, maps }) {
  const positions = Object.fromEntries(Object.keys(maps).map(layer => [layer, 0]));
  return { input, maps, positions, selection: null, highlights: NONE, compare: null, moment: null, params: {},
           tour: null, unusable: NONE };
}

/**
 * The input the figures show: the chosen one, or, at a moment of training, that input run
 * through the network as it was then ('<input>@<step>', computed in the page: see training.js).
 */
export function shownInput({ input, moment }) {
  return moment === null ? input : `${input}@${moment}`;
}

/** What shownInput() put together: {input, step}, step null for the trained network. */
export function momentOf(id) {
  const at = id.lastIndexOf('@');
  return at < 0 ? { input: id, step: null } : { input: id.slice(0, at), step: Number(id.slice(at + 1)) };
}

/** The page's reducer: the new state after `action`, or the same object when nothing changed. */
export function reduce(state, action) {
  if (!Object.hasOwn(ACTIONS, action.type)) throw new Error(`unknown action '${action.type}'`);
  return ACTIONS[action.type](state, action);
}

const ACTIONS = {
  /** The reader chose an input: nothing selected in the last one stays selected. */
  chooseInput(state, { input }) {
    if (input === state.input) return state;
    return { ...state, input, selection: null, highlights: NONE };
  },

  /**
   * The reader's own input changed under the pen: the selected value stays selected (a new
   * object, so the views that follow it read it again for the new input).
   */
  redraw(state, { input }) {
    if (input === state.input) return state;
    return { ...state, input, selection: state.selection && { ...state.selection } };
  },

  /** A carousel shows map k (counting round past either end); its figure loses any outline. */
  showMap(state, { layer, k }) {
    if (!(layer in state.maps)) return state;
    const position = wrap(k, state.maps[layer]);
    if (position === state.positions[layer]) return state;
    const selected = state.selection?.layer === layer;
    const outlined = state.highlights.some(box => box.layer === layer);
    return {
      ...state,
      positions: { ...state.positions, [layer]: position },
      selection: selected ? null : state.selection,
      highlights: selected ? NONE
        : outlined ? state.highlights.filter(box => box.layer !== layer) : state.highlights,
    };
  },

  /** The reader selected one value: map k, row r, column c of a layer. */
  select(state, { layer, k, r, c }) {
    const selection = { layer, k, r, c };
    if (state.selection && sameFields(state.selection, selection)) return state;
    return { ...state, selection, highlights: NONE };
  },

  /** Outline what the selected value reads: show those maps, mark those windows. */
  highlight(state, { boxes }) {
    const highlights = boxes.map(({ layer, k, top, left, height, width }) =>
      ({ layer, k, top, left, height, width }));
    const same = highlights.length === state.highlights.length
      && highlights.every((box, i) => sameFields(state.highlights[i], box));
    if (same) return state;
    const positions = { ...state.positions };
    for (const { layer, k } of highlights) {
      if (layer in state.maps) positions[layer] = wrap(k, state.maps[layer]);
    }
    return { ...state, positions, highlights };
  },

  /** Show the network as it was at optimiser step `step` of its training (null: trained). */
  moment(state, { step }) {
    if (step === state.moment) return state;
    return { ...state, moment: step, selection: state.selection && { ...state.selection } };  // read anew
  },

  /** Show a second input beside the chosen one in every figure (null: none). */
  compare(state, { input }) {
    const compare = input === state.input ? null : input;
    return compare === state.compare ? state : { ...state, compare };
  },

  setParams(state, { params }) {
    return { ...state, params: { ...state.params, ...params } };
  },

  /** Show step `step` of the tour (from 1), or close it (null). */
  tour(state, { step }) {
    return step === state.tour ? state : { ...state, tour: step };
  },

  /**
   * The link's parameter `name` has a value the page cannot use: `why` names the contract's text
   * that says why, `fields` fill it. A later word on the same parameter replaces the earlier one.
   */
  unusable(state, { name, value, why, fields = {} }) {
    const kept = state.unusable.filter(entry => entry.name !== name);
    return { ...state, unusable: [...kept, { name, value, why, fields }] };
  },

  /**
   * A deep link: an input (null keeps the current one), the map of every carousel, … What the
   * last link named unusable is forgotten; `unusable` is what this one names.
   */
  restore(state, { input, positions, compare = null, moment = null, params = {}, tour = null, unusable = [] }) {
    const chosen = input ? ACTIONS.chooseInput(state, { input }) : state;
    const moved = Object.keys(state.maps).reduce(
      (next, layer) => ACTIONS.showMap(next, { layer, k: positions[layer] ?? 0 }), chosen);
    const restored = ACTIONS.tour(ACTIONS.moment(ACTIONS.compare(moved, { input: compare }), { step: moment }),
                                  { step: tour });
    const said = unusable.reduce((next, entry) => ACTIONS.unusable(next, entry), { ...restored, unusable: NONE });
    return { ...said, params: Object.fromEntries(Object.entries(params).filter(([name]) => !(name in state.maps))) };
  },
};

/** k counted round a carousel of `count` maps: -1 is the last map, `count` the first. */
function wrap(k, count) {
  return ((k % count) + count) % count;
}

function sameFields(one, other) {
  return Object.keys(other).every(name => one[name] === other[name]);
}
