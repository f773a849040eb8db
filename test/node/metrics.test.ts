/**
 * @module The evaluation metrics (src/maths/metrics.ts) against values worked out by hand on small fixed sets, plus
 * properties over random ones (fast-check). No model needed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ServiceError } from '../../src/lib/errors.js';
import {
  averagePrecision,
  chiSquareSurvival1,
  classificationMetrics,
  classificationReport,
  detectionReport,
  entities,
  erfc,
  iou,
  mcnemarFromCorrectness,
  mcnemarTest,
  percentileBootstrap,
  quantile,
  tokenClassificationReport,
  type ClassificationExample,
  type DetectionImage,
} from '../../src/maths/metrics.js';

/** An example whose scores put all the mass on the prediction (enough where only counts matter). */
const ex = (label: string, predicted: string, group?: string): ClassificationExample => ({
  label,
  predicted,
  scores: { [predicted]: 1 },
  ...(group === undefined ? {} : { group }),
});

const repeat = <T>(n: number, make: () => T): T[] => Array.from({ length: n }, make);

/** The ServiceError a call throws (the metrics refuse bad input as 422 invalid_input). */
function thrown(f: () => unknown): ServiceError {
  try {
    f();
  } catch (err) {
    if (err instanceof ServiceError) return err;
    throw err;
  }
  throw new Error('expected a ServiceError');
}

// 3 classes, 10 examples (true → predicted):
//   cat→cat ×3, cat→dog ×1 | dog→dog ×2, dog→bird ×1 | bird→bird ×1, bird→cat ×2
const LABELS3 = ['cat', 'dog', 'bird'];
const SET3: ClassificationExample[] = [
  ...repeat(3, () => ex('cat', 'cat')),
  ex('cat', 'dog'),
  ...repeat(2, () => ex('dog', 'dog')),
  ex('dog', 'bird'),
  ex('bird', 'bird'),
  ...repeat(2, () => ex('bird', 'cat')),
];

