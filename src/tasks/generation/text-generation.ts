/**
 * @module text-generation: decoder-only models in Optimum's layout. A request becomes a `GenerationPlan` (prompt
 * token ids, `max_new_tokens` bounded by the context and the service, sampling settings, stop sequences); a
 * `Generation` turns each step's logits into the next token and the text it adds, holding back what could still be
 * the start of a stop sequence or half a UTF-8 character, so streamed pieces always concatenate to the final text.
 * `generate` drives one sequence over any runner (the edge's session: prefill once, then one run per token with the
 * KV cache); the origin's scheduler drives many through the same `Generation` (origin/generation-scheduler.ts).
 * The task API (`/v1/models/{id}/predict`) answers Hugging Face's `[{ generated_text }]`.
 */
import { z } from 'zod';
import { ServiceError, describeIssues, invalidInput } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { hfTokenizerConfig, loadTokenizer, type LoadedTokenizer } from '../text/hf-tokenizer.js';
import { decoderConfig, emptyBatch, runStep, type DecoderConfig } from './kv-cache.js';
import { chooseToken, randomSeed, SAMPLER, seededRng, type Rng, type SamplingParams } from '../../maths/sampling.js';
import type { RequestBody, RequestLimits, TaskContext, TaskModule } from '../task.js';
import type { ModelRunner } from '../tensor.js';

/** Service-wide ceiling on one request's new tokens, whatever the model's context allows. */
export const MAX_NEW_TOKENS_LIMIT = 1024;
export const MAX_STOP_SEQUENCES = 4;

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What a generation reports, in order: text pieces as they become final, then one `done`. */
export type GenerationEvent =
  | { type: 'text'; text: string; tokens: number }
  | { type: 'done'; finish_reason: FinishReason; usage: Usage; text: string };

/** A generation's events: streamed as they come, or replayed from the cache. */
export type GenerationEvents = AsyncIterable<GenerationEvent> | Iterable<GenerationEvent>;

/** Everything a generation needs, runtime-neutral and JSON-serialisable (the edge sends it to the origin as is). */
export interface GenerationPlan {
  promptIds: number[];
  maxNewTokens: number;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  frequencyPenalty: number;
  presencePenalty: number;
  /** [token id, bias] pairs. */
  logitBias: [number, number][];
  seed: number;
  /** Whether the caller gave the seed (or decoding is greedy): only then is the answer reproducible and cacheable. */
  reproducible: boolean;
  stop: string[];
}

export const GenerationPlanSchema = z
  .object({
    promptIds: z.array(z.number().int().nonnegative()).min(1),
    maxNewTokens: z.number().int().positive(),
    temperature: z.number().min(0),
    topK: z.number().int().min(0),
    topP: z.number().gt(0).max(1),
    repetitionPenalty: z.number().positive(),
    frequencyPenalty: z.number(),
    presencePenalty: z.number(),
    logitBias: z.array(z.tuple([z.number().int().nonnegative(), z.number()])),
    seed: z.number().int(),
    reproducible: z.boolean(),
    stop: z.array(z.string().min(1)).max(MAX_STOP_SEQUENCES),
  })
  .strict();

/** A `done` event as JSON on the wire. */
export const DoneSchema = z.object({
  type: z.literal('done'),
  finish_reason: z.enum(['stop', 'length', 'cancelled']),
  usage: z.object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
  }),
  text: z.string(),
});
/** The native route's SSE events as JSON on the wire (the edge reads the origin's; the benchmark reads both). */
export const GenerationEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string(), tokens: z.number().int() }),
  DoneSchema,
]);

/** Decoding settings as a request states them, before the model's defaults and limits apply. */
export interface DecodingRequest {
  maxNewTokens?: number | undefined;
  /** Hugging Face's switch; OpenAI requests sample whenever temperature > 0. */
  doSample?: boolean | undefined;
  temperature?: number | undefined;
  topK?: number | undefined;
  topP?: number | undefined;
  repetitionPenalty?: number | undefined;
  frequencyPenalty?: number | undefined;
  presencePenalty?: number | undefined;
  logitBias?: Record<string, number> | undefined;
  seed?: number | undefined;
  stop?: string | string[] | undefined;
}

