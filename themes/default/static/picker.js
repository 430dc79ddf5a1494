/**
 * The input picker: one radio button per input. Choosing one changes the store's input; the
 * store's input (also from a deep link) decides which radio is checked.
 */
import { find, findAll } from './dom.js';
import { watch } from './store.js';

/** The inputs' ids, in the picker's order. */
export function inputIds(picker) {
  return radios(picker).map(radio => radio.value);
}

/** The input checked when the page opened (the first one, as the build writes the page). */
export function checkedInput(picker) {
  return picker && find('input[name="input"]:checked', picker)?.value;
}

export function mountPicker(picker, store) {
  picker.addEventListener('change', event => {
    if (event.target.name !== 'input') return;
    store.dispatch({ type: 'chooseInput', input: event.target.value });
  });
  watch(store, state => state.input, input => {
    for (const radio of radios(picker)) radio.checked = radio.value === input;
  });
}

function radios(picker) {
  return picker ? findAll('input[name="input"]', picker) : [];
}
