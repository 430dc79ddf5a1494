/**
 * Whether the page can use the values a link gives the figures' own state (the store's `params`,
 * named in main.js's SCRIPTS `links`): the attribution figure's other class (`versus`, from 1), its
 * selected pixel (`pixel`, 'row,column' from 1) and the channel its maps show (`channel`, from 1).
 * hash.js asks when it reads a link, so a value is named under the picker at once, not when the
 * figure comes near; the answer needs only what the page reads anyway (the network's classes and
 * input shape, the shown input's scores), not the figure's module. Loaded for a link that names one.
 */
import { otherClass } from './contributions.js';
import { isCount } from './hash.js';
import { shownInput } from './store.js';

/** Each checked param's [why, fields] for a value the page cannot use, or null for one it can. */
const CHECKS = {
  versus(value, { classes, chosen, other }) {
    const named = countUpTo(value, classes.length);
    if (named === null) return ['link_versus', { count: classes.length }];
    return named === chosen ? ['link_versus_same', { other: classes[other(chosen)] }] : null;
  },
  pixel(value, { rows, cols }) {
    const [, r, c] = /^(\d+),(\d+)$/.exec(value) ?? [];
    return countUpTo(r, rows) !== null && countUpTo(c, cols) !== null ? null : ['link_pixel', { rows, cols }];
  },
  channel(value, { channels }) {
    if (channels === 1) return ['link_one_channel', {}];
    return countUpTo(value, channels) === null ? ['link_channel', { count: channels }] : null;
  },
};

/**
 * What of `state`'s params the page cannot use, [{name, value, why, fields}] (store.js's unusable).
 * `versus` may not name the class explained: the logit selected in the output table, else the
 * predicted class of the input shown; the figure then shows `other`, its own choice.
 */
export async function unusableParams(state, site) {
  const named = Object.entries(state.params).filter(([name, value]) => name in CHECKS && value !== null);
  if (!named.length) return [];
  const [contract, network, summary] = await Promise.all([
    site.contract(), site.network(), site.summary(shownInput(state))]);
  const [channels, rows, cols] = network.layers[0].shape, { selection } = state;
  const chosen = selection?.layer === network.layers.at(-1).id ? selection.c : summary.predicted;
  const known = { classes: network.classes, chosen, channels, rows, cols,
                  other: c => otherClass(summary, summary[contract.output.kind], c) };
  return named.flatMap(([name, value]) => {
    const [why, fields] = CHECKS[name](value, known) ?? [];
    return why ? [{ name, value, why, fields }] : [];
  });
}

/** The number a link's `text` counts from 1 to `count`, from 0; null for any other text. */
export function countUpTo(text, count) {
  return isCount(text) && Number(text) <= count ? Number(text) - 1 : null;
}
