/**
 * The network at a glance (`.lw-figure[data-kind="overview"]`, `![…](overview:)`): one column per
 * layer with every map of the chosen input, vectors as strips, the probabilities at the end.
 * Pointing at a map, or moving to it with the arrow keys, outlines the maps it is computed from;
 * selecting it shows that map in its own figure and takes the reader there.
 *
 * The maps are cut from one sheet per layer and input (the contract's 'overview' URL: the maps
 * laid out in rows, one transparent pixel between them, so a sheet w + 1 pixels a map wide has
 * (width + 1) / (w + 1) columns). The reader's own inputs, and inputs at a moment of training, have
 * no frames: their maps are painted from their numbers (paint.js), as pictures.js paints the figures.
 * With a second input to compare with, every map shows the difference of the two on a diverging
 * scale, one scale per layer, and the probabilities show both.
 */
import { element, find, findAll } from './dom.js';
import { channelName, isSpatial } from './arithmetic.js';
import { mapsRead } from './operations.js';
import { shareOf } from './live.js';
import { shownInput, watchLoaded } from './store.js';

/** Map columns of a layer in the overview: enough that no column holds more than this many maps. */
const MAPS_DOWN = 8;

export async function mount(figures, store, site) {
  const network = await site.network();
  // The inputs as the figures show them: the chosen one and the compared one, at the slider's moment.
  const shown = state => [shownInput(state), state.compare && shownInput({ ...state, input: state.compare })].join(' ');
  for (const figure of figures) {
    const overview = new Overview(figure, network, store);
    watchLoaded(store, shown, both => pictures(site, network, ...both.split(' ')),
                loaded => overview.show(loaded), { now: true });
  }
}

/**
 * What the overview draws for one input: its summary and writer, and each layer's sheet or
 * numbers; with a second input to compare with, both inputs' numbers and the second's summary.
 */
async function pictures(site, network, input, compare = '') {
  const shown = await site.input(input);
  if (compare) {
    const [painter, outputs, second, other] = await Promise.all([
      import('./paint.js'), site.outputs(input), site.outputs(compare), site.summary(compare)]);
    return { ...shown, painter, outputs, second: { outputs: second, summary: other } };
  }
  if (site.isComputed(input)) {
    const [painter, outputs] = await Promise.all([import('./paint.js'), site.outputs(input)]);
    return { ...shown, painter, outputs };
  }
  const drawn = network.layers.slice(0, -1);
  const sheets = await Promise.all(drawn.map(layer => site.picture(
    isSpatial(layer) ? 'overview' : 'vector', { input, layer: layer.id })));
  return { ...shown, sheets: Object.fromEntries(drawn.map((layer, i) => [layer.id, sheets[i]])) };
}

class Overview {
  constructor(figure, network, store) {
    this.network = network;
    this.store = store;
    this.output = network.layers.at(-1);
    this.said = element('p', { className: 'lw-glance-said', attributes: { 'aria-live': 'polite' } });
    this.versus = element('p', { className: 'lw-glance-versus', hidden: true });
    this.columns = network.layers.slice(0, -1).map(layer => this.column(layer));
    this.result = this.outputColumn();
    this.buttons = [...this.columns.flatMap(column => column.buttons), this.result.button];
    const board = element('div', {
      className: 'lw-glance-board', attributes: {
        role: 'group', 'aria-label': 'Every map of every layer: arrow keys move between maps and layers, '
          + 'Enter shows a map in its own figure' } },
      ...this.columns.map(column => column.element), this.result.element);
    board.addEventListener('keydown', event => this.move(event));
    this.buttons[0].tabIndex = 0;
    this.view = element('div', { className: 'lw-glance-view' }, this.versus, board, this.said);
    figure.insertBefore(this.view, find('figcaption', figure));
  }

  /** A layer's column: its name and a button per map (one for a vector's strip). */
  column(layer) {
    const count = isSpatial(layer) ? layer.shape[0] : 1;
    const [rows, cols] = isSpatial(layer) ? layer.shape.slice(1) : layer.grid;
    const target = figureOf(layer.id);
    const buttons = Array.from({ length: count }, (_, k) => {
      const canvas = element('canvas', { width: cols, height: rows });
      const button = element('button', {
        type: 'button', className: 'lw-glance-map', tabIndex: -1,
        onclick: () => this.open(layer, k, target), onfocus: () => this.point(layer, k),
        onpointerenter: () => this.point(layer, k),
      }, canvas);
      button.dataset.layer = layer.id;
      button.dataset.k = k;
      return button;
    });
    const maps = element('div', { className: 'lw-glance-maps' }, ...buttons);
    maps.style.setProperty('--cols', Math.ceil(count / MAPS_DOWN));
    const name = element('span', { className: 'lw-glance-name' }, layer.id);
    return { layer, target, buttons, element: element('div', { className: 'lw-glance-layer' }, name, maps) };
  }

