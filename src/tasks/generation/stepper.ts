/**
 * @module One sequence's decoding state: each step's logits become the next token and the text it adds, holding
 * back what could still be the start of a stop sequence or half a UTF-8 character, so streamed pieces always
 * concatenate to the final text. The edge's loop (loop.ts) and the origin's scheduler (origin/generation-scheduler.ts)
 * both drive sequences through it.
 */
import { chooseToken, seededRng, type Rng, type SamplingParams } from '../../maths/sampling.js';
import type { LoadedTokenizer } from '../text/hf-tokenizer.js';
import type { FinishReason, Usage } from './events.js';
import type { DecoderConfig } from './kv-cache.js';
import type { GenerationPlan } from './plan.js';

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
