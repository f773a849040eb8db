/**
 * @module What differs between the apps that mount the shared routes: the edge (auth, scopes, KV cache, placement,
 * an onnxruntime-web session or the origin) and the origin (its secret, the batcher, onnxruntime-node). A route
 * handler is written once over this interface; each app passes its own implementation.
 */
import type { Context, Env as HonoEnv } from 'hono';
import type { Manifest } from '../lib/manifest.js';
import { parseModelRef, type ModelRegistry } from '../storage/registry.js';
import type { InferRequest, InferResponse, ParsedInfer } from '../tasks/kserve.js';
import type { RequestBody, RequestLimits, TaskContext, TaskModule } from '../tasks/task.js';
import { type GenerationEvents } from '../tasks/generation/events.js';
import { generationTokenizer, type GenerationPlan } from '../tasks/generation/plan.js';
import type { LoadedTokenizer } from '../tasks/text/hf-tokenizer.js';
import { invalidInput } from '../lib/errors.js';

/** Request-scoped values every app sets (hono's request-id middleware sets `requestId`). */
export interface BaseVariables {
  requestId: string;
}

/** A generation the routes have planned: its id (for cancel) and the caller's connection. */
export interface GenerationControl {
  id: string;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/** Request limits a deployment applies (configuration). */
export interface ServiceLimits extends RequestLimits {
  maxBodyBytes: number;
  /** Tensor elements per KServe infer request: bounds the memory one request can claim. */
  maxInferElements: number;
}

/** A task request, parsed by the shared task code. */
export interface TaskRequest {
  task: TaskModule<unknown, unknown>;
  parsed: unknown;
  body: RequestBody;
}

/** KServe infer's answer before the request's own `id` is put on it (a cached answer must not carry another's). */
export type InferAnswer = Omit<InferResponse, 'id'>;

export interface Serving<E extends HonoEnv> {
  /** `name` in KServe server metadata. */
  readonly name: string;
  registry(c: Context<E>): ModelRegistry;
  limits(c: Context<E>): ServiceLimits;
  /**
   * Runs before any model work with the model id a request names: the edge refuses ids outside the API key's scope
   * (403) here, so a forbidden request costs no R2 read.
   */
  admit(c: Context<E>, modelId: string): void;
  /** Whether the catalogue shows a model to this caller (the edge: the key's scope). */
  lists(c: Context<E>, manifest: Manifest): boolean;
  /** Answers a parsed task request and sets the prediction headers. */
  predict(c: Context<E>, manifest: Manifest, request: TaskRequest): Promise<unknown>;
  /** Answers a checked KServe infer request (`request` is the body as sent) and sets the prediction headers. */
  infer(c: Context<E>, manifest: Manifest, parsed: ParsedInfer, request: InferRequest): Promise<InferAnswer>;
  /**
   * Starts a planned generation (placement, cache, the edge's session or the origin's scheduler) and answers its
   * events in order; the prediction headers are set before the first event. The events end with `done`.
   */
  generate(
    c: Context<E>,
    manifest: Manifest,
    plan: GenerationPlan,
    control: GenerationControl,
  ): Promise<GenerationEvents>;
  /** The id a new generation gets (the origin keeps the one the edge sends, so a cancel reaches it). */
  generationId(c: Context<E>, prefix: string): string;
  /** Stops a generation by id for this caller; false when none is running here (or further in) by that id. */
  cancel(c: Context<E>, id: string): Promise<boolean>;
  /** Readiness of the server as a whole (`/v2/health/ready`). */
  ready(c: Context<E>): Promise<boolean>;
  /** Loads a model to prove it can serve; returns extra fields for `/v2/models/{name}/ready`. */
  modelReady(c: Context<E>, manifest: Manifest): Promise<Record<string, string | number | boolean>>;
  /** Extra fields for `GET /v2` (runtime, execution provider). */
  serverMetadata(c: Context<E>): Record<string, unknown>;
}

/** Model files a task may need (a tokenizer), loaded through the registry with its sha256 check. */
export function taskContext(registry: ModelRegistry, manifest: Manifest): TaskContext {
  return { loadFile: (name) => registry.loadModelBytes(manifest, name) };
}

/**
 * The first step of every model call: the id checked against the caller's scope (before any R2 read, so a forbidden
 * request costs nothing), then the version resolved (`id`, its `latest`, or `id@version`).
 */
export async function resolveModel<E extends HonoEnv>(
  serving: Serving<E>,
  c: Context<E>,
  model: string,
): Promise<Manifest> {
  const ref = parseModelRef(model);
  serving.admit(c, ref.id);
  return serving.registry(c).resolve(ref);
}

/** A text-generation model the caller may use, and its tokenizer. */
export async function generationModel<E extends HonoEnv>(
  serving: Serving<E>,
  c: Context<E>,
  model: string,
  field: string,
): Promise<{ manifest: Manifest; tokenizer: LoadedTokenizer }> {
  const manifest = await resolveModel(serving, c, model);
  const registry = serving.registry(c);
  if (manifest.task !== 'text-generation')
    throw invalidInput(`${field}: '${model}' is a ${manifest.task} model; this route serves text-generation models.`);
  return { manifest, tokenizer: await generationTokenizer(manifest, taskContext(registry, manifest)) };
}
