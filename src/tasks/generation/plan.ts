/**
 * @module A request becomes a `GenerationPlan`: prompt token ids (encoded as the model's tokenizer does),
 * `max_new_tokens` bounded by the context and the service, sampling settings and stop sequences, with the model's
 * defaults applied and a 422 naming the field that cannot be honoured. Hugging Face's parameter names map onto it here.
 */
import { z } from 'zod';
import { invalidInput } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { randomSeed } from '../../maths/sampling.js';
import { hfTokenizerConfig, loadTokenizer, type LoadedTokenizer } from '../text/hf-tokenizer.js';
import type { TaskContext } from '../task.js';
import { decoderConfig } from './kv-cache.js';

/** Service-wide ceiling on one request's new tokens, whatever the model's context allows. */
export const MAX_NEW_TOKENS_LIMIT = 1024;
export const MAX_STOP_SEQUENCES = 4;

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
