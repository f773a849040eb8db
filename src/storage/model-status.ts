/**
 * @module A model's build state while it has no servable manifest: `models/{id}/status.json` beside its versions,
 * written by `npm start`'s background builder (scripts/build-queue.ts) into the local R2, and by every build into
 * `build/models/{id}/status.json` (where the origin's local store reads it). Production buckets never hold one: a
 * published model is ready or absent. The registry reads it only when a model does not resolve, so a ready model
 * costs nothing extra, and a model still building answers 503 `model_unavailable` saying so instead of 404.
 */
import { z } from 'zod';
import { ServiceError } from '../lib/errors.js';
import { ModelIdSchema, VersionSchema } from '../lib/manifest.js';

export const MODEL_STATES = ['building', 'ready', 'failed'] as const;
export type ModelState = (typeof MODEL_STATES)[number];

export const ModelStatusSchema = z.object({
  state: z.enum(MODEL_STATES),
  /** The version the build makes (the recipe's). */
  version: VersionSchema.optional(),
  /** 0…1, estimated from the time the build has run against the time it is expected to take; 0 while queued. */
  progress: z.number().min(0).max(1).optional(),
  /** Seconds until ready, as estimated at `updated_at` (queued builds include the ones ahead of them). */
  eta_seconds: z.number().nonnegative().optional(),
  /** When this model's own build began; absent while it waits its turn. */
  started_at: z.string().optional(),
  /** Why it failed: the build log's last error line. */
  reason: z.string().max(1000).optional(),
  updated_at: z.string(),
});
export type ModelStatus = z.infer<typeof ModelStatusSchema>;
/** A status that keeps a model from serving (a `ready` one only records the last build). */
export type NotReadyStatus = ModelStatus & { state: 'building' | 'failed' };
export const isNotReady = (s: ModelStatus): s is NotReadyStatus => s.state !== 'ready';

/** Where a model's status object lives, beside `latest` (the origin's local store maps it to build/models/{id}/). */
export const statusKey = (id: string): string => `models/${ModelIdSchema.parse(id)}/status.json`;

/** The parsed status, or undefined when the text is not one (a broken status is no reason to fail a request). */
export function parseModelStatus(raw: unknown): ModelStatus | undefined {
  const parsed = ModelStatusSchema.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

/** Seconds left, as the status estimated them, less the time since it was written. */
export function secondsLeft(status: ModelStatus, now = Date.now()): number | undefined {
  if (status.eta_seconds === undefined) return undefined;
  const written = Date.parse(status.updated_at);
  const since = Number.isNaN(written) ? 0 : Math.max(0, (now - written) / 1000);
  return Math.max(0, status.eta_seconds - since);
}

/** What Retry-After says for a model still building: the estimate, within 5 s … 10 min (30 s with none). */
export function retryAfterSeconds(status: ModelStatus, now = Date.now()): number {
  const left = secondsLeft(status, now);
  return left === undefined ? 30 : Math.min(600, Math.max(5, Math.ceil(left)));
}

const duration = (s: number): string =>
  s < 90 ? `${Math.max(1, Math.round(s))} s` : `${Math.round(s / 60)} minute${Math.round(s / 60) === 1 ? '' : 's'}`;

/** The sentence a caller reads: what state, how far along, how long to wait (or why it failed). */
export function statusMessage(id: string, status: ModelStatus, now = Date.now()): string {
  const name = status.version === undefined ? id : `${id}@${status.version}`;
  if (status.state === 'failed')
    return `Model '${name}' failed to build${status.reason === undefined ? '' : `: ${status.reason}`}.`;
  const left = secondsLeft(status, now);
  const eta = left === undefined ? '' : `, about ${duration(left)} left`;
  const where = status.started_at === undefined ? 'queued to build' : `${Math.round((status.progress ?? 0) * 100)}%`;
  return `Model '${name}' is still building (${where}${eta}); it is served as soon as it is built.`;
}

/** A model that exists but is not ready: still building, or its build failed. Carries the status for readiness. */
export class ModelNotReadyError extends ServiceError {
  constructor(
    readonly modelId: string,
    readonly buildStatus: NotReadyStatus,
    now = Date.now(),
  ) {
    super(503, 'model_unavailable', statusMessage(modelId, buildStatus, now), {
      // A failed build does not heal by waiting, so no Retry-After invites a retry loop; a building one says when.
      headers: buildStatus.state === 'building' ? { 'Retry-After': String(retryAfterSeconds(buildStatus, now)) } : {},
    });
  }
}
