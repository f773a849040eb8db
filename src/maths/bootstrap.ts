/**
 * @module The seeded percentile bootstrap behind every confidence interval the evaluation answers: resample the
 * examples with replacement, recompute the statistics, and read the (α/2, 1 − α/2) quantiles of what came out. It
 * draws from `seededRng` (MT19937), so the same seed gives the same intervals on the edge and the origin.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { invalidInput } from '../lib/errors.js';
import { seededRng } from './sampling.js';

export interface Interval {
  lower: number;
  upper: number;
}

export interface BootstrapOptions {
  /** Resamples drawn; 1,000 by default (enough for a stable 95 % percentile interval on a few hundred examples). */
  resamples?: number;
  /** Coverage of the interval, in (0, 1); 0.95 by default. */
  confidence?: number;
  /** Seeds the Mersenne Twister; 0 by default, so an unseeded evaluation is reproducible (and cacheable) too. */
  seed?: number;
}

export const DEFAULT_RESAMPLES = 1000;
export const DEFAULT_CONFIDENCE = 0.95;
export const DEFAULT_SEED = 0;

/**
 * The q-quantile of values sorted ascending, by linear interpolation between order statistics: numpy's default
 * (`method='linear'`, Hyndman & Fan type 7), h = (n − 1)·q, x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]). Chosen so an
 * interval can be checked against `numpy.quantile` without naming a method.
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw invalidInput('quantile: no values.');
  if (!(q >= 0 && q <= 1)) throw invalidInput(`quantile: q must lie in [0, 1], not ${q}.`);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const below = sorted[lo] ?? 0;
  const above = sorted[Math.min(lo + 1, sorted.length - 1)] ?? below;
  return below + (h - lo) * (above - below);
}

/**
 * Percentile-bootstrap intervals for several statistics of one sample at once (they share the resamples, so the
 * intervals of accuracy and macro-F1 come from the same draws). `statistics` receives the row indices of one
 * resample (size `size`, drawn uniformly with replacement) and returns one number per statistic; the answer holds
 * one interval per statistic, in the same order. Each resample draws its `size` indices in order from one generator,
 * so the intervals depend only on (size, resamples, confidence, seed) and the statistics.
 */
export function percentileBootstrap<T extends readonly number[]>(
  size: number,
  statistics: (rows: Uint32Array) => T,
  options: BootstrapOptions = {},
): { -readonly [K in keyof T]: Interval } {
  const resamples = options.resamples ?? DEFAULT_RESAMPLES;
  const confidence = options.confidence ?? DEFAULT_CONFIDENCE;
  if (!Number.isInteger(size) || size < 1) throw invalidInput(`bootstrap: the sample is empty (size ${size}).`);
  if (!Number.isInteger(resamples) || resamples < 1)
    throw invalidInput(`bootstrap: resamples must be a positive integer, not ${resamples}.`);
  if (!(confidence > 0 && confidence < 1))
    throw invalidInput(`bootstrap: confidence must lie strictly between 0 and 1, not ${confidence}.`);
  const rng = seededRng(options.seed ?? DEFAULT_SEED);
  const rows = new Uint32Array(size);
  const draws: Float64Array[] = [];
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < size; i++) rows[i] = uniformInt(rng, 0, size - 1);
    statistics(rows).forEach((value, s) => {
      const column = (draws[s] ??= new Float64Array(resamples));
      column[r] = value;
    });
  }
  const alpha = 1 - confidence;
  const intervals = draws.map((column): Interval => {
    column.sort();
    return { lower: quantile(column, alpha / 2), upper: quantile(column, 1 - alpha / 2) };
  });
  // One interval per statistic, in order: the tuple `statistics` returns, mapped.
  return intervals as { -readonly [K in keyof T]: Interval };
}
