/**
 * @module Lazy (row-sparse) Adam for train.ts's logistic/MLP classifiers, for inputs too wide for its dense step: a
 * step there updates every weight, which over a 2^17-row embedding table and thirty thousand mini-batches is 10^11
 * updates; here a step touches only the rows its batch used, as TensorFlow's LazyAdam does. Same parameters
 * (MlpParams, ONNX layout), same initialisation, same loss; rows come packed (CSR) because a million SparseRow
 * objects cost more memory and garbage collection than the weights.
 */
import { initParams, mulberry32, shuffled, type MlpParams, type MlpSpec, type TrainOptions } from './train.js';

/** Rows packed end to end: row r is indices/values[rowStart[r] .. rowStart[r + 1]). */
export interface SparseMatrix {
  rowStart: Uint32Array;
  indices: Uint32Array;
  values: Float32Array;
}

/** Appends rows into growing typed arrays (no per-row objects kept alive), then hands out the packed matrix. */
export class SparseMatrixBuilder {
  private starts = new Uint32Array(1024);
  private idx = new Uint32Array(1 << 16);
  private val = new Float32Array(1 << 16);
  private rows = 0;
  private used = 0;

  push(row: { indices: ArrayLike<number>; values: ArrayLike<number> }): void {
    const n = row.indices.length;
    if (this.used + n > this.idx.length) {
      const size = Math.max(this.idx.length * 2, this.used + n);
      const idx = new Uint32Array(size);
      idx.set(this.idx);
      const val = new Float32Array(size);
      val.set(this.val);
      this.idx = idx;
      this.val = val;
    }
    for (let k = 0; k < n; k++) {
      this.idx[this.used + k] = row.indices[k] ?? 0;
      this.val[this.used + k] = row.values[k] ?? 0;
    }
    this.used += n;
    this.rows++;
    if (this.rows + 1 > this.starts.length) {
      const starts = new Uint32Array(this.starts.length * 2);
      starts.set(this.starts);
      this.starts = starts;
    }
    this.starts[this.rows] = this.used;
  }

  build(): SparseMatrix {
    return {
      rowStart: this.starts.slice(0, this.rows + 1),
      indices: this.idx.slice(0, this.used),
      values: this.val.slice(0, this.used),
    };
  }
}

export const rowCount = (x: SparseMatrix): number => x.rowStart.length - 1;

/** Logits of one row into `out` (length classes); `hidden` receives the ReLU activations for MLPs. */
function forwardRow(p: MlpParams, x: SparseMatrix, r: number, hidden: Float64Array, out: Float64Array): void {
  const first = p.layers[0];
  if (first === undefined) throw new Error('no layers');
  const cols = first.cols;
  const a = p.layers.length === 1 ? out : hidden;
  a.set(first.b);
  const w = first.w;
  for (let k = x.rowStart[r] ?? 0, end = x.rowStart[r + 1] ?? 0; k < end; k++) {
    const base = (x.indices[k] ?? 0) * cols;
    const v = x.values[k] ?? 0;
    for (let j = 0; j < cols; j++) a[j] = (a[j] ?? 0) + v * (w[base + j] ?? 0);
  }
  const second = p.layers[1];
  if (second === undefined) return;
  out.set(second.b);
  for (let i = 0; i < cols; i++) {
    const h = Math.max(0, hidden[i] ?? 0);
    hidden[i] = h;
    if (h === 0) continue;
    const base = i * second.cols;
    for (let j = 0; j < second.cols; j++) out[j] = (out[j] ?? 0) + h * (second.w[base + j] ?? 0);
  }
}

/** In-place softmax. */
function softmaxInPlace(z: Float64Array): void {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of z) max = Math.max(max, v);
  let sum = 0;
  for (let j = 0; j < z.length; j++) {
    const e = Math.exp((z[j] ?? 0) - max);
    z[j] = e;
    sum += e;
  }
  for (let j = 0; j < z.length; j++) z[j] = (z[j] ?? 0) / sum;
}

/** Arg-max class of every row (ties: lowest index). */
export function predictSparse(p: MlpParams, x: SparseMatrix): Int32Array {
  const hidden = new Float64Array(p.layers[0]?.cols ?? 0);
  const out = new Float64Array(p.spec.classes);
  const pred = new Int32Array(rowCount(x));
  for (let r = 0; r < pred.length; r++) {
    forwardRow(p, x, r, hidden, out);
    let best = 0;
    for (let j = 1; j < out.length; j++) if ((out[j] ?? 0) > (out[best] ?? 0)) best = j;
    pred[r] = best;
  }
  return pred;
}

interface AdamState {
  m: Float64Array;
  v: Float64Array;
}

const adamState = (n: number): AdamState => ({ m: new Float64Array(n), v: new Float64Array(n) });

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPS = 1e-8;

/** One Adam step on w[from..to) with gradient g[gFrom..) (+ l2·w); the bias corrections c1, c2 are the global step's. */
function adamSpan(
  w: Float64Array,
  s: AdamState,
  g: Float64Array,
  from: number,
  to: number,
  gFrom: number,
  lr: number,
  l2: number,
  c1: number,
  c2: number,
): void {
  for (let i = from, k = gFrom; i < to; i++, k++) {
    const wi = w[i] ?? 0;
    const gi = (g[k] ?? 0) + l2 * wi;
    const mi = BETA1 * (s.m[i] ?? 0) + (1 - BETA1) * gi;
    const vi = BETA2 * (s.v[i] ?? 0) + (1 - BETA2) * gi * gi;
    s.m[i] = mi;
    s.v[i] = vi;
    w[i] = wi - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + EPS);
  }
}

