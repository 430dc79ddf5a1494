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

/** A whole number with its thousands apart, as Python's '{:,}' writes it: 5875 → '5,875'. */
export function formatWhole(value, { thousands }) {
  return String(value).replace(/\B(?=(\d{3})+$)/g, thousands);
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
 * writer.number(x), writer.percent(p), writer.whole(n), writer.range(low, high),
 * writer.text('status', fields), writer.sums([terms…, total], …) (printedSums).
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
    whole: value => formatWhole(value, format),
    range: (low, high) => text('value_range', { low: number(low), high: number(high) }),
    sums: (...sums) => printedSums(sums, format),
  };
}

/**
 * How to print sums so that they visibly add up: `sums` are arrays of numbers, each its terms and
 * then its total (a term that is subtracted, negated). One number of decimals for them all, the
 * fewest from the style's precision up for which the rounded terms add up exactly to the rounded
 * total in decimal arithmetic (sumDecimals). `number` prints a number of the sums with those
 * decimals. What to write between terms and total, `equals`, is ' = ', or ' ≈ ' when no decimals
 * within float32's precision make them add up; `about`, before a total printed apart from its terms,
 * is '' or '≈ '. builder/contract.py printed_sums is its twin.
 */
export function printedSums(sums, format) {
  const { decimals, exact } = sumDecimals(sums, format);
  const number = value => (Number.isFinite(value) ? formatFixed(value, decimals, format)
    : formatNumber(value, format));
  const about = exact ? '' : '\u2248 ';
  return { number, decimals, exact, about, equals: exact ? ' = ' : ` ${about}` };
}

/**
 * The fewest decimals, from those that give the sums' largest number the style's `digits`
 * significant digits up to the finest decimal still coarser than float32's spacing there, for
 * which every sum's terms, rounded, add up to its total, rounded: {decimals, exact}; when none
 * does, the first decimals and exact false.
 */
export function sumDecimals(sums, { digits }) {
  const largest = Math.max(0, ...sums.flat().map(Math.abs));
  if (!largest) return { decimals: 0, exact: true };
  if (!Number.isFinite(largest)) return { decimals: 0, exact: false };
  const first = Math.max(0, digits - 1 - toSignificant(largest, digits)[1]);
  const last = Math.max(first, float32Decimals(largest));
  for (let decimals = first; decimals <= last; decimals++) {
    if (sums.every(numbers => addsUp(numbers, decimals))) return { decimals, exact: true };
  }
  return { decimals: first, exact: false };
}

/** `value` with `decimals` decimals, as Python's '%.2f' writes it (0 for -0), '-' as `minus`. */
export function formatFixed(value, decimals, { minus }) {
  return toFixedEven(value, decimals).replaceAll('-', minus);
}

/** The most decimals a number as large as `value` has in float32: its spacing's first digit. */
function float32Decimals(value) {
  const spacing = 2 ** (Math.floor(Math.log2(value)) - 23);
  return Math.floor(-Math.log10(spacing));
}

/** Whether the numbers' terms (all but the last), rounded to `decimals`, add up to the last, rounded. */
function addsUp(numbers, decimals) {
  const scaled = numbers.map(value => BigInt(toFixedEven(value, decimals).replace('.', '')));
  const total = scaled.pop();
  return scaled.reduce((sum, term) => sum + term, 0n) === total;
}

/**
 * `value` rounded to `decimals` decimals as Python rounds it (an exact tie to the even digit;
 * JavaScript's toFixed rounds it away from zero), with no minus sign on a zero.
 */
function toFixedEven(value, decimals) {
  if (Math.abs(value) >= 1e21) return wholeFixed(value, decimals);
  const long = value.toFixed(decimals + TIE_DIGITS);
  const kept = long.slice(0, -TIE_DIGITS).replace(/\.$/, ''), dropped = long.slice(-TIE_DIGITS);
  const isTie = /^50*$/.test(dropped), keptIsEven = Number(kept.at(-1)) % 2 === 0;
  const rounded = isTie && keptIsEven ? kept : value.toFixed(decimals);
  return /^-[0.]+$/.test(rounded) ? rounded.slice(1) : rounded;
}

/**
 * A number of 1e21 or more, which toFixed writes with an exponent, in all its digits: a double
 * that large is a whole number (its spacing is 2**17 or more), so its digits are BigInt's.
 */
function wholeFixed(value, decimals) {
  return BigInt(value).toString() + (decimals > 0 ? `.${'0'.repeat(decimals)}` : '');
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
