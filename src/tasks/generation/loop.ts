/**
 * @module Runs one sequence over any runner (the edge's session): prefill once, then one run per token with the KV
 * cache fed back, checking the caller's signal before every run.
 */
import type { Manifest } from '../../lib/manifest.js';
import type { LoadedTokenizer } from '../text/hf-tokenizer.js';
import type { ModelRunner } from '../tensor.js';
import type { GenerationEvent } from './events.js';
import { decoderConfig, emptyBatch, runStep } from './kv-cache.js';
import type { GenerationPlan } from './plan.js';
import { Generation } from './stepper.js';

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
