/** @module `POST /v1/models/{id}/predict`: the task API (Hugging Face task JSON) on the edge. */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { edgeSession } from '../inference/edge.js';
import { serve, type ServeResult } from '../inference/serve.js';
import { ApiError } from '../lib/errors.js';
import type { Manifest } from '../storage/manifest.js';
import { parseModelRef, type ModelRegistry } from '../storage/registry.js';
import { dispatch, placementReason, type DispatchNote } from '../routing/dispatch.js';
import { originClient } from '../routing/origin-client.js';
import { decidePlacement } from '../routing/placement.js';
import { taskModule } from '../tasks/index.js';
import { runTask, type StageTimings, type TaskContext, type TaskModule } from '../tasks/task.js';
import { limitBody, readPredictBody } from './body.js';
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

/**
 * One task request's whole path after parsing, shared by the task API and the OpenAI embeddings API: placement →
 * KV cache and coalescing → the task on the edge, or the origin's predict for the same pinned version → headers.
 */
export async function servePlaced<P>(
  c: Context<AppEnv>,
  manifest: Manifest,
  task: TaskModule<P, unknown>,
  parsed: P,
  surface: string,
  originBody: () => { body: BodyInit; contentType: string },
): Promise<ServeResult> {
  const { registry, cache } = services(c);
  const client = originClient(c.env);
  const decision = decidePlacement({ manifest, size: task.size(parsed), hint: c.req.header('x-placement'), originConfigured: client !== undefined });
  const note: DispatchNote = {};
  const result = await serve(manifest, surface, task.cacheKeyInput(parsed), wantsNoStore(c), { cache, waitUntil: (p) => c.executionCtx.waitUntil(p) }, (timings) =>
    dispatch(
      decision,
      client,
      {
        edge: async (t) => {
          const stages: StageTimings & { fetch?: number } = {};
          const session = await edgeSession(manifest, registry, stages);
          const output = await runTask(task, parsed, session, manifest, stages);
          Object.assign(t, stages);
          return output;
        },
        // The pinned version, so the origin answers for the same model the cache key names.
        origin: (origin) => {
          const { body, contentType } = originBody();
          return origin.post(`/v1/models/${manifest.id}@${manifest.version}/predict`, body, contentType);
        },
      },
      timings,
      note,
    ),
  );
  c.header('X-Placement-Reason', placementReason(decision, note));
  predictionHeaders(c, manifest, result);
  return result;
}

export const predictRouter = new Hono<AppEnv>().post('/:ref/predict', limitBody, async (c) => {
  const { registry, config } = services(c);
  const manifest = await registry.resolve(parseModelRef(c.req.param('ref')));
  const task = taskModule(manifest.task);
  if (task === undefined) {
    throw new ApiError(422, 'invalid_input', `Model '${manifest.id}' (${manifest.task}) is served through POST /v2/models/${manifest.id}/infer only.`);
  }
  const body = await readPredictBody(c);
  const parsed = await task.parse(body, manifest, { maxBatch: config.maxBatch, maxTextChars: config.maxTextChars }, taskContext(registry, manifest));
  const result = await servePlaced(c, manifest, task, parsed, 'predict', () =>
    body.kind === 'json'
      ? { body: JSON.stringify({ inputs: body.inputs, parameters: body.parameters }), contentType: 'application/json' }
      : { body: body.bytes, contentType: body.contentType },
  );
  return c.json(result.output as object);
});
