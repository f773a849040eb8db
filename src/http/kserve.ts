/**
 * @module Open Inference Protocol (KServe v2) REST: server metadata, health, model metadata and readiness, and
 * `infer` on raw tensors — defined once, mounted by the edge and by the origin over their own `Serving`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, Env as HonoEnv } from 'hono';
import { ModelNotReadyError, retryAfterSeconds } from '../storage/model-status.js';
import type { ModelRef } from '../storage/registry.js';
import { parseModelRef } from '../storage/registry.js';
import {
  InferRequestSchema,
  modelMetadata,
  parseInferRequest,
  type InferRequest,
  type InferResponse,
} from '../tasks/kserve.js';
import {
  createRouter,
  documented,
  ErrorSchema,
  errorResponses,
  KEY_SECURITY,
  predictionResponses,
  PredictionRequestHeaders,
  RateLimitHeaders,
} from './router.js';
import type { Serving } from '../serving/contract.js';

const tags = ['KServe v2'];

const NameParam = z.string().openapi({
  param: { name: 'model_name', in: 'path' },
  description: 'A model id (its `latest` version), or `id@version`.',
  example: 'sentiment-en',
});
const VersionParam = z.string().openapi({ param: { name: 'model_version', in: 'path' }, example: '2.1.0' });
const ModelParams = z.object({ model_name: NameParam });
const VersionedParams = z.object({ model_name: NameParam, model_version: VersionParam });

const TensorMetadata = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) });
const ModelMetadataSchema = z
  .object({
    name: z.string(),
    versions: z.array(z.string()),
    platform: z.string().openapi({ example: 'onnxruntime_onnx' }),
    inputs: z.array(TensorMetadata),
    outputs: z.array(TensorMetadata),
  })
  .openapi('KServeModelMetadata');
const ModelReadySchema = z
  .object({ name: z.string(), version: z.string(), ready: z.boolean() })
  .catchall(z.union([z.string(), z.number(), z.boolean()]))
  .openapi('KServeModelReady');
const InferResponseSchema = z
  .object({
    model_name: z.string(),
    model_version: z.string(),
    id: z.string().optional().openapi({ description: "The request's own `id`, echoed (never a cached answer's)." }),
    outputs: z.array(
      z.object({
        name: z.string(),
        shape: z.array(z.number().int()),
        datatype: z.string(),
        data: z.array(z.union([z.number(), z.string(), z.boolean()])),
      }),
    ),
  })
  .openapi('KServeInferResponse');
const InferRequestDoc = InferRequestSchema.openapi('KServeInferRequest', {
  example: {
    inputs: [
      { name: 'indices', shape: [1, 3], datatype: 'INT64', data: [17, 4242, 30001] },
      { name: 'values', shape: [1, 3], datatype: 'FP32', data: [0.577, 0.577, 0.577] },
    ],
  },
});
const keyed = z.object(RateLimitHeaders);

export const serverMetadataRoute = createRoute({
  method: 'get',
  path: '/v2',
  operationId: 'kserveServerMetadata',
  tags,
  summary: 'Server metadata',
  security: KEY_SECURITY,
  responses: {
    200: {
      description: 'Name, version, extensions and the runtime.',
      headers: keyed,
      content: {
        'application/json': {
          schema: z
            .object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) })
            .catchall(z.unknown())
            .openapi('KServeServerMetadata'),
        },
      },
    },
    ...errorResponses(401, 429),
  },
});

export const liveRoute = createRoute({
  method: 'get',
  path: '/v2/health/live',
  operationId: 'kserveLive',
  tags,
  summary: 'Liveness (no key needed)',
  responses: {
    200: { description: 'Alive.', content: { 'application/json': { schema: z.object({ live: z.boolean() }) } } },
    ...errorResponses(429),
  },
});

const ReadySchema = z.object({ ready: z.boolean() });
export const readyRoute = createRoute({
  method: 'get',
  path: '/v2/health/ready',
  operationId: 'kserveReady',
  tags,
  summary: 'Readiness (no key needed at the edge)',
  responses: {
    200: { description: 'Ready to serve.', content: { 'application/json': { schema: ReadySchema } } },
    503: { description: 'Not ready yet.', content: { 'application/json': { schema: ReadySchema } } },
    ...errorResponses(429),
  },
});

/** A GET on one model (metadata, readiness): same parameters, security and errors, its own answer. */
function modelGetRoute<P extends string, S extends z.ZodType>(
  path: P,
  params: typeof ModelParams | typeof VersionedParams,
  id: string,
  summary: string,
  answer: { description: string; schema: S },
) {
  return createRoute({
    method: 'get',
    path,
    operationId: id,
    tags,
    summary,
    security: KEY_SECURITY,
    request: { params },
    responses: {
      200: {
        description: answer.description,
        headers: keyed,
        content: { 'application/json': { schema: answer.schema } },
      },
      ...errorResponses(401, 403, 404, 429, 503),
    },
  });
}

const METADATA = 'Model metadata: inputs and outputs with KServe datatypes';
const metadataAnswer = { description: 'Model metadata.', schema: ModelMetadataSchema };
const READINESS = 'Model readiness: loads the model (sha256-checked) and says whether it serves';
const readyAnswer = { description: 'Loaded and ready.', schema: ModelReadySchema };

/**
 * Readiness adds one answer to the model GET's: a model still building (or failed to build) is `ready: false` with
 * 503, as Triton answers non-200 for a model still loading, and its state, progress or reason beside it.
 */
