/** @module The HTTP API inside workerd: predictions, KServe v2, the KV result cache, coalescing, limits and errors. */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runtimeInfo } from '../../src/runtime/ort.js';
import { ManifestSchema } from '../../src/lib/manifest.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { seedModels } from './seed.js';
import { sliceRows, type KserveTensor } from '../support/provided.js';

interface LabelScore {
  label: string;
  score: number;
}

const PREDICT = '/v1/models/sentiment-en/predict';

beforeAll(seedModels);

describe('catalogue', () => {
  it('lists sentiment-en with its measured metrics', async () => {
    const res = await call('/v1/models');
    expect(res.status).toBe(200);
    const body = await json<{
      object: string;
      data: { id: string; task: string; metrics: Record<string, unknown>; quantization: { type: string } }[];
    }>(res);
    expect(body.object).toBe('list');
    const card = body.data.find((d) => d.id === 'sentiment-en');
    // The reference is the manifest file the build wrote (read by the global setup), not the card itself.
    const built = inject('models').find((m) => m.id === 'sentiment-en');
    if (built === undefined) throw new Error('sentiment-en was not built');
    const manifest = ManifestSchema.parse(JSON.parse(built.manifestText));
    const accuracy = manifest.metrics['accuracy'];
    const latency = manifest.metrics['edge_latency_ms_p50'];
    expect(typeof accuracy).toBe('number');
    expect(typeof latency).toBe('number');
    expect(card?.task).toBe(manifest.task);
    expect(card?.quantization.type).toBe(manifest.quantization.type);
    expect(card?.metrics).toEqual(manifest.metrics);
    // The headline figures are lifted to the card's top level, with the manifest's values.
    expect(card).toMatchObject({ accuracy, edge_latency_ms_p50: latency });
  });

  it('filters by task: exactly the built models of that task, and 422 for a task that does not exist', async () => {
    const want = inject('models')
      .map((m) => ManifestSchema.parse(JSON.parse(m.manifestText)))
      .filter((m) => m.task === 'text-classification')
      .map((m) => m.id)
      .sort();
    expect(want.length).toBeGreaterThan(1);
    const res = await call('/v1/models?task=text-classification');
    expect(res.status).toBe(200);
    const body = await json<{ data: { id: string; task: string }[] }>(res);
    expect(body.data.map((d) => d.id).sort()).toEqual(want);
    const all = await json<{ data: { task: string }[] }>(await call('/v1/models'));
    expect(all.data.some((d) => d.task !== 'text-classification')).toBe(true);
    const bad = await call('/v1/models?task=astrology');
    expect(bad.status).toBe(422);
    expect((await json<ErrorJson>(bad)).error.message).toContain('task');
  });
});

