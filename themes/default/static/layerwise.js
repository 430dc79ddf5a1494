// layerwise.js: carousels, the input picker, deep links, and the arithmetic behind each value.
// The page works without it: every map is in the HTML, shown as a grid.
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const clamp = (v, low, high) => Math.max(low, Math.min(high, v));

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

// Data files, each fetched once, when first needed.
const fetched = {};
const load = url => fetched[url] ??= fetch(url).then(r => {
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r.json();
});
const network = () => load('data/network.json');
const layerIndex = async id => (await network()).layers.findIndex(l => l.id === id);

const picker = $('.lw-picker');
const state = { input: $('input:checked', picker)?.value, carousels: {} };

// Carousels: one map at a time; buttons, arrow keys and swipes step through them.
function carousel(figure) {
  const items = $$('.lw-maps > li', figure);
  const counter = $('.lw-counter', figure);
  const box = $('.lw-carousel', figure);
  let current = 0;
  const show = (k, quiet) => {
    current = (k + items.length) % items.length;
    items.forEach((item, i) => item.classList.toggle('is-current', i === current));
    counter.textContent = `${current + 1} / ${items.length}`;
    if (!quiet) writeHash();
    figure.dispatchEvent(new Event('lw-map'));
  };
  $('.lw-prev', figure).addEventListener('click', () => show(current - 1));
  $('.lw-next', figure).addEventListener('click', () => show(current + 1));
  box.addEventListener('keydown', event => {
    const step = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
    if (step && !event.altKey && !event.ctrlKey && !event.metaKey) {
      show(current + step);
      event.preventDefault();
    }
  });
  let start;
  box.addEventListener('pointerdown', e => { start = e.pointerType === 'touch' && [e.clientX, e.clientY]; });
  box.addEventListener('pointerup', e => {
    const dx = start && e.clientX - start[0], dy = start && e.clientY - start[1];
    if (start && Math.abs(dx) > 40 && Math.abs(dx) > 2 * Math.abs(dy)) show(current - Math.sign(dx));
  });
  state.carousels[figure.dataset.layer] = { show, index: () => current };
}
const mapOf = figure => state.carousels[figure.dataset.layer]?.index() ?? 0;

// Surfaces: every pixel of a map (or cell of a vector) can be selected to see where it came from.
function surface(area, figure) {
  const rows = +area.dataset.rows, cols = +area.dataset.cols;
  let at = [0, 0];
  area.tabIndex = 0;
  area.setAttribute('role', 'group');
  area.setAttribute('aria-label', 'Select a value with the arrow keys or the pointer');
  const select = (r, c) => {
    at = [clamp(r, 0, rows - 1), clamp(c, 0, cols - 1)];
    mark(area, at[0], at[1], 1, 1);
    inspect(figure, at[0], at[1]);
  };
  const cell = e => {
    const b = $('img', area).getBoundingClientRect();
    return [Math.floor((e.clientY - b.top) / b.height * rows), Math.floor((e.clientX - b.left) / b.width * cols)];
  };
  area.addEventListener('pointermove', e => { if (e.pointerType === 'mouse') select(...cell(e)); });
  area.addEventListener('click', e => select(...cell(e)));
  area.addEventListener('keydown', e => {
    const d = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[e.key];
    if (!d) return;
    select(at[0] + d[0], at[1] + d[1]);
    e.preventDefault();
    e.stopPropagation(); // the arrows move the selection here, not the carousel
  });
  area.addEventListener('focus', () => select(...at));
}

// Outline rows [top, top + h) and columns [left, left + w) of a surface, clipped to it.
function mark(area, top, left, h, w) {
  const rows = +area.dataset.rows, cols = +area.dataset.cols, box = $('.lw-cursor', area);
  const t = clamp(top, 0, rows), l = clamp(left, 0, cols);
  const b = clamp(top + h, 0, rows), r = clamp(left + w, 0, cols);
  Object.assign(box.style, { top: `${100 * t / rows}%`, left: `${100 * l / cols}%`,
    height: `${100 * (b - t) / rows}%`, width: `${100 * (r - l) / cols}%` });
  box.hidden = false;
}

