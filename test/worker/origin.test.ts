/**
 * @module Edge → origin inside workerd, against the real origin process the global setup started on loopback:
 * placement by edge limits and hints, equal answers on both sides, the KV cache over origin answers, fallback to
 * the edge, 503 `origin_unavailable` when the edge may not help, a breaker that fails fast, and the same origin
 * reached through a real miniflare Service Binding instead of a URL.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { r2Keys } from '../../src/lib/manifest.js';
import { json, postJson, type ErrorJson } from './client.js';
import { base64Bytes, seedModels } from './seed.js';
import { sliceRows } from '../support/provided.js';

interface LabelScore {
  label: string;
  score: number;
}
interface InferJson {
  outputs: { name: string; shape: number[]; data: number[] }[];
}

const origin = inject('origin');
/** Bindings with a live origin (wrangler vars + the secret `wrangler secret put` would provide). */
const live = { ...env, ORIGIN_URL: origin.url, ORIGIN_SECRET: origin.secret } as Env;
/** Nothing listens on port 1: connections are refused at once, like an origin that is down. */
const dead = (extra: Record<string, string> = {}): Env =>
  ({ ...env, ORIGIN_URL: 'http://127.0.0.1:1', ORIGIN_SECRET: 'x', ...extra }) as Env;

const PREDICT = '/v1/models/sentiment-en/predict';
const texts = (n: number, tag: string): string[] =>
  Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `${tag} I love it, superb ${i}` : `${tag} awful and broken ${i}`));

beforeAll(async () => {
  await seedModels();
  // A copy of sentiment-en that only the origin may serve (placement: origin), for the no-fallback path.
  const m = inject('models').find((x) => x.id === 'sentiment-en');
  if (m === undefined) throw new Error('sentiment-en was not built');
  const manifest = {
    ...(JSON.parse(m.manifestText) as Record<string, unknown>),
    id: 'sentiment-origin-only',
    placement: 'origin',
  };
  for (const [name, b64] of Object.entries(m.files))
    await env.MODELS.put(r2Keys.file('sentiment-origin-only', m.version, name), base64Bytes(b64));
  await env.MODELS.put(r2Keys.manifest('sentiment-origin-only', m.version), JSON.stringify(manifest));
  await env.MODELS.put(r2Keys.latest('sentiment-origin-only'), m.version);
  // The origin's extra version with a small edge max_batch, beside the default one (no `latest` change).
  const tight = origin.tight;
  for (const [name, b64] of Object.entries(m.files))
    await env.MODELS.put(r2Keys.file(tight.id, tight.version, name), base64Bytes(b64));
  await env.MODELS.put(r2Keys.manifest(tight.id, tight.version), tight.manifestText);
});

describe('placement: auto by the edge limits (sentiment-en: max_batch 16)', () => {
  it('a batch under the limit stays on the edge', async () => {
    const res = await postJson(PREDICT, { inputs: texts(4, 'under') }, { 'cache-control': 'no-store' }, live);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Placement')).toBe('edge');
    expect(res.headers.get('X-Placement-Reason')).toBe('within the edge limits');
  });

  it('a batch over the limit lands on the origin, says why, and its answer goes through the KV cache', async () => {
    const body = { inputs: texts(20, `over ${crypto.randomUUID()}`), parameters: { top_k: 1 } };
    const res = await postJson(PREDICT, body, {}, live);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Placement')).toBe('origin');
    expect(res.headers.get('X-Placement-Reason')).toBe('over the edge limits (batch 20 > max_batch 16)');
    expect(res.headers.get('X-Cache')).toBe('MISS');
    expect(res.headers.get('Server-Timing')).toMatch(/origin;dur=/);
    const out = await json<LabelScore[][]>(res);
    expect(out).toHaveLength(20);
    expect(out.map((o) => o[0]?.label)).toEqual(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'positive' : 'negative')),
    );
    const again = await postJson(PREDICT, body, {}, live);
    expect(again.headers.get('X-Cache')).toBe('HIT');
    expect(again.headers.get('X-Placement')).toBe('origin');
    expect(await json<LabelScore[][]>(again)).toEqual(out);
  });

  it('infer over the edge max_batch goes to the origin instead of a 422', async () => {
    // The setup's extra version of sentiment-en has edge max_batch 2, so 3 rows are over it (see test/origin-setup.ts).
    const ref = inject('references').sentiment;
    const { id, version } = origin.tight;
    const body = { inputs: sliceRows(ref.inputs, 0, 3), outputs: [{ name: 'probabilities' }] };
    const res = await postJson(
      `/v2/models/${id}/versions/${version}/infer`,
      body,
      { 'cache-control': 'no-store' },
      live,
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Placement')).toBe('origin');
    expect(res.headers.get('X-Placement-Reason')).toBe('over the edge limits (batch 3 > max_batch 2)');
    expect((await json<InferJson>(res)).outputs[0]?.shape).toEqual([3, 2]);
    const small = await postJson(
      `/v2/models/${id}/versions/${version}/infer`,
      { ...body, inputs: sliceRows(ref.inputs, 0, 2) },
      { 'cache-control': 'no-store' },
      live,
    );
    expect(small.headers.get('X-Placement')).toBe('edge');
  });
});

