/**
 * @module Classification metrics over labelled examples: accuracy, per-class precision/recall/F1 and macro-F1 (as
 * scikit-learn counts them with `zero_division=0`), the confusion matrix, log loss, the multi-class Brier score and a
 * reliability diagram with its expected calibration error. The examples are prepared once (label indices and
 * probabilities over the label set) so the per-group metrics and the bootstrap reuse them without re-validating.
 */
import { invalidInput } from '../lib/errors.js';

/** One labelled example: the true label, the model's answer and its probability per label. */
export interface ClassificationExample {
  label: string;
  predicted: string;
  /** Probability per label. Missing labels count as 0; keys outside the label set are ignored. */
  scores: Readonly<Record<string, number>>;
  /** Subpopulation for the fairness report (e.g. a dialect or a region). */
  group?: string;
}

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Examples whose true label is this one. */
  support: number;
}

export interface ConfusionMatrix {
  labels: string[];
  /** `matrix[i][j]`: examples of true label `labels[i]` predicted as `labels[j]`. */
  matrix: number[][];
}

export interface CalibrationBin {
  lower: number;
  upper: number;
  count: number;
  /** Mean top-label confidence in the bin; null when the bin is empty (0 would read as a measurement). */
  confidence: number | null;
  /** Fraction of the bin's examples predicted right; null when the bin is empty. */
  accuracy: number | null;
}

export interface Calibration {
  ece: number;
  bins: CalibrationBin[];
}

export interface ClassificationMetrics {
  examples: number;
  accuracy: number;
  macro_f1: number;
  per_class: Record<string, ClassMetrics>;
  confusion_matrix: ConfusionMatrix;
  log_loss: number;
  brier: number;
  calibration: Calibration;
}

/** Equal-width calibration bins over [0, 1] unless told otherwise (the usual reliability diagram). */
export const DEFAULT_CALIBRATION_BINS = 10;

/** scikit-learn's historical `log_loss` clip: a probability of 0 costs −ln(1e-15) ≈ 34.5, not infinity. */
export const LOG_LOSS_EPSILON = 1e-15;

/** Examples checked and turned into indices once, for every metric, group and resample that reads them. */
export interface PreparedExamples {
  labels: readonly string[];
  truth: Int32Array;
  predicted: Int32Array;
  /** Row-major examples × labels, each row renormalised over the label set (see `prepareExamples`). */
  probabilities: Float64Array;
}

/**
 * Validates the examples against the label set and maps them to indices. Scores are renormalised over the label set
 * (divided by their sum) so log loss, Brier and calibration see a distribution even when the model's scores do not
 * sum to one (sigmoid heads, a truncated top-k, rounding); a row that sums to 0 stays all-zero, which log loss then
 * charges at the clip. Scores must be finite and non-negative.
 */
export function prepareExamples(
  examples: readonly ClassificationExample[],
  labels: readonly string[],
): PreparedExamples {
  if (labels.length === 0) throw invalidInput('metrics: the label set is empty.');
  const index = labelIndex(labels);
  if (examples.length === 0) throw invalidInput('metrics: there are no examples.');
  const k = labels.length;
  const truth = new Int32Array(examples.length);
  const predicted = new Int32Array(examples.length);
  const probabilities = new Float64Array(examples.length * k);
  examples.forEach((example, i) => {
    const t = index.get(example.label);
    const p = index.get(example.predicted);
    if (t === undefined) throw invalidInput(`examples[${i}].label: '${example.label}' is not in the label set.`);
    if (p === undefined)
      throw invalidInput(`examples[${i}].predicted: '${example.predicted}' is not in the label set.`);
    truth[i] = t;
    predicted[i] = p;
    let sum = 0;
    labels.forEach((label, j) => {
      // Own properties only: a label named `constructor` must not read Object.prototype's.
      const score: unknown = Object.hasOwn(example.scores, label) ? example.scores[label] : 0;
      if (typeof score !== 'number' || !Number.isFinite(score) || score < 0)
        throw invalidInput(`examples[${i}].scores.${label}: a probability must be a finite number ≥ 0.`);
      probabilities[i * k + j] = score;
      sum += score;
    });
    if (sum > 0) for (let j = 0; j < k; j++) probabilities[i * k + j] = (probabilities[i * k + j] ?? 0) / sum;
  });
  return { labels, truth, predicted, probabilities };
}

/** Label → index, refusing duplicates (a repeated label would split its counts between two rows). */
export function labelIndex(labels: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  labels.forEach((label, i) => {
    if (index.has(label)) throw invalidInput(`metrics: the label '${label}' appears twice in the label set.`);
    index.set(label, i);
  });
  return index;
}

