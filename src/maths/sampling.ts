/**
 * @module Next-token choice from a row of logits, in Hugging Face's processor order: logit bias, repetition penalty
 * (CTRL-style, over prompt and completion), OpenAI's frequency/presence penalties (over the completion), then greedy
 * argmax — or temperature, top-k, top-p and a draw from a seeded Mersenne Twister (pure-rand's MT19937), so the same
 * `seed` gives the same answer on the edge and the origin. The arithmetic is in float64 over the model's float32 logits.
 */
import { mersenne } from 'pure-rand/generator/mersenne';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
  /** 1 = off. */
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** Added to a token's logit before anything else (OpenAI's `logit_bias`). */
  logitBias: ReadonlyMap<number, number>;
}

export type Rng = RandomGenerator;

/**
 * Names the generator and the draw: part of a seeded answer's cache key, so a change to either (a new generator, a
 * different order of the processors) never replays answers the old code drew.
 */
export const SAMPLER = 'mt19937/1';

/**
 * MT19937, whose initialisation spreads any seed over its whole state. Not xoroshiro128+: seeded straight from a
 * small integer (callers send 1, 2, 42…) its first draws sit near 1, which picks from the tail of the distribution.
 */
export function seededRng(seed: number): Rng {
  return mersenne(seed | 0);
}

/** A fresh seed for unseeded sampling: the answer is not reproducible, and is never cached. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Int32Array(1))[0] ?? 0;
}

export function isGreedy(params: SamplingParams): boolean {
  return params.temperature === 0;
}

/**
 * Picks the next token. `context` is the prompt and completion so far (repetition penalty), `completion` the
 * generated part (frequency and presence penalties count only what the model wrote, as OpenAI's do).
 */
export function chooseToken(
  logits: Float32Array,
  params: SamplingParams,
  context: readonly number[],
  completion: readonly number[],
  rng: Rng,
): number {
  const scores = Float64Array.from(logits);
  for (const [id, bias] of params.logitBias) if (id < scores.length) scores[id] = (scores[id] ?? 0) + bias;
  if (params.repetitionPenalty !== 1) {
    for (const id of new Set(context)) {
      const s = scores[id];
      if (s === undefined) continue;
      scores[id] = s > 0 ? s / params.repetitionPenalty : s * params.repetitionPenalty;
    }
  }
  if (params.frequencyPenalty !== 0 || params.presencePenalty !== 0) {
    const counts = new Map<number, number>();
    for (const id of completion) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const [id, n] of counts) {
      const s = scores[id];
      if (s !== undefined) scores[id] = s - n * params.frequencyPenalty - params.presencePenalty;
    }
  }
  if (isGreedy(params)) return argmax(scores);
  return draw(scores, params, rng);
}

/** The first index of the largest score (ties go to the lower id, as torch.argmax and transformers.js do). */
export function argmax(scores: ArrayLike<number>): number {
  let best = 0;
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] ?? -Infinity;
    if (s > max) {
      max = s;
      best = i;
    }
  }
  return best;
}

function draw(scores: Float64Array, params: SamplingParams, rng: Rng): number {
  // Candidates by descending score (stable: equal scores keep id order, so the draw is reproducible).
  let order = Array.from(scores.keys()).sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || a - b);
  if (params.topK > 0) order = order.slice(0, params.topK);
  const max = scores[order[0] ?? 0] ?? 0;
  let weights = order.map((id) => Math.exp(((scores[id] ?? -Infinity) - max) / params.temperature));
  let total = weights.reduce((a, b) => a + b, 0);
  if (params.topP < 1) {
    // The smallest head whose probability reaches top_p (at least one token), as Hugging Face's TopPLogitsWarper.
    let cum = 0;
    let keep = 0;
    while (keep < weights.length && cum < params.topP * total) cum += weights[keep++] ?? 0;
    order = order.slice(0, Math.max(1, keep));
    weights = weights.slice(0, order.length);
    total = weights.reduce((a, b) => a + b, 0);
  }
  let u = uniformFloat64(rng) * total;
  for (let i = 0; i < order.length; i++) {
    u -= weights[i] ?? 0;
    if (u < 0) return order[i] ?? 0;
  }
  return order[order.length - 1] ?? 0;
}
