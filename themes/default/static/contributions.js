/**
 * The attribution figure's arithmetic, apart from the page (attribution.js draws it): each pixel's
 * contribution to a class's score and what they add up to, why one class and not another, and
 * the output layer's sum unit by unit. Numbers in, numbers out; no DOM. builder/views.py has the
 * Python twins the page's HTML is written with (other_class, unit_terms), and
 * tests/test_attributions.py checks that the two agree on every input and class.
 *
 *   const { contributionsOf, explained } = await import('./static/contributions.js');
 *   const terms = contributionsOf(image.values, gradients[c]);   // one per value (C, H, W)
 *   explained(terms, scores[c]);   // {sum, constant}: sum + constant = the score
 *   perPixel(terms, 3);            // each pixel's, its channels summed: what the map shows
 */
import { sum } from './arithmetic.js';

/** How many of the largest positive and of the largest negative terms unitTerms() shows. */
export const UNITS_SHOWN = 5;

/**
 * Each input value's contribution, (value − baseline) × gradient: with a baseline of 0, value ×
 * gradient (exact attributions); else, with the mean gradient along the path, integrated gradients.
 * The values are the image's (C, H, W), channel after channel; `baseline` is one number for all,
 * or one per channel.
 */
export function contributionsOf(pixels, gradient, baseline = 0) {
  const baselines = [baseline].flat(), plane = pixels.length / baselines.length;
  return Float64Array.from(pixels, (value, i) =>
    Math.fround(value - baselines[Math.floor(i / plane)]) * gradient[i]);
}

/** Per pixel, what its `channels` channels give together: (C, H, W) numbers summed to (H, W). */
export function perPixel(values, channels) {
  const plane = values.length / channels, pixels = new Float64Array(plane);
  for (let i = 0; i < values.length; i++) pixels[i % plane] += values[i];
  return pixels;
}

/** Channel c's numbers of (C, H, W) numbers: its (H, W). */
export function channelOf(values, channels, c) {
  const plane = values.length / channels;
  return values.subarray(c * plane, (c + 1) * plane);
}

/**
 * What the contributions leave of `score`: {sum, constant} (sum + constant = score, exact
 * attributions), or, given the score at the baseline, {sum, baseline, gap} (sum + baseline +
 * gap = score: integrated gradients).
 */
export function explained(contributions, score, baselineScore = null) {
  const total = sum(contributions);
  return baselineScore === null ? { sum: total, constant: score - total }
    : { sum: total, baseline: baselineScore, gap: score - baselineScore - total };
}

/**
 * Why one class and not another, from their contributions and scores: each pixel's difference,
 * {differences, sum, constant, difference} with sum + constant = difference of the scores.
 */
export function whyNot(one, other, score, otherScore) {
  const differences = Float64Array.from(one, (value, i) => value - other[i]);
  const total = sum(differences), difference = score - otherScore;
  return { differences, sum: total, constant: difference - total, difference };
}

/**
 * The class "why c and not it?" compares with: the input's true class (`label`), if it is
 * another, else the one of the highest score after c's (the first of equals).
 */
export function otherClass({ label }, scores, c) {
  if (label !== null && label !== c) return label;
  return scores.reduce((best, score, i) => (i !== c && (best === null || score > scores[best]) ? i : best), null);
}

/**
 * One output's sum term by term, weight × activation of each unit it reads: {shown: the
 * UNITS_SHOWN largest positive terms, largest first, then the UNITS_SHOWN largest negative ones,
 * most negative first, each {unit (from 1), weight, activation, product}; rest: how many others,
 * restSum: their sum; bias; total: every term and the bias}.
 */
export function unitTerms(weights, activations, bias) {
  const terms = Array.from(activations, (activation, j) => weights[j] * activation);
  const order = terms.map((_, j) => j).sort((i, j) => terms[j] - terms[i]);  // stable: equal terms in unit order
  const positive = order.slice(0, UNITS_SHOWN).filter(j => terms[j] > 0);
  const negative = order.reverse().slice(0, UNITS_SHOWN).filter(j => terms[j] < 0);
  const shown = [...positive, ...negative];
  const rest = terms.filter((_, j) => !shown.includes(j));
  return {
    shown: shown.map(j => ({ unit: j + 1, weight: weights[j], activation: activations[j], product: terms[j] })),
    rest: rest.length, restSum: sum(rest), bias, total: sum(terms) + bias,
  };
}
