/** @module The shape every task module has: parse → preprocess → (run) → postprocess, shared by edge and origin. */
import type { Manifest, TaskName } from '../storage/manifest.js';
import type { Feeds, ModelRunner, Outputs } from './tensor.js';

/** A request's body once the route has read it: JSON, or raw bytes with their media type. */
export type RequestBody =
  | { kind: 'json'; inputs: unknown; parameters: Record<string, unknown> }
  | { kind: 'binary'; bytes: Uint8Array; contentType: string; parameters: Record<string, unknown> };

/** Thrown by task code for bad input; routes turn it into a 4xx JSON error. */
export class InputError extends Error {
  constructor(
    readonly status: 413 | 415 | 422,
    readonly code: 'invalid_input' | 'payload_too_large' | 'unsupported_media_type',
    message: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/** What placement needs to know about one parsed request. */
export interface RequestSize {
  batch: number;
  pixels?: number;
  tokens?: number;
  inputBytes?: number;
  seconds?: number;
}

export interface TaskModule<Parsed, Output> {
  readonly task: TaskName;
  /** Validates and decodes the request (throws InputError). Pure and synchronous where the format allows. */
  parse(body: RequestBody, manifest: Manifest): Promise<Parsed> | Parsed;
  /** Sizes used by placement and limits. */
  size(parsed: Parsed): RequestSize;
  /** A canonical, JSON-serialisable form of the input for the result-cache key. */
  cacheKeyInput(parsed: Parsed): unknown;
  /** Builds the model's feeds. */
  preprocess(parsed: Parsed, manifest: Manifest): Feeds;
  /** Turns the model's outputs into the task's JSON answer. */
  postprocess(outputs: Outputs, parsed: Parsed, manifest: Manifest): Output;
  /** For tasks that run the model more than once (e.g. VAD windows carrying state); replaces one preprocess→run→postprocess. */
  execute?(parsed: Parsed, runner: ModelRunner, manifest: Manifest): Promise<Output>;
}

/** Runs one task end to end with any runner: the single code path for edge and origin. */
export async function runTask<P, O>(task: TaskModule<P, O>, parsed: P, runner: ModelRunner, manifest: Manifest): Promise<O> {
  if (task.execute) return task.execute(parsed, runner, manifest);
  const outputs = await runner.run(task.preprocess(parsed, manifest));
  return task.postprocess(outputs, parsed, manifest);
}
