/** @module Runs built .onnx files the way production does: onnxruntime-node (origin) and onnxruntime-web WASM (edge), one thread. */
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import type { Feeds, TensorData } from '../../src/tasks/tensor.js';

/** A float32 input batch, row-major. */
export interface FloatBatch {
  name: string;
  data: Float32Array;
  dims: readonly number[];
}

/** Single-threaded so figures compare with the edge (workerd has no threads) and do not depend on the host's cores. */
export async function nodeSession(bytes: Uint8Array): Promise<ortNode.InferenceSession> {
  return ortNode.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

let webConfigured = false;
/** The edge's runtime, in Node: WASM SIMD, one thread, no proxy worker. */
export async function webSession(bytes: Uint8Array): Promise<ortWeb.InferenceSession> {
  if (!webConfigured) {
    ortWeb.env.wasm.numThreads = 1;
    ortWeb.env.wasm.proxy = false;
    webConfigured = true;
  }
  return ortWeb.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', executionProviders: ['wasm'] });
}

/** Runs the model on `input` in chunks of `batchSize` rows and returns the named float output, concatenated. */
export async function runFloat(
  bytes: Uint8Array,
  input: FloatBatch,
  output: string,
  batchSize = 64,
): Promise<Float32Array> {
  const session = await nodeSession(bytes);
  try {
    const [rows = 0, ...rest] = input.dims;
    const width = rest.reduce((a, b) => a * b, 1);
    const parts: Float32Array[] = [];
    for (let start = 0; start < rows; start += batchSize) {
      const n = Math.min(batchSize, rows - start);
      const feed = new ortNode.Tensor('float32', input.data.subarray(start * width, (start + n) * width), [n, ...rest]);
      const out = await session.run({ [input.name]: feed }, [output]);
      const t = out[output];
      if (t === undefined || !(t.data instanceof Float32Array))
        throw new Error(`output ${output} missing or not float32`);
      parts.push(t.data.slice());
    }
    const total = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      total.set(p, offset);
      offset += p.length;
    }
    return total;
  } finally {
    await session.release();
  }
}

/** Any input: one float batch, or named runtime-neutral tensors (e.g. int64 indices + float values). */
export type EvalInput = FloatBatch | Feeds;

function asFeeds(input: EvalInput): Feeds {
  if ('name' in input && typeof input.name === 'string' && 'data' in input && input.data instanceof Float32Array) {
    const batch = input as FloatBatch;
    return { [batch.name]: { type: 'float32', dims: batch.dims, data: batch.data } };
  }
  return input as Feeds;
}

type TensorCtor<T> = new (
  type: 'float32' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool',
  data: Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array,
  dims: readonly number[],
) => T;

function tensors<T>(Tensor: TensorCtor<T>, feeds: Feeds): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = tensorOf(Tensor, t);
  return out;
}

function tensorOf<T>(Tensor: TensorCtor<T>, t: TensorData): T {
  const d = t.data;
  // Merged decoders' `use_cache_branch`: ORT takes bool tensors as one byte each.
  if (t.type === 'bool' && Array.isArray(d))
    return new Tensor(
      'bool',
      Uint8Array.from(d as readonly unknown[], (v) => (v === true ? 1 : 0)),
      t.dims,
    );
  if (d instanceof Float32Array) return new Tensor('float32', d, t.dims);
  if (d instanceof BigInt64Array) return new Tensor('int64', d, t.dims);
  if (d instanceof Int32Array) return new Tensor('int32', d, t.dims);
  if (d instanceof Int8Array) return new Tensor('int8', d, t.dims);
  if (d instanceof Uint8Array) return new Tensor('uint8', d, t.dims);
  throw new Error(`unsupported eval tensor type ${t.type}`);
}

/** Runs the model once on `feeds` (any input types) in onnxruntime-node and returns the named float output. */
export async function runFeeds(bytes: Uint8Array, feeds: Feeds, output: string): Promise<Float32Array> {
  const session = await nodeSession(bytes);
  try {
    const out = await session.run(tensors(ortNode.Tensor as unknown as TensorCtor<ortNode.Tensor>, feeds), [output]);
    const t = out[output];
    if (t === undefined || !(t.data instanceof Float32Array))
      throw new Error(`output ${output} missing or not float32`);
    return t.data.slice();
  } finally {
    await session.release();
  }
}

/** Graph input/output names as a loaded session reports them. */
export async function ioNames(bytes: Uint8Array): Promise<{ inputs: readonly string[]; outputs: readonly string[] }> {
  const s = await nodeSession(bytes);
  try {
    return { inputs: [...s.inputNames], outputs: [...s.outputNames] };
  } finally {
    await s.release();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export interface LatencyOptions {
  runtime: 'node' | 'web';
  warmup?: number;
  iterations?: number;
}

/** p50 wall time (ms) of `session.run` on one fixed input, after warm-up runs. */
export async function p50Latency(bytes: Uint8Array, input: EvalInput, options: LatencyOptions): Promise<number> {
  const neutral = asFeeds(input);
  const warmup = options.warmup ?? 20;
  const iterations = options.iterations ?? 300;
  // One timing loop for both runtimes: only how the session and its tensors are made differs.
  let run: () => Promise<unknown>;
  let release: () => Promise<void>;
  if (options.runtime === 'node') {
    const s = await nodeSession(bytes);
    const feeds = tensors(ortNode.Tensor as unknown as TensorCtor<ortNode.Tensor>, neutral);
    run = () => s.run(feeds);
    release = () => s.release();
  } else {
    const s = await webSession(bytes);
    const feeds = tensors(ortWeb.Tensor as unknown as TensorCtor<ortWeb.Tensor>, neutral);
    run = () => s.run(feeds);
    release = () => s.release();
  }
  const times: number[] = [];
  for (let i = 0; i < warmup + iterations; i++) {
    const t0 = performance.now();
    await run();
    if (i >= warmup) times.push(performance.now() - t0);
  }
  await release();
  return median(times);
}
