/**
 * The tour: a few steps through the figures already on the page (data/tour.json, which the build
 * makes of the author's content/tour.md). Each step scrolls its target into the room between the
 * pinned picker and the tour's panel, outlines the control to use (the contract's tour_controls)
 * and says what to look at; some ask the reader to predict a value before the page reveals the
 * network's own, for the input they chose, and selects it so the inspector shows its arithmetic.
 *
 * The store's `tour` is the step shown, from 1, or null; hash.js keeps it in the link (#tour=3).
 * The panel is not modal: the page stays usable around it. Closed, it remembers its step, and the
 * Tour button offers to resume there. Loaded when the tour first opens (main.js).
 *
 *   const tour = await mountTour(store, site, find('.lw-tour-open'));
 *   tour.start();   // open at step 1, or where the reader left it; focus the panel if it is open
 */
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { shownInput, watch, watchLoaded } from './store.js';

const REMEMBERED = 'layerwise-tour';  // sessionStorage: the step the reader closed the tour at
const GAP = 8;                         // pixels kept clear between the target and what covers the page
const SMALLEST = 160;                  // pixels: the least height the panel gives up room to
const TALLEST = 0.6;                   // of the window's height: the most the panel takes

export async function mountTour(store, site, opener) {
  const contract = await site.contract();
  if (!('tour' in contract.urls)) return noTour(store);
  const [{ steps }, network] = await Promise.all([site.json('tour'), site.network()]);
  return new Tour(store, contract, steps, makeAsks(createWriter(contract), contract, network, site), opener);
}

/** The tour on the page: the store's `tour` shown in the panel, its target placed, its answers revealed. */
class Tour {
  constructor(store, contract, steps, asks, opener) {
    Object.assign(this, { store, contract, steps, asks, opener });
    this.writer = createWriter(contract);
    this.panel = new Panel(this.writer, steps.length, find('.lw-picker'));
    this.answers = new Map();  // step → the reader's {guess, revealed}
    this.remembered = recall(steps.length);
    this.shown = null;         // the step on screen
    this.unplace = () => {};
    this.unwork = () => {};
    if (opener) {
      opener.dataset.named ??= opener.textContent;
      opener.setAttribute('aria-controls', this.panel.node.id);
    }
    this.bind();
    watch(store, state => state.tour, step => this.render(step));
    // The revealed answer follows the input the figures show; one loaded too late is dropped.
    watchLoaded(store, state => this.revealedAt(state), key => this.answerFor(key), (found, key) => this.say(found, key));
    this.render(store.getState().tour);
  }

  /** Open at the step the reader left (or 1); if open already, bring focus to the panel. */
  start() {
    if (this.store.getState().tour === null) this.go(this.remembered ?? 1);
    else this.panel.focus();
  }

  go(step) {
    this.store.dispatch({ type: 'tour', step });
  }

  /** Show step `step` (null: close); a step the tour has not is named under the picker, and step 1 shown. */
  render(step) {
    if (step !== null && !(step >= 1 && step <= this.steps.length)) {
      this.store.dispatch({ type: 'unusable', name: 'tour', value: String(step), why: 'link_tour',
                            fields: { count: this.steps.length } });
      this.go(1);
      return;
    }
    if (step !== null) this.show(step);
    else if (this.shown !== null) this.close();
    this.shown = step;
    this.label();
  }

  show(number) {
    const step = this.steps[number - 1], question = step.question;
    if (!this.answers.has(number)) this.answers.set(number, { guess: null, revealed: false });
    this.panel.show(number, step, question && this.asks[question.ask].choices(question), this.answers.get(number));
    this.unplace();
    this.unwork();
    this.unplace = placeWhileStill(document.getElementById(step.target),
                                   step.control && this.contract.tour_controls?.[step.control], this.panel.node);
    remember(this.remembered = number);
  }

  close() {
    this.unplace();
    this.unwork();
    this.unplace = () => {};
    const hadFocus = this.panel.node.contains(document.activeElement);
    this.panel.hide();
    if (hadFocus) this.opener?.focus();
  }

  /** The Tour button: "Tour", or, closed part-way, the step it resumes at. */
  label() {
    if (!this.opener) return;
    const open = this.store.getState().tour !== null;
    this.opener.textContent = this.remembered > 1 && !open
      ? this.writer.text('tour_resume', { number: this.remembered }) : this.opener.dataset.named;
    this.opener.setAttribute('aria-expanded', String(open));
  }

  /** The last step's Done: the tour closes and starts again from step 1 next time. */
  finish() {
    remember(this.remembered = null);
    this.go(null);
  }