describe('the same request on both sides', () => {
  it('infer answers equal within 1e-5 on the edge (onnxruntime-web) and on the origin (onnxruntime-node)', async () => {
    const ref = inject('references').sentiment;
    const body = { inputs: ref.inputs };
    const edge = await postJson(
      '/v2/models/sentiment-en/infer',
      body,
      { 'cache-control': 'no-store', 'x-placement': 'edge' },
      live,
    );
    const remote = await postJson(
      '/v2/models/sentiment-en/infer',
      body,
      { 'cache-control': 'no-store', 'x-placement': 'origin' },
      live,
    );
    expect(edge.headers.get('X-Placement')).toBe('edge');
    expect(remote.headers.get('X-Placement')).toBe('origin');
    expect(remote.headers.get('X-Placement-Reason')).toBe('hint honoured');
    const a = await json<InferJson>(edge);
    const b = await json<InferJson>(remote);
    expect(b.outputs.map((o) => o.name)).toEqual(a.outputs.map((o) => o.name));
    a.outputs.forEach((o, k) => {
      expect(b.outputs[k]?.shape).toEqual(o.shape);
      o.data.forEach((v, i) => expect(Math.abs((b.outputs[k]?.data[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-5));
    });
  });

  it('predict answers equal within 1e-5 on both sides', async () => {
    const body = { inputs: texts(3, 'same') };
    const edgeRes = await postJson(PREDICT, body, { 'cache-control': 'no-store' }, live);
    const remoteRes = await postJson(PREDICT, body, { 'cache-control': 'no-store', 'x-placement': 'origin' }, live);
    // Without these, a failed origin call would fall back to the edge and the test would compare the edge with itself.
    expect(edgeRes.headers.get('X-Placement')).toBe('edge');
    expect(remoteRes.headers.get('X-Placement')).toBe('origin');
    const edge = await json<LabelScore[][]>(edgeRes);
    const remote = await json<LabelScore[][]>(remoteRes);
    expect(remote).toHaveLength(edge.length);
    edge.forEach((row, i) =>
      row.forEach((ls, j) => {
        expect(remote[i]?.[j]?.label).toBe(ls.label);
        expect(Math.abs((remote[i]?.[j]?.score ?? NaN) - ls.score)).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it('refuses an edge hint for a request over the edge limits, with the reason', async () => {
    const res = await postJson(
      PREDICT,
      { inputs: texts(17, 'hint') },
      { 'cache-control': 'no-store', 'x-placement': 'edge' },
      live,
    );
    expect(res.headers.get('X-Placement')).toBe('origin');
    expect(res.headers.get('X-Placement-Reason')).toBe('hint refused: over the edge limits (batch 17 > max_batch 16)');
  });
});

describe('origin down', () => {
  it('falls back to the edge for a request the edge may run', async () => {
    const res = await postJson(PREDICT, { inputs: texts(20, 'fallback') }, { 'cache-control': 'no-store' }, dead());
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Placement')).toBe('edge-fallback');
    expect(res.headers.get('X-Placement-Reason')).toMatch(
      /origin unavailable \((network|breaker_open)\), ran at the edge$/,
    );
    expect(await json<unknown[]>(res)).toHaveLength(20);
  });

  it('answers 503 origin_unavailable with Retry-After when only the origin may serve the model', async () => {
    const res = await postJson(
      '/v1/models/sentiment-origin-only/predict',
      { inputs: 'hello' },
      { 'cache-control': 'no-store' },
      dead({ ORIGIN_BREAKER_FAILURES: '50' }),
    );
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    expect((await json<ErrorJson>(res)).error.code).toBe('origin_unavailable');
  });

  it('opens the breaker after N failures, then fails fast without trying the origin', async () => {
    const bindings = dead({ ORIGIN_BREAKER_FAILURES: '2', ORIGIN_BREAKER_COOLDOWN_MS: '60000' });
    const path = '/v1/models/sentiment-origin-only/predict';
    for (let i = 0; i < 2; i++)
      expect((await postJson(path, { inputs: `b${i}` }, { 'cache-control': 'no-store' }, bindings)).status).toBe(503);
    const res = await postJson(path, { inputs: 'b-open' }, { 'cache-control': 'no-store' }, bindings);
    expect(res.status).toBe(503);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/circuit open/);
    expect(Number(res.headers.get('Retry-After'))).toBeGreaterThan(30);
  });
});

describe('through a Service Binding', () => {
  it('reaches the origin over a real miniflare service binding (no URL), with the same answer as the edge', async () => {
    // ORIGIN_URL is empty: the binding is the only way to the origin. Its base URL only forms the request.
    const binding = (env as Env & { ORIGIN_SERVICE_TEST: Fetcher }).ORIGIN_SERVICE_TEST;
    const bound = { ...env, ORIGIN_URL: '', ORIGIN_SECRET: origin.secret, ORIGIN: binding } as Env;
    const body = { inputs: texts(3, 'bound') };
    const remote = await postJson(PREDICT, body, { 'cache-control': 'no-store', 'x-placement': 'origin' }, bound);
    expect(remote.status).toBe(200);
    expect(remote.headers.get('X-Placement')).toBe('origin');
    expect(remote.headers.get('Server-Timing')).toMatch(/origin;dur=/);
    const edge = await postJson(PREDICT, body, { 'cache-control': 'no-store' }, bound);
    expect(edge.headers.get('X-Placement')).toBe('edge');
    const [a, b] = [await json<LabelScore[][]>(edge), await json<LabelScore[][]>(remote)];
    expect(b).toHaveLength(3);
    a.forEach((row, i) =>
      row.forEach((ls, j) => {
        expect(b[i]?.[j]?.label).toBe(ls.label);
        expect(Math.abs((b[i]?.[j]?.score ?? NaN) - ls.score)).toBeLessThanOrEqual(1e-5);
      }),
    );
  });
});

describe('one HTTP layer for the edge and the origin', () => {
  /** The origin called directly, as a KServe client or the edge would. */
  const direct = (path: string, body: unknown): Promise<Response> =>
    fetch(`${origin.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${origin.secret}` },
      body: JSON.stringify(body),
    });
  const SHARED_HEADERS = [
    'content-type',
    'x-request-id',
    'x-model',
    'x-cache',
    'x-placement',
    'x-placement-reason',
    'server-timing',
  ];

  it('answers the same predict request with the same shape and headers, values within 1e-5', async () => {
    const body = { inputs: texts(2, 'layer'), parameters: { top_k: 2 } };
    const edge = await postJson(PREDICT, body, { 'cache-control': 'no-store' }, live);
    const remote = await direct('/v1/models/sentiment-en/predict', body);
    expect(edge.headers.get('X-Placement')).toBe('edge');
    expect(remote.status).toBe(200);
    for (const h of SHARED_HEADERS) {
      expect(edge.headers.get(h), `edge ${h}`).not.toBeNull();
      expect(remote.headers.get(h), `origin ${h}`).not.toBeNull();
    }
    expect(remote.headers.get('x-model')).toBe(edge.headers.get('x-model'));
    const [a, b] = [await json<LabelScore[][]>(edge), await json<LabelScore[][]>(remote)];
    expect(b.map((r) => r.map((x) => Object.keys(x).sort()))).toEqual(
      a.map((r) => r.map((x) => Object.keys(x).sort())),
    );
    a.forEach((row, i) =>
      row.forEach((ls, j) => {
        expect(b[i]?.[j]?.label).toBe(ls.label);
        expect(Math.abs((b[i]?.[j]?.score ?? NaN) - ls.score)).toBeLessThanOrEqual(1e-5);
      }),
    );
  });

  it('answers the same infer request with the same shape and headers, and the same errors', async () => {
    const ref = inject('references').sentiment;
    const body = { id: 'same-layer', inputs: ref.inputs };
    const edge = await postJson(
      '/v2/models/sentiment-en/infer',
      body,
      { 'cache-control': 'no-store', 'x-placement': 'edge' },
      live,
    );
    const remote = await direct('/v2/models/sentiment-en/infer', body);
    for (const h of SHARED_HEADERS) expect(remote.headers.get(h), `origin ${h}`).not.toBeNull();
    const [a, b] = [await json<InferJson & { id?: string }>(edge), await json<InferJson & { id?: string }>(remote)];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    expect(b.id).toBe('same-layer');
    a.outputs.forEach((o, k) => {
      expect(b.outputs[k]?.shape).toEqual(o.shape);
      o.data.forEach((v, i) => expect(Math.abs((b.outputs[k]?.data[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-5));
    });
    // A bad request is refused in the same words by both.
    const bad = { inputs: [{ name: 'nope', shape: [1, 1], datatype: 'FP32', data: [1] }] };
    const e1 = await postJson('/v2/models/sentiment-en/infer', bad, {}, live);
    const e2 = await direct('/v2/models/sentiment-en/infer', bad);
    expect([e1.status, e2.status]).toEqual([422, 422]);
    expect(await e2.json()).toEqual(await e1.json());
  });
});
