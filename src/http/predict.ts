/**
 * @module `POST /v1/models/{model}/predict`, the task API (Hugging Face task JSON): defined once, mounted by the edge
 * and by the origin over their own `Serving`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, Env as HonoEnv } from 'hono';
import { ServiceError } from '../lib/errors.js';
import { taskModule } from '../tasks/index.js';
import type { RequestBody } from '../tasks/task.js';
import { createRouter, documented, KEY_SECURITY, predictionResponses, PredictionRequestHeaders } from './router.js';
import { resolveModel, taskContext, type Serving } from '../serving/contract.js';

export const ModelRefParam = z.string().openapi({
  param: { name: 'model', in: 'path' },
  description: 'A model id (its `latest` version) or `id@version`.',
  example: 'sentiment-en',
});

const LabelScore = z.object({ label: z.string(), score: z.number() }).openapi('LabelScore');
const Explanation = z
  .object({
    labels: z.array(LabelScore),
    attributions: z.array(z.object({ token: z.string(), weight: z.number() })),
  })
  .openapi('Explanation', { description: '`parameters.explain: true` on text-classification.' });
const Segments = z
  .object({ duration: z.number(), segments: z.array(z.object({ start: z.number(), end: z.number() })) })
  .openapi('SpeechSegments', { description: 'voice-activity-detection, in seconds.' });
const Span = { start: z.number().int(), end: z.number().int() };
const TokenEntity = z
  .object({ entity: z.string(), score: z.number(), index: z.number().int(), word: z.string(), ...Span })
  .openapi('TokenEntity', { description: 'token-classification per token (`aggregation_strategy: "none"`).' });
const EntityGroup = z
  .object({ entity_group: z.string(), score: z.number(), word: z.string(), ...Span })
  .openapi('EntityGroup', {
    description: 'token-classification with `aggregation_strategy` simple, first, average, max.',
  });
const ZeroShot = z
  .object({ sequence: z.string(), labels: z.array(z.string()), scores: z.array(z.number()) })
  .openapi('ZeroShotClassification', { description: 'zero-shot-classification: candidate labels, best first.' });
const Answer = z
  .object({ score: z.number(), answer: z.string(), ...Span })
  .openapi('Answer', { description: 'question-answering: a span of the context, offsets in characters.' });
const Box = z
  .object({ xmin: z.number(), ymin: z.number(), xmax: z.number(), ymax: z.number() })
  .openapi('Box', { description: 'Pixels of the input image.' });
const Detection = z
  .object({
    label: z.string(),
    score: z.number(),
    box: Box,
    keypoints: z.array(z.object({ name: z.string(), x: z.number(), y: z.number() })).optional(),
  })
  .openapi('Detection', { description: 'object-detection and face-detection (faces add keypoints).' });
const TopicEmbedding = z
  .object({
    embedding: z.array(z.number()),
    topics: z.array(z.object({ topic: z.number().int(), weight: z.number(), terms: z.array(z.string()) })),
  })
  .openapi('TopicEmbedding', {
    description: 'feature-extraction with `parameters.topics: true` (topic models such as topics-en).',
  });
const TaskOutput = z.union([
  TopicEmbedding,
  LabelScore.array(),
  Explanation,
  Segments,
  z.array(z.number()),
  z.array(z.union([TokenEntity, EntityGroup])),
  ZeroShot,
  Answer,
  z.array(Answer),
  z.array(Detection),
]);

export const PredictOutputSchema = z.union([TaskOutput, z.array(TaskOutput)]).openapi('PredictOutput', {
  description:
    'The task output (Hugging Face conventions); a list input gives a list of outputs. ' +
    'text-, image- and tabular-classification: labels with scores, best first; feature-extraction: a vector; ' +
    'token-classification: entities with character offsets; zero-shot-classification: labels and scores; ' +
    'question-answering: the answer span (a list with top_k); object- and face-detection: boxes; ' +
    'feature-extraction with topics: the vector and its top topics.',
});

/** question-answering's input, as an OpenAPI schema object (`inputs` is validated by the task, not here). */
const QUESTION_CONTEXT = {
  type: 'object' as const,
  required: ['question', 'context'],
  properties: { question: { type: 'string' as const }, context: { type: 'string' as const } },
};

