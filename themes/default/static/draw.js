/**
 * The drawing pad: the reader draws the network's input at its own size, shown enlarged, with a
 * brush or an eraser, by mouse, pen or touch, or from the keyboard (the arrow keys move a cursor,
 * Space paints). Every change runs the network (own.js) and the figures follow; when a stroke
 * ends the drawing also gets a link, so the URL fragment can share it.
 *
 * Loaded when the reader first opens the pad or follows a link to a drawing (see main.js).
 */
import { element, find, findAll } from './dom.js';
import { drawingLink } from './own.js';
import { paintPixels } from './paint.js';

/** The brush's radius and its soft edge, in input pixels; the drawing's values go to 255. */
const RADIUS = 1.1, EDGE = 0.9;

export class Pad {
  /** A pad in `panel` (empty until now) for inputs of `size` [rows, cols]. */
  constructor(panel, [rows, cols], own, store, source) {
    panel.replaceChildren(...padParts(rows, cols));
    this.panel = panel;
    this.canvas = find('.lw-sketch-canvas', panel);
    this.cursorBox = find('.lw-sketch-cursor', panel);
    this.own = own;
    this.store = store;
    this.source = source;  // the contract's words for a drawing
    this.size = [rows, cols];
    this.pixels = new Uint8Array(rows * cols);
    this.cursor = [Math.floor(rows / 2), Math.floor(cols / 2)];
    this.tool = 'brush';
    this.pending = null;  // the newest change waiting for the next frame
    this.bindPointer();
    this.bindKeys();
    this.bindTools();
  }

  /** Start from these pixels (a drawing a link names), showing them and running the network. */
  async load(pixels) {
    this.pixels = Uint8Array.from(pixels);
    this.draw();
    return this.commit();
  }

  bindPointer() {
    let last = null;
    this.canvas.addEventListener('pointerdown', event => {
      this.canvas.setPointerCapture(event.pointerId);
      last = this.pointAt(event);
      this.paintAt(...last);
      event.preventDefault();
    });
    this.canvas.addEventListener('pointermove', event => {
      if (!last) return;
      const events = event.getCoalescedEvents?.() ?? [event];
      for (const each of events.length ? events : [event]) {
        const point = this.pointAt(each);
        this.stroke(last, point);
        last = point;
      }
    });
    const end = () => {
      if (!last) return;
      last = null;
      this.commit();
    };
    this.canvas.addEventListener('pointerup', end);
    this.canvas.addEventListener('pointercancel', end);
  }

  bindKeys() {
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    this.canvas.addEventListener('keydown', event => {
      if (event.altKey || event.ctrlKey || event.metaKey) return;
      if (event.key in moves) {
        const [rows, cols] = this.size, [dr, dc] = moves[event.key];
        this.cursor = [clamp(this.cursor[0] + dr, rows - 1), clamp(this.cursor[1] + dc, cols - 1)];
        if (event.shiftKey) this.paintAt(this.cursor[0] + 0.5, this.cursor[1] + 0.5);
        this.showCursor();
      } else if (event.key === ' ') {
        this.paintAt(this.cursor[0] + 0.5, this.cursor[1] + 0.5);
        this.commit();
      } else if (event.key === 'e' || event.key === 'b') {
        this.setTool(event.key === 'e' ? 'eraser' : 'brush');
      } else {
        return;
      }
      event.preventDefault();
    });
    this.canvas.addEventListener('keyup', event => {
      if (event.key === 'Shift') this.commit();
    });
    this.canvas.addEventListener('focus', () => this.showCursor());
    this.canvas.addEventListener('blur', () => { this.cursorBox.hidden = true; });
  }

  bindTools() {
    find('.lw-sketch-tool', this.panel).addEventListener('change', event => this.setTool(event.target.value));
    find('.lw-sketch-clear', this.panel).addEventListener('click', () => {
      this.pixels.fill(0);
      this.draw();
      this.commit();
    });
  }

  setTool(tool) {
    this.tool = tool;
    for (const radio of findAll('input[name="tool"]', this.panel)) radio.checked = radio.value === tool;
  }

  /** The point under the pointer in input pixels (row, column), fractions kept. */
  pointAt(event) {
    const box = this.canvas.getBoundingClientRect(), [rows, cols] = this.size;
    return [(event.clientY - box.top) / box.height * rows, (event.clientX - box.left) / box.width * cols];
  }

