/**
 * @module The origin's HTTP surface (Hono): Open Inference Protocol / KServe v2 REST, the task API
 * `POST /v1/models/{id}/predict` running the edge's own task code, Prometheus `/metrics`, bearer-secret auth,
 * body limits and the edge's `{ error: { code, message } }` shape everywhere.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import { HTTPException } from 'hono/http-exception';
import { ApiError, invalidInput } from '../src/lib/errors.js';
import type { Manifest } from '../src/storage/manifest.js';
import { parseModelRef, type ModelRef } from '../src/storage/registry.js';
import { taskModule } from '../src/tasks/index.js';
import { inferResponse, modelMetadata, parseInferRequest, runInfer } from '../src/tasks/kserve.js';
import { InputError, runTask, type RequestBody, type StageTimings } from '../src/tasks/task.js';
import { QueueFullError } from './batcher.js';
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

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Constant-time check of `Authorization: Bearer <secret>` (hashing first makes the lengths equal). */
function authorised(header: string | undefined, secret: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  const given = m?.[1]?.trim();
  return given !== undefined && timingSafeEqual(digest(given), digest(secret));
}

function mediaType(c: Context): string {
  return (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

async function readJson(c: Context): Promise<unknown> {
  const type = mediaType(c);
  if (type !== 'application/json' && !type.endsWith('+json'))
    throw new ApiError(415, 'unsupported_media_type', 'Send the body as application/json.');
  try {
    return JSON.parse(await c.req.text()) as unknown;
  } catch {
    throw new ApiError(400, 'invalid_json', 'The request body is not valid JSON.');
  }
}

const BINARY_TYPES = /^(image|audio)\/[a-z0-9.+-]+$|^application\/octet-stream$/;

/** The predict body exactly as the edge reads it: `{ inputs, parameters }` JSON or raw image/audio bytes. */
async function readPredictBody(c: Context): Promise<RequestBody> {
  const type = mediaType(c);
  if (BINARY_TYPES.test(type))
    return { kind: 'binary', bytes: new Uint8Array(await c.req.arrayBuffer()), contentType: type, parameters: {} };
  const body = await readJson(c);
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidInput('body: must be a JSON object with "inputs".');
  const record = body as Record<string, unknown>;
  if (record['inputs'] === undefined) throw invalidInput('inputs: required.');
  const parameters = record['parameters'] ?? {};
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters))
    throw invalidInput('parameters: must be an object.');
  return { kind: 'json', inputs: record['inputs'], parameters: parameters as Record<string, unknown> };
}

function ref(id: string, version: string | undefined): ModelRef {
  const parsed = parseModelRef(id);
  return version === undefined ? parsed : { id: parsed.id, version };
}