  /** What a revealed answer depends on, '<step> <input>', or null while the step shows none. */
  revealedAt(state) {
    return state.tour !== null && this.answers.get(state.tour)?.revealed ? `${state.tour} ${shownInput(state)}` : null;
  }

  async answerFor(key) {
    if (key === null) return null;
    const { question } = this.steps[parseInt(key, 10) - 1];
    return this.asks[question.ask].answer(question, key.slice(key.indexOf(' ') + 1));
  }

  /** Say the answer found for `key` (right or not, with the reader's guess). */
  say(found, key) {
    if (found) this.panel.answer(answerText(this.writer, this.answers.get(parseInt(key, 10)).guess, found));
  }

  /** Reveal the current step's answer, or say it again (a new guess after the reveal). */
  async reveal() {
    this.answers.get(this.store.getState().tour).revealed = true;
    const key = this.revealedAt(this.store.getState());
    const found = await this.answerFor(key);
    if (this.revealedAt(this.store.getState()) !== key) return;
    this.say(found, key);
    // Selected at the reveal only: later the answer follows the input, and the reader's own selection stays.
    if (found) selectIn(this.store, found.select);
    // The answer says the figure shows how it was computed: bring that working (its inspector) into view.
    const working = found?.select && find(`#fig-${CSS.escape(found.select.layer)} .lw-inspector`);
    if (working) {
      this.unwork();
      this.unwork = showWhileStill(working, this.panel.node);
    }
  }

  bind() {
    const step = () => this.store.getState().tour;
    this.panel.on({
      back: () => this.go(Math.max(1, step() - 1)),
      next: () => (step() < this.steps.length ? this.go(step() + 1) : this.finish()),
      close: () => this.go(null),
      guess: value => {
        const answer = this.answers.get(step());
        answer.guess = value;
        if (answer.revealed) this.reveal();
      },
      reveal: () => this.reveal(),
    });
    // Escape closes the tour, wherever the focus is but in the picker, whose Escape folds its controls.
    addEventListener('keydown', event => {
      if (event.key !== 'Escape' || event.defaultPrevented || step() === null) return;
      if (event.target.closest?.('.lw-picker')) return;
      this.go(null);
    });
  }
}

/** A page without a tour, opened by a link: say so under the picker, and keep the tour closed. */
function noTour(store) {
  const { tour } = store.getState();
  if (tour !== null) {
    store.dispatch({ type: 'unusable', name: 'tour', value: String(tour), why: 'link_no_tour' });
    store.dispatch({ type: 'tour', step: null });
  }
  return { start() {} };
}

// --- the panel -----------------------------------------------------------------------------------

/**
 * The tour's panel: "Step N of M", the step's title and text, its question (choices, Reveal, the
 * answer), and Close, Back and Next. A non-modal dialog after the picker, so Tab reaches it from
 * the Tour button; fixed at the bottom of the window (tour.css).
 */
class Panel {
  constructor(writer, count, picker) {
    this.writer = writer;
    this.count = count;
    const button = (className, text) => element('button', { type: 'button', className }, text);
    this.counter = element('p', { className: 'lw-tour-count', id: 'lw-tour-count' });
    this.title = element('h2', { className: 'lw-tour-title', id: 'lw-tour-title', tabIndex: -1 });
    this.text = element('div', { className: 'lw-tour-text' });
    this.question = element('div', { className: 'lw-tour-question' });
    this.said = element('p', { className: 'lw-tour-said', attributes: { 'aria-live': 'polite' } });
    this.buttons = {
      close: button('lw-tour-close', writer.text('tour_close')),
      back: button('lw-tour-back', writer.text('tour_back')),
      next: button('lw-tour-next', writer.text('tour_next')),
    };
    this.node = element('div', {
      className: 'lw-tour', id: 'lw-tour', hidden: true,
      attributes: { role: 'dialog', 'aria-modal': 'false', 'aria-labelledby': 'lw-tour-count lw-tour-title' },
    }, this.counter, this.title, this.text, this.question,
    element('div', { className: 'lw-tour-nav' }, this.buttons.close, this.buttons.back, this.buttons.next), this.said);
    if (picker) picker.after(this.node);
    else document.body.append(this.node);
  }

  /** Bind what the buttons and choices do: {back, next, close, guess(value), reveal}. */
  on({ back, next, close, guess, reveal }) {
    this.buttons.back.addEventListener('click', back);
    this.buttons.next.addEventListener('click', next);
    this.buttons.close.addEventListener('click', close);
    this.question.addEventListener('change', event => guess(event.target.value));
    this.question.addEventListener('click', event => event.target.closest('.lw-tour-reveal') && reveal());
  }

