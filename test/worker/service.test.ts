/**
 * @module The service around the engine, inside workerd with real KV, R2 and Rate Limiting bindings: the auth matrix
 * on every route family, scopes, key management, secrets never stored or logged, per-key and per-IP rate limits,
 * the per-key result cache and the KServe request id, request ids and log lines, CORS, the OpenAPI document against
 * the app's own route table, and the typed client (`hc<AppType>`) through the Worker's real fetch entry.
 */
import { env, exports } from 'cloudflare:workers';
import { hc } from 'hono/client';
import { afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { generateSecret } from '../../src/auth/keys.js';
import { runtimeInfo } from '../../src/runtime/ort.js';
import { app, type AppType } from '../../src/index.js';
import { ManifestSchema, r2Keys } from '../../src/lib/manifest.js';
import { call, json, postJson, recordOf, secretOf, type ErrorJson, type TestKey } from './client.js';
import { base64Bytes, seedModels } from './seed.js';

interface LabelScore {
  label: string;
  score: number;
}

const PREDICT = '/v1/models/sentiment-en/predict';
const SHARED = 'sentiment-shared';

interface KserveAnswer {
  id?: string;
  outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
}

/** sentiment-en's labels in output order, from the built manifest the global setup read. */
function sentimentLabels(): string[] {
  const m = inject('models').find((x) => x.id === 'sentiment-en');
  if (m === undefined) throw new Error('sentiment-en was not built');
  return ManifestSchema.parse(JSON.parse(m.manifestText)).labels ?? [];
}

beforeAll(async () => {
  await seedModels();
  // A copy of sentiment-en whose manifest opts into the shared cache (public inputs).
  const m = inject('models').find((x) => x.id === 'sentiment-en');
  if (m === undefined) throw new Error('sentiment-en was not built');
  const manifest: Record<string, unknown> = { ...(JSON.parse(m.manifestText) as Record<string, unknown>), id: SHARED };
  manifest['cache'] = { ttl_seconds: 3600, shared: true };
  for (const [name, b64] of Object.entries(m.files))
    await env.MODELS.put(r2Keys.file(SHARED, m.version, name), base64Bytes(b64));
  await env.MODELS.put(r2Keys.manifest(SHARED, m.version), JSON.stringify(manifest));
  await env.MODELS.put(r2Keys.latest(SHARED), m.version);
});

/** Every route family, with a request that a valid key may send. */
const FAMILIES: { name: string; path: string; init?: RequestInit; model?: string }[] = [
  { name: 'catalogue', path: '/v1/models' },
  { name: 'model card', path: '/v1/models/sentiment-en', model: 'sentiment-en' },
  {
    name: 'predict',
    path: PREDICT,
    model: 'sentiment-en',
    init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs":"auth matrix"}' },
  },
  { name: 'KServe server metadata', path: '/v2' },
  { name: 'KServe model metadata', path: '/v2/models/sentiment-en', model: 'sentiment-en' },
  { name: 'KServe model ready', path: '/v2/models/sentiment-en/ready', model: 'sentiment-en' },
  {
    name: 'KServe infer',
    path: '/v2/models/sentiment-en/infer',
    model: 'sentiment-en',
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'indices', shape: [1, 1], datatype: 'INT64', data: [1] }] }),
    },
  },
  {
    name: 'embeddings',
    path: '/v1/embeddings',
    model: 'sentiment-en',
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"sentiment-en","input":"x"}',
    },
  },
  { name: 'key list', path: '/v1/keys' },
];

