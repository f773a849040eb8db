/**
 * @module feature-extraction: string(s) → one vector each, by one of two preprocessing kinds (`preprocess.kind`):
 * - a tokenizer (no kind, as every older manifest has): the model's own `tokenizer.json` (@huggingface/tokenizers,
 *   pure JS) → BERT-shaped feeds (input_ids, attention_mask[, token_type_ids] int64 [batch, seq]) →
 *   last_hidden_state → mean (or [CLS]) pooling over the attention mask;
 * - `bag-of-words` (topics-en's LSI): the model's vocabulary file → term ids and counts as an `indices` + `values`
 *   bag → the graph's own [batch, dims] vector; `parameters.topics` adds each text's strongest topics and their terms.
 * Then optional L2 normalisation → number[] per string.
 */
import type { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { ServiceError, describeIssues } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import {
  bagConfig,
  bagModelFor,
  bagOf,
  isBagOfWords,
  topicsConfig,
  type Bag,
  type TopicsFile,
} from './bag-of-words.js';
import { loadTokenizer } from './hf-tokenizer.js';
import { type RequestBody, type RequestLimits, type TaskContext, type TaskModule } from '../task.js';

import { asFloat32, float32, type Feeds, type Outputs, type TensorData } from '../tensor.js';
import { padSparse } from './text-features.js';

export type Embedding = number[];

/** One of a text's strongest topics: its dimension, the text's weight on it, and the terms of that pole. */
export interface TopicWeight {
  topic: number;
  weight: number;
  terms: string[];
}
/** A text's answer with `parameters.topics`. */
export interface TopicEmbedding {
  embedding: Embedding;
  topics: TopicWeight[];
}
export type FeatureExtractionOutput = Embedding | Embedding[] | TopicEmbedding | TopicEmbedding[];

/** What `parameters.topics` asked for, with the model's topic table. */
export interface TopicsRequest {
  top: number;
  terms: number;
  table: TopicsFile;
}

interface CommonInput {
  texts: string[];
  single: boolean;
  normalize: boolean;
  /** Tokens over all texts: what `usage` reports and placement's `max_tokens` compares. */
  tokens: number;
  topics?: TopicsRequest;
}

/** Tokenizer models: token ids per text, with the tokenizer's special tokens, truncated to the model's maximum. */
export interface TokenizedInput extends CommonInput {
  kind: 'tokens';
  ids: number[][];
  /** Token type ids per text (0 for single sequences). */
  typeIds: number[][];
}

/** Bag-of-words models: each text's vocabulary ids and counts. */
export interface BagInput extends CommonInput {
  kind: 'bag';
  bags: Bag[];
}

export type FeatureExtractionInput = TokenizedInput | BagInput;

/** Manifest `preprocess` for feature-extraction models (the publish CLI writes it). */
export const FeatureExtractionConfigSchema = z.object({
  tokenizer_file: z.string().default('tokenizer.json'),
  tokenizer_config_file: z.string().optional(),
  /** Longest token sequence fed to the model (longer texts are truncated, keeping the final special token). */
  max_length: z.number().int().min(2).default(512),
  pad_token_id: z.number().int().nonnegative().default(0),
  pooling: z.enum(['mean', 'cls']).default('mean'),
  normalize: z.boolean().default(true),
});
export type FeatureExtractionConfig = z.infer<typeof FeatureExtractionConfigSchema>;

const ParametersSchema = z
  .object({
    normalize: z.boolean().optional(),
    /** Bag-of-words models with topics: list each text's strongest topics beside its vector. */
    topics: z.boolean().optional(),
    top_topics: z.number().int().min(1).optional(),
    topic_terms: z.number().int().min(1).optional(),
  })
  .strict();
type Parameters = z.infer<typeof ParametersSchema>;

function config(manifest: Manifest): FeatureExtractionConfig {
  return FeatureExtractionConfigSchema.parse(manifest.preprocess);
}

/** The model's tokenizer, parsed once per isolate (or origin process) and model version. */
export async function tokenizerFor(manifest: Manifest, context: TaskContext): Promise<Tokenizer> {
  return (await loadTokenizer(manifest, context, config(manifest))).tokenizer;
}

/** Keeps the first `max - 1` tokens and the last one (the closing special token, e.g. [SEP]). */
function truncate(xs: number[], max: number): number[] {
  return xs.length <= max ? xs : [...xs.slice(0, max - 1), xs[xs.length - 1] ?? 0];
}

export function validateTexts(
  inputs: unknown,
  limits: RequestLimits,
  field = 'inputs',
): { texts: string[]; single: boolean } {
  if (Array.isArray(inputs)) {
    const bad = inputs.findIndex((t) => typeof t !== 'string');
    if (bad !== -1) throw new ServiceError(422, 'invalid_input', `${field}[${bad}]: must be a string.`);
  } else if (typeof inputs !== 'string') {
    throw new ServiceError(422, 'invalid_input', `${field}: must be a string or an array of strings.`);
  }
  const single = typeof inputs === 'string';
  const texts: string[] = typeof inputs === 'string' ? [inputs] : (inputs as string[]);
  if (texts.length === 0) throw new ServiceError(422, 'invalid_input', `${field}: must hold at least one string.`);
  if (texts.length > limits.maxBatch)
    throw new ServiceError(
      422,
      'invalid_input',
      `${field}: at most ${limits.maxBatch} strings per request (got ${texts.length}).`,
    );
  texts.forEach((t, i) => {
    const where = single ? field : `${field}[${i}]`;
    if (t.length === 0) throw new ServiceError(422, 'invalid_input', `${where}: must not be empty.`);
    if (t.length > limits.maxTextChars)
      throw new ServiceError(
        422,
        'invalid_input',
        `${where}: at most ${limits.maxTextChars} characters (got ${t.length}).`,
      );
  });
  return { texts, single };
}

/**
 * Turns validated texts into the model's input, by its preprocessing kind (shared by predict and /v1/embeddings,
 * which passes no topics).
 */
export async function tokenize(
  texts: string[],
  single: boolean,
  normalize: boolean | undefined,
  manifest: Manifest,
  context: TaskContext | undefined,
  topics: Pick<Parameters, 'topics' | 'top_topics' | 'topic_terms'> = {},
): Promise<FeatureExtractionInput> {
  if (context === undefined) throw new Error('feature-extraction needs a TaskContext to load its model files');
  if (isBagOfWords(manifest)) return bagInput(texts, single, normalize, manifest, context, topics);
  if (topics.topics !== undefined || topics.top_topics !== undefined || topics.topic_terms !== undefined)
    throw new ServiceError(422, 'invalid_input', `parameters.topics: ${manifest.id} has no topics.`);
  const cfg = config(manifest);
  const tokenizer = await tokenizerFor(manifest, context);
  const ids: number[][] = [];
  const typeIds: number[][] = [];
  for (const text of texts) {
    const e = tokenizer.encode(text, { return_token_type_ids: true });
    ids.push(truncate(e.ids, cfg.max_length));
    typeIds.push(truncate(e.token_type_ids, cfg.max_length));
  }
  return {
    kind: 'tokens',
    texts,
    single,
    normalize: normalize ?? cfg.normalize,
    ids,
    typeIds,
    tokens: ids.reduce((n, x) => n + x.length, 0),
  };
}

async function bagInput(
  texts: string[],
  single: boolean,
  normalize: boolean | undefined,
  manifest: Manifest,
  context: TaskContext,
  params: Pick<Parameters, 'topics' | 'top_topics' | 'topic_terms'>,
): Promise<BagInput> {
  const cfg = bagConfig(manifest);
  const model = await bagModelFor(manifest, context);
  const bags = texts.map((t) => bagOf(t, model.vocabulary, cfg.max_tokens));
  const input: BagInput = {
    kind: 'bag',
    texts,
    single,
    normalize: normalize ?? cfg.normalize,
    bags,
    tokens: bags.reduce((n, b) => n + b.tokens, 0),
  };
  const topics = topicsRequest(manifest, model.topics, params);
  return topics === undefined ? input : { ...input, topics };
}

/** What `parameters.topics` (and its companions) ask of a model, checked against the topics it has. */
function topicsRequest(
  manifest: Manifest,
  table: TopicsFile | undefined,
  params: Pick<Parameters, 'topics' | 'top_topics' | 'topic_terms'>,
): TopicsRequest | undefined {
  if (params.topics !== true) {
    for (const name of ['top_topics', 'topic_terms'] as const)
      if (params[name] !== undefined)
        throw new ServiceError(422, 'invalid_input', `parameters.${name}: only with parameters.topics: true.`);
    return undefined;
  }
  if (table === undefined)
    throw new ServiceError(422, 'invalid_input', `parameters.topics: ${manifest.id} has no topics.`);
  const cfg = topicsConfig(manifest);
  const count = table.topics.length;
  const longest = Math.max(0, ...table.topics.map((t) => Math.max(t.positive.length, t.negative.length)));
  const top = params.top_topics ?? Math.min(cfg.top_topics, count);
  const terms = params.topic_terms ?? Math.min(cfg.topic_terms, longest);
  if (top > count)
    throw new ServiceError(422, 'invalid_input', `parameters.top_topics: ${manifest.id} has ${count} topics.`);
  if (terms > longest)
    throw new ServiceError(422, 'invalid_input', `parameters.topic_terms: at most ${longest} terms per topic.`);
  return { top, terms, table };
}

/** The strongest topics of one vector (by |weight|, ties by dimension), each described by the pole its sign picks. */
export function strongestTopics(vector: Embedding, request: TopicsRequest): TopicWeight[] {
  return vector
    .map((weight, topic) => ({ weight, topic }))
    .filter((t) => t.weight !== 0)
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight) || a.topic - b.topic)
    .slice(0, request.top)
    .map(({ topic, weight }) => {
      const entry = request.table.topics.find((t) => t.topic === topic);
      const pole = weight > 0 ? entry?.positive : entry?.negative;
      return { topic, weight, terms: (pole ?? []).slice(0, request.terms).map((t) => t.term) };
    });
}

