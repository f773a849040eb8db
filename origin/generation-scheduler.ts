/**
 * @module Iteration-level (continuous) batching of generations on one origin model, as vLLM and TGI do it: every
 * step runs all active sequences together, one token each; between steps new requests are prefilled and join the
 * running batch, and finished or cancelled ones leave it. The KV cache layout and left padding live in
 * src/tasks/generation/kv-cache.ts, token choice and text in the shared `Generation`, so a sequence decodes exactly as it would
 * alone. A token budget (prompt + max_new_tokens of everything admitted) bounds memory; beyond it, 429
 * `token_budget_exceeded` with Retry-After. Each request's events flow through a ReadableStream.
 */
import { ServiceError } from '../src/lib/errors.js';
import type { Manifest } from '../src/lib/manifest.js';
import type { LoadedTokenizer } from '../src/tasks/text/hf-tokenizer.js';
import {
  decoderConfig,
  emptyBatch,
  joinBatches,
  keepRows,
  runStep,
  type DecoderConfig,
  type KvBatch,
} from '../src/tasks/generation/kv-cache.js';
import type { ModelRunner } from '../src/tasks/tensor.js';
import { type GenerationEvent } from '../src/tasks/generation/events.js';
import { type GenerationPlan } from '../src/tasks/generation/plan.js';
import { Generation } from '../src/tasks/generation/stepper.js';

export interface SchedulerOptions {
  /** Sequences decoded together; 1 = one at a time (the benchmark's baseline). */
  maxBatch: number;
  /** Prompt + max_new_tokens summed over every admitted request. */
  tokenBudget: number;
  /** Called after each model run with the rows it carried (metrics). */
  onStep?: (rows: number, kind: 'prefill' | 'decode') => void;
}

interface Entry {
  seq: Generation;
  cost: number;
  signal: AbortSignal;
  out: ReadableStreamDefaultController<GenerationEvent>;
  /** The token sampled last, fed at the next step. */
  next: number;
}

export class GenerationScheduler {
  private readonly config: DecoderConfig;
  private batch: KvBatch;
  private rows: Entry[] = [];
  private waiting: Entry[] = [];
  private admitted = 0;
  private looping = false;
  /** Milliseconds per decode step, smoothed: what Retry-After is estimated from. */
  private stepMs = 10;

  constructor(
    private readonly runner: ModelRunner,
    manifest: Manifest,
    private readonly options: SchedulerOptions,
  ) {
    this.config = decoderConfig(manifest);
    this.batch = emptyBatch(this.config);
  }

  get stats(): { active: number; waiting: number; tokens: number; budget: number } {
    return {
      active: this.rows.length,
      waiting: this.waiting.length,
      tokens: this.admitted,
      budget: this.options.tokenBudget,
    };
  }

  /** Queues a generation; its events arrive on the returned stream. Throws 429 when the token budget is spent. */
  submit(plan: GenerationPlan, tokenizer: LoadedTokenizer, signal: AbortSignal): ReadableStream<GenerationEvent> {
    const cost = plan.promptIds.length + plan.maxNewTokens;
    if (this.admitted + cost > this.options.tokenBudget) {
      // Room frees as running sequences finish: estimate when from the longest remaining and the step time.
      const remaining = Math.max(1, ...this.rows.map((r) => r.seq.plan.maxNewTokens - r.seq.completion.length));
      const seconds = Math.max(1, Math.ceil((remaining * this.stepMs) / 1000));
      throw new ServiceError(
        429,
        'token_budget_exceeded',
        `The origin's generation token budget is spent (${this.admitted} of ${this.options.tokenBudget} tokens in ` +
          `use; this request needs ${cost}: prompt + max_tokens). Retry after ${seconds} s or ask for fewer tokens.`,
        { headers: { 'Retry-After': String(seconds) } },
      );
    }
    this.admitted += cost;
    const seq = new Generation(plan, this.config, tokenizer);
    return new ReadableStream<GenerationEvent>({
      start: (out) => {
        this.waiting.push({ seq, cost, signal, out, next: -1 });
        if (!this.looping) {
          this.looping = true;
          this.loop().catch((err: unknown) => this.failAll(err));
        }
      },
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.rows.length > 0 || this.waiting.length > 0) {
        await this.admit();
        this.dropCancelled();
        if (this.rows.length === 0) continue;
        const started = performance.now();
        const step = await runStep(
          this.runner,
          this.config,
          this.batch,
          this.rows.map((r) => [r.next]),
        );
        this.stepMs = 0.8 * this.stepMs + 0.2 * (performance.now() - started);
        this.options.onStep?.(this.rows.length, 'decode');
        const keep: number[] = [];
        this.rows.forEach((row, i) => {
          const logits = step.logits[i];
          if (logits !== undefined && this.accept(row, logits)) keep.push(i);
        });
        this.batch = keepRows(this.config, step.batch, keep);
        this.rows = keep.map((i) => this.rows[i]).filter((r): r is Entry => r !== undefined);
      }
    } finally {
      this.looping = false;
    }
  }