/** Where a request's field names live, for error messages (`parameters.max_new_tokens`, `max_tokens`). */
export interface FieldNames {
  maxNewTokens: string;
  stop: string;
  logitBias: string;
  prompt: string;
}

/** The model card's generation facts: what a client needs to size its requests. */
export function generationLimits(manifest: Manifest): { context_length: number; default_max_tokens: number } {
  const config = decoderConfig(manifest);
  return {
    context_length: config.context_length,
    default_max_tokens: Math.min(config.default_max_tokens, MAX_NEW_TOKENS_LIMIT),
  };
}

/** Applies the model's defaults and limits; 422 names the field that cannot be honoured. */
export function planGeneration(
  manifest: Manifest,
  promptIds: number[],
  request: DecodingRequest,
  names: FieldNames,
): GenerationPlan {
  const config = decoderConfig(manifest);
  const d = config.defaults;
  if (promptIds.length === 0) throw invalidInput(`${names.prompt}: the prompt is empty.`);
  const room = config.context_length - promptIds.length;
  if (room < 1) {
    throw invalidInput(
      `${names.prompt}: ${promptIds.length} tokens; '${manifest.id}' holds ${config.context_length} tokens in all ` +
        '(prompt and completion), so the prompt must be shorter.',
    );
  }
  let maxNewTokens: number;
  if (request.maxNewTokens === undefined) {
    maxNewTokens = Math.min(config.default_max_tokens, MAX_NEW_TOKENS_LIMIT, room);
  } else {
    maxNewTokens = request.maxNewTokens;
    if (maxNewTokens > MAX_NEW_TOKENS_LIMIT)
      throw invalidInput(`${names.maxNewTokens}: at most ${MAX_NEW_TOKENS_LIMIT} (got ${maxNewTokens}).`);
    if (maxNewTokens > room) {
      throw invalidInput(
        `${names.maxNewTokens}: ${maxNewTokens} new tokens do not fit: '${manifest.id}' holds ` +
          `${config.context_length} tokens and the prompt takes ${promptIds.length}, leaving ${room}.`,
      );
    }
  }
  const sample = request.doSample ?? (request.temperature === undefined ? (d.do_sample ?? false) : true);
  const temperature = sample ? (request.temperature ?? d.temperature ?? 1) : 0;
  const stop = request.stop === undefined ? [] : typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (stop.length > MAX_STOP_SEQUENCES)
    throw invalidInput(`${names.stop}: at most ${MAX_STOP_SEQUENCES} stop sequences (got ${stop.length}).`);
  if (stop.some((s) => s.length === 0)) throw invalidInput(`${names.stop}: stop sequences cannot be empty.`);
  const logitBias: [number, number][] = [];
  for (const [key, bias] of Object.entries(request.logitBias ?? {})) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || id >= config.vocab_size)
      throw invalidInput(
        `${names.logitBias}: '${key}' is not a token id of '${manifest.id}' (0–${config.vocab_size - 1}).`,
      );
    logitBias.push([id, bias]);
  }
  return {
    promptIds,
    maxNewTokens,
    temperature,
    topK: request.topK ?? (sample ? (d.top_k ?? 0) : 0),
    topP: request.topP ?? (sample ? (d.top_p ?? 1) : 1),
    repetitionPenalty: request.repetitionPenalty ?? d.repetition_penalty ?? 1,
    frequencyPenalty: request.frequencyPenalty ?? 0,
    presencePenalty: request.presencePenalty ?? 0,
    logitBias,
    seed: request.seed ?? randomSeed(),
    reproducible: temperature === 0 || request.seed !== undefined,
    stop,
  };
}

