/**
 * @module Bits per character of a built decoder (the exported KV-cache graph, any variant) on token streams, run in
 * onnxruntime-node: each file is cut into windows of `context` tokens overlapping by half, every character is scored
 * once, in the window where it has the most context (at least context/2 characters once past the file's start). The
 * same protocol scores the n-gram baseline's targets: every character after the file's leading end-of-text token.
 */
import * as ort from 'onnxruntime-node';
import { IO, type GptConfig } from './gpt.js';

export interface Window {
  /** Index of the file's stream. */
  file: number;
  start: number;
  /** Targets stream[start + 1 + t] for t ≥ firstScored are scored. */
  firstScored: number;
}

/** Windows of `context` tokens with stride context/2; a file's last window is aligned to its end. */
export function windows(lengths: readonly number[], context: number): Window[] {
  const out: Window[] = [];
  const stride = Math.floor(context / 2);
  lengths.forEach((n, file) => {
    // A stream of n tokens has n - 1 targets; windows hold `context` inputs each.
    if (n - 1 <= context) {
      out.push({ file, start: 0, firstScored: 0 });
      return;
    }
    let scoredUpTo = 0; // targets [0, scoredUpTo) are done
    for (let start = 0; scoredUpTo < n - 1; start += stride) {
      const s = Math.min(start, n - 1 - context);
      out.push({ file, start: s, firstScored: scoredUpTo - s });
      scoredUpTo = s + context;
    }
  });
  return out;
}

export interface BitsResult {
  bpc: number;
  chars: number;
  /** Bits per character of each stream. */
  perFile: number[];
}

/** Session options for evaluation: two threads, like training (the build machine's cores). */
export async function evalSession(bytes: Uint8Array, threads = 2): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

/** Feeds for a batch of full windows with no past (prefill): mask all ones, positions 0…len-1. */
export function prefillFeeds(c: GptConfig, ids: BigInt64Array, batch: number, len: number): Record<string, ort.Tensor> {
  const hd = c.nEmbd / c.nHead;
  const positions = BigInt64Array.from({ length: batch * len }, (_, i) => BigInt(i % len));
  const feeds: Record<string, ort.Tensor> = {
    [IO.inputIds]: new ort.Tensor('int64', ids, [batch, len]),
    [IO.attentionMask]: new ort.Tensor('int64', new BigInt64Array(batch * len).fill(1n), [batch, len]),
    [IO.positionIds]: new ort.Tensor('int64', positions, [batch, len]),
  };
  const empty = new Float32Array(0);
  for (let i = 0; i < c.nLayer; i++) {
    feeds[IO.pastKey(i)] = new ort.Tensor('float32', empty, [batch, c.nHead, 0, hd]);
    feeds[IO.pastValue(i)] = new ort.Tensor('float32', empty, [batch, c.nHead, 0, hd]);
  }
  return feeds;
}

/** −log2 softmax(logits)[target], from one row of logits. */
export function bitsOf(logits: Float32Array, offset: number, vocab: number, target: number): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v] ?? 0);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp((logits[offset + v] ?? 0) - max);
  return (Math.log(sum) + max - (logits[offset + target] ?? 0)) / Math.LN2;
}

/** Held-out bits per character of an exported decoder on streams (each starting with end-of-text). */
export async function decoderBits(
  bytes: Uint8Array,
  c: GptConfig,
  streams: readonly Int32Array[],
  context: number,
  batch = 32,
): Promise<BitsResult> {
  const session = await evalSession(bytes);
  const ws = windows(
    streams.map((s) => s.length),
    context,
  );
  const bits = new Float64Array(streams.length);
  const counts = new Float64Array(streams.length);
  try {
    // Windows are grouped by length (only files shorter than the context differ) so every batch is rectangular.
    const byLength = new Map<number, Window[]>();
    for (const w of ws) {
      const s = streams[w.file];
      if (s === undefined) continue;
      const len = Math.min(context, s.length - 1 - w.start);
      byLength.set(len, [...(byLength.get(len) ?? []), w]);
    }
    for (const [len, group] of byLength) {
      for (let from = 0; from < group.length; from += batch) {
        const part = group.slice(from, from + batch);
        const ids = new BigInt64Array(part.length * len);
        part.forEach((w, b) => {
          const s = streams[w.file] ?? new Int32Array(0);
          for (let t = 0; t < len; t++) ids[b * len + t] = BigInt(s[w.start + t] ?? 0);
        });
        const out = await session.run(prefillFeeds(c, ids, part.length, len), [IO.logits]);
        const logits = out[IO.logits]?.data;
        if (!(logits instanceof Float32Array)) throw new Error('logits missing');
        part.forEach((w, b) => {
          const s = streams[w.file] ?? new Int32Array(0);
          for (let t = Math.max(0, w.firstScored); t < len; t++) {
            bits[w.file] =
              (bits[w.file] ?? 0) + bitsOf(logits, (b * len + t) * c.vocabSize, c.vocabSize, s[w.start + t + 1] ?? 0);
            counts[w.file] = (counts[w.file] ?? 0) + 1;
          }
        });
      }
    }
  } finally {
    await session.release();
  }
  const totalBits = bits.reduce((a, b) => a + b, 0);
  const chars = counts.reduce((a, b) => a + b, 0);
  return { bpc: totalBits / chars, chars, perFile: Array.from(bits, (b, i) => b / (counts[i] ?? 1)) };
}
