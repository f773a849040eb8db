/**
 * @module The catalogue: `GET /v1/models` and `GET /v1/models/{model}` (ModelCards), defined once for both apps.
 * Models still building under `npm start` (or whose build failed) are listed apart, in `not_ready`, so `data` stays a
 * list of ModelCards for every client that reads it; calling one answers 503 `model_unavailable`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, Env as HonoEnv } from 'hono';
import { describeIssues, invalidInput, ServiceError } from '../lib/errors.js';
import { TASKS, type Manifest } from '../lib/manifest.js';
import { secondsLeft } from '../storage/model-status.js';
import { parseModelRef, type NotReadyModel } from '../storage/registry.js';
import { createRouter, documented, errorResponses, KEY_SECURITY, RateLimitHeaders } from './router.js';
import { generationLimits } from '../tasks/generation/plan.js';
import { ModelRefParam } from './predict.js';
import type { Serving } from '../serving/contract.js';

const Tensor = z.object({ name: z.string(), dtype: z.string(), shape: z.array(z.union([z.number(), z.string()])) });

export const ModelCardSchema = z
  .object({
    id: z.string().openapi({ example: 'sentiment-en' }),
    object: z.literal('model'),
    version: z.string().openapi({ example: '2.1.0' }),
    task: z.enum(TASKS),
    description: z.string(),
    license: z.string(),
    source: z.record(z.string(), z.string()),
    size_bytes: z.number().int(),
    accuracy: z.number().nullable().openapi({ description: 'Held-out accuracy measured by the build, if any.' }),
    edge_latency_ms_p50: z.number().nullable(),
    quantization: z.object({ type: z.enum(['int8', 'fp32']), method: z.string(), reason: z.string().optional() }),
    labels: z.array(z.string()).optional(),
    inputs: z.array(Tensor),
    outputs: z.array(Tensor),
    placement: z.enum(['edge', 'origin', 'auto']),
    edge_limits: z.record(z.string(), z.number()),
    metrics: z.record(z.string(), z.union([z.number(), z.string(), z.record(z.string(), z.number())])),
    created_at: z.string().optional(),
    generation: z
      .object({
        context_length: z.number().int().openapi({ description: 'Tokens a request may hold: prompt + max_tokens.' }),
        default_max_tokens: z.number().int().openapi({ description: 'New tokens when a request names no max_tokens.' }),
      })
      .optional()
      .openapi({ description: 'text-generation models: the limits a request is sized by.' }),
    state: z
      .literal('ready')
      .optional()
      .openapi({ description: 'A card is only given for a ready model; see `not_ready` in the list for the rest.' }),
  })
  .openapi('ModelCard');
export type ModelCard = z.infer<typeof ModelCardSchema>;

export const ModelBuildStateSchema = z
  .object({
    id: z.string().openapi({ example: 'brown-gpt-en' }),
    object: z.literal('model'),
    version: z.string().optional().openapi({ description: 'The version being built.', example: '1.0.0' }),
    state: z.enum(['building', 'failed']),
    progress: z
      .number()
      .optional()
      .openapi({ description: 'building: 0…1, estimated from the recorded build time; 0 while queued.' }),
    eta_seconds: z.number().int().optional().openapi({ description: 'building: seconds until ready (an estimate).' }),
    reason: z.string().optional().openapi({ description: 'failed: the last error line of the build log.' }),
    updated_at: z.string(),
  })
  .openapi('ModelBuildState', {
    description: 'A model that is not ready: building in the background under `npm start`, or failed to build.',
  });
export type ModelBuildState = z.infer<typeof ModelBuildStateSchema>;

/** How a model without a manifest is listed. */
export function buildState(m: NotReadyModel, now = Date.now()): ModelBuildState {
  const s = m.status;
  const left = secondsLeft(s, now);
  const out: ModelBuildState = { id: m.id, object: 'model', state: s.state, updated_at: s.updated_at };
  if (s.version !== undefined) out.version = s.version;
  if (s.state === 'building') out.progress = s.progress ?? 0;
  if (s.state === 'building' && left !== undefined) out.eta_seconds = Math.ceil(left);
  if (s.state === 'failed' && s.reason !== undefined) out.reason = s.reason;
  return out;
}

const numberMetric = (m: Manifest, key: string): number | null => {
  const v = m.metrics[key];
  return typeof v === 'number' ? v : null;
};