function samplingOf(plan: GenerationPlan): SamplingParams {
  return {
    temperature: plan.temperature,
    topK: plan.topK,
    topP: plan.topP,
    repetitionPenalty: plan.repetitionPenalty,
    frequencyPenalty: plan.frequencyPenalty,
    presencePenalty: plan.presencePenalty,
    logitBias: new Map(plan.logitBias),
  };
}

/** What one accepted token changed. */
export interface GenerationStep {
  token: number;
  /** Text that became final with this token ('' while held back). */
  text: string;
  /** Set when the sequence is over (the last `text` is already included). */
  finish?: FinishReason;
}

/** One sequence's decoding state: the tokens so far, the sampler, and the text released to the caller. */
export class Generation {
  readonly completion: number[] = [];
  private readonly sampling: SamplingParams;
  private readonly rng: Rng;
  private readonly eos: ReadonlySet<number>;
  private released = '';
  private finished: FinishReason | undefined;
  private promptText: string | undefined;

  constructor(
    readonly plan: GenerationPlan,
    private readonly config: DecoderConfig,
    private readonly tokenizer: LoadedTokenizer,
  ) {
    this.sampling = samplingOf(plan);
    this.rng = seededRng(plan.seed);
    this.eos = new Set(config.eos_token_ids);
  }

  get text(): string {
    return this.released;
  }
  get finishReason(): FinishReason | undefined {
    return this.finished;
  }
  get usage(): Usage {
    const prompt = this.plan.promptIds.length;
    return {
      prompt_tokens: prompt,
      completion_tokens: this.completion.length,
      total_tokens: prompt + this.completion.length,
    };
  }

  /** Picks the next token from the model's logits for this sequence and reports what it adds. */
  accept(logits: Float32Array): GenerationStep {
    if (this.finished !== undefined) throw new Error('Generation.accept after the sequence finished');
    const context = [...this.plan.promptIds, ...this.completion];
    const token = chooseToken(logits, this.sampling, context, this.completion, this.rng);
    this.completion.push(token);
    if (this.eos.has(token)) return this.end(token, 'stop', this.decode(this.completion.slice(0, -1)));
    const full = this.decode(this.completion);
    for (const stop of this.plan.stop) {
      // Released text never holds a stop sequence's start, so a match begins at or after what was released.
      const at = full.indexOf(stop, this.released.length);
      if (at >= 0) return this.end(token, 'stop', full.slice(0, at));
    }
    const room = this.config.context_length - this.plan.promptIds.length - this.completion.length;
    if (this.completion.length >= this.plan.maxNewTokens || room <= 0) return this.end(token, 'length', full);
    const safe = this.safeLength(full);
    const text = full.slice(this.released.length, safe);
    this.released = full.slice(0, safe);
    return { token, text };
  }

  /** Ends the sequence from outside (a cancelled request); what was held back is dropped. */
  cancel(): void {
    this.finished ??= 'cancelled';
  }

  private end(token: number, reason: FinishReason, full: string): GenerationStep {
    // Cleaning up a stop sequence's held-back start can only shorten the tail: release the rest of `full`.
    const text = full.startsWith(this.released) ? full.slice(this.released.length) : '';
    this.released = full.startsWith(this.released) ? full : this.released;
    this.finished = reason;
    return { token, text, finish: reason };
  }

  /**
   * The completion's text as Hugging Face's pipelines cut it: the decode of prompt + completion, less the prompt's
   * decode (decoding the completion alone would drop a SentencePiece word's leading space). No clean-up of
   * tokenization spaces: it rewrites text before the newest token, and streamed pieces must only grow.
   */
  private decode(ids: readonly number[]): string {
    const options = { skip_special_tokens: true, clean_up_tokenization_spaces: false };
    this.promptText ??= this.tokenizer.tokenizer.decode(this.plan.promptIds, options);
    const full = this.tokenizer.tokenizer.decode([...this.plan.promptIds, ...ids], options);
    return full.startsWith(this.promptText)
      ? full.slice(this.promptText.length)
      : this.tokenizer.tokenizer.decode([...ids], options);
  }

