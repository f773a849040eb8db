/**
 * @module The models trained here on corpora, through HTTP inside workerd: topics-en through the official `openai`
 * client (`/v1/embeddings`, float and the SDK's default base64) and the task API with `parameters.topics`, spam-en
 * through the text-classification route on real held-out messages; every answer against onnxruntime-node on the same
 * built files with the features computed in Node (test/support/nlp.ts).
 */
import { exports } from 'cloudflare:workers';
import OpenAI from 'openai';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureKeys, json, postJson, secretOf, type ErrorJson } from './client.js';
import { base64Bytes, builtManifest, seedModels } from './seed.js';

const nlp = inject('nlp');
/** Float32 WASM vs native on the same graph: a handful of ulps. */
const TOLERANCE = 1e-5;

interface LabelScore {
  label: string;
  score: number;
}
interface TopicWeight {
  topic: number;
  weight: number;
  terms: string[];
}
interface TopicEmbedding {
  embedding: number[];
  topics: TopicWeight[];
}
interface Pole {
  term: string;
  weight: number;
}
interface TopicsFile {
  topics: { topic: number; positive: Pole[]; negative: Pole[] }[];
}

beforeAll(async () => {
  await seedModels();
  await ensureKeys();
});

function expectClose(actual: readonly number[], expected: readonly number[]): void {
  expect(expected.length).toBeGreaterThan(0);
  expect(actual).toHaveLength(expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - (expected[i] ?? NaN))));
  expect(worst).toBeLessThan(TOLERANCE);
}

/** The official client, pointed at the Worker's real fetch entry with a plain key. */
function openai(): OpenAI {
  return new OpenAI({
    baseURL: 'http://edge.test/v1',
    apiKey: secretOf('plain'),
    maxRetries: 0,
    fetch: (input: RequestInfo | URL, init?: RequestInit) => exports.default.fetch(input, init),
  });
}

function topicsFile(): TopicsFile {
  const m = inject('models').find((x) => x.id === 'topics-en');
  const b64 = m?.files['topics.json'];
  if (b64 === undefined) throw new Error('topics-en has no topics.json');
  return JSON.parse(new TextDecoder().decode(base64Bytes(b64))) as TopicsFile;
}

/** What parameters.topics should answer for a vector: the strongest dimensions by |weight|, described by their pole. */
function expectedTopics(vector: readonly number[], top: number, terms: number): TopicWeight[] {
  const table = topicsFile();
  return vector
    .map((weight, topic) => ({ weight, topic }))
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
    .slice(0, top)
    .map(({ topic, weight }) => {
      const entry = table.topics[topic];
      const pole = weight > 0 ? entry?.positive : entry?.negative;
      return { topic, weight, terms: (pole ?? []).slice(0, terms).map((p) => p.term) };
    });
}