  /** The last column: the output's probabilities (or sigmoid scores), one line per class, a button to its figure. */
  outputColumn() {
    const rows = this.network.classes.map(name => {
      const bar = element('span', { className: 'lw-glance-bar' });
      const other = element('span', { className: 'lw-glance-bar is-second', hidden: true });
      const value = element('span', { className: 'lw-glance-value' });
      return { bar, other, value, row: element('span', { className: 'lw-glance-class' },
                                               element('span', {}, name), element('span', {}, bar, other), value) };
    });
    const target = figureOf(this.output.id);
    const button = element('button', {
      type: 'button', className: 'lw-glance-output', tabIndex: -1,
      onclick: () => this.open(this.output, 0, target), onfocus: () => this.point(this.output, 0),
      onpointerenter: () => this.point(this.output, 0),
    }, ...rows.map(({ row }) => row));
    button.dataset.layer = this.output.id;
    button.dataset.k = 0;
    const name = element('span', { className: 'lw-glance-name' }, this.output.id);
    return { rows, button, target, element: element('div', { className: 'lw-glance-layer is-output' }, name, button) };
  }

  /** Draw every map of one input (or of two inputs' difference) and name it in each button. */
  show({ writer, summary, sheets, outputs, painter, contract, second }) {
    const pair = second && [summary, second.summary];
    const labels = pair && pair.map(each => each.label_name ?? each.source);
    const names = pair && (labels[0] === labels[1] ? pair.map(each => each.source) : labels);  // two coats: by source
    this.versus.hidden = !second;
    this.view.classList.toggle('is-comparing', Boolean(second));
    if (second) {
      this.versus.textContent = `Each map shows ${names[0]} minus ${names[1]}: red where ${names[0]} is higher, `
        + `blue where ${names[1]} is, on one scale per layer.`;
    }
    for (const { layer, target, buttons } of this.columns) {
      const [rows, cols] = isSpatial(layer) ? layer.shape.slice(1) : layer.grid;
      const values = second && differenceOf(outputs[layer.id], second.outputs[layer.id]);
      const differences = second && painter.divergingScale(values, contract);  // one scale for the whole layer
      buttons.forEach((button, k) => {
        const canvas = find('canvas', button);
        // A one-channel input's map is the input itself, so it says which input it shows (README, "Every view
        // follows the chosen input"); a difference of two inputs shows neither.
        if (!second && layer === this.network.layers[0] && layer.shape[0] === 1) canvas.dataset.showsInput = 'chosen';
        else delete canvas.dataset.showsInput;
        if (second) {
          const size = rows * cols, { vmin, vmax } = differences;
          painter.paint(canvas, { shape: [rows, cols], values: values.subarray(k * size, (k + 1) * size) },
                        differences, contract.palettes[differences.cmap]);
          const what = isSpatial(layer) ? `${layer.id}, map ${k + 1} of ${buttons.length}` : layer.id;
          button.setAttribute('aria-label',
                              `${what}: ${names[0]} minus ${names[1]}, ${writer.range(vmin, vmax)}${shownIn(target)}`);
          return;
        }
        if (sheets) drawFromSheet(canvas, sheets[layer.id], k, rows, cols);
        else {
          const output = outputs[layer.id];
          const scale = contract.scales[layer.id];
          painter.paint(canvas, isSpatial(layer) ? output.slice(k) : output.reshape([rows, cols]), scale,
                        contract.palettes[scale.cmap]);
        }
        const range = writer.range(...summary.ranges[layer.id][k]);
        const name = isSpatial(layer)
          ? writer.text('map_alt', { layer: layer.id, number: k + 1, count: buttons.length, range })
          : writer.text('vector_alt', { layer: layer.id, size: rows * cols, range, rows, cols });
        button.setAttribute('aria-label', `${name}${shownIn(target)}`);
      });
    }
    const { rows, button, target } = this.result;
    rows.forEach(({ bar, other, value, row }, c) => {
      const [one, two] = [summary, second?.summary].map(each => each && shareOf(writer, each, c));
      bar.style.width = `${100 * one.share}%`;
      value.textContent = one.shown;
      other.hidden = !second;
      if (second) {
        other.style.width = `${100 * two.share}%`;
        value.textContent += ` vs ${two.shown}`;
      }
      row.classList.toggle('is-predicted', c === summary.predicted);
    });
    button.title = `${this.output.id}${shownIn(target)}`;
  }

