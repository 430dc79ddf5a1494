/**
 * The URL fragment as a projection of the store, so a link can be shared:
 * '#input=<id>&conv1=5' names the chosen input and every carousel not on its first map
 * (counted from 1). An input may also be named by its position in the picker: '#input=3'.
 * The reader's own inputs are named by their links (own.js): a drawing by its pixels, a test
 * image by its index; an uploaded image has none and is never put in the fragment.
 * '&compare=<id>' names a second input shown beside the first in every figure, '&at=<step>' the
 * moment of training the figures show the network at; any other name, a figure's own state (the
 * store's `params`).
 * The fragment is read on load and whenever the reader changes it, and rewritten with
 * history.replaceState, so stepping through maps adds nothing to the browser's history.
 */

/** The fragment that names `state`'s carousel positions and the input whose link is `link`. */
export function formatHash({ positions, moment = null, params = {} }, link, compared = null) {
  const named = new URLSearchParams();
  if (link) named.set('input', link);
  if (compared) named.set('compare', compared);
  if (moment !== null) named.set('at', moment);
  for (const [layer, k] of Object.entries(positions)) if (k) named.set(layer, k + 1);
  for (const [name, text] of Object.entries(params)) if (text !== null) named.set(name, text);
  return `#${named}`;
}

/**
 * What a fragment names, {input, link, positions, params, …}, or null for a fragment that is no
 * state (a link to a section, '#pool1'). `input` is an author's input (`inputIds` are the
 * picker's, in order) or null, `link` the name as written.
 */
export function parseHash(hash, inputIds) {
  if (!hash.includes('=')) return null;
  const params = new URLSearchParams(hash.slice(1));
  const positions = {}, named = {};
  for (const [name, value] of params) {
    if (['input', 'compare', 'at'].includes(name)) continue;
    named[name] = value;
    if (/^\d+$/.test(value) && Number(value) >= 1) positions[name] = Number(value) - 1;
  }
  const link = params.get('input');
  const at = params.get('at');
  return { input: inputNamed(link, inputIds), link, positions, params: named,
           compare: inputNamed(params.get('compare'), inputIds), compareLink: params.get('compare'),
           moment: /^\d+$/.test(at ?? '') ? Number(at) : null };
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
 * end). `resolve(link)` makes the input a link names, when it is not an author's, and gives its id.
 */
export function mountHash(store, inputIds, { linkOf = id => id, resolve = async () => null } = {}) {
  const read = async () => {
    const named = parseHash(location.hash, inputIds);
    if (!named) return;
    const input = named.input ?? (named.link ? await resolve(named.link) : null);
    const compare = named.compare ?? (named.compareLink ? await resolve(named.compareLink) : null);
    store.dispatch({ type: 'restore', input, positions: named.positions, compare, moment: named.moment,
                     params: named.params });
  };
  addEventListener('hashchange', read);
  store.subscribe((state, previous) => {
    if (['input', 'positions', 'compare', 'moment', 'params'].every(name => state[name] === previous[name])) return;
    const link = linkOf(state.input), compared = state.compare && linkOf(state.compare);
    if (link === undefined || compared === undefined) return;
    if (!saysAlready(parseHash(location.hash, inputIds), state, link, compared)) {
      history.replaceState(null, '', formatHash(state, link, compared));
    }
  });
  read();
}

/** Whether the fragment already names this state (then it stays as the reader wrote it). */
function saysAlready(named, { input, positions, moment, params }, link, compared) {
  return named !== null && (named.input === input || (named.input === null && named.link === link))
    && (named.compareLink ?? null) === (compared ?? null) && named.moment === moment
    && Object.entries(positions).every(([layer, k]) => (named.positions[layer] ?? 0) === k)
    && Object.entries(params).every(([name, text]) => (named.params[name] ?? null) === text);
}