  /** Show step `number`: its `choices` ([{value, label}], or null without a question) and the reader's `answer`. */
  show(number, step, choices, answer) {
    const { writer } = this;
    this.counter.textContent = writer.text('tour_step', { number, count: this.count });
    this.title.textContent = step.title;
    this.text.replaceChildren(...authored(step.html));
    this.question.replaceChildren(...(choices ? this.asking(step.question, choices, answer) : []));
    this.buttons.back.disabled = number === 1;
    this.buttons.next.textContent = writer.text(number === this.count ? 'tour_done' : 'tour_next');
    this.node.hidden = false;
    this.node.scrollTop = 0;
    document.body.classList.add('is-touring');
    this.focus();
    this.said.textContent = writer.text('tour_said', { number, count: this.count, title: step.title });
  }

  /** The question: the author's words, a radio button a choice, Reveal, and where the answer goes. */
  asking(question, choices, { guess }) {
    const prompt = element('div', { className: 'lw-tour-prompt', id: 'lw-tour-prompt' }, ...authored(question.html));
    const options = element('fieldset', { className: 'lw-tour-choices', attributes: { 'aria-labelledby': prompt.id } },
      choices.map(({ value, label }) => element('label', {},
        element('input', { type: 'radio', name: 'lw-tour-guess', value, checked: value === guess }), ' ', label)));
    const reveal = element('button', { type: 'button', className: 'lw-tour-reveal' }, this.writer.text('tour_reveal'));
    this.answered = element('p', { className: 'lw-tour-answer', attributes: { 'aria-live': 'polite' } });
    return [prompt, options, reveal, this.answered];
  }

  /** Say the revealed answer, scrolled into sight in the panel. */
  answer(text) {
    this.answered.textContent = text;
    this.answered.scrollIntoView({ block: 'nearest' });
  }

  focus() {
    this.title.focus({ preventScroll: true });
  }

  hide() {
    this.node.hidden = true;
    document.body.classList.remove('is-touring');
  }
}

/**
 * The nodes of a step's text: the author's Markdown as the build rendered it into tour.json,
 * as trusted as the article itself (and, like it, under the page's script policy).
 */
function authored(html) {
  return [...new DOMParser().parseFromString(html, 'text/html').body.childNodes];
}

// --- scrolling the target into view --------------------------------------------------------------

/**
 * Scroll `target` into the room between what is pinned at the top of the window and the panel,
 * its control (the element `selector` finds in it, or the target itself) outlined; again when
 * either changes size (a figure whose script fills it in as it comes near, a header that folds),
 * until the reader scrolls or types. Returns what takes the outline off and stops following.
 */
function placeWhileStill(target, selector, panel) {
  if (!target) return () => {};
  let control = null;
  const outline = () => {
    control?.classList.remove('lw-tour-control');
    control = (selector && target.querySelector(selector)) || target;
    control.classList.add('lw-tour-control');
  };
  const place = () => {
    outline();
    makeRoom(target, control, panel);
    scrollBy({ top: scrollNeeded(target, control, panel), behavior: 'instant' });
  };
  const resized = new ResizeObserver(place);
  for (const each of [target, panel, ...pinned(target)]) resized.observe(each);
  const events = ['wheel', 'touchmove', 'keydown', 'pointerdown'];  // the reader moving on their own
  const stop = () => {
    resized.disconnect();
    for (const name of events) removeEventListener(name, stop, true);
  };
  for (const name of events) addEventListener(name, stop, { capture: true, passive: true });
  outline();
  const fold = disclose(control);
  place();
  return () => {
    stop();
    fold();
    control?.classList.remove('lw-tour-control');
  };
}

/**
 * Scroll the least that brings `working` (a revealed value's inspector) between the pinned picker and
 * the panel (or its top below the picker, when it is taller than the room); again as its lines are
 * written, until the reader scrolls or types. Returns what stops following.
 */
function showWhileStill(working, panel) {
  const place = () => {
    const top = coveredAbove(working) + GAP, bottom = coveredBelow(working, panel) - GAP;
    const box = working.getBoundingClientRect();
    let distance = Math.max(0, box.bottom - bottom);
    if (box.top - distance < top) distance = box.top - top;
    if (Math.abs(distance) >= 1) scrollBy({ top: distance, behavior: 'instant' });
  };
  const resized = new ResizeObserver(place);
  for (const each of [working, panel]) resized.observe(each);
  const events = ['wheel', 'touchmove', 'keydown', 'pointerdown'];
  const stop = () => {
    resized.disconnect();
    for (const name of events) removeEventListener(name, stop, true);
  };
  // Added after the event that revealed, so that its own pointerdown or keydown does not stop it.
  setTimeout(() => { for (const name of events) addEventListener(name, stop, { capture: true, passive: true }); });
  place();
  return stop;
}

