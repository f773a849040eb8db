/**
 * @module Async jobs inside workerd with real miniflare Queues (producer, consumer, retries, dead-letter queue) and
 * Durable Objects (SQLite): accept, read-your-writes, owner-only reads, list jobs in chunks with progress and the
 * same answers as the sync API, a consumer that crashes mid-job, a job that fails on every attempt, cancel,
 * Idempotency-Key, validation, the event stream with Last-Event-ID, and expiry.
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { consumerFaults, jobStub } from '../../src/jobs/consumer.js';
import { jobObjectName } from '../../src/jobs/job-object.js';
import type { JobView } from '../../src/jobs/model.js';
import { r2Keys } from '../../src/lib/manifest.js';
import { sha256Hex } from '../../src/lib/sha256.js';
import { call, json, postJson, recordOf, type ErrorJson } from './client.js';
import { finished, getJob, submit, syncOutputs, until } from './job-support.js';
import { base64Bytes, builtManifest, seedModels } from './seed.js';

const BROKEN = 'sentiment-broken';
/** Items per chunk: the sync batch limit, and sentiment-en's edge batch limit (its placement is `auto`). */
const CHUNK = Math.min(64, (builtManifest('sentiment-en')['edge_limits'] as { max_batch: number }).max_batch);

/** `n` distinct sentences from the sentiment build's held-out split (a number makes repeats distinct). */
function sentences(n: number): string[] {
  const heldout = inject('references').sentiment.heldout;
  return Array.from(
    { length: n },
    (_, i) => `${heldout[i % heldout.length]?.text ?? ''} ${Math.floor(i / heldout.length)}`,
  );
}

beforeAll(async () => {
  await seedModels();
  // A model whose weights do not match their manifest's sha256: every load answers 503 model_unavailable, a real
  // failure that retries cannot fix.
  const m = inject('models').find((x) => x.id === 'sentiment-en');
  if (m === undefined) throw new Error('sentiment-en was not built');
  const manifest = { ...(JSON.parse(m.manifestText) as Record<string, unknown>), id: BROKEN };
  for (const [name, b64] of Object.entries(m.files)) {
    const bytes = base64Bytes(b64);
    if (name.endsWith('.onnx')) bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    await env.MODELS.put(r2Keys.file(BROKEN, m.version, name), bytes);
  }
  await env.MODELS.put(r2Keys.manifest(BROKEN, m.version), JSON.stringify(manifest));
  await env.MODELS.put(r2Keys.latest(BROKEN), m.version);
});

afterEach(() => {
  delete consumerFaults.beforeChunk;
  delete consumerFaults.beforeRecord;
});

