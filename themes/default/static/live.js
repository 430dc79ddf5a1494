/**
 * Words that follow the chosen input: the article's live values (`<span data-live="name">`,
 * e.g. the predicted class) and the picker's status line, which a screen reader announces.
 */
import { find, findAll } from './dom.js';
import { watchLoaded } from './store.js';

export function mountLive(root, store, site) {
  const spans = findAll('[data-live]', root);
  const status = find('.lw-status', root);
  watchLoaded(store, state => state.input, input => site.input(input), shown => {
    const fields = liveFields(shown);
    for (const span of spans) {
      if (span.dataset.live in fields) span.textContent = fields[span.dataset.live];
    }
    if (status) status.textContent = statusLine(shown, fields);
  });
}

/** The values an author may show live: the input's summary, with its label and confidence. */
function liveFields({ writer, summary }) {
  return {
    ...summary,
    label_name: summary.label_name ?? writer.text('unknown_label', {}),
    confidence: writer.percent(summary.probabilities[summary.predicted]),
  };
}

function statusLine({ writer, summary }, fields) {
  return writer.text('status', {
    label: fields.label_name, source: summary.source,
    predicted: summary.predicted_name, confidence: fields.confidence });
}