/** Pools [batch, seq, hidden] rows over the attention mask (mean) or takes the first token (cls); 2-D outputs pass through. */
export function pool(hidden: TensorData, ids: number[][], pooling: 'mean' | 'cls', normalize: boolean): Embedding[] {
  const data = asFloat32(hidden, 'last_hidden_state');
  const dims = hidden.dims;
  const batch = ids.length;
  const out: Embedding[] = [];
  if (dims.length === 2) {
    const width = dims[1] ?? 0;
    for (let b = 0; b < batch; b++) out.push(finish(data.subarray(b * width, (b + 1) * width), normalize));
    return out;
  }
  const seq = dims[1] ?? 0;
  const width = dims[2] ?? 0;
  for (let b = 0; b < batch; b++) {
    const len = Math.min(seq, ids[b]?.length ?? 0);
    const acc = new Float64Array(width);
    const count = pooling === 'cls' ? Math.min(1, len) : len;
    for (let t = 0; t < count; t++) {
      const row = (b * seq + t) * width;
      for (let h = 0; h < width; h++) acc[h] = (acc[h] ?? 0) + (data[row + h] ?? 0);
    }
    for (let h = 0; h < width; h++) acc[h] = (acc[h] ?? 0) / Math.max(1, count);
    out.push(finish(acc, normalize));
  }
  return out;
}

