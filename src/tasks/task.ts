/** @module The shape every task module has: parse → preprocess → (run) → postprocess, shared by edge and origin. */
import type { Manifest, TaskName } from '../lib/manifest.js';
import type { Feeds, ModelRunner, Outputs } from './tensor.js';

/** A request's body once the route has read it: JSON, or raw bytes with their media type. */
export type RequestBody =
  | { kind: 'json'; inputs: unknown; parameters: Record<string, unknown> }
  | { kind: 'binary'; bytes: Uint8Array; contentType: string; parameters: Record<string, unknown> };

/** Service-wide request limits (configuration), applied by every task's parse. */
export interface RequestLimits {
  maxBatch: number;
  maxTextChars: number;
}

/** What placement needs to know about one parsed request. */
export interface RequestSize {
  batch: number;
  pixels?: number;
  tokens?: number;
  inputBytes?: number;
  seconds?: number;
}

/**
 * What a task may need from the model version besides its ONNX graph (a `tokenizer.json`, a label map): the route
 * prepares it from the registry on the edge, from its model store on the origin, so task code stays runtime-neutral.
 */
export interface TaskContext {
  /** A file listed in the manifest's `files`, size- and sha256-checked. */
  loadFile(name: string): Promise<Uint8Array>;
}

export interface TaskModule<Parsed, Output> {
  readonly task: TaskName;
  /**
   * Validates and decodes the request (throws ServiceError). Pure and synchronous where the format allows.
   * `context` is given by every route; tasks that need model files (feature-extraction) refuse to run without it.
   */
  parse(body: RequestBody, manifest: Manifest, limits: RequestLimits, context?: TaskContext): Promise<Parsed> | Parsed;
  /** Sizes used by placement and limits. */
  size(parsed: Parsed): RequestSize;
  /** Whether the answer may be cached at all (false: a sampled generation without a seed). Default true. */
  cacheable?(parsed: Parsed): boolean;
  /** A canonical, JSON-serialisable form of the input for the result-cache key. */
  cacheKeyInput(parsed: Parsed): unknown;
  /** Builds the model's feeds. */
  preprocess(parsed: Parsed, manifest: Manifest): Feeds;
  /** Turns the model's outputs into the task's JSON answer. */
  postprocess(outputs: Outputs, parsed: Parsed, manifest: Manifest): Output;
  /**
   * For requests that need more than one run (VAD windows carrying state, explanations): runs the whole task.
   * Returns undefined to decline, and the single preprocess → run → postprocess path applies.
   */
  execute?(parsed: Parsed, runner: ModelRunner, manifest: Manifest): Promise<Output> | undefined;
}

/** Milliseconds per stage, for `Server-Timing`. */
export type StageTimings = Partial<Record<'preprocess' | 'inference' | 'postprocess' | 'task', number>>;

/** Runs one task end to end with any runner: the single code path for edge and origin. */
export async function runTask<P, O>(
  task: TaskModule<P, O>,
  parsed: P,
  runner: ModelRunner,
  manifest: Manifest,
  timings: StageTimings = {},
): Promise<O> {
  let inference = 0;
  const timed: ModelRunner = {
    async run(feeds, outputNames) {
      const t = performance.now();
      try {
        return await runner.run(feeds, outputNames);
      } finally {
        inference += performance.now() - t;
      }
    },
  };
  const t0 = performance.now();
  const custom = task.execute?.(parsed, timed, manifest);
  if (custom !== undefined) {
    const out = await custom;
    timings.inference = inference;
    timings.task = performance.now() - t0 - inference;
    return out;
  }
  const feeds = task.preprocess(parsed, manifest);
  timings.preprocess = performance.now() - t0;
  const outputs = await timed.run(feeds);
  timings.inference = inference;
  const t1 = performance.now();
  const out = task.postprocess(outputs, parsed, manifest);
  timings.postprocess = performance.now() - t1;
  return out;
}
