// layerwise.js: carousels, picker, deep links, the arithmetic behind each value.
// Without it the page still works: every map is in the HTML, as a grid.
'use strict';

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];
const clamp = (v, low, high) => Math.max(low, Math.min(high, v));
const range = n => [...Array(n).keys()];

// Numbers as the build prints them: Python's '.3g', true minus signs.
function num(value) {
  const v = +(+value).toPrecision(3) + 0, exponent = v && Math.floor(Math.log10(Math.abs(v)));
  const text = exponent < -4 || exponent > 2
    ? v.toExponential(2).replace(/\.?0+e/, 'e').replace(/e(.)(\d)$/, 'e$10$2') : String(v);
  return text.replaceAll('-', '\u2212');
}
const percent = p => (100 * p).toFixed(1) + '%';

// Data files, fetched once, when first needed (again if that failed).
const fetched = {};
const load = (url, type = 'json') => fetched[url] ??= fetch(url).then(r => {
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
  return r[type]();
}).catch(e => { delete fetched[url]; throw e; });
const network = () => load('data/network.json');
// An input's exact float32 outputs: {layer id: Float32Array}.
async function outputs(id) {
  const [net, buffer] = await Promise.all([network(), load(`data/${id}.f32`, 'arrayBuffer')]);
  let offset = 0;
  return Object.fromEntries(net.layers.map(l => {
    const n = l.shape.reduce((a, b) => a * b), view = new Float32Array(buffer, 4 * offset, n);
    offset += n;
    return [l.id, view];
  }));
}

const picker = $('.lw-picker');
const state = { input: $('input:checked', picker)?.value, carousels: {} };

// Carousels: one map at a time, stepped by buttons, arrow keys and swipes.
function carousel(figure) {
  const items = $$('.lw-maps > li', figure), counter = $('.lw-counter', figure), box = $('.lw-carousel', figure);
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
    const dx = e.clientX - start?.[0], dy = e.clientY - start?.[1];
    if (Math.abs(dx) > 40 && Math.abs(dx) > 2 * Math.abs(dy)) show(current - Math.sign(dx));
  });
  state.carousels[figure.dataset.layer] = { show, index: () => current };
}

// Surfaces: any pixel of a map, or cell of a vector, can be selected.
const size = area => { const img = $('img', area); return [+img.getAttribute('height'), +img.getAttribute('width')]; };

