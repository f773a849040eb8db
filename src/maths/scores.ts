/**
 * @module Scores over a row of logits or probabilities: a stable softmax (whole row, or over the positions a mask
 * keeps), the sigmoid, and ranking scores as `{ label, score }` best first. Shared by every classifier, detector and
 * span scorer, so "best first" and "probabilities sum to one" are written once.
 */

export interface LabelScore {
  label: string;
  score: number;
}

/** Best first: the order every task answers scores in. */
export const byScore = (a: { score: number }, b: { score: number }): number => b.score - a.score;

/** Softmax over one row, stable for large logits. */
export function softmax(row: Float32Array): Float32Array {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  const out = new Float32Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp((row[i] ?? 0) - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = (out[i] ?? 0) / sum;
  return out;
}

/**
 * Softmax over the positions `keep` marks (the others get 0), in float64: span scores multiply two of these, and
 * question answering compares products of small probabilities.
 */
export function softmaxMasked(logits: Float32Array, keep: readonly boolean[]): Float64Array {
  let max = -Infinity;
  keep.forEach((k, i) => {
    if (k) max = Math.max(max, logits[i] ?? -Infinity);
  });
  const out = new Float64Array(logits.length);
  let sum = 0;
  keep.forEach((k, i) => {
    if (!k) return;
    const e = Math.exp((logits[i] ?? 0) - max);
    out[i] = e;
    sum += e;
  });
  return out.map((v) => v / sum);
}

export function sigmoid(row: Float32Array): Float32Array {
  return row.map((v) => 1 / (1 + Math.exp(-v)));
}

/** A row of class scores as labels with scores, best first, cut to `topK` when given (`LABEL_i` for unnamed ones). */
export function rankLabels(
  scores: ArrayLike<number>,
  labels: readonly string[] | undefined,
  topK?: number,
): LabelScore[] {
  const all = Array.from(scores, (score, i) => ({ label: labels?.[i] ?? `LABEL_${i}`, score }));
  all.sort(byScore);
  return topK === undefined ? all : all.slice(0, topK);
}
