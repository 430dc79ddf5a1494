/**
 * The output table (`.lw-figure[data-kind="logits"]`): one row per class with its logit (a bar
 * and a number), its probability (a meter and a percentage), the predicted and the true class
 * marked. It follows the chosen input; the bars' geometry comes from data/inputs.json. Each
 * logit is a button that selects it, so the inspector can explain it like any other value.
 */
import { element, find, findAll } from './dom.js';
import { shownInput, watchLoaded } from './store.js';

export function mountOutputs(figures, store, site) {
  const tables = figures.filter(figure => figure.dataset.kind === 'logits');
  for (const figure of tables) makeLogitsSelectable(figure, store);
  watchLoaded(store, shownInput, input => site.input(input), shown => {
    for (const figure of tables) showOutputs(figure, shown);
  });
}

/** Logit c becomes a button selecting element c (row 0, column c of the layer read as a row). */
function makeLogitsSelectable(figure, store) {
  const layer = figure.dataset.layer;
  findAll('tbody tr', figure).forEach((row, c) => {
    const logit = find('.lw-value', row);
    logit.replaceWith(element('button', {
      type: 'button', className: 'lw-value lw-logit',
      attributes: { 'aria-label': logitLabel(row, logit.textContent) },
      onclick: () => store.dispatch({ type: 'select', layer, k: 0, r: 0, c }),
    }, logit.textContent));
  });
}

/** A logit button's name: its class, its value, and what it does. */
function logitLabel(row, value) {
  return `Logit of ${find('th', row).textContent}: ${value}; explain it`;
}

function showOutputs(figure, { writer, summary }) {
  findAll('tbody tr', figure).forEach((row, c) => {
    const [x, width] = summary.bars[c];
    const bar = find('rect', row);
    bar.setAttribute('x', x);
    bar.setAttribute('width', width);
    const [logit, probability] = findAll('.lw-value', row);
    logit.textContent = writer.number(summary.logits[c]);
    logit.setAttribute('aria-label', logitLabel(row, logit.textContent));
    probability.textContent = writer.percent(summary.probabilities[c]);
    find('meter', row).value = summary.probabilities[c];
    row.classList.toggle('is-predicted', c === summary.predicted);
    row.classList.toggle('is-true', c === summary.label);
  });
}