describe('classification metrics', () => {
  it('counts a 3-class confusion matrix with per-class P/R/F1 and macro-F1', () => {
    const m = classificationMetrics(SET3, LABELS3);
    // Rows = true label, columns = predicted, in [cat, dog, bird] order.
    expect(m.confusion_matrix).toEqual({
      labels: ['cat', 'dog', 'bird'],
      matrix: [
        [3, 1, 0],
        [0, 2, 1],
        [2, 0, 1],
      ],
    });
    // Diagonal 3 + 2 + 1 = 6 of 10.
    expect(m.accuracy).toBeCloseTo(0.6, 12);
    expect(m.examples).toBe(10);
    // cat: tp 3, predicted (column) 3 + 0 + 2 = 5, support (row) 4 → P 3/5, R 3/4, F1 2·3/(5 + 4) = 2/3.
    expect(m.per_class['cat']?.precision).toBeCloseTo(0.6, 12);
    expect(m.per_class['cat']?.recall).toBeCloseTo(0.75, 12);
    expect(m.per_class['cat']?.f1).toBeCloseTo(2 / 3, 12);
    expect(m.per_class['cat']?.support).toBe(4);
    // dog: tp 2, predicted 1 + 2 + 0 = 3, support 3 → P 2/3, R 2/3, F1 2/3.
    expect(m.per_class['dog']?.precision).toBeCloseTo(2 / 3, 12);
    expect(m.per_class['dog']?.recall).toBeCloseTo(2 / 3, 12);
    expect(m.per_class['dog']?.f1).toBeCloseTo(2 / 3, 12);
    expect(m.per_class['dog']?.support).toBe(3);
    // bird: tp 1, predicted 0 + 1 + 1 = 2, support 3 → P 1/2, R 1/3, F1 2·1/(2 + 3) = 0.4.
    expect(m.per_class['bird']?.precision).toBeCloseTo(0.5, 12);
    expect(m.per_class['bird']?.recall).toBeCloseTo(1 / 3, 12);
    expect(m.per_class['bird']?.f1).toBeCloseTo(0.4, 12);
    expect(m.per_class['bird']?.support).toBe(3);
    // Macro-F1 = (2/3 + 2/3 + 2/5) / 3 = (20/15 + 6/15) / 3 = 26/45 ≈ 0.577778.
    expect(m.macro_f1).toBeCloseTo(26 / 45, 12);
  });

  it('gives a class never seen nor predicted P = R = F1 = 0, and counts it in macro-F1 (zero_division=0)', () => {
    const m = classificationMetrics([ex('a', 'a'), ex('a', 'b'), ex('b', 'b')], ['a', 'b', 'c']);
    expect(m.per_class['c']).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    // a: tp 1, predicted 1, support 2 → F1 2/3; b: tp 1, predicted 2, support 1 → F1 2/3; c: 0 → (4/3)/3 = 4/9.
    expect(m.macro_f1).toBeCloseTo(4 / 9, 12);
  });

  it('computes log loss (natural log, renormalised scores) and the multi-class Brier score', () => {
    const examples: ClassificationExample[] = [
      // −ln 0.7; Brier (0.7 − 1)² + 0.2² + 0.1² = 0.09 + 0.04 + 0.01 = 0.14
      { label: 'a', predicted: 'a', scores: { a: 0.7, b: 0.2, c: 0.1 } },
      // −ln 0.25; Brier 0.5² + (0.25 − 1)² + 0.25² = 0.25 + 0.5625 + 0.0625 = 0.875
      { label: 'b', predicted: 'a', scores: { a: 0.5, b: 0.25, c: 0.25 } },
      // −ln 0.8; Brier 0.1² + 0.1² + (0.8 − 1)² = 0.01 + 0.01 + 0.04 = 0.06
      { label: 'c', predicted: 'c', scores: { a: 0.1, b: 0.1, c: 0.8 } },
      // Sums to 4: renormalised to (0.5, 0.25, 0.25) → −ln 0.5; Brier 0.25 + 0.0625 + 0.0625 = 0.375.
      // The extra key `other` is outside the label set and ignored.
      { label: 'a', predicted: 'a', scores: { a: 2, b: 1, c: 1, other: 5 } },
    ];
    const m = classificationMetrics(examples, ['a', 'b', 'c']);
    // −(ln 0.7 + ln 0.25 + ln 0.8 + ln 0.5)/4 = −ln(0.7·0.25·0.8·0.5)/4 = −ln(0.07)/4 = 2.659260/4 ≈ 0.664815.
    expect(m.log_loss).toBeCloseTo(0.664815, 6);
    // (0.14 + 0.875 + 0.06 + 0.375) / 4 = 1.45 / 4 = 0.3625.
    expect(m.brier).toBeCloseTo(0.3625, 12);
  });

  it('clips a zero probability of the true label at 1e-15 and counts missing scores as 0', () => {
    const m = classificationMetrics([{ label: 'a', predicted: 'b', scores: { b: 1 } }], ['a', 'b']);
    // −ln(1e-15) = 15·ln 10 = 15·2.302585093 ≈ 34.538776.
    expect(m.log_loss).toBeCloseTo(34.538776, 5);
    // (0 − 1)² + (1 − 0)² = 2, the worst a Brier score gets.
    expect(m.brier).toBeCloseTo(2, 12);
  });

  it('finds ECE 0.4 for a model always 0.9 confident and right half the time', () => {
    const examples = [
      ...repeat(5, () => ({ label: 'yes', predicted: 'yes', scores: { yes: 0.9, no: 0.1 } })),
      ...repeat(5, () => ({ label: 'no', predicted: 'yes', scores: { yes: 0.9, no: 0.1 } })),
    ];
    const m = classificationMetrics(examples, ['yes', 'no']);
    // All ten in the bin [0.9, 1]: confidence 0.9, accuracy 0.5 → ECE = (10/10)·|0.5 − 0.9| = 0.4.
    expect(m.calibration.ece).toBeCloseTo(0.4, 12);
    expect(m.calibration.bins).toHaveLength(10);
    const last = m.calibration.bins[9];
    expect(last?.lower).toBeCloseTo(0.9, 12);
    expect(last?.upper).toBeCloseTo(1, 12);
    expect(last?.count).toBe(10);
    expect(last?.confidence).toBeCloseTo(0.9, 12);
    expect(last?.accuracy).toBeCloseTo(0.5, 12);
    // The nine other bins are empty: count 0, confidence and accuracy null.
    for (const bin of m.calibration.bins.slice(0, 9)) expect(bin).toMatchObject({ count: 0, confidence: null });
    expect(m.calibration.bins[0]).toEqual({ lower: 0, upper: 0.1, count: 0, confidence: null, accuracy: null });
    // Right: (0.9 − 1)² + 0.1² = 0.02; wrong: 0.9² + (0.1 − 1)² = 1.62 → Brier (5·0.02 + 5·1.62)/10 = 0.82.
    expect(m.brier).toBeCloseTo(0.82, 12);
    // (5·(−ln 0.9) + 5·(−ln 0.1))/10 = (0.1053605 + 2.3025851)/2 ≈ 1.2039728.
    expect(m.log_loss).toBeCloseTo(1.2039728, 6);
  });

  it('puts a confidence of exactly 1 in the last bin and weighs bins by their share of examples', () => {
    const examples = [
      { label: 'yes', predicted: 'yes', scores: { yes: 0.65, no: 0.35 } },
      { label: 'no', predicted: 'yes', scores: { yes: 0.65, no: 0.35 } },
      ...repeat(2, () => ({ label: 'yes', predicted: 'yes', scores: { yes: 1 } })),
    ];
    const m = classificationMetrics(examples, ['yes', 'no']);
    // Bin [0.6, 0.7): 2 examples, confidence 0.65, accuracy 0.5; bin [0.9, 1]: 2 at confidence 1, both right.
    expect(m.calibration.bins[6]?.count).toBe(2);
    expect(m.calibration.bins[9]?.count).toBe(2);
    expect(m.calibration.bins[9]?.confidence).toBe(1);
    // ECE = (2/4)·|0.5 − 0.65| + (2/4)·|1 − 1| = 0.075.
    expect(m.calibration.ece).toBeCloseTo(0.075, 12);
  });

  it('reads only own score properties, so labels may be named like Object.prototype members', () => {
    // A plain `scores[label]` would read Object.prototype.constructor (a function) for the label 'constructor'.
    const m = classificationMetrics(
      [{ label: 'constructor', predicted: 'toString', scores: { toString: 1 } }],
      ['constructor', 'toString', '__proto__'],
    );
    expect(m.log_loss).toBeCloseTo(34.538776, 5);
    expect(Object.keys(m.per_class)).toEqual(['constructor', 'toString', '__proto__']);
  });

  it('refuses labels outside the label set, duplicate labels and negative scores as invalid input', () => {
    expect(thrown(() => classificationMetrics([ex('a', 'z')], ['a', 'b'])).status).toBe(422);
    expect(thrown(() => classificationMetrics([ex('a', 'a')], ['a', 'a'])).code).toBe('invalid_input');
    expect(thrown(() => classificationMetrics([], ['a'])).status).toBe(422);
    const negative = { label: 'a', predicted: 'a', scores: { a: -0.1 } };
    expect(thrown(() => classificationMetrics([negative], ['a', 'b'])).status).toBe(422);
  });

  it('property: accuracy is the trace of the confusion matrix over N, and rows sum to the supports', () => {
    const labels = ['x', 'y', 'z'];
    const exampleArb = fc.record({
      label: fc.constantFrom(...labels),
      predicted: fc.constantFrom(...labels),
      scores: fc.record({
        x: fc.double({ min: 0, max: 1, noNaN: true }),
        y: fc.double({ min: 0, max: 1, noNaN: true }),
        z: fc.double({ min: 0, max: 1, noNaN: true }),
      }),
    });
    fc.assert(
      fc.property(fc.array(exampleArb, { minLength: 1, maxLength: 40 }), (examples) => {
        const m = classificationMetrics(examples, labels);
        const { matrix } = m.confusion_matrix;
        const trace = matrix.reduce((a, row, i) => a + (row[i] ?? 0), 0);
        expect(m.accuracy).toBeCloseTo(trace / examples.length, 12);
        matrix.forEach((row, i) => expect(row.reduce((a, v) => a + v, 0)).toBe(m.per_class[labels[i] ?? '']?.support));
        expect(m.macro_f1).toBeGreaterThanOrEqual(0);
        expect(m.macro_f1).toBeLessThanOrEqual(1);
        expect(m.calibration.ece).toBeGreaterThanOrEqual(0);
        expect(m.calibration.ece).toBeLessThanOrEqual(1);
        expect(m.calibration.bins.reduce((a, b) => a + b.count, 0)).toBe(examples.length);
        expect(m.brier).toBeLessThanOrEqual(2 + 1e-12);
      }),
    );
  });
});

