/**
 * @module A bench-only Worker (never deployed): times `session.run` inside workerd with the product's own
 * runtime module (POST /run: a model and feeds), and the product app's own request path in-process with real
 * local R2/KV/Rate Limiting bindings (POST /seed, then POST /app), which separates the app's overhead from the HTTP
 * hop. `/app` times either the real app or the same app with a fixed key and no limiter, for the cost of auth +
 * rate limiting.
 */
import type { MiddlewareHandler } from 'hono';
import { KeyStore, type KeyRecord } from '../src/auth/keys.js';
import { createEdgeApp } from '../src/app.js';
import { app } from '../src/index.js';
import type { AppEnv } from '../src/serving/services.js';
import { createSession, runtimeInfo, type EdgeSession } from '../src/runtime/ort.js';
import type { Feeds, TensorData } from '../src/tasks/tensor.js';
import { blockMeans } from './timing.js';

// The product's Durable Objects, bound by bench/wrangler.toml for the job accept timing.
export { HookObject, JobObject, WebhookSecretsObject } from '../src/index.js';

interface BenchFeed {
  name: string;
  type: 'float32' | 'int64';
  dims: number[];
  data: number[];
}

const sessions = new Map<string, EdgeSession>();

/** The key the no-auth variant pretends every request carries (no header parsing, no hash, no KV, no limiter). */
const FIXED_KEY: KeyRecord = {
  id: 'key_bench',
  name: 'bench',
  hint: 'ei_dev_bench',
  scopes: { models: ['*'], admin: true },
  tier: 'default',
  created_at: new Date(0).toISOString(),
};
const fixedKey: MiddlewareHandler<AppEnv> = async (c, next) => {
  c.set('apiKey', FIXED_KEY);
  await next();
};
const noLimit: MiddlewareHandler<AppEnv> = async (_c, next) => {
  await next();
};
const appWithoutAuth = createEdgeApp({ authenticate: fixedKey, limitKey: noLimit });

async function digest(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return [...d].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function toFeeds(feeds: BenchFeed[]): Feeds {
  const out: Feeds = {};
  for (const f of feeds) {
    const t: TensorData =
      f.type === 'int64'
        ? { type: 'int64', dims: f.dims, data: BigInt64Array.from(f.data, (v) => BigInt(v)) }
        : { type: 'float32', dims: f.dims, data: Float32Array.from(f.data) };
    out[f.name] = t;
  }
  return out;
}

/** The product app, called in-process with this Worker's real (local) R2 and KV bindings: no HTTP hop. */
async function timeApp(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const { path, method, headers, body, iterations, warmup, variant, quiet } = await request.json<{
    path: string;
    method: string;
    headers: Record<string, string>;
    body?: string;
    iterations: number;
    warmup: number;
    variant?: 'full' | 'no-auth';
    /** Mute the request log line: locally each console.log crosses wrangler's inspector, which deployed Workers do not. */
    quiet?: boolean;
  }>();
  let status = 0;
  const target = variant === 'no-auth' ? appWithoutAuth : app;
  const call = async (): Promise<void> => {
    const res = await target.fetch(
      new Request(`http://bench${path}`, { method, headers, ...(body === undefined ? {} : { body }) }),
      env,
      ctx,
    );
    await res.arrayBuffer();
    status = res.status;
  };
  const log = console.log;
  if (quiet === true) console.log = () => undefined;
  try {
    const { times, block } = await blockMeans(call, iterations, warmup);
    return Response.json({ times, block, status });
  } finally {
    console.log = log;
  }
}

/**
 * Seeds this Worker's local R2 bucket (key → bytes) so the in-process app finds its models, and `api_key` (a
 * string field) as a real key record in AUTH.
 */
async function seed(request: Request, env: Env): Promise<Response> {
  const form = await request.formData();
  let n = 0;
  const apiKey = form.get('api_key');
  if (typeof apiKey === 'string') {
    await new KeyStore(env.AUTH, { ttlMs: 30_000 }).insert(apiKey, {
      name: 'bench',
      scopes: { models: ['*'], admin: false },
      tier: 'default',
    });
  }
  for (const [key, value] of form.entries()) {
    if (!(value instanceof File)) continue;
    await env.MODELS.put(key, await value.arrayBuffer());
    n++;
  }
  return Response.json({ seeded: n });
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === '/info') return Response.json(runtimeInfo());
    if (url.pathname === '/seed' && request.method === 'POST') return seed(request, env);
    if (url.pathname === '/app' && request.method === 'POST') return timeApp(request, env, ctx);
    if (url.pathname !== '/run' || request.method !== 'POST') return new Response('not found', { status: 404 });
    const form = await request.formData();
    const model = form.get('model');
    const spec = form.get('spec');
    if (!(model instanceof File) || typeof spec !== 'string')
      return new Response('need model and spec', { status: 400 });
    const { feeds, iterations, warmup } = JSON.parse(spec) as {
      feeds: BenchFeed[];
      iterations: number;
      warmup: number;
    };
    const bytes = new Uint8Array(await model.arrayBuffer());
    const key = await digest(bytes);
    let session = sessions.get(key);
    let createMs: number | undefined;
    if (session === undefined) {
      const t = performance.now();
      session = await createSession(bytes);
      createMs = performance.now() - t;
      sessions.set(key, session);
    }
    const input = toFeeds(feeds);
    const { times, block } = await blockMeans(() => session.run(input), iterations, warmup);
    return Response.json({ times, block, createMs, heapBytes: runtimeInfo().heapBytes });
  },
};
