/**
 * The output table (`.lw-figure[data-kind="logits"]`): per class its score, as the contract's
 * `output` names it (a bar, or a meter from 0 to 1), any probability it gives, the predicted and
 * true class marked. It follows the chosen input (bars from data/inputs.json). Each score is a
 * button that selects it, so the inspector can explain it like any other value.
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

/** Score c becomes a button selecting element c (row 0, column c of the layer read as a row). */
function makeLogitsSelectable(figure, store) {
  const layer = figure.dataset.layer;
  findAll('tbody tr', figure).forEach((row, c) => {
    const score = find('.lw-value', row);
    score.replaceWith(element('button', {
      type: 'button', className: 'lw-value lw-logit',
      attributes: { 'aria-label': scoreLabel(figure, row, score.textContent) },
      onclick: () => store.dispatch({ type: 'select', layer, k: 0, r: 0, c }),
    }, score.textContent));
  });
}

/** A score button's name: its column ("Logit"), class, value, and what it does. */
function scoreLabel(figure, row, value) {
  const heading = find('thead th:nth-child(2)', figure).textContent;
  return `${heading} of ${find('th', row).textContent}: ${value}; explain it`;
}

function showOutputs(figure, { contract, writer, summary }) {
  const { meter, percent, probability } = contract.output;
  const scores = summary[contract.output.kind];
  findAll('tbody tr', figure).forEach((row, c) => {
    const [score, chance] = findAll('.lw-value', row);
    const [scoreMeter, chanceMeter] = findAll('meter', row);
    score.textContent = percent ? writer.percent(scores[c]) : writer.number(scores[c]);
    score.setAttribute('aria-label', scoreLabel(figure, row, score.textContent));
    if (meter) scoreMeter.value = scores[c];
    else {
      const [x, width] = summary.bars[c];
      find('rect', row).setAttribute('x', x);
      find('rect', row).setAttribute('width', width);
    }
    if (probability) {
      chance.textContent = writer.percent(summary.probabilities[c]);
      (meter ? chanceMeter : scoreMeter).value = summary.probabilities[c];
    }
    row.classList.toggle('is-predicted', c === summary.predicted);
    row.classList.toggle('is-true', c === summary.label);
  });
}