describe('bootstrap intervals', () => {
  it('interpolates quantiles linearly between order statistics (numpy default)', () => {
    // h = (4 − 1)·0.25 = 0.75 → 1 + 0.75·(2 − 1) = 1.75 (numpy.quantile([1,2,3,4], 0.25) = 1.75).
    expect(quantile([1, 2, 3, 4], 0.25)).toBeCloseTo(1.75, 12);
    // h = 1.5 → 2 + 0.5·(3 − 2) = 2.5.
    expect(quantile([1, 2, 3, 4], 0.5)).toBeCloseTo(2.5, 12);
    expect(quantile([1, 2, 3, 4], 1)).toBe(4);
    expect(quantile([7], 0.975)).toBe(7);
  });

  it('is reproducible by seed, changes with the seed, and contains the point estimate', () => {
    const a = classificationReport(SET3, LABELS3, { seed: 42 });
    const again = classificationReport(SET3, LABELS3, { seed: 42 });
    const other = classificationReport(SET3, LABELS3, { seed: 7 });
    expect(again.intervals).toEqual(a.intervals);
    expect(other.intervals).not.toEqual(a.intervals);
    expect(a.intervals).toMatchObject({ resamples: 1000, confidence: 0.95, seed: 42 });
    for (const r of [a, other]) {
      expect(r.intervals.accuracy.lower).toBeLessThanOrEqual(r.accuracy);
      expect(r.intervals.accuracy.upper).toBeGreaterThanOrEqual(r.accuracy);
      expect(r.intervals.macro_f1.lower).toBeLessThanOrEqual(r.macro_f1);
      expect(r.intervals.macro_f1.upper).toBeGreaterThanOrEqual(r.macro_f1);
      // Ten examples leave a wide interval: every resample has accuracy in [0, 1] and 0.6 is not certain.
      expect(r.intervals.accuracy.lower).toBeGreaterThanOrEqual(0);
      expect(r.intervals.accuracy.upper).toBeLessThanOrEqual(1);
      expect(r.intervals.accuracy.upper - r.intervals.accuracy.lower).toBeGreaterThan(0.2);
    }
    // Narrower coverage, narrower interval (same draws, inner quantiles).
    const narrow = classificationReport(SET3, LABELS3, { seed: 42, confidence: 0.5 });
    expect(narrow.intervals.accuracy.lower).toBeGreaterThanOrEqual(a.intervals.accuracy.lower);
    expect(narrow.intervals.accuracy.upper).toBeLessThanOrEqual(a.intervals.accuracy.upper);
  });

  it('collapses to a point when every resample gives the same value', () => {
    // One label, every example right: every resample has accuracy 1 and macro-F1 1, so both intervals are [1, 1].
    const r = classificationReport(
      repeat(8, () => ex('a', 'a')),
      ['a'],
      { resamples: 50 },
    );
    expect(r.intervals.accuracy).toEqual({ lower: 1, upper: 1 });
    expect(r.intervals.macro_f1).toEqual({ lower: 1, upper: 1 });
    // A statistic that ignores the draw: the interval is that constant.
    const [constant] = percentileBootstrap(5, () => [3] as const, { resamples: 20 });
    expect(constant).toEqual({ lower: 3, upper: 3 });
  });

  it('refuses a confidence outside (0, 1) and a non-integer number of resamples', () => {
    expect(thrown(() => classificationReport(SET3, LABELS3, { confidence: 1 })).status).toBe(422);
    expect(thrown(() => classificationReport(SET3, LABELS3, { resamples: 0 })).status).toBe(422);
  });
});

