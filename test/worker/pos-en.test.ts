/**
 * @module pos-en through the Worker: held-out Brown sentences (documents the tagger never saw) sent as plain text to
 * `POST /v1/models/pos-en/predict`, the words the service splits off checked against the corpus's tokens and the tags
 * against the corpus's gold tags; the Hugging Face token-classification shape with character offsets; aggregation.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { json, postJson } from './client.js';
import { builtManifest, seedModels } from './seed.js';

interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}

const sentences = inject('posSentences');

beforeAll(async () => {
  await seedModels();
});

async function tag(inputs: string | string[], parameters: Record<string, unknown> = { ignore_labels: [] }) {
  const res = await postJson('/v1/models/pos-en/predict', { inputs, parameters });
  expect(res.status).toBe(200);
  return json<TokenEntity[] | TokenEntity[][]>(res);
}

describe('pos-en', () => {
  it('tags held-out Brown sentences as the corpus does, at the accuracy the build claims', async () => {
    expect(sentences.length).toBeGreaterThan(50);
    const texts = sentences.map((s) => s.words.join(' '));
    const out: TokenEntity[][] = [];
    for (let i = 0; i < texts.length; i += 32) out.push(...((await tag(texts.slice(i, i + 32))) as TokenEntity[][]));
    let aligned = 0;
    let tokens = 0;
    let correct = 0;
    out.forEach((words, i) => {
      const gold = sentences[i];
      if (gold === undefined || words.map((w) => w.word).join(' ') !== gold.words.join(' ')) return;
      aligned += 1;
      words.forEach((w, k) => {
        tokens += 1;
        if (w.entity === gold.tags[k]) correct += 1;
      });
    });
    // The service's word splitter must recover Brown's own tokens from the spaced text almost always…
    expect(aligned / sentences.length).toBeGreaterThan(0.9);
    // …and the tags reach the held-out accuracy the build measured (within sampling noise on ~2,000 tokens).
    const metrics = builtManifest('pos-en')['metrics'] as Record<string, unknown>;
    const claimed = Number(metrics['accuracy']);
    expect(claimed).toBeGreaterThanOrEqual(0.95);
    expect(correct / tokens).toBeGreaterThan(claimed - 0.03);
  });

  it('answers free text with words, offsets into it, and Hugging Face aggregation', async () => {
    const text = "The committee hasn't met since Tuesday, and Dr. Smith's report is late.";
    const words = (await tag(text)) as TokenEntity[];
    expect(words.map((w) => w.word)).toContain('committee');
    for (const w of words) {
      expect(text.slice(w.start, w.end)).toBe(w.word);
      expect(w.score).toBeGreaterThan(0);
      expect(w.score).toBeLessThanOrEqual(1);
    }
    expect(words.find((w) => w.word === 'committee')?.entity).toBe('NN');
    expect(words.find((w) => w.word === 'The')?.entity).toBe('AT');
    // A word model has one token per word, so every word strategy equals simple.
    const simple = await tag(text, { ignore_labels: [], aggregation_strategy: 'simple' });
    for (const strategy of ['first', 'average', 'max'])
      expect(await tag(text, { ignore_labels: [], aggregation_strategy: strategy })).toEqual(simple);
  });
});
