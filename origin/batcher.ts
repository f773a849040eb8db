/**
 * @module Triton-style dynamic batching for one model: concurrent runs whose feeds agree on everything but the
 * first (batch) dimension are stacked along dim 0 into one model run, up to `maxBatchSize` rows or until the oldest
 * has waited `maxQueueDelayMs`, then split back row for row. A full queue refuses at once (the HTTP layer answers
 * 429). A failing batch is re-run request by request, so one bad request fails alone.
 */
import { ServiceError } from '../src/lib/errors.js';
import type { Feeds, ModelRunner, Outputs, TensorData } from '../src/tasks/tensor.js';

export interface BatcherOptions {
  /** Rows (sum of dim 0) per model run. 1 disables stacking. */
  maxBatchSize: number;
  maxQueueDelayMs: number;
  /** Waiting requests beyond which `run` refuses with QueueFullError. */
  maxQueueSize: number;
  /** Whether the model's inputs and outputs all have a dynamic first dimension (else every run goes alone). */
  stackable: boolean;
  /**
   * Inputs whose dim 1 may be zero-padded so rows of different lengths stack (the manifest's `batching.pad_inputs`:
   * an embedding bag's indices/values, token ids with their mask). Outputs must not depend on that dimension.
   */
  padInputs?: readonly string[];
  /** Model runs allowed at once (one per execution instance). */
  instances?: number;
  run: (feeds: Feeds, outputNames: readonly string[] | undefined) => Promise<Outputs>;
  onBatch?: (rows: number, requests: number) => void;
  onQueueDepth?: (depth: number) => void;
}

/** The batch queue is full: a 429 for the caller (the edge then tries its own isolate, where the model may run). */
export class QueueFullError extends ServiceError {
  constructor(readonly retryAfterS: number) {
    super(429, 'rate_limited', 'The origin is at capacity for this model; retry shortly.', {
      headers: { 'Retry-After': String(retryAfterS) },
    });
    this.name = 'QueueFullError';
  }
}

interface Pending {
  feeds: Feeds;
  outputNames: readonly string[] | undefined;
  rows: number;
  signature: string;
  enqueuedAt: number;
  resolve: (o: Outputs) => void;
  reject: (e: unknown) => void;
}

type Data = TensorData['data'];

function rowsOf(feeds: Feeds): number {
  const first = Object.values(feeds)[0];
  return first?.dims[0] ?? 1;
}

/**
 * What must be equal for two runs to share a batch: input names, types, trailing dims (dim 1 excepted for padded
 * inputs), requested outputs.
 */
function signatureOf(feeds: Feeds, outputNames: readonly string[] | undefined, padded: ReadonlySet<string>): string {
  const inputs = Object.keys(feeds)
    .sort()
    .map((k) => {
      const t = feeds[k];
      if (t === undefined) return k;
      const trailing = padded.has(k) && t.dims.length === 2 ? ['*'] : t.dims.slice(1);
      return `${k}:${t.type}:${trailing.join('x')}`;
    });
  return `${inputs.join(',')}|${outputNames?.join(',') ?? '*'}`;
}

function concatData(parts: Data[]): Data {
  const first = parts[0];
  if (first === undefined) throw new Error('nothing to concatenate');
  if (Array.isArray(first)) return (parts as unknown[][]).flat() as Data;
  const total = parts.reduce((n, p) => n + p.length, 0);
  const Ctor = first.constructor as new (n: number) => Exclude<Data, unknown[]>;
  const out = new Ctor(total);
  let offset = 0;
  for (const p of parts) {
    (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p as ArrayLike<number | bigint>, offset);
    offset += p.length;
  }
  return out;
}

/** Widens a [rows, w] tensor to [rows, width] with zeros (0n / 0 / false / '') after each row's values. */
export function padColumns(t: TensorData, width: number): TensorData {
  const [rows = 0, w = 0] = t.dims;
  if (t.dims.length !== 2 || w === width) return t;
  const src = t.data;
  const take = (r: number): Data => src.slice(r * w, (r + 1) * w);
  if (Array.isArray(src)) {
    const fill = typeof src[0] === 'string' ? '' : false;
    const out: (string | boolean)[] = [];
    for (let r = 0; r < rows; r++)
      out.push(...(take(r) as (string | boolean)[]), ...Array<string | boolean>(width - w).fill(fill));
    return { type: t.type, dims: [rows, width], data: out as Data };
  }
  const Ctor = src.constructor as new (n: number) => Exclude<Data, unknown[]>;
  const out = new Ctor(rows * width);
  for (let r = 0; r < rows; r++)
    (out as { set(a: ArrayLike<number | bigint>, o: number): void }).set(
      take(r) as ArrayLike<number | bigint>,
      r * width,
    );
  return { type: t.type, dims: [rows, width], data: out };
}

