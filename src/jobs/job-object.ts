/**
 * @module Async jobs' state in Durable Objects with SQLite storage: each object holds one shard of one API key's
 * jobs (`JOB_SHARDS` per key, the shard named by the job id) — their input chunks and outputs, their events and
 * webhook deliveries. A Durable Object runs one call at a time, so every transition below (a chunk recorded, a
 * cancel, a failure) is atomic and read-your-writes; KV, eventually consistent, could lose a cancel racing the
 * consumer's last chunk. Shards rather than one object per job: accepting a job then talks to an object that
 * already exists and is usually warm (creating an object with its SQLite storage is what a new job would otherwise
 * wait on), while a key's jobs still spread over several objects. Each job is deleted `JOB_RESULT_TTL_SECONDS` after
 * it finished (the object's alarm, set to the next expiry).
 */
import { DurableObject } from 'cloudflare:workers';
import { z } from 'zod';
import {
  DeliverySchema,
  isTerminal,
  JobErrorSchema,
  JobStatusSchema,
  JobViewSchema,
  NewJobSchema,
  type Deliverable,
  type Delivery,
  type JobError,
  type JobEvent,
  type JobMessage,
  type JobStatus,
  type JobView,
  type NewJob,
  type WebhookEvent,
  type WebhookState,
} from './model.js';

/**
 * The job's own row (JSON): what `NewJob` gave, plus where it stands. Rows are read back through it (and the other
 * stored JSON through model.ts's schemas): a damaged row throws here, as unparsable JSON did, and the call that read
 * it fails (a 500 on a route, a retried message in a consumer) instead of running on a half-read job.
 */
const JobRecordSchema = NewJobSchema.omit({ chunks: true }).extend({
  status: JobStatusSchema,
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  expires_at: z.string().optional(),
  error: JobErrorSchema.optional(),
  /** Whether the first queue message was sent (an `Idempotency-Key` retry re-sends it when not). */
  enqueued: z.boolean(),
  /** The last error a consumer attempt threw: the reason the job fails with if the dead-letter queue gets it. */
  last_error: z.string().optional(),
});
type JobRecord = z.infer<typeof JobRecordSchema>;

type EventRow = {
  seq: number;
  type: string;
  at: string;
  chunk: number | null;
  snapshot: string;
  delivery: string | null;
};

export type CreateOutcome = { outcome: 'created' | 'existing'; job: JobView } | { outcome: 'conflict' };

/** What the consumer needs to run a job's remaining chunks. */
export type RunPlan =
  | { run: false; status: JobStatus }
  | { run: true; key_id: string; model: string; parameters: Record<string, unknown>; pending: number[] };

/** An event's `webhook-id`: the same on every attempt and on a redelivery, so receivers can dedupe. */
const webhookId = (jobId: string, seq: number): string => `msg_${jobId.slice(4)}_${seq}`;

/** Objects per API key that its jobs spread over. */
export const JOB_SHARDS = 8;

/** The object that holds a job: its key's shard, picked by the id's first byte (random, or a hash). */
export function jobObjectName(keyId: string, jobId: string): string {
  return `${keyId}/${parseInt(jobId.slice(4, 6), 16) % JOB_SHARDS}`;
}