export const PredictRequestSchema = z
  .object({
    inputs: z
      .unknown()
      .refine((v) => v !== undefined, 'required')
      .openapi({
        description:
          'A string or a list of strings (text tasks), `{question, context}` or a list of them (question-answering), ' +
          'base64 image or WAV (or a list of them), a row or rows of numbers.',
        anyOf: [
          { type: 'string' },
          { type: 'array', items: { type: 'string' } },
          QUESTION_CONTEXT,
          { type: 'array', items: QUESTION_CONTEXT },
          { type: 'array', items: { type: 'number' } },
          { type: 'array', items: { type: 'array', items: { type: 'number' } } },
        ],
        example: 'What a wonderful little phone, I love it.',
      }),
    parameters: z
      .record(z.string(), z.unknown())
      .optional()
      .openapi({
        description:
          'Task parameters: `top_k`, `explain`, `normalize`, `aggregation_strategy`, `ignore_labels`, ' +
          '`candidate_labels`, `hypothesis_template`, `multi_label`, `max_answer_len`, `doc_stride`, `threshold`, VAD thresholds…',
        example: { top_k: 1 },
      }),
  })
  .openapi('PredictRequest');

const Binary = { schema: z.string().openapi({ format: 'binary' }) };

export const predictRoute = createRoute({
  method: 'post',
  path: '/v1/models/{model}/predict',
  operationId: 'predict',
  tags: ['Predictions'],
  summary: 'Run a model on an input',
  description:
    'JSON `{ inputs, parameters }`, or the raw image (`image/png`, `image/jpeg`) or audio (`audio/wav`) as the body.',
  security: KEY_SECURITY,
  request: {
    params: z.object({ model: ModelRefParam }),
    body: {
      // Not `required` here: with it, the JSON validator would also run on image and audio bodies. A missing body
      // still answers 415 or 422; the document states it is required (see `documented` below).
      required: false,
      content: {
        'application/json': { schema: PredictRequestSchema },
        'image/*': Binary,
        'audio/*': Binary,
        'application/octet-stream': Binary,
      },
    },
  },
  responses: predictionResponses(PredictOutputSchema, 'The task output.'),
});

const mediaType = (c: Context): string =>
  (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';

/** The validated JSON body, or the raw bytes of an image or audio body with their media type. */
async function readBody(c: Context, json: Partial<z.infer<typeof PredictRequestSchema>>): Promise<RequestBody> {
  const type = mediaType(c);
  // The route's validator has checked a JSON body already (and left `{}` for other media types).
  if (/^application\/([\w.-]+\+)?json$/.test(type)) {
    return { kind: 'json', inputs: json.inputs, parameters: json.parameters ?? {} };
  }
  if (type === '') throw new ServiceError(415, 'unsupported_media_type', 'Send JSON, an image or a WAV file.');
  return { kind: 'binary', bytes: new Uint8Array(await c.req.arrayBuffer()), contentType: type, parameters: {} };
}

/** The predict route over a deployment's serving. */
export function predictRoutes<E extends HonoEnv>(serving: Serving<E>) {
  const router = createRouter<E>();
  const route = documented(router, predictRoute, { headers: PredictionRequestHeaders, bodyRequired: true });
  return router.openapi(route, async (c) => {
    const manifest = await resolveModel(serving, c, c.req.valid('param').model);
    const registry = serving.registry(c);
    const task = taskModule(manifest.task);
    if (task === undefined) {
      throw new ServiceError(
        422,
        'invalid_input',
        `Model '${manifest.id}' (${manifest.task}) is served through POST /v2/models/${manifest.id}/infer only.`,
      );
    }
    const json = c.req.valid('json');
    const body = await readBody(c, typeof json === 'string' ? {} : json);
    const limits = serving.limits(c);
    const parsed = await task.parse(body, manifest, limits, taskContext(registry, manifest));
    const output = await serving.predict(c, manifest, { task, parsed, body });
    return c.json(output as z.infer<typeof PredictOutputSchema>, 200);
  });
}
