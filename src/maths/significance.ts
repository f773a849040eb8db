/**
 * @module McNemar's test: whether two models scored on the same examples differ in accuracy, from the examples on
 * which they disagree (b: A right and B wrong, c: the reverse). Exact binomial for few disagreements, chi-square with
 * continuity correction for many, as statsmodels' `mcnemar` does with `exact` chosen by size.
 */
import { invalidInput } from '../lib/errors.js';

export interface McNemarResult {
  /** Examples model A got right and model B wrong. */
  b: number;
  /** Examples model B got right and model A wrong. */
  c: number;
  method: 'exact_binomial' | 'chi_square';
  /** min(b, c) for the exact test (statsmodels' convention); the corrected χ² for the chi-square test. */
  statistic: number;
  p_value: number;
  alpha: number;
  /** The significantly more accurate model at `alpha`, or null when the difference is not significant. */
  better: 'a' | 'b' | null;
}

/** Below this many disagreements the exact binomial test is used (the usual rule; the χ² approximation is poor). */
export const MCNEMAR_EXACT_BELOW = 25;

/**
 * McNemar's test from the disagreement counts. For b + c < 25 the exact two-sided binomial test,
 * p = min(1, 2·Σ_{i ≤ min(b,c)} C(b+c, i) / 2^(b+c)) (binomial coefficients below 2^24 are exact in float64, so the
 * sum is exact before the one division). Otherwise χ² = (max(0, |b − c| − 1))² / (b + c) on one degree of freedom,
 * p = erfc(√(χ²/2)); the max(0, …) keeps the continuity correction from overshooting when b = c (Yates' correction
 * as scipy applies it: it never changes the sign of the difference), so b = c always gives p = 1. b = c = 0 → p = 1.
 */
export function mcnemarTest(b: number, c: number, alpha = 0.05): McNemarResult {
  for (const [name, v] of [
    ['b', b],
    ['c', c],
  ] as const)
    if (!Number.isSafeInteger(v) || v < 0) throw invalidInput(`mcnemar: ${name} must be a count, not ${v}.`);
  if (!(alpha > 0 && alpha < 1)) throw invalidInput(`mcnemar: alpha must lie strictly between 0 and 1, not ${alpha}.`);
  const n = b + c;
  let method: McNemarResult['method'];
  let statistic: number;
  let p: number;
  if (n < MCNEMAR_EXACT_BELOW) {
    method = 'exact_binomial';
    statistic = Math.min(b, c);
    p = n === 0 ? 1 : Math.min(1, (2 * binomialLowerTail(statistic, n)) / 2 ** n);
  } else {
    method = 'chi_square';
    statistic = Math.max(0, Math.abs(b - c) - 1) ** 2 / n;
    p = chiSquareSurvival1(statistic);
  }
  const better = p < alpha ? (b > c ? 'a' : 'b') : null;
  return { b, c, method, statistic, p_value: p, alpha, better };
}

/**
 * McNemar's test from each model's per-example correctness on the same examples (`aCorrect[i]`: model A answered
 * example i right). A model against itself has b = c = 0 and p = 1.
 */
export function mcnemarFromCorrectness(
  aCorrect: readonly boolean[],
  bCorrect: readonly boolean[],
  alpha = 0.05,
): McNemarResult {
  if (aCorrect.length !== bCorrect.length)
    throw invalidInput(`mcnemar: the models were scored on ${aCorrect.length} and ${bCorrect.length} examples.`);
  let b = 0;
  let c = 0;
  aCorrect.forEach((a, i) => {
    const other = bCorrect[i] ?? false;
    if (a && !other) b++;
    else if (!a && other) c++;
  });
  return mcnemarTest(b, c, alpha);
}

/** Σ_{i ≤ k} C(n, i), by the recurrence C(n, i+1) = C(n, i)·(n − i)/(i + 1) (exact while the terms stay below 2^53). */
function binomialLowerTail(k: number, n: number): number {
  let term = 1;
  let sum = 1;
  for (let i = 0; i < k; i++) {
    term = (term * (n - i)) / (i + 1);
    sum += term;
  }
  return sum;
}

/** Survival function of χ² with one degree of freedom: P(X > x) = P(|Z| > √x) = erfc(√(x/2)). */
export function chiSquareSurvival1(x: number): number {
  if (x <= 0) return 1;
  return erfc(Math.sqrt(x / 2));
}

/**
 * The complementary error function by Numerical Recipes' `erfcc` (Press et al., 2nd ed., §6.2): a Chebyshev fit
 * of erfc(z)·exp(z²) in t = 1/(1 + z/2), fractional error below 1.2e-7 for every z. Ample for p-values, which are
 * compared with an α of two significant figures; it also stays accurate in the far tail, where 1 − erf(z) would
 * cancel to nothing.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(-z * z + poly);
  return x >= 0 ? value : 2 - value;
}
