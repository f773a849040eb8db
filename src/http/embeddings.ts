/**
 * @module `POST /v1/embeddings`: the OpenAI embeddings API over any feature-extraction model (tokenizer models and
 * bag-of-words ones such as topics-en), through the same scope → cache → placement → task path as predictions.
 * Served by the edge (which may send the work to the origin's predict). `usage` counts the model's own tokens.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { invalidInput } from '../lib/errors.js';
import type { Manifest } from '../lib/manifest.js';
import { bytesToBase64 } from '../codecs/base64.js';
import { featureExtraction, tokenize, validateTexts, type Embedding } from '../tasks/text/feature-extraction.js';
import { createRouter, documented, KEY_SECURITY, predictionResponses, PredictionRequestHeaders } from './router.js';
import { edgeServing, serveCall, taskWays } from '../serving/edge.js';
import { resolveModel, taskContext } from '../serving/contract.js';
import { services, type AppEnv } from '../serving/services.js';

export const EmbeddingsRequestSchema = z
  .object({
    model: z
      .string()
      .min(1)
      .openapi({ description: 'A feature-extraction model id (or `id@version`).', example: 'my-embedder' }),
    input: z.unknown().openapi({
      description: 'A string or an array of strings (token id arrays are refused).',
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
      example: ['first text', 'second text'],
    }),
    encoding_format: z.enum(['float', 'base64']).default('float'),
    dimensions: z.number().int().positive().optional().openapi({ description: "Only the model's own size." }),
    /** Accepted for compatibility; not stored. */
    user: z.string().optional().openapi({ description: 'Accepted for compatibility; not stored.' }),
  })
  .strict()
  .openapi('EmbeddingsRequest');

export const EmbeddingsResponseSchema = z
  .object({
    object: z.literal('list'),
    data: z.array(
      z.object({
        object: z.literal('embedding'),
        index: z.number().int(),
        embedding: z.union([z.array(z.number()), z.string()]).openapi({
          description: 'Floats, or base64 of their float32 little-endian bytes (`encoding_format: base64`).',
        }),
      }),
    ),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.number().int(), total_tokens: z.number().int() }),
  })
  .openapi('EmbeddingsResponse');

export const embeddingsRoute = createRoute({
  method: 'post',
  path: '/v1/embeddings',
  operationId: 'createEmbeddings',
  tags: ['OpenAI-compatible'],
  summary: 'Embeddings (OpenAI API)',
  security: KEY_SECURITY,
  request: {
    body: { required: true, content: { 'application/json': { schema: EmbeddingsRequestSchema } } },
  },
  responses: predictionResponses(EmbeddingsResponseSchema, 'One embedding per input, in order.'),
});

/** The hidden size a model's first output declares (last dimension), when it is a number. */
function hiddenSize(manifest: Manifest): number | undefined {
  const last = manifest.outputs[0]?.shape.at(-1);
  return typeof last === 'number' && last > 0 ? last : undefined;
}

function isTokenArray(input: unknown): boolean {
  return (
    Array.isArray(input) &&
    input.length > 0 &&
    input.every((x) => typeof x === 'number' || (Array.isArray(x) && x.every((y) => typeof y === 'number')))
  );
}

const router = createRouter<AppEnv>();
export const embeddingsRoutes = router.openapi(
  documented(router, embeddingsRoute, { headers: PredictionRequestHeaders }),
  async (c) => {
    const { registry, config } = services(c);
    const { model, input, encoding_format: encoding, dimensions } = c.req.valid('json');
    const manifest = await resolveModel(edgeServing, c, model);
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
    const { texts } = validateTexts(input, config, 'input');
    // Always a list internally, so the cached value and the origin's answer have one shape.
    const parsed = await tokenize(texts, false, undefined, manifest, taskContext(registry, manifest));
    const ways = taskWays(registry, manifest, featureExtraction, parsed, () => ({
      body: JSON.stringify({ inputs: texts, parameters: { normalize: parsed.normalize } }),
      contentType: 'application/json',
    }));
    const result = await serveCall(c, manifest, {
      ...ways,
      size: featureExtraction.size(parsed),
      surface: 'embeddings',
      cacheInput: featureExtraction.cacheKeyInput(parsed),
    });
    const vectors = result.output;
    if (!Array.isArray(vectors) || vectors.length !== texts.length) {
      throw new Error(
        `embeddings: ${manifest.id} answered ${Array.isArray(vectors) ? vectors.length : typeof vectors} rows for ${texts.length} inputs`,
      );
    }
    return c.json(
      {
        object: 'list' as const,
        data: (vectors as Embedding[]).map((embedding, index) => ({
          object: 'embedding' as const,
          index,
          embedding:
            encoding === 'base64' ? bytesToBase64(new Uint8Array(Float32Array.from(embedding).buffer)) : embedding,
        })),
        model: manifest.id,
        usage: { prompt_tokens: parsed.tokens, total_tokens: parsed.tokens },
      },
      200,
    );
  },
);