describe('fairness', () => {
  // Binary, positive label 'pos' (true → predicted):
  //   A: pos→pos, pos→neg, neg→pos, neg→neg    positive rate 2/4 = 0.5, TPR 1/2 = 0.5
  //   B: pos→pos, pos→pos, pos→neg, neg→neg ×2 positive rate 2/5 = 0.4, TPR 2/3
  //   C: neg→pos, neg→neg                      positive rate 1/2 = 0.5, TPR undefined (no positive)
  //   one pos→pos without a group (overall only)
  const grouped: ClassificationExample[] = [
    ex('pos', 'pos', 'A'),
    ex('pos', 'neg', 'A'),
    ex('neg', 'pos', 'A'),
    ex('neg', 'neg', 'A'),
    ex('pos', 'pos', 'B'),
    ex('pos', 'pos', 'B'),
    ex('pos', 'neg', 'B'),
    ex('neg', 'neg', 'B'),
    ex('neg', 'neg', 'B'),
    ex('neg', 'pos', 'C'),
    ex('neg', 'neg', 'C'),
    ex('pos', 'pos'),
  ];

  it('measures demographic parity and equal opportunity gaps, leaving out a group without positives', () => {
    const r = classificationReport(grouped, ['neg', 'pos'], { positiveLabel: 'pos', resamples: 100 });
    // Overall: A 2 + B 4 + C 1 + the ungrouped 1 = 8 right of 12.
    expect(r.accuracy).toBeCloseTo(8 / 12, 12);
    // Per group: A 2/4, B 4/5, C 1/2 right.
    expect(r.groups?.['A']?.accuracy).toBeCloseTo(0.5, 12);
    expect(r.groups?.['B']?.accuracy).toBeCloseTo(0.8, 12);
    expect(r.groups?.['C']?.accuracy).toBeCloseTo(0.5, 12);
    expect(r.groups?.['B']?.examples).toBe(5);
    expect(Object.keys(r.groups ?? {})).toEqual(['A', 'B', 'C']);
    const f = r.fairness;
    expect(f?.positive_label).toBe('pos');
    expect(f?.groups['A']?.positive_rate).toBeCloseTo(0.5, 12);
    expect(f?.groups['A']?.true_positive_rate).toBeCloseTo(0.5, 12);
    expect(f?.groups['B']?.positive_rate).toBeCloseTo(0.4, 12);
    expect(f?.groups['B']?.true_positive_rate).toBeCloseTo(2 / 3, 12);
    expect(f?.groups['C']?.positive_rate).toBeCloseTo(0.5, 12);
    expect(f?.groups['C']?.true_positive_rate).toBeNull();
    // max − min positive rate = 0.5 − 0.4 = 0.1.
    expect(f?.demographic_parity_difference).toBeCloseTo(0.1, 12);
    // max − min TPR over A and B (C excluded) = 2/3 − 1/2 = 1/6.
    expect(f?.equal_opportunity_difference).toBeCloseTo(1 / 6, 12);
    // Two classes: no recall-gap entry.
    expect(f?.largest_recall_gap).toBeUndefined();
  });

  it('leaves out fairness without a positive label, and groups without grouped examples', () => {
    expect(classificationReport(grouped, ['neg', 'pos'], { resamples: 10 }).fairness).toBeUndefined();
    const plain = classificationReport(SET3, LABELS3, { resamples: 10, positiveLabel: 'cat' });
    expect(plain.groups).toBeUndefined();
    expect(plain.fairness).toBeUndefined();
  });

  it('finds the largest per-class recall gap for more than two classes', () => {
    // g1: x→x, x→x, y→y, y→z, z→z   recall x 2/2 = 1, y 1/2, z 1/1 = 1
    // g2: x→y, x→x, y→y, z→x, z→x   recall x 1/2, y 1/1 = 1, z 0/2 = 0
    // Gaps: x 0.5 (g1 > g2), y 0.5 (g2 > g1), z 1 (g1 > g2) → z, 1, highest g1, lowest g2.
    const examples = [
      ex('x', 'x', 'g1'),
      ex('x', 'x', 'g1'),
      ex('y', 'y', 'g1'),
      ex('y', 'z', 'g1'),
      ex('z', 'z', 'g1'),
      ex('x', 'y', 'g2'),
      ex('x', 'x', 'g2'),
      ex('y', 'y', 'g2'),
      ex('z', 'x', 'g2'),
      ex('z', 'x', 'g2'),
    ];
    const f = classificationReport(examples, ['x', 'y', 'z'], { positiveLabel: 'x', resamples: 10 }).fairness;
    expect(f?.largest_recall_gap).toEqual({ label: 'z', difference: 1, highest: 'g1', lowest: 'g2' });
    // Predicted x: g1 2 of 5 = 0.4, g2 (x→x, z→x, z→x) 3 of 5 = 0.6 → DPD 0.2; TPR of x: 1 vs 1/2 → 0.5.
    expect(f?.demographic_parity_difference).toBeCloseTo(0.2, 12);
    expect(f?.equal_opportunity_difference).toBeCloseTo(0.5, 12);
  });

  it('refuses a positive label outside the label set', () => {
    expect(thrown(() => classificationReport(grouped, ['neg', 'pos'], { positiveLabel: 'maybe' })).status).toBe(422);
  });
});