  /** Outline map k of `layer` and the maps it is computed from, and say which they are. */
  point(layer, k) {
    const sources = sourcesOf(layer, k, this.network);
    for (const button of this.buttons) {
      const { layer: id, k: map } = button.dataset;
      button.classList.toggle('is-pointed', id === layer.id && Number(map) === k);
      button.classList.toggle('is-source', sources.some(source => source.layer.id === id
        && (source.maps === null || source.maps.includes(Number(map)))));
    }
    const what = !isSpatial(layer) ? layer.id : layer.type === 'Input' && layer.shape[0] > 1
      ? `${layer.id}, its ${channelName(layer.shape[0], k)} channel` : `${layer.id}, map ${k + 1}`;
    this.said.textContent = sources.length
      ? `${what} is computed from ${sources.map(describe).join(' and ')}.` : `${what} is the image itself.`;
  }

  /** Show map k of `layer` in its figure, and take the reader there. */
  open(layer, k, target) {
    this.point(layer, k);
    if (!target) return;
    this.store.dispatch({ type: 'showMap', layer: layer.id, k });
    target.scrollIntoView({ block: 'start' });
    const carousel = find('.lw-carousel', target);
    if (!carousel) target.tabIndex = -1;
    (carousel ?? target).focus({ preventScroll: true });
  }

  /** Arrow keys: up and down within a layer, left and right to the same place in the next layer. */
  move(event) {
    const button = event.target.closest('button');
    if (!button || event.altKey || event.ctrlKey || event.metaKey) return;
    const columns = [...this.columns.map(column => column.buttons), [this.result.button]];
    const c = columns.findIndex(buttons => buttons.includes(button));
    const k = columns[c].indexOf(button);
    const across = { ArrowLeft: -1, ArrowRight: 1 }[event.key], down = { ArrowUp: -1, ArrowDown: 1 }[event.key];
    let next = null;
    if (down) next = columns[c][k + down];
    if (across) {
      const column = columns[c + across];
      next = column?.[Math.min(column.length - 1, Math.floor(k * column.length / columns[c].length))];
    }
    if (event.key === 'Home') next = this.buttons[0];
    if (event.key === 'End') next = this.buttons.at(-1);
    if (!next) return;
    event.preventDefault();
    button.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }
}

/** Two outputs of one layer: their difference, worked out in float64. */
function differenceOf(a, b) {
  return Float64Array.from(a.values, (value, i) => value - b.values[i]);
}

/** The layers and maps that map k of `layer` reads: [{layer, maps (null: all of it)}]. */
function sourcesOf(layer, k, network) {
  const inputs = layer.inputs.map(id => network.layers.find(each => each.id === id));
  if (!isSpatial(layer)) return inputs.map(input => ({ layer: input, maps: null }));
  return mapsRead(layer, k, inputs)
    .map((maps, n) => ({ layer: inputs[n], maps: isSpatial(inputs[n]) ? maps : null }))
    .filter(source => source.maps?.length !== 0);  // a cat's map comes from one of its inputs
}

function describe({ layer, maps }) {
  if (!isSpatial(layer)) return `all ${layer.shape[0]} values of ${layer.id}`;
  const count = layer.shape[0];
  if (layer.type === 'Input' && count > 1) {  // the image's channels: its colours
    const names = (maps ?? [...Array(count).keys()]).map(k => channelName(count, k));
    const listed = names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)} channels`
      : `${names[0]} channel`;
    return `the ${listed} of ${layer.id}`;
  }
  if (maps === null || maps.length === count) return count === 1 ? `${layer.id}` : `all ${count} maps of ${layer.id}`;
  return `map${maps.length > 1 ? 's' : ''} ${maps.map(map => map + 1).join(', ')} of ${layer.id}`;
}

/** Cut map k out of a layer's sheet (a vector's strip is its own sheet). */
function drawFromSheet(canvas, sheet, k, rows, cols) {
  const columns = (sheet.width + 1) / (cols + 1);
  const x = (k % columns) * (cols + 1), y = Math.floor(k / columns) * (rows + 1);
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, cols, rows);
  context.drawImage(sheet, x, y, cols, rows, 0, 0, cols, rows);
}

/** The figure of a layer in the article, if it has one. */
function figureOf(layerId) {
  return findAll('.lw-figure[data-layer]').find(figure => figure.dataset.layer === layerId) ?? null;
}

/** How a button says where selecting it leads. */
function shownIn(figure) {
  const number = figure && find('.lw-number', figure)?.textContent.replace(/\.$/, '');
  return number ? `; show it in ${number}` : '';
}
