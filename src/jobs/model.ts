/**
 * @module The shapes async jobs share between the route (`POST /v1/jobs`), the job's Durable Object and the queue
 * consumer: statuses, the job as clients see it, the webhook events, and the queue messages.
 */

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

/** Statuses a job never leaves. */
export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];
export const isTerminal = (status: JobStatus): boolean => TERMINAL.includes(status);

/** Webhook events a caller may subscribe to (Replicate's `webhook_events_filter`). */
export const WEBHOOK_EVENTS = ['start', 'output', 'completed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface JobError {
  code: string;
  message: string;
}

/** Where the webhook of a job's latest event stands (delivery state lives beside the job). */
export interface WebhookState {
  url: string;
  events_filter: WebhookEvent[];
  /** `idle` until an event is due; `pending` while it is queued or being retried. */
  state: 'idle' | 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status?: number;
  last_error?: string;
  /** The event the state is about, e.g. `job.completed`. */
  last_event?: string;
}

/** A job as its owner reads it (`GET /v1/jobs/{id}`, webhook and event-stream bodies). */
export interface JobView {
  id: string;
  object: 'job';
  status: JobStatus;
  /** The model version that runs it, pinned when the job was accepted: `id@version`. */
  model: string;
  created_at: string;
  started_at?: string;
  completed_at?: string;
  /** When a finished job is deleted (output and events with it). */
  expires_at?: string;
  /** List inputs only: items done so far. */
  progress?: { processed: number; total: number };
  /** On success: the task output (a list for a list input, in input order). */
  output?: unknown;
  error?: JobError;
  webhook?: WebhookState;
  urls: { get: string; cancel: string; events: string };
}

/** What the route hands the job's object to create it. */
export interface NewJob {
  id: string;
  key_id: string;
  model: string;
  parameters: Record<string, unknown>;
  /** Whether `inputs` was a list (the output is then a list too). */
  list: boolean;
  /** The inputs cut into chunks of at most the sync batch limit (one chunk holding the input itself otherwise). */
  chunks: unknown[];
  total: number;
  /** sha256 of the canonical request, for `Idempotency-Key`. */
  body_hash: string;
  /** The API's base URL as the caller reached it, for `urls`. */
  base_url: string;
  webhook?: { url: string; events_filter: WebhookEvent[] };
  created_at: string;
  /** How long the job is kept once finished (`JOB_RESULT_TTL_SECONDS` when it was accepted). */
  ttl_ms: number;
}

/** One event of a job, as the event stream and webhooks carry it. */
export interface JobEvent {
  seq: number;
  type: `job.${WebhookEvent}`;
  timestamp: string;
  data: JobView & { chunk?: { index: number; offset: number; output: unknown } };
}

/** What one webhook delivery sends (rendered by the job's object, signed and sent by the consumer). */
export interface Deliverable {
  url: string;
  /** The same on every attempt of this event, so receivers can dedupe. */
  webhook_id: string;
  body: string;
  key_id: string;
}

/** Queue messages name the job and its key (which names the object that holds it). */
export type JobMessage =
  { kind: 'job'; job: string; key: string } | { kind: 'delivery'; job: string; key: string; seq: number };

/** Job ids: `job_` and 32 hex digits (random, or a hash of the key and its `Idempotency-Key`). */
export const JOB_ID = /^job_[0-9a-f]{32}$/;
