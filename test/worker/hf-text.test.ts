/**
 * @module Hugging Face text folders served through the task API inside workerd: tiny BERTs with each head, published
 * by the CLI's own code from the Optimum layout (the task picked from config.json's architecture), seeded into R2
 * and called over `POST /v1/models/{id}/predict`. The oracle is transformers.js's pipelines run offline in Node on the
 * same folders (test/support/hf-text.ts); labels, spans and answers must be equal and scores within 1e-4.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { r2Keys } from '../../src/lib/manifest.js';
import { CLASSIFY_TEXTS, NER_TEXTS, QA, ZERO_SHOT } from '../support/hf-text-inputs.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes } from './seed.js';

const refs = inject('hfText');
const TOLERANCE = 1e-4;

interface LabelScore {
  label: string;
  score: number;
}
interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}
interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}
interface Answer {
  score: number;
  start: number;
  end: number;
  answer: string;
}

beforeAll(async () => {
  for (const m of refs.models) {
    for (const [name, b64] of Object.entries(m.files))
      await env.MODELS.put(r2Keys.file(m.id, m.version, name), base64Bytes(b64));
    await env.MODELS.put(r2Keys.manifest(m.id, m.version), m.manifestText);
    await env.MODELS.put(r2Keys.latest(m.id), m.version);
  }
});

async function predict<T>(id: string, inputs: unknown, parameters?: Record<string, unknown>): Promise<T> {
  const res = await postJson(
    `/v1/models/${id}/predict`,
    parameters === undefined ? { inputs } : { inputs, parameters },
  );
  if (res.status !== 200) throw new Error(`${id}: ${res.status} ${await res.text()}`);
  return json<T>(res);
}

function expectLabelScores(actual: LabelScore[], expected: LabelScore[]): void {
  expect(expected.length).toBeGreaterThan(0);
  expect(actual.map((a) => a.label)).toEqual(expected.map((e) => e.label));
  actual.forEach((a, i) => expect(Math.abs(a.score - (expected[i]?.score ?? NaN))).toBeLessThan(TOLERANCE));
}

describe('publishing a Hugging Face folder', () => {
  it('picks each task from config.json and lists the models with their labels', async () => {
    const list = await json<{ data: { id: string; task: string; labels?: string[] }[] }>(await call('/v1/models'));
    const task = (id: string): string | undefined => list.data.find((d) => d.id === id)?.task;
    expect(task('tiny-bert-sst')).toBe('text-classification');
    expect(task('tiny-bert-toxic')).toBe('text-classification');
    expect(task('tiny-bert-ner')).toBe('token-classification');
    expect(task('tiny-bert-nli')).toBe('zero-shot-classification');
    expect(task('tiny-bert-squad')).toBe('question-answering');
    expect(task('tiny-bert-cls')).toBe('feature-extraction');
  });
});

describe('text-classification (transformer classifiers)', () => {
  it('softmax scores equal transformers.js, for a batch', async () => {
    const out = await predict<LabelScore[][]>('tiny-bert-sst', CLASSIFY_TEXTS);
    // One answer per input, in order (forEach over a short answer would check nothing for the missing rows).
    expect(CLASSIFY_TEXTS.length).toBeGreaterThan(1);
    expect(out).toHaveLength(CLASSIFY_TEXTS.length);
    out.forEach((row, i) => expectLabelScores(row, refs.sst[i] ?? []));
  });

  it('sigmoid scores for a multi_label_classification model, and top_k', async () => {
    const out = await predict<LabelScore[]>('tiny-bert-toxic', CLASSIFY_TEXTS[1]);
    expectLabelScores(out, refs.toxic[1] ?? []);
    // Sigmoid scores are independent: they need not sum to 1, and here they do not.
    expect(Math.abs(out.reduce((s, x) => s + x.score, 0) - 1)).toBeGreaterThan(0.01);
    const top = await predict<LabelScore[]>('tiny-bert-toxic', CLASSIFY_TEXTS[1], { top_k: 1 });
    expectLabelScores(top, (refs.toxic[1] ?? []).slice(0, 1));
  });

  it('refuses explanations for transformers with a 422 naming the parameter', async () => {
    const res = await postJson('/v1/models/tiny-bert-sst/predict', { inputs: 'x', parameters: { explain: true } });
    expect(res.status).toBe(422);
    expect((await json<ErrorJson>(res)).error.message).toContain('parameters.explain');
  });
});

describe('token-classification', () => {
  it('every token (ignore_labels: []) equals transformers.js, with offsets into the text', async () => {
    const out = await predict<TokenEntity[][]>('tiny-bert-ner', NER_TEXTS, { ignore_labels: [] });
    expect(NER_TEXTS.length).toBeGreaterThan(1);
    expect(out).toHaveLength(NER_TEXTS.length);
    out.forEach((tokens, i) => {
      const expected = refs.nerTokens[i] ?? [];
      expect(expected.length).toBeGreaterThan(5);
      expect(tokens.map((t) => [t.entity, t.index, t.word])).toEqual(expected.map((e) => [e.entity, e.index, e.word]));
      tokens.forEach((t, k) => expect(Math.abs(t.score - (expected[k]?.score ?? NaN))).toBeLessThan(TOLERANCE));
      // The offsets point at the token's characters (the vocabulary is lowercase; ## marks a continuation).
      const text = NER_TEXTS[i] ?? '';
      for (const t of tokens) expect(text.slice(t.start, t.end).toLowerCase()).toBe(t.word.replace(/^##/, ''));
    });
  });

  it('drops "O" by default', async () => {
    const all = await predict<TokenEntity[]>('tiny-bert-ner', NER_TEXTS[0], { ignore_labels: [] });
    const kept = await predict<TokenEntity[]>('tiny-bert-ner', NER_TEXTS[0]);
    expect(all.some((t) => t.entity === 'O')).toBe(true);
    expect(kept).toEqual(all.filter((t) => t.entity !== 'O'));
  });

  it('simple aggregation equals transformers.js (nothing ignored), with spans covering each group', async () => {
    const out = await predict<EntityGroup[][]>('tiny-bert-ner', NER_TEXTS, {
      ignore_labels: [],
      aggregation_strategy: 'simple',
    });
    expect(out).toHaveLength(NER_TEXTS.length);
    out.forEach((groups, i) => {
      const expected = refs.nerSimple[i] ?? [];
      expect(expected.length).toBeGreaterThan(1);
      expect(groups.map((g) => [g.entity_group, g.word])).toEqual(expected.map((e) => [e.entity_group, e.word]));
      groups.forEach((g, k) => expect(Math.abs(g.score - (expected[k]?.score ?? NaN))).toBeLessThan(TOLERANCE));
      for (let k = 1; k < groups.length; k++)
        expect(groups[k]?.start ?? 0).toBeGreaterThanOrEqual(groups[k - 1]?.end ?? Infinity);
    });
  });

  it('first / average / max give one entity per word, whose span is the whole word', async () => {
    const text = NER_TEXTS[1] ?? '';
    for (const strategy of ['first', 'average', 'max']) {
      const groups = await predict<EntityGroup[]>('tiny-bert-ner', text, {
        ignore_labels: [],
        aggregation_strategy: strategy,
      });
      // Nothing is ignored, so every word of the text is some entity: an empty answer is a failure, not a pass.
      expect(groups.length, strategy).toBeGreaterThan(0);
      for (const g of groups) {
        // A word strategy never splits a word: each group starts and ends on a word boundary.
        expect(/[A-Za-z]/.test(text[g.start - 1] ?? ' ') && /[A-Za-z]/.test(text[g.start] ?? '')).toBe(false);
        expect(/[A-Za-z]/.test(text[g.end] ?? ' ') && /[A-Za-z]/.test(text[g.end - 1] ?? '')).toBe(false);
        expect(g.word.replaceAll(' ', '')).toBe(text.slice(g.start, g.end).toLowerCase().replaceAll(' ', ''));
      }
    }
  });

  it('reports an unknown character as the text it stands for', async () => {
    const out = await predict<TokenEntity[]>('tiny-bert-ner', 'Tokyo is 東京', { ignore_labels: [] });
    const unknown = out.filter((t) => t.word === '東' || t.word === '京');
    expect(unknown.map((t) => [t.word, t.start, t.end])).toEqual([
      ['東', 9, 10],
      ['京', 10, 11],
    ]);
  });

  it('422 for an unknown aggregation_strategy', async () => {
    const res = await postJson('/v1/models/tiny-bert-ner/predict', {
      inputs: 'x',
      parameters: { aggregation_strategy: 'longest' },
    });
    expect(res.status).toBe(422);
    expect((await json<ErrorJson>(res)).error.message).toContain('parameters.aggregation_strategy');
  });
});

describe('zero-shot-classification', () => {
  it('softmax over the labels equals transformers.js', async () => {
    const out = await predict<{ sequence: string; labels: string[]; scores: number[] }>(
      'tiny-bert-nli',
      ZERO_SHOT.text,
      { candidate_labels: ZERO_SHOT.labels },
    );
    expect(out.sequence).toBe(ZERO_SHOT.text);
    expect(out.labels).toEqual(refs.zeroShot.labels);
    out.scores.forEach((s, i) => expect(Math.abs(s - (refs.zeroShot.scores[i] ?? NaN))).toBeLessThan(TOLERANCE));
    expect(out.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('multi_label scores each label on its own, equal to transformers.js; a comma string also works', async () => {
    const out = await predict<{ labels: string[]; scores: number[] }>('tiny-bert-nli', ZERO_SHOT.text, {
      candidate_labels: ZERO_SHOT.labels.join(', '),
      multi_label: true,
    });
    expect(out.labels).toEqual(refs.zeroShotMulti.labels);
    out.scores.forEach((s, i) => expect(Math.abs(s - (refs.zeroShotMulti.scores[i] ?? NaN))).toBeLessThan(TOLERANCE));
  });

  it('422 without candidate_labels, or with a template lacking {}', async () => {
    for (const parameters of [{}, { candidate_labels: ['a'], hypothesis_template: 'no slot' }]) {
      const res = await postJson('/v1/models/tiny-bert-nli/predict', { inputs: 'x', parameters });
      expect(res.status).toBe(422);
      expect((await json<ErrorJson>(res)).error.message).toMatch(/parameters\.(candidate_labels|hypothesis_template)/);
    }
  });
});

describe('question-answering', () => {
  it('top_k answers score as transformers.js scores them, with offsets into the context', async () => {
    // transformers.js has no max_answer_len and does not widen to words: ask the same of the service.
    const out = await predict<Answer[]>('tiny-bert-squad', QA, {
      top_k: 3,
      max_answer_len: 512,
      align_to_words: false,
    });
    expect(out).toHaveLength(3);
    out.forEach((a, i) => {
      const e = refs.qa[i];
      expect(Math.abs(a.score - (e?.score ?? NaN))).toBeLessThan(TOLERANCE);
      expect(a.answer).toBe(QA.context.slice(a.start, a.end));
      // transformers.js decodes the tokens (lowercase, `##` kept on a leading piece); the service slices the context.
      expect(a.answer.toLowerCase().replaceAll(' ', '')).toBe((e?.answer ?? '').replace(/^##/, '').replaceAll(' ', ''));
    });
  });

  it('widens answers to whole words by default and keeps them within max_answer_len tokens', async () => {
    const out = await predict<Answer>('tiny-bert-squad', QA);
    expect(out.answer).toBe(QA.context.slice(out.start, out.end));
    expect(/\w/.test(QA.context[out.start - 1] ?? ' ')).toBe(false);
    expect(/\w/.test(QA.context[out.end] ?? ' ')).toBe(false);
    const short = await predict<Answer[]>('tiny-bert-squad', QA, {
      top_k: 5,
      max_answer_len: 1,
      align_to_words: false,
    });
    expect(short.length).toBeGreaterThan(0);
    for (const a of short) expect(a.answer).not.toContain(' ');
  });

  it('a long context in strided windows gives the best answers of all windows', async () => {
    const { question, context, maxSeqLen, docStride } = refs.long;
    const out = await predict<Answer[]>(
      'tiny-bert-squad',
      { question, context },
      { top_k: 3, max_answer_len: 512, align_to_words: false, max_seq_len: maxSeqLen, doc_stride: docStride },
    );
    expect(refs.long.answers).toHaveLength(3);
    expect(out.map((a) => a.answer)).toEqual(refs.long.answers.map((a) => a.answer));
    out.forEach((a, i) => expect(Math.abs(a.score - (refs.long.answers[i]?.score ?? NaN))).toBeLessThan(TOLERANCE));
  });

  it('422 for inputs without a context, naming the field', async () => {
    const res = await postJson('/v1/models/tiny-bert-squad/predict', { inputs: { question: 'who?' } });
    expect(res.status).toBe(422);
    expect((await json<ErrorJson>(res)).error.message).toContain('inputs.context');
  });
});

describe('feature-extraction with the pooling sentence-transformers configured', () => {
  it('CLS pooling (1_Pooling/config.json) equals transformers.js pooling "cls"', async () => {
    const out = await predict<number[][]>('tiny-bert-cls', CLASSIFY_TEXTS);
    expect(out).toHaveLength(CLASSIFY_TEXTS.length);
    out.forEach((v, i) => {
      const e = refs.clsEmbeddings[i] ?? [];
      expect(e.length).toBe(32);
      expect(Math.max(...v.map((x, j) => Math.abs(x - (e[j] ?? NaN))))).toBeLessThan(TOLERANCE);
    });
  });
});