describe('topics-en through the openai client', () => {
  const ref = nlp.topics;

  it('answers float embeddings equal to onnxruntime-node (L2-normalised), with usage counting word tokens', async () => {
    const res = await openai().embeddings.create({ model: 'topics-en', input: ref.texts, encoding_format: 'float' });
    expect(res.object).toBe('list');
    expect(res.model).toBe('topics-en');
    expect(res.data.map((d) => d.index)).toEqual(ref.texts.map((_, i) => i));
    res.data.forEach((d, i) => expectClose(d.embedding, ref.normalized[i] ?? []));
    const tokens = ref.tokens.reduce((a, b) => a + b, 0);
    expect(res.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
    // A text of unknown words only has no direction: a zero vector, not NaN.
    expect(res.data.at(-1)?.embedding.every((x) => x === 0)).toBe(true);
  });

  it('decodes the default base64 answer to the same vectors', async () => {
    const client = openai();
    const res = await client.embeddings.create({ model: 'topics-en', input: ref.texts[0] ?? '' });
    expect(res.data).toHaveLength(1);
    expectClose(res.data[0]?.embedding ?? [], ref.normalized[0] ?? []);
    const k = (builtManifest('topics-en')['outputs'] as { shape: number[] }[])[0]?.shape[1];
    const withDims = await client.embeddings.create({ model: 'topics-en', input: ref.texts[1] ?? '', dimensions: k });
    expectClose(withDims.data[0]?.embedding ?? [], ref.normalized[1] ?? []);
  });

  it('surfaces the service’s 422 as the SDK’s error for dimensions it cannot answer', async () => {
    const err = await openai()
      .embeddings.create({ model: 'topics-en', input: 'music', dimensions: 7 })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(OpenAI.UnprocessableEntityError);
    expect((err as Error).message).toMatch(/dimensions/);
  });
});

describe('topics-en through the task API', () => {
  const ref = nlp.topics;
  const PREDICT = '/v1/models/topics-en/predict';

  it('answers one vector for a string, unnormalised on request', async () => {
    const res = await postJson(PREDICT, { inputs: ref.texts[2], parameters: { normalize: false } });
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Model')).toMatch(/^topics-en@/);
    expectClose(await json<number[]>(res), ref.raw[2] ?? []);
  });

  it('parameters.topics adds the strongest topics, each with the terms of the pole its weight points to', async () => {
    const res = await postJson(PREDICT, { inputs: ref.texts[3], parameters: { topics: true } });
    expect(res.status).toBe(200);
    const out = await json<TopicEmbedding>(res);
    expectClose(out.embedding, ref.normalized[3] ?? []);
    // The manifest's defaults: 3 topics, 8 terms each.
    const expected = expectedTopics(ref.normalized[3] ?? [], 3, 8);
    expect(out.topics.map((t) => [t.topic, t.terms])).toEqual(expected.map((t) => [t.topic, t.terms]));
    out.topics.forEach((t) => expect(t.weight).toBeCloseTo(out.embedding[t.topic] ?? NaN, 9));
  });

  it('a list with top_topics and topic_terms answers a list, one entry per text', async () => {
    const texts = ref.texts.slice(0, 2);
    const res = await postJson(PREDICT, { inputs: texts, parameters: { topics: true, top_topics: 2, topic_terms: 3 } });
    const out = await json<TopicEmbedding[]>(res);
    expect(out).toHaveLength(2);
    out.forEach((o, i) => {
      expectClose(o.embedding, ref.normalized[i] ?? []);
      expect(o.topics.map((t) => [t.topic, t.terms])).toEqual(
        expectedTopics(ref.normalized[i] ?? [], 2, 3).map((t) => [t.topic, t.terms]),
      );
    });
  });

  it('422 naming the parameter for topics it cannot answer', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ topics: 'yes' }, /^parameters\.topics/],
      [{ top_topics: 2 }, /^parameters\.top_topics: only with parameters\.topics: true/],
      [{ topics: true, top_topics: 10_000 }, /^parameters\.top_topics: topics-en has \d+ topics/],
      [{ topics: true, topic_terms: 10_000 }, /^parameters\.topic_terms: at most \d+ terms/],
      [{ topics: true, pooling: 'max' }, /pooling/],
    ];
    for (const [parameters, pattern] of cases) {
      const res = await postJson(PREDICT, { inputs: 'music', parameters });
      expect(res.status, JSON.stringify(parameters)).toBe(422);
      const body = await json<ErrorJson>(res);
      expect(body.error.code).toBe('invalid_input');
      expect(body.error.message).toMatch(pattern);
    }
  });
});

describe('spam-en through the text-classification route', () => {
  const ref = nlp.spam;

  it('scores real held-out messages (raw, with headers and MIME) and pasted bodies as onnxruntime-node does', async () => {
    const res = await postJson(
      '/v1/models/spam-en/predict',
      { inputs: ref.messages.map((m) => m.text) },
      { 'cache-control': 'no-store' },
    );
    expect(res.status).toBe(200);
    const out = await json<LabelScore[][]>(res);
    expect(out).toHaveLength(ref.messages.length);
    out.forEach((ranking, i) => {
      const probs = ref.probabilities[i] ?? [];
      expect(ranking.map((r) => r.label).sort()).toEqual(['ham', 'spam']);
      for (const r of ranking)
        expect(Math.abs(r.score - (probs[ref.labels.indexOf(r.label)] ?? NaN))).toBeLessThan(TOLERANCE);
      expect(ranking[0]?.label).toBe(ref.labels[(probs[1] ?? 0) > (probs[0] ?? 0) ? 1 : 0]);
    });
    // The held-out messages are both kinds, as the corpus labels them.
    expect(new Set(ref.messages.filter((m) => m.label !== '').map((m) => m.label))).toEqual(new Set(['ham', 'spam']));
  });

  it('answers one ranking for one message, with explanations over the message text', async () => {
    const message = ref.messages[0];
    const res = await postJson('/v1/models/spam-en/predict', {
      inputs: message?.text,
      parameters: { explain: true },
    });
    expect(res.status).toBe(200);
    const out = await json<{ labels: LabelScore[]; attributions: { token: string; weight: number }[] }>(res);
    expect(out.labels[0]?.score).toBeCloseTo(Math.max(...(ref.probabilities[0] ?? [])), 5);
    // The features start at the Subject's text: the first attributed token is its first word, not a header's.
    const subject = /^Subject:\s*(\S+)/m.exec(message?.text ?? '')?.[1] ?? '';
    expect(subject).not.toBe('');
    expect(out.attributions[0]?.token).toBe(subject.toLowerCase().replace(/[^a-z0-9]/g, ''));
  });
});
