/**
 * @module The OpenAI-compatible generation API: `POST /v1/completions` and `POST /v1/chat/completions`, plain or
 * streamed (`stream: true`: `text_completion` / `chat.completion.chunk` Server-Sent Events ending `data: [DONE]`),
 * over any text-generation model, through the deployment's `generate` (placement, cache, cancel). Chat messages are
 * rendered with the model's chat template. A field this service does not implement answers 422 naming it — never
 * silently ignored. Two extensions OpenAI lacks: `top_k` and `repetition_penalty`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, Env as HonoEnv } from 'hono';
import { invalidInput } from '../lib/errors.js';
import type { Manifest } from '../lib/manifest.js';
import { renderChat, type ChatMessage } from '../tasks/generation/chat-template.js';
import type { LoadedTokenizer } from '../tasks/text/hf-tokenizer.js';
import { decoderConfig } from '../tasks/generation/kv-cache.js';
import { collect, type GenerationEvents } from '../tasks/generation/events.js';
import { encodePrompt, planGeneration, type DecodingRequest, type GenerationPlan } from '../tasks/generation/plan.js';
import { clientSignal, streamEvents } from './sse.js';
import {
  createRouter,
  documented,
  errorResponses,
  KEY_SECURITY,
  PredictionHeaders,
  PredictionRequestHeaders,
} from './router.js';
import { generationModel, type Serving } from '../serving/contract.js';

/** Decoding fields both routes take (OpenAI's, plus `top_k` and `repetition_penalty`). */
const Decoding = {
  model: z
    .string()
    .min(1)
    .openapi({ description: 'A text-generation model id (or `id@version`).', example: 'brown-gpt-en' }),
  max_tokens: z
    .number()
    .int()
    .positive()
    .nullish()
    .openapi({ description: "New tokens at most; default: the model card's `default_max_tokens`." }),
  temperature: z
    .number()
    .min(0)
    .max(2)
    .nullish()
    .openapi({ description: "0 = greedy (cached); default: the model's own." }),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z
    .number()
    .int()
    .min(0)
    .nullish()
    .openapi({ description: 'Extension: keep the k most likely tokens (0 = off).' }),
  repetition_penalty: z.number().positive().nullish().openapi({ description: 'Extension: CTRL-style, 1 = off.' }),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number().min(-100).max(100)).nullish(),
  seed: z
    .number()
    .int()
    .nullish()
    .openapi({ description: 'Reproducible sampling: the same seed gives the same answer (cached).' }),
  stop: z
    .union([z.string(), z.array(z.string())])
    .nullish()
    .openapi({ description: 'Up to 4 sequences; the text stops before them.' }),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  n: z.number().int().nullish().openapi({ description: 'Only 1.' }),
  user: z.string().nullish().openapi({ description: 'Accepted for compatibility; not stored.' }),
};

/** Fields OpenAI defines that this service does not implement: present with a non-default value → 422 naming them. */
const REFUSED: Record<string, (v: unknown) => boolean> = {
  n: (v) => v !== 1,
  tools: (v) => !Array.isArray(v) || v.length > 0,
  tool_choice: (v) => v !== 'none',
  functions: () => true,
  function_call: (v) => v !== 'none',
  parallel_tool_calls: () => false,
  response_format: (v) => (v as { type?: unknown } | null)?.type !== 'text',
  logprobs: (v) => v !== false && v !== 0,
  top_logprobs: (v) => v !== 0,
  audio: () => true,
  modalities: (v) => !Array.isArray(v) || v.some((m) => m !== 'text'),
  prediction: () => true,
  web_search_options: () => true,
  reasoning_effort: () => true,
  store: (v) => v !== false,
  metadata: () => true,
  service_tier: (v) => v !== 'auto' && v !== 'default',
  best_of: (v) => v !== 1,
  suffix: () => true,
};

