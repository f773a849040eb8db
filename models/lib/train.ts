/** @module Seeded, dependency-free training utilities for small classifiers on sparse features (Node build tooling). */

/** mulberry32: a tiny seeded PRNG, so every split and initialisation is reproducible bit for bit. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of a copy. */
export function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const a = out[i];
    const b = out[j];
    if (a === undefined || b === undefined) continue;
    out[i] = b;
    out[j] = a;
  }
  return out;
}

/**
 * Stratified split of indices 0..n-1: within each label (and `group`, when given) a seeded shuffle puts
 * round(share × count) items in the second part. Both parts are returned sorted ascending.
 */
export function stratifiedSplit(
  labels: readonly number[],
  share: number,
  seed: number,
  groups?: readonly string[],
): { first: number[]; second: number[] } {
  const rand = mulberry32(seed);
  const strata = new Map<string, number[]>();
  labels.forEach((y, i) => {
    const key = `${groups?.[i] ?? ''}\u0000${y}`;
    const list = strata.get(key) ?? [];
    list.push(i);
    strata.set(key, list);
  });
  const first: number[] = [];
  const second: number[] = [];
  // Strata in sorted key order: Map insertion order would tie the split to the data's ordering of labels.
  for (const key of [...strata.keys()].sort()) {
    const idx = shuffled(strata.get(key) ?? [], rand);
    const cut = Math.round(idx.length * share);
    second.push(...idx.slice(0, cut));
    first.push(...idx.slice(cut));
  }
  return { first: first.sort((a, b) => a - b), second: second.sort((a, b) => a - b) };
}

/** One example as sparse features. */
export interface SparseRow {
  indices: Uint32Array;
  values: Float32Array;
}

export interface MlpSpec {
  inputs: number;
  /** 0 = logistic (softmax) regression; otherwise one ReLU hidden layer of this width. */
  hidden: number;
  classes: number;
}

/** Parameters in ONNX layout: W [in, out] row-major, b [out]. One layer for hidden = 0, two otherwise. */
export interface MlpParams {
  spec: MlpSpec;
  layers: { w: Float64Array; b: Float64Array; rows: number; cols: number }[];
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** L2 penalty on weights (not biases), added to the mean cross-entropy. */
  l2: number;
  seed: number;
  /** Called after each epoch; return value ignored. Used for per-epoch validation. */
  onEpoch?: (epoch: number, params: MlpParams) => void;
}

export function initParams(spec: MlpSpec, seed: number): MlpParams {
  const rand = mulberry32(seed);
  const layer = (rows: number, cols: number, scale: number): MlpParams['layers'][number] => ({
    w: Float64Array.from({ length: rows * cols }, () => (rand() * 2 - 1) * scale),
    b: new Float64Array(cols),
    rows,
    cols,
  });
  if (spec.hidden === 0)
    return {
      spec,
      layers: [
        {
          w: new Float64Array(spec.inputs * spec.classes),
          b: new Float64Array(spec.classes),
          rows: spec.inputs,
          cols: spec.classes,
        },
      ],
    };
  // He-style uniform init scaled for sparse, L2-normalised inputs (≈ unit norm rows): keeps early ReLUs alive.
  return {
    spec,
    layers: [
      layer(spec.inputs, spec.hidden, Math.sqrt(6 / (spec.hidden + 1))),
      layer(spec.hidden, spec.classes, Math.sqrt(6 / (spec.hidden + spec.classes))),
    ],
  };
}

interface Forward {
  hidden: Float64Array | undefined;
  logits: Float64Array;
}

function forward(p: MlpParams, x: SparseRow): Forward {
  const first = p.layers[0];
  if (first === undefined) throw new Error('no layers');
  const a = Float64Array.from(first.b);
  for (let k = 0; k < x.indices.length; k++) {
    const row = (x.indices[k] ?? 0) * first.cols;
    const v = x.values[k] ?? 0;
    for (let j = 0; j < first.cols; j++) a[j] = (a[j] ?? 0) + v * (first.w[row + j] ?? 0);
  }
  const second = p.layers[1];
  if (second === undefined) return { hidden: undefined, logits: a };
  for (let j = 0; j < a.length; j++) a[j] = Math.max(0, a[j] ?? 0);
  const out = Float64Array.from(second.b);
  for (let i = 0; i < second.rows; i++) {
    const h = a[i] ?? 0;
    if (h === 0) continue;
    for (let j = 0; j < second.cols; j++) out[j] = (out[j] ?? 0) + h * (second.w[i * second.cols + j] ?? 0);
  }
  return { hidden: a, logits: out };
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] ?? 0);
  const e = Float64Array.from({ length: logits.length }, (_, i) => Math.exp((logits[i] ?? 0) - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

/** Class probabilities for each row. */
export function predictProba(p: MlpParams, rows: readonly SparseRow[]): Float64Array[] {
  return rows.map((x) => softmax(forward(p, x).logits));
}

export function argmax(xs: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] ?? 0) > (xs[best] ?? 0)) best = i;
  return best;
}

/**
 * Mini-batch Adam on mean softmax cross-entropy + (l2 / 2)·‖W‖². Gradients of the first layer are sparse (only the
 * rows an example touches), but the Adam step is dense so every weight feels the L2 pull and decays consistently.
 */
