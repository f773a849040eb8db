/**
 * @module The origin as a real process on loopback: KServe v2 conformance (every endpoint, error shapes), auth,
 * limits, predict with the shared task code, answers equal to onnxruntime-node references, Prometheus metrics,
 * and dynamic batching under 32 concurrent requests.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnOrigin, waitReady, type SpawnedOrigin } from '../../origin/spawn.js';
import { sliceRows, type KserveTensor } from '../support/provided.js';
import { computeReferences, type References } from '../support/references.js';

let origin: SpawnedOrigin;
let refs: References['sentiment'];
const MAX_BODY = 4 * 1024 * 1024;

interface ErrorJson {
  error: { code: string; message: string };
}
interface InferJson {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
}
type LabelScore = { label: string; score: number };

function call(path: string, init: RequestInit = {}, secret: string | null = origin.secret): Promise<Response> {
  const headers = new Headers(init.headers);
  if (secret !== null) headers.set('authorization', `Bearer ${secret}`);
  return fetch(`${origin.url}${path}`, { ...init, headers });
}

function post(path: string, body: unknown, secret: string | null = origin.secret): Promise<Response> {
  return call(
    path,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    secret,
  );
}

async function expectError(res: Response, status: number, code: string, message?: RegExp): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await res.json()) as ErrorJson;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  if (message) expect(body.error.message).toMatch(message);
}

/**
 * Announces a body over the limit and sends only its first bytes, on a socket of its own: the origin must refuse on
 * the Content-Length alone (413 before reading), and no half-sent body can race the answer (EPIPE) or leave a
 * half-read connection in fetch's pool for the next test.
 */
