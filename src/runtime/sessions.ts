/**
 * @module The isolate-wide session cache: a byte budget over model sizes, LRU eviction, in-flight
 * dedupe of session creation, and one `run` at a time per session (ORT-web sessions are not re-entrant).
 */
import type { Feeds, ModelRunner, Outputs } from '../tasks/tensor.js';
import type { EdgeSession } from './ort.js';

export type SessionFactory = (bytes: Uint8Array) => Promise<EdgeSession>;

/** A model larger than the whole budget never loads at the edge (placement sends it to the origin). */
export class ModelTooLargeError extends Error {
  constructor(
    readonly key: string,
    readonly bytes: number,
    readonly budget: number,
  ) {
    super(`model ${key} needs ${bytes} bytes, over the edge session budget of ${budget}`);
    this.name = 'ModelTooLargeError';
  }
}

/** One cached session with a FIFO run queue. */
export class QueuedSession implements ModelRunner {
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private releaseWhenIdle = false;

  constructor(
    readonly key: string,
    readonly bytes: number,
    private readonly session: EdgeSession,
  ) {}

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }
  get queued(): number {
    return this.pending;
  }

  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs> {
    this.pending += 1;
    const result = this.tail.then(() => this.session.run(feeds, outputNames));
    // The chain continues whether this run fails or not; a failure belongs to its own caller only.
    this.tail = result.then(
      () => this.settle(),
      () => this.settle(),
    );
    return result;
  }

  /** Releases now if idle, else after the queued runs finish (eviction must not pull a session from under a run). */
  retire(): void {
    this.releaseWhenIdle = true;
    if (this.pending === 0) this.free();
  }

  private settle(): void {
    this.pending -= 1;
    if (this.releaseWhenIdle && this.pending === 0) this.free();
  }

  private free(): void {
    this.releaseWhenIdle = false;
    this.session.release().catch((err: unknown) => {
      console.error(JSON.stringify({ msg: 'session release failed', key: this.key, err: String(err) }));
    });
  }
}

export interface SessionCacheStats {
  budgetBytes: number;
  usedBytes: number;
  sessions: { key: string; bytes: number; queued: number }[];
  hits: number;
  misses: number;
  evictions: number;
}

export class SessionCache {
  /** Map order is recency order: a hit re-inserts the key at the end, eviction takes from the front. */
  private readonly entries = new Map<string, QueuedSession>();
  private readonly loading = new Map<string, Promise<QueuedSession>>();
  private used = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    private budget: number,
    private readonly factory: SessionFactory,
  ) {}

  /** The budget comes from configuration, read per request; shrinking it evicts at the next load. */
  setBudget(bytes: number): void {
    this.budget = bytes;
  }

  /**
   * The session for `key`, loading it once however many callers ask at the same time.
   * `load` fetches and verifies the bytes; a failure is not cached, so the next request tries again.
   */
  async get(key: string, bytes: number, load: () => Promise<Uint8Array>): Promise<QueuedSession> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits += 1;
      return hit;
    }
    const inflight = this.loading.get(key);
    if (inflight) return inflight;
    if (bytes > this.budget) throw new ModelTooLargeError(key, bytes, this.budget);
    this.misses += 1;
    const promise = (async () => {
      const session = await this.factory(await load());
      const entry = new QueuedSession(key, bytes, session);
      this.makeRoom(bytes);
      this.entries.set(key, entry);
      this.used += bytes;
      return entry;
    })();
    this.loading.set(key, promise);
    try {
      return await promise;
    } finally {
      this.loading.delete(key);
    }
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  stats(): SessionCacheStats {
    return {
      budgetBytes: this.budget,
      usedBytes: this.used,
      sessions: [...this.entries.values()].map((s) => ({ key: s.key, bytes: s.bytes, queued: s.queued })),
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
    };
  }

  private makeRoom(bytes: number): void {
    for (const [key, entry] of this.entries) {
      if (this.used + bytes <= this.budget) break;
      this.entries.delete(key);
      this.used -= entry.bytes;
      this.evictions += 1;
      entry.retire();
    }
  }
}
