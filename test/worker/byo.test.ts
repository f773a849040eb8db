/**
 * @module Bring your own model inside workerd: tiny-bert as the publish CLI prepared it, seeded into R2, served through
 * `/v1/models`, `/v2/models/{id}/infer`, the feature-extraction task and `POST /v1/embeddings`, and compared with
 * onnxruntime-node + the same tokenizer + mean pooling computed in Node.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { r2Keys } from '../../src/lib/manifest.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes, seedModels } from './seed.js';

const byo = inject('byo');
const ID = byo.model.id;
/** Float32 inference in WASM vs native, pooled: well within this. */
const TOLERANCE = 1e-4;

interface EmbeddingsResponse {
  object: string;
  data: { object: string; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

beforeAll(async () => {
  await seedModels();
  const m = byo.model;
  for (const [name, b64] of Object.entries(m.files))
    await env.MODELS.put(r2Keys.file(m.id, m.version, name), base64Bytes(b64));
  await env.MODELS.put(r2Keys.manifest(m.id, m.version), m.manifestText);
  await env.MODELS.put(r2Keys.latest(m.id), m.version);
});

function expectClose(actual: number[], expected: number[]): void {
  // A missing reference must fail, not pass as two empty arrays.
  expect(expected.length).toBeGreaterThan(0);
  expect(actual).toHaveLength(expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - (expected[i] ?? NaN))));
  expect(worst).toBeLessThan(TOLERANCE);
}

function decodeBase64Floats(b64: string): number[] {
  const bytes = base64Bytes(b64);
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

describe('a published model', () => {
  it('appears in /v1/models with the I/O read from the model and its files', async () => {
    const list = await json<{
      data: {
        id: string;
        task: string;
        inputs: { name: string; dtype: string }[];
        source: { kind: string };
        size_bytes: number;
      }[];
    }>(await call('/v1/models'));
    const card = list.data.find((d) => d.id === ID);
    expect(card?.task).toBe('feature-extraction');
    expect(card?.source.kind).toBe('published');
    expect(card?.inputs.map((i) => `${i.name}:${i.dtype}`)).toEqual([
      'input_ids:int64',
      'attention_mask:int64',
      'token_type_ids:int64',
    ]);
    expect(card?.size_bytes).toBe(
      Object.values(byo.model.files).reduce((n, b64) => n + base64Bytes(b64).byteLength, 0),
    );
  });

  it('answers /v2/models/{id}/infer with raw tensors', async () => {
    const ids = [2, 10, 11, 3];
    const tensor = (name: string, data: number[]) => ({ name, shape: [1, 4], datatype: 'INT64', data });
    const res = await postJson(`/v2/models/${ID}/infer`, {
      inputs: [
        tensor('input_ids', ids),
        tensor('attention_mask', [1, 1, 1, 1]),
        tensor('token_type_ids', [0, 0, 0, 0]),
      ],
    });
    expect(res.status).toBe(200);
    const body = await json<{
      model_name: string;
      outputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
    }>(res);
    expect(body.model_name).toBe(ID);
    expect(body.outputs[0]).toMatchObject({ name: 'last_hidden_state', shape: [1, 4, 32], datatype: 'FP32' });
  });
});

describe('feature-extraction', () => {
  it('matches onnxruntime-node + the same tokenizer + mean pooling (batched with padding), normalised by default', async () => {
    const res = await postJson(`/v1/models/${ID}/predict`, { inputs: byo.texts });
    expect(res.status).toBe(200);
    const out = await json<number[][]>(res);
    out.forEach((v, i) => {
      expectClose(v, byo.normalized[i] ?? []);
      expect(Math.hypot(...v)).toBeCloseTo(1, 5);
    });
  });

  it('answers a string with one vector, unnormalised on request', async () => {
    const res = await postJson(`/v1/models/${ID}/predict`, { inputs: byo.texts[0], parameters: { normalize: false } });
    expectClose(await json<number[]>(res), byo.pooled[0] ?? []);
  });

  it('truncates a text longer than the model positions instead of failing', async () => {
    const res = await postJson(`/v1/models/${ID}/predict`, { inputs: 'good '.repeat(300) });
    expect(res.status).toBe(200);
    expect(await json<number[]>(res)).toHaveLength(32);
  });

  it('422 for bad inputs and parameters', async () => {
    for (const body of [
      { inputs: 42 },
      { inputs: [''] },
      { inputs: 'x', parameters: { normalize: 'yes' } },
      { inputs: 'x', parameters: { pooling: 'max' } },
    ]) {
      const res = await postJson(`/v1/models/${ID}/predict`, body);
      expect(res.status).toBe(422);
    }
  });
});

describe('POST /v1/embeddings', () => {
  it('answers in the OpenAI format, floats, with usage', async () => {
    const res = await postJson('/v1/embeddings', { model: ID, input: byo.texts });
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Model')).toBe(`${ID}@${byo.model.version}`);
    const body = await json<EmbeddingsResponse>(res);
    expect(body.object).toBe('list');
    expect(body.model).toBe(ID);
    expect(body.data.map((d) => [d.object, d.index])).toEqual(byo.texts.map((_, i) => ['embedding', i]));
    body.data.forEach((d, i) => expectClose(d.embedding as number[], byo.normalized[i] ?? []));
    const tokens = byo.tokens.reduce((a, b) => a + b, 0);
    expect(body.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
  });

  it('encodes base64 as little-endian float32, and takes a single string', async () => {
    const res = await postJson('/v1/embeddings', {
      model: `${ID}@${byo.model.version}`,
      input: byo.texts[1],
      encoding_format: 'base64',
      dimensions: 32,
    });
    expect(res.status).toBe(200);
    const body = await json<EmbeddingsResponse>(res);
    expect(body.data).toHaveLength(1);
    expectClose(decodeBase64Floats(body.data[0]?.embedding as string), byo.normalized[1] ?? []);
  });

  it('refuses what it does not support with 422, unknown models with 404', async () => {
    const cases: [unknown, number, RegExp][] = [
      [{ model: ID, input: 'x', dimensions: 8 }, 422, /dimensions/],
      [{ model: ID, input: 'x', encoding_format: 'int8' }, 422, /encoding_format/],
      [{ model: ID, input: [[1, 2, 3]] }, 422, /token id arrays/],
      [{ model: ID, input: 'x', stream: true }, 422, /stream/],
      [{ model: ID }, 422, /input/],
      [{ model: 'sentiment-en', input: 'x' }, 422, /feature-extraction/],
      [{ model: 'no-such-model', input: 'x' }, 404, /no-such-model/],
    ];
    for (const [body, status, pattern] of cases) {
      const res = await postJson('/v1/embeddings', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((await json<ErrorJson>(res)).error.message).toMatch(pattern);
    }
    const notJson = await call('/v1/embeddings', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(notJson.status).toBe(415);
  });
});
