/**
 * Words that follow the chosen input: the article's live values (`<span data-live="name">`,
 * e.g. the predicted class) and the picker's status line, which a screen reader announces and
 * which says when the numbers were computed in the page.
 */
import { find, findAll } from './dom.js';
import { shownInput, watchLoaded } from './store.js';

export function mountLive(root, store, site) {
  const spans = findAll('[data-live]', root);
  const status = find('.lw-status', root);
  watchLoaded(store, shownInput, input => site.input(input), shown => {
    const fields = liveFields(shown);
    for (const span of spans) {
      if (span.dataset.live in fields) span.textContent = fields[span.dataset.live];
    }
    if (!status) return;
    const { moment: step } = store.getState(), id = shown.summary.id;
    const computed = step !== null ? ` ${shown.writer.text('computed_moment', { step: shown.writer.whole(step) })}`
      : site.isComputed(id) ? ` ${shown.writer.text('computed', {})}` : '';
    status.textContent = statusLine(shown, fields) + computed;
  });
}

/** The values an author may show live: the input's summary, with its label and confidence. */
function liveFields({ writer, summary }) {
  const { shown } = shareOf(writer, summary, summary.predicted);
  return {
    ...summary,
    label_name: summary.label_name ?? writer.text('unknown_label', {}),
    confidence: summary.probabilities ? shown : writer.text('score_confidence', { score: shown }),
  };
}

/** Class c's probability (0 to 1, and printed), or its sigmoid score where there are none. */
export function shareOf(writer, { probabilities: p, scores }, c) {
  return p ? { share: p[c], shown: writer.percent(p[c]) } : { share: scores[c], shown: writer.number(scores[c]) };
}

function statusLine({ writer, summary }, fields) {
  return writer.text(summary.label === null ? 'status_unlabelled' : 'status', {
    label: fields.label_name, source: summary.source,
    predicted: summary.predicted_name, confidence: fields.confidence });
}
