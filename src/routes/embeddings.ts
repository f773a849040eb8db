/**
 * @module `POST /v1/embeddings`: the OpenAI embeddings API over any published feature-extraction model, through the
 * same cache → placement → task path as predictions.
 */
import { Hono } from 'hono';
import { z } from 'zod';
import { describeIssues, invalidInput } from '../lib/errors.js';
import type { Manifest } from '../storage/manifest.js';
import { parseModelRef } from '../storage/registry.js';
import { featureExtraction, tokenize, validateTexts, type Embedding } from '../tasks/feature-extraction.js';
import { limitBody, readJson } from './body.js';
import { servePlaced, taskContext, taskWays } from './placed.js';
import { services, type AppEnv } from './services.js';
import { bytesToBase64 } from '../tasks/base64.js';

const RequestSchema = z
  .object({
    model: z.string().min(1),
    input: z.unknown(),
    encoding_format: z.enum(['float', 'base64']).default('float'),
    dimensions: z.number().int().positive().optional(),
    /** Accepted for compatibility; not stored. */
    user: z.string().optional(),
  })
  .strict();

/** The hidden size a model's first output declares (last dimension), when it is a number. */
function hiddenSize(manifest: Manifest): number | undefined {
  const last = manifest.outputs[0]?.shape.at(-1);
  return typeof last === 'number' && last > 0 ? last : undefined;
}

/** OpenAI's base64 encoding: the float32 little-endian bytes of the vector. */
function isTokenArray(input: unknown): boolean {
  return (
    Array.isArray(input) &&
    input.length > 0 &&
    input.every((x) => typeof x === 'number' || (Array.isArray(x) && x.every((y) => typeof y === 'number')))
  );
}

export const embeddingsRouter = new Hono<AppEnv>().post('/', limitBody, async (c) => {
  const { registry, config } = services(c);
  const raw = await readJson(c);
  const req = RequestSchema.safeParse(raw);
  if (!req.success) throw invalidInput(describeIssues(req.error.issues));
  const { model, input, encoding_format: encoding, dimensions } = req.data;
  const manifest = await registry.resolve(parseModelRef(model));
  if (manifest.task !== 'feature-extraction') {
    throw invalidInput(
      `model: '${model}' is a ${manifest.task} model; /v1/embeddings serves feature-extraction models.`,
    );
  }
  if (isTokenArray(input))
    throw invalidInput('input: token id arrays are not supported; send a string or an array of strings.');
  const hidden = hiddenSize(manifest);
  if (dimensions !== undefined && dimensions !== hidden) {
    // Truncating a vector only keeps meaning for Matryoshka-trained models; refuse rather than answer something worse.
    throw invalidInput(
      `dimensions: '${model}' answers ${hidden ?? 'its own number of'} dimensions and cannot shorten its embeddings.`,
    );
  }
  const limits = { maxBatch: config.maxBatch, maxTextChars: config.maxTextChars };
  const { texts } = validateTexts(input, limits, 'input');
  // Always a list internally, so the cached value and the origin's answer have one shape.
  const parsed = await tokenize(texts, false, undefined, manifest, taskContext(registry, manifest));
  const ways = taskWays(registry, manifest, featureExtraction, parsed, () => ({
    body: JSON.stringify({ inputs: texts, parameters: { normalize: parsed.normalize } }),
    contentType: 'application/json',
  }));
  const result = await servePlaced(c, manifest, {
    ...ways,
    size: featureExtraction.size(parsed),
    surface: 'embeddings',
    cacheInput: featureExtraction.cacheKeyInput(parsed),
  });
  const vectors = result.output;
  if (!Array.isArray(vectors) || vectors.length !== texts.length)
    throw new Error(
      `embeddings: ${manifest.id} answered ${Array.isArray(vectors) ? vectors.length : typeof vectors} rows for ${texts.length} inputs`,
    );
  return c.json({
    object: 'list',
    data: (vectors as Embedding[]).map((embedding, index) => ({
      object: 'embedding',
      index,
      embedding: encoding === 'base64' ? bytesToBase64(new Uint8Array(Float32Array.from(embedding).buffer)) : embedding,
    })),
    model: manifest.id,
    usage: { prompt_tokens: parsed.tokens, total_tokens: parsed.tokens },
  });
});
