/**
 * @module One prediction's path once its input is parsed, shared by the task API, the OpenAI embeddings API and
 * KServe infer: placement → KV cache and coalescing → the edge or the origin (with fallback) → the answer's headers.
 */
import type { Context } from 'hono';
import { edgeSession } from '../inference/edge.js';
import { serve, type ServeResult } from '../inference/serve.js';
import { dispatch, placementReason, type DispatchNote, type DispatchWays } from '../routing/dispatch.js';
import { originClient } from '../routing/origin-client.js';
import { decidePlacement, type PlacementDecision } from '../routing/placement.js';
import type { Manifest } from '../storage/manifest.js';
import type { ModelRegistry } from '../storage/registry.js';
import { runTask, type RequestSize, type StageTimings, type TaskContext, type TaskModule } from '../tasks/task.js';
import { services, type AppEnv } from './services.js';

/** `Cache-Control: no-store` on the request bypasses the result cache both ways. */
export function wantsNoStore(c: Context<AppEnv>): boolean {
  return /(^|,)\s*no-store\s*(,|$)/i.test(c.req.header('cache-control') ?? '');
}

/** Model files a task may need (a tokenizer), loaded through the registry with its sha256 check. */
export function taskContext(registry: ModelRegistry, manifest: Manifest): TaskContext {
  return { loadFile: (name) => registry.loadModelBytes(manifest, name) };
}

/** The headers every prediction answers with. */
export function predictionHeaders(c: Context<AppEnv>, manifest: Manifest, result: ServeResult): void {
  c.header('X-Cache', result.cache);
  c.header('X-Placement', result.placement);
  c.header('X-Model', `${manifest.id}@${manifest.version}`);
  c.header(
    'Server-Timing',
    Object.entries(result.timings)
      .map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`)
      .join(', '),
  );
  if (result.cache === 'BYPASS') c.header('Cache-Control', 'no-store');
}

export interface Placed extends DispatchWays {
  size: RequestSize;
  /** Names the API surface in the cache key (the same input answers differently per surface). */
  surface: string;
  cacheInput: unknown;
  /** Refuses the request once placement is known (a limit that binds only where it will run). */
  admit?: (decision: PlacementDecision) => void;
}

export async function servePlaced(c: Context<AppEnv>, manifest: Manifest, p: Placed): Promise<ServeResult> {
  const { cache } = services(c);
  const client = originClient(c.env);
  const decision = decidePlacement({
    manifest,
    size: p.size,
    hint: c.req.header('x-placement'),
    originConfigured: client !== undefined,
  });
  p.admit?.(decision);
  const note: DispatchNote = {};
  const result = await serve(
    manifest,
    p.surface,
    p.cacheInput,
    wantsNoStore(c),
    { cache, waitUntil: (w) => c.executionCtx.waitUntil(w) },
    (timings) => dispatch(decision, client, p, timings, note),
  );
  c.header('X-Placement-Reason', placementReason(decision, note));
  predictionHeaders(c, manifest, result);
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
): DispatchWays {
  return {
    edge: async (timings) => {
      const stages: StageTimings & { fetch?: number } = {};
      const session = await edgeSession(manifest, registry, stages);
      const output = await runTask(task, parsed, session, manifest, stages);
      Object.assign(timings, stages);
      return output;
    },
    origin: (origin) => {
      const { body, contentType } = originBody();
      return origin.post(`/v1/models/${manifest.id}@${manifest.version}/predict`, body, contentType);
    },
  };
}