describe('POST /v1/jobs', () => {
  it('accepts at once (202, queued), is readable right away, and succeeds with the sync answer', async () => {
    const res = await postJson('/v1/jobs', { model: 'sentiment-en', inputs: 'What a lovely day at the beach.' });
    expect(res.status).toBe(202);
    const job = await json<JobView>(res);
    expect(job).toMatchObject({ object: 'job', status: 'queued' });
    expect(job.model).toMatch(/^sentiment-en@/);
    expect(job.id).toMatch(/^job_[0-9a-f]{32}$/);
    expect(res.headers.get('location')).toBe(job.urls.get);
    expect(job.urls).toEqual({
      get: `http://edge.test/v1/jobs/${job.id}`,
      cancel: `http://edge.test/v1/jobs/${job.id}`,
      events: `http://edge.test/v1/jobs/${job.id}/events`,
    });
    // Read-your-writes: the job's object answers for it the moment the 202 is out.
    const read = await getJob(job.id);
    expect(['queued', 'running', 'succeeded']).toContain(read.status);
    const done = await finished(job.id);
    expect(done.status).toBe('succeeded');
    expect(done.started_at).toBeDefined();
    expect(Date.parse(done.expires_at ?? '')).toBeGreaterThan(Date.parse(done.completed_at ?? ''));
    const [sync] = await syncOutputs('sentiment-en', ['What a lovely day at the beach.'], 1);
    expect(done.output).toEqual(sync);
    expect(done.progress).toBeUndefined();
  });

  it('belongs to the key that submitted it: any other key gets 404 on read, cancel and events', async () => {
    const job = await submit({ model: 'sentiment-en', inputs: 'mine, not yours' });
    for (const init of [{}, { method: 'DELETE' }]) {
      const res = await call(`/v1/jobs/${job.id}`, init, undefined, { key: 'other' });
      expect(res.status).toBe(404);
      expect((await json<ErrorJson>(res)).error.code).toBe('not_found');
    }
    expect((await call(`/v1/jobs/${job.id}/events`, {}, undefined, { key: 'other' })).status).toBe(404);
    expect((await call('/v1/jobs/job_nope')).status).toBe(404);
    expect((await call(`/v1/jobs/${job.id}`, {}, undefined, { key: null })).status).toBe(401);
    await finished(job.id);
  });

  it('runs a 5,000-item list in chunks, with progress, to the same answers as the sync API', async () => {
    const inputs = sentences(5000);
    const job = await submit({ model: 'sentiment-en', inputs, parameters: { top_k: 1 } });
    expect(job.progress).toEqual({ processed: 0, total: 5000 });
    const seen: number[] = [];
    const done = await until(
      async () => {
        const j = await getJob(job.id);
        if (j.progress !== undefined) seen.push(j.progress.processed);
        return j;
      },
      (j) => j.status === 'succeeded' || j.status === 'failed',
      240_000,
    );
    expect(done.status).toBe('succeeded');
    expect(done.progress).toEqual({ processed: 5000, total: 5000 });
    // Progress only grows, and was seen between the ends (the job ran in more than one step).
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(seen.some((p) => p > 0 && p < 5000)).toBe(true);
    const output = done.output as unknown[];
    expect(output).toHaveLength(5000);
    // The sync API at the same batch size, computed fresh, over every item.
    expect(output).toEqual(await syncOutputs('sentiment-en', inputs, CHUNK, { top_k: 1 }));
  });

  it('survives a consumer that crashes mid-job: retries finish it, with every item recorded exactly once', async () => {
    const inputs = sentences(11 * CHUNK); // 11 chunks, over three messages of 4 chunks
    let crashed = 0;
    const runs = new Map<number, number>();
    let target = '';
    consumerFaults.beforeRecord = (id, chunk) => {
      if (id !== target) return;
      runs.set(chunk, (runs.get(chunk) ?? 0) + 1);
      // Chunk 5's prediction is lost once after it ran, and chunk 9's once before anything was recorded.
      if ((chunk === 5 || chunk === 9) && (runs.get(chunk) ?? 0) === 1) {
        crashed++;
        throw new Error(`injected crash at chunk ${chunk}`);
      }
    };
    // The id is known before the job runs: the key's id and the Idempotency-Key name it (sha256, as documented).
    const idem = crypto.randomUUID();
    target = `job_${(await sha256Hex(`${(await recordOf('admin')).id}\n${idem}`)).slice(0, 32)}`;
    const job = await submit({ model: 'sentiment-en', inputs }, { 'idempotency-key': idem });
    expect(job.id).toBe(target);
    const done = await finished(job.id);
    expect(crashed).toBe(2);
    expect(done.status).toBe('succeeded');
    expect(done.progress).toEqual({ processed: inputs.length, total: inputs.length });
    // The crashed chunks ran twice, every other chunk once: retries re-ran only what was not recorded.
    expect([...runs.entries()].sort((a, b) => a[0] - b[0])).toEqual(
      Array.from({ length: 11 }, (_, i) => [i, i === 5 || i === 9 ? 2 : 1]),
    );
    expect(done.output).toEqual(await syncOutputs('sentiment-en', inputs, CHUNK));
  });

  it('fails, still readable, with the reason, once every attempt threw and the message was dead-lettered', async () => {
    const job = await submit({ model: BROKEN, inputs: 'this model cannot load' });
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('job_failed');
    expect(done.error?.message).toMatch(/model_unavailable/);
    expect((await getJob(job.id)).status).toBe('failed');
  });

  it('stops a job whose API key is revoked while it runs: failed, unauthorized, without retries', async () => {
    const made = await postJson('/v1/keys', { name: 'revoked mid-job' });
    const { id, key } = await json<{ id: string; key: string }>(made);
    const auth = { authorization: `Bearer ${key}` };
    const res = await postJson('/v1/jobs', { model: 'sentiment-en', inputs: sentences(60 * CHUNK) }, auth);
    expect(res.status).toBe(202);
    const job = await json<JobView>(res);
    const read = async (): Promise<JobView> => json<JobView>(await call(`/v1/jobs/${job.id}`, { headers: auth }));
    // `until` hands back its last read when time runs out: the job must really be under way before the revocation.
    const started = await until(read, (j) => (j.progress?.processed ?? 0) > 0);
    expect(started.status).toBe('running');
    expect(started.progress?.processed ?? 0).toBeGreaterThan(0);
    expect((await call(`/v1/keys/${id}`, { method: 'DELETE' })).status).toBe(200);
    // The key can no longer read its job; the job's state is checked through its object directly.
    const stub = jobStub(env, id, job.id);
    const done = await until(
      async () => stub.getFor(job.id, id),
      (j) => j?.status !== 'running',
    );
    expect(done?.status).toBe('failed');
    expect(done?.error?.code).toBe('unauthorized');
    expect(done?.progress?.processed ?? 0).toBeLessThan(60 * CHUNK);
  });
});

