/**
 * @module Async jobs: `POST /v1/jobs` (validated like a sync prediction, then queued; `Idempotency-Key` honoured),
 * `GET /v1/jobs/{id}`, `DELETE /v1/jobs/{id}` (cancel), `GET /v1/jobs/{id}/events` (Server-Sent Events, resumable
 * with `Last-Event-ID`) and `POST /v1/jobs/{id}/webhook/redeliver`. A job belongs to the key that submitted it; any
 * other key gets 404. State lives in the job's Durable Object (src/jobs/job-object.ts).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { jobStub } from '../jobs/consumer.js';
import { JOB_ID, WEBHOOK_EVENTS, type JobEvent, type JobView, type NewJob } from '../jobs/model.js';
import { ServiceError } from '../lib/errors.js';
import { sha256Hex } from '../lib/sha256.js';
import type { KeyRecord } from '../auth/keys.js';
import { assertKeyMayCall, currentKey } from '../auth/caller.js';
import type { Manifest } from '../lib/manifest.js';
import { parseModelRef } from '../storage/registry.js';
import { canonicalJson } from '../storage/result-cache.js';
import { taskModule } from '../tasks/index.js';
import { checkConfiguredUrl } from '../webhooks/ssrf.js';
import { createRouter, errorResponses, KEY_SECURITY, RateLimitHeaders } from './router.js';
import { PredictOutputSchema } from './predict.js';
import { taskContext } from '../serving/contract.js';
import { servicesFor, type AppEnv } from '../serving/services.js';

const tags = ['Jobs'];
const headers = z.object(RateLimitHeaders);

/** How often the event stream looks for new events, and how long one stream stays open (then: reconnect). */
const POLL_MS = 250;
const STREAM_MS = 5 * 60_000;

const JobErrorSchema = z.object({ code: z.string(), message: z.string() });

export const JobSchema = z
  .object({
    id: z.string().openapi({ example: 'job_5f0c2a9e8b7d4c3a2f1e0d9c8b7a6f5e' }),
    object: z.literal('job'),
    status: z.enum(['queued', 'running', 'succeeded', 'failed', 'canceled']),
    model: z
      .string()
      .openapi({ description: 'The version that runs it, pinned at submit.', example: 'sentiment-en@2.1.0' }),
    created_at: z.string(),
    started_at: z.string().optional(),
    completed_at: z.string().optional(),
    expires_at: z
      .string()
      .optional()
      .openapi({ description: 'When the finished job, its output and its events are deleted.' }),
    progress: z
      .object({ processed: z.number().int(), total: z.number().int() })
      .optional()
      .openapi({ description: 'List inputs: items done so far.' }),
    output: PredictOutputSchema.optional().openapi({ description: 'On success: what the sync API would answer.' }),
    error: JobErrorSchema.optional(),
    webhook: z
      .object({
        url: z.string(),
        events_filter: z.array(z.enum(WEBHOOK_EVENTS)),
        state: z.enum(['idle', 'pending', 'delivered', 'failed']),
        attempts: z.number().int(),
        last_status: z.number().int().optional(),
        last_error: z.string().optional(),
        last_event: z.string().optional(),
      })
      .optional()
      .openapi({ description: "The latest webhook event's delivery." }),
    urls: z.object({ get: z.string(), cancel: z.string(), events: z.string() }),
  })
  .openapi('Job');

export const JobRequestSchema = z
  .object({
    model: z.string().min(1).openapi({ description: 'A model id or `id@version`.', example: 'sentiment-en' }),
    inputs: z
      .unknown()
      .refine((v) => v !== undefined, 'required')
      .openapi({
        description:
          'What `POST /v1/models/{model}/predict` takes as `inputs`; a list may be far longer (MAX_JOB_ITEMS).',
        example: ['I loved it.', 'Never again.'],
      }),
    parameters: z.record(z.string(), z.unknown()).optional(),
    webhook: z
      .string()
      .max(2048)
      .optional()
      .openapi({ description: 'An https URL to POST events to, signed per Standard Webhooks.' }),
    webhook_events_filter: z
      .array(z.enum(WEBHOOK_EVENTS))
      .min(1)
      .optional()
      .openapi({ description: 'Which events to send (default `["completed"]`); `output` is per chunk of a list.' }),
  })
  .strict()
  .openapi('JobRequest');

const IdParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'job_5f0c2a9e8b7d4c3a2f1e0d9c8b7a6f5e' }),
});

export const createJobRoute = createRoute({
  method: 'post',
  path: '/v1/jobs',
  operationId: 'createJob',
  tags,
  summary: 'Submit an async job',
  description:
    'Validated like a sync prediction, then queued; a list input runs in chunks of the sync batch limit. The same ' +
    '`Idempotency-Key` with the same body answers the same job; with another body, 422.',
  security: KEY_SECURITY,
  request: {
    headers: z.object({
      'idempotency-key': z.string().optional().openapi({ description: 'Up to 255 printable characters.' }),
    }),
    body: { required: true, content: { 'application/json': { schema: JobRequestSchema } } },
  },
  responses: {
    202: {
      description: 'Accepted (or, for a repeated Idempotency-Key, the job it made).',
      headers,
      content: { 'application/json': { schema: JobSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429),
  },
});

export const getJobRoute = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}',
  operationId: 'getJob',
  tags,
  summary: 'A job: its status, progress, output or error',
  security: KEY_SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: 'The job.', headers, content: { 'application/json': { schema: JobSchema } } },
    ...errorResponses(401, 404, 429),
  },
});

