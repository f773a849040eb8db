/**
 * @module Group fairness of a classifier: demographic parity and equal opportunity differences for one positive
 * label (largest minus smallest positive-prediction rate, and true-positive rate, across groups), and for more than
 * two classes the per-class recall gap that is largest across groups. The gaps fairlearn names the same way; the
 * groups are whatever the caller tags examples with.
 */
import { invalidInput } from '../lib/errors.js';
import type { PreparedExamples } from './classification-metrics.js';

export interface GroupRates {
  examples: number;
  /** Fraction of the group's examples predicted as the positive label. */
  positive_rate: number;
  /** Recall of the positive label in the group; null when the group has no positive example (undefined). */
  true_positive_rate: number | null;
}

export interface RecallGap {
  label: string;
  difference: number;
  /** The group with the highest recall of `label` (the first in group order on a tie). */
  highest: string;
  lowest: string;
}

export interface FairnessReport {
  positive_label: string;
  demographic_parity_difference: number;
  /**
   * Largest minus smallest true-positive rate over the groups that have one: a group with no positive example has
   * `true_positive_rate: null` and is left out (its TPR is undefined, not 0). Null when no group has a positive.
   */
  equal_opportunity_difference: number | null;
  groups: Record<string, GroupRates>;
  /** Only for more than two classes (with two, it is the TPR gap of one class or the other). */
  largest_recall_gap?: RecallGap | null;
}

/** Row indices per group, in order of each group's first appearance (examples without a group are left out). */
export function groupRows(groups: readonly (string | undefined)[]): Map<string, Uint32Array> {
  const rows = new Map<string, number[]>();
  groups.forEach((group, i) => {
    if (group === undefined) return;
    let list = rows.get(group);
    if (list === undefined) rows.set(group, (list = []));
    list.push(i);
  });
  return new Map([...rows].map(([group, list]) => [group, Uint32Array.from(list)]));
}

/**
 * The fairness report over prepared examples split into groups (`groupRows`). `positiveLabel` is the caller's choice
 * (the route picks its default); it must be in the label set.
 */
export function fairnessReport(
  data: PreparedExamples,
  groups: ReadonlyMap<string, ArrayLike<number>>,
  positiveLabel: string,
): FairnessReport {
  const positive = data.labels.indexOf(positiveLabel);
  if (positive < 0) throw invalidInput(`fairness: the positive label '${positiveLabel}' is not in the label set.`);
  if (groups.size === 0) throw invalidInput('fairness: no example carries a group.');
  const k = data.labels.length;
  const rates: [string, GroupRates][] = [];
  // recall[group][label]: null where the group has no example of that label.
  const recalls: [string, (number | null)[]][] = [];
  for (const [group, rows] of groups) {
    const gold = new Float64Array(k);
    const hits = new Float64Array(k);
    let predictedPositive = 0;
    for (let n = 0; n < rows.length; n++) {
      const r = rows[n] ?? 0;
      const t = data.truth[r] ?? 0;
      const p = data.predicted[r] ?? 0;
      gold[t] = (gold[t] ?? 0) + 1;
      if (t === p) hits[t] = (hits[t] ?? 0) + 1;
      if (p === positive) predictedPositive++;
    }
    const recall = Array.from(gold, (g, j) => (g === 0 ? null : (hits[j] ?? 0) / g));
    recalls.push([group, recall]);
    rates.push([
      group,
      {
        examples: rows.length,
        positive_rate: rows.length === 0 ? 0 : predictedPositive / rows.length,
        true_positive_rate: recall[positive] ?? null,
      },
    ]);
  }
  const report: FairnessReport = {
    positive_label: positiveLabel,
    demographic_parity_difference: spread(rates.map(([, r]) => r.positive_rate)) ?? 0,
    equal_opportunity_difference: spread(rates.map(([, r]) => r.true_positive_rate)),
    groups: Object.fromEntries(rates),
  };
  if (k > 2) report.largest_recall_gap = largestRecallGap(data.labels, recalls);
  return report;
}

/** Largest minus smallest of the defined values; null when none is defined. */
function spread(values: readonly (number | null)[]): number | null {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length === 0 ? null : Math.max(...defined) - Math.min(...defined);
}

/**
 * The class whose recall differs most between groups (over the groups that have examples of it), and which groups
 * hold the extremes. Ties go to the first class in label order and the first group in group order, so the answer is
 * stable. Null when no class has a defined recall in any group.
 */
function largestRecallGap(
  labels: readonly string[],
  recalls: readonly (readonly [string, readonly (number | null)[]])[],
): RecallGap | null {
  let best: RecallGap | null = null;
  for (const [j, label] of labels.entries()) {
    let highest: [string, number] | null = null;
    let lowest: [string, number] | null = null;
    for (const [group, recall] of recalls) {
      const value = recall[j] ?? null;
      if (value === null) continue;
      if (highest === null || value > highest[1]) highest = [group, value];
      if (lowest === null || value < lowest[1]) lowest = [group, value];
    }
    if (highest === null || lowest === null) continue;
    const difference = highest[1] - lowest[1];
    if (best === null || difference > best.difference)
      best = { label, difference, highest: highest[0], lowest: lowest[0] };
  }
  return best;
}