/** a / b, or 0 when b is 0: scikit-learn's `zero_division=0`, used for every ill-defined precision and recall. */
export function ratioOrZero(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

/**
 * Precision, recall and F1 from true positives, predictions and gold items, each 0 when undefined. F1 is
 * 2·tp / (predicted + gold), equal to the harmonic mean of P and R where both are defined and 0 where P + R = 0, as
 * scikit-learn (≥ 1.3) computes it.
 */
export function precisionRecallF1(
  truePositives: number,
  predicted: number,
  gold: number,
): { precision: number; recall: number; f1: number } {
  return {
    precision: ratioOrZero(truePositives, predicted),
    recall: ratioOrZero(truePositives, gold),
    f1: ratioOrZero(2 * truePositives, predicted + gold),
  };
}

/** Every metric for the whole set of examples (no intervals: see `classificationReport`). */
export function classificationMetrics(
  examples: readonly ClassificationExample[],
  labels: readonly string[],
  bins = DEFAULT_CALIBRATION_BINS,
): ClassificationMetrics {
  const data = prepareExamples(examples, labels);
  return metricsOver(data, allRows(examples.length), bins);
}

/** 0, 1, …, n − 1: the rows of a whole set. */
export function allRows(n: number): Uint32Array {
  return Uint32Array.from({ length: n }, (_, i) => i);
}

/**
 * Every metric over the given rows of prepared examples (a group, or the whole set). Log loss is the mean of
 * −ln p(true label), natural log, p clipped to [1e-15, 1 − 1e-15]; Brier is the multi-class score, the mean over
 * examples of Σ_k (p_k − y_k)² with y one-hot (range [0, 2]; for two classes it is twice scikit-learn's binary
 * `brier_score_loss`, which scores the positive class alone).
 */
export function metricsOver(data: PreparedExamples, rows: ArrayLike<number>, bins: number): ClassificationMetrics {
  if (rows.length === 0) throw invalidInput('metrics: there are no examples.');
  if (!Number.isInteger(bins) || bins < 1) throw invalidInput(`metrics: bins must be a positive integer, not ${bins}.`);
  const k = data.labels.length;
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  let logLoss = 0;
  let brier = 0;
  const binCount = new Float64Array(bins);
  const binConfidence = new Float64Array(bins);
  const binCorrect = new Float64Array(bins);
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n] ?? 0;
    const t = data.truth[r] ?? 0;
    const p = data.predicted[r] ?? 0;
    const row = matrix[t];
    if (row) row[p] = (row[p] ?? 0) + 1;
    const right = t === p ? 1 : 0;
    correct += right;
    const pTrue = data.probabilities[r * k + t] ?? 0;
    logLoss -= Math.log(Math.min(1 - LOG_LOSS_EPSILON, Math.max(LOG_LOSS_EPSILON, pTrue)));
    for (let j = 0; j < k; j++) brier += ((data.probabilities[r * k + j] ?? 0) - (j === t ? 1 : 0)) ** 2;
    // Top-label confidence: the probability of the label the model answered (the largest score when it answered
    // the argmax), so confidence and correctness are about the same label even for thresholded answers.
    const confidence = Math.min(1, data.probabilities[r * k + p] ?? 0);
    // Bins are [b/B, (b+1)/B); a confidence of exactly 1 joins the last bin rather than open an eleventh.
    const b = Math.min(bins - 1, Math.floor(confidence * bins));
    binCount[b] = (binCount[b] ?? 0) + 1;
    binConfidence[b] = (binConfidence[b] ?? 0) + confidence;
    binCorrect[b] = (binCorrect[b] ?? 0) + right;
  }
  const total = rows.length;
  const perClass = data.labels.map((label, j): [string, ClassMetrics] => {
    const support = (matrix[j] ?? []).reduce((a, v) => a + v, 0);
    const predictedAs = matrix.reduce((a, row) => a + (row[j] ?? 0), 0);
    return [label, { ...precisionRecallF1(matrix[j]?.[j] ?? 0, predictedAs, support), support }];
  });
  let ece = 0;
  const calibrationBins = Array.from(binCount, (count, b): CalibrationBin => {
    const confidence = count === 0 ? null : (binConfidence[b] ?? 0) / count;
    const accuracy = count === 0 ? null : (binCorrect[b] ?? 0) / count;
    // ECE = Σ_b (n_b / N)·|acc_b − conf_b|; empty bins weigh nothing.
    if (confidence !== null && accuracy !== null) ece += (count / total) * Math.abs(accuracy - confidence);
    return { lower: b / bins, upper: (b + 1) / bins, count, confidence, accuracy };
  });
  return {
    examples: total,
    accuracy: correct / total,
    // Macro over the whole label set, as scikit-learn's `labels=` argument: a class never seen nor predicted
    // counts with F1 0, so an evaluation set that lacks a class cannot flatter the model.
    macro_f1: perClass.reduce((a, [, m]) => a + m.f1, 0) / k,
    // fromEntries defines own properties, so a label such as `__proto__` stays a key rather than a prototype.
    per_class: Object.fromEntries(perClass),
    confusion_matrix: { labels: [...data.labels], matrix },
    log_loss: logLoss / total,
    brier: brier / total,
    calibration: { ece, bins: calibrationBins },
  };
}

/**
 * Accuracy and macro-F1 alone, from counts, for the bootstrap: it runs a thousand times, so it skips the matrix
 * and the probabilities. Macro-F1 per class is 2·tp / (gold + predicted), as in `metricsOver`.
 */
export function accuracyAndMacroF1(data: PreparedExamples, rows: ArrayLike<number>): [number, number] {
  const k = data.labels.length;
  const tp = new Float64Array(k);
  const gold = new Float64Array(k);
  const predictedAs = new Float64Array(k);
  let correct = 0;
  for (let n = 0; n < rows.length; n++) {
    const r = rows[n] ?? 0;
    const t = data.truth[r] ?? 0;
    const p = data.predicted[r] ?? 0;
    gold[t] = (gold[t] ?? 0) + 1;
    predictedAs[p] = (predictedAs[p] ?? 0) + 1;
    if (t === p) {
      tp[t] = (tp[t] ?? 0) + 1;
      correct++;
    }
  }
  let f1 = 0;
  for (let j = 0; j < k; j++) f1 += ratioOrZero(2 * (tp[j] ?? 0), (gold[j] ?? 0) + (predictedAs[j] ?? 0));
  return [correct / rows.length, f1 / k];
}