  /** Paint along the segment between two points, every half pixel. */
  stroke([r0, c0], [r1, c1]) {
    const steps = Math.max(1, Math.ceil(2 * Math.hypot(r1 - r0, c1 - c0)));
    for (let i = 1; i <= steps; i++) this.dab(r0 + (r1 - r0) * i / steps, c0 + (c1 - c0) * i / steps);
    this.changed();
  }

  paintAt(r, c) {
    this.dab(r, c);
    this.changed();
  }

  /** One touch of the brush (values rise towards 255) or the eraser (towards 0) at a point. */
  dab(r, c) {
    const [rows, cols] = this.size, reach = Math.ceil(RADIUS + EDGE);
    for (let u = Math.floor(r) - reach; u <= Math.floor(r) + reach; u++) {
      for (let v = Math.floor(c) - reach; v <= Math.floor(c) + reach; v++) {
        if (u < 0 || u >= rows || v < 0 || v >= cols) continue;
        const distance = Math.hypot(u + 0.5 - r, v + 0.5 - c);
        const strength = Math.min(1, Math.max(0, (RADIUS + EDGE - distance) / EDGE));
        const at = u * cols + v, value = Math.round(255 * strength);
        this.pixels[at] = this.tool === 'brush' ? Math.max(this.pixels[at], value)
          : Math.min(this.pixels[at], 255 - value);
      }
    }
  }

  /** Show the change now, and run the network on it at the next frame (at most once a frame). */
  changed() {
    this.draw();
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => {
      this.pending = null;
      this.show();
    });
  }

  /** Run the network on the drawing as it is and show it: a revision without a link yet. */
  async show(link) {
    performance.mark('lw-drawn');
    const id = await this.own.add(this.pixels.slice(), { kind: 'drawing', source: this.source, link });
    const { input } = this.store.getState();
    const drawing = input.startsWith('drawing:');
    this.store.dispatch({ type: drawing ? 'redraw' : 'chooseInput', input: id });
    return id;
  }

  /** A stroke ended: the drawing as it is now, with its link. */
  async commit() {
    if (this.pending) {
      cancelAnimationFrame(this.pending);
      this.pending = null;
    }
    return this.show(await drawingLink(this.pixels));
  }

  /** The pixels on the pad's canvas, white on black as the network sees them. */
  draw() {
    paintPixels(this.canvas, this.pixels);
  }

  showCursor() {
    const [rows, cols] = this.size, [r, c] = this.cursor;
    Object.assign(this.cursorBox.style, {
      top: `${100 * r / rows}%`, left: `${100 * c / cols}%`,
      width: `${100 / cols}%`, height: `${100 / rows}%` });
    this.cursorBox.hidden = false;
  }
}

/** The pad's canvas (one pixel a value, drawn enlarged), its keyboard cursor and its tools. */
function padParts(rows, cols) {
  const radio = (value, checked) => element('label', {},
    element('input', { type: 'radio', name: 'tool', value, checked }), ` ${value[0].toUpperCase()}${value.slice(1)}`);
  return [
    element('div', { className: 'lw-sketch-surface' },
      element('canvas', {
        className: 'lw-sketch-canvas', width: cols, height: rows, tabIndex: 0,
        attributes: { role: 'application', 'aria-roledescription': 'drawing pad',
                      'aria-label': `Drawing pad, ${cols} by ${rows} pixels`, 'aria-describedby': 'lw-sketch-help' },
      }),
      element('div', { className: 'lw-sketch-cursor', hidden: true })),
    element('div', { className: 'lw-sketch-tools' },
      element('fieldset', { className: 'lw-sketch-tool' },
        element('legend', {}, 'Tool'), radio('brush', true), radio('eraser', false)),
      element('button', { type: 'button', className: 'lw-sketch-clear' }, 'Clear'),
      element('button', { type: 'button', className: 'lw-sketch-close' }, 'Close'),
      element('p', { id: 'lw-sketch-help', className: 'lw-sketch-help' },
        'Draw with a mouse, pen or finger. From the keyboard: the arrow keys move the cursor, ',
        'Space paints (Shift and an arrow paint as they move), E picks the eraser and B the brush.')),
  ];
}

function clamp(value, high) {
  return Math.max(0, Math.min(high, value));
}
