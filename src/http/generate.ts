/**
 * @module The native generation API, defined once and mounted by the edge and the origin over their `Serving`:
 * `POST /v1/models/{model}/generate` (a prompt as text or token ids, Hugging Face's parameter names; JSON, or
 * Server-Sent Events with `stream: true`) and `DELETE /v1/generations/{id}`. The edge forwards origin-placed
 * generations here with the prompt's token ids (src/serving/generation.ts writes that request), so both sides decode
 * the same sequence.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Env as HonoEnv } from 'hono';
import { ServiceError, invalidInput } from '../lib/errors.js';
import type { Manifest } from '../lib/manifest.js';
import type { LoadedTokenizer } from '../tasks/text/hf-tokenizer.js';
import { decoderConfig } from '../tasks/generation/kv-cache.js';
import { collect } from '../tasks/generation/events.js';
import {
  DECODING_PARAMETERS,
  decodingRequest,
  encodePrompt,
  planGeneration,
  type GenerationPlan,
} from '../tasks/generation/plan.js';
import {
  createRouter,
  documented,
  errorResponses,
  KEY_SECURITY,
  PredictionHeaders,
  PredictionRequestHeaders,
} from './router.js';
import { ModelRefParam } from './predict.js';
import { generationModel, type Serving } from '../serving/contract.js';
import { clientSignal, streamEvents } from './sse.js';

const GenerateParameters = z
  .object({ ...DECODING_PARAMETERS, logit_bias: z.record(z.string(), z.number().min(-100).max(100)).optional() })
  .strict()
  .openapi('GenerateParameters');

export const GenerateRequestSchema = z
  .object({
    inputs: z
      .union([z.string(), z.array(z.number().int().nonnegative()).min(1)])
      .openapi({ description: 'The prompt as text, or as token ids (sent as they are: no BOS is added).' }),
    parameters: GenerateParameters.optional(),
    stream: z.boolean().default(false),
  })
  .strict()
  .openapi('GenerateRequest');

const UsageSchema = z
  .object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() })
  .openapi('Usage');

const GenerateResponseSchema = z
  .object({
    id: z.string(),
    generated_text: z.string(),
    finish_reason: z.enum(['stop', 'length', 'cancelled']),
    usage: UsageSchema,
  })
  .openapi('GenerateResponse');

export const generateRoute = createRoute({
  method: 'post',
  path: '/v1/models/{model}/generate',
  operationId: 'generate',
  tags: ['Generation'],
  summary: 'Generate text (native API)',
  description:
    'JSON answer, or with `stream: true` Server-Sent Events: `{"type":"text","text":…,"tokens":n}` as text becomes ' +
    'final, then `{"type":"done","finish_reason":…,"usage":…,"text":…}`. `X-Generation-Id` names the generation for ' +
    '`DELETE /v1/generations/{id}`.',
  security: KEY_SECURITY,
  request: {
    params: z.object({ model: ModelRefParam }),
    body: { required: true, content: { 'application/json': { schema: GenerateRequestSchema } } },
  },
  responses: {
    200: {
      description: 'The generated text, or its event stream.',
      headers: PredictionHeaders,
      content: {
        'application/json': { schema: GenerateResponseSchema },
        'text/event-stream': { schema: z.string().openapi({ description: 'SSE: one JSON event per `data:` line.' }) },
      },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 503),
  },
});

export const cancelRoute = createRoute({
  method: 'delete',
  path: '/v1/generations/{id}',
  operationId: 'cancelGeneration',
  tags: ['Generation'],
  summary: 'Stop a running generation',
  description:
    'Stops a generation this key started (its id is the `id` of a completion or the `X-Generation-Id` header). ' +
    'The stream ends with `finish_reason: "cancelled"`; tokens generated so far are kept in `usage`.',
  security: KEY_SECURITY,
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(128)
        .openapi({ param: { name: 'id', in: 'path' } }),
    }),
  },
  responses: {
    200: {
      description: 'Cancelled.',
      content: {
        'application/json': {
          schema: z
            .object({ id: z.string(), object: z.literal('generation'), cancelled: z.literal(true) })
            .openapi('Cancelled'),
        },
      },
    },
    ...errorResponses(401, 404),
  },
});

/** The plan for a native request: text prompts through the tokenizer, token ids as they are. */
export function planNative(
  manifest: Manifest,
  tokenizer: LoadedTokenizer,
  body: z.infer<typeof GenerateRequestSchema>,
): GenerationPlan {
  const p = body.parameters ?? {};
  const vocab = decoderConfig(manifest).vocab_size;
  let ids: number[];
  if (typeof body.inputs === 'string') ids = encodePrompt(manifest, tokenizer, body.inputs);
  else {
    const bad = body.inputs.findIndex((id) => id >= vocab);
    if (bad >= 0)
      throw invalidInput(`inputs[${bad}]: ${body.inputs[bad]} is not a token id of '${manifest.id}' (0–${vocab - 1}).`);
    ids = body.inputs;
  }
  return planGeneration(manifest, ids, decodingRequest(p), {
    maxNewTokens: 'parameters.max_new_tokens',
    stop: 'parameters.stop',
    logitBias: 'parameters.logit_bias',
    prompt: 'inputs',
  });
}

export function generateRoutes<E extends HonoEnv>(serving: Serving<E>) {
  const router = createRouter<E>();
  const native = documented(router, generateRoute, { headers: PredictionRequestHeaders });
  const cancel = documented(router, cancelRoute, {});
  return router
    .openapi(native, async (c) => {
      const { model } = c.req.valid('param');
      const body = c.req.valid('json');
      const { manifest, tokenizer } = await generationModel(serving, c, model, 'model');
      const plan = planNative(manifest, tokenizer, body);
      const id = serving.generationId(c, 'gen');
      const abort = new AbortController();
      const onClient = (): void => abort.abort(new Error('client disconnected'));
      clientSignal(c).addEventListener('abort', onClient, { once: true });
      const events = await serving.generate(c, manifest, plan, { id, signal: abort.signal });
      c.header('X-Generation-Id', id);
      if (body.stream) return streamEvents(c, events, abort, (e) => [e]);
      const done = await collect(events);
      clientSignal(c).removeEventListener('abort', onClient);
      return c.json({ id, generated_text: done.text, finish_reason: done.finish_reason, usage: done.usage }, 200);
    })
    .openapi(cancel, async (c) => {
      const { id } = c.req.valid('param');
      if (!(await serving.cancel(c, id)))
        throw new ServiceError(404, 'not_found', `No running generation '${id}' of yours here (it may have finished).`);
      return c.json({ id, object: 'generation' as const, cancelled: true as const }, 200);
    });
}