  /** How much of `full` is final: not a half character (U+FFFD from a partial byte sequence), not a stop's start. */
  private safeLength(full: string): number {
    let safe = full.length;
    while (safe > this.released.length && full.charCodeAt(safe - 1) === 0xfffd) safe -= 1;
    for (const stop of this.plan.stop) {
      for (let k = Math.min(stop.length - 1, safe - this.released.length); k > 0; k--) {
        if (full.slice(safe - k, safe) === stop.slice(0, k)) {
          safe -= k;
          break;
        }
      }
    }
    return Math.max(safe, this.released.length);
  }
}

/**
 * Runs one sequence to the end on a runner: prefill, then one run per token with the KV cache fed back. Checks
 * `signal` before every run, so a client that has gone costs at most the run in flight.
 */
export async function* generate(
  runner: ModelRunner,
  manifest: Manifest,
  tokenizer: LoadedTokenizer,
  plan: GenerationPlan,
  signal?: AbortSignal,
): AsyncGenerator<GenerationEvent> {
  const config = decoderConfig(manifest);
  const seq = new Generation(plan, config, tokenizer);
  let step = await runStep(runner, config, emptyBatch(config), [plan.promptIds]);
  for (;;) {
    if (signal?.aborted === true) {
      seq.cancel();
      yield { type: 'done', finish_reason: 'cancelled', usage: seq.usage, text: seq.text };
      return;
    }
    const logits = step.logits[0];
    if (logits === undefined) throw new Error('generate: the model answered no logits row');
    const next = seq.accept(logits);
    if (next.text !== '') yield { type: 'text', text: next.text, tokens: seq.completion.length };
    if (next.finish !== undefined) {
      yield { type: 'done', finish_reason: next.finish, usage: seq.usage, text: seq.text };
      return;
    }
    step = await runStep(runner, config, step.batch, [[next.token]]);
  }
}

/** A whole generation's answer, from its events. */
export async function collect(events: GenerationEvents): Promise<Extract<GenerationEvent, { type: 'done' }>> {
  for await (const e of events) if (e.type === 'done') return e;
  throw new Error('generation ended without a done event');
}

/** Encodes a prompt as the model's tokenizer does (its post-processor's specials), BOS first when the model wants it. */
export function encodePrompt(
  manifest: Manifest,
  tokenizer: LoadedTokenizer,
  text: string,
  addSpecialTokens = true,
): number[] {
  const config = decoderConfig(manifest);
  const ids = tokenizer.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  const bos = config.bos_token_id;
  if (addSpecialTokens && config.add_bos_token && bos !== undefined && ids[0] !== bos) return [bos, ...ids];
  return ids;
}

export function generationTokenizer(manifest: Manifest, context: TaskContext): Promise<LoadedTokenizer> {
  return loadTokenizer(manifest, context, hfTokenizerConfig(manifest));
}

/** Hugging Face pipeline decoding parameters, plus OpenAI's penalties and stop sequences (task API and `generate`). */
export const DECODING_PARAMETERS = {
  max_new_tokens: z.number().int().positive().optional(),
  do_sample: z.boolean().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_k: z.number().int().min(0).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  repetition_penalty: z.number().positive().optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  seed: z.number().int().optional(),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
};

/** The decoding parameters as parsed, with `generate`'s `logit_bias` (the task API has none). */
type DecodingParameters = z.infer<z.ZodObject<typeof DECODING_PARAMETERS>> & {
  logit_bias?: Record<string, number> | undefined;
};

/** Hugging Face-named parameters (task API, `generate`) as the request `planGeneration` takes. */
export function decodingRequest(p: DecodingParameters): DecodingRequest {
  return {
    maxNewTokens: p.max_new_tokens,
    doSample: p.do_sample,
    temperature: p.temperature,
    topK: p.top_k,
    topP: p.top_p,
    repetitionPenalty: p.repetition_penalty,
    frequencyPenalty: p.frequency_penalty,
    presencePenalty: p.presence_penalty,
    logitBias: p.logit_bias,
    seed: p.seed,
    stop: p.stop,
  };
}