describe('authentication on every route family', () => {
  const bad: [string, Record<string, string>, RegExp][] = [
    ['no key', {}, /Send an API key/],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }, /must be 'Bearer <key>'/],
    ['a malformed key', { authorization: 'Bearer sk-1234' }, /malformed/],
    ['an unknown key', { authorization: `Bearer ${generateSecret()}` }, /not known/],
  ];
  for (const family of FAMILIES) {
    it.each(bad)(`${family.name}: %s → 401 unauthorized with WWW-Authenticate`, async (_what, headers, message) => {
      const init = family.init ?? {};
      const res = await call(
        family.path,
        { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } },
        env,
        { key: null },
      );
      expect(res.status).toBe(401);
      expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
      const body = await json<ErrorJson>(res);
      expect(body.error).toMatchObject({ code: 'unauthorized' });
      expect(body.error.message).toMatch(message);
    });
  }

  it('a revoked key is refused everywhere, at once in this isolate', async () => {
    const created = await postJson('/v1/keys', { name: 'to revoke' });
    const { id, key } = await json<{ id: string; key: string }>(created);
    expect((await call('/v1/models', { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await call(`/v1/keys/${id}`, { method: 'DELETE' })).status).toBe(200);
    for (const family of FAMILIES) {
      const init = family.init ?? {};
      const res = await call(family.path, {
        ...init,
        headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${key}` },
      });
      expect(res.status, family.name).toBe(401);
      expect((await json<ErrorJson>(res)).error.message).toMatch(/revoked/);
    }
  });

  it('health, readiness and the API document stay open', async () => {
    expect((await call('/v2/health/live', {}, env, { key: null })).status).toBe(200);
    expect((await call('/v2/health/ready', {}, env, { key: null })).status).toBe(200);
    expect((await call('/openapi.json', {}, env, { key: null })).status).toBe(200);
  });
});

describe('scopes', () => {
  it('a key scoped to sentiment-* gets 403 forbidden for other models on every model route, before any model work', async () => {
    for (const family of FAMILIES.filter((f) => f.model !== undefined)) {
      const path = family.path.replace('sentiment-en', 'digits-mnist');
      const init = family.init ?? {};
      const body = typeof init.body === 'string' ? init.body.replace('sentiment-en', 'digits-mnist') : init.body;
      const res = await call(path, { ...init, ...(body === undefined ? {} : { body }) }, env, { key: 'sentimentOnly' });
      expect(res.status, family.name).toBe(403);
      expect((await json<ErrorJson>(res)).error.code).toBe('forbidden');
    }
    // Before any model work: a model that does not even exist is 403, not 404 (the registry was never asked).
    const runs = runtimeInfo().runs;
    const ghost = await postJson('/v1/models/no-such-model/predict', { inputs: 'x' }, {}, env, {
      key: 'sentimentOnly',
    });
    expect(ghost.status).toBe(403);
    expect(runtimeInfo().runs).toBe(runs);
    // In scope: served.
    const ok = await postJson(PREDICT, { inputs: 'in scope' }, {}, env, { key: 'sentimentOnly' });
    expect(ok.status).toBe(200);
  });

  it('the catalogue shows a key only the models it may call', async () => {
    const scoped = await json<{ data: { id: string }[] }>(await call('/v1/models', {}, env, { key: 'sentimentOnly' }));
    expect(scoped.data.length).toBeGreaterThan(0);
    expect(scoped.data.every((m) => m.id.startsWith('sentiment-'))).toBe(true);
    const all = await json<{ data: { id: string }[] }>(await call('/v1/models', {}, env, { key: 'plain' }));
    expect(all.data.map((m) => m.id)).toEqual(expect.arrayContaining(['digits-mnist', 'sentiment-en']));
  });

  it('key management needs an admin key', async () => {
    for (const [method, path] of [
      ['GET', '/v1/keys'],
      ['POST', '/v1/keys'],
      ['GET', '/v1/keys/key_x'],
      ['DELETE', '/v1/keys/key_x'],
    ] as const) {
      const res = await call(
        path,
        { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{"name":"x"}' : null },
        env,
        { key: 'plain' },
      );
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await json<ErrorJson>(res)).error.message).toMatch(/admin/);
    }
  });
});

describe('key management (admin)', () => {
  it('creates a key whose secret is shown once; lists, gets and revokes it; the new key works within its scope', async () => {
    const res = await postJson('/v1/keys', { name: 'checkout', models: ['iris-*'], tier: 'default' });
    expect(res.status).toBe(201);
    const created = await json<{ id: string; key: string; hint: string; scopes: { models: string[]; admin: boolean } }>(
      res,
    );
    expect(created.key).toMatch(/^ei_live_[A-Za-z0-9_-]{32}$/);
    expect(created.hint).toBe(created.key.slice(0, 12));
    expect(created.scopes).toEqual({ models: ['iris-*'], admin: false });
    const listed = await call('/v1/keys');
    const listText = await listed.text();
    expect(listText).toContain(created.id);
    expect(listText).not.toContain(created.key.slice(8));
    const one = await json<Record<string, unknown>>(await call(`/v1/keys/${created.id}`));
    expect(one).not.toHaveProperty('key');
    const auth = { authorization: `Bearer ${created.key}` };
    const iris = await call('/v1/models/iris-tree/predict', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"inputs":[5.1,3.5,1.4,0.2]}',
    });
    expect(iris.status).toBe(200);
    const other = await call(PREDICT, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"inputs":"x"}',
    });
    expect(other.status).toBe(403);
    const revoked = await json<{ revoked_at?: string }>(await call(`/v1/keys/${created.id}`, { method: 'DELETE' }));
    expect(typeof revoked.revoked_at).toBe('string');
    expect((await call('/v1/models', { headers: auth })).status).toBe(401);
  });

  it('refuses bad requests with 422 naming the field, and unknown ids with 404', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /^name:/],
      [{ name: 'x', models: ['Bad Model'] }, /^models\[0\]:/],
      [{ name: 'x', tier: 'platinum' }, /^tier: unknown tier 'platinum'/],
      [{ name: 'x', admin: 'yes' }, /^admin:/],
      [{ name: 'x', extra: 1 }, /extra/],
    ];
    for (const [body, message] of cases) {
      const res = await postJson('/v1/keys', body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await json<ErrorJson>(res)).error.message).toMatch(message);
    }
    expect((await call('/v1/keys/key_nope')).status).toBe(404);
    expect((await call('/v1/keys/key_nope', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('secrets are never stored or logged', () => {
  afterEach(() => vi.restoreAllMocks());

  it('neither KV nor any log line holds a key secret, or a request payload', async () => {
    const logged: string[] = [];
    const keep = (...args: unknown[]): void => {
      logged.push(args.map(String).join(' '));
    };
    vi.spyOn(console, 'log').mockImplementation(keep);
    vi.spyOn(console, 'error').mockImplementation(keep);
    vi.spyOn(console, 'warn').mockImplementation(keep);
    const created = await json<{ key: string }>(await postJson('/v1/keys', { name: 'secret probe' }));
    const payload = `private words ${crypto.randomUUID()}`;
    const withNew = { authorization: `Bearer ${created.key}` };
    await postJson(PREDICT, { inputs: payload }, withNew);
    await postJson(PREDICT, { inputs: payload }, { authorization: `Bearer ${created.key}x` }); // 401, malformed
    await postJson('/v1/models/sentiment-en/predict', { inputs: 42 }, withNew); // 422
    const secrets = [created.key, ...(['admin', 'plain'] as TestKey[]).map(secretOf)];
    expect(logged.length).toBeGreaterThan(0);
    const haystacks = [...logged];
    let cursor: string | undefined;
    do {
      const page = await env.AUTH.list(cursor === undefined ? {} : { cursor });
      for (const k of page.keys) haystacks.push(k.name, (await env.AUTH.get(k.name)) ?? '');
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    const cacheKeys = await env.CACHE.list();
    for (const k of cacheKeys.keys) haystacks.push(k.name, (await env.CACHE.get(k.name)) ?? '');
    for (const s of secrets) for (const h of haystacks) expect(h).not.toContain(s.slice(8));
    for (const line of logged) expect(line).not.toContain(payload);
    // And the log line is the structured one, with the key's id.
    const lines = logged
      .filter((l) => l.startsWith('{"msg":"request"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(
      lines.some(
        (l) => l['route'] === '/v1/models/:model/predict' && l['status'] === 200 && typeof l['key_id'] === 'string',
      ),
    ).toBe(true);
  });
});

describe('rate limits', () => {
  it('a key over its tier gets 429 rate_limited with Retry-After and does no model work; it recovers', async () => {
    const periodMs = 10_000;
    // All four requests must fall into one of the binding's fixed windows.
    if (periodMs - (Date.now() % periodMs) < 3000)
      await new Promise((r) => setTimeout(r, periodMs - (Date.now() % periodMs) + 50));
    for (let i = 0; i < 3; i++) {
      const res = await call('/v1/models', {}, env, { key: 'tight' });
      expect(res.status).toBe(200);
      expect(res.headers.get('RateLimit-Policy')).toBe('3;w=10');
    }
    const runs = runtimeInfo().runs;
    const limited = await postJson(PREDICT, { inputs: `limited ${crypto.randomUUID()}` }, {}, env, { key: 'tight' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('Retry-After')).toBe('10');
    expect((await json<ErrorJson>(limited)).error.code).toBe('rate_limited');
    expect(runtimeInfo().runs).toBe(runs);
    await new Promise((r) => setTimeout(r, periodMs - (Date.now() % periodMs) + 50));
    const again = await postJson(PREDICT, { inputs: 'after the window' }, {}, env, { key: 'tight' });
    expect(again.status).toBe(200);
  }, 30_000);

  it('the open routes are limited per client IP (the `ip` tier: 120 a minute)', async () => {
    const ip = `198.51.100.${Math.floor(Math.random() * 250)}`;
    let firstRefused = -1;
    let refused: Response | undefined;
    for (let i = 0; i < 250 && refused === undefined; i++) {
      const res = await call('/v2/health/live', { headers: { 'cf-connecting-ip': ip } }, env, { key: null });
      if (res.status === 429) {
        firstRefused = i;
        refused = res;
      }
    }
    // 120 allowed per window; a window boundary inside the loop can grant up to 120 more.
    expect(firstRefused).toBeGreaterThanOrEqual(120);
    expect(refused?.headers.get('Retry-After')).toBe('60');
    // Another address is not affected.
    expect(
      (await call('/v2/health/live', { headers: { 'cf-connecting-ip': '192.0.2.1' } }, env, { key: null })).status,
    ).toBe(200);
  });
});

describe('the result cache once there are tenants', () => {
  it('HIT for the same key, MISS for another key: one caller cannot learn what another sent', async () => {
    const body = { inputs: `tenant probe ${crypto.randomUUID()} lovely` };
    expect((await postJson(PREDICT, body, {}, env, { key: 'plain' })).headers.get('X-Cache')).toBe('MISS');
    expect((await postJson(PREDICT, body, {}, env, { key: 'plain' })).headers.get('X-Cache')).toBe('HIT');
    const other = await postJson(PREDICT, body, {}, env, { key: 'other' });
    expect(other.headers.get('X-Cache')).toBe('MISS');
    expect((await postJson(PREDICT, body, {}, env, { key: 'other' })).headers.get('X-Cache')).toBe('HIT');
  });

  it('coalescing follows the partition: two keys sending the same input at once run it twice', async () => {
    await postJson(PREDICT, { inputs: 'warm' }, { 'cache-control': 'no-store' });
    const body = { inputs: `coalesce tenants ${crypto.randomUUID()}` };
    const before = runtimeInfo().runs;
    const answers = await Promise.all([
      ...Array.from({ length: 5 }, () => postJson(PREDICT, body, {}, env, { key: 'plain' })),
      ...Array.from({ length: 5 }, () => postJson(PREDICT, body, {}, env, { key: 'other' })),
    ]);
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(runtimeInfo().runs - before).toBe(2);
  });

  it('a model may opt into a shared cache for public inputs', async () => {
    const body = { inputs: `public ${crypto.randomUUID()}` };
    const path = `/v1/models/${SHARED}/predict`;
    expect((await postJson(path, body, {}, env, { key: 'plain' })).headers.get('X-Cache')).toBe('MISS');
    expect((await postJson(path, body, {}, env, { key: 'other' })).headers.get('X-Cache')).toBe('HIT');
  });

  it("a cached KServe answer carries its own request's id, and the cache entry carries none", async () => {
    const ref = inject('references').sentiment;
    const tensors = ref.inputs;
    const a = await postJson(
      '/v2/models/sentiment-en/infer',
      { id: `a-${crypto.randomUUID()}`, inputs: tensors },
      {},
      env,
      { key: 'other' },
    );
    expect(a.headers.get('X-Cache')).toBe('MISS');
    const aBody = await json<KserveAnswer>(a);
    // The answer that gets cached is onnxruntime-node's on the same model and tensors (the global setup's reference).
    const names = Object.keys(ref.outputs);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const want = ref.outputs[name];
      const got = aBody.outputs.find((o) => o.name === name);
      expect(got?.shape, name).toEqual(want?.dims);
      expect(got?.data).toHaveLength(want?.data.length ?? -1);
      want?.data.forEach((v, i) => expect(Math.abs((got?.data[i] ?? NaN) - v), name).toBeLessThanOrEqual(1e-5));
    }
    const b = await postJson('/v2/models/sentiment-en/infer', { id: 'b', inputs: tensors }, {}, env, { key: 'other' });
    expect(b.headers.get('X-Cache')).toBe('HIT');
    const bBody = await json<KserveAnswer>(b);
    expect(bBody.id).toBe('b');
    // The replay is the checked answer itself, only its id differing.
    expect(JSON.stringify(bBody.outputs)).toBe(JSON.stringify(aBody.outputs));
    const none = await postJson('/v2/models/sentiment-en/infer', { inputs: tensors }, {}, env, { key: 'other' });
    expect(none.headers.get('X-Cache')).toBe('HIT');
    expect(await json<Record<string, unknown>>(none)).not.toHaveProperty('id');
    // The answer was cached, so there is an entry to look into, and none holds the first request's id.
    const entries = await env.CACHE.list();
    expect(entries.keys.length).toBeGreaterThan(0);
    for (const k of entries.keys) expect((await env.CACHE.get(k.name)) ?? '').not.toContain(aBody.id ?? 'missing');
  });
});

describe('operations', () => {
  it('every answer has a request id, echoed when the client sends one', async () => {
    const made = await call('/v1/models');
    expect(made.headers.get('X-Request-Id')).toMatch(/^[0-9a-f-]{36}$/);
    const echoed = await call('/v1/models', { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(echoed.headers.get('X-Request-Id')).toBe('trace-abc-123');
    const onError = await call('/v1/models', { headers: { 'x-request-id': 'trace-err' } }, env, { key: null });
    expect(onError.status).toBe(401);
    expect(onError.headers.get('X-Request-Id')).toBe('trace-err');
  });

  it('CORS is off by default and answers for configured origins only', async () => {
    const preflight = {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    };
    const off = await call(PREDICT, preflight);
    expect(off.headers.get('Access-Control-Allow-Origin')).toBeNull();
    const configured: Env = { ...env, CORS_ORIGINS: 'https://app.example' };
    const on = await call(PREDICT, preflight, configured, { key: null });
    expect(on.status).toBe(204);
    expect(on.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example');
    expect(on.headers.get('Access-Control-Allow-Headers') ?? '').toMatch(/Authorization/i);
    const res = await postJson(PREDICT, { inputs: 'cors' }, { origin: 'https://app.example' }, configured);
    expect(res.headers.get('Access-Control-Allow-Origin')).toBe('https://app.example');
    expect(res.headers.get('Access-Control-Expose-Headers') ?? '').toMatch(/X-Cache/);
    const foreign = await postJson(PREDICT, { inputs: 'cors' }, { origin: 'https://evil.example' }, configured);
    expect(foreign.headers.get('Access-Control-Allow-Origin')).toBeNull();
  });
});

interface OpenApiDoc {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        security?: unknown[];
        responses: Record<
          string,
          { headers?: Record<string, unknown>; content?: Record<string, { schema?: unknown }> }
        >;
      }
    >
  >;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; scheme: string }> };
}

describe('the OpenAPI document', () => {
  it("lists every route of the app's own route table, with the error schema, headers and security", async () => {
    const doc = await json<OpenApiDoc>(await call('/openapi.json', {}, env, { key: null }));
    expect(doc.openapi).toBe('3.1.0');
    const handlers = app.routes.filter((r) => r.method !== 'ALL' && r.path !== '/openapi.json');
    expect(handlers.length).toBeGreaterThan(10);
    for (const r of handlers) {
      const path = r.path.replace(/:([A-Za-z_]+)/g, '{$1}');
      expect(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${path}`).toBeDefined();
    }
    expect(doc.components.securitySchemes['apiKey']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas).toHaveProperty('Error');
    const predict = doc.paths['/v1/models/{model}/predict']?.['post'];
    expect(predict?.security).toEqual([{ apiKey: [] }]);
    expect(Object.keys(predict?.responses['200']?.headers ?? {})).toEqual(
      expect.arrayContaining([
        'X-Cache',
        'X-Placement',
        'X-Model',
        'Server-Timing',
        'RateLimit-Limit',
        'RateLimit-Policy',
      ]),
    );
    expect(Object.keys(predict?.responses['429']?.headers ?? {})).toContain('Retry-After');
    expect(predict?.responses['422']?.content?.['application/json']?.schema).toEqual({
      $ref: '#/components/schemas/Error',
    });
    expect(Object.keys(predict?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '404', '413', '415', '422', '429', '503']),
    );
    expect(doc.paths['/v2/health/live']?.['get']?.security).toBeUndefined();
  });
});

