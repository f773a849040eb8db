/**
 * @module Outgoing webhooks inside workerd, with real miniflare Queues and Durable Objects, delivered over real HTTP
 * to the loopback receiver (test/support/receiver.ts) and verified there with the `standardwebhooks` library:
 * `start` and `completed` with the sync answer, one `webhook-id` across retries, a receiver that never answers 2xx
 * (the job stays readable), a slow one (timeout), per-chunk `output` events, redelivery, secret rotation, and the
 * SSRF guard at submit with names resolved by the loopback test DNS.
 */
import { env } from 'cloudflare:workers';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { backoffSeconds } from '../../src/jobs/consumer.js';
import type { JobView } from '../../src/jobs/model.js';
import type { Delivery } from '../support/provided.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { deliveries, finished, receiverUrl, submit, syncOutputs, until } from './job-support.js';
import { seedModels } from './seed.js';

beforeAll(seedModels);

interface EventBody {
  type: string;
  timestamp: string;
  data: JobView & { chunk?: { index: number; offset: number; output: unknown[] } };
}

async function secret(key: 'admin' | 'other' = 'admin'): Promise<string> {
  const res = await call('/v1/webhooks/secret', {}, undefined, { key });
  expect(res.status).toBe(200);
  return (await json<{ secret: string }>(res)).secret;
}

/** Verifies one recorded delivery with the standardwebhooks library (throws on a bad signature or timestamp). */
function verified(d: Delivery, with_: string): EventBody {
  return new Webhook(with_).verify(d.body, d.headers) as EventBody;
}

/** A fresh receiver path per test. */
const path = (name: string): string => `${name}-${crypto.randomUUID().slice(0, 8)}`;

/** Waits until the job's latest webhook has settled (delivered or failed). */
function settled(id: string): Promise<JobView> {
  return until(
    async () => json<JobView>(await call(`/v1/jobs/${id}`)),
    (j) => j.webhook?.state === 'delivered' || j.webhook?.state === 'failed',
  );
}