/**
 * Mini-batch Adam on mean softmax cross-entropy, `rows` (a subset of x's rows, e.g. a training split) visited in a
 * seeded order each epoch. The first layer's rows, their moments and their L2 pull are updated only when a batch
 * uses them (lazy: a rare feature's weight does not decay between its occurrences); the later, small layers and
 * all biases take dense steps with L2 on weights only, as train.ts does.
 */
export interface SparseTrainOptions extends TrainOptions {
  /**
   * Learning-rate schedule over all steps of all epochs: constant, or linear decay to zero (for one or two passes
   * over a large set, where the last steps should settle rather than jump).
   */
  decay?: 'none' | 'linear';
}

export function trainSparse(
  x: SparseMatrix,
  labels: ArrayLike<number>,
  rows: readonly number[],
  spec: MlpSpec,
  opts: SparseTrainOptions,
): MlpParams {
  const p = initParams(spec, opts.seed);
  const rand = mulberry32(opts.seed ^ 0x9e3779b9);
  const first = p.layers[0];
  if (first === undefined) throw new Error('no layers');
  const second = p.layers[1];
  const width = first.cols;
  const classes = spec.classes;
  const s0w = adamState(first.w.length);
  const s0b = adamState(first.b.length);
  const s1w = second === undefined ? undefined : adamState(second.w.length);
  const s1b = second === undefined ? undefined : adamState(second.b.length);

  let maxRow = 0;
  for (let r = 0; r < rowCount(x); r++) maxRow = Math.max(maxRow, (x.rowStart[r + 1] ?? 0) - (x.rowStart[r] ?? 0));
  // Batch gradient of the first layer, one slot per distinct row used; slotOf maps a row to its slot (-1: none).
  const slotOf = new Int32Array(first.rows).fill(-1);
  const touched = new Uint32Array(opts.batchSize * maxRow);
  const g0 = new Float64Array(opts.batchSize * maxRow * width);
  const g0b = new Float64Array(width);
  const g1 = second === undefined ? undefined : new Float64Array(second.w.length);
  const g1b = second === undefined ? undefined : new Float64Array(second.b.length);

  const hidden = new Float64Array(width);
  const prob = new Float64Array(classes);
  const dFirst = new Float64Array(width);
  let step = 0;
  const totalSteps = opts.epochs * Math.ceil(rows.length / opts.batchSize);
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const order = shuffled(rows, rand);
    for (let start = 0; start < order.length; start += opts.batchSize) {
      const end = Math.min(order.length, start + opts.batchSize);
      const scale = 1 / (end - start);
      let nTouched = 0;
      g0b.fill(0);
      g1?.fill(0);
      g1b?.fill(0);
      for (let b = start; b < end; b++) {
        const r = order[b] ?? 0;
        forwardRow(p, x, r, hidden, prob);
        softmaxInPlace(prob);
        const y = labels[r] ?? 0;
        for (let j = 0; j < classes; j++) prob[j] = ((prob[j] ?? 0) - (j === y ? 1 : 0)) * scale;
        // Gradient at the first layer's output: dLogits for logistic regression, back through W2 and ReLU for MLPs.
        if (second === undefined || g1 === undefined || g1b === undefined) dFirst.set(prob);
        else {
          for (let j = 0; j < classes; j++) g1b[j] = (g1b[j] ?? 0) + (prob[j] ?? 0);
          for (let i = 0; i < width; i++) {
            const h = hidden[i] ?? 0;
            if (h === 0) {
              dFirst[i] = 0;
              continue;
            }
            const base = i * classes;
            let sum = 0;
            for (let j = 0; j < classes; j++) {
              const d = prob[j] ?? 0;
              g1[base + j] = (g1[base + j] ?? 0) + h * d;
              sum += (second.w[base + j] ?? 0) * d;
            }
            dFirst[i] = sum;
          }
        }
        for (let i = 0; i < width; i++) g0b[i] = (g0b[i] ?? 0) + (dFirst[i] ?? 0);
        for (let k = x.rowStart[r] ?? 0, kEnd = x.rowStart[r + 1] ?? 0; k < kEnd; k++) {
          const row = x.indices[k] ?? 0;
          let slot = slotOf[row] ?? -1;
          if (slot < 0) {
            slot = nTouched++;
            slotOf[row] = slot;
            touched[slot] = row;
            g0.fill(0, slot * width, (slot + 1) * width);
          }
          const v = x.values[k] ?? 0;
          const base = slot * width;
          for (let i = 0; i < width; i++) g0[base + i] = (g0[base + i] ?? 0) + v * (dFirst[i] ?? 0);
        }
      }
      step++;
      const c1 = 1 - BETA1 ** step;
      const c2 = 1 - BETA2 ** step;
      const lr = opts.decay === 'linear' ? opts.learningRate * (1 - (step - 1) / totalSteps) : opts.learningRate;
      for (let slot = 0; slot < nTouched; slot++) {
        const row = touched[slot] ?? 0;
        slotOf[row] = -1;
        adamSpan(first.w, s0w, g0, row * width, (row + 1) * width, slot * width, lr, opts.l2, c1, c2);
      }
      adamSpan(first.b, s0b, g0b, 0, width, 0, lr, 0, c1, c2);
      if (second !== undefined && s1w !== undefined && s1b !== undefined && g1 !== undefined && g1b !== undefined) {
        adamSpan(second.w, s1w, g1, 0, second.w.length, 0, lr, opts.l2, c1, c2);
        adamSpan(second.b, s1b, g1b, 0, classes, 0, lr, 0, c1, c2);
      }
    }
    opts.onEpoch?.(epoch, p);
  }
  return p;
}