function readinessRoute<P extends string>(path: P, params: typeof ModelParams | typeof VersionedParams, id: string) {
  const route = modelGetRoute(path, params, id, READINESS, readyAnswer);
  return {
    ...route,
    responses: {
      ...route.responses,
      503: {
        description:
          'Not ready: still building (`ready: false` with `state`, `progress`, and Retry-After), failed to build ' +
          '(`ready: false` with `state` and `reason`), or unavailable (an Error).',
        headers: z.object({ 'Retry-After': z.string().optional() }),
        content: { 'application/json': { schema: z.union([ModelReadySchema, ErrorSchema]) } },
      },
    },
  };
}

function inferRoute<P extends string>(path: P, params: typeof ModelParams | typeof VersionedParams, id: string) {
  return createRoute({
    method: 'post',
    path,
    operationId: id,
    tags,
    summary: 'Run the model on raw tensors',
    description:
      'Tensors by input name with KServe datatypes (FP32, INT64, INT32, UINT8, INT8, BOOL, BYTES), flat or nested ' +
      'row-major `data`. `outputs` selects outputs. Placement, the result cache and the origin apply as for predict.',
    security: KEY_SECURITY,
    request: {
      params,
      body: { required: true, content: { 'application/json': { schema: InferRequestDoc } } },
    },
    responses: predictionResponses(InferResponseSchema, 'The output tensors.'),
  });
}

export const modelMetadataRoute = modelGetRoute(
  '/v2/models/{model_name}',
  ModelParams,
  'kserveModelMetadata',
  METADATA,
  metadataAnswer,
);
export const versionMetadataRoute = modelGetRoute(
  '/v2/models/{model_name}/versions/{model_version}',
  VersionedParams,
  'kserveVersionMetadata',
  METADATA,
  metadataAnswer,
);
export const modelReadinessRoute = readinessRoute('/v2/models/{model_name}/ready', ModelParams, 'kserveModelReady');
export const versionReadinessRoute = readinessRoute(
  '/v2/models/{model_name}/versions/{model_version}/ready',
  VersionedParams,
  'kserveVersionReady',
);
export const modelInferRoute = inferRoute('/v2/models/{model_name}/infer', ModelParams, 'kserveInfer');
export const versionInferRoute = inferRoute(
  '/v2/models/{model_name}/versions/{model_version}/infer',
  VersionedParams,
  'kserveVersionInfer',
);

/** The model a KServe path names (`{model_name}` may itself be `id@version`; a `versions/` segment wins). */
function refOf(params: { model_name: string; model_version?: string }): ModelRef {
  const parsed = parseModelRef(params.model_name);
  return params.model_version === undefined ? parsed : parseModelRef(`${parsed.id}@${params.model_version}`);
}

export function kserveRoutes<E extends HonoEnv>(serving: Serving<E>) {
  const metadata = async (c: Context<E>, params: { model_name: string; model_version?: string }) => {
    const ref = refOf(params);
    serving.admit(c, ref.id);
    return modelMetadata(await serving.registry(c).resolve(ref));
  };
  const ready = async (c: Context<E>, params: { model_name: string; model_version?: string }) => {
    const ref = refOf(params);
    serving.admit(c, ref.id);
    try {
      const manifest = await serving.registry(c).resolve(ref);
      const extra = await serving.modelReady(c, manifest);
      return c.json({ ...extra, name: manifest.id, version: manifest.version, ready: true }, 200);
    } catch (err) {
      if (!(err instanceof ModelNotReadyError)) throw err;
      const s = err.buildStatus;
      const body = {
        name: ref.id,
        version: s.version ?? ref.version ?? '',
        ready: false,
        state: s.state,
        ...(s.state === 'building' ? { progress: s.progress ?? 0 } : {}),
        ...(s.state === 'failed' && s.reason !== undefined ? { reason: s.reason } : {}),
      };
      return s.state === 'building'
        ? c.json(body, 503, { 'Retry-After': String(retryAfterSeconds(s)) })
        : c.json(body, 503);
    }
  };
  const infer = async (c: Context<E>, params: { model_name: string; model_version?: string }, body: InferRequest) => {
    const ref = refOf(params);
    serving.admit(c, ref.id);
    const manifest = await serving.registry(c).resolve(ref);
    const parsed = parseInferRequest(body, manifest, serving.limits(c).maxInferElements);
    const answer = await serving.infer(c, manifest, parsed, body);
    // The id is the request's own, put on after the (possibly cached) answer: KServe clients correlate by it.
    const response: InferResponse = parsed.id === undefined ? answer : { ...answer, id: parsed.id };
    return response;
  };
  const router = createRouter<E>();
  const infers = {
    model: documented(router, modelInferRoute, { headers: PredictionRequestHeaders }),
    version: documented(router, versionInferRoute, { headers: PredictionRequestHeaders }),
  };
  return router
    .openapi(serverMetadataRoute, (c) =>
      c.json(
        {
          name: serving.name,
          version: '0.1.0',
          extensions: ['model_repository_metadata'],
          ...serving.serverMetadata(c),
        },
        200,
      ),
    )
    .openapi(liveRoute, (c) => c.json({ live: true }, 200))
    .openapi(readyRoute, async (c) =>
      (await serving.ready(c)) ? c.json({ ready: true }, 200) : c.json({ ready: false }, 503),
    )
    .openapi(modelMetadataRoute, async (c) => c.json(await metadata(c, c.req.valid('param')), 200))
    .openapi(versionMetadataRoute, async (c) => c.json(await metadata(c, c.req.valid('param')), 200))
    .openapi(modelReadinessRoute, async (c) => ready(c, c.req.valid('param')))
    .openapi(versionReadinessRoute, async (c) => ready(c, c.req.valid('param')))
    .openapi(infers.model, async (c) => c.json(await infer(c, c.req.valid('param'), c.req.valid('json')), 200))
    .openapi(infers.version, async (c) => c.json(await infer(c, c.req.valid('param'), c.req.valid('json')), 200));
}
