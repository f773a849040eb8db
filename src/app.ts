/**
 * @module The edge's Hono app: request id → request log → CORS → API key and per-key rate limit (per-IP on the open
 * routes) → body limit → the shared route definitions over the edge's `Serving`, plus the edge-only surfaces
 * (embeddings, key management) and the OpenAPI document built from the same zod schemas that validate requests.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { timing } from 'hono/timing';
import { currentKey, internalCaller } from './auth/caller.js';
import { apiKeys } from './middleware/api-keys.js';
import { clientIp, rateLimit } from './middleware/rate-limit.js';
import { requestLog } from './middleware/request-log.js';
import { documentConfig, registerSecurity } from './http/docs.js';
import { completionsRoutes } from './http/completions.js';
import { embeddingsRoutes } from './http/embeddings.js';
import { evaluateRoutes } from './http/evaluate.js';
import { generateRoutes } from './http/generate.js';
import { hooksRoutes } from './http/hooks.js';
import { createRouter, errorHandler, limitBody, notFoundHandler } from './http/router.js';
import { jobsRoutes } from './http/jobs.js';
import { keysRoutes } from './http/keys.js';
import { kserveRoutes } from './http/kserve.js';
import { modelsRoutes } from './http/models.js';
import { edgeServing } from './serving/edge.js';
import { predictRoutes } from './http/predict.js';
import { services, type AppEnv } from './serving/services.js';
import { webhooksRoutes } from './http/webhooks.js';

/** Headers a browser page may read from an answer when CORS is on. */
const EXPOSED = [
  'X-Request-Id',
  'X-Cache',
  'X-Placement',
  'X-Placement-Reason',
  'X-Model',
  'Server-Timing',
  'Retry-After',
  'RateLimit-Limit',
  'RateLimit-Policy',
  'RateLimit-Remaining',
  'Location',
  'Idempotent-Replayed',
  'X-Generation-Id',
];

/** Inbound hook deliveries are authenticated by their signature, not an API key (src/http/hooks.ts). */
const isHookDelivery = (c: Context<AppEnv>): boolean =>
  c.req.method === 'POST' && /^\/v1\/hooks\/[^/]+$/.test(c.req.path);

/** CORS from `CORS_ORIGINS`: off when empty (no headers at all), `*`, or a list of origins. */
function corsFromConfig(): MiddlewareHandler<AppEnv> {
  const byList = new Map<string, MiddlewareHandler<AppEnv>>();
  return async (c, next) => {
    const origins = services(c).config.corsOrigins;
    if (origins.length === 0) return next();
    const key = origins.join(',');
    let handler = byList.get(key);
    if (handler === undefined) {
      handler = cors({
        origin: origins.includes('*') ? '*' : origins,
        allowHeaders: [
          'Authorization',
          'Content-Type',
          'Cache-Control',
          'X-Placement',
          'X-Request-Id',
          'Idempotency-Key',
          'Last-Event-ID',
        ],
        allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
        exposeHeaders: EXPOSED,
        maxAge: 600,
      });
      byList.set(key, handler);
    }
    return handler(c, next);
  };
}

const keyed = apiKeys<AppEnv>({ store: (c) => services(c).keys });
const perKey = rateLimit<AppEnv>({
  tier: (c) => {
    const tiers = services(c).config.rateLimitTiers;
    return tiers[currentKey(c).tier] ?? tiers['default'];
  },
  key: (c) => `key:${currentKey(c).id}`,
});
const perIp = rateLimit<AppEnv>({
  tier: (c: Context<AppEnv>) => services(c).config.ipRateLimit,
  key: (c) => `ip:${clientIp(c)}`,
});

/** What a deployment may swap (the benchmark times the app with and without auth and rate limiting). */
export interface EdgeAppParts {
  /** Authenticates the caller and sets `apiKey` (default: API keys from the AUTH KV). */
  authenticate?: MiddlewareHandler<AppEnv>;
  /** Spends the key's budget (default: the key's tier on the Rate Limiting binding). */
  limitKey?: MiddlewareHandler<AppEnv>;
}

export function createEdgeApp(parts: EdgeAppParts = {}) {
  const given = parts.authenticate ?? keyed;
  const limit = parts.limitKey ?? perKey;
  const authenticate: MiddlewareHandler<AppEnv> = (c, next) => (isHookDelivery(c) ? perIp(c, next) : given(c, next));
  // Calls the service makes on a key's behalf (job chunks, hook runs) were paid for when they were submitted.
  const limitKey: MiddlewareHandler<AppEnv> = (c, next) =>
    isHookDelivery(c) || internalCaller(c) !== undefined ? next() : limit(c, next);
  const app = createRouter<AppEnv>();
  app.use('*', requestId());
  app.use('*', requestLog());
  app.use('*', timing());
  app.use('*', corsFromConfig());
  // Open routes: health (orchestrators, uptime checks) and the API's own description; limited per client IP.
  for (const path of ['/v2/health/*', '/openapi.json']) app.use(path, perIp);
  // Everything else needs a key, and spends that key's budget before any model work.
  for (const path of ['/v1/*', '/v2', '/v2/models/*']) {
    app.use(path, authenticate);
    app.use(path, limitKey);
  }
  // After the key: a refused body is logged with whose it was, and an unknown caller learns nothing about limits.
  app.use(
    '*',
    limitBody<AppEnv>((c) => {
      const config = services(c).config;
      // A job may carry far more than one sync call: its list is cut into sync-sized chunks.
      return c.req.path === '/v1/jobs' ? config.jobs.maxBodyBytes : config.maxBodyBytes;
    }),
  );
  registerSecurity(app);
  const routed = app
    .route('/', modelsRoutes(edgeServing))
    .route('/', predictRoutes(edgeServing))
    .route('/', kserveRoutes(edgeServing))
    .route('/', embeddingsRoutes)
    .route('/', evaluateRoutes(edgeServing))
    .route('/', generateRoutes(edgeServing))
    .route('/', completionsRoutes(edgeServing))
    .route('/', keysRoutes())
    .route('/', jobsRoutes())
    .route('/', webhooksRoutes())
    // Inline hook runs go through this same app (`app.fetch` once it exists), on the hook owner's behalf.
    .route(
      '/',
      hooksRoutes((request, env, ctx) => app.fetch(request, env, ctx)),
    );
  app.doc31('/openapi.json', documentConfig('edge'));
  app.onError(errorHandler);
  app.notFound(notFoundHandler);
  return routed;
}

export const app = createEdgeApp();

/** The edge API's type, for `hc<AppType>` from `hono/client` (typed calls from TypeScript clients and the CLI). */
export type AppType = typeof app;