describe('text-classification predictions', () => {
  it('answers a string with labels sorted by score that sum to 1, and the prediction headers', async () => {
    const res = await postJson(
      PREDICT,
      { inputs: 'This is the best phone I have ever owned, I love it.' },
      { 'cache-control': 'no-store' },
    );
    expect(res.status).toBe(200);
    const out = await json<LabelScore[]>(res);
    expect(out.map((o) => o.label).sort()).toEqual(['negative', 'positive']);
    expect(out[0]?.label).toBe('positive');
    expect((out[0]?.score ?? 0) >= (out[1]?.score ?? 1)).toBe(true);
    expect(out.reduce((n, o) => n + o.score, 0)).toBeCloseTo(1, 5);
    expect(res.headers.get('X-Placement')).toBe('edge');
    expect(res.headers.get('X-Model')).toMatch(/^sentiment-en@/);
    expect(res.headers.get('Server-Timing')).toMatch(/inference;dur=/);
  });

  it('answers a list with a list, and honours top_k', async () => {
    const res = await postJson(PREDICT, {
      inputs: ['Terrible, it broke after a day.', 'Works great!'],
      parameters: { top_k: 1 },
    });
    const out = await json<LabelScore[][]>(res);
    expect(out).toHaveLength(2);
    expect(out.map((o) => o.length)).toEqual([1, 1]);
    expect(out.map((o) => o[0]?.label)).toEqual(['negative', 'positive']);
  });

  it('explains with per-token occlusion attributions', async () => {
    const res = await postJson(PREDICT, {
      inputs: 'The food was awful and the service was slow.',
      parameters: { explain: true },
    });
    const out = await json<{ labels: LabelScore[]; attributions: { token: string; weight: number }[] }>(res);
    expect(out.labels[0]?.label).toBe('negative');
    const tokens = out.attributions.map((a) => a.token);
    expect(tokens).toContain('awful');
    const awful = out.attributions.find((a) => a.token === 'awful');
    const the = out.attributions.find((a) => a.token === 'the');
    expect(awful?.weight ?? 0).toBeGreaterThan(Math.abs(the?.weight ?? 0));
  });

  it('reaches ≥ 0.80 accuracy on the build’s held-out split with the served int8 model', async () => {
    const heldout = inject('references').sentiment.heldout;
    expect(heldout.length).toBeGreaterThan(500);
    let correct = 0;
    for (let i = 0; i < heldout.length; i += 64) {
      const batch = heldout.slice(i, i + 64);
      const res = await postJson(
        PREDICT,
        { inputs: batch.map((e) => e.text), parameters: { top_k: 1 } },
        { 'cache-control': 'no-store' },
      );
      expect(res.status).toBe(200);
      const out = await json<LabelScore[][]>(res);
      out.forEach((o, j) => {
        if (o[0]?.label === batch[j]?.label) correct++;
      });
    }
    expect(correct / heldout.length).toBeGreaterThanOrEqual(0.8);
  });
});