/** erf by its Maclaurin series, (2/√π)·Σ (−1)ⁿ z^(2n+1) / (n!·(2n+1)): an independent reference for small z. */
function erfSeries(z: number): number {
  let sum = 0;
  let power = z; // z^(2n+1) / n!
  for (let n = 0; n < 80; n++) {
    sum += ((n % 2 === 0 ? 1 : -1) * power) / (2 * n + 1);
    power *= (z * z) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

describe("McNemar's test", () => {
  it('uses the exact binomial test below 25 disagreements', () => {
    // b = 1, c = 6, n = 7: p = 2·(C(7,0) + C(7,1))/2⁷ = 2·(1 + 7)/128 = 0.125.
    const r = mcnemarTest(1, 6);
    expect(r.method).toBe('exact_binomial');
    expect(r.p_value).toBeCloseTo(0.125, 12);
    expect(r.better).toBeNull();
    // b = 0, c = 6: p = 2·C(6,0)/2⁶ = 2/64 = 0.03125 < 0.05 → B is better; the mirror case → A.
    expect(mcnemarTest(0, 6).p_value).toBeCloseTo(0.03125, 12);
    expect(mcnemarTest(0, 6).better).toBe('b');
    expect(mcnemarTest(6, 0).better).toBe('a');
    // At alpha 0.01 the same counts are not significant.
    expect(mcnemarTest(0, 6, 0.01).better).toBeNull();
    // b = c = 12, n = 24: the lower tail is already half the mass plus C(24,12)/2^25, so 2× exceeds 1 → p = 1.
    expect(mcnemarTest(12, 12).p_value).toBe(1);
    // 24 disagreements still exact, 25 switch to chi-square.
    expect(mcnemarTest(19, 5).method).toBe('exact_binomial');
    expect(mcnemarTest(20, 5).method).toBe('chi_square');
  });

  it('uses chi-square with continuity correction from 25 disagreements', () => {
    // b = 30, c = 10: χ² = (|30 − 10| − 1)²/40 = 19²/40 = 361/40 = 9.025.
    const r = mcnemarTest(30, 10);
    expect(r.method).toBe('chi_square');
    expect(r.statistic).toBeCloseTo(9.025, 12);
    // Reference: P(χ²₁ > x) = 1 − erf(√(x/2)), erf by its series at z = √4.5125 ≈ 2.1243 → ≈ 0.002663.
    const reference = 1 - erfSeries(Math.sqrt(9.025 / 2));
    expect(reference).toBeCloseTo(0.002663, 6);
    expect(Math.abs(r.p_value - reference) / reference).toBeLessThan(2e-7);
    // The chi-square table agrees: χ²₁ = 7.879 at p = 0.005 and 10.828 at p = 0.001, so 9.025 lies between.
    expect(r.p_value).toBeLessThan(0.005);
    expect(r.p_value).toBeGreaterThan(0.001);
    expect(r.better).toBe('a');
    // b = c: the correction stops at 0, χ² = 0, p = 1.
    expect(mcnemarTest(20, 20)).toMatchObject({ method: 'chi_square', statistic: 0, p_value: 1, better: null });
  });

  it('gives p = 1 for a model against itself, and counts disagreements from correctness', () => {
    const answers = [true, false, true, true, false];
    expect(mcnemarFromCorrectness(answers, answers)).toMatchObject({ b: 0, c: 0, p_value: 1, better: null });
    // A right & B wrong at 0 and 3 → b = 2; B right & A wrong at 2 → c = 1.
    // p = 2·(C(3,0) + C(3,1))/2³ = 2·4/8 = 1.
    const r = mcnemarFromCorrectness([true, true, false, true, false], [false, true, true, false, false]);
    expect(r).toMatchObject({ b: 2, c: 1, p_value: 1 });
    expect(thrown(() => mcnemarFromCorrectness([true], [true, false])).status).toBe(422);
  });

  it('erfc matches known values to within its 1.2e-7 fractional error', () => {
    // Tables (Abramowitz & Stegun 7.1): erfc(1) = 0.1572992070, erfc(2) = 0.0046777350, erfc(0) = 1.
    expect(Math.abs(erfc(1) - 0.157299207) / 0.157299207).toBeLessThan(2e-7);
    expect(Math.abs(erfc(2) - 0.004677735) / 0.004677735).toBeLessThan(2e-7);
    expect(erfc(0)).toBeCloseTo(1, 7);
    expect(erfc(-1)).toBeCloseTo(2 - 0.157299207, 7);
    // P(|Z| > 3) = 0.0026998 (the 3σ rule) is P(χ²₁ > 9).
    expect(chiSquareSurvival1(9)).toBeCloseTo(0.0026998, 7);
    expect(chiSquareSurvival1(0)).toBe(1);
  });

  it('property: p is symmetric in b and c, lies in [0, 1], and names the model with more wins', () => {
    fc.assert(
      fc.property(fc.nat({ max: 200 }), fc.nat({ max: 200 }), (b, c) => {
        const one = mcnemarTest(b, c);
        const other = mcnemarTest(c, b);
        expect(one.p_value).toBe(other.p_value);
        expect(one.p_value).toBeGreaterThanOrEqual(0);
        expect(one.p_value).toBeLessThanOrEqual(1);
        if (one.better !== null) expect(one.better).toBe(b > c ? 'a' : 'b');
        if (b === c) expect(one.p_value).toBe(1);
      }),
    );
  });
});

describe('token classification', () => {
  it('reads chunks as seqeval does: I- after O opens one, a type change splits, B- B- are two', () => {
    expect(entities(['I-PER', 'I-PER', 'B-PER', 'O', 'I-LOC', 'I-ORG'])).toEqual([
      { type: 'PER', start: 0, end: 1 },
      { type: 'PER', start: 2, end: 2 },
      { type: 'LOC', start: 4, end: 4 },
      { type: 'ORG', start: 5, end: 5 },
    ]);
    // IOBES: S- is a one-token entity, E- closes one; a type with a dash keeps it.
    expect(entities(['S-LOC', 'B-MISC-X', 'E-MISC-X', 'O'])).toEqual([
      { type: 'LOC', start: 0, end: 0 },
      { type: 'MISC-X', start: 1, end: 2 },
    ]);
    expect(thrown(() => entities(['B-PER', 'PER'])).status).toBe(422);
  });

  it('counts entity P/R/F1 and token accuracy against counts worked by hand', () => {
    const r = tokenClassificationReport([
      // gold PER(0,1), LOC(3,3); predicted the same → 2 TP. Tokens 4/4 right.
      { labels: ['B-PER', 'I-PER', 'O', 'B-LOC'], predicted: ['B-PER', 'I-PER', 'O', 'B-LOC'] },
      // I- continuation after O: predicted I-ORG I-ORG is ORG(1,2), as gold → 1 TP. Tokens 3/4 (B- vs I-).
      { labels: ['O', 'B-ORG', 'I-ORG', 'O'], predicted: ['O', 'I-ORG', 'I-ORG', 'O'] },
      // Type change: predicted PER(0,0), LOC(1,1) vs gold PER(0,1) → 2 FP, 1 FN. Tokens 2/3.
      { labels: ['B-PER', 'I-PER', 'O'], predicted: ['B-PER', 'I-LOC', 'O'] },
      // Boundary mismatch: predicted LOC(0,1) vs gold LOC(0,2) → 1 FP, 1 FN. Tokens 3/4.
      { labels: ['B-LOC', 'I-LOC', 'I-LOC', 'O'], predicted: ['B-LOC', 'I-LOC', 'O', 'O'] },
      // Gold B- B- is PER(0,0), PER(1,1); predicted PER(0,1) → 1 FP, 2 FN. Tokens 1/2.
      { labels: ['B-PER', 'B-PER'], predicted: ['B-PER', 'I-PER'] },
    ]);
    // Tokens 4 + 4 + 3 + 4 + 2 = 17, right 4 + 3 + 2 + 3 + 1 = 13.
    expect(r.tokens).toBe(17);
    expect(r.token_accuracy).toBeCloseTo(13 / 17, 12);
    // Gold: PER 1 + 1 + 2 = 4, LOC 1 + 1 = 2, ORG 1 → 7. Predicted: PER 1 + 1 + 1 = 3, LOC 1 + 1 + 1 = 3, ORG 1 → 7.
    // TP: PER 1 (sentence 1), LOC 1 (sentence 1), ORG 1 (sentence 2) → 3.
    expect(r.overall).toMatchObject({ support: 7, predicted: 7, true_positives: 3 });
    // Micro: P = 3/7, R = 3/7, F1 = 3/7.
    expect(r.overall.precision).toBeCloseTo(3 / 7, 12);
    expect(r.overall.recall).toBeCloseTo(3 / 7, 12);
    expect(r.overall.f1).toBeCloseTo(3 / 7, 12);
    // PER: P 1/3, R 1/4, F1 2·1/(3 + 4) = 2/7.
    expect(r.per_type['PER']).toMatchObject({ support: 4, predicted: 3, true_positives: 1 });
    expect(r.per_type['PER']?.precision).toBeCloseTo(1 / 3, 12);
    expect(r.per_type['PER']?.recall).toBeCloseTo(0.25, 12);
    expect(r.per_type['PER']?.f1).toBeCloseTo(2 / 7, 12);
    // LOC: P 1/3, R 1/2, F1 2·1/(3 + 2) = 0.4.
    expect(r.per_type['LOC']?.precision).toBeCloseTo(1 / 3, 12);
    expect(r.per_type['LOC']?.recall).toBeCloseTo(0.5, 12);
    expect(r.per_type['LOC']?.f1).toBeCloseTo(0.4, 12);
    // ORG: 1 of 1 → 1, 1, 1.
    expect(r.per_type['ORG']).toMatchObject({ precision: 1, recall: 1, f1: 1 });
    expect(Object.keys(r.per_type)).toEqual(['LOC', 'ORG', 'PER']);
  });

  it('refuses sequences whose tag counts differ', () => {
    expect(thrown(() => tokenClassificationReport([{ labels: ['O'], predicted: ['O', 'O'] }])).status).toBe(422);
  });

  it('property: a perfect tagger scores F1 1 wherever there are entities, and token accuracy 1', () => {
    const tagArb = fc.constantFrom('O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC');
    fc.assert(
      fc.property(
        fc.array(fc.array(tagArb, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        (seqs) => {
          const r = tokenClassificationReport(seqs.map((tags) => ({ labels: tags, predicted: tags })));
          expect(r.token_accuracy).toBe(1);
          if (r.overall.support > 0) expect(r.overall.f1).toBe(1);
          expect(r.overall.predicted).toBe(r.overall.support);
        },
      ),
    );
  });
});

describe('object detection', () => {
  const box = (xmin: number, ymin: number, xmax: number, ymax: number) => ({ xmin, ymin, xmax, ymax });

  it('computes IoU in continuous coordinates', () => {
    // Overlap 5×5 = 25, union 100 + 100 − 25 = 175 → 1/7.
    expect(iou(box(0, 0, 10, 10), box(5, 5, 15, 15))).toBeCloseTo(1 / 7, 12);
    expect(iou(box(0, 0, 10, 10), box(10, 0, 20, 10))).toBe(0);
    expect(iou(box(0, 0, 0, 0), box(0, 0, 0, 0))).toBe(0);
  });

  it('computes AP under the precision envelope, with false positives ranked above true positives', () => {
    const images: DetectionImage[] = [
      {
        gold: [
          { label: 'cat', box: box(0, 0, 10, 10) }, // G1
          { label: 'cat', box: box(20, 20, 30, 30) }, // G2
        ],
        predicted: [
          { label: 'cat', score: 0.9, box: box(50, 50, 60, 60) }, // overlaps nothing → FP
          { label: 'cat', score: 0.8, box: box(0, 0, 10, 10) }, // IoU 1 with G1 → TP
          { label: 'cat', score: 0.7, box: box(1, 1, 10, 10) }, // best IoU 81/100 with G1, already taken → FP
          { label: 'cat', score: 0.6, box: box(20, 20, 30, 32) }, // 100 / (100 + 120 − 100) = 0.833 with G2 → TP
          { label: 'bird', score: 0.5, box: box(0, 0, 10, 10) }, // no bird anywhere → FP
        ],
      },
      {
        gold: [{ label: 'dog', box: box(0, 0, 10, 10) }], // D1
        predicted: [
          { label: 'dog', score: 0.95, box: box(0, 0, 10, 5) }, // IoU 50/100 = 0.5 exactly → TP (≥ 0.5)
          { label: 'dog', score: 0.3, box: box(100, 100, 110, 110) }, // FP
          { label: 'cat', score: 0.85, box: box(0, 0, 10, 10) }, // a dog's box, no cat in this image → FP
        ],
      },
    ];
    const r = detectionReport(images);
    // cat by score: 0.9 FP, 0.85 FP, 0.8 TP, 0.7 FP, 0.6 TP; gold 2.
    //   precision 0, 0, 1/3, 1/4, 2/5; recall 0, 0, 1/2, 1/2, 1.
    //   envelope (max to the right): 2/5 everywhere up to recall 1.
    //   AP = (1/2 − 0)·2/5 + (1 − 1/2)·2/5 = 0.2 + 0.2 = 0.4.
    expect(r.per_label['cat']?.average_precision).toBeCloseTo(0.4, 12);
    expect(r.per_label['cat']).toMatchObject({ gold: 2, predicted: 5, true_positives: 2 });
    expect(r.per_label['cat']?.precision).toBeCloseTo(0.4, 12);
    expect(r.per_label['cat']?.recall).toBeCloseTo(1, 12);
    // dog: 0.95 TP, 0.3 FP; gold 1 → precision 1, 1/2; recall 1, 1 → AP = 1·1 = 1; P over all = 1/2, R = 1.
    expect(r.per_label['dog']?.average_precision).toBeCloseTo(1, 12);
    expect(r.per_label['dog']?.precision).toBeCloseTo(0.5, 12);
    expect(r.per_label['dog']?.recall).toBeCloseTo(1, 12);
    // bird: no gold box → AP and recall undefined (null), precision 0/1 = 0; left out of the mean.
    expect(r.per_label['bird']).toEqual({
      precision: 0,
      recall: null,
      average_precision: null,
      gold: 0,
      predicted: 1,
      true_positives: 0,
    });
    // mAP@0.5 = (0.4 + 1)/2 = 0.7.
    expect(r.map).toBeCloseTo(0.7, 12);
    expect(r.iou_threshold).toBe(0.5);
    expect(Object.keys(r.per_label)).toEqual(['bird', 'cat', 'dog']);
    // At IoU 0.6 the dog's half box (IoU 0.5) misses: dog AP 0 → mAP (0.4 + 0)/2 = 0.2.
    expect(detectionReport(images, 0.6).map).toBeCloseTo(0.2, 12);
  });

  it('matches a detection to the best still-unmatched gold box when gold boxes overlap', () => {
    // Ga = (0,0,10,10), Gb = (0,0,10,12) overlap each other. P1 (0.9) = Ga exactly → IoU 1 with Ga → TP, takes Ga.
    // P2 (0.8) = (0,0,10,10.5): IoU with Ga 100/105 ≈ 0.952 (taken), with Gb 105/120 = 0.875 ≥ 0.5 → TP on Gb.
    // (VOC's devkit would call P2 false for Ga being taken, AP 0.5.) Both TP, gold 2 → AP 1.
    const r = detectionReport([
      {
        gold: [
          { label: 'a', box: box(0, 0, 10, 10) },
          { label: 'a', box: box(0, 0, 10, 12) },
        ],
        predicted: [
          { label: 'a', score: 0.9, box: box(0, 0, 10, 10) },
          { label: 'a', score: 0.8, box: box(0, 0, 10, 10.5) },
        ],
      },
    ]);
    expect(r.per_label['a']).toMatchObject({ true_positives: 2, average_precision: 1, precision: 1, recall: 1 });
  });

  it('averagePrecision: no hits → 0; no gold → null; a gold box never detected lowers recall', () => {
    expect(averagePrecision([false, false], 1)).toBe(0);
    expect(averagePrecision([true], 0)).toBeNull();
    // TP then nothing, 2 gold: recall reaches 1/2 at precision 1 → AP = 1/2·1 = 0.5.
    expect(averagePrecision([true], 2)).toBeCloseTo(0.5, 12);
  });

  it('property: AP lies in [0, 1], and perfect detections score AP 1', () => {
    const boxArb = fc
      .tuple(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 30 }))
      .map(([x, y, s]) => box(x, y, x + s, y + s));
    fc.assert(
      fc.property(
        fc.array(fc.record({ label: fc.constantFrom('a', 'b'), box: boxArb }), { minLength: 1, maxLength: 6 }),
        fc.array(
          fc.record({
            label: fc.constantFrom('a', 'b'),
            box: boxArb,
            score: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          {
            maxLength: 8,
          },
        ),
        (gold, predicted) => {
          const r = detectionReport([{ gold, predicted }]);
          for (const m of Object.values(r.per_label)) {
            if (m.average_precision === null) continue;
            expect(m.average_precision).toBeGreaterThanOrEqual(0);
            expect(m.average_precision).toBeLessThanOrEqual(1 + 1e-12);
          }
          const perfect = detectionReport([{ gold, predicted: gold.map((g) => ({ ...g, score: 1 })) }]);
          expect(perfect.map).toBeCloseTo(1, 12);
        },
      ),
    );
  });
});
