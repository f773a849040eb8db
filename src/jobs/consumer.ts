/**
 * @module The Worker's `queue()` handler: runs jobs chunk by chunk through the same app as the sync API (so the
 * same scopes, KV cache, placement, origin and fallback apply), delivers webhooks signed per Standard Webhooks
 * with retries and backoff, and turns what lands in the dead-letter queue into failed jobs and failed deliveries.
 */
import type { ExecutionContext as HonoExecutionContext } from 'hono';
import { z } from 'zod';
import { readConfig, type Config } from '../lib/config.js';
import { onBehalfOf } from '../auth/caller.js';
import { servicesFor } from '../serving/services.js';
import { checkConfiguredUrl } from '../webhooks/ssrf.js';
import { signedHeaders } from '../webhooks/signing.js';
import { rpc } from '../lib/rpc.js';
import type { WebhookSecretsObject } from '../webhooks/secrets-object.js';
import { jobObjectName, type JobObject } from './job-object.js';
import { JobErrorSchema, type JobMessage } from './model.js';

/** The app's `{ error: { code, message } }` answer, read for the job's own error. */
const ErrorAnswerSchema = z.object({ error: JobErrorSchema });

/**
 * How the consumer reaches the app (the Worker's own fetch handler, called in-process, never over the network).
 *
 * Why through the app and not src/serving/ directly: a chunk must be answered exactly as the owner's own sync call
 * would be — the key's scope, the body and text limits, the route's request validation, the task's parsing of raw
 * inputs, placement, the cache partition, and errors in the API's `{ error }` shape stored with the job. All of that
 * is the app's route and middleware chain; calling the serving path directly would re-implement the chain per
 * surface. The request is marked as the owner's by object identity (`onBehalfOf`, src/auth/caller.ts), so nothing
 * from outside can claim to be one, and the key's rate limit is not spent twice.
 */
export type AppFetch = (request: Request, env: Env, ctx: HonoExecutionContext) => Response | Promise<Response>;

/** Queue delays are capped by Cloudflare Queues at 12 hours. */
const MAX_DELAY_SECONDS = 12 * 3600;

/**
 * A fault-injection seam for the tests: a consumer crashing mid-job (an evicted isolate, a CPU limit) cannot be
 * caused on demand, so a test may set `beforeChunk` to throw. Unset in production.
 */
export const consumerFaults: {
  /** Before a chunk's prediction. */
  beforeChunk?: (jobId: string, chunk: number) => void;
  /** After a chunk's prediction, before it is recorded (the crash that makes a retry compute it again). */
  beforeRecord?: (jobId: string, chunk: number) => void;
} = {};

/** The delay before attempt `attempt + 1`: doubling from `base`, with "equal jitter" (half fixed, half random). */
export function backoffSeconds(attempt: number, base: number, random: () => number = Math.random): number {
  const full = Math.min(base * 2 ** Math.max(0, attempt - 1), MAX_DELAY_SECONDS);
  return Math.round(full / 2 + random() * (full / 2));
}

/** The object that holds a job (its key's shard). */
export const jobStub = (env: Env, keyId: string, jobId: string) =>
  rpc<JobObject>(env.JOB.get(env.JOB.idFromName(jobObjectName(keyId, jobId))));
export const secretsStub = (env: Env, keyId: string) =>
  rpc<WebhookSecretsObject>(env.WEBHOOK_SECRETS.get(env.WEBHOOK_SECRETS.idFromName(keyId)));

/**
 * The sync predict request the service makes to itself (a job's chunk, an inbound hook's event), for `onBehalfOf`.
 * The length is set so the body limit counts it without re-wrapping the request.
 */
