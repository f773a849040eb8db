/**
 * @module The edge's `Serving`: the one path a model call takes once its request is parsed, for the task API,
 * KServe infer and the OpenAI embeddings API alike — placement → KV cache and coalescing (partitioned per API key)
 * → the edge's onnxruntime-web session or the origin (with the one fallback rule) → the prediction headers.
 * Generations take the same steps in generation.ts (their answer is a stream, cached once it has ended).
 */
import type { Context } from 'hono';
import { assertCanCall, currentKey } from '../auth/caller.js';
import { scopeAllows } from '../auth/keys.js';
import { ServiceError } from '../lib/errors.js';
import type { Manifest } from '../lib/manifest.js';
import { originClient } from '../routing/origin-client.js';
import { decidePlacement, type PlacementDecision } from '../routing/placement.js';
import { edgeSession } from '../runtime/edge-session.js';
import { runtimeInfo } from '../runtime/ort.js';
import type { ModelRegistry } from '../storage/registry.js';
import { inferCacheInput, inferResponse, runInfer } from '../tasks/kserve.js';
import { runTask, type RequestSize, type StageTimings, type TaskModule } from '../tasks/task.js';
import type { InferAnswer, Serving } from './contract.js';
import { dispatch, type DispatchWays } from './dispatch.js';
import { edgeCancel, edgeGenerate, edgeGenerationId } from './generation.js';
import { predictionHeaders } from './headers.js';
import { cachePartition, flight, wantsNoStore, type FlightResult } from './result-flight.js';
import { services, type AppEnv } from './services.js';

/** Tensor elements per infer request at the edge: bounds the memory a request can claim inside a 128 MB isolate. */
const MAX_INFER_ELEMENTS = 4 * 1024 * 1024;

/** One model call at the edge, as the route that parsed it describes it. */
export interface ModelCall extends DispatchWays<unknown> {
  size: RequestSize;
  /** Names the API surface in the cache key (the same input answers differently per surface). */
  surface: string;
  cacheInput: unknown;
  /** Refuses the request once placement is known (a limit that binds only where it will run). */
  admit?: (decision: PlacementDecision) => void;
  /** The answer must not be cached (a sampled generation without a seed), whatever the request says. */
  noStore?: boolean;
}

/** Places, looks up, computes (or joins an identical call in flight), stores, and writes the headers. */
export async function serveCall(c: Context<AppEnv>, manifest: Manifest, call: ModelCall): Promise<FlightResult> {
  const { cache } = services(c);
  const client = originClient(c.env);
  const decision = decidePlacement({
    manifest,
    size: call.size,
    hint: c.req.header('x-placement'),
    originConfigured: client !== undefined,
  });
  call.admit?.(decision);
  const result = await flight(
    manifest,
    { surface: call.surface, partition: cachePartition(c, manifest), input: call.cacheInput },
    call.noStore === true || wantsNoStore(c),
    { cache, waitUntil: (w) => c.executionCtx.waitUntil(w) },
    (timings) => dispatch(decision, client, call, timings),
  );
  // A HIT says why the request would have run where it did.
  predictionHeaders(c, manifest, { ...result, reason: result.reason ?? decision.reason });
  return result;
}

/**
 * The two ways to answer a task request: the shared task code on an edge session, or the origin's predict for the
 * same pinned version (so the origin answers for the model the cache key names).
 */
export function taskWays<P>(
  registry: ModelRegistry,
  manifest: Manifest,
  task: TaskModule<P, unknown>,
  parsed: P,
  originBody: () => { body: BodyInit; contentType: string },
): DispatchWays<unknown> {
  return {
    edge: async (timings) => {
      const stages: StageTimings & { fetch?: number } = {};
      const session = await edgeSession(manifest, registry, stages);
      const output = await runTask(task, parsed, session, manifest, stages);
      Object.assign(timings, stages);
      return output;
    },
    origin: async (origin, timings) => {
      const { body, contentType } = originBody();
      const answer = await origin.post(`/v1/models/${manifest.id}@${manifest.version}/predict`, body, contentType);
      timings['origin'] = answer.ms;
      return answer.body;
    },
  };
}

/** The edge: keys and scopes, the partitioned KV cache, placement, onnxruntime-web sessions or the origin. */
export const edgeServing: Serving<AppEnv> = {
  name: 'edge-inference',
  registry: (c) => services(c).registry,
  limits: (c) => ({ ...services(c).config, maxInferElements: MAX_INFER_ELEMENTS }),
  admit: (c, modelId) => assertCanCall(c, modelId),
  lists: (c, manifest) => scopeAllows(currentKey(c).scopes, manifest.id),

  async predict(c, manifest, { task, parsed, body }) {
    const { registry } = services(c);
    const ways = taskWays(registry, manifest, task, parsed, () =>
      body.kind === 'json'
        ? {
            body: JSON.stringify({ inputs: body.inputs, parameters: body.parameters }),
            contentType: 'application/json',
          }
        : { body: body.bytes, contentType: body.contentType },
    );
    const result = await serveCall(c, manifest, {
      ...ways,
      size: task.size(parsed),
      surface: 'predict',
      cacheInput: task.cacheKeyInput(parsed),
      noStore: task.cacheable?.(parsed) === false,
    });
    return result.output;
  },

  async infer(c, manifest, parsed, request) {
    const { registry } = services(c);
    const max = manifest.edge_limits.max_batch;
    const result = await serveCall(c, manifest, {
      size: { batch: parsed.batch },
      surface: 'infer',
      cacheInput: inferCacheInput(parsed),
      admit: (decision) => {
        // Pinned to the edge, so the edge's limit is the model's limit (under auto, bigger batches go to the origin).
        if (decision.target === 'edge' && manifest.placement === 'edge' && max !== undefined && parsed.batch > max) {
          throw new ServiceError(
            422,
            'invalid_input',
            `inputs: at most ${max} rows per request for '${manifest.id}' (got ${parsed.batch}).`,
          );
        }
      },
      edge: async (t) => {
        const stages: { fetch?: number } = {};
        const session = await edgeSession(manifest, registry, stages);
        const started = performance.now();
        const outputs = await runInfer(session, parsed);
        Object.assign(t, stages, { inference: performance.now() - started });
        return inferResponse(manifest, parsed, outputs);
      },
      // The request's `id` stays here: the origin's answer is cached, and must not carry it.
      origin: async (origin, t) => {
        const answer = await origin.post(
          `/v2/models/${manifest.id}/versions/${manifest.version}/infer`,
          JSON.stringify({ ...request, id: undefined }),
          'application/json',
        );
        t['origin'] = answer.ms;
        return answer.body;
      },
    });
    return result.output as InferAnswer;
  },

  generate: (c, manifest, plan, control) => edgeGenerate(c, manifest, plan, control),
  generationId: (_c, prefix) => edgeGenerationId(prefix),
  cancel: (c, id) => edgeCancel(c, id),

  async ready(c) {
    // Ready means the registry answers; models load lazily on first use.
    await services(c).registry.list();
    return true;
  },

  async modelReady(c, manifest) {
    // Loading the session is the honest readiness check (sha256 and ORT both pass) and warms the isolate.
    await edgeSession(manifest, services(c).registry);
    return {};
  },

  serverMetadata: () => ({ runtime: runtimeInfo() }),
};
