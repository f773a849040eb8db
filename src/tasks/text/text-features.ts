/** @module Hashed n-gram text features: the one preprocessing shared by training (Node) and serving (workerd, Node). */
import { z } from 'zod';
import { emailText } from '../../codecs/email-text.js';

/**
 * How text becomes a fixed-width float vector. Stored verbatim in the manifest under `preprocess`, so a served model
 * always gets exactly the features it was trained on; `kind` and `version` let a future scheme coexist.
 */
export const TextFeatureConfigSchema = z
  .object({
    kind: z.literal('hashed-ngrams'),
    version: z.literal(1),
    /** Number of hash buckets (the model's input width D); a power of two so the bucket is a bit mask. */
    buckets: z
      .number()
      .int()
      .min(2)
      .max(1 << 24)
      .refine((n) => (n & (n - 1)) === 0, 'buckets must be a power of two'),
    /** Largest n-gram length (1 = unigrams, 2 = unigrams + bigrams). */
    max_ngram: z.number().int().min(1).max(3),
    hash: z.literal('fnv1a32-utf8'),
    /** Per-bucket value before normalisation: presence, or log(1 + count). */
    weighting: z.enum(['binary', 'log-tf']),
    norm: z.enum(['l2', 'none']),
    /** Remove combining marks after NFKD (café → cafe); off keeps the text closer to what users typed. */
    strip_accents: z.boolean(),
    /** Tokens past this many are ignored, bounding work per request (and the request's cost). */
    max_tokens: z.number().int().positive(),
    /**
     * Mark word unigrams after a negator ("not", "never", "…n't") up to the next clause punctuation with a "¬"
     * prefix, so "not good" and "good" feed different buckets even without a bigram.
     */
    negation: z.boolean(),
    /** Character n-grams of each word (with "<" ">" boundary marks), lengths min..max; 0 disables. Helps with typos and inflections. */
    char_ngram_min: z.number().int().min(0).max(8),
    char_ngram_max: z.number().int().min(0).max(8),
    /**
     * What the input is: plain text (absent, the default), or an e-mail message whose decoded Subject and text parts
     * are what the features read (src/codecs/email-text.ts); a body without headers passes as it is.
     */
    input: z.enum(['text', 'email']).optional(),
  })
  // Not strict: a manifest's `preprocess` may carry keys for other consumers; unknown keys are dropped on parse.
  .strip();
export type TextFeatureConfig = z.infer<typeof TextFeatureConfigSchema>;

/** One token and the feature buckets it feeds (its unigram and every n-gram that contains it). */
export interface TokenFeature {
  token: string;
  /** Position in `tokenize(text)`. */
  position: number;
  /** Distinct bucket indices, ascending. */
  buckets: number[];
}

const encoder = new TextEncoder();

/** FNV-1a, 32 bit, over the UTF-8 bytes: tiny, well spread, and identical wherever TextEncoder and Math.imul exist. */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// Typographic apostrophes and primes are folded to ASCII so "don’t" and "don't" are the same token.
const APOSTROPHES = /[\u2018\u2019\u201b\u02bc\u2032\u0060\u00b4]/g;
const COMBINING_MARKS = /\p{M}+/gu;
// A word: letters/digits, with inner apostrophes kept (negations such as "isn't" stay one token), or a run of
// "!"/"?" (emphasis carries sentiment: "great!!" vs "great?").
const TOKEN = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*|[!?]+/gu;
// Clause punctuation ends a negation's scope; found on the normalised text between tokens.
const CLAUSE_END = /[.,;:!?()]/;
const NEGATORS = new Set([
  'not',
  'no',
  'never',
  'nothing',
  'nobody',
  'none',
  'nor',
  'neither',
  'nowhere',
  'cannot',
  'without',
]);
const isNegator = (t: string): boolean => NEGATORS.has(t) || t.endsWith("n't");

/** Canonical form of the text: NFKC, lowercase, ASCII apostrophes, optional accent stripping, single spaces. */
export function normalize(text: string, stripAccents = false): string {
  let s = text.normalize('NFKC').toLowerCase().replace(APOSTROPHES, "'");
  if (stripAccents) s = s.normalize('NFKD').replace(COMBINING_MARKS, '').normalize('NFC');
  return s.replace(/\s+/g, ' ').trim();
}

interface Scanned {
  tokens: string[];
  /** Per token: inside a negation's scope (after a negator, before clause punctuation). */
  negated: boolean[];
}

function scan(text: string, stripAccents: boolean, maxTokens: number): Scanned {
  const tokens: string[] = [];
  const negated: boolean[] = [];
  const s = normalize(text, stripAccents);
  let inScope = false;
  let last = 0;
  for (const m of s.matchAll(TOKEN)) {
    if (tokens.length >= maxTokens) break;
    const raw = m[0];
    const start = m.index;
    if (CLAUSE_END.test(s.slice(last, start))) inScope = false;
    last = start + raw.length;
    const emphasis = raw[0] === '!' || raw[0] === '?';
    if (emphasis) inScope = false;
    tokens.push(emphasis ? (raw[0] ?? '!') : raw);
    negated.push(inScope);
    if (!emphasis && isNegator(raw)) inScope = true;
  }
  return { tokens, negated };
}

/** Word tokens of the normalised text ("!!!" runs collapse to "!" so emphasis length does not explode the vocabulary). */
export function tokenize(text: string, options: { stripAccents?: boolean; maxTokens?: number } = {}): string[] {
  return scan(text, options.stripAccents ?? false, options.maxTokens ?? Number.POSITIVE_INFINITY).tokens;
}

function configScan(text: string, config: TextFeatureConfig): Scanned {
  return scan(config.input === 'email' ? emailText(text) : text, config.strip_accents, config.max_tokens);
}