export function predictRequest(
  origin: string,
  model: string,
  inputs: unknown,
  parameters: Record<string, unknown>,
): Request {
  const body = JSON.stringify({ inputs, parameters });
  return new Request(`${origin}/v1/models/${encodeURIComponent(model)}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': String(new TextEncoder().encode(body).length) },
    body,
  });
}

async function runJob(
  message: Message<JobMessage>,
  id: string,
  keyId: string,
  env: Env,
  ctx: ExecutionContext,
  fetchApp: AppFetch,
  config: Config,
): Promise<void> {
  const job = jobStub(env, keyId, id);
  try {
    const plan = await job.begin(id);
    if (!plan.run) {
      message.ack();
      return;
    }
    const owner = await servicesFor(env).keys.get(plan.key_id);
    if (owner === undefined || owner.revoked_at !== undefined) {
      await job.fail(id, { code: 'unauthorized', message: 'The API key that submitted this job has been revoked.' });
      message.ack();
      return;
    }
    const slice = plan.pending.slice(0, config.jobs.chunksPerMessage);
    for (const idx of slice) {
      consumerFaults.beforeChunk?.(id, idx);
      const inputs = await job.chunkInputs(id, idx);
      const res = await fetchApp(
        onBehalfOf(predictRequest('https://jobs.internal', plan.model, inputs, plan.parameters), owner),
        env,
        ctx,
      );
      if (!res.ok) {
        const body = ErrorAnswerSchema.safeParse(await res.json().catch(() => null));
        // Anything else (not JSON, another shape) is described by its status alone.
        const error = body.success
          ? body.data.error
          : { code: 'internal', message: `The model answered HTTP ${res.status}.` };
        // 429 and 5xx are worth another try (the message is retried); any other 4xx fails the job.
        if (res.status === 429 || res.status >= 500) throw new Error(`${error.code}: ${error.message}`);
        await job.fail(id, error);
        message.ack();
        return;
      }
      const output: unknown = await res.json();
      consumerFaults.beforeRecord?.(id, idx);
      const status = await job.completeChunk(id, idx, output);
      // Canceled meanwhile: the cancel won, and nothing more runs.
      if (status !== 'running') {
        message.ack();
        return;
      }
    }
    // The rest goes in a fresh message, so one invocation's CPU and memory stay bounded whatever the job's size.
    if (plan.pending.length > slice.length) {
      await env.JOBS.send({ kind: 'job', job: id, key: keyId } satisfies JobMessage);
    }
    message.ack();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    console.error(JSON.stringify({ msg: 'job attempt failed', job: id, attempt: message.attempts, err: reason }));
    await job.noteAttemptError(id, reason).catch(() => undefined);
    message.retry({ delaySeconds: config.jobs.retryDelaySeconds });
  }
}

async function deliver(
  message: Message<JobMessage>,
  id: string,
  keyId: string,
  seq: number,
  env: Env,
  config: Config,
): Promise<void> {
  const job = jobStub(env, keyId, id);
  const d = await job.deliverable(id, seq);
  if (d === null) {
    message.ack();
    return;
  } // the job expired, or the event has no webhook
  const attempts = message.attempts;
  const { webhooks } = config;
  // Checked again at delivery: a name may resolve elsewhere now than when the job was accepted (DNS rebinding).
  const verdict = await checkConfiguredUrl(d.url, webhooks);
  if (!verdict.ok) {
    await job.recordDelivery(id, seq, { state: 'failed', attempts, last_error: verdict.reason });
    message.ack();
    return;
  }
  const secrets = await secretsStub(env, d.key_id).signing();
  let status: number | undefined;
  let error: string | undefined;
  try {
    const res = await fetch(verdict.url, {
      method: 'POST',
      headers: {
        ...signedHeaders(secrets, d.webhook_id, d.body),
        'content-type': 'application/json',
        'user-agent': 'edge-inference-webhooks/1',
      },
      body: d.body,
      // A redirect could point anywhere the guard refused: it counts as a failed attempt.
      redirect: 'manual',
      signal: AbortSignal.timeout(webhooks.timeoutMs),
    });
    status = res.status;
    await res.body?.cancel();
    if (res.ok) {
      await job.recordDelivery(id, seq, { state: 'delivered', attempts, last_status: status });
      message.ack();
      return;
    }
  } catch (err) {
    error = err instanceof Error && err.name === 'TimeoutError' ? 'timed out' : String(err);
  }
  const outcome = {
    attempts,
    ...(status === undefined ? {} : { last_status: status }),
    ...(error === undefined ? {} : { last_error: error }),
  };
  if (attempts >= webhooks.maxAttempts) {
    await job.recordDelivery(id, seq, { state: 'failed', ...outcome });
    message.ack();
    return;
  }
  await job.recordDelivery(id, seq, { state: 'pending', ...outcome });
  message.retry({ delaySeconds: backoffSeconds(attempts, webhooks.retryBaseSeconds) });
}

/** What reaches the dead-letter queue: a job whose every attempt threw, or a delivery whose consumer kept failing. */
async function deadLetter(message: Message<JobMessage>, env: Env): Promise<void> {
  const body = message.body;
  const job = jobStub(env, body.key, body.job);
  if (body.kind === 'job') {
    const last = (await job.lastAttemptError(body.job)) ?? 'no error was recorded';
    await job.fail(body.job, {
      code: 'job_failed',
      message: `The job failed on every attempt; the last error: ${last}`,
    });
  } else {
    await job.recordDelivery(body.job, body.seq, {
      state: 'failed',
      attempts: 0,
      last_error: 'the delivery kept failing',
    });
  }
  message.ack();
}

/** The queue handler for all three queues (told apart by name: the dead-letter queue's ends in `-dlq`). */
export function queueHandler(fetchApp: AppFetch) {
  return async (batch: MessageBatch<JobMessage>, env: Env, ctx: ExecutionContext): Promise<void> => {
    const config = readConfig(env);
    if (batch.queue.endsWith('-dlq')) {
      for (const m of batch.messages) await deadLetter(m, env);
      return;
    }
    // Jobs run one after another (each is CPU work in this isolate); deliveries wait on the network, so together.
    const deliveries: Promise<void>[] = [];
    for (const m of batch.messages) {
      const body = m.body;
      if (body.kind === 'job') await runJob(m, body.job, body.key, env, ctx, fetchApp, config);
      else {
        deliveries.push(
          deliver(m, body.job, body.key, body.seq, env, config).catch((err: unknown) => {
            console.error(JSON.stringify({ msg: 'delivery failed', job: body.job, seq: body.seq, err: String(err) }));
            m.retry({ delaySeconds: backoffSeconds(m.attempts, config.webhooks.retryBaseSeconds) });
          }),
        );
      }
    }
    await Promise.all(deliveries);
  };
}