function announceTooBig(path: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${origin.url}${path}`,
      {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': String(bytes),
          authorization: `Bearer ${origin.secret}`,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          resolve({ status: res.statusCode ?? 0, body: text });
          req.destroy();
        });
      },
    );
    req.on('error', reject);
    req.write('{"inputs": [');
  });
}

/** Row i of the reference request, as request tensors (indices + values). */
function rowOf(i: number): KserveTensor[] {
  return sliceRows(refs.inputs, i, 1);
}

function withInput(i: number, patch: Partial<KserveTensor>): KserveTensor[] {
  return refs.inputs.map((t, j) => (j === i ? { ...t, ...patch } : t));
}

async function runsSoFar(): Promise<number> {
  const text = await (await call('/metrics')).text();
  const m = /^origin_model_runs_total\{model="sentiment-en@[^"]+"\} (\d+)/m.exec(text);
  return Number(m?.[1] ?? 0);
}

beforeAll(async () => {
  [origin, refs] = await Promise.all([
    spawnOrigin({ env: { MAX_BODY_BYTES: String(MAX_BODY) } }),
    computeReferences().then((r) => r.sentiment),
  ]);
  await waitReady(origin);
});
afterAll(async () => {
  await origin.stop();
});

describe('KServe v2 endpoints', () => {
  it('server metadata names the execution provider (CPU here), liveness is open, readiness needs the secret', async () => {
    const meta = (await (await call('/v2')).json()) as {
      name: string;
      execution_provider: string;
      runtime: { engine: string; available_providers: string[]; intra_op_num_threads: number };
    };
    expect(meta.name).toBe('edge-inference-origin');
    expect(meta.execution_provider).toBe('cpu');
    expect(meta.runtime.engine).toBe('onnxruntime-node');
    expect(meta.runtime.available_providers).toContain('cpu');
    expect(meta.runtime.intra_op_num_threads).toBe(1);
    expect(await (await call('/v2/health/live', {}, null)).json()).toEqual({ live: true });
    expect(await (await call('/v2/health/ready')).json()).toEqual({ ready: true });
    await expectError(await call('/v2/health/ready', {}, null), 401, 'unauthorized');
  });

  it('model metadata and readiness, by default version and by explicit version', async () => {
    const meta = (await (await call('/v2/models/sentiment-en')).json()) as {
      name: string;
      versions: string[];
      platform: string;
      inputs: { name: string; datatype: string; shape: number[] }[];
    };
    expect(meta).toMatchObject({ name: 'sentiment-en', platform: 'onnxruntime_onnx' });
    expect(meta.inputs).toEqual([
      { name: 'indices', datatype: 'INT64', shape: [-1, -1] },
      { name: 'values', datatype: 'FP32', shape: [-1, -1] },
    ]);
    const version = meta.versions[0] ?? '';
    expect((await (await call(`/v2/models/sentiment-en/versions/${version}`)).json()) as object).toEqual(meta);
    expect(await (await call(`/v2/models/sentiment-en/versions/${version}/ready`)).json()).toMatchObject({
      name: 'sentiment-en',
      version,
      ready: true,
      execution_provider: 'cpu',
    });
    expect(await (await call('/v2/models/sentiment-en/ready')).json()).toMatchObject({ ready: true });
    await expectError(await call('/v2/models/nope'), 404, 'model_not_found');
    await expectError(await call('/v2/models/sentiment-en/versions/9.9.9'), 404, 'model_not_found');
    await expectError(await call('/v2/nothing-here'), 404, 'not_found');
  });

  it('infer equals onnxruntime-node on the same model and input within 1e-5, and echoes the id', async () => {
    const res = await post('/v2/models/sentiment-en/infer', { id: 'r-1', inputs: refs.inputs });
    expect(res.status).toBe(200);
    const body = (await res.json()) as InferJson;
    expect(body).toMatchObject({ model_name: 'sentiment-en', id: 'r-1' });
    for (const [name, expected] of Object.entries(refs.outputs)) {
      const got = body.outputs.find((o) => o.name === name);
      expect(got?.shape).toEqual(expected.dims);
      expect(got?.datatype).toBe('FP32');
      expected.data.forEach((v, i) => expect(Math.abs((got?.data[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-5));
    }
  });

  it.each([
    [
      'unknown input',
      () => ({ inputs: [{ name: 'nope', shape: [1, 1], datatype: 'FP32', data: [1] }] }),
      /no input 'nope'/,
    ],
    ['wrong shape', () => ({ inputs: withInput(1, { shape: [1, 2, 3], data: [1, 2, 3, 4, 5, 6] }) }), /does not fit/],
    ['wrong datatype', () => ({ inputs: withInput(0, { datatype: 'FP32' }) }), /takes INT64/],
    ['too few values', () => ({ inputs: withInput(1, { data: [1, 2] }) }), /needs \d+ values, got 2/],
    ['unknown output', () => ({ inputs: refs.inputs, outputs: [{ name: 'x' }] }), /no output 'x'/],
    [
      'indices past the table',
      () => ({ inputs: withInput(0, { data: refs.inputs[0]?.data.map(() => 1 << 30) }) }),
      /the model refused these tensors/,
    ],
  ])('infer refuses %s with 422 invalid_input', async (_what, body, message) => {
    await expectError(await post('/v2/models/sentiment-en/infer', body()), 422, 'invalid_input', message);
  });

  it('answers malformed JSON 400, other media types 415, bodies over the limit 413, all in the error shape', async () => {
    await expectError(
      await call('/v2/models/sentiment-en/infer', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"inputs": [',
      }),
      400,
      'invalid_json',
    );
    await expectError(
      await call('/v2/models/sentiment-en/infer', {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hi',
      }),
      415,
      'unsupported_media_type',
    );
    const tooBig = await announceTooBig('/v2/models/sentiment-en/infer', MAX_BODY + 1);
    expect(tooBig.status).toBe(413);
    expect((JSON.parse(tooBig.body) as ErrorJson).error.code).toBe('payload_too_large');
  });
});

describe('auth', () => {
  it.each([
    ['no header', null],
    ['a wrong secret', 'not-the-secret'],
  ])('refuses %s with 401 unauthorized on every protected route', async (_what, secret) => {
    for (const path of ['/v2', '/v2/health/ready', '/v2/models/sentiment-en', '/metrics'])
      await expectError(await call(path, {}, secret), 401, 'unauthorized');
    await expectError(await post('/v2/models/sentiment-en/infer', { inputs: [] }, secret), 401, 'unauthorized');
    await expectError(await post('/v1/models/sentiment-en/predict', { inputs: 'x' }, secret), 401, 'unauthorized');
  });
});

describe('predict (the edge task code on the origin)', () => {
  it('answers text-classification like the edge: labels sorted by score, list in → list out, id@version', async () => {
    const one = (await (
      await post('/v1/models/sentiment-en/predict', { inputs: 'I love this phone, it is wonderful.' })
    ).json()) as LabelScore[];
    expect(one[0]?.label).toBe('positive');
    expect(one.reduce((n, o) => n + o.score, 0)).toBeCloseTo(1, 5);
    const meta = (await (await call('/v2/models/sentiment-en')).json()) as { versions: string[] };
    const many = (await (
      await post(`/v1/models/sentiment-en@${meta.versions[0] ?? ''}/predict`, {
        inputs: ['Awful, it broke.', 'Great!'],
        parameters: { top_k: 1 },
      })
    ).json()) as LabelScore[][];
    expect(many.map((m) => m[0]?.label)).toEqual(['negative', 'positive']);
    const explained = (await (
      await post('/v1/models/sentiment-en/predict', { inputs: 'The food was awful.', parameters: { explain: true } })
    ).json()) as { attributions: { token: string }[] };
    expect(explained.attributions.map((a) => a.token)).toContain('awful');
    await expectError(await post('/v1/models/sentiment-en/predict', { inputs: 42 }), 422, 'invalid_input', /^inputs/);
    await expectError(
      await post('/v1/models/sentiment-en/predict', { inputs: 'x', parameters: { nope: 1 } }),
      422,
      'invalid_input',
      /parameters/,
    );
    await expectError(await post('/v1/models/missing/predict', { inputs: 'x' }), 404, 'model_not_found');
  });

  it('takes batches far over the edge limit (the reason it exists)', async () => {
    const texts = Array.from({ length: 200 }, (_, i) =>
      i % 2 === 0 ? `great product number ${i}` : `terrible product number ${i}`,
    );
    const res = await post('/v1/models/sentiment-en/predict', { inputs: texts, parameters: { top_k: 1 } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as LabelScore[][]).length).toBe(200);
  });
});

describe('dynamic batching', () => {
  it('32 concurrent infer requests take fewer than 32 model runs, and each gets its own right answer', async () => {
    const before = await runsSoFar();
    const singles = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        post('/v2/models/sentiment-en/infer', {
          id: `c-${i}`,
          inputs: rowOf(i % 4),
          outputs: [{ name: 'probabilities' }],
        }).then((r) => r.json() as Promise<InferJson>),
      ),
    );
    const runs = (await runsSoFar()) - before;
    expect(runs).toBeGreaterThan(0);
    expect(runs).toBeLessThan(32);
    const expected = refs.outputs['probabilities'];
    singles.forEach((body, i) => {
      expect(body.id).toBe(`c-${i}`);
      const got = body.outputs[0];
      expect(got?.shape).toEqual([1, 2]);
      const want = expected?.data.slice((i % 4) * 2, (i % 4) * 2 + 2) ?? [];
      // Weight-only int8 (no activation quantization) and zero padding keep each row's answer independent of the rows
      // it was batched with, so the batched answer equals the reference within float tolerance.
      want.forEach((v, k) => expect(Math.abs((got?.data[k] ?? NaN) - v)).toBeLessThanOrEqual(1e-5));
      expect((got?.data[0] ?? 0) > (got?.data[1] ?? 0)).toBe((want[0] ?? 0) > (want[1] ?? 0));
    });
  });

  it('32 concurrent predict requests share runs too, each answer in its own order', async () => {
    const texts = Array.from({ length: 32 }, (_, i) =>
      i % 2 === 0 ? `I really love it ${i}` : `I really hate it ${i}`,
    );
    const alone = await Promise.all(
      texts
        .slice(0, 2)
        .map(
          async (t) => (await (await post('/v1/models/sentiment-en/predict', { inputs: t })).json()) as LabelScore[],
        ),
    );
    const before = await runsSoFar();
    const answers = await Promise.all(
      texts.map(
        async (t) =>
          (await (await post('/v1/models/sentiment-en/predict', { inputs: [t, t] })).json()) as LabelScore[][],
      ),
    );
    expect((await runsSoFar()) - before).toBeLessThan(32);
    answers.forEach((a, i) => {
      expect(a).toHaveLength(2);
      expect(a[0]?.[0]?.label).toBe(i % 2 === 0 ? 'positive' : 'negative');
    });
    expect(answers[0]?.[0]?.[0]?.label).toBe(alone[0]?.[0]?.label);
  });

  it('exposes Prometheus metrics: requests, latency histograms, batch sizes, queue depth', async () => {
    const res = await call('/metrics');
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    for (const name of [
      'origin_http_requests_total',
      'origin_http_request_duration_seconds_bucket',
      'origin_batch_rows_bucket',
      'origin_batch_requests_bucket',
      'origin_queue_depth',
      'origin_model_runs_total',
      'origin_model_run_duration_seconds_bucket',
    ]) {
      expect(text).toContain(name);
    }
    // @hono/prometheus labels by the matched route pattern (bounded cardinality), not the URL.
    expect(text).toMatch(
      /origin_http_requests_total\{method="POST",route="\/v2\/models\/:model_name\/infer",status="200",ok="true"\} \d+/,
    );
    // Batches of more than one request were seen.
    expect(text).toMatch(/origin_batch_requests_bucket\{le="1",model="sentiment-en@[^"]+"\} (\d+)/);
    const count = /origin_batch_requests_count\{model="sentiment-en@[^"]+"\} (\d+)/.exec(text)?.[1];
    const single = /origin_batch_requests_bucket\{le="1",model="sentiment-en@[^"]+"\} (\d+)/.exec(text)?.[1];
    expect(Number(single)).toBeLessThan(Number(count));
  });
});

describe('a full queue', () => {
  it('answers 429 rate_limited with Retry-After beyond the queue size, and serves the rest', async () => {
    const small = await spawnOrigin({ env: { ORIGIN_MAX_QUEUE_SIZE: '3', ORIGIN_MAX_QUEUE_DELAY_MS: '400' } });
    try {
      await waitReady(small);
      const body = JSON.stringify({ inputs: rowOf(0) });
      const results = await Promise.all(
        Array.from({ length: 8 }, () =>
          fetch(`${small.url}/v2/models/sentiment-en/infer`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${small.secret}` },
            body,
          }),
        ),
      );
      const statuses = results.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 200)).toHaveLength(3);
      const refused = results.filter((r) => r.status === 429);
      expect(refused).toHaveLength(5);
      expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await refused[0]?.json()) as ErrorJson).error.code).toBe('rate_limited');
    } finally {
      await small.stop();
    }
  });
});
