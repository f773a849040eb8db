/** @module Tests of the shared text features: determinism, hashing, tokenisation, normalisation, token→bucket maps. */
import { describe, expect, it } from 'vitest';
import {
  featurize,
  featurizeBatch,
  featurizeSparse,
  fnv1a32,
  normalize,
  TextFeatureConfigSchema,
  tokenFeatures,
  tokenize,
  type TextFeatureConfig,
} from '../../src/tasks/text/text-features.js';
import { FEATURES } from '../../models/sentiment-en/recipe.js';

const small: TextFeatureConfig = { ...FEATURES, buckets: 1 << 10 };

describe('fnv1a32', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
  it('hashes UTF-8 bytes, not UTF-16 units', () => {
    const overBytes = (bytes: number[]): number => {
      let h = 0x811c9dc5;
      for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
      return h >>> 0;
    };
    expect(fnv1a32('é')).toBe(overBytes([0xc3, 0xa9]));
    expect(fnv1a32('😀')).toBe(overBytes([0xf0, 0x9f, 0x98, 0x80]));
  });
});

describe('normalize / tokenize', () => {
  it('lowercases, applies NFKC, folds apostrophes and collapses spaces', () => {
    expect(normalize('  Ｇreat\u00a0 Phone ’s  ')).toBe("great phone 's");
    expect(tokenize('I DON’T like it!!! Really?')).toEqual(['i', "don't", 'like', 'it', '!', 'really', '?']);
  });
  it('strips accents only when asked', () => {
    expect(tokenize('Café crème')).toEqual(['café', 'crème']);
    expect(tokenize('Café crème', { stripAccents: true })).toEqual(['cafe', 'creme']);
  });
  it('caps the token count', () => {
    expect(tokenize('a b c d e', { maxTokens: 3 })).toEqual(['a', 'b', 'c']);
  });
});

describe('featurize', () => {
  it('is deterministic and L2-normalised', () => {
    const a = featurize('The food was not good at all.', FEATURES);
    const b = featurize('The food was not good at all.', FEATURES);
    expect(a).toEqual(b);
    expect(a.length).toBe(FEATURES.buckets);
    const norm = Math.sqrt(a.reduce((s, v) => s + v * v, 0));
    expect(norm).toBeCloseTo(1, 5);
  });
  it('pins the exact features (a change here changes every served model)', () => {
    const { indices, values } = featurizeSparse('Not good!', { ...FEATURES, char_ngram_min: 0, char_ngram_max: 0 });
    // tokens: not, good (negated), ! → unigrams not, ¬good, ! and bigrams "not good", "good !"
    const expected = ['not', '\u00acgood', '!', 'not good', 'good !'].map((g) => fnv1a32(g) & (FEATURES.buckets - 1));
    expect([...indices]).toEqual([...new Set(expected)].sort((x, y) => x - y));
    for (const v of values) expect(v).toBeCloseTo(1 / Math.sqrt(indices.length), 6);
  });
  it('gives the empty text a zero vector', () => {
    expect(featurize('', small).every((v) => v === 0)).toBe(true);
    expect(featurize('   ...  ', small).every((v) => v === 0)).toBe(true);
  });
  it('ends negation scope at clause punctuation', () => {
    const cfg = { ...small, max_ngram: 1, char_ngram_min: 0, char_ngram_max: 0 };
    const scoped = featurizeSparse('not good', cfg).indices;
    const ended = featurizeSparse('not, good', cfg).indices;
    expect([...scoped]).toContain(fnv1a32('\u00acgood') & (cfg.buckets - 1));
    expect([...ended]).toContain(fnv1a32('good') & (cfg.buckets - 1));
  });
  it('supports log-tf weighting and no normalisation', () => {
    const v = featurize('good good good', {
      ...small,
      weighting: 'log-tf',
      norm: 'none',
      max_ngram: 1,
      char_ngram_min: 0,
      char_ngram_max: 0,
    });
    expect(v[fnv1a32('good') & (small.buckets - 1)]).toBeCloseTo(Math.log1p(3), 6);
  });
  it('batches row-major, each row equal to featurize', () => {
    const texts = ['great value', '', 'terrible, never again'];
    const batch = featurizeBatch(texts, small);
    expect(batch.length).toBe(texts.length * small.buckets);
    texts.forEach((t, i) =>
      expect(batch.subarray(i * small.buckets, (i + 1) * small.buckets)).toEqual(featurize(t, small)),
    );
  });
});

describe('tokenFeatures', () => {
  it('lists, per token, every bucket of the features it takes part in', () => {
    const text = 'The battery life is great';
    const per = tokenFeatures(text, FEATURES);
    expect(per.map((t) => t.token)).toEqual(tokenize(text));
    const union = new Set(per.flatMap((t) => t.buckets));
    expect([...union].sort((a, b) => a - b)).toEqual([...featurizeSparse(text, FEATURES).indices]);
    // The bigram "life is" is shared by both of its tokens.
    const bigram = fnv1a32('life is') & (FEATURES.buckets - 1);
    expect(per[2]?.buckets).toContain(bigram);
    expect(per[3]?.buckets).toContain(bigram);
    for (const t of per) expect(t.buckets).toEqual([...t.buckets].sort((a, b) => a - b));
  });
});

describe('TextFeatureConfigSchema', () => {
  it('accepts the recipe config and rejects a non-power-of-two width', () => {
    expect(TextFeatureConfigSchema.parse(FEATURES)).toEqual(FEATURES);
    expect(TextFeatureConfigSchema.safeParse({ ...FEATURES, buckets: 1000 }).success).toBe(false);
  });
});
