/**
 * @module The origin's HTTP surface: the edge's own route definitions (task API, KServe v2, catalogue) mounted over
 * the origin's `Serving` — onnxruntime-node sessions behind the dynamic batcher — plus what only the origin has: the
 * shared-secret check (hono's bearer-auth), Prometheus `/metrics` (@hono/prometheus) and its own OpenAPI document.
 */
import { prometheus } from '@hono/prometheus';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { requestId } from 'hono/request-id';
import { timing } from 'hono/timing';
import { ServiceError } from '../src/lib/errors.js';
import type { Manifest } from '../src/lib/manifest.js';
import { documentConfig, registerSecurity } from '../src/http/docs.js';
import { createRouter, errorHandler, limitBody, notFoundHandler } from '../src/http/router.js';
import { generateRoutes } from '../src/http/generate.js';
import { kserveRoutes } from '../src/http/kserve.js';
import { modelsRoutes } from '../src/http/models.js';
import { predictRoutes } from '../src/http/predict.js';
import { taskContext, type BaseVariables, type Serving } from '../src/serving/contract.js';
import { predictionHeaders } from '../src/serving/headers.js';
import { ID_HEADER, liveGenerations, newGenerationId, OWNER_HEADER } from '../src/serving/live-generations.js';
import { generationTokenizer } from '../src/tasks/generation/plan.js';
import { generatedTexts, textGeneration, type TextGenerationInput } from '../src/tasks/generation/text-generation.js';
import { eventsOf } from './generation-scheduler.js';
import { inferResponse, runInfer } from '../src/tasks/kserve.js';
import { runTask, type StageTimings } from '../src/tasks/task.js';
import type { OriginServerConfig } from './config.js';
import type { OriginMetrics } from './metrics.js';
import type { ModelPool } from './models.js';
import { runtimeInfo } from './runtime.js';

export interface OriginDeps {
  config: OriginServerConfig;
  pool: ModelPool;
  metrics: OriginMetrics;
  /** Resolves once startup preloading is over (ready = true from then on). */
  isReady: () => boolean;
}

interface OriginEnv {
  Variables: BaseVariables;
}

/** Headers on the origin's own answers: the edge's set, so a direct caller sees one shape. */
function answerHeaders(c: Context, manifest: Manifest, timings: Record<string, number | undefined>): void {
  // The origin keeps no result cache: the edge's KV cache is in front of it.
  predictionHeaders(c, manifest, { cache: 'BYPASS', placement: 'origin', reason: 'served by the origin', timings });
}

function originServing(deps: OriginDeps): Serving<OriginEnv> {
  const { config, pool } = deps;
  return {
    name: 'edge-inference-origin',
    registry: () => pool.registry,
    limits: () => config.limits,
    // The shared secret admits the edge for every model: scopes were checked there.
    admit: () => undefined,
    lists: () => true,
    async predict(c, manifest, { task, parsed }) {
      const model = await pool.get(manifest);
      const { scheduler } = model;
      if (task === textGeneration && scheduler !== undefined) {
        // Generations join the model's continuous batch, as the native and OpenAI routes' do.
        const input = parsed as TextGenerationInput;
        const output = await generatedTexts(input, (plan) =>
          eventsOf(scheduler.submit(plan, input.tokenizer, c.req.raw.signal)),
        );
        answerHeaders(c, manifest, {});
        return output;
      }
      const stages: StageTimings = {};
      // The batcher is the runner: the edge's own task code, with concurrent requests stacked underneath it.
      const output = await runTask(task, parsed, model.batcher, manifest, stages);
      answerHeaders(c, manifest, stages);
      return output;
    },
    async infer(c, manifest, parsed) {
      const model = await pool.get(manifest);
      const started = performance.now();
      const outputs = await runInfer(model.batcher, parsed);
      answerHeaders(c, manifest, { inference: performance.now() - started });
      return inferResponse(manifest, parsed, outputs);
    },
    async generate(c, manifest, plan, control) {
      const model = await pool.get(manifest);
      if (model.scheduler === undefined) throw new Error(`${manifest.id} has no generation scheduler`);
      const tokenizer = await generationTokenizer(manifest, taskContext(pool.registry, manifest));
      const owner = c.req.header(OWNER_HEADER) ?? 'origin';
      const live = liveGenerations.start(control.id, owner, control.signal);
      try {
        const stream = model.scheduler.submit(plan, tokenizer, live.signal);
        answerHeaders(c, manifest, {});
        return (async function* () {
          try {
            yield* eventsOf(stream);
          } finally {
            live.end();
          }
        })();
      } catch (err) {
        live.end();
        throw err;
      }
    },
    // The edge names its generations (so its cancel reaches this process); direct callers get a fresh id.
    generationId: (c, prefix) => c.req.header(ID_HEADER) ?? newGenerationId(prefix),
    cancel: (c, id) => Promise.resolve(liveGenerations.cancel(id, c.req.header(OWNER_HEADER) ?? 'origin')),
    async ready() {
      if (!deps.isReady()) return false;
      await pool.registry.list();
      return true;
    },
    async modelReady(_c, manifest) {
      const model = await pool.get(manifest);
      return { execution_provider: model.session.provider };
    },
    serverMetadata: () => {
      const runtime = runtimeInfo(config.runtime);
      return { execution_provider: runtime.execution_provider, runtime };
    },
  };
}