// Show a cell of another figure: switch its carousel to map k and outline the cells.
function point(layerId, k, top, left, h, w) {
  const figure = $(`.lw-figure[data-layer="${layerId}"]`);
  if (!figure) return;
  state.carousels[layerId]?.show(k, true);
  const area = figure.dataset.kind === 'maps' ? $('.is-current .lw-surface', figure) : $('.lw-surface', figure);
  if (area) mark(area, top, left, h, w);
}

// The inspector: the arithmetic behind the selected value, from the build's own numbers.
const at = (values, shape, k, r, c) => values[(k * shape[1] + r) * shape[2] + c];
const table = (rows, head) => `<table>${head ? `<caption>${head}</caption>` : ''}${rows.map(row =>
  `<tr>${row.map(v => `<td>${typeof v === 'number' ? num(v) : v}</td>`).join('')}</tr>`).join('')}</table>`;

async function inspect(figure, r, c) {
  const panel = $('.lw-inspector', figure);
  const [net, data] = await Promise.all([network(), load(`data/${state.input}.json`)]);
  const i = await layerIndex(figure.dataset.layer);
  const layer = net.layers[i], before = net.layers[i - 1], out = data.layers[layer.id];
  const k = figure.dataset.kind === 'maps' ? mapOf(figure) : 0;
  let html, value;
  if (layer.shape.length === 3) {
    value = at(out.values, layer.shape, k, r, c);
    html = `<p class="lw-where">${layer.id}, map ${k + 1}, row ${r + 1}, column ${c + 1}: <b>${num(value)}</b></p>`
      + (explain[layer.type] || explain.Same)(layer, before, data, k, r, c, value, panel) + field(layer, r, c);
  } else {
    const index = r * layer.grid[1] + c;
    value = out.values[index];
    html = `<p class="lw-where">${layer.id}, element ${index + 1} of ${out.values.length}: <b>${num(value)}</b></p>`
      + (vector[layer.type] || vector.Same)(layer, before, data, index, value);
  }
  panel.innerHTML = html;
  panel.hidden = false;
  $$('[data-channel]', panel).forEach(b => b.addEventListener('click', () => {
    $('.lw-detail', panel).innerHTML = convDetail(layer, before, data, k, r, c, +b.dataset.channel);
  }));
  const rf = $('.lw-field', panel);
  if (rf) mark(rf, ...rf.dataset.box.split(',').map(Number));
}

// The values a sliding window of `layer` sees in one channel of the layer before, zero outside.
function patchOf(layer, before, data, r, c, channel) {
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.stride || [1, 1], [ph, pw] = layer.padding || [0, 0];
  const inputs = data.layers[before.id], rows = [];
  for (let u = 0; u < kh; u++) {
    const row = [];
    for (let v = 0; v < kw; v++) {
      const y = r * sh - ph + u, x = c * sw - pw + v;
      const inside = y >= 0 && x >= 0 && y < before.shape[1] && x < before.shape[2];
      row.push(inside ? at(inputs.values, before.shape, channel, y, x) : 0);
    }
    rows.push(row);
  }
  return rows;
}

// Outline the window on the figure of the layer before.
function pointWindow(layer, before, channel, r, c) {
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.stride || [1, 1], [ph, pw] = layer.padding || [0, 0];
  point(before.id, channel, r * sh - ph, c * sw - pw, kh, kw);
}

// One input channel's share of a convolution: patch × kernel = products, and their sum.
function conv(layer, before, data, k, r, c, channel) {
  const patch = patchOf(layer, before, data, r, c, channel);
  const [kh, kw] = layer.kernel_size, channels = before.shape[0];
  const kernel = patch.map((row, u) => row.map((_, v) => layer.weight[((k * channels + channel) * kh + u) * kw + v]));
  const products = patch.map((row, u) => row.map((x, v) => x * kernel[u][v]));
  const sum = products.flat().reduce((a, b) => a + b, 0);
  const html = `<div class="lw-sum">${table(patch, `${before.id} map ${channel + 1}`)}<span>×</span>`
    + `${table(kernel, 'kernel')}<span>=</span>${table(products, 'products')}</div>`
    + `<p>Sum of the ${kh * kw} products: ${num(sum)}</p>`;
  return { html, sum };
}
const convDetail = (...args) => {
  const [layer, before, , , r, c, channel] = args;
  pointWindow(layer, before, channel, r, c);
  return conv(...args).html;
};