describe('outgoing webhooks', () => {
  it('sends start and completed, signed per Standard Webhooks, with the sync answer', async () => {
    const name = path('both');
    const text = 'The service was quick and the staff were lovely.';
    const job = await submit({
      model: 'sentiment-en',
      inputs: text,
      webhook: receiverUrl(name),
      webhook_events_filter: ['start', 'completed'],
    });
    expect(job.webhook).toMatchObject({ url: receiverUrl(name), events_filter: ['start', 'completed'], state: 'idle' });
    const done = await finished(job.id);
    const got = await until(
      () => deliveries(name),
      (d) => d.length >= 2,
    );
    const key = await secret();
    const events = got.map((d) => verified(d, key));
    expect(events.map((e) => e.type).sort()).toEqual(['job.completed', 'job.start']);
    const completed = events.find((e) => e.type === 'job.completed');
    expect(completed?.data.id).toBe(job.id);
    expect(completed?.data.status).toBe('succeeded');
    expect(completed?.data.output).toEqual((await syncOutputs('sentiment-en', [text], 1))[0]);
    expect(done.output).toEqual(completed?.data.output);
    // Each event has its own id; the headers are the three Standard Webhooks ones.
    expect(new Set(got.map((d) => d.headers['webhook-id'])).size).toBe(2);
    for (const d of got) {
      expect(d.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(Math.abs(Number(d.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(d.headers['content-type']).toBe('application/json');
    }
    // Another key's secret does not verify it.
    expect(() => verified(got[0] as Delivery, 'whsec_' + btoa('not the right secret at all'))).toThrow();
    expect((await settled(job.id)).webhook).toMatchObject({ state: 'delivered', last_status: 200 });
  });

  it('retries a receiver that fails twice, with one webhook-id on all three tries', async () => {
    const name = path('flaky');
    const job = await submit({ model: 'sentiment-en', inputs: 'retry me', webhook: receiverUrl(name, 'fail=2') });
    const got = await until(
      () => deliveries(name),
      (d) => d.length >= 3,
    );
    expect(got.map((d) => d.answered)).toEqual([500, 500, 200]);
    expect(new Set(got.map((d) => d.headers['webhook-id'])).size).toBe(1);
    const key = await secret();
    for (const d of got) expect(verified(d, key).type).toBe('job.completed');
    expect((await settled(job.id)).webhook).toMatchObject({ state: 'delivered', attempts: 3, last_status: 200 });
  });

  it('gives up after WEBHOOK_MAX_ATTEMPTS on a receiver that never succeeds; the job stays succeeded and readable', async () => {
    const name = path('down');
    const job = await submit({
      model: 'sentiment-en',
      inputs: 'nobody home',
      webhook: receiverUrl(name, 'fail=always&status=503'),
    });
    const after = await settled(job.id);
    expect(after.webhook).toMatchObject({
      state: 'failed',
      attempts: 3,
      last_status: 503,
      last_event: 'job.completed',
    });
    expect(after.status).toBe('succeeded');
    expect(after.output).toEqual((await syncOutputs('sentiment-en', ['nobody home'], 1))[0]);
    expect(await deliveries(name)).toHaveLength(3);
    // Cancel still answers (409: it finished), and never waits on the receiver.
    expect((await call(`/v1/jobs/${job.id}`, { method: 'DELETE' })).status).toBe(409);
  });

  it('counts a receiver slower than WEBHOOK_TIMEOUT_MS as a failed attempt', async () => {
    const name = path('slow');
    const job = await submit({ model: 'sentiment-en', inputs: 'too slow', webhook: receiverUrl(name, 'delay=1500') });
    const after = await settled(job.id);
    expect(after.webhook).toMatchObject({ state: 'failed', attempts: 3, last_error: 'timed out' });
  });

  it('sends one output event per chunk of a list job; their outputs, in order, are the job output', async () => {
    const name = path('chunks');
    const inputs = Array.from({ length: 40 }, (_, i) => `item number ${i} was fine`);
    const job = await submit({
      model: 'sentiment-en',
      inputs,
      webhook: receiverUrl(name),
      webhook_events_filter: ['output', 'completed'],
    });
    const done = await finished(job.id);
    const key = await secret();
    const got = await until(
      () => deliveries(name),
      (d) => d.filter((x) => verified(x, key).type === 'job.completed').length === 1 && d.length >= 4,
    );
    const outputs = got
      .map((d) => verified(d, key))
      .filter((e) => e.type === 'job.output')
      .map((e) => e.data.chunk)
      .sort((a, b) => (a?.offset ?? 0) - (b?.offset ?? 0));
    expect(outputs.flatMap((c) => c?.output ?? [])).toEqual(done.output);
    expect(outputs.length).toBeGreaterThan(1);
  });

  it('redelivers the latest event on demand with the same webhook-id', async () => {
    const name = path('again');
    const job = await submit({ model: 'sentiment-en', inputs: 'once more', webhook: receiverUrl(name) });
    await settled(job.id);
    const first = await until(
      () => deliveries(name),
      (d) => d.length >= 1,
    );
    const res = await call(`/v1/jobs/${job.id}/webhook/redeliver`, { method: 'POST' });
    expect(res.status).toBe(202);
    const body = await json<{ webhook_id: string }>(res);
    expect(body.webhook_id).toBe(first[0]?.headers['webhook-id']);
    const got = await until(
      () => deliveries(name),
      (d) => d.length >= 2,
    );
    expect(got[1]?.headers['webhook-id']).toBe(first[0]?.headers['webhook-id']);
    expect(verified(got[1] as Delivery, await secret()).data.id).toBe(job.id);
    // A job without a webhook has nothing to redeliver.
    const plain = await submit({ model: 'sentiment-en', inputs: 'no hook' });
    await finished(plain.id);
    const none = await call(`/v1/jobs/${plain.id}/webhook/redeliver`, { method: 'POST' });
    expect(none.status).toBe(409);
    expect((await json<ErrorJson>(none)).error.code).toBe('conflict');
  });

  it('rotates the secret: during the grace period deliveries verify with the old and the new one', async () => {
    const old = await secret('other');
    const rotated = await call('/v1/webhooks/secret/rotate', { method: 'POST' }, undefined, { key: 'other' });
    expect(rotated.status).toBe(200);
    const now = await json<{ secret: string; previous_expires_at: string }>(rotated);
    expect(now.secret).not.toBe(old);
    expect(now.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Date.parse(now.previous_expires_at) - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    expect(await secret('other')).toBe(now.secret);
    const name = path('rotated');
    const job = await submit(
      { model: 'sentiment-en', inputs: 'rotation', webhook: receiverUrl(name) },
      {},
      { key: 'other' },
    );
    const [d] = await until(
      () => deliveries(name),
      (x) => x.length >= 1,
    );
    if (d === undefined) throw new Error('no delivery');
    expect(d.headers['webhook-signature']?.split(' ')).toHaveLength(2);
    expect(verified(d, now.secret).data.id).toBe(job.id);
    expect(verified(d, old).data.id).toBe(job.id);
    // Secrets are per key: the admin key's does not verify another key's deliveries.
    expect(() => verified(d, 'whsec_' + btoa('someone else entirely!!'))).toThrow();
  });
});

describe('the SSRF guard at submit (names resolved by the loopback test DNS; nothing is sent to them)', () => {
  const resolving = { ...env, WEBHOOK_DOH_URL: `${inject('receiver')}/dns-query` };

  it.each([
    ['https://intranet.example.test/hook', /10\.1\.2\.3/],
    ['https://metadata.example.test/latest', /169\.254\.169\.254/],
    ['https://rebind.example.test/hook', /127\.0\.0\.1/],
    ['https://v6-private.example.test/hook', /fd00::1/],
    ['https://nowhere.example.test/hook', /resolve/],
  ])('refuses %s with 422', async (webhook, reason) => {
    const res = await postJson('/v1/jobs', { model: 'sentiment-en', inputs: 'x', webhook }, {}, resolving);
    expect(res.status).toBe(422);
    expect((await json<ErrorJson>(res)).error.message).toMatch(reason);
  });

  it('allows loopback only because the test config turns WEBHOOK_ALLOW_LOOPBACK on', async () => {
    const off = { ...env, WEBHOOK_ALLOW_LOOPBACK: '' };
    const res = await postJson(
      '/v1/jobs',
      { model: 'sentiment-en', inputs: 'x', webhook: receiverUrl('never') },
      {},
      off,
    );
    expect(res.status).toBe(422);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/https|127\.0\.0\.1/);
  });
});

describe('retry schedule', () => {
  it('doubles from the base with equal jitter, capped at 12 hours', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const full = Math.min(30 * 2 ** (attempt - 1), 43_200);
      expect(backoffSeconds(attempt, 30, () => 0)).toBe(Math.round(full / 2));
      expect(backoffSeconds(attempt, 30, () => 1)).toBe(full);
    }
    expect(backoffSeconds(5, 0)).toBe(0);
  });
});
