/**
 * Tiny DOM helpers for the views: find elements, make elements with text.
 * Nothing here parses a string as HTML, so no data can turn into markup.
 */

/** The first element under `root` that matches `selector`, or null. */
export function find(selector, root = document) {
  return root.querySelector(selector);
}

/** Every element under `root` that matches `selector`, as an array. */
export function findAll(selector, root = document) {
  return [...root.querySelectorAll(selector)];
}

/**
 * A new element, e.g. element('p', { className: 'note' }, 'Sum: ', element('b', {}, '3')).
 * Children are nodes or strings; strings become text nodes, never markup. Properties are set
 * on the element; those under `attributes` with setAttribute (for aria-* and data-*).
 */
export function element(tag, properties = {}, ...children) {
  const { attributes = {}, ...fields } = properties;
  const node = Object.assign(document.createElement(tag), fields);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children.flat());
  return node;
}

const sheets = new Map();

/** Add the stylesheet at page-relative `href` once; resolves when it has loaded (one that failed is asked for anew). */
export function stylesheet(href) {
  if (!sheets.has(href)) {
    const link = element('link', { rel: 'stylesheet', href });
    sheets.set(href, new Promise((resolve, reject) => {
      link.onload = resolve;
      link.onerror = () => {
        sheets.delete(href);  // asked for again on the next use
        link.remove();
        reject(new Error(`${href} did not load`));
      };
    }));
    document.head.append(link);
  }
  return sheets.get(href);
}
