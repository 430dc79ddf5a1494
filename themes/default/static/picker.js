/**
 * The input picker: one radio button per input. Choosing one changes the store's input; the
 * store's input (also from a deep link) decides which radio is checked. Under it, the picker
 * names what a link asked for that the page cannot use (the store's `unusable`).
 */
import { element, find, findAll } from './dom.js';
import { createWriter } from './format.js';
import { watch, watchLoaded } from './store.js';

/** The inputs' ids, in the picker's order. */
export function inputIds(picker) {
  return radios(picker).map(radio => radio.value);
}

/** The input checked when the page opened (the first one, as the build writes the page). */
export function checkedInput(picker) {
  return picker && find('input[name="input"]:checked', picker)?.value;
}

export function mountPicker(picker, store, site) {
  picker.addEventListener('change', event => {
    if (event.target.name !== 'input') return;
    store.dispatch({ type: 'chooseInput', input: event.target.value });
  });
  watch(store, state => state.input, input => {
    for (const radio of radios(picker)) radio.checked = radio.value === input;
  });
  mountFolding(picker);
  mountUnusable(find('.lw-link-said', picker), store, site);
}

/**
 * Under the picker, what the link named that the page cannot use; pinned with the picker, so the
 * reader may dismiss it (until the next link).
 */
function mountUnusable(said, store, site) {
  const dismiss = () => {
    said.replaceChildren();
    find('input[name="input"]:checked', said.closest('form'))?.focus();
  };
  watchLoaded(store, state => state.unusable, async unusable => unusable.length && createWriter(await site.contract()),
    (writer, unusable) => said.replaceChildren(...(unusable.length ? [
      unusable.map(entry => unusableText(writer, entry)).join(' '),
      element('button', { type: 'button', className: 'lw-link-said-close', onclick: dismiss,
                          attributes: { 'aria-label': writer.text('link_dismiss', {}) } })] : [])));
}

/**
 * What the picker says of a link's parameter the page cannot use: its name, its value and why,
 * the why's fields filled in as the page prints them (a list joined by commas, a number whole).
 */
function unusableText(writer, { name, value, why, fields }) {
  const printed = field => (typeof field === 'number' ? writer.whole(field) : field);
  const filled = Object.fromEntries(Object.entries(fields).map(([key, field]) =>
    [key, Array.isArray(field) ? field.map(printed).join(', ') : printed(field)]));
  return writer.text('link_unusable', { name, value, why: writer.text(why, { name, value, ...filled }) });
}

/**
 * On a phone the picker keeps to one line (style.css): More opens its other controls, Escape or the
 * focus leaving them (to the drawing pad, the slider, the article) folds them again. The page's
 * scroll-padding-top follows the picker's height, so link targets and focused controls land below it
 * (set on the root alone: a custom property there would restyle every element of the page).
 */
function mountFolding(picker) {
  const more = find('.lw-more', picker), controls = find('fieldset', picker);
  const unfold = open => more?.setAttribute('aria-expanded', String(open));
  more?.addEventListener('click', () => unfold(more.getAttribute('aria-expanded') !== 'true'));
  // After the focus has settled: a control that replaces itself (Compare's select) keeps it inside.
  controls.addEventListener('focusout', () => setTimeout(() => controls.contains(document.activeElement) || unfold(false)));
  picker.addEventListener('keydown', event => {
    if (event.key !== 'Escape' || more?.getAttribute('aria-expanded') !== 'true') return;
    unfold(false);
    more.focus();
  });
  const root = document.documentElement.style;
  new ResizeObserver(() => { root.scrollPaddingTop = `calc(${picker.offsetHeight}px + 0.75rem)`; }).observe(picker);
}

function radios(picker) {
  return picker ? findAll('input[name="input"]', picker) : [];
}
