/**
 * The output table (`.lw-figure[data-kind="logits"]`): one row per class with its logit (a bar
 * and a number), its probability (a meter and a percentage), the predicted and the true class
 * marked. It follows the chosen input; the bars' geometry comes from data/inputs.json.
 */
import { find, findAll } from './dom.js';
import { watchLoaded } from './store.js';

export function mountOutputs(figures, store, site) {
  const tables = figures.filter(figure => figure.dataset.kind === 'logits');
  watchLoaded(store, state => state.input, input => site.input(input), shown => {
    for (const figure of tables) showOutputs(figure, shown);
  });
}

function showOutputs(figure, { writer, summary }) {
  findAll('tbody tr', figure).forEach((row, c) => {
    const [x, width] = summary.bars[c];
    const bar = find('rect', row);
    bar.setAttribute('x', x);
    bar.setAttribute('width', width);
    const [logit, probability] = findAll('.lw-value', row);
    logit.textContent = writer.number(summary.logits[c]);
    probability.textContent = writer.percent(summary.probabilities[c]);
    find('meter', row).value = summary.probabilities[c];
    row.classList.toggle('is-predicted', c === summary.predicted);
    row.classList.toggle('is-true', c === summary.label);
  });
}
