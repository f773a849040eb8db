/**
 * @module Open Inference Protocol (KServe v2) tensors ↔ runtime-neutral tensors, checked against a manifest.
 * Shared by the edge's and the origin's `/v2/models/{id}/infer`.
 */
// zod as extended by @hono/zod-openapi: these schemas validate infer requests and document them in /openapi.json.
import { z } from '@hono/zod-openapi';
import { ServiceError } from '../lib/errors.js';
import type { DType, Manifest, TensorSpec } from '../lib/manifest.js';
import { elementCount, ModelRunError, type Feeds, type ModelRunner, type Outputs, type TensorData } from './tensor.js';

export const KSERVE_DATATYPES = {
  FP32: 'float32',
  INT64: 'int64',
  INT32: 'int32',
  UINT8: 'uint8',
  INT8: 'int8',
  BOOL: 'bool',
  BYTES: 'string',
} as const satisfies Record<string, DType>;
export type KserveDatatype = keyof typeof KSERVE_DATATYPES;

const DATATYPE_OF: Record<DType, KserveDatatype> = {
  float32: 'FP32',
  int64: 'INT64',
  int32: 'INT32',
  uint8: 'UINT8',
  int8: 'INT8',
  bool: 'BOOL',
  string: 'BYTES',
};

export const kserveDatatype = (dtype: DType): KserveDatatype => DATATYPE_OF[dtype];

type Nested = number | string | boolean | Nested[];
// Named, so the document shows the recursion as a $ref instead of expanding it forever.
const NestedSchema: z.ZodType<Nested> = z
  .lazy(() => z.union([z.number(), z.string(), z.boolean(), z.array(NestedSchema)]))
  .openapi('TensorData', { description: 'A number, string, boolean, or a (nested) list of them: row-major.' });

export const InferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z
    .array(
      z.object({
        name: z.string().min(1),
        shape: z.array(z.number().int().nonnegative()),
        datatype: z.enum(Object.keys(KSERVE_DATATYPES) as [KserveDatatype, ...KserveDatatype[]]),
        parameters: z.record(z.string(), z.unknown()).optional(),
        data: z.array(NestedSchema),
      }),
    )
    .min(1),
  outputs: z
    .array(z.object({ name: z.string().min(1), parameters: z.record(z.string(), z.unknown()).optional() }))
    .optional(),
});
export type InferRequest = z.infer<typeof InferRequestSchema>;

export interface InferOutput {
  name: string;
  shape: number[];
  datatype: KserveDatatype;
  data: (number | string | boolean)[];
}
export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: InferOutput[];
}

export interface ParsedInfer {
  id: string | undefined;
  feeds: Feeds;
  outputNames: string[];
  /** Rows in the first input's leading dimension, for placement and limits. */
  batch: number;
}

function flatten(data: Nested[]): (number | string | boolean)[] {
  return data.flat(Infinity as 1) as (number | string | boolean)[];
}

function fail(message: string): never {
  throw new ServiceError(422, 'invalid_input', message);
}

function dimsMatch(spec: TensorSpec, shape: readonly number[]): boolean {
  if (spec.shape.length !== shape.length) return false;
  return spec.shape.every((d, i) => typeof d === 'string' || d < 0 || d === shape[i]);
}