function finish(v: ArrayLike<number>, normalize: boolean): Embedding {
  const xs = Array.from(v);
  if (!normalize) return xs;
  const norm = Math.sqrt(xs.reduce((s, x) => s + x * x, 0));
  return norm > 0 ? xs.map((x) => x / norm) : xs;
}

/** The rows of a [batch, dims] output (bag models answer their vector directly). */
function vectorRows(out: TensorData, batch: number, normalize: boolean): Embedding[] {
  const data = asFloat32(out, 'embedding');
  const width = out.dims[1] ?? 0;
  return Array.from({ length: batch }, (_, b) => finish(data.subarray(b * width, (b + 1) * width), normalize));
}

/** A bag batch as the graph's int64 indices and float32 counts, [batch, widest row], padded with id 0 / count 0. */
function bagFeeds(p: BagInput, manifest: Manifest): Feeds {
  const indexInput = manifest.inputs.find((i) => i.dtype === 'int64');
  const valueInput = manifest.inputs.find((i) => i.dtype === 'float32');
  if (indexInput === undefined || valueInput === undefined)
    throw new Error(`bag-of-words model ${manifest.id} must take int64 indices and float32 values`);
  const b = padSparse(p.bags);
  const dims = [p.bags.length, b.width];
  return {
    [indexInput.name]: { type: 'int64', dims, data: b.indices },
    [valueInput.name]: float32(b.values, dims),
  };
}