/** 422 for every field the route does not serve as sent, named in one message. */
function refuseUnsupported(body: Record<string, unknown>, known: ReadonlySet<string>): void {
  const refused: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (known.has(key) && !(key in REFUSED)) continue;
    if (value === null || value === undefined) continue;
    const refuse = REFUSED[key];
    if (refuse === undefined) refused.push(`${key} (unknown field)`);
    else if (key === 'n' && refuse(value)) refused.push('n (only 1 choice per request)');
    else if (refuse(value)) refused.push(key);
  }
  if (refused.length > 0)
    throw invalidInput(
      `Not supported by this service: ${refused.join(', ')}. Remove them or send their default values.`,
    );
}

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).strict();
const Message = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
    content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))]).nullish(),
    name: z.string().optional(),
  })
  .loose();

export const ChatCompletionRequestSchema = z
  .looseObject({
    ...Decoding,
    messages: z.array(Message).min(1),
    max_completion_tokens: z.number().int().positive().nullish(),
  })
  .openapi('ChatCompletionRequest');

export const CompletionRequestSchema = z
  .looseObject({
    ...Decoding,
    prompt: z
      .union([
        z.string(),
        z.array(z.string()),
        z.array(z.number().int().nonnegative()),
        z.array(z.array(z.number().int().nonnegative())),
      ])
      .openapi({ description: 'One prompt: text or token ids (a list of one is accepted).' }),
    echo: z.boolean().nullish().openapi({ description: 'Prefix the answer with the prompt.' }),
  })
  .openapi('CompletionRequest');

const Usage = z.object({
  prompt_tokens: z.number().int(),
  completion_tokens: z.number().int(),
  total_tokens: z.number().int(),
});
const FinishReason = z.enum(['stop', 'length', 'cancelled']).openapi({
  description: '`length`: cut at `max_tokens` or the context; `cancelled`: stopped by `DELETE /v1/generations/{id}`.',
});

const ChatCompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.null() }),
        logprobs: z.null(),
        finish_reason: FinishReason,
      }),
    ),
    usage: Usage,
  })
  .openapi('ChatCompletion');

const CompletionSchema = z
  .object({
    id: z.string(),
    object: z.literal('text_completion'),
    created: z.number().int(),
    model: z.string(),
    system_fingerprint: z.string(),
    choices: z.array(
      z.object({ index: z.number().int(), text: z.string(), logprobs: z.null(), finish_reason: FinishReason }),
    ),
    usage: Usage,
  })
  .openapi('Completion');

