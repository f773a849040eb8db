/**
 * @module Bag-of-words preprocessing for vocabulary models (topics-en's LSI): text → word tokens → term ids of the
 * model's own vocabulary and their counts, the sparse `indices` + `values` bag the graph weights (TF-IDF) and
 * projects. Shared by the build (Node), which makes the vocabulary from the same tokens, and serving (workerd, Node).
 */
import { z } from 'zod';
import type { Manifest } from '../../lib/manifest.js';
import { loadJson, versionCache } from '../model-files.js';
import type { TaskContext } from '../task.js';
import { normalize } from './text-features.js';

/** Manifest `preprocess` of a bag-of-words feature-extraction model. */
export const BagOfWordsConfigSchema = z.object({
  kind: z.literal('bag-of-words'),
  /** The tokenisation below; a different scheme would be a new version. */
  version: z.literal(1),
  /** JSON array of terms (one of the manifest's `files`); a term's position is its id in the graph's `indices`. */
  vocabulary_file: z.string().min(1),
  /** Tokens past this many are not counted, bounding work per request. */
  max_tokens: z.number().int().positive(),
  /** L2-normalise the answered vector by default (`parameters.normalize` overrides). */
  normalize: z.boolean().default(true),
});
export type BagOfWordsConfig = z.infer<typeof BagOfWordsConfigSchema>;

/** Whether a feature-extraction manifest takes a bag of words (else its tokenizer path applies). */
export function isBagOfWords(manifest: Manifest): boolean {
  return manifest.preprocess['kind'] === 'bag-of-words';
}

export function bagConfig(manifest: Manifest): BagOfWordsConfig {
  return BagOfWordsConfigSchema.parse(manifest.preprocess);
}

/** Manifest `postprocess` of a model whose vector's dimensions are topics (`parameters.topics`). */
export const TopicsConfigSchema = z.object({
  /** JSON topic descriptions (one of the manifest's `files`, see TopicsFileSchema); absent: the model has no topics. */
  topics_file: z.string().min(1).optional(),
  /** How many topics an answer lists by default (the strongest by |weight|), and how many terms each. */
  top_topics: z.number().int().positive().default(3),
  topic_terms: z.number().int().positive().default(8),
});
export type TopicsConfig = z.infer<typeof TopicsConfigSchema>;

export function topicsConfig(manifest: Manifest): TopicsConfig {
  return TopicsConfigSchema.parse(manifest.postprocess);
}

/** One pole of a topic: its terms with the largest loadings of one sign, strongest first. */
const PoleSchema = z.array(z.object({ term: z.string(), weight: z.number() }));

/**
 * The topics file: per topic (a dimension of the vector, in order), the terms that load most on it positively and
 * negatively. A text weighing negatively on a topic is described by its negative pole.
 */
export const TopicsFileSchema = z.object({
  topics: z.array(z.object({ topic: z.number().int().nonnegative(), positive: PoleSchema, negative: PoleSchema })),
});
export type TopicsFile = z.infer<typeof TopicsFileSchema>;

// Letters with inner apostrophes ("don't" stays one word); digits, punctuation and hyphens separate words, as the
// vocabulary was built from the same rule.
const WORD = /\p{L}+(?:'\p{L}+)*/gu;

/** Word tokens of a text: NFKC, lowercase, ASCII apostrophes (text-features' normalisation), letters only. */
export function words(text: string, maxTokens = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  for (const m of normalize(text).matchAll(WORD)) {
    if (out.length >= maxTokens) break;
    out.push(m[0]);
  }
  return out;
}

/** A text as its bag: term ids ascending with their counts, and how many word tokens it had (known or not). */
export interface Bag {
  indices: number[];
  values: number[];
  tokens: number;
}

/** Counts a text's in-vocabulary words; each term id appears once (the graph's TF-IDF norm relies on that). */
export function bagOf(text: string, vocabulary: ReadonlyMap<string, number>, maxTokens: number): Bag {
  const tokens = words(text, maxTokens);
  const counts = new Map<number, number>();
  for (const t of tokens) {
    const id = vocabulary.get(t);
    if (id !== undefined) counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const indices = [...counts.keys()].sort((a, b) => a - b);
  return { indices, values: indices.map((i) => counts.get(i) ?? 0), tokens: tokens.length };
}

/** A model version's vocabulary (term → id) and topics, parsed once per isolate; a handful of models, so a small LRU. */
export interface BagModel {
  vocabulary: Map<string, number>;
  topics: TopicsFile | undefined;
}

const bagModels = versionCache<BagModel>();

/** The vocabulary (and topics, when the manifest names them) of a model version, loaded through the task context. */
export function bagModelFor(manifest: Manifest, context: TaskContext): Promise<BagModel> {
  const cfg = bagConfig(manifest);
  const topicsFile = topicsConfig(manifest).topics_file;
  return bagModels(manifest, [cfg.vocabulary_file, topicsFile], async (): Promise<BagModel> => {
    const terms = z.array(z.string()).parse(await loadJson(context, cfg.vocabulary_file));
    const vocabulary = new Map(terms.map((t, i) => [t, i]));
    if (vocabulary.size !== terms.length) throw new Error(`${cfg.vocabulary_file} repeats a term`);
    const topics = topicsFile === undefined ? undefined : TopicsFileSchema.parse(await loadJson(context, topicsFile));
    return { vocabulary, topics };
  });
}