export class JobObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.schema();
  }

  private schema(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS jobs_expires ON jobs (expires);
      CREATE TABLE IF NOT EXISTS chunks (job TEXT NOT NULL, idx INTEGER NOT NULL, start INTEGER NOT NULL,
        count INTEGER NOT NULL, inputs TEXT NOT NULL, output TEXT, PRIMARY KEY (job, idx));
      CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL, type TEXT NOT NULL,
        at TEXT NOT NULL, chunk INTEGER, snapshot TEXT NOT NULL, delivery TEXT);
      CREATE INDEX IF NOT EXISTS events_job ON events (job, seq);
    `);
  }

  /**
   * Creates the job and queues it, or answers the job this id already names (`Idempotency-Key`): the same body, or a
   * conflict. The queue send happens here, in the same call, so accepting a job costs the route one round trip; a
   * job whose send failed is sent again by the caller's retry with the same Idempotency-Key.
   */
  async create(spec: NewJob): Promise<CreateOutcome> {
    const existing = this.record(spec.id);
    if (existing !== undefined) {
      if (existing.body_hash !== spec.body_hash) return { outcome: 'conflict' };
      if (!existing.enqueued) await this.enqueue(existing);
      return { outcome: 'existing', job: this.view(existing) };
    }
    const { chunks, ...rest } = spec;
    const record: JobRecord = { ...rest, status: 'queued', enqueued: false };
    // A job nobody ever runs (its queue lost) still goes away, a TTL after it was accepted.
    const expires = Date.now() + spec.ttl_ms;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec('INSERT INTO jobs (id, data, expires) VALUES (?, ?, ?)', spec.id, JSON.stringify(record), expires);
      let start = 0;
      chunks.forEach((inputs, idx) => {
        const count = spec.list && Array.isArray(inputs) ? inputs.length : 1;
        this.sql.exec(
          'INSERT INTO chunks (job, idx, start, count, inputs) VALUES (?, ?, ?, ?, ?)',
          spec.id,
          idx,
          start,
          count,
          JSON.stringify(inputs),
        );
        start += count;
      });
    });
    await this.expireBy(expires);
    await this.enqueue(record);
    return { outcome: 'created', job: this.view(record) };
  }

  private async enqueue(r: JobRecord): Promise<void> {
    await this.env.JOBS.send({ kind: 'job', job: r.id, key: r.key_id } satisfies JobMessage);
    r.enqueued = true;
    this.save(r);
  }

  /**
   * The job as its owner sees it; null when there is none (never created, expired and deleted) or when `keyId` is
   * not its owner — the route answers 404 either way, so another key cannot even learn that the id exists.
   */
  getFor(jobId: string, keyId: string): JobView | null {
    const r = this.owned(jobId, keyId);
    return r === undefined ? null : this.view(r);
  }

  /** Starts (or resumes, on a retry or a continuation message) the job: the chunks still to run. */
  async begin(jobId: string): Promise<RunPlan> {
    const r = this.record(jobId);
    if (r === undefined) return { run: false, status: 'failed' };
    if (isTerminal(r.status)) return { run: false, status: r.status };
    if (r.status === 'queued') {
      r.status = 'running';
      r.started_at = new Date().toISOString();
      this.save(r);
      await this.emit(r, 'start');
    }
    const pending = [
      ...this.sql.exec<{ idx: number }>('SELECT idx FROM chunks WHERE job = ? AND output IS NULL ORDER BY idx', jobId),
    ].map((row) => row.idx);
    return { run: true, key_id: r.key_id, model: r.model, parameters: r.parameters, pending };
  }

  chunkInputs(jobId: string, idx: number): unknown {
    const row = [
      ...this.sql.exec<{ inputs: string }>('SELECT inputs FROM chunks WHERE job = ? AND idx = ?', jobId, idx),
    ][0];
    if (row === undefined) throw new Error(`job has no chunk ${idx}`);
    return JSON.parse(row.inputs) as unknown;
  }

  /**
   * Records one chunk's output, once: a chunk already recorded (a retried message that ran it again) keeps its
   * first output. Answers the job's status, so the consumer stops when the job was canceled meanwhile.
   */
  async completeChunk(jobId: string, idx: number, output: unknown): Promise<JobStatus> {
    const r = this.record(jobId);
    if (r === undefined) return 'canceled';
    if (r.status !== 'running') return r.status;
    const written = this.sql.exec(
      'UPDATE chunks SET output = ? WHERE job = ? AND idx = ? AND output IS NULL',
      JSON.stringify(output),
      jobId,
      idx,
    ).rowsWritten;
    if (written === 0) return r.status;
    if (r.list) await this.emit(r, 'output', idx);
    const left =
      [...this.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM chunks WHERE job = ? AND output IS NULL', jobId)][0]
        ?.n ?? 0;
    if (left === 0) await this.finish(r, 'succeeded');
    return r.status;
  }

  /** Fails the job (a 4xx from the model, a revoked key, the dead-letter queue); a finished job stays as it is. */
  async fail(jobId: string, error: JobError): Promise<void> {
    const r = this.record(jobId);
    if (r === undefined || isTerminal(r.status)) return;
    r.error = error;
    await this.finish(r, 'failed');
  }

  /** Remembers why a consumer attempt threw (the reason the dead-letter queue fails the job with). */
  noteAttemptError(jobId: string, message: string): void {
    const r = this.record(jobId);
    if (r === undefined) return;
    r.last_error = message;
    this.save(r);
  }

  lastAttemptError(jobId: string): string | undefined {
    return this.record(jobId)?.last_error;
  }

  /** Cancels a job that has not finished; a finished one is answered as it is. Never waits on a webhook. */
  async cancelFor(jobId: string, keyId: string): Promise<{ canceled: boolean; job: JobView } | null> {
    const r = this.owned(jobId, keyId);
    if (r === undefined) return null;
    if (isTerminal(r.status)) return { canceled: false, job: this.view(r) };
    await this.finish(r, 'canceled');
    return { canceled: true, job: this.view(r) };
  }

  /** Events after `seq` (the event stream; `Last-Event-ID` resumes it). */
  eventsFor(jobId: string, keyId: string, seq: number, limit = 100): JobEvent[] | null {
    const r = this.owned(jobId, keyId);
    if (r === undefined) return null;
    const rows = [
      ...this.sql.exec<EventRow>(
        'SELECT * FROM events WHERE job = ? AND seq > ? ORDER BY seq LIMIT ?',
        jobId,
        seq,
        limit,
      ),
    ];
    return rows.map((row) => this.render(r, row));
  }

  /** One event's delivery: its body and stable webhook-id, or null when there is nothing to send. */
  deliverable(jobId: string, seq: number): Deliverable | null {
    const r = this.record(jobId);
    const row = this.eventRow(jobId, seq);
    if (r === undefined || row === undefined || r.webhook === undefined || row.delivery === null) return null;
    const { data, type, timestamp } = this.render(r, row);
    return {
      url: r.webhook.url,
      webhook_id: webhookId(r.id, seq),
      body: JSON.stringify({ type, timestamp, data }),
      key_id: r.key_id,
    };
  }

  /** Records an attempt's outcome beside the event (and so on the job's `webhook` state). */
  recordDelivery(jobId: string, seq: number, delivery: Delivery): void {
    this.sql.exec(
      'UPDATE events SET delivery = ? WHERE job = ? AND seq = ? AND delivery IS NOT NULL',
      JSON.stringify(delivery),
      jobId,
      seq,
    );
  }

  /** Sends the latest webhook event again, with the same webhook-id; null when no event was due yet. */
  async redeliverFor(
    jobId: string,
    keyId: string,
  ): Promise<{ seq: number; webhook_id: string } | 'no_job' | 'no_event'> {
    const r = this.owned(jobId, keyId);
    if (r === undefined) return 'no_job';
    const row = this.lastDelivery(jobId);
    if (row === undefined) return 'no_event';
    this.recordDelivery(jobId, row.seq, { state: 'pending', attempts: 0 });
    await this.env.DELIVERIES.send({ kind: 'delivery', job: r.id, key: r.key_id, seq: row.seq } satisfies JobMessage);
    return { seq: row.seq, webhook_id: webhookId(r.id, row.seq) };
  }

  override async alarm(): Promise<void> {
    // The time of these jobs is up (finished, or never run): they go whole, and their ids answer 404 from now on.
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      const gone = [...this.sql.exec<{ id: string }>('SELECT id FROM jobs WHERE expires <= ?', now)].map((r) => r.id);
      for (const id of gone) {
        this.sql.exec('DELETE FROM chunks WHERE job = ?', id);
        this.sql.exec('DELETE FROM events WHERE job = ?', id);
        this.sql.exec('DELETE FROM jobs WHERE id = ?', id);
      }
    });
    const next = [...this.sql.exec<{ at: number | null }>('SELECT MIN(expires) AS at FROM jobs')][0]?.at;
    if (next != null) await this.ctx.storage.setAlarm(next);
  }

  /** Moves the alarm earlier when a job expires before the one it is set for. */
  private async expireBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  private lastDelivery(jobId: string): { seq: number; type: string; delivery: string } | undefined {
    return [
      ...this.sql.exec<{ seq: number; type: string; delivery: string }>(
        'SELECT seq, type, delivery FROM events WHERE job = ? AND delivery IS NOT NULL ORDER BY seq DESC LIMIT 1',
        jobId,
      ),
    ][0];
  }

  private async finish(r: JobRecord, status: 'succeeded' | 'failed' | 'canceled'): Promise<void> {
    r.status = status;
    const now = Date.now();
    r.completed_at = new Date(now).toISOString();
    const expires = now + r.ttl_ms;
    r.expires_at = new Date(expires).toISOString();
    this.save(r, expires);
    // Usually later than the expiry set at accept, which the alarm may still be set for: it then finds nothing due
    // and re-arms for the next expiry. Set here too in case no alarm is pending.
    await this.expireBy(expires);
    await this.emit(r, 'completed');
  }

  /** Appends an event; if the job's webhook wants it, queues its delivery (one queue message per event). */
  private async emit(r: JobRecord, event: WebhookEvent, chunk?: number): Promise<void> {
    const wanted = r.webhook?.events_filter.includes(event) ?? false;
    const delivery: Delivery | null = wanted ? { state: 'pending', attempts: 0 } : null;
    // Snapshots leave the output out: `completed` renders the finished job when it is read.
    const snapshot: JobView = this.view(r);
    delete snapshot.output;
    const seq = [
      ...this.sql.exec<{ seq: number }>(
        'INSERT INTO events (job, type, at, chunk, snapshot, delivery) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq',
        r.id,
        `job.${event}`,
        new Date().toISOString(),
        chunk ?? null,
        JSON.stringify(snapshot),
        delivery === null ? null : JSON.stringify(delivery),
      ),
    ][0]?.seq;
    if (wanted && seq !== undefined) {
      await this.env.DELIVERIES.send({ kind: 'delivery', job: r.id, key: r.key_id, seq } satisfies JobMessage);
    }
  }

  private render(r: JobRecord, row: EventRow): JobEvent {
    const type = row.type as JobEvent['type'];
    // `completed` carries the finished job (its output); earlier events the job as it was when they happened.
    let data: JobEvent['data'] =
      type === 'job.completed' ? this.view(r) : JobViewSchema.parse(JSON.parse(row.snapshot));
    if (row.chunk !== null) {
      const c = [
        ...this.sql.exec<{ start: number; output: string | null }>(
          'SELECT start, output FROM chunks WHERE job = ? AND idx = ?',
          r.id,
          row.chunk,
        ),
      ][0];
      if (c?.output != null) {
        data = { ...data, chunk: { index: row.chunk, offset: c.start, output: JSON.parse(c.output) as unknown } };
      }
    }
    return { seq: row.seq, type, timestamp: row.at, data };
  }

  private view(r: JobRecord): JobView {
    const base = `${r.base_url}/v1/jobs/${r.id}`;
    const view: JobView = {
      id: r.id,
      object: 'job',
      status: r.status,
      model: r.model,
      created_at: r.created_at,
      urls: { get: base, cancel: base, events: `${base}/events` },
    };
    if (r.started_at !== undefined) view.started_at = r.started_at;
    if (r.completed_at !== undefined) view.completed_at = r.completed_at;
    if (r.expires_at !== undefined) view.expires_at = r.expires_at;
    if (r.list) {
      // Summed in SQLite: a view is rendered on every chunk (its event's snapshot), so it must not read the outputs.
      const done = [
        ...this.sql.exec<{ n: number | null }>(
          'SELECT SUM(count) AS n FROM chunks WHERE job = ? AND output IS NOT NULL',
          r.id,
        ),
      ][0];
      view.progress = { processed: done?.n ?? 0, total: r.total };
    }
    if (r.status === 'succeeded') {
      const outputs = [
        ...this.sql.exec<{ output: string }>('SELECT output FROM chunks WHERE job = ? ORDER BY idx', r.id),
      ].map((row) => JSON.parse(row.output) as unknown);
      view.output = r.list ? outputs.flatMap((o) => (Array.isArray(o) ? (o as unknown[]) : [o])) : outputs[0];
    }
    if (r.error !== undefined) view.error = r.error;
    if (r.webhook !== undefined) view.webhook = this.webhookState(r.id, r.webhook);
    return view;
  }

  private webhookState(jobId: string, hook: NonNullable<JobRecord['webhook']>): WebhookState {
    const last = this.lastDelivery(jobId);
    const state: WebhookState = { url: hook.url, events_filter: hook.events_filter, state: 'idle', attempts: 0 };
    if (last === undefined) return state;
    const d = DeliverySchema.parse(JSON.parse(last.delivery));
    return { ...state, ...d, last_event: last.type };
  }

  private eventRow(jobId: string, seq: number): EventRow | undefined {
    return [...this.sql.exec<EventRow>('SELECT * FROM events WHERE job = ? AND seq = ?', jobId, seq)][0];
  }

  private record(jobId: string): JobRecord | undefined {
    const row = [...this.sql.exec<{ data: string }>('SELECT data FROM jobs WHERE id = ?', jobId)][0];
    return row === undefined ? undefined : JobRecordSchema.parse(JSON.parse(row.data));
  }

  /** The job only when `keyId` owns it (every job here is its key's; checked again all the same). */
  private owned(jobId: string, keyId: string): JobRecord | undefined {
    const r = this.record(jobId);
    return r?.key_id === keyId ? r : undefined;
  }

  private save(r: JobRecord, expires?: number): void {
    if (expires === undefined) this.sql.exec('UPDATE jobs SET data = ? WHERE id = ?', JSON.stringify(r), r.id);
    else this.sql.exec('UPDATE jobs SET data = ?, expires = ? WHERE id = ?', JSON.stringify(r), expires, r.id);
  }
}
