/** @module Runtime-neutral tensors: what task code produces and consumes on the edge and the origin alike. */
import type { DType } from '../lib/manifest.js';

export type TensorArray = Float32Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | string[];

/** A tensor as plain data, convertible to an onnxruntime-web or onnxruntime-node tensor. */
export interface TensorData {
  type: DType;
  dims: readonly number[];
  data: TensorArray | boolean[];
}

export type Feeds = Record<string, TensorData>;
export type Outputs = Record<string, TensorData>;

/**
 * The runtime refused or failed a run that had been set up (bad values, e.g. an index past a table). Both runtimes
 * throw it, so callers can tell "the model refused these tensors" from queueing, loading or network failures.
 */
export class ModelRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelRunError';
  }
}

/** Anything that runs a model: the edge session queue or the origin batcher. */
export interface ModelRunner {
  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs>;
}

export const float32 = (data: Float32Array, dims: readonly number[]): TensorData => ({ type: 'float32', dims, data });

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Reads a float tensor's data, refusing other types (a model contract error, not a user error). */
export function asFloat32(t: TensorData | undefined, what: string): Float32Array {
  if (t === undefined) throw new Error(`model output ${what} is missing`);
  if (!(t.data instanceof Float32Array)) throw new Error(`model output ${what} is ${t.type}, expected float32`);
  return t.data;
}
