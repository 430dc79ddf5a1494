// layerwise.js: turns the static figures into carousels and lets the reader switch the input.
// The page works without it: every map is in the HTML, shown as a grid.
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

// Numbers as the build prints them (Python's '.3g' with a true minus sign).
function num(value) {
  const v = Number(Number(value).toPrecision(3)) + 0;
  const exponent = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
  const text = exponent < -4 || exponent >= 3
    ? v.toExponential(2).replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2')
    : String(v);
  return text.replace('-', '\u2212');
}
const percent = p => (100 * p).toFixed(1) + '%';

function carousel(figure) {
  const items = $$('.lw-maps > li', figure);
  const counter = $('.lw-counter', figure);
  let current = 0;
  const show = k => {
    current = (k + items.length) % items.length;
    items.forEach((item, i) => item.classList.toggle('is-current', i === current));
    counter.textContent = `${current + 1} / ${items.length}`;
  };
  $('.lw-prev', figure).addEventListener('click', () => show(current - 1));
  $('.lw-next', figure).addEventListener('click', () => show(current + 1));
  $('.lw-carousel', figure).addEventListener('keydown', event => {
    const step = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
    if (step && !event.altKey && !event.ctrlKey && !event.metaKey) {
      show(current + step);
      event.preventDefault();
    }
  });
}

// Switching the input: every frame URL names its input, so the figures swap in place.
let summaries;
async function inputSummaries() {
  summaries ??= fetch('data/inputs.json').then(response => {
    if (!response.ok) throw new Error(`data/inputs.json: ${response.status}`);
    return response.json();
  });
  return summaries;
}

async function chooseInput(id) {
  const input = (await inputSummaries()).find(entry => entry.id === id);
  if (!input) return;
  for (const img of $$('.lw-figure img:not(.lw-legend img)')) {
    img.src = img.getAttribute('src').replace(/^frames\/[^/]+\//, `frames/${id}/`);
  }
  for (const figure of $$('.lw-figure[data-kind="maps"], .lw-figure[data-kind="image"]')) {
    const layer = figure.dataset.layer, ranges = input.ranges[layer];
    $$('.lw-maps img, .lw-picture', figure).forEach((img, k) => {
      img.alt = `${layer}, map ${k + 1} of ${ranges.length}, values from ${num(ranges[k][0])} to ${num(ranges[k][1])}`;
    });
  }
  $$('.lw-figure[data-kind="logits"]').forEach(figure => showOutputs(figure, input));
  const fields = {
    ...input,
    label_name: input.label_name ?? 'unlabelled',
    confidence: percent(input.probabilities[input.predicted]),
  };
  $$('[data-live]').forEach(element => { element.textContent = fields[element.dataset.live]; });
}

function showOutputs(figure, input) {
  const bound = Math.max(...input.logits.map(Math.abs)) || 1;
  $$('tbody tr', figure).forEach((row, c) => {
    const logit = input.logits[c], p = input.probabilities[c];
    const rect = $('rect', row);
    rect.setAttribute('x', Math.min(0, logit / bound));
    rect.setAttribute('width', Math.abs(logit) / bound);
    const [logitText, pText] = $$('.lw-value', row);
    logitText.textContent = num(logit);
    pText.textContent = percent(p);
    $('meter', row).value = p;
    row.classList.toggle('is-predicted', c === input.predicted);
    row.classList.toggle('is-true', c === input.label);
  });
}

function picker(form) {
  form.addEventListener('change', event => {
    if (event.target.name === 'input') chooseInput(event.target.value);
  });
}

$$('.lw-figure[data-kind="maps"]').forEach(carousel);
$$('.lw-picker').forEach(picker);