function responses(schema: z.ZodType, chunk: string) {
  return {
    200: {
      description: `The completion, or with \`stream: true\` Server-Sent Events of \`${chunk}\` objects ending \`data: [DONE]\`.`,
      headers: PredictionHeaders,
      content: {
        'application/json': { schema },
        'text/event-stream': {
          schema: z.string().openapi({ description: `SSE: one ${chunk} JSON per \`data:\` line.` }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 503),
  };
}

export const chatCompletionsRoute = createRoute({
  method: 'post',
  path: '/v1/chat/completions',
  operationId: 'createChatCompletion',
  tags: ['OpenAI-compatible'],
  summary: 'Chat completions (OpenAI API)',
  security: KEY_SECURITY,
  request: { body: { required: true, content: { 'application/json': { schema: ChatCompletionRequestSchema } } } },
  responses: responses(ChatCompletionSchema, 'chat.completion.chunk'),
});

export const completionsRoute = createRoute({
  method: 'post',
  path: '/v1/completions',
  operationId: 'createCompletion',
  tags: ['OpenAI-compatible'],
  summary: 'Completions (OpenAI API)',
  security: KEY_SECURITY,
  request: { body: { required: true, content: { 'application/json': { schema: CompletionRequestSchema } } } },
  responses: responses(CompletionSchema, 'text_completion'),
});

const CHAT_FIELDS = new Set([...Object.keys(Decoding), 'messages', 'max_completion_tokens']);
const COMPLETION_FIELDS = new Set([...Object.keys(Decoding), 'prompt', 'echo']);

type DecodingFields = { [K in keyof typeof Decoding]?: z.infer<(typeof Decoding)[K]> };

function decoding(body: DecodingFields, maxTokens: number | null | undefined): DecodingRequest {
  const orUndefined = <T>(v: T | null | undefined): T | undefined => v ?? undefined;
  return {
    maxNewTokens: orUndefined(maxTokens),
    // OpenAI samples whenever temperature > 0; without one, the model's own defaults decide.
    doSample: body.temperature == null ? undefined : body.temperature > 0,
    temperature: orUndefined(body.temperature),
    topK: orUndefined(body.top_k),
    topP: orUndefined(body.top_p),
    repetitionPenalty: orUndefined(body.repetition_penalty),
    frequencyPenalty: orUndefined(body.frequency_penalty),
    presencePenalty: orUndefined(body.presence_penalty),
    logitBias: orUndefined(body.logit_bias),
    seed: orUndefined(body.seed),
    stop: orUndefined(body.stop),
  };
}

const NAMES = { maxNewTokens: 'max_tokens', stop: 'stop', logitBias: 'logit_bias' };

/** Messages as the template takes them: text only, developer as system; tool turns are refused (no tools here). */
function chatMessages(messages: z.infer<typeof Message>[]): ChatMessage[] {
  return messages.map((m, i) => {
    if (m.role === 'tool' || m.role === 'function')
      throw invalidInput(`messages[${i}].role: '${m.role}' messages need tools, which this service does not serve.`);
    let content: string;
    if (typeof m.content === 'string') content = m.content;
    else if (Array.isArray(m.content)) {
      content = m.content
        .map((part, j) => {
          const text = TextPart.safeParse(part);
          if (!text.success)
            throw invalidInput(`messages[${i}].content[${j}]: only text parts are served (got '${part.type}').`);
          return text.data.text;
        })
        .join('');
    } else throw invalidInput(`messages[${i}].content: a string or text parts.`);
    return { role: m.role === 'developer' ? 'system' : m.role, content };
  });
}

function tokenText(tokenizer: LoadedTokenizer, id: number | undefined): string | undefined {
  return id === undefined ? undefined : tokenizer.tokenizer.id_to_token(id);
}

function completionPrompt(
  manifest: Manifest,
  tokenizer: LoadedTokenizer,
  prompt: z.infer<typeof CompletionRequestSchema>['prompt'],
): { ids: number[]; text: string } {
  const vocab = decoderConfig(manifest).vocab_size;
  const one = Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] !== 'number' ? prompt[0] : prompt;
  if (Array.isArray(one) && one.some((p) => typeof p !== 'number'))
    throw invalidInput('prompt: one prompt per request (n prompts would be n completions).');
  if (one === undefined) throw invalidInput('prompt: empty.');
  if (typeof one === 'string') return { ids: encodePrompt(manifest, tokenizer, one), text: one };
  const ids = one as number[];
  const bad = ids.findIndex((id) => id >= vocab);
  if (bad >= 0) throw invalidInput(`prompt[${bad}]: ${ids[bad]} is not a token id of '${manifest.id}'.`);
  return {
    ids,
    text: tokenizer.tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
  };
}

interface Started {
  id: string;
  manifest: Manifest;
  plan: GenerationPlan;
  events: GenerationEvents;
  abort: AbortController;
  created: number;
}

async function start<E extends HonoEnv>(
  serving: Serving<E>,
  c: Context<E>,
  manifest: Manifest,
  plan: GenerationPlan,
  prefix: string,
): Promise<Started> {
  const id = serving.generationId(c, prefix);
  const abort = new AbortController();
  const client = clientSignal(c);
  client.addEventListener('abort', () => abort.abort(new Error('client disconnected')), { once: true });
  const events = await serving.generate(c, manifest, plan, { id, signal: abort.signal });
  c.header('X-Generation-Id', id);
  return { id, manifest, plan, events, abort, created: Math.floor(Date.now() / 1000) };
}

const fingerprint = (m: Manifest): string => `${m.id}@${m.version}`;

export function completionsRoutes<E extends HonoEnv>(serving: Serving<E>) {
  const router = createRouter<E>();
  const chat = documented(router, chatCompletionsRoute, { headers: PredictionRequestHeaders });
  const plain = documented(router, completionsRoute, { headers: PredictionRequestHeaders });
  return router
    .openapi(chat, async (c) => {
      const body = c.req.valid('json');
      refuseUnsupported(body, CHAT_FIELDS);
      const { manifest, tokenizer } = await generationModel(serving, c, body.model, 'model');
      const config = decoderConfig(manifest);
      const prompt = renderChat(chatMessages(body.messages), config.chat_template, {
        bos_token: tokenText(tokenizer, config.bos_token_id),
        eos_token: tokenText(tokenizer, config.eos_token_ids[0]),
      });
      // The template writes the special tokens itself (transformers.js tokenizes it without adding more).
      const ids = tokenizer.tokenizer.encode(prompt, { add_special_tokens: false }).ids;
      const plan = planGeneration(manifest, ids, decoding(body, body.max_completion_tokens ?? body.max_tokens), {
        ...NAMES,
        maxNewTokens: body.max_completion_tokens == null ? 'max_tokens' : 'max_completion_tokens',
        prompt: 'messages',
      });
      const s = await start(serving, c, manifest, plan, 'chatcmpl');
      const head = {
        id: s.id,
        object: 'chat.completion.chunk' as const,
        created: s.created,
        model: manifest.id,
        system_fingerprint: fingerprint(manifest),
      };
      if (body.stream === true) {
        const includeUsage = body.stream_options?.include_usage === true;
        const usageField = includeUsage ? { usage: null } : {};
        let first = true;
        return streamEvents(
          c,
          s.events,
          s.abort,
          (e) => {
            const out: unknown[] = [];
            if (first) {
              first = false;
              out.push({
                ...head,
                choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
                ...usageField,
              });
            }
            if (e.type === 'text')
              out.push({
                ...head,
                choices: [{ index: 0, delta: { content: e.text }, logprobs: null, finish_reason: null }],
                ...usageField,
              });
            else {
              out.push({
                ...head,
                choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: e.finish_reason }],
                ...usageField,
              });
              if (includeUsage) out.push({ ...head, choices: [], usage: e.usage });
            }
            return out;
          },
          '[DONE]',
        );
      }
      const done = await collect(s.events);
      return c.json(
        {
          id: s.id,
          object: 'chat.completion' as const,
          created: s.created,
          model: manifest.id,
          system_fingerprint: fingerprint(manifest),
          choices: [
            {
              index: 0,
              message: { role: 'assistant' as const, content: done.text, refusal: null },
              logprobs: null,
              finish_reason: done.finish_reason,
            },
          ],
          usage: done.usage,
        },
        200,
      );
    })
    .openapi(plain, async (c) => {
      const body = c.req.valid('json');
      refuseUnsupported(body, COMPLETION_FIELDS);
      const { manifest, tokenizer } = await generationModel(serving, c, body.model, 'model');
      const prompt = completionPrompt(manifest, tokenizer, body.prompt);
      const plan = planGeneration(manifest, prompt.ids, decoding(body, body.max_tokens), {
        ...NAMES,
        prompt: 'prompt',
      });
      const s = await start(serving, c, manifest, plan, 'cmpl');
      const echo = body.echo === true ? prompt.text : '';
      const head = {
        id: s.id,
        object: 'text_completion' as const,
        created: s.created,
        model: manifest.id,
        system_fingerprint: fingerprint(manifest),
      };
      if (body.stream === true) {
        const includeUsage = body.stream_options?.include_usage === true;
        const usageField = includeUsage ? { usage: null } : {};
        let pending = echo;
        return streamEvents(
          c,
          s.events,
          s.abort,
          (e) => {
            const text = `${pending}${e.type === 'text' ? e.text : ''}`;
            pending = '';
            const out: unknown[] = [];
            if (e.type === 'text' || text !== '')
              out.push({ ...head, choices: [{ index: 0, text, logprobs: null, finish_reason: null }], ...usageField });
            if (e.type === 'done') {
              out.push({
                ...head,
                choices: [{ index: 0, text: '', logprobs: null, finish_reason: e.finish_reason }],
                ...usageField,
              });
              if (includeUsage) out.push({ ...head, choices: [], usage: e.usage });
            }
            return out;
          },
          '[DONE]',
        );
      }
      const done = await collect(s.events);
      return c.json(
        {
          ...head,
          object: 'text_completion' as const,
          choices: [{ index: 0, text: `${echo}${done.text}`, logprobs: null, finish_reason: done.finish_reason }],
          usage: done.usage,
        },
        200,
      );
    });
}
