/**
 * The URL fragment as a projection of the store, so a link can be shared:
 * '#input=<id>&conv1=5' names the chosen input and every carousel not on its first map
 * (counted from 1). An input may also be named by its position in the picker: '#input=3'.
 * The reader's own inputs are named by their links (own.js): a drawing by its pixels, a test
 * image by its index; an uploaded image has none and is never put in the fragment.
 * '&compare=<id>' names a second input shown beside the first in every figure, '&at=<step>' the
 * moment of training the figures show the network at, '&tour=<n>' the step of the tour shown
 * (from 1); any other name, a figure's own state (the store's `params`).
 * A value the page cannot use (a map past the carousel's last, a moment training did not keep, an
 * input no one has, a name the page does not read) is not used, and is named in the store's
 * `unusable`, which the picker says.
 * The fragment is read on load and whenever the reader changes it, and rewritten with
 * history.replaceState, so stepping through maps adds nothing to the browser's history.
 */

/** The names a fragment gives besides the carousels' layers and the figures' own. */
const NAMES = ['input', 'compare', 'at', 'tour'];

/** How much of a value the picker quotes: a drawing's link is long. */
const QUOTED = 24;

/** The fragment that names `state`'s carousel positions and the input whose link is `link`. */
export function formatHash({ positions, moment = null, params = {}, tour = null }, link, compared = null) {
  const named = new URLSearchParams();
  if (link) named.set('input', link);
  if (compared) named.set('compare', compared);
  if (moment !== null) named.set('at', moment);
  if (tour !== null) named.set('tour', tour);
  for (const [layer, k] of Object.entries(positions)) if (k) named.set(layer, k + 1);
  for (const [name, text] of Object.entries(params)) if (text !== null) named.set(name, text);
  return `#${named}`;
}

/**
 * What a fragment names, {input, link, positions, params, …}, or null for a fragment that is no
 * state (a link to a section, '#pool1'). `input` is an author's input (`inputIds` are the
 * picker's, in order) or null, `link` the name as written; `at` the moment as written, `moment`
 * it as a number (null if it is none); `tour` a step from 1, or null.
 */
export function parseHash(hash, inputIds) {
  if (!hash.includes('=')) return null;
  const params = new URLSearchParams(hash.slice(1));
  const positions = {}, named = {};
  for (const [name, value] of params) {
    if (NAMES.includes(name)) continue;
    named[name] = value;
    if (isCount(value)) positions[name] = Number(value) - 1;
  }
  const link = params.get('input');
  const at = params.get('at'), tour = params.get('tour');
  return { input: inputNamed(link, inputIds), link, positions, params: named,
           compare: inputNamed(params.get('compare'), inputIds), compareLink: params.get('compare'),
           at, moment: /^\d+$/.test(at ?? '') ? Number(at) : null, tour: isCount(tour) ? Number(tour) : null };
}

/**
 * What in a fragment ('#conv1=999') the page cannot use, seen without loading anything: a map past a
 * carousel's end (`maps`: {layer: how many maps}), a tour step that is no count, a name neither a
 * layer, nor the page's, nor in `figureNames`: [{name, value, why, fields}] (store.js's unusable).
 */
export function unusableNames(hash, maps, figureNames = []) {
  const unusable = [];
  for (const [name, value] of new URLSearchParams(hash.slice(1))) {
    const said = (why, fields = {}) => unusable.push({ name, value: quoted(value), why, fields });
    if (name in maps) {
      if (!isCount(value) || Number(value) > maps[name]) said('link_map', { count: maps[name] });
    } else if (name === 'tour') {
      if (!isCount(value)) said('link_count');
    } else if (!NAMES.includes(name) && !figureNames.includes(name)) {
      said('link_name');
    }
  }
  return unusable;
}

/** A whole number from 1, as a link counts maps and steps. */
export function isCount(text) {
  return /^\d+$/.test(text ?? '') && Number(text) >= 1;
}

/** A value as the picker quotes it: at most QUOTED characters. */
function quoted(value) {
  return value.length > QUOTED ? `${value.slice(0, QUOTED - 1)}…` : value;
}

/** An input named by its id or by its position in the picker (from 1); null if neither. */
function inputNamed(name, inputIds) {
  if (inputIds.includes(name)) return name;
  return /^\d+$/.test(name ?? '') ? inputIds[Number(name) - 1] ?? null : null;
}