/** What a caller may see of a manifest: everything but file plumbing and preprocessing internals. */
export function modelCard(m: Manifest): ModelCard {
  const card: ModelCard = {
    id: m.id,
    object: 'model',
    version: m.version,
    task: m.task,
    description: m.description,
    license: m.license,
    source: Object.fromEntries(Object.entries(m.source).filter((e): e is [string, string] => e[1] !== undefined)),
    size_bytes: m.files.reduce((n, f) => n + f.bytes, 0),
    // The two figures a caller compares models by, lifted out of `metrics` (null when the build measured none).
    accuracy: numberMetric(m, 'accuracy'),
    edge_latency_ms_p50: numberMetric(m, 'edge_latency_ms_p50'),
    quantization: m.quantization,
    inputs: m.inputs,
    outputs: m.outputs,
    placement: m.placement,
    edge_limits: Object.fromEntries(
      Object.entries(m.edge_limits).filter((e): e is [string, number] => e[1] !== undefined),
    ),
    metrics: m.metrics,
    state: 'ready',
  };
  if (m.labels !== undefined) card.labels = m.labels;
  if (m.task === 'text-generation') card.generation = generationLimits(m);
  if (m.created_at !== undefined) card.created_at = m.created_at;
  return card;
}

const headers = z.object(RateLimitHeaders);

export const listModelsRoute = createRoute({
  method: 'get',
  path: '/v1/models',
  operationId: 'listModels',
  tags: ['Models'],
  summary: 'List the models this key may call',
  security: KEY_SECURITY,
  responses: {
    200: {
      description: "Each model's default version.",
      headers,
      content: {
        'application/json': {
          schema: z.object({
            object: z.literal('list'),
            data: z.array(ModelCardSchema),
            not_ready: z.array(ModelBuildStateSchema).optional().openapi({
              description: 'Models not ready yet (building, or failed to build); absent when there are none.',
            }),
          }),
        },
      },
    },
    ...errorResponses(401, 422, 429),
  },
});

/**
 * `?task=` filters the catalogue. Documented, but read by the handler rather than the route's validator, so typed
 * clients keep calling `models.$get()` with no argument.
 */
const CatalogueQuery = z.object({
  task: z
    .enum(TASKS)
    .optional()
    .openapi({ description: 'Only the models of this task.', example: 'text-classification' }),
});

export const getModelRoute = createRoute({
  method: 'get',
  path: '/v1/models/{model}',
  operationId: 'getModel',
  tags: ['Models'],
  summary: "A model's card",
  security: KEY_SECURITY,
  request: { params: z.object({ model: ModelRefParam }) },
  responses: {
    200: { description: 'The ModelCard.', headers, content: { 'application/json': { schema: ModelCardSchema } } },
    ...errorResponses(401, 403, 404, 429, 503),
  },
});

/** Whether this caller may see a model it has no manifest of yet: the same scope check `admit` makes. */
function mayCall<E extends HonoEnv>(serving: Serving<E>, c: Context<E>, id: string): boolean {
  try {
    serving.admit(c, id);
    return true;
  } catch (err) {
    if (err instanceof ServiceError && err.status === 403) return false;
    throw err;
  }
}

export function modelsRoutes<E extends HonoEnv>(serving: Serving<E>) {
  const router = createRouter<E>();
  return router
    .openapi(documented(router, listModelsRoute, { query: CatalogueQuery }), async (c) => {
      const query = CatalogueQuery.safeParse({ task: c.req.query('task') });
      if (!query.success) throw invalidInput(describeIssues(query.error.issues, ['query']));
      const { task } = query.data;
      const { ready, notReady } = await serving.registry(c).catalogue();
      const data = ready.filter((m) => serving.lists(c, m) && (task === undefined || m.task === task)).map(modelCard);
      // A model still building has no manifest here, so no task to filter by: a filtered list leaves them out.
      const waiting =
        task === undefined ? notReady.filter((m) => mayCall(serving, c, m.id)).map((m) => buildState(m)) : [];
      return c.json(
        waiting.length === 0
          ? { object: 'list' as const, data }
          : { object: 'list' as const, data, not_ready: waiting },
        200,
      );
    })
    .openapi(getModelRoute, async (c) => {
      const ref = parseModelRef(c.req.valid('param').model);
      serving.admit(c, ref.id);
      return c.json(modelCard(await serving.registry(c).resolve(ref)), 200);
    });
}
