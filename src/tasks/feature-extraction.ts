/**
 * @module feature-extraction: string(s) → the model's own `tokenizer.json` (@huggingface/tokenizers, pure JS) →
 * BERT-shaped feeds (input_ids, attention_mask[, token_type_ids] int64 [batch, seq]) → last_hidden_state → mean
 * pooling over the attention mask → optional L2 normalisation → number[] per string.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { ServiceError, describeIssues } from '../lib/errors.js';
import type { Manifest } from '../storage/manifest.js';
import { type RequestBody, type RequestLimits, type TaskContext, type TaskModule } from './task.js';

import { asFloat32, type Feeds, type Outputs, type TensorData } from './tensor.js';

export type Embedding = number[];

export interface FeatureExtractionInput {
  texts: string[];
  single: boolean;
  normalize: boolean;
  /** Token ids per text, with the tokenizer's special tokens, truncated to the model's maximum. */
  ids: number[][];
  /** Token type ids per text (0 for single sequences). */
  typeIds: number[][];
  /** Tokens over all texts: what `usage` reports and placement's `max_tokens` compares. */
  tokens: number;
}

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

const ParametersSchema = z.object({ normalize: z.boolean().optional() }).strict();

/** Parsed tokenizers per model version and file digest; a handful of models at most, so a small LRU. */
const TOKENIZER_CACHE_SIZE = 8;
const tokenizers = new Map<string, Promise<Tokenizer>>();

function config(manifest: Manifest): FeatureExtractionConfig {
  return FeatureExtractionConfigSchema.parse(manifest.preprocess);
}

async function loadJson(context: TaskContext, name: string): Promise<object> {
  const value: unknown = JSON.parse(new TextDecoder().decode(await context.loadFile(name)));
  if (value === null || typeof value !== 'object') throw new Error(`${name} is not a JSON object`);
  return value;
}

/** The model's tokenizer, parsed once per isolate (or origin process) and model version. */
export function tokenizerFor(manifest: Manifest, context: TaskContext): Promise<Tokenizer> {
  const cfg = config(manifest);
  const digest = manifest.files.find((f) => f.name === cfg.tokenizer_file)?.sha256 ?? 'unlisted';
  const key = `${manifest.id}@${manifest.version}:${digest}`;
  const hit = tokenizers.get(key);
  if (hit !== undefined) {
    tokenizers.delete(key);
    tokenizers.set(key, hit);
    return hit;
  }
  const loading = (async () => {
    const json = await loadJson(context, cfg.tokenizer_file);
    const extra = cfg.tokenizer_config_file === undefined ? {} : await loadJson(context, cfg.tokenizer_config_file);
    return new Tokenizer(json, extra);
  })();
  tokenizers.set(key, loading);
  // A failed load is not kept: the next request tries again.
  loading.catch(() => tokenizers.delete(key));
  while (tokenizers.size > TOKENIZER_CACHE_SIZE) {
    const oldest = tokenizers.keys().next().value;
    if (oldest === undefined) break;
    tokenizers.delete(oldest);
  }
  return loading;
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

/** Tokenises validated texts with the model's tokenizer (shared by predict and /v1/embeddings). */
export async function tokenize(
  texts: string[],
  single: boolean,
  normalize: boolean | undefined,
  manifest: Manifest,
  context: TaskContext | undefined,
): Promise<FeatureExtractionInput> {
  if (context === undefined) throw new Error('feature-extraction needs a TaskContext to load its tokenizer');
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
    texts,
    single,
    normalize: normalize ?? cfg.normalize,
    ids,
    typeIds,
    tokens: ids.reduce((n, x) => n + x.length, 0),
  };
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

export const featureExtraction: TaskModule<FeatureExtractionInput, Embedding | Embedding[]> = {
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
    return tokenize(texts, single, params.data.normalize, manifest, context);
  },

  size: (p) => ({ batch: p.texts.length, tokens: p.tokens, inputBytes: p.texts.reduce((n, t) => n + t.length, 0) }),

  cacheKeyInput: (p) => ({ texts: p.texts, single: p.single, normalize: p.normalize }),

  preprocess(p: FeatureExtractionInput, manifest: Manifest): Feeds {
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

  postprocess(outputs: Outputs, p: FeatureExtractionInput, manifest: Manifest): Embedding | Embedding[] {
    const name = manifest.outputs[0]?.name ?? 'last_hidden_state';
    const hidden = outputs[name] ?? Object.values(outputs)[0];
    if (hidden === undefined) throw new Error(`model output ${name} is missing`);
    const rows = pool(hidden, p.ids, config(manifest).pooling, p.normalize);
    return p.single ? (rows[0] ?? []) : rows;
  },
};