describe('DELETE /v1/jobs/{id}', () => {
  it('cancels a running list job: no chunk runs after it, and the job stays canceled', async () => {
    const inputs = sentences(4000);
    let ran = 0;
    consumerFaults.beforeChunk = () => {
      ran++;
    };
    const job = await submit({ model: 'sentiment-en', inputs });
    // `until` hands back its last read when time runs out: the cancel must land on a job that is running.
    const started = await until(
      () => getJob(job.id),
      (j) => (j.progress?.processed ?? 0) > 0,
    );
    expect(started.status).toBe('running');
    expect(started.progress?.processed ?? 0).toBeGreaterThan(0);
    expect(ran).toBeGreaterThan(0);
    const res = await call(`/v1/jobs/${job.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const canceled = await json<JobView>(res);
    expect(canceled.status).toBe('canceled');
    const at = canceled.progress?.processed ?? 0;
    const ranAtCancel = ran;
    await new Promise((r) => setTimeout(r, 1500));
    const later = await getJob(job.id);
    expect(later.status).toBe('canceled');
    expect(later.progress?.processed).toBe(at);
    expect(at).toBeLessThan(4000);
    // At most the chunk in flight when the cancel landed ran after it.
    expect(ran - ranAtCancel).toBeLessThanOrEqual(1);
    expect(later.output).toBeUndefined();
    const again = await call(`/v1/jobs/${job.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    expect((await json<ErrorJson>(again)).error.code).toBe('conflict');
  });

  it('cancels a job the moment after submit; nothing is recorded after the cancel', async () => {
    const job = await submit({ model: 'sentiment-en', inputs: sentences(30 * CHUNK) });
    const res = await call(`/v1/jobs/${job.id}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    const canceled = await json<JobView>(res);
    expect(canceled.status).toBe('canceled');
    await new Promise((r) => setTimeout(r, 500));
    const later = await getJob(job.id);
    expect(later.status).toBe('canceled');
    expect(later.progress?.processed).toBe(canceled.progress?.processed);
    expect(later.output).toBeUndefined();
  });
});

describe('Idempotency-Key', () => {
  it('gives the same job for the same key and body, 422 for another body, and another job for another API key', async () => {
    const body = { model: 'sentiment-en', inputs: ['once', 'only'] };
    const idem = { 'idempotency-key': `order-${crypto.randomUUID()}` };
    const first = await postJson('/v1/jobs', body, idem);
    const second = await postJson('/v1/jobs', body, idem);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    const a = await json<JobView>(first);
    const b = await json<JobView>(second);
    expect(b.id).toBe(a.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const other = await postJson('/v1/jobs', { ...body, inputs: ['something', 'else'] }, idem);
    expect(other.status).toBe(422);
    expect((await json<ErrorJson>(other)).error.message).toMatch(/Idempotency-Key/);
    const tenant = await postJson('/v1/jobs', body, idem, undefined, { key: 'other' });
    expect(tenant.status).toBe(202);
    expect((await json<JobView>(tenant)).id).not.toBe(a.id);
    const done = await finished(a.id);
    expect(done.status).toBe('succeeded');
    // One job ran once: its event stream has one start and one completion.
    const stream = await (await call(`/v1/jobs/${a.id}/events`)).text();
    expect(stream.match(/event: job\.start/g)).toHaveLength(1);
    expect(stream.match(/event: job\.completed/g)).toHaveLength(1);
    const bad = await postJson('/v1/jobs', body, { 'idempotency-key': 'two words' });
    expect(bad.status).toBe(422);
  });
});

describe('validation at submit', () => {
  it.each([
    ['an unknown model', { model: 'no-such-model', inputs: 'x' }, 404, 'model_not_found', /no-such-model/],
    [
      'a bad list item, by index',
      { model: 'sentiment-en', inputs: ['fine', 'also fine', 7] },
      422,
      'invalid_input',
      /inputs\[2\]/,
    ],
    ['a missing input', { model: 'sentiment-en' }, 422, 'invalid_input', /inputs/],
    ['an unknown field', { model: 'sentiment-en', inputs: 'x', extra: 1 }, 422, 'invalid_input', /extra|unrecognized/i],
    [
      'a private webhook',
      { model: 'sentiment-en', inputs: 'x', webhook: 'https://10.0.0.1/hook' },
      422,
      'invalid_input',
      /10\.0\.0\.1/,
    ],
    [
      'an http webhook',
      { model: 'sentiment-en', inputs: 'x', webhook: 'http://example.com/hook' },
      422,
      'invalid_input',
      /https/,
    ],
    [
      'a filter without a webhook',
      { model: 'sentiment-en', inputs: 'x', webhook_events_filter: ['start'] },
      422,
      'invalid_input',
      /webhook/,
    ],
    [
      'an unknown event',
      { model: 'sentiment-en', inputs: 'x', webhook: 'https://example.com', webhook_events_filter: ['done'] },
      422,
      'invalid_input',
      /webhook_events_filter/,
    ],
  ])('refuses %s', async (_name, body, status, code, message) => {
    const res = await postJson('/v1/jobs', body);
    expect(res.status).toBe(status);
    const err = await json<ErrorJson>(res);
    expect(err.error.code).toBe(code);
    expect(err.error.message).toMatch(message);
  });

  it('refuses a model outside the key scope (403) before any model work', async () => {
    const res = await postJson('/v1/jobs', { model: 'digits-mnist', inputs: 'x' }, {}, undefined, {
      key: 'sentimentOnly',
    });
    expect(res.status).toBe(403);
  });

  it('takes a body far over the sync limit, up to MAX_JOB_ITEMS items', async () => {
    // 1.5 MB: over MAX_BODY_BYTES (1 MiB) for a sync call, within MAX_JOB_BODY_BYTES for a job.
    const inputs = Array.from({ length: 1500 }, (_, i) => `${'a fine sentence '.repeat(60)}${i}`);
    const sync = await postJson('/v1/models/sentiment-en/predict', { inputs });
    expect(sync.status).toBe(413);
    const res = await postJson('/v1/jobs', { model: 'sentiment-en', inputs });
    expect(res.status).toBe(202);
    const job = await json<JobView>(res);
    await call(`/v1/jobs/${job.id}`, { method: 'DELETE' });
    const tooMany = await postJson('/v1/jobs', {
      model: 'sentiment-en',
      inputs: Array.from({ length: 50_001 }, () => 'x'),
    });
    expect(tooMany.status).toBe(413);
  });
});

/** Parses an event stream into its events (id, event, data). */
function parseSse(text: string): { id: string; event: string; data: { type: string; data: JobView } }[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const field = (name: string): string =>
        block
          .split('\n')
          .filter((l) => l.startsWith(`${name}:`))
          .map((l) => l.slice(name.length + 1).trimStart())
          .join('\n');
      return {
        id: field('id'),
        event: field('event'),
        data: JSON.parse(field('data')) as { type: string; data: JobView },
      };
    });
}

describe('GET /v1/jobs/{id}/events', () => {
  it('streams every event live until completion, and resumes after Last-Event-ID with only what was missed', async () => {
    const inputs = sentences(5 * CHUNK - 3); // 5 chunks, the last one short
    const job = await submit({ model: 'sentiment-en', inputs });
    const live = await call(`/v1/jobs/${job.id}/events`);
    expect(live.status).toBe(200);
    expect(live.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await live.text());
    expect(events.map((e) => e.event)).toEqual(['job.start', ...Array<string>(5).fill('job.output'), 'job.completed']);
    expect(events.map((e) => Number(e.id))).toEqual([...events.map((e) => Number(e.id))].sort((a, b) => a - b));
    const last = events.at(-1);
    expect(last?.data.data.status).toBe('succeeded');
    expect(last?.data.data.output).toHaveLength(inputs.length);
    // The chunks' outputs, in order, are the job's output.
    const chunks = events
      .filter((e) => e.event === 'job.output')
      .map((e) => (e.data.data as JobView & { chunk: { offset: number; output: unknown[] } }).chunk);
    expect(chunks.map((c) => c.offset)).toEqual([0, 1, 2, 3, 4].map((i) => i * CHUNK));
    expect(chunks.flatMap((c) => c.output)).toEqual(last?.data.data.output);

    const resumed = await call(`/v1/jobs/${job.id}/events`, { headers: { 'last-event-id': events[2]?.id ?? '' } });
    expect(parseSse(await resumed.text()).map((e) => e.id)).toEqual(events.slice(3).map((e) => e.id));
    const bad = await call(`/v1/jobs/${job.id}/events`, { headers: { 'last-event-id': 'yesterday' } });
    expect(bad.status).toBe(422);
  });
});

describe('retention', () => {
  it('deletes each finished job when its time is up (its object alarm), after which it is 404', async () => {
    // JOB_RESULT_TTL_SECONDS as the route reads it, shortened for this one job: the job keeps the TTL it was accepted with.
    const brief = { ...env, JOB_RESULT_TTL_SECONDS: '1' };
    const short = await json<JobView>(
      await postJson('/v1/jobs', { model: 'sentiment-en', inputs: 'short-lived' }, {}, brief),
    );
    const kept = await submit({ model: 'sentiment-en', inputs: 'kept for a week' });
    const done = await finished(short.id);
    expect(done.status).toBe('succeeded');
    expect(Date.parse(done.expires_at ?? '') - Date.parse(done.completed_at ?? '')).toBe(1000);
    const week = await finished(kept.id);
    expect(Date.parse(week.expires_at ?? '') - Date.parse(week.completed_at ?? '')).toBe(604_800_000);
    await new Promise((r) => setTimeout(r, 1100));
    // The alarm fires by itself at the expiry; running it again now changes nothing but makes the test not wait on it.
    const key = (await recordOf('admin')).id;
    await runDurableObjectAlarm(env.JOB.get(env.JOB.idFromName(jobObjectName(key, short.id))));
    expect((await call(`/v1/jobs/${short.id}`)).status).toBe(404);
    expect((await call(`/v1/jobs/${short.id}/events`)).status).toBe(404);
    // Its neighbours (the same key, any shard) stay until their own time.
    expect((await getJob(kept.id)).status).toBe('succeeded');
  });
});