/**
 * Open what hides `control` (a button with aria-expanded="false" whose aria-controls names a box
 * around it: the phone's folded picker, More); returns what folds it again.
 */
function disclose(control) {
  if (control.getClientRects().length) return () => {};
  for (let box = control.parentElement; box; box = box.parentElement) {
    const opener = box.id && find(`[aria-controls~="${CSS.escape(box.id)}"][aria-expanded="false"]`);
    if (!opener) continue;
    opener.click();
    return () => opener.getAttribute('aria-expanded') === 'true' && opener.click();
  }
  return () => {};
}

/**
 * Size a panel that lies across the control to the room the control leaves it (its text scrolls
 * when that is less than it needs), from SMALLEST pixels to TALLEST of the window; a control too
 * tall for that keeps the stylesheet's size. And give the page room at its end to scroll its last
 * figures above the panel.
 */
function makeRoom(target, control, panel) {
  panel.style.maxHeight = '';
  if (coveredBelow(control, panel) < innerHeight) {
    const free = innerHeight - coveredAbove(target) - control.getBoundingClientRect().height - 3 * GAP;
    if (free >= SMALLEST) panel.style.maxHeight = `${Math.min(free, TALLEST * innerHeight)}px`;
  }
  document.documentElement.style.setProperty('--lw-tour-room', `${panel.offsetHeight + GAP}px`);
}

/**
 * How far to scroll so that the target's top lies just below the pinned header, unless that
 * leaves the control under the panel: then the control's bottom just above the panel (and for a
 * control taller than the room, its top below the header).
 */
function scrollNeeded(target, control, panel) {
  const top = coveredAbove(target) + GAP, bottom = coveredBelow(control, panel) - GAP;
  const [box, controlBox] = [target, control].map(each => each.getBoundingClientRect());
  let distance = box.top - top;
  if (controlBox.bottom - distance > bottom) distance = controlBox.bottom - bottom;
  if (controlBox.top - distance < top) distance = controlBox.top - top;
  return distance;
}

/** What stays at the top of the window as the page scrolls (the sticky picker), other than what holds `target`. */
function pinned(target) {
  return findAll('body > *, .lw-picker').filter(each => !each.contains(target) && !each.classList.contains('lw-tour')
    && ['sticky', 'fixed'].includes(getComputedStyle(each).position));
}

/** How far down from the window's top the pinned elements reach once stuck. */
function coveredAbove(target) {
  let bottom = 0;
  for (const each of pinned(target)) {
    const style = getComputedStyle(each), box = each.getBoundingClientRect();
    if (style.top === 'auto' || box.height > innerHeight / 2) continue;  // pinned at the bottom, or no header
    bottom = Math.max(bottom, parseFloat(style.top) + box.height);
  }
  return bottom;
}

/** Where the panel begins, from the window's top, if it lies across the control's columns; else the window's bottom. */
function coveredBelow(control, panel) {
  const box = control.getBoundingClientRect(), covering = panel.getBoundingClientRect();
  const across = covering.left < box.right && covering.right > box.left;
  return across ? Math.min(innerHeight, covering.top) : innerHeight;
}

// --- the questions -------------------------------------------------------------------------------

/**
 * What each kind of question (`ask`) offers and how its answer is found for an input: choices(question)
 * gives [{value, label}], answer(question, input) {choice, said, select}: the right choice, what the
 * page says, and the value to select in the figure so the inspector shows its arithmetic.
 */