const explain = {
  Conv2d(layer, before, data, k, r, c, value) {
    const bias = layer.bias ? layer.bias[k] : 0, channels = before.shape[0];
    pointWindow(layer, before, 0, r, c);
    if (channels === 1) {
      const { html, sum } = conv(layer, before, data, k, r, c, 0);
      return html + `<p>${num(sum)} + bias ${num(bias)} = <b>${num(sum + bias)}</b>, the value shown.</p>`;
    }
    const parts = [...Array(channels).keys()].map(ch => conv(layer, before, data, k, r, c, ch).sum);
    const total = parts.reduce((a, b) => a + b, 0);
    const rows = parts.map((p, ch) => [`<button type="button" data-channel="${ch}">${before.id} map ${ch + 1}</button>`, p]);
    return `<p>Each of the ${channels} input maps contributes the sum of its ${layer.kernel_size.join(' × ')} products; choose one to see them.</p>`
      + table(rows, 'Contribution of each input map') + `<div class="lw-detail"></div>`
      + `<p>Total ${num(total)} + bias ${num(bias)} = <b>${num(total + bias)}</b>, the value shown.</p>`;
  },
  MaxPool2d(layer, before, data, k, r, c, value) {
    const rows = patchOf(layer, before, data, r, c, k);
    pointWindow(layer, before, k, r, c);
    const best = Math.max(...rows.flat());
    return `<p>The largest of the ${rows.flat().length} values in its window of ${before.id}, map ${k + 1}:</p>`
      + table(rows.map(row => row.map(v => v === best ? `<mark>${num(v)}</mark>` : v)));
  },
  AvgPool2d(layer, before, data, k, r, c, value) {
    const rows = patchOf(layer, before, data, r, c, k);
    pointWindow(layer, before, k, r, c);
    return `<p>The mean of the values in its window of ${before.id}, map ${k + 1}:</p>` + table(rows);
  },
  ReLU(layer, before, data, k, r, c, value) {
    const z = at(data.layers[before.id].values, before.shape, k, r, c);
    point(before.id, k, r, c, 1, 1);
    return `<p>${before.id} gave ${num(z)}; max(0, ${num(z)}) = <b>${num(Math.max(0, z))}</b>.</p>`;
  },
  Input(layer, before, data, k, r, c, value) {
    return '<p>The pixel after normalisation: (brightness − mean) / standard deviation.</p>';
  },
  Same(layer, before, data, k, r, c, value) {
    point(before.id, k, r, c, 1, 1);
    return `<p>${layer.type} passes ${before.id}'s value through unchanged when the network is evaluated.</p>`;
  },
};

const vector = {
  Flatten(layer, before, data, index) {
    if (before.shape.length !== 3) return vector.Same(layer, before, data, index);
    const [, h, w] = before.shape, k = Math.floor(index / (h * w)), r = Math.floor(index / w) % h, c = index % w;
    point(before.id, k, r, c, 1, 1);
    return `<p>It is ${before.id}, map ${k + 1}, row ${r + 1}, column ${c + 1}, moved into place: element ${index + 1} = ${k} × ${h * w} + ${r} × ${w} + ${c} + 1.</p>`;
  },
  Linear(layer, before, data, index) {
    return `<p>A weighted sum of all ${data.layers[before.id].values.length} values of ${before.id}, plus a bias.</p>`;
  },
  ReLU(layer, before, data, index) {
    const z = data.layers[before.id].values[index];
    return `<p>${before.id} gave ${num(z)}; max(0, ${num(z)}) = <b>${num(Math.max(0, z))}</b>.</p>`;
  },
  Same(layer, before, data, index) {
    return `<p>${layer.type} rearranges or passes on ${before.id}'s values.</p>`;
  },
};

