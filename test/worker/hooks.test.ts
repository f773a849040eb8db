/**
 * @module Inbound webhooks inside workerd: an admin configures a hook, senders POST signed events without an API
 * key. Signatures come from independent implementations — the `standardwebhooks` library's signer, and
 * `fast-sha256`'s HMAC for GitHub's `X-Hub-Signature-256` — and the answers are checked against the sync API.
 * Bad, stale, replayed or wrongly keyed signatures are 401; unknown hooks 404; input missing at the pointer 422; a
 * hook with a forward URL answers 202 and its result arrives at the loopback receiver, signed.
 */
import { hmac } from 'fast-sha256';
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/jobs/model.js';
import { call, json, type ErrorJson } from './client.js';
import { deliveries, finished, receiverUrl, syncOutputs, until } from './job-support.js';
import { seedModels } from './seed.js';

const SW_SECRET = `whsec_${btoa('a shared secret of thirty-two b.')}`;
const GH_SECRET = 'github-hook-secret-0123456789';

interface Hook {
  name: string;
  url: string;
  verify: { scheme: string; secret?: string };
}

async function putHook(
  name: string,
  body: Record<string, unknown>,
  key: 'admin' | 'plain' = 'admin',
): Promise<Response> {
  return call(
    `/v1/hooks/${name}`,
    { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    undefined,
    { key },
  );
}

/** Sends an event to a hook with no API key, as an outside service would. */
function deliver(name: string, body: string, headers: Record<string, string>): Promise<Response> {
  return call(
    `/v1/hooks/${name}`,
    { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body },
    undefined,
    { key: null },
  );
}

/** Standard Webhooks headers from the library's own signer. */
function signed(
  body: string,
  secret = SW_SECRET,
  at = new Date(),
  id = `msg_${crypto.randomUUID()}`,
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(id, at, body),
  };
}