describe('KServe v2', () => {
  it('answers health, server and model metadata, and readiness', async () => {
    expect(await json(await call('/v2/health/live'))).toEqual({ live: true });
    expect(await json(await call('/v2/health/ready'))).toEqual({ ready: true });
    const meta = await json<{
      name: string;
      platform: string;
      inputs: { name: string; datatype: string; shape: number[] }[];
    }>(await call('/v2/models/sentiment-en'));
    expect(meta.name).toBe('sentiment-en');
    expect(meta.platform).toBe('onnxruntime_onnx');
    expect(meta.inputs).toEqual([
      { name: 'indices', datatype: 'INT64', shape: [-1, -1] },
      { name: 'values', datatype: 'FP32', shape: [-1, -1] },
    ]);
    expect(await json(await call('/v2/models/sentiment-en/ready'))).toMatchObject({
      name: 'sentiment-en',
      ready: true,
    });
  });

  it('infer matches onnxruntime-node on the same model and input within 1e-5', async () => {
    const ref = inject('references').sentiment;
    const res = await postJson('/v2/models/sentiment-en/infer', {
      id: 'req-1',
      inputs: ref.inputs,
    });
    expect(res.status).toBe(200);
    const body = await json<{
      model_name: string;
      id: string;
      outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
    }>(res);
    expect(body.model_name).toBe('sentiment-en');
    expect(body.id).toBe('req-1');
    for (const [name, expected] of Object.entries(ref.outputs)) {
      const got = body.outputs.find((o) => o.name === name);
      expect(got?.shape).toEqual(expected.dims);
      expect(got?.datatype).toBe('FP32');
      expected.data.forEach((v, i) => expect(Math.abs((got?.data[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-5));
    }
  });

  it('selects outputs and accepts nested row-major data', async () => {
    const ref = inject('references').sentiment;
    const two = sliceRows(ref.inputs, 0, 2).map((t) => {
      const d = t.shape[1] ?? 0;
      return { ...t, data: [t.data.slice(0, d), t.data.slice(d, 2 * d)] };
    });
    const res = await postJson('/v2/models/sentiment-en/infer', { inputs: two, outputs: [{ name: 'probabilities' }] });
    const body = await json<{ outputs: { name: string; shape: number[]; data: number[] }[] }>(res);
    expect(body.outputs.map((o) => o.name)).toEqual(['probabilities']);
    expect(body.outputs[0]?.shape).toEqual([2, 2]);
    const expected = ref.outputs['probabilities']?.data.slice(0, 4) ?? [];
    expected.forEach((v, i) => expect(Math.abs((body.outputs[0]?.data[i] ?? NaN) - v)).toBeLessThanOrEqual(1e-5));
  });

  // The reference request's tensors, from the build (so the cases follow the recipe's input contract).
  const good = (): KserveTensor[] => inject('references').sentiment.inputs;
  const withInput = (i: number, patch: Partial<KserveTensor>): KserveTensor[] =>
    good().map((t, j) => (j === i ? { ...t, ...patch } : t));
  it.each([
    [() => ({ inputs: [{ name: 'nope', shape: [1, 1], datatype: 'FP32', data: [1] }] }), /no input 'nope'/],
    [() => ({ inputs: withInput(1, { shape: [1, 2, 3], data: [1, 2, 3, 4, 5, 6] }) }), /does not fit/],
    [() => ({ inputs: withInput(0, { datatype: 'FP32' }) }), /takes INT64/],
    [() => ({ inputs: withInput(1, { data: [1, 2] }) }), /needs \d+ values, got 2/],
    [() => ({ inputs: [] }), /inputs/],
    [() => ({ inputs: good().slice(0, 1) }), /input 'values' is missing/],
    [() => ({ inputs: good(), outputs: [{ name: 'nope' }] }), /no output 'nope'/],
    [
      () => ({ inputs: withInput(1, { data: good()[1]?.data.map(() => 'x') as unknown as number[] }) }),
      /inputs\[1\]\.data\[0\]: must be a finite number/,
    ],
    [
      () => ({ inputs: withInput(0, { data: good()[0]?.data.map(() => 1.5) }) }),
      /inputs\[0\]\.data\[0\]: must be an integer/,
    ],
    // Indices past the model's table: ORT refuses the run, and the client hears why (422, not a 500).
    [() => ({ inputs: withInput(0, { data: good()[0]?.data.map(() => 1 << 30) }) }), /the model refused these tensors/],
  ])('refuses a bad tensor request with 422 naming the problem (%#)', async (body, message) => {
    const res = await postJson('/v2/models/sentiment-en/infer', body());
    expect(res.status).toBe(422);
    const err = await json<ErrorJson>(res);
    expect(err.error.code).toBe('invalid_input');
    expect(err.error.message).toMatch(message);
  });
});

describe('KV result cache', () => {
  it('MISS then HIT for the same body, BYPASS with no-store both ways, and a new key for other parameters', async () => {
    const body = { inputs: `cache probe ${crypto.randomUUID()} lovely` };
    const bypass = await postJson(PREDICT, body, { 'cache-control': 'no-store' });
    expect(bypass.headers.get('X-Cache')).toBe('BYPASS');
    const first = await postJson(PREDICT, body);
    expect(first.headers.get('X-Cache')).toBe('MISS'); // the bypass did not write
    const second = await postJson(PREDICT, body);
    expect(second.headers.get('X-Cache')).toBe('HIT');
    expect(await second.json()).toEqual(await first.json());
    const bypassAfter = await postJson(PREDICT, body, { 'cache-control': 'no-store' });
    expect(bypassAfter.headers.get('X-Cache')).toBe('BYPASS'); // and it did not read
    const other = await postJson(PREDICT, { ...body, parameters: { top_k: 1 } });
    expect(other.headers.get('X-Cache')).toBe('MISS');
  });

  it('never stores the raw input in the key', async () => {
    const secret = `secret-${crypto.randomUUID()}`;
    await postJson(PREDICT, { inputs: secret });
    const keys = await env.CACHE.list();
    expect(keys.keys.length).toBeGreaterThan(0);
    for (const k of keys.keys) {
      expect(k.name).toMatch(/^result:v2:[0-9a-f]{64}$/);
      expect(k.name).not.toContain(secret);
    }
  });

  it('still answers 200 when KV throws on read and write', async () => {
    const broken = {
      get: () => Promise.reject(new Error('KV down')),
      put: () => Promise.reject(new Error('KV down')),
    } as unknown as KVNamespace;
    const res = await postJson(PREDICT, { inputs: 'kv outage but still fine' }, {}, { ...env, CACHE: broken });
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Cache')).toBe('MISS');
    expect((await json<LabelScore[]>(res)).length).toBe(2);
  });

  it('coalesces 20 identical concurrent requests into exactly one run', async () => {
    const body = { inputs: `coalesce ${crypto.randomUUID()} wonderful` };
    await postJson(PREDICT, { inputs: 'warm the session' }, { 'cache-control': 'no-store' });
    const before = runtimeInfo().runs;
    const responses = await Promise.all(Array.from({ length: 20 }, () => postJson(PREDICT, body)));
    expect(runtimeInfo().runs - before).toBe(1);
    const bodies = await Promise.all(responses.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
    expect(responses.every((r) => r.status === 200)).toBe(true);
  });
});

describe('limits and errors', () => {
  const cases: [string, () => Promise<Response>, number, string, RegExp?][] = [
    [
      'malformed JSON',
      () => call(PREDICT, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"inputs": ' }),
      400,
      'invalid_json',
    ],
    ['a body over the limit', () => postJson(PREDICT, { inputs: 'x'.repeat(1_100_000) }), 413, 'payload_too_large'],
    [
      'too many strings',
      () => postJson(PREDICT, { inputs: Array.from({ length: 65 }, () => 'ok') }),
      422,
      'invalid_input',
      /at most 64/,
    ],
    [
      'a string too long',
      () => postJson(PREDICT, { inputs: ['ok', 'y'.repeat(2001)] }),
      422,
      'invalid_input',
      /inputs\[1\]/,
    ],
    ['inputs of the wrong type', () => postJson(PREDICT, { inputs: 42 }), 422, 'invalid_input', /^inputs/],
    ['a list with a non-string', () => postJson(PREDICT, { inputs: ['ok', 7] }), 422, 'invalid_input', /inputs\[1\]/],
    [
      'a bad parameter',
      () => postJson(PREDICT, { inputs: 'ok', parameters: { top_k: 'two' } }),
      422,
      'invalid_input',
      /parameters\.top_k/,
    ],
    [
      'an unknown parameter',
      () => postJson(PREDICT, { inputs: 'ok', parameters: { temperature: 2 } }),
      422,
      'invalid_input',
      /parameters/,
    ],
    ['missing inputs', () => postJson(PREDICT, { text: 'ok' }), 422, 'invalid_input', /inputs/],
    ['an empty list', () => postJson(PREDICT, { inputs: [] }), 422, 'invalid_input', /inputs/],
    ['a JSON array body', () => postJson(PREDICT, ['ok']), 422, 'invalid_input'],
    ['an unknown model', () => postJson('/v1/models/no-such-model/predict', { inputs: 'ok' }), 404, 'model_not_found'],
    ['a bad model reference', () => call('/v1/models/Bad..Name'), 404, 'model_not_found'],
    ['an unknown route', () => call('/v1/nothing-here'), 404, 'not_found'],
    [
      'text/plain',
      () => call(PREDICT, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' }),
      415,
      'unsupported_media_type',
    ],
    [
      'an image for a text model',
      () =>
        call(PREDICT, {
          method: 'POST',
          headers: { 'content-type': 'image/png' },
          body: new Uint8Array([137, 80, 78, 71]),
        }),
      415,
      'unsupported_media_type',
    ],
  ];
  it.each(cases)('%s → %i %s', async (_name, send, status, code, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(5);
    expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|Error:/);
    if (message) expect(body.error.message).toMatch(message);
  });
});