export function train(
  rows: readonly SparseRow[],
  labels: readonly number[],
  spec: MlpSpec,
  opts: TrainOptions,
): MlpParams {
  const p = initParams(spec, opts.seed);
  const rand = mulberry32(opts.seed ^ 0x9e3779b9);
  const grads = p.layers.map((l) => ({ w: new Float64Array(l.w.length), b: new Float64Array(l.b.length) }));
  const m1 = p.layers.map((l) => ({ w: new Float64Array(l.w.length), b: new Float64Array(l.b.length) }));
  const m2 = p.layers.map((l) => ({ w: new Float64Array(l.w.length), b: new Float64Array(l.b.length) }));
  const beta1 = 0.9;
  const beta2 = 0.999;
  const eps = 1e-8;
  let step = 0;
  const order = rows.map((_, i) => i);
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const perm = shuffled(order, rand);
    for (let start = 0; start < perm.length; start += opts.batchSize) {
      const batch = perm.slice(start, start + opts.batchSize);
      for (const g of grads) {
        g.w.fill(0);
        g.b.fill(0);
      }
      for (const i of batch) accumulate(p, grads, rows[i], labels[i] ?? 0, 1 / batch.length);
      step++;
      const c1 = 1 - beta1 ** step;
      const c2 = 1 - beta2 ** step;
      p.layers.forEach((layer, li) => {
        const g = grads[li];
        const a = m1[li];
        const b = m2[li];
        if (g === undefined || a === undefined || b === undefined) return;
        adam(layer.w, g.w, a.w, b.w, opts.learningRate, opts.l2, c1, c2, beta1, beta2, eps);
        adam(layer.b, g.b, a.b, b.b, opts.learningRate, 0, c1, c2, beta1, beta2, eps);
      });
    }
    opts.onEpoch?.(epoch, p);
  }
  return p;
}

function adam(
  w: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  lr: number,
  l2: number,
  c1: number,
  c2: number,
  beta1: number,
  beta2: number,
  eps: number,
): void {
  for (let i = 0; i < w.length; i++) {
    const wi = w[i] ?? 0;
    const gi = (g[i] ?? 0) + l2 * wi;
    const mi = beta1 * (m[i] ?? 0) + (1 - beta1) * gi;
    const vi = beta2 * (v[i] ?? 0) + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
  }
}

function accumulate(
  p: MlpParams,
  grads: { w: Float64Array; b: Float64Array }[],
  x: SparseRow | undefined,
  y: number,
  weight: number,
): void {
  if (x === undefined) return;
  const f = forward(p, x);
  const prob = softmax(f.logits);
  const dLogits = prob.map((v, j) => (v - (j === y ? 1 : 0)) * weight);
  const last = p.layers.length - 1;
  const gl = grads[last];
  const ll = p.layers[last];
  if (gl === undefined || ll === undefined) return;
  for (let j = 0; j < dLogits.length; j++) gl.b[j] = (gl.b[j] ?? 0) + (dLogits[j] ?? 0);
  // Gradient w.r.t. the last layer's input: sparse x for logistic regression, the hidden activations for the MLP.
  if (f.hidden === undefined) {
    sparseOuter(gl.w, ll.cols, x, dLogits);
    return;
  }
  const h = f.hidden;
  const dh = new Float64Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const hi = h[i] ?? 0;
    if (hi === 0) continue;
    let s = 0;
    for (let j = 0; j < ll.cols; j++) {
      gl.w[i * ll.cols + j] = (gl.w[i * ll.cols + j] ?? 0) + hi * (dLogits[j] ?? 0);
      s += (ll.w[i * ll.cols + j] ?? 0) * (dLogits[j] ?? 0);
    }
    dh[i] = s;
  }
  const g0 = grads[0];
  const l0 = p.layers[0];
  if (g0 === undefined || l0 === undefined) return;
  for (let j = 0; j < dh.length; j++) g0.b[j] = (g0.b[j] ?? 0) + (dh[j] ?? 0);
  sparseOuter(g0.w, l0.cols, x, dh);
}

function sparseOuter(gw: Float64Array, cols: number, x: SparseRow, d: ArrayLike<number>): void {
  for (let k = 0; k < x.indices.length; k++) {
    const row = (x.indices[k] ?? 0) * cols;
    const v = x.values[k] ?? 0;
    for (let j = 0; j < cols; j++) gw[row + j] = (gw[row + j] ?? 0) + v * (d[j] ?? 0);
  }
}

export interface ClassificationMetrics {
  accuracy: number;
  macro_f1: number;
  /** confusion[true][predicted] */
  confusion: number[][];
}

export function classificationMetrics(
  labels: readonly number[],
  predicted: readonly number[],
  classes: number,
): ClassificationMetrics {
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  labels.forEach((y, i) => {
    const p = predicted[i] ?? 0;
    const row = confusion[y];
    if (row) row[p] = (row[p] ?? 0) + 1;
    if (p === y) correct++;
  });
  let f1Sum = 0;
  for (let c = 0; c < classes; c++) {
    const tp = confusion[c]?.[c] ?? 0;
    const fp = confusion.reduce((s, row, r) => s + (r === c ? 0 : (row[c] ?? 0)), 0);
    const fn = (confusion[c] ?? []).reduce((s, v, j) => s + (j === c ? 0 : v), 0);
    f1Sum += tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
  }
  return { accuracy: labels.length === 0 ? 0 : correct / labels.length, macro_f1: f1Sum / classes, confusion };
}