function surface(area, figure) {
  const [rows, cols] = size(area);
  let at = [0, 0];
  area.tabIndex = 0;
  area.setAttribute('role', 'group');
  area.setAttribute('aria-label', `${figure.dataset.layer}: arrow keys select a value`);
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

// Outline rows [top, top + h) and columns [left, left + w) of a surface, clipped.
function mark(area, top, left, h, w) {
  const [rows, cols] = size(area);
  const box = $('.lw-cursor', area) || area.appendChild(Object.assign(document.createElement('span'), { className: 'lw-cursor' }));
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

// The inspector: the arithmetic behind a value. `s` is the selection: layer, the layer
// before, every layer's outputs v, map k, row r, column c.
const at = (values, shape, k, r, c) => values[(k * shape[1] + r) * shape[2] + c];
const table = (rows, head) => `<table>${head ? `<caption>${head}</caption>` : ''}${rows.map(row =>
  `<tr>${row.map(v => `<td>${typeof v === 'number' ? num(v) : v}</td>`).join('')}</tr>`).join('')}</table>`;
const equals = (sum, bias) => `${num(sum)} + bias ${num(bias)} = <b>${num(sum + bias)}</b>, the value shown.`;
const relu = (id, z) => `<p>${id} gave ${num(z)}; max(0, ${num(z)}) = <b>${num(Math.max(0, z))}</b>.</p>`;

async function inspect(figure, r, c) {
  const panel = $('.lw-inspector', figure);
  const [net, v] = await Promise.all([network(), outputs(state.input)]);
  const i = net.layers.findIndex(l => l.id === figure.dataset.layer);
  const layer = net.layers[i], before = net.layers[i - 1], values = v[layer.id];
  const s = { layer, before, v, r, c, k: state.carousels[layer.id]?.index() ?? 0, image: net.layers[0].shape };
  if (layer.shape.length === 3) {
    panel.innerHTML = `<p>${layer.id}, map ${s.k + 1}, row ${r + 1}, column ${c + 1}: `
      + `<b>${num(at(values, layer.shape, s.k, r, c))}</b></p>${(explain[layer.type] || explain.Same)(s)}${field(s)}`;
  } else {
    s.index = r * layer.grid[1] + c;
    panel.innerHTML = `<p>${layer.id}, element ${s.index + 1} of ${values.length}: <b>${num(values[s.index])}</b></p>`
      + (vector[layer.type] || vector.Same)(s);
  }
  panel.hidden = false;
  $('.lw-said', figure).textContent = $('p', panel).textContent;
  $$('[data-channel]', panel).forEach(b => b.addEventListener('click', () => {
    $('.lw-detail', panel).innerHTML = conv(s, +b.dataset.channel, true).html;
  }));
  const rf = $('.lw-field', panel);
  if (rf) mark(rf, ...rf.dataset.box.split(',').map(Number));
}

// What a sliding window sees in one channel of the layer before (0 outside); `show` outlines it.
function patch({ layer, before, v, r, c }, channel, show) {
  const [kh, kw] = layer.kernel_size, [sh, sw] = layer.stride || [1, 1], [ph, pw] = layer.padding || [0, 0];
  const top = r * sh - ph, left = c * sw - pw, [, h, w] = before.shape;
  if (show) point(before.id, channel, top, left, kh, kw);
  return range(kh).map(u => range(kw).map(q => {
    const y = top + u, x = left + q;
    return y >= 0 && x >= 0 && y < h && x < w ? at(v[before.id], before.shape, channel, y, x) : 0;
  }));
}

// One input channel's share of a convolution: patch × kernel = products, and their sum.
function conv(s, channel, show) {
  const { layer, before, k } = s, [kh, kw] = layer.kernel_size, channels = before.shape[0];
  const inputs = patch(s, channel, show);
  const kernel = inputs.map((row, u) => row.map((_, v) => layer.weight[((k * channels + channel) * kh + u) * kw + v]));
  const products = inputs.map((row, u) => row.map((x, v) => x * kernel[u][v]));
  const sum = products.flat().reduce((a, b) => a + b, 0);
  return { sum, html: `<div class="lw-sum">${table(inputs, `${before.id} map ${channel + 1}`)}<span>×</span>`
    + `${table(kernel, 'kernel')}<span>=</span>${table(products, 'products')}</div>`
    + `<p>Sum of the ${kh * kw} products: ${num(sum)}</p>` };
}

const explain = {
  Conv2d(s) {
    const { layer, before } = s, bias = layer.bias ? layer.bias[s.k] : 0, channels = before.shape[0];
    if (channels === 1) {
      const { html, sum } = conv(s, 0, true);
      return `${html}<p>${equals(sum, bias)}</p>`;
    }
    patch(s, 0, true);
    const parts = range(channels).map(ch => conv(s, ch).sum);
    const cols = Math.ceil(Math.sqrt(channels)), cells = parts.map((p, ch) =>
      `<button type="button" data-channel="${ch}" aria-label="${before.id} map ${ch + 1}: ${num(p)}">${num(p)}</button>`);
    const rows = range(Math.ceil(channels / cols)).map(i => cells.slice(i * cols, i * cols + cols));
    return `<p>Each of the ${channels} maps of ${before.id} adds the sum of its products; choose one to see them.</p>`
      + `${table(rows, `map 1 to ${channels}, row by row`)}<div class="lw-detail"></div>`
      + `<p>Total ${equals(parts.reduce((a, b) => a + b, 0), bias)}</p>`;
  },
  MaxPool2d(s) {
    const rows = patch(s, s.k, true), best = Math.max(...rows.flat());
    return `<p>The largest value in its window of ${s.before.id}, map ${s.k + 1}:</p>`
      + table(rows.map(row => row.map(v => v === best ? `<mark>${num(v)}</mark>` : v)));
  },
  AvgPool2d: s => `<p>The mean of its window of ${s.before.id}, map ${s.k + 1}:</p>${table(patch(s, s.k, true))}`,
  ReLU(s) {
    point(s.before.id, s.k, s.r, s.c, 1, 1);
    return relu(s.before.id, at(s.v[s.before.id], s.before.shape, s.k, s.r, s.c));
  },
  Input: () => '<p>The pixel, normalised: (brightness − mean) / std.</p>',
  Same(s) {
    point(s.before.id, s.k, s.r, s.c, 1, 1);
    return `<p>${s.layer.type}: ${s.before.id}'s value, unchanged.</p>`;
  },
};

const vector = {
  Flatten(s) {
    const { before, index } = s;
    if (before.shape.length !== 3) return vector.Same(s);
    const [, h, w] = before.shape, k = Math.floor(index / (h * w)), r = Math.floor(index / w) % h, c = index % w;
    point(before.id, k, r, c, 1, 1);
    return `<p>It is ${before.id}, map ${k + 1}, row ${r + 1}, column ${c + 1}, moved into place: `
      + `element ${index + 1} = ${k} × ${h * w} + ${r} × ${w} + ${c} + 1.</p>`;
  },
  Linear: s => `<p>A weighted sum of all ${s.v[s.before.id].length} values of ${s.before.id}, plus a bias.</p>`,
  ReLU: s => relu(s.before.id, s.v[s.before.id][s.index]),
  Same: s => `<p>${s.layer.type}: ${s.before.id}'s value, unchanged.</p>`,
};

// The input pixels a spatial value depends on, from the layer's receptive field.
function field({ layer, r, c, image: [, h, w] }) {
  const f = layer.receptive;
  if (!f || layer.type === 'Input') return '';
  const top = f.start + r * f.jump, left = f.start + c * f.jump;
  const span = (a, n) => `${clamp(a, 0, n - 1) + 1}–${clamp(a + f.size - 1, 0, n - 1) + 1}`;
  return `<div class="lw-receptive"><div class="lw-field" data-box="${top},${left},${f.size},${f.size}">`
    + `<img src="frames/${state.input}/input-0.png" width="${w}" height="${h}" alt=""></div>`
    + `<p>It depends on a ${f.size} × ${f.size} patch of the input: rows ${span(top, h)}, columns ${span(left, w)}.</p></div>`;
}

// Picking an input: frame URLs name their input, so figures swap in place.
async function chooseInput(id) {
  const input = (await load('data/inputs.json')).find(entry => entry.id === id);
  if (!input) return;
  state.input = id;
  const radio = $(`input[value="${id}"]`, picker);
  if (radio) radio.checked = true;
  for (const img of $$('.lw-figure img:not(.lw-legend img, .lw-kernel img)')) {
    img.src = img.getAttribute('src').replace(/^frames\/[^/]+\//, `frames/${id}/`);
  }
  for (const figure of $$('.lw-figure[data-layer]')) {
    const ranges = input.ranges[figure.dataset.layer];
    $$('.lw-surface > img', figure).forEach((img, k) => {
      img.alt = img.alt.replace(/from \S+ to [^\s,]+/, `from ${num(ranges[k][0])} to ${num(ranges[k][1])}`);
    });
  }
  $$('.lw-figure[data-kind="logits"]').forEach(figure => showOutputs(figure, input));
  $$('.lw-inspector, .lw-cursor').forEach(e => { e.hidden = true; });
  const fields = { ...input, label_name: input.label_name ?? 'not known',
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
    const text = $$('.lw-value', row);
    text[0].textContent = num(logit);
    text[1].textContent = percent(p);
    $('meter', row).value = p;
    row.classList.toggle('is-predicted', c === input.predicted);
    row.classList.toggle('is-true', c === input.label);
  });
}

// Deep links: #input=<id or position>&conv1=5 restores the input and the maps shown.
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
  for (const [id, position] of params) if (+position) state.carousels[id]?.show(position - 1, true);
}

$$('.lw-figure[data-kind="maps"]').forEach(carousel);
$$('.lw-figure .lw-surface').forEach(area => surface(area, area.closest('.lw-figure')));
$$('.lw-figure').forEach(figure => figure.addEventListener('lw-map', () => {
  $$('.lw-cursor, .lw-inspector', figure).forEach(e => { e.hidden = true; });
}));
picker?.addEventListener('change', async event => {
  if (event.target.name !== 'input') return;
  await chooseInput(event.target.value);
  writeHash();
});
addEventListener('hashchange', readHash);
if (location.hash.includes('=')) readHash();