export const cancelJobRoute = createRoute({
  method: 'delete',
  path: '/v1/jobs/{id}',
  operationId: 'cancelJob',
  tags,
  summary: 'Cancel a job',
  description: 'Takes effect before the next chunk starts; never waits on a webhook. A finished job answers 409.',
  security: KEY_SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: 'The canceled job.', headers, content: { 'application/json': { schema: JobSchema } } },
    ...errorResponses(401, 404, 409, 429),
  },
});

export const jobEventsRoute = createRoute({
  method: 'get',
  path: '/v1/jobs/{id}/events',
  operationId: 'jobEvents',
  tags,
  summary: "A job's events as Server-Sent Events",
  description:
    'Every event so far, then each as it happens, until `job.completed`. Each carries `id:`; reconnect with ' +
    '`Last-Event-ID` to get only what was missed. `data:` is the webhook body `{ type, timestamp, data }`.',
  security: KEY_SECURITY,
  request: {
    params: IdParams,
    headers: z.object({ 'last-event-id': z.string().optional() }),
  },
  responses: {
    200: { description: 'The event stream.', content: { 'text/event-stream': { schema: z.string() } } },
    ...errorResponses(401, 404, 422, 429),
  },
});

export const redeliverRoute = createRoute({
  method: 'post',
  path: '/v1/jobs/{id}/webhook/redeliver',
  operationId: 'redeliverWebhook',
  tags,
  summary: "Send the job's latest webhook event again",
  description: 'Same body and the same `webhook-id` (receivers dedupe on it), with a fresh attempt budget.',
  security: KEY_SECURITY,
  request: { params: IdParams },
  responses: {
    202: {
      description: 'Queued.',
      headers,
      content: {
        'application/json': { schema: z.object({ job: z.string(), event: z.number().int(), webhook_id: z.string() }) },
      },
    },
    ...errorResponses(401, 404, 409, 429),
  },
});

const jobNotFound = (id: string): ServiceError => new ServiceError(404, 'not_found', `No job with id '${id}'.`);

/** The object that would hold this key's job, once the id has the right shape (anything else is not found). */
function jobFor(c: Context<AppEnv>, id: string) {
  if (!JOB_ID.test(id)) throw jobNotFound(id);
  return jobStub(c.env, currentKey(c).id, id);
}

/** A list input runs in chunks; a flat number array is one tabular row, not a list (Hugging Face's rule). */
function isList(inputs: unknown): inputs is unknown[] {
  return Array.isArray(inputs) && !inputs.every((v) => typeof v === 'number');
}