const ParametersSchema = z.object({ ...DECODING_PARAMETERS, return_full_text: z.boolean().default(true) }).strict();

export interface TextGenerationInput {
  prompts: string[];
  single: boolean;
  plans: GenerationPlan[];
  returnFullText: boolean;
  /** Parsed once by `parse` (cached per model version), used by `execute`. */
  tokenizer: LoadedTokenizer;
}

export type GeneratedText = { generated_text: string };

/** Prompts per predict request: each is a whole generation, run one after another. */
const MAX_PROMPTS = 8;

export const textGeneration: TaskModule<TextGenerationInput, GeneratedText[] | GeneratedText[][]> = {
  task: 'text-generation',

  async parse(body: RequestBody, manifest: Manifest, limits: RequestLimits, context?: TaskContext) {
    if (body.kind !== 'json')
      throw new ServiceError(415, 'unsupported_media_type', 'text-generation takes application/json.');
    const params = ParametersSchema.safeParse(body.parameters);
    if (!params.success) throw invalidInput(describeIssues(params.error.issues, ['parameters']));
    const single = typeof body.inputs === 'string';
    const prompts = single ? [body.inputs as string] : body.inputs;
    if (!Array.isArray(prompts) || prompts.some((p) => typeof p !== 'string'))
      throw invalidInput('inputs: must be a string or an array of strings.');
    const texts = prompts as string[];
    if (texts.length === 0 || texts.length > MAX_PROMPTS)
      throw invalidInput(`inputs: 1 to ${MAX_PROMPTS} prompts per request (got ${texts.length}).`);
    if (context === undefined) throw new Error('text-generation needs a TaskContext to load its tokenizer');
    const tokenizer = await generationTokenizer(manifest, context);
    const p = params.data;
    const plans = texts.map((text, i) => {
      const where = single ? 'inputs' : `inputs[${i}]`;
      if (text.length > limits.maxTextChars)
        throw invalidInput(`${where}: at most ${limits.maxTextChars} characters (got ${text.length}).`);
      return planGeneration(manifest, encodePrompt(manifest, tokenizer, text), decodingRequest(p), {
        maxNewTokens: 'parameters.max_new_tokens',
        stop: 'parameters.stop',
        logitBias: 'parameters.logit_bias',
        prompt: where,
      });
    });
    return { prompts: texts, single, plans, returnFullText: p.return_full_text, tokenizer };
  },

  size: (p) => ({
    batch: p.plans.length,
    tokens: p.plans.reduce((n, plan) => n + plan.promptIds.length + plan.maxNewTokens, 0),
  }),

  cacheable: (p) => p.plans.every((plan) => plan.reproducible),

  cacheKeyInput: (p) => ({ plans: p.plans, full: p.returnFullText, sampler: SAMPLER }),

  preprocess() {
    throw new Error('text-generation runs through execute');
  },
  postprocess() {
    throw new Error('text-generation runs through execute');
  },

  execute(p, runner, manifest) {
    return generatedTexts(p, (plan) => generate(runner, manifest, p.tokenizer, plan));
  },
};

/** The task API's answer: each prompt's generation in turn through `run` (the edge's loop, the origin's scheduler). */
export async function generatedTexts(
  p: TextGenerationInput,
  run: (plan: GenerationPlan) => GenerationEvents,
): Promise<GeneratedText[] | GeneratedText[][]> {
  const results: GeneratedText[][] = [];
  for (const [i, plan] of p.plans.entries()) {
    const done = await collect(run(plan));
    results.push([{ generated_text: p.returnFullText ? `${p.prompts[i] ?? ''}${done.text}` : done.text }]);
  }
  return p.single ? (results[0] ?? []) : results;
}