describe('the typed client', () => {
  it('hc<AppType> calls the Worker through its real fetch entry, with typed inputs and answers', async () => {
    const client = hc<AppType>('http://edge.test', {
      fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(input, init),
      headers: { authorization: `Bearer ${secretOf('plain')}` },
    });
    // A held-out text whose onnxruntime-node probabilities the global setup computed: the independent reference.
    const ref = inject('references').sentiment;
    const text = ref.texts[0] ?? '';
    const probabilities = ref.outputs['probabilities'];
    const width = probabilities?.dims[1] ?? 0;
    const labels = sentimentLabels();
    expect(labels).toHaveLength(width);
    const expected = labels
      .map((label, j) => ({ label, score: probabilities?.data[j] ?? NaN }))
      .sort((x, y) => y.score - x.score);
    // The first answer (a MISS, its cache write awaited) against onnxruntime-node's probabilities.
    const direct = await postJson(PREDICT, { inputs: text }, {}, env, { key: 'plain' });
    expect(direct.status).toBe(200);
    expect(direct.headers.get('X-Cache')).toBe('MISS');
    const missText = await direct.text();
    const miss = JSON.parse(missText) as LabelScore[];
    expect(miss.map((o) => o.label)).toEqual(expected.map((e) => e.label));
    miss.forEach((o, i) => expect(Math.abs(o.score - (expected[i]?.score ?? NaN))).toBeLessThanOrEqual(1e-5));
    // The typed client through the Worker's real fetch entry, same key and input: the cached answer, byte for byte.
    const res = await client.v1.models[':model'].predict.$post({
      param: { model: 'sentiment-en' },
      json: { inputs: text },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Cache')).toBe('HIT');
    const hitText = await res.text();
    expect(hitText).toBe(missText);
    expect((JSON.parse(hitText) as LabelScore[])[0]?.label).toBe(expected[0]?.label);
    const list = await client.v1.models.$get();
    if (list.status !== 200) throw new Error(`catalogue answered ${list.status}`);
    const body = await list.json();
    expect(body.data.map((m) => m.id)).toContain('sentiment-en');
    const me = await recordOf('plain');
    expect(me.scopes.admin).toBe(false);
    const refused = await client.v1.keys.$get();
    expect(refused.status).toBe(403);
  });
});

describe('predictions keep their shape with keys', () => {
  it('a prediction answer names its key partition nowhere and keeps the Hugging Face shape', async () => {
    const res = await postJson(PREDICT, { inputs: 'shape check' }, { 'cache-control': 'no-store' });
    const out = await json<LabelScore[]>(res);
    expect(out.map((o) => o.label).sort()).toEqual(['negative', 'positive']);
    expect(JSON.stringify(out)).not.toContain('key_');
  });
});