export const featureExtraction: TaskModule<FeatureExtractionInput, FeatureExtractionOutput> = {
  task: 'feature-extraction',

  async parse(
    body: RequestBody,
    manifest: Manifest,
    limits: RequestLimits,
    context?: TaskContext,
  ): Promise<FeatureExtractionInput> {
    if (body.kind !== 'json')
      throw new ServiceError(
        415,
        'unsupported_media_type',
        'feature-extraction takes application/json with "inputs": string | string[].',
      );
    const params = ParametersSchema.safeParse(body.parameters);
    if (!params.success)
      throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
    const { texts, single } = validateTexts(body.inputs, limits);
    const { normalize, ...topics } = params.data;
    return tokenize(texts, single, normalize, manifest, context, topics);
  },

  size: (p) => ({ batch: p.texts.length, tokens: p.tokens, inputBytes: p.texts.reduce((n, t) => n + t.length, 0) }),

  // Without topics the key is what it always was, so existing cache entries stay valid.
  cacheKeyInput: (p) => ({
    texts: p.texts,
    single: p.single,
    normalize: p.normalize,
    ...(p.topics === undefined ? {} : { topics: { top: p.topics.top, terms: p.topics.terms } }),
  }),

  preprocess(p: FeatureExtractionInput, manifest: Manifest): Feeds {
    if (p.kind === 'bag') return bagFeeds(p, manifest);
    const cfg = config(manifest);
    const batch = p.ids.length;
    const seq = Math.max(...p.ids.map((x) => x.length));
    const ids = new BigInt64Array(batch * seq).fill(BigInt(cfg.pad_token_id));
    const mask = new BigInt64Array(batch * seq);
    const types = new BigInt64Array(batch * seq);
    p.ids.forEach((row, b) =>
      row.forEach((id, t) => {
        ids[b * seq + t] = BigInt(id);
        mask[b * seq + t] = 1n;
        types[b * seq + t] = BigInt(p.typeIds[b]?.[t] ?? 0);
      }),
    );
    const dims = [batch, seq];
    const byName: Record<string, TensorData> = {
      input_ids: { type: 'int64', dims, data: ids },
      attention_mask: { type: 'int64', dims, data: mask },
      token_type_ids: { type: 'int64', dims, data: types },
    };
    // Only what the graph declares: many exports (DistilBERT, MiniLM variants) take no token_type_ids.
    const feeds: Feeds = {};
    for (const input of manifest.inputs) {
      const t = byName[input.name];
      if (t === undefined) throw new Error(`feature-extraction cannot feed input ${input.name} of ${manifest.id}`);
      feeds[input.name] = t;
    }
    return feeds;
  },

  postprocess(outputs: Outputs, p: FeatureExtractionInput, manifest: Manifest): FeatureExtractionOutput {
    const name = manifest.outputs[0]?.name ?? 'last_hidden_state';
    const hidden = outputs[name] ?? Object.values(outputs)[0];
    if (hidden === undefined) throw new Error(`model output ${name} is missing`);
    const rows =
      p.kind === 'bag'
        ? vectorRows(hidden, p.bags.length, p.normalize)
        : pool(hidden, p.ids, config(manifest).pooling, p.normalize);
    const topics = p.topics;
    if (topics === undefined) return p.single ? (rows[0] ?? []) : rows;
    const described = rows.map((embedding) => ({ embedding, topics: strongestTopics(embedding, topics) }));
    return p.single ? (described[0] ?? { embedding: [], topics: [] }) : described;
  },
};