const refuse = (message: string, challenge: string): never => {
  throw new ServiceError(401, 'unauthorized', message, { headers: { 'WWW-Authenticate': challenge } });
};

/** `Authorization: Bearer <ORIGIN_SECRET>`, compared in constant time (bearer-auth hashes both sides first). */
function secretAuth(secret: string): MiddlewareHandler<OriginEnv> {
  const check = bearerAuth<OriginEnv>({
    token: secret,
    noAuthenticationHeader: {
      message: () => refuse('Send the shared origin secret as "Authorization: Bearer <secret>".', 'Bearer'),
    },
    invalidAuthenticationHeader: {
      message: () => refuse('The Authorization header must be "Bearer <secret>".', 'Bearer error="invalid_request"'),
    },
    invalidToken: { message: () => refuse('The origin secret is wrong.', 'Bearer error="invalid_token"') },
  });
  return async (c, next) => {
    // Liveness stays open for orchestrators; everything else needs the shared secret.
    if (c.req.method === 'GET' && c.req.path === '/v2/health/live') return next();
    return check(c, next);
  };
}

export function createOriginApp(deps: OriginDeps) {
  const { config, metrics } = deps;
  const serving = originServing(deps);
  // Finer buckets than the library's (5 ms and up): most origin requests take a few milliseconds. The options type
  // is a union whose `Omit` drops `buckets`, so the histogram's options go in as a value, not a literal.
  const requestDuration = {
    help: 'HTTP request latency by route, seconds.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  };
  const { printMetrics, registerMetrics } = prometheus({
    registry: metrics.registry,
    prefix: 'origin_',
    metricOptions: { requestDuration },
  });
  const app = createRouter<OriginEnv>();
  app.use('*', requestId());
  app.use('*', timing());
  // Labelled by the matched route pattern, not the URL: bounded label cardinality.
  app.use('*', registerMetrics);
  app.use('*', secretAuth(config.secret));
  app.use(
    '*',
    limitBody<OriginEnv>(() => config.limits.maxBodyBytes),
  );
  registerSecurity(app, 'The shared origin secret (`ORIGIN_SECRET`): `Authorization: Bearer <secret>`.');
  const routed = app
    .route('/', modelsRoutes(serving))
    .route('/', predictRoutes(serving))
    .route('/', kserveRoutes(serving))
    .route('/', generateRoutes(serving));
  app.get('/metrics', printMetrics);
  app.doc31('/openapi.json', documentConfig('origin'));
  app.onError(errorHandler);
  app.notFound(notFoundHandler);
  return routed;
}
