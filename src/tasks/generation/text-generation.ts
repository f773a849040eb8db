/**
 * @module text-generation, the task: decoder-only models in Optimum's layout answering the task API
 * (`/v1/models/{id}/predict`) with Hugging Face's `[{ generated_text }]`, one generation per prompt (plan.ts makes
 * the plans, loop.ts runs them at the edge, the origin's scheduler runs them there).
 */
import { z } from 'zod';
import { ServiceError, describeIssues, invalidInput } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { SAMPLER } from '../../maths/sampling.js';
import type { RequestBody, RequestLimits, TaskContext, TaskModule } from '../task.js';
import type { LoadedTokenizer } from '../text/hf-tokenizer.js';
import { collect, type GenerationEvents } from './events.js';
import { generate } from './loop.js';
import {
  DECODING_PARAMETERS,
  decodingRequest,
  encodePrompt,
  generationTokenizer,
  planGeneration,
  type GenerationPlan,
} from './plan.js';

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