/**
 * Keep the store and the URL fragment in step, starting from the fragment the page opens with.
 * `linkOf(input)` is an input's name in links: its id, a reader's input's link, null for none,
 * or undefined while it has none yet (a drawing under the pen: the URL waits for the stroke's
 * end). `resolve(link)` makes the input a link names, when it is not an author's: {input} with
 * its id, or {why, fields} when it cannot (as in store.js's unusable). `moments()` gives the
 * steps training kept (null: none), loaded only for a link that names one; `figureNames`, the
 * names the page's figures read from links; `checkParams(state)`, what of the state's params (as the
 * link gave them) the page cannot use (as in store.js's unusable), which are named and let go.
 */
export function mountHash(store, inputIds, { linkOf = id => id, resolve = async () => ({ why: 'link_input' }),
                                             moments = async () => null, figureNames = [],
                                             checkParams = async () => [] } = {}) {
  let reads = 0;  // the newest link wins over an earlier one still loading what it names
  const read = async () => {
    const hash = location.hash, named = parseHash(hash, inputIds), current = ++reads;
    if (!named) return;
    const { maps } = store.getState();
    const unusable = unusableNames(hash, maps, figureNames);
    const positions = Object.fromEntries(Object.entries(named.positions)
      .filter(([name, k]) => !(name in maps) || k < maps[name]));
    const inputOf = async (name, id, link) => {
      if (id || !link) return id;
      const { input = null, why, fields } = await resolve(link);
      if (why) unusable.push({ name, value: quoted(link), why, fields });
      return input;
    };
    const input = await inputOf('input', named.input, named.link);
    const compare = await inputOf('compare', named.compare, named.compareLink);
    const moment = named.at === null ? null : await momentNamed(named.at, moments, unusable);
    const params = Object.fromEntries(Object.entries(named.params)
      .filter(([name]) => figureNames.includes(name)));
    const order = [...new URLSearchParams(hash.slice(1)).keys()];  // named in the link's order
    unusable.sort((one, other) => order.indexOf(one.name) - order.indexOf(other.name));
    if (current !== reads) return;
    store.dispatch({ type: 'restore', input, positions, compare, moment, params, tour: named.tour, unusable });
    if (Object.keys(params).length) letGo(store, await checkParams(store.getState()), () => current === reads);
  };
  addEventListener('hashchange', read);
  store.subscribe((state, previous) => {
    if (['input', 'positions', 'compare', 'moment', 'params', 'tour'].every(name => state[name] === previous[name])) return;
    const link = linkOf(state.input), compared = state.compare && linkOf(state.compare);
    if (link === undefined || compared === undefined) return;
    if (!saysAlready(parseHash(location.hash, inputIds), state, link, compared)) {
      history.replaceState(null, '', formatHash(state, link, compared));
    }
  });
  read();
}

/** The step a link's `at` names, if training kept it; null (the trained network) and a word in `unusable` if not. */
async function momentNamed(at, moments, unusable) {
  const steps = await moments();
  if (/^\d+$/.test(at) && steps?.includes(Number(at))) return Number(at);
  const fields = steps ? { count: steps.length, first: steps[0], last: steps.at(-1) } : {};
  unusable.push({ name: 'at', value: quoted(at), why: steps ? 'link_moment' : 'link_no_moments', fields });
  return null;
}

/**
 * Name each param the page cannot use and let it go, so the link names what the figures show; not
 * when a newer link has come (`still()` false), nor a value the reader has changed meanwhile.
 */
function letGo(store, unusable, still) {
  const { params } = store.getState();
  const gone = unusable.filter(({ name, value }) => still() && params[name] === value);
  for (const { name, value, why, fields } of gone) store.dispatch({ type: 'unusable', name, value: quoted(value), why, fields });
  if (gone.length) store.dispatch({ type: 'setParams', params: Object.fromEntries(gone.map(({ name }) => [name, null])) });
}

/** Whether the fragment already names this state (then it stays as the reader wrote it). */
function saysAlready(named, { input, positions, moment, params, tour }, link, compared) {
  return named !== null && (named.input === input || (named.input === null && named.link === link))
    && (named.compareLink ?? null) === (compared ?? null) && named.moment === moment && named.tour === tour
    && Object.entries(positions).every(([layer, k]) => (named.positions[layer] ?? 0) === k)
    && Object.entries(params).every(([name, text]) => (named.params[name] ?? null) === text);
}