  /** Prefills waiting requests (one run each) and joins them to the running batch, up to `maxBatch` rows. */
  private async admit(): Promise<void> {
    while (this.waiting.length > 0 && this.rows.length < this.options.maxBatch) {
      const entry = this.waiting.shift();
      if (entry === undefined) break;
      if (entry.signal.aborted) {
        this.finish(entry, 'cancelled');
        continue;
      }
      const prefill = await runStep(this.runner, this.config, emptyBatch(this.config), [entry.seq.plan.promptIds]);
      this.options.onStep?.(1, 'prefill');
      const logits = prefill.logits[0];
      if (logits === undefined || !this.accept(entry, logits)) continue;
      this.batch = joinBatches(this.config, this.batch, prefill.batch);
      this.rows.push(entry);
    }
  }

  /** Takes one row's logits; false when the row is done (its stream closed). */
  private accept(row: Entry, logits: Float32Array): boolean {
    const step = row.seq.accept(logits);
    if (step.text !== '') row.out.enqueue({ type: 'text', text: step.text, tokens: row.seq.completion.length });
    if (step.finish !== undefined) {
      this.finish(row, step.finish);
      return false;
    }
    row.next = step.token;
    return true;
  }

  private dropCancelled(): void {
    const keep: number[] = [];
    this.rows.forEach((row, i) => {
      if (row.signal.aborted) this.finish(row, 'cancelled');
      else keep.push(i);
    });
    if (keep.length === this.rows.length) return;
    this.batch = keepRows(this.config, this.batch, keep);
    this.rows = keep.map((i) => this.rows[i]).filter((r): r is Entry => r !== undefined);
  }

  private finish(row: Entry, reason: 'stop' | 'length' | 'cancelled'): void {
    if (reason === 'cancelled') row.seq.cancel();
    this.admitted -= row.cost;
    try {
      row.out.enqueue({ type: 'done', finish_reason: reason, usage: row.seq.usage, text: row.seq.text });
      row.out.close();
    } catch {
      // The reader has gone (cancelled stream): nothing to tell it.
    }
  }

  /** A failed run fails every sequence in the batch (their caches are gone with it); the next request starts afresh. */
  private failAll(err: unknown): void {
    console.error(JSON.stringify({ msg: 'generation step failed', err: String(err) }));
    for (const row of [...this.rows, ...this.waiting]) {
      this.admitted -= row.cost;
      try {
        row.out.error(err);
      } catch {
        // already closed
      }
    }
    this.rows = [];
    this.waiting = [];
    this.batch = emptyBatch(this.config);
  }
}

/** A stream's events as an async iterable (the reader is released when the consumer stops early). */
export async function* eventsOf(stream: ReadableStream<GenerationEvent>): AsyncGenerator<GenerationEvent> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}
