/**
 * @module The shapes async jobs share between the route (`POST /v1/jobs`), the job's Durable Object and the queue
 * consumer: statuses, the job as clients see it, the webhook events, and the queue messages. The ones the job's
 * object stores as JSON and reads back are zod schemas, their types inferred, so a stored row is parsed, not cast.
 */
import { z } from 'zod';

export const JobStatusSchema = z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled']);
export type JobStatus = z.infer<typeof JobStatusSchema>;

/** Statuses a job never leaves. */
export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'canceled'];
export const isTerminal = (status: JobStatus): boolean => TERMINAL.includes(status);

/** Webhook events a caller may subscribe to (Replicate's `webhook_events_filter`). */
export const WEBHOOK_EVENTS = ['start', 'output', 'completed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export const JobErrorSchema = z.object({ code: z.string(), message: z.string() });
export type JobError = z.infer<typeof JobErrorSchema>;

/** A webhook delivery's progress, as the job's object stores it beside the event. */
export const DeliverySchema = z.object({
  state: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number(),
  last_status: z.number().optional(),
  last_error: z.string().optional(),
});
export type Delivery = z.infer<typeof DeliverySchema>;

/** Where the webhook of a job's latest event stands (delivery state lives beside the job); keys in view()'s order. */
const WebhookStateSchema = z.object({
  url: z.string(),
  events_filter: z.array(z.enum(WEBHOOK_EVENTS)),
  /** `idle` until an event is due; `pending` while it is queued or being retried. */
  state: z.enum(['idle', ...DeliverySchema.shape.state.options]),
  attempts: DeliverySchema.shape.attempts,
  last_status: DeliverySchema.shape.last_status,
  last_error: DeliverySchema.shape.last_error,
  /** The event the state is about, e.g. `job.completed`. */
  last_event: z.string().optional(),
});
export type WebhookState = z.infer<typeof WebhookStateSchema>;

/** A job as its owner reads it (`GET /v1/jobs/{id}`, webhook and event-stream bodies, an event's stored snapshot). */
export const JobViewSchema = z.object({
  id: z.string(),
  object: z.literal('job'),
  status: JobStatusSchema,
  /** The model version that runs it, pinned when the job was accepted: `id@version`. */
  model: z.string(),
  created_at: z.string(),
  // Keys in the order view() writes them: a parsed snapshot serializes as the job did when it happened.
  urls: z.object({ get: z.string(), cancel: z.string(), events: z.string() }),
  started_at: z.string().optional(),
  completed_at: z.string().optional(),
  /** When a finished job is deleted (output and events with it). */
  expires_at: z.string().optional(),
  /** List inputs only: items done so far. */
  progress: z.object({ processed: z.number(), total: z.number() }).optional(),
  /** On success: the task output (a list for a list input, in input order). */
  output: z.unknown().optional(),
  error: JobErrorSchema.optional(),
  webhook: WebhookStateSchema.optional(),
});
export type JobView = z.infer<typeof JobViewSchema>;

/** What the route hands the job's object to create it. */
export const NewJobSchema = z.object({
  id: z.string(),
  key_id: z.string(),
  model: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  /** Whether `inputs` was a list (the output is then a list too). */
  list: z.boolean(),
  /** The inputs cut into chunks of at most the sync batch limit (one chunk holding the input itself otherwise). */
  chunks: z.array(z.unknown()),
  total: z.number(),
  /** sha256 of the canonical request, for `Idempotency-Key`. */
  body_hash: z.string(),
  /** The API's base URL as the caller reached it, for `urls`. */
  base_url: z.string(),
  webhook: z.object({ url: z.string(), events_filter: z.array(z.enum(WEBHOOK_EVENTS)) }).optional(),
  created_at: z.string(),
  /** How long the job is kept once finished (`JOB_RESULT_TTL_SECONDS` when it was accepted). */
  ttl_ms: z.number(),
});
export type NewJob = z.infer<typeof NewJobSchema>;

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