/** Stacks the same-signature feeds of several runs along dim 0, zero-padding `padded` inputs' dim 1 to the widest. */
export function stackFeeds(all: readonly Feeds[], padded: ReadonlySet<string> = new Set()): Feeds {
  const first = all[0];
  if (first === undefined) return {};
  const out: Feeds = {};
  for (const name of Object.keys(first)) {
    const parts = all.map((f) => {
      const t = f[name];
      if (t === undefined) throw new Error(`input ${name} is missing from a stacked run`);
      return t;
    });
    const width = padded.has(name) ? Math.max(...parts.map((t) => t.dims[1] ?? 0)) : undefined;
    const even = width === undefined ? parts : parts.map((t) => padColumns(t, width));
    const head = even[0];
    if (head === undefined) continue;
    const rows = even.reduce((n, t) => n + (t.dims[0] ?? 0), 0);
    out[name] = { type: head.type, dims: [rows, ...head.dims.slice(1)], data: concatData(even.map((t) => t.data)) };
  }
  return out;
}

/** Rows [start, start + rows) of a tensor whose first dimension is the batch. */
export function sliceRows(t: TensorData, start: number, rows: number): TensorData {
  const width = t.dims.slice(1).reduce((a, b) => a * b, 1);
  const data = t.data.slice(start * width, (start + rows) * width) as Data;
  return { type: t.type, dims: [rows, ...t.dims.slice(1)], data };
}

export class DynamicBatcher implements ModelRunner {
  private queue: Pending[] = [];
  private running = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly instances: number;
  private readonly padded: ReadonlySet<string>;

  constructor(private readonly options: BatcherOptions) {
    this.instances = Math.max(1, options.instances ?? 1);
    this.padded = new Set(options.padInputs ?? []);
  }

  get depth(): number {
    return this.queue.length;
  }

  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs> {
    if (this.queue.length >= this.options.maxQueueSize) {
      // Retry-After grows with the backlog's expected drain time, at least a second.
      return Promise.reject(
        new QueueFullError(Math.max(1, Math.ceil((this.options.maxQueueDelayMs * this.queue.length) / 1000))),
      );
    }
    return new Promise<Outputs>((resolve, reject) => {
      this.queue.push({
        feeds,
        outputNames,
        rows: rowsOf(feeds),
        signature: signatureOf(feeds, outputNames, this.padded),
        enqueuedAt: performance.now(),
        resolve,
        reject,
      });
      this.options.onQueueDepth?.(this.queue.length);
      this.pump();
    });
  }

  /** Dispatches every batch that is ready while an instance is free, else waits for the oldest's deadline. */
  private pump(): void {
    while (this.running < this.instances && this.queue.length > 0) {
      const head = this.queue[0];
      if (head === undefined) return;
      const { batch, full } = this.collect(head);
      const waited = performance.now() - head.enqueuedAt;
      if (!full && waited < this.options.maxQueueDelayMs) {
        if (this.timer === undefined) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, this.options.maxQueueDelayMs - waited);
        }
        return;
      }
      if (this.timer !== undefined) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      const taken = new Set(batch);
      this.queue = this.queue.filter((p) => !taken.has(p));
      this.options.onQueueDepth?.(this.queue.length);
      this.running++;
      void this.execute(batch).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  /** The head and every later compatible request that fits, in arrival order; `full` when no more can join. */
  private collect(head: Pending): { batch: Pending[]; full: boolean } {
    const max = this.options.maxBatchSize;
    if (!this.options.stackable || max <= 1 || head.rows >= max) return { batch: [head], full: true };
    const batch = [head];
    let rows = head.rows;
    let full = false;
    for (const p of this.queue.slice(1)) {
      if (p.signature !== head.signature) continue;
      if (rows + p.rows > max) {
        full = true;
        break;
      }
      batch.push(p);
      rows += p.rows;
    }
    return { batch, full: full || rows >= max };
  }

  private async execute(batch: Pending[]): Promise<void> {
    const first = batch[0];
    if (first === undefined) return;
    if (batch.length === 1) {
      await this.runAlone(first);
      return;
    }
    const rows = batch.reduce((n, p) => n + p.rows, 0);
    let outputs: Outputs;
    try {
      this.options.onBatch?.(rows, batch.length);
      outputs = await this.options.run(
        stackFeeds(
          batch.map((p) => p.feeds),
          this.padded,
        ),
        first.outputNames,
      );
      for (const [name, t] of Object.entries(outputs)) {
        if (t.dims[0] !== rows) throw new Error(`output ${name} has ${t.dims[0] ?? 'no'} rows for a batch of ${rows}`);
      }
    } catch {
      // Which request broke the batch is unknown: run each alone so only the faulty one fails.
      for (const p of batch) await this.runAlone(p);
      return;
    }
    let start = 0;
    for (const p of batch) {
      const mine: Outputs = {};
      for (const [name, t] of Object.entries(outputs)) mine[name] = sliceRows(t, start, p.rows);
      start += p.rows;
      p.resolve(mine);
    }
  }

  private async runAlone(p: Pending): Promise<void> {
    try {
      this.options.onBatch?.(p.rows, 1);
      p.resolve(await this.options.run(p.feeds, p.outputNames));
    } catch (err) {
      p.reject(err);
    }
  }
}
