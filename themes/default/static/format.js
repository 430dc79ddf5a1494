/**
 * How the page writes numbers and texts, driven by the contract (data/contract.json): its
 * `format` says how many digits and which minus sign, its `texts` hold every sentence that the
 * build writes too. The rules match the build's Python, so a number reads the same in the HTML
 * and after the script has rewritten it.
 */

/**
 * `value` with `digits` significant digits, as Python's '%.3g' writes it (0.000123, 1.23e+03,
 * 0 for -0), every '-' then replaced by `minus`.
 */
export function formatNumber(value, { digits, minus }) {
  const [mantissa, exponent] = toSignificant(Number(value) + 0, digits);  // + 0: -0 becomes 0
  const text = exponent < -4 || exponent >= digits
    ? `${trimZeros(mantissa)}e${exponent < 0 ? '-' : '+'}${twoDigits(Math.abs(exponent))}`
    : trimZeros(Number(`${mantissa}e${exponent}`).toFixed(digits - 1 - exponent));
  return text.replaceAll('-', minus);
}

/** A probability as a percentage with the contract's decimals: 0.8614 → '86.1%'. */
export function formatPercent(share, { percent_decimals: decimals }) {
  return `${(100 * share).toFixed(decimals)}%`;
}

/** `template` with each `{name}` replaced by `fields[name]`, like Python's str.format. */
export function fill(template, fields) {
  return template.replace(/\{(\w+)\}/g, (placeholder, name) => {
    if (!(name in fields)) throw new Error(`no value for ${placeholder} in "${template}"`);
    return String(fields[name]);
  });
}

/**
 * The contract's format and texts bound together, for the views:
 * writer.number(x), writer.percent(p), writer.range(low, high), writer.text('status', fields).
 */
export function createWriter({ format, texts }) {
  const number = value => formatNumber(value, format);
  const text = (name, fields) => {
    if (!(name in texts)) throw new Error(`the contract has no text '${name}'`);
    return fill(texts[name], fields);
  };
  return {
    number,
    text,
    percent: share => formatPercent(share, format),
    range: (low, high) => text('value_range', { low: number(low), high: number(high) }),
  };
}

/** How many digits past the kept ones show whether a number lies exactly half-way. */
const TIE_DIGITS = 30;

/**
 * `value` rounded to `digits` significant digits, as [mantissa text, power of ten].
 * JavaScript rounds an exact tie (1.125 to 3 digits) away from zero, Python to the even digit;
 * this follows Python, so the page prints what the build prints.
 */
function toSignificant(value, digits) {
  const [mantissa, exponent] = value.toExponential(digits - 1).split('e');
  const [long, longExponent] = value.toExponential(digits - 1 + TIE_DIGITS).split('e');
  const kept = long.slice(0, -TIE_DIGITS), dropped = long.slice(-TIE_DIGITS);
  const isTie = /^50*$/.test(dropped);
  const keptIsEven = Number(kept.replace(/\.$/, '').at(-1)) % 2 === 0;
  return isTie && keptIsEven ? [kept, Number(longExponent)] : [mantissa, Number(exponent)];
}

/** An exponent as Python writes it: at least two digits, 5 → '05'. */
function twoDigits(whole) {
  return String(whole).padStart(2, '0');
}

/** '1.50' → '1.5', '2.00' → '2', '-3.' → '-3': no zeros after the last significant digit. */
function trimZeros(text) {
  return text.includes('.') ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}