// The input pixels a spatial value depends on, from the layer's receptive field.
function field(layer, r, c) {
  const f = layer.receptive;
  if (!f || layer.type === 'Input') return '';
  const top = f.start + r * f.jump, left = f.start + c * f.jump;
  const clip = (a, n) => `${clamp(a, 0, n - 1) + 1}–${clamp(a + f.size - 1, 0, n - 1) + 1}`;
  return `<div class="lw-receptive"><div class="lw-surface lw-field" data-rows="28" data-cols="28" data-box="${top},${left},${f.size},${f.size}">`
    + `<img src="frames/${state.input}/input-0.png" width="28" height="28" alt=""><span class="lw-cursor" hidden></span></div>`
    + `<p>It depends on a ${f.size} × ${f.size} patch of the input: rows ${clip(top, 28)}, columns ${clip(left, 28)}.</p></div>`;
}

// Switching the input: every frame URL names its input, so the figures swap in place.
async function chooseInput(id) {
  const input = (await load('data/inputs.json')).find(entry => entry.id === id);
  if (!input) return;
  state.input = id;
  const radio = $(`input[value="${id}"]`, picker);
  if (radio) radio.checked = true;
  for (const img of $$('.lw-figure img:not(.lw-legend img, .lw-kernel img)')) {
    img.src = img.getAttribute('src').replace(/^frames\/[^/]+\//, `frames/${id}/`);
  }
  for (const figure of $$('.lw-figure[data-kind="maps"], .lw-figure[data-kind="image"]')) {
    const layer = figure.dataset.layer, ranges = input.ranges[layer];
    $$('.lw-surface > img', figure).forEach((img, k) => {
      img.alt = `${layer}, map ${k + 1} of ${ranges.length}, values from ${num(ranges[k][0])} to ${num(ranges[k][1])}`;
    });
  }
  $$('.lw-figure[data-kind="logits"]').forEach(figure => showOutputs(figure, input));
  $$('.lw-inspector').forEach(panel => { panel.hidden = true; });
  $$('.lw-cursor').forEach(box => { box.hidden = true; });
  const fields = { ...input, label_name: input.label_name ?? 'unlabelled',
    confidence: percent(input.probabilities[input.predicted]) };
  $$('[data-live]').forEach(element => { element.textContent = fields[element.dataset.live]; });
  $('.lw-status', picker).textContent = `Showing ${fields.label_name} (${input.source}): `
    + `predicted ${input.predicted_name}, ${fields.confidence}.`;
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

// Deep links: #input=<id or position>&conv1=5 restores the input and each carousel's map.
function writeHash() {
  const params = new URLSearchParams({ input: state.input });
  for (const [id, c] of Object.entries(state.carousels)) if (c.index()) params.set(id, c.index() + 1);
  history.replaceState(null, '', `#${params}`);
}

async function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  const radios = $$('input[name="input"]', picker);
  let input = params.get('input');
  if (/^\d+$/.test(input || '')) input = radios[input - 1]?.value;
  if (input && input !== state.input) await chooseInput(input);
  for (const [id, position] of params) state.carousels[id]?.show(position - 1, true);
}

$$('.lw-figure[data-kind="maps"]').forEach(carousel);
$$('.lw-figure .lw-surface').forEach(area => surface(area, area.closest('.lw-figure')));
$$('.lw-figure').forEach(figure => figure.addEventListener('lw-map', () => {
  $$('.lw-cursor', figure).forEach(box => { box.hidden = true; });
  $('.lw-inspector', figure).hidden = true;
}));
picker?.addEventListener('change', async event => {
  if (event.target.name !== 'input') return;
  await chooseInput(event.target.value);
  writeHash();
});
addEventListener('hashchange', readHash);
if (location.hash.includes('=')) readHash();