/** GitHub's header, from fast-sha256's HMAC (not the WebCrypto code under test). */
function hubSignature(body: string, secret = GH_SECRET): string {
  const mac = hmac(new TextEncoder().encode(secret), new TextEncoder().encode(body));
  return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

const event = (text: string): string => JSON.stringify({ type: 'ticket.created', data: { ticket: { id: 7, text } } });

beforeAll(async () => {
  await seedModels();
  expect(
    (
      await putHook('tickets', {
        model: 'sentiment-en',
        input_pointer: '/data/ticket/text',
        verify: { scheme: 'standard-webhooks', secret: SW_SECRET },
      })
    ).status,
  ).toBe(200);
  expect(
    (
      await putHook('github', {
        model: 'sentiment-en',
        input_pointer: '/comment/body',
        verify: { scheme: 'github', secret: GH_SECRET },
      })
    ).status,
  ).toBe(200);
});

describe('configuring hooks', () => {
  it('is for admin keys; the secret is shown only when the service made it up', async () => {
    expect(
      (await putHook('mine', { model: 'sentiment-en', input_pointer: '/x', verify: { scheme: 'github' } }, 'plain'))
        .status,
    ).toBe(403);
    const made = await putHook('made-up', {
      model: 'sentiment-en',
      input_pointer: '/text',
      verify: { scheme: 'standard-webhooks' },
    });
    expect(made.status).toBe(200);
    const hook = await json<Hook>(made);
    expect(hook.verify.secret).toMatch(/^whsec_/);
    expect(hook.url).toBe('http://edge.test/v1/hooks/made-up');
    const read = await json<Hook>(await call('/v1/hooks/made-up'));
    expect(read.verify).toEqual({ scheme: 'standard-webhooks' });
    expect((await call('/v1/hooks/made-up', { method: 'DELETE' })).status).toBe(204);
    expect((await call('/v1/hooks/made-up')).status).toBe(404);
  });

  it.each([
    ['an unknown model', { model: 'nope', input_pointer: '/x', verify: { scheme: 'github' } }, 404],
    ['a bad pointer', { model: 'sentiment-en', input_pointer: 'data.text', verify: { scheme: 'github' } }, 422],
    ['a bad scheme', { model: 'sentiment-en', input_pointer: '/x', verify: { scheme: 'hmac' } }, 422],
    [
      'a short secret',
      { model: 'sentiment-en', input_pointer: '/x', verify: { scheme: 'github', secret: 'short' } },
      422,
    ],
    [
      'a private forward URL',
      { model: 'sentiment-en', input_pointer: '/x', verify: { scheme: 'github' }, forward_url: 'https://192.168.1.1/' },
      422,
    ],
  ])('refuses %s', async (_name, body, status) => {
    const res = await putHook('refused', body);
    expect(res.status).toBe(status);
    expect((await json<ErrorJson>(res)).error.code).toMatch(/^[a-z_]+$/);
  });
});

describe('POST /v1/hooks/{hook}', () => {
  it('runs the model on a verified Standard Webhooks event and answers as the sync API would', async () => {
    const text = 'My order arrived early and works perfectly.';
    const body = event(text);
    const res = await deliver('tickets', body, signed(body));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-model')).toMatch(/^sentiment-en@/);
    expect(await res.json()).toEqual((await syncOutputs('sentiment-en', [text], 1))[0]);
  });

  it('verifies GitHub X-Hub-Signature-256 and refuses a replayed delivery id', async () => {
    const text = 'This fix is great, thanks!';
    const body = JSON.stringify({ action: 'created', comment: { body: text } });
    const headers = { 'x-hub-signature-256': hubSignature(body), 'x-github-delivery': crypto.randomUUID() };
    const res = await deliver('github', body, headers);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual((await syncOutputs('sentiment-en', [text], 1))[0]);
    const replay = await deliver('github', body, headers);
    expect(replay.status).toBe(401);
    expect((await json<ErrorJson>(replay)).error.message).toMatch(/replay/);
    const wrong = await deliver('github', body, {
      'x-hub-signature-256': hubSignature(body, 'another-secret-entirely'),
    });
    expect(wrong.status).toBe(401);
  });

  it.each([
    [
      'a tampered body',
      () => {
        const body = event('fine');
        return { body: body.replace('fine', 'FINE'), headers: signed(body) };
      },
    ],
    [
      'a body re-serialised with other spacing',
      () => {
        const body = event('spacing');
        return { body: JSON.stringify(JSON.parse(body), null, 1), headers: signed(body) };
      },
    ],
    [
      'an old timestamp',
      () => {
        const body = event('stale');
        return { body, headers: signed(body, SW_SECRET, new Date(Date.now() - 10 * 60_000)) };
      },
    ],
    [
      'a timestamp from the future',
      () => {
        const body = event('future');
        return { body, headers: signed(body, SW_SECRET, new Date(Date.now() + 10 * 60_000)) };
      },
    ],
    [
      'the wrong secret',
      () => {
        const body = event('wrong');
        return { body, headers: signed(body, `whsec_${btoa('some other secret, not the hook')}`) };
      },
    ],
    ['no signature headers', () => ({ body: event('bare'), headers: {} })],
  ])('refuses %s with 401 and runs nothing', async (_name, make) => {
    const { body, headers } = make();
    const res = await deliver('tickets', body, headers);
    expect(res.status).toBe(401);
    const err = await json<ErrorJson>(res);
    expect(err.error.code).toBe('unauthorized');
    expect(res.headers.get('x-model')).toBeNull();
  });

  it('refuses a replayed webhook-id with 401, even when its signature is valid', async () => {
    const body = event('only once');
    const headers = signed(body);
    expect((await deliver('tickets', body, headers)).status).toBe(200);
    const again = await deliver('tickets', body, headers);
    expect(again.status).toBe(401);
    expect((await json<ErrorJson>(again)).error.message).toMatch(/replay/);
  });

  it('answers 404 for an unknown hook and 422 when the event has nothing at the pointer', async () => {
    const body = event('x');
    expect((await deliver('no-such-hook', body, signed(body))).status).toBe(404);
    const empty = JSON.stringify({ type: 'ticket.created', data: {} });
    const res = await deliver('tickets', empty, signed(empty));
    expect(res.status).toBe(422);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/\/data\/ticket\/text/);
  });

  it('with a forward URL: 202 with a job, and the answer arrives there signed with the owner key secret', async () => {
    const name = `forward-${crypto.randomUUID().slice(0, 8)}`;
    expect(
      (
        await putHook(name, {
          model: 'sentiment-en',
          input_pointer: '/data/ticket/text',
          verify: { scheme: 'standard-webhooks', secret: SW_SECRET },
          forward_url: receiverUrl(name),
        })
      ).status,
    ).toBe(200);
    const text = 'Forward this answer, please; it was a pleasure.';
    const body = event(text);
    const res = await deliver(name, body, signed(body));
    expect(res.status).toBe(202);
    const job = await json<JobView>(res);
    await finished(job.id);
    const [d] = await until(
      () => deliveries(name),
      (x) => x.length >= 1,
    );
    if (d === undefined) throw new Error('nothing was forwarded');
    const ownerSecret = (await json<{ secret: string }>(await call('/v1/webhooks/secret'))).secret;
    const forwarded = new Webhook(ownerSecret).verify(d.body, d.headers) as { type: string; data: JobView };
    expect(forwarded.type).toBe('job.completed');
    expect(forwarded.data.output).toEqual((await syncOutputs('sentiment-en', [text], 1))[0]);
  });
});