/**
 * Calls `visit(bucket, start, n)` for every feature of the scanned text, with the token span [start, start + n) it
 * comes from: word n-grams (n = 1..max_ngram, joined by a space, which no token contains, so a bigram cannot
 * collide textually with a unigram), negation-marked unigrams, and character n-grams of words. Each kind has its
 * own prefix character for the same reason.
 */
function forEachFeature(
  { tokens, negated }: Scanned,
  config: TextFeatureConfig,
  visit: (bucket: number, start: number, n: number) => void,
): void {
  const mask = config.buckets - 1;
  for (let n = 1; n <= config.max_ngram; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      let gram = n === 1 ? (tokens[i] ?? '') : tokens.slice(i, i + n).join(' ');
      if (n === 1 && config.negation && negated[i] === true) gram = `\u00ac${gram}`;
      visit(fnv1a32(gram) & mask, i, n);
    }
  }
  if (config.char_ngram_min < 1 || config.char_ngram_max < config.char_ngram_min) return;
  tokens.forEach((t, i) => {
    if (t === '!' || t === '?') return;
    // Code points, not UTF-16 units, so n-grams never split a surrogate pair.
    const chars = Array.from(`<${t}>`);
    for (let n = config.char_ngram_min; n <= config.char_ngram_max; n++) {
      // Grams that span the whole marked word duplicate the unigram: skip them.
      if (n >= chars.length) break;
      for (let k = 0; k + n <= chars.length; k++)
        visit(fnv1a32(`\u00a7${chars.slice(k, k + n).join('')}`) & mask, i, 1);
    }
  });
}

/** Sparse features of one text: bucket → value, after weighting and normalisation. Buckets ascending. */
export function featurizeSparse(
  text: string,
  config: TextFeatureConfig,
): { indices: Uint32Array; values: Float32Array } {
  const counts = new Map<number, number>();
  forEachFeature(configScan(text, config), config, (b) => counts.set(b, (counts.get(b) ?? 0) + 1));
  const indices = Uint32Array.from(counts.keys()).sort();
  const raw = new Float64Array(indices.length);
  let sumSq = 0;
  for (let k = 0; k < indices.length; k++) {
    const c = counts.get(indices[k] ?? 0) ?? 0;
    const v = config.weighting === 'binary' ? 1 : Math.log1p(c);
    raw[k] = v;
    sumSq += v * v;
  }
  // Summation in ascending bucket order keeps the norm, and so every value, bit-identical run to run.
  const scale = config.norm === 'l2' && sumSq > 0 ? 1 / Math.sqrt(sumSq) : 1;
  const values = new Float32Array(indices.length);
  for (let k = 0; k < raw.length; k++) values[k] = (raw[k] ?? 0) * scale;
  return { indices, values };
}

/** Dense feature vector of one text, length `config.buckets`. */
export function featurize(text: string, config: TextFeatureConfig): Float32Array {
  const out = new Float32Array(config.buckets);
  writeRow(out, 0, text, config);
  return out;
}

/** Row-major [N, D] features for a batch of texts. */
export function featurizeBatch(texts: readonly string[], config: TextFeatureConfig): Float32Array {
  const d = config.buckets;
  const out = new Float32Array(texts.length * d);
  texts.forEach((t, i) => writeRow(out, i * d, t, config));
  return out;
}

/** A batch as an embedding bag: [N, W] bucket indices and their values, W the longest row's feature count. */
export interface SparseBatch {
  indices: BigInt64Array;
  values: Float32Array;
  /** Features per row after padding (at least 1, so an empty text still has a well-formed row). */
  width: number;
}

/**
 * Padded sparse rows for models that take `indices` + `values` (Gather → weighted sum) rather than a dense vector:
 * O(features) work and bytes instead of O(buckets). Padding is index 0 with value 0, which adds nothing to any sum,
 * so a row's answer does not depend on how wide its batch is padded.
 */
export function sparseBatch(texts: readonly string[], config: TextFeatureConfig): SparseBatch {
  return padSparse(texts.map((t) => featurizeSparse(t, config)));
}

/** Pads sparse rows to one width (index 0, value 0). */
export function padSparse(rows: readonly { indices: ArrayLike<number>; values: ArrayLike<number> }[]): SparseBatch {
  const width = Math.max(1, ...rows.map((r) => r.indices.length));
  const indices = new BigInt64Array(rows.length * width);
  const values = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    for (let k = 0; k < r.indices.length; k++) {
      indices[i * width + k] = BigInt(r.indices[k] ?? 0);
      values[i * width + k] = r.values[k] ?? 0;
    }
  });
  return { indices, values, width };
}

function writeRow(out: Float32Array, offset: number, text: string, config: TextFeatureConfig): void {
  const { indices, values } = featurizeSparse(text, config);
  for (let k = 0; k < indices.length; k++) out[offset + (indices[k] ?? 0)] = values[k] ?? 0;
}

/**
 * Per token, the buckets it contributes to: its unigram and every n-gram containing it. Serving uses this for
 * explanations (e.g. occlusion: zero a token's buckets and see how the score moves).
 */
export function tokenFeatures(text: string, config: TextFeatureConfig): TokenFeature[] {
  const scanned = configScan(text, config);
  const tokens = scanned.tokens;
  const sets = tokens.map(() => new Set<number>());
  forEachFeature(scanned, config, (bucket, start, n) => {
    for (let j = start; j < start + n; j++) sets[j]?.add(bucket);
  });
  return tokens.map((token, position) => ({
    token,
    position,
    buckets: [...(sets[position] ?? [])].sort((a, b) => a - b),
  }));
}