function serverTiming(timings: Record<string, number | undefined>): string {
  return Object.entries(timings)
    .filter((e): e is [string, number] => e[1] !== undefined)
    .map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`)
    .join(', ');
}

export function createOriginApp(deps: OriginDeps): Hono {
  const { config, pool, metrics } = deps;
  const app = new Hono();
  const limitBody: MiddlewareHandler = bodyLimit({
    maxSize: config.limits.maxBodyBytes,
    onError: () => {
      throw new ApiError(
        413,
        'payload_too_large',
        `The request body is over the limit of ${config.limits.maxBodyBytes} bytes.`,
      );
    },
  });
  const resolve = (c: Context): Promise<Manifest> =>
    pool.registry.resolve(ref(c.req.param('id') ?? '', c.req.param('version')));

  const observe: MiddlewareHandler = async (c, next) => {
    const end = metrics.requestSeconds.startTimer();
    await next();
    // The matched pattern, not the URL: bounded label cardinality.
    const route = routePath(c, -1);
    end({ route });
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
  };
  app.use('*', observe);
  app.use('*', async (c, next) => {
    // Liveness stays open for orchestrators; everything else needs the shared secret.
    if (c.req.method === 'GET' && c.req.path === '/v2/health/live') return next();
    if (!authorised(c.req.header('authorization'), config.secret)) {
      throw new ApiError(401, 'unauthorized', 'Send the shared origin secret as "Authorization: Bearer <secret>".', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    return next();
  });

  app.get('/v2', (c) => {
    const runtime = runtimeInfo(config.runtime);
    return c.json({
      name: 'edge-inference-origin',
      version: '0.1.0',
      extensions: ['model_repository_metadata'],
      execution_provider: runtime.execution_provider,
      runtime,
    });
  });
  app.get('/v2/health/live', (c) => c.json({ live: true }));
  app.get('/v2/health/ready', async (c) => {
    if (!deps.isReady()) return c.json({ ready: false }, 503);
    await pool.registry.list();
    return c.json({ ready: true });
  });

  for (const base of ['/v2/models/:id', '/v2/models/:id/versions/:version']) {
    app.get(base, async (c) => c.json(modelMetadata(await resolve(c))));
    app.get(`${base}/ready`, async (c) => {
      const manifest = await resolve(c);
      const model = await pool.get(manifest);
      return c.json({
        name: manifest.id,
        version: manifest.version,
        ready: true,
        execution_provider: model.session.provider,
      });
    });
    app.post(`${base}/infer`, limitBody, async (c) => {
      const manifest = await resolve(c);
      const parsed = parseInferRequest(await readJson(c), manifest, config.limits.maxInferElements);
      const model = await pool.get(manifest);
      const t = performance.now();
      const outputs = await runInfer(model.batcher, parsed);
      c.header('Server-Timing', serverTiming({ inference: performance.now() - t }));
      c.header('X-Model', `${manifest.id}@${manifest.version}`);
      return c.json(inferResponse(manifest, parsed, outputs));
    });
  }

  app.post('/v1/models/:ref/predict', limitBody, async (c) => {
    const manifest = await pool.registry.resolve(parseModelRef(c.req.param('ref')));
    const task = taskModule(manifest.task);
    if (task === undefined) {
      throw new ApiError(
        422,
        'invalid_input',
        `Model '${manifest.id}' (${manifest.task}) is served through POST /v2/models/${manifest.id}/infer only.`,
      );
    }
    const body = await readPredictBody(c);
    // Model files a task needs (a tokenizer) come through the registry, sha256-checked, as on the edge.
    const context = { loadFile: (name: string) => pool.registry.loadModelBytes(manifest, name) };
    const parsed = await task.parse(
      body,
      manifest,
      { maxBatch: config.limits.maxBatch, maxTextChars: config.limits.maxTextChars },
      context,
    );
    const model = await pool.get(manifest);
    const stages: StageTimings = {};
    // The batcher is the runner: the edge's own task code, with concurrent requests stacked underneath it.
    const output = await runTask(task, parsed, model.batcher, manifest, stages);
    c.header('Server-Timing', serverTiming(stages));
    c.header('X-Model', `${manifest.id}@${manifest.version}`);
    return c.json(output as object);
  });

  app.get('/metrics', async (c) => {
    c.header('Content-Type', metrics.registry.contentType);
    return c.body(await metrics.registry.metrics());
  });

  app.notFound((c) =>
    c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` } }, 404),
  );
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
    if (err instanceof InputError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
    if (err instanceof QueueFullError) {
      return c.json(
        { error: { code: 'rate_limited', message: 'The origin is at capacity for this model; retry shortly.' } },
        429,
        { 'Retry-After': String(err.retryAfterS) },
      );
    }
    if (err instanceof HTTPException && err.status < 500)
      return c.json({ error: { code: 'invalid_input', message: err.message || 'Bad request.' } }, err.status);
    console.error(
      JSON.stringify({
        msg: 'unhandled error',
        path: c.req.path,
        err: err instanceof Error ? (err.stack ?? err.message) : String(err),
      }),
    );
    return c.json(
      { error: { code: 'internal', message: 'Something went wrong on our side; it has been logged.' } },
      500,
    );
  });
  return app;
}