function toTensor(values: (number | string | boolean)[], dtype: DType, shape: number[], where: string): TensorData {
  const numbers = (): number[] =>
    values.map((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${where}.data[${i}]: must be a finite number.`);
      return v;
    });
  const integers = (min: number, max: number): number[] =>
    numbers().map((v, i) => {
      if (!Number.isInteger(v) || v < min || v > max)
        fail(`${where}.data[${i}]: must be an integer in [${min}, ${max}].`);
      return v;
    });
  switch (dtype) {
    case 'float32':
      return { type: dtype, dims: shape, data: Float32Array.from(numbers()) };
    case 'int64':
      return {
        type: dtype,
        dims: shape,
        data: BigInt64Array.from(integers(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), (v) => BigInt(v)),
      };
    case 'int32':
      return { type: dtype, dims: shape, data: Int32Array.from(integers(-(2 ** 31), 2 ** 31 - 1)) };
    case 'uint8':
      return { type: dtype, dims: shape, data: Uint8Array.from(integers(0, 255)) };
    case 'int8':
      return { type: dtype, dims: shape, data: Int8Array.from(integers(-128, 127)) };
    case 'bool':
      return {
        type: dtype,
        dims: shape,
        data: values.map((v, i) => (typeof v === 'boolean' ? v : fail(`${where}.data[${i}]: must be a boolean.`))),
      };
    case 'string':
      return {
        type: dtype,
        dims: shape,
        data: values.map((v, i) => (typeof v === 'string' ? v : fail(`${where}.data[${i}]: must be a string.`))),
      };
  }
}

/**
 * Checks a KServe request (already shaped by `InferRequestSchema`: the route validated it) against the model's
 * declared inputs and outputs and builds the feeds.
 */
export function parseInferRequest(req: InferRequest, manifest: Manifest, maxElements: number): ParsedInfer {
  const feeds: Feeds = {};
  let total = 0;
  req.inputs.forEach((input, i) => {
    const where = `inputs[${i}]`;
    const spec = manifest.inputs.find((s) => s.name === input.name);
    if (spec === undefined)
      fail(
        `${where}.name: the model has no input '${input.name}' (inputs: ${manifest.inputs.map((s) => s.name).join(', ')}).`,
      );
    if (feeds[input.name] !== undefined) fail(`${where}.name: input '${input.name}' is given twice.`);
    const want = kserveDatatype(spec.dtype);
    if (input.datatype !== want) fail(`${where}.datatype: '${input.name}' takes ${want}, not ${input.datatype}.`);
    if (!dimsMatch(spec, input.shape))
      fail(`${where}.shape: [${input.shape.join(', ')}] does not fit the model's [${spec.shape.join(', ')}].`);
    const values = flatten(input.data);
    const count = elementCount(input.shape);
    if (values.length !== count)
      fail(`${where}.data: shape [${input.shape.join(', ')}] needs ${count} values, got ${values.length}.`);
    total += count;
    if (total > maxElements) fail(`inputs: at most ${maxElements} elements per request.`);
    feeds[input.name] = toTensor(values, spec.dtype, input.shape, where);
  });
  for (const spec of manifest.inputs) {
    if (feeds[spec.name] === undefined) fail(`inputs: the model's input '${spec.name}' is missing.`);
  }
  const outputNames = (req.outputs ?? manifest.outputs.map((o) => ({ name: o.name }))).map((o, i) => {
    if (!manifest.outputs.some((s) => s.name === o.name))
      fail(`outputs[${i}].name: the model has no output '${o.name}'.`);
    return o.name;
  });
  const first = req.inputs[0];
  return { id: req.id, feeds, outputNames, batch: first?.shape[0] ?? 1 };
}

/**
 * Runs raw tensors. The checks above cover names, types and shapes, but not values (an index past an embedding
 * table, say): when the runtime refuses the run, that is the caller's input, so it answers 422 with the runtime's
 * reason rather than a 500.
 */
export async function runInfer(runner: ModelRunner, parsed: ParsedInfer): Promise<Outputs> {
  try {
    return await runner.run(parsed.feeds, parsed.outputNames);
  } catch (err) {
    if (!(err instanceof ModelRunError)) throw err;
    const reason =
      (err instanceof Error ? err.message : String(err))
        .split('\n')[0]
        ?.replace(/^.*ERROR_MESSAGE: /, '')
        .slice(0, 300) ?? '';
    throw new ServiceError(422, 'invalid_input', `inputs: the model refused these tensors (${reason}).`);
  }
}

function plain(t: TensorData): (number | string | boolean)[] {
  const d = t.data;
  if (d instanceof BigInt64Array) return Array.from(d, (v) => Number(v));
  if (Array.isArray(d)) return d;
  return Array.from(d);
}

/** The answer without the request's `id` (the route adds it, so a cached answer never carries another request's). */
export function inferResponse(manifest: Manifest, parsed: ParsedInfer, outputs: Outputs): Omit<InferResponse, 'id'> {
  return {
    model_name: manifest.id,
    model_version: manifest.version,
    outputs: parsed.outputNames.flatMap((name) => {
      const t = outputs[name];
      return t === undefined ? [] : [{ name, shape: [...t.dims], datatype: kserveDatatype(t.type), data: plain(t) }];
    }),
  };
}

/** The cache key's view of a parsed request (typed arrays canonicalise to plain arrays). */
export function inferCacheInput(parsed: ParsedInfer): unknown {
  return {
    feeds: Object.fromEntries(
      Object.entries(parsed.feeds).map(([k, t]) => [k, { type: t.type, dims: t.dims, data: plain(t) }]),
    ),
    outputs: parsed.outputNames,
  };
}

/** KServe model metadata. */
export function modelMetadata(manifest: Manifest): {
  name: string;
  versions: string[];
  platform: string;
  inputs: { name: string; datatype: KserveDatatype; shape: number[] }[];
  outputs: { name: string; datatype: KserveDatatype; shape: number[] }[];
} {
  const spec = (s: TensorSpec): { name: string; datatype: KserveDatatype; shape: number[] } => ({
    name: s.name,
    datatype: kserveDatatype(s.dtype),
    shape: s.shape.map((d) => (typeof d === 'string' ? -1 : d)),
  });
  return {
    name: manifest.id,
    versions: [manifest.version],
    platform: 'onnxruntime_onnx',
    inputs: manifest.inputs.map(spec),
    outputs: manifest.outputs.map(spec),
  };
}
