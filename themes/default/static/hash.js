/**
 * The URL fragment as a projection of the store, so a link can be shared:
 * '#input=<id>&conv1=5' names the chosen input and every carousel not on its first map
 * (counted from 1). An input may also be named by its position in the picker: '#input=3'.
 * The fragment is read on load and whenever the reader changes it, and rewritten with
 * history.replaceState, so stepping through maps adds nothing to the browser's history.
 */

/** The fragment that names `state`'s input and carousel positions. */
export function formatHash({ input, positions }) {
  const params = new URLSearchParams({ input });
  for (const [layer, k] of Object.entries(positions)) if (k) params.set(layer, k + 1);
  return `#${params}`;
}

/**
 * What a fragment names, {input, positions}, or null for a fragment that is no state (a link
 * to a section, '#pool1'). An unknown input is null; `inputIds` are the picker's, in order.
 */
export function parseHash(hash, inputIds) {
  if (!hash.includes('=')) return null;
  const params = new URLSearchParams(hash.slice(1));
  const positions = {};
  for (const [name, value] of params) {
    if (name !== 'input' && /^\d+$/.test(value) && Number(value) >= 1) {
      positions[name] = Number(value) - 1;
    }
  }
  return { input: inputNamed(params.get('input'), inputIds), positions };
}

/** An input named by its id or by its position in the picker (from 1); null if neither. */
function inputNamed(name, inputIds) {
  if (inputIds.includes(name)) return name;
  return /^\d+$/.test(name ?? '') ? inputIds[Number(name) - 1] ?? null : null;
}

/** Keep the store and the URL fragment in step, starting from the fragment the page opens with. */
export function mountHash(store, inputIds) {
  const read = () => {
    const named = parseHash(location.hash, inputIds);
    if (named) store.dispatch({ type: 'restore', ...named });
  };
  addEventListener('hashchange', read);
  store.subscribe((state, previous) => {
    const moved = state.input !== previous.input || state.positions !== previous.positions;
    if (moved && !saysAlready(parseHash(location.hash, inputIds), state)) {
      history.replaceState(null, '', formatHash(state));
    }
  });
  read();
}

/** Whether the fragment already names this state (then it stays as the reader wrote it). */
function saysAlready(named, { input, positions }) {
  return named !== null && named.input === input
    && Object.entries(positions).every(([layer, k]) => (named.positions[layer] ?? 0) === k);
}
