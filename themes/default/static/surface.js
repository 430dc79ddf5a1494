/**
 * Surfaces: every map, strip or image of a figure (`.lw-surface`) is a grid of values the reader
 * can select, by hovering with a mouse, clicking, or with the arrow keys once it has the focus.
 * The selected cell, and what it reads in the layers it is computed from, are outlined.
 */
import { element, find, findAll } from './dom.js';

/** Make every surface of these figures selectable, and outline what the store says. */
export function mountSurfaces(figures, store) {
  const surfaces = new Map();  // "layer/k" → surface element
  for (const figure of figures) {
    findAll('.lw-surface', figure).forEach((surface, k) => {
      surfaces.set(`${figure.dataset.layer}/${k}`, surface);
      bindSurface(surface, figure.dataset.layer, k, store);
    });
  }
  store.subscribe((state, previous) => {
    if (state.selection === previous.selection && state.highlights === previous.highlights) return;
    for (const key of outlinedSurfaces(state, previous)) {
      if (surfaces.has(key)) outline(surfaces.get(key), outlineOf(state, key));
    }
  });
}

/** The surfaces ("layer/k") with an outline before or after a change: those to redraw. */
function outlinedSurfaces(state, previous) {
  const boxes = [state.selection, ...state.highlights, previous.selection, ...previous.highlights];
  return new Set(boxes.filter(Boolean).map(box => `${box.layer}/${box.k}`));
}

/** Where the outline on surface "layer/k" goes: the selected cell, or a window it reads. */
function outlineOf({ selection, highlights }, key) {
  if (selection && `${selection.layer}/${selection.k}` === key) {
    return { top: selection.r, left: selection.c, height: 1, width: 1 };
  }
  return highlights.find(box => `${box.layer}/${box.k}` === key) ?? null;
}

const ARROWS = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

function bindSurface(surface, layer, k, store) {
  const { rows, cols } = gridOf(surface);
  let cell = [0, 0];  // the last cell selected here, where the arrow keys start
  const select = (r, c) => {
    cell = [clip(r, rows - 1), clip(c, cols - 1)];
    store.dispatch({ type: 'select', layer, k, r: cell[0], c: cell[1] });
  };
  surface.tabIndex = 0;
  surface.setAttribute('role', 'group');
  surface.setAttribute('aria-label', `${layer}: arrow keys select a value`);
  surface.addEventListener('pointermove', event => {
    if (event.pointerType === 'mouse') select(...cellAt(surface, event));
  });
  surface.addEventListener('click', event => select(...cellAt(surface, event)));
  surface.addEventListener('focus', () => select(...cell));
  surface.addEventListener('keydown', event => {
    const step = ARROWS[event.key];
    if (!step) return;
    select(cell[0] + step[0], cell[1] + step[1]);
    event.preventDefault();
    event.stopPropagation();  // the arrows move the selection here, not the carousel around it
  });
}

/** The grid a surface shows: its picture's size in pixels, one pixel a value (an image's, or a
 * painted canvas's where there is no image). */
export function gridOf(surface) {
  const picture = find('img', surface) ?? find('canvas', surface);
  const size = name => Number(picture.getAttribute(name));
  return { rows: size('height'), cols: size('width') };
}

/** The cell [r, c] under the pointer, however large the picture is drawn. */
function cellAt(surface, event) {
  const { rows, cols } = gridOf(surface);
  const box = find('img', surface).getBoundingClientRect();
  return [Math.floor((event.clientY - box.top) / box.height * rows),
          Math.floor((event.clientX - box.left) / box.width * cols)];
}

/** `value` held inside [0, high]. */
function clip(value, high) {
  return Math.max(0, Math.min(high, value));
}

/**
 * Outline rows [top, top + height) and columns [left, left + width) of a surface, clipped to
 * its grid; `box` null hides the outline. Any element with an <img> inside can be outlined.
 */
export function outline(surface, box) {
  const cursor = find('.lw-cursor', surface)
    ?? surface.appendChild(element('span', { className: 'lw-cursor', hidden: true }));
  cursor.hidden = !box;
  if (!box) return;
  const { rows, cols } = gridOf(surface);
  const top = clip(box.top, rows), bottom = clip(box.top + box.height, rows);
  const left = clip(box.left, cols), right = clip(box.left + box.width, cols);
  Object.assign(cursor.style, {
    top: `${100 * top / rows}%`, left: `${100 * left / cols}%`,
    height: `${100 * (bottom - top) / rows}%`, width: `${100 * (right - left) / cols}%`,
  });
}
