/**
 * @module brown-gpt-en's training loop: seeded random windows of the training token stream, one onnxruntime-node run
 * of the training graph (gpt.ts: forward + hand-written backward) per step, global-norm gradient clipping and an AdamW
 * update in JS, with linear warm-up and cosine decay of the learning rate. A fixed number of steps (not a time
 * budget) keeps the result a function of the seed alone on a given machine.
 */
import * as ort from 'onnxruntime-node';
import { mulberry32 } from '../lib/train.js';
import {
  gradName,
  initParams,
  param,
  paramSpecs,
  sizeOf,
  trainingGraph,
  TRAIN_IO,
  type GptConfig,
  type Params,
} from './gpt.js';

export interface TrainOptions {
  batch: number;
  /** Window length (≤ nPositions). */
  seq: number;
  steps: number;
  warmupSteps: number;
  learningRate: number;
  /** The cosine ends at learningRate × this. */
  finalLrRatio: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  gradClip: number;
  seed: number;
  /** ORT intra-op threads: 2 by default (the build machine's cores); fixed so results do not depend on the host. */
  threads?: number;
  log?: (message: string) => void;
  /** How often to log the running loss. */
  logEvery?: number;
}

export interface TrainResult {
  params: Params;
  seconds: number;
  tokensSeen: number;
  /** Mean training loss (nats/token) of the last 10% of steps. */
  finalLoss: number;
  /** (step, mean loss over the logging interval) pairs. */
  curve: [number, number][];
}

export function learningRateAt(step: number, o: TrainOptions): number {
  if (step < o.warmupSteps) return (o.learningRate * (step + 1)) / o.warmupSteps;
  const t = (step - o.warmupSteps) / Math.max(1, o.steps - o.warmupSteps);
  const floor = o.learningRate * o.finalLrRatio;
  return floor + (o.learningRate - floor) * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, t)));
}

/** A training session over one graph; exported so tests can run the same graph on given weights. */
export async function trainingSession(
  c: GptConfig,
  batch: number,
  seq: number,
  threads = 2,
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(trainingGraph(c, batch, seq), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
}

/** Feeds of one step: token windows, their next-token targets and every weight (wrapped, not copied). */
export function trainingFeeds(
  c: GptConfig,
  p: Params,
  ids: BigInt64Array,
  targets: BigInt64Array,
  batch: number,
  seq: number,
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    [TRAIN_IO.inputIds]: new ort.Tensor('int64', ids, [batch, seq]),
    [TRAIN_IO.targets]: new ort.Tensor('int64', targets, [batch, seq]),
  };
  for (const s of paramSpecs(c)) feeds[s.name] = new ort.Tensor('float32', param(p, s.name), s.dims);
  return feeds;
}

/** Trains on `stream` (all training files' tokens, concatenated) from a seeded init. */
export async function trainGpt(c: GptConfig, stream: Int32Array, o: TrainOptions): Promise<TrainResult> {
  const log = o.log ?? (() => undefined);
  const specs = paramSpecs(c);
  const params = initParams(c, o.seed);
  const m1 = new Map(specs.map((s) => [s.name, new Float32Array(sizeOf(s.dims))]));
  const m2 = new Map(specs.map((s) => [s.name, new Float32Array(sizeOf(s.dims))]));
  const session = await trainingSession(c, o.batch, o.seq, o.threads ?? 2);
  const rand = mulberry32(o.seed ^ 0x5bd1e995);
  const ids = new BigInt64Array(o.batch * o.seq);
  const targets = new BigInt64Array(o.batch * o.seq);
  const maxStart = stream.length - o.seq - 1;
  const curve: [number, number][] = [];
  const logEvery = o.logEvery ?? 100;
  const tail: number[] = [];
  let interval = 0;
  let intervalSteps = 0;
  const t0 = performance.now();
  try {
    for (let step = 0; step < o.steps; step++) {
      for (let b = 0; b < o.batch; b++) {
        const start = Math.floor(rand() * maxStart);
        for (let t = 0; t < o.seq; t++) {
          ids[b * o.seq + t] = BigInt(stream[start + t] ?? 0);
          targets[b * o.seq + t] = BigInt(stream[start + t + 1] ?? 0);
        }
      }
      const out = await session.run(trainingFeeds(c, params, ids, targets, o.batch, o.seq));
      const lossData = out[TRAIN_IO.loss]?.data;
      const loss = lossData instanceof Float32Array ? (lossData[0] ?? Number.NaN) : Number.NaN;
      if (!Number.isFinite(loss)) throw new Error(`training diverged at step ${step} (loss ${loss})`);
      const grads = specs.map((s) => {
        const g = out[gradName(s.name)]?.data;
        if (!(g instanceof Float32Array)) throw new Error(`gradient ${s.name} missing`);
        return g;
      });
      let sq = 0;
      for (const g of grads) for (let i = 0; i < g.length; i++) sq += (g[i] ?? 0) * (g[i] ?? 0);
      const norm = Math.sqrt(sq);
      const clip = norm > o.gradClip ? o.gradClip / norm : 1;
      const lr = learningRateAt(step, o);
      const c1 = 1 - o.beta1 ** (step + 1);
      const c2 = 1 - o.beta2 ** (step + 1);
      specs.forEach((s, si) => {
        const w = param(params, s.name);
        const g = grads[si];
        const a = m1.get(s.name);
        const v = m2.get(s.name);
        if (g === undefined || a === undefined || v === undefined) return;
        const decay = s.decay ? 1 - lr * o.weightDecay : 1;
        for (let i = 0; i < w.length; i++) {
          const gi = (g[i] ?? 0) * clip;
          const ai = o.beta1 * (a[i] ?? 0) + (1 - o.beta1) * gi;
          const vi = o.beta2 * (v[i] ?? 0) + (1 - o.beta2) * gi * gi;
          a[i] = ai;
          v[i] = vi;
          w[i] = (w[i] ?? 0) * decay - (lr * (ai / c1)) / (Math.sqrt(vi / c2) + 1e-8);
        }
      });
      interval += loss;
      intervalSteps++;
      if (step >= o.steps * 0.9) tail.push(loss);
      if (intervalSteps === logEvery || step === o.steps - 1) {
        curve.push([step + 1, interval / intervalSteps]);
        log(
          `  step ${step + 1}/${o.steps}: loss ${(interval / intervalSteps).toFixed(4)} nats (${(interval / intervalSteps / Math.LN2).toFixed(3)} bits/char), lr ${lr.toExponential(2)}, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        interval = 0;
        intervalSteps = 0;
      }
    }
  } finally {
    await session.release();
  }
  return {
    params,
    seconds: (performance.now() - t0) / 1000,
    tokensSeen: o.steps * o.batch * o.seq,
    finalLoss: tail.reduce((a, b) => a + b, 0) / Math.max(1, tail.length),
    curve,
  };
}