function makeAsks(writer, contract, network, site) {
  const layerOf = id => network.layers.find(layer => layer.id === id);
  const signs = ['positive', 'zero', 'negative'];
  return {
    /** Is the value at `at` = [k, r, c] of `layer` positive, zero or negative? */
    sign: {
      choices: () => signs.map(sign => ({ value: sign, label: writer.text(`tour_${sign}`) })),
      async answer({ layer, at: [k, r, c] }, input) {
        const value = valueAt((await site.outputs(input))[layer], layerOf(layer), k, r, c);
        const sign = value > 0 ? 'positive' : value < 0 ? 'negative' : 'zero';
        return { choice: sign, select: { layer, k, r, c },
                 said: writer.text('tour_sign', { value: writer.number(value), sign: writer.text(`tour_${sign}`) }) };
      },
    },
    /** Which of the maps `maps` (from 0; all when none are named) of `layer` holds the largest value? */
    brightest: {
      choices: ({ layer, maps }) => mapsOf(layerOf(layer), maps).map(k =>
        ({ value: String(k), label: writer.text('tour_map', { number: k + 1 }) })),
      async answer({ layer, maps }, input) {
        const outputs = (await site.outputs(input))[layer];
        const [, rows, cols] = outputs.shape, size = rows * cols;
        let best = null;
        for (const k of mapsOf(layerOf(layer), maps)) {
          for (let i = k * size; i < (k + 1) * size; i++) {
            if (best === null || outputs.values[i] > outputs.values[best.i]) best = { k, i };
          }
        }
        const cell = best.i - best.k * size, value = outputs.values[best.i];
        return { choice: String(best.k), select: { layer, k: best.k, r: Math.floor(cell / cols), c: cell % cols },
                 said: writer.text('tour_brightest', { number: best.k + 1, value: writer.number(value) }) };
      },
    },
    /** Will more than half of the values of `layer` be exactly 0 (what a ReLU cleared)? */
    zeroed: {
      choices: () => ['more', 'fewer'].map(half => ({ value: half, label: writer.text(`tour_${half}`) })),
      async answer({ layer }, input) {
        const { values } = (await site.outputs(input))[layer];
        const count = values.reduce((zeros, value) => zeros + (value === 0), 0);
        const half = count > values.length / 2 ? 'more' : 'fewer';
        return { choice: half, select: null, said: writer.text('tour_zeroed', {
          count: writer.whole(count), total: writer.whole(values.length), share: writer.percent(count / values.length),
          half: writer.text(`tour_${half}`) }) };
      },
    },
    /**
     * Which class will the network pick (of `classes`, indices; all when none are named)? Of classes
     * that leave out the network's answer, the answer says which scores highest, and what the network picks.
     */
    winner: {
      choices: ({ classes }) => (classes ?? [...network.classes.keys()]).map(c =>
        ({ value: String(c), label: network.classes[c] })),
      async answer({ layer, classes }, input) {
        const summary = await site.summary(input), scores = summary[contract.output.kind];
        const c = [...(classes ?? network.classes.keys())].reduce((best, each) => (scores[each] > scores[best] ? each : best));
        const { value: what, percent } = contract.output;
        const fields = { cls: network.classes[c], what, answer: network.classes[summary.predicted],
                         value: percent ? writer.percent(scores[c]) : writer.number(scores[c]) };
        return { choice: String(c), select: { layer: layer ?? network.layers.at(-1).id, k: 0, r: 0, c },
                 said: writer.text(c === summary.predicted ? 'tour_winner' : 'tour_winner_of', fields) };
      },
    },
  };
}

/** The number at map k, row r, column c of a layer's output; for a vector, (r, c) on its grid. */
function valueAt(outputs, layer, k, r, c) {
  if (outputs.shape.length === 3) return outputs.at(k, r, c);
  const cols = layer.grid?.[1] ?? outputs.size;
  return outputs.values[r * cols + c];
}

/** The maps a question names (from 0), or all the layer's maps. */
function mapsOf(layer, maps) {
  return maps ?? [...Array(layer.shape[0]).keys()];
}

/** What the page says once revealed: right or not (with a guess), the answer, and where its arithmetic is. */
function answerText(writer, guess, { choice, said }) {
  const answer = guess === null ? said : writer.text(guess === choice ? 'tour_right' : 'tour_wrong', { answer: said });
  return `${answer} ${writer.text('tour_explained')}`;
}

/** Select the revealed value, showing its map first, unless it is selected already. */
function selectIn(store, value) {
  if (!value) return;
  const { layer, k, r, c } = value, { selection, maps } = store.getState();
  if (selection && selection.layer === layer && selection.k === k && selection.r === r && selection.c === c) return;
  if (layer in maps) store.dispatch({ type: 'showMap', layer, k });
  store.dispatch({ type: 'select', layer, k, r, c });
}

// --- remembering the step ------------------------------------------------------------------------

/** The step the reader closed the tour at in this tab (sessionStorage), if still a step. */
function recall(count) {
  try {
    const step = Number(sessionStorage.getItem(REMEMBERED));
    return step >= 1 && step <= count ? step : null;
  } catch {
    return null;  // storage refused (private modes): remember in memory only
  }
}

function remember(step) {
  try {
    if (step === null) sessionStorage.removeItem(REMEMBERED);
    else sessionStorage.setItem(REMEMBERED, String(step));
  } catch {
    // storage refused: the step is remembered while the page is open
  }
}