/** Items per chunk: the sync batch limit, and the model's edge batch limit unless it always runs on the origin. */
function chunkSize(manifest: Manifest, maxBatch: number): number {
  const edge = manifest.edge_limits.max_batch;
  return manifest.placement === 'origin' || edge === undefined ? maxBatch : Math.min(maxBatch, edge);
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

async function jobId(keyId: string, idempotencyKey: string | undefined): Promise<string> {
  if (idempotencyKey === undefined) {
    return `job_${crypto.randomUUID().replaceAll('-', '')}`;
  }
  if (!IDEMPOTENCY_KEY.test(idempotencyKey)) {
    throw new ServiceError(422, 'invalid_input', 'Idempotency-Key: 1 to 255 printable ASCII characters.');
  }
  // Scoped by key: two tenants using the same Idempotency-Key get two jobs.
  return `job_${(await sha256Hex(`${keyId}\n${idempotencyKey}`)).slice(0, 32)}`;
}

export type JobRequest = z.infer<typeof JobRequestSchema>;

/**
 * Validates and queues a job for `owner` (the jobs route, and inbound hooks that run as jobs): the model in the key's
 * scope, the inputs as the sync API checks them, the webhook past the SSRF guard; then the job's object and the
 * queue message. `replayed` when the Idempotency-Key named an existing job with the same body.
 */
export async function submitJob(
  env: Env,
  owner: KeyRecord,
  body: JobRequest,
  options: { idempotencyKey?: string | undefined; baseUrl: string },
): Promise<{ job: JobView; replayed: boolean }> {
  const ref = parseModelRef(body.model);
  assertKeyMayCall(owner, ref.id);
  const { registry, config } = servicesFor(env);
  const manifest = await registry.resolve(ref);
  const task = taskModule(manifest.task);
  if (task === undefined) {
    throw new ServiceError(
      422,
      'invalid_input',
      `model: '${manifest.id}' (${manifest.task}) has no task API to run as a job.`,
    );
  }
  const parameters = body.parameters ?? {};
  const items = isList(body.inputs) ? body.inputs : undefined;
  if (items !== undefined && items.length > config.jobs.maxItems) {
    throw new ServiceError(
      413,
      'payload_too_large',
      `inputs: at most ${config.jobs.maxItems} items per job (got ${items.length}).`,
    );
  }
  // The same checks as the sync API, on the whole input at once, so a bad item is refused now, not mid-job.
  await task.parse(
    { kind: 'json', inputs: body.inputs, parameters },
    manifest,
    { maxBatch: config.jobs.maxItems, maxTextChars: config.maxTextChars },
    taskContext(registry, manifest),
  );
  let webhook: NewJob['webhook'];
  if (body.webhook !== undefined) {
    const verdict = await checkConfiguredUrl(body.webhook, config.webhooks);
    if (!verdict.ok) throw new ServiceError(422, 'invalid_input', verdict.reason);
    webhook = { url: verdict.url.href, events_filter: body.webhook_events_filter ?? ['completed'] };
  } else if (body.webhook_events_filter !== undefined) {
    throw new ServiceError(422, 'invalid_input', 'webhook_events_filter: needs a webhook.');
  }
  const size = chunkSize(manifest, config.maxBatch);
  const chunks: unknown[] = [];
  if (items !== undefined) for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  else chunks.push(body.inputs);
  const id = await jobId(owner.id, options.idempotencyKey);
  const created = await jobStub(env, owner.id, id).create({
    id,
    key_id: owner.id,
    model: `${manifest.id}@${manifest.version}`,
    parameters,
    list: items !== undefined,
    chunks,
    total: items?.length ?? 1,
    body_hash: await sha256Hex(canonicalJson(body)),
    base_url: options.baseUrl,
    ...(webhook === undefined ? {} : { webhook }),
    created_at: new Date().toISOString(),
    ttl_ms: config.jobs.resultTtlMs,
  });
  if (created.outcome === 'conflict') {
    throw new ServiceError(422, 'invalid_input', 'Idempotency-Key: already used with a different request body.');
  }
  return { job: created.job, replayed: created.outcome === 'existing' };
}

export function jobsRoutes() {
  const router = createRouter<AppEnv>();

  router.openapi(createJobRoute, async (c) => {
    const { job, replayed } = await submitJob(c.env, currentKey(c), c.req.valid('json'), {
      idempotencyKey: c.req.header('idempotency-key'),
      baseUrl: new URL(c.req.url).origin,
    });
    if (replayed) c.header('Idempotent-Replayed', 'true');
    c.header('Location', job.urls.get);
    return c.json(job as z.infer<typeof JobSchema>, 202);
  });

  router.openapi(getJobRoute, async (c) => {
    const { id } = c.req.valid('param');
    const view = await jobFor(c, id).getFor(id, currentKey(c).id);
    if (view === null) throw jobNotFound(id);
    return c.json(view as z.infer<typeof JobSchema>, 200);
  });

  router.openapi(cancelJobRoute, async (c) => {
    const { id } = c.req.valid('param');
    const result = await jobFor(c, id).cancelFor(id, currentKey(c).id);
    if (result === null) throw jobNotFound(id);
    if (!result.canceled) throw new ServiceError(409, 'conflict', `Job '${id}' has already ${result.job.status}.`);
    return c.json(result.job as z.infer<typeof JobSchema>, 200);
  });

  router.openapi(jobEventsRoute, async (c) => {
    const { id } = c.req.valid('param');
    const keyId = currentKey(c).id;
    const job = jobFor(c, id);
    const resume = c.req.valid('header')['last-event-id'];
    const after = resume === undefined ? 0 : Number(resume);
    if (!Number.isInteger(after) || after < 0) {
      throw new ServiceError(422, 'invalid_input', 'Last-Event-ID: must be an event id this stream sent.');
    }
    // The first page is read before the stream opens, so an unknown job is a plain 404, not an empty stream.
    const first = await job.eventsFor(id, keyId, after);
    if (first === null) throw jobNotFound(id);
    return streamSSE(c, async (stream) => {
      let seen = after;
      let page: JobEvent[] | null = first;
      const until = Date.now() + STREAM_MS;
      for (;;) {
        for (const e of page ?? []) {
          await stream.writeSSE({
            id: String(e.seq),
            event: e.type,
            data: JSON.stringify({ type: e.type, timestamp: e.timestamp, data: e.data }),
          });
          seen = e.seq;
          if (e.type === 'job.completed') return;
        }
        if (stream.aborted || page === null || Date.now() > until) return;
        if ((page ?? []).length === 0) await stream.sleep(POLL_MS);
        page = await job.eventsFor(id, keyId, seen);
      }
    });
  });

  router.openapi(redeliverRoute, async (c) => {
    const { id } = c.req.valid('param');
    const result = await jobFor(c, id).redeliverFor(id, currentKey(c).id);
    if (result === 'no_job') throw jobNotFound(id);
    if (result === 'no_event') {
      throw new ServiceError(
        409,
        'conflict',
        `Job '${id}' has no webhook event to send (no webhook, or none due yet).`,
      );
    }
    return c.json({ job: id, event: result.seq, webhook_id: result.webhook_id }, 202);
  });

  return router;
}
