/**
 * @module The edge's origin client (runtime-neutral fetch) against a real origin process that is stopped and
 * started again on the same port, through OriginClient's public behaviour only: the breaker opens after N failures,
 * refuses without a network call while open (counted at the fetch the client is given, not timed), turns half-open
 * once the cool-down has passed on a faked clock and closes when the origin answers; a slow origin hits the client's
 * timeout and counts as a failure.
 */
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { spawnOrigin, waitReady, type SpawnedOrigin } from '../../origin/spawn.js';
import { OriginClient, OriginUnavailableError, type OriginFetcher } from '../../src/routing/origin-client.js';

const started: SpawnedOrigin[] = [];
afterAll(async () => {
  for (const o of started) await o.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

const BODY = JSON.stringify({ inputs: 'I love it' });
const PATH = '/v1/models/sentiment-en/predict';
const why = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof OriginUnavailableError ? e.why : String(e)),
  );

/** The network as the client sees it: the real fetch, with every attempt counted. */
function countingFetch(): OriginFetcher & { calls: number } {
  const f = {
    calls: 0,
    fetch: (request: Request): Promise<Response> => {
      f.calls++;
      return fetch(request);
    },
  };
  return f;
}

describe('circuit breaker against a real origin', () => {
  it('opens after N failures, refuses without a network call, and half-opens after the cool-down to close again', async () => {
    const first = await spawnOrigin();
    started.push(first);
    await waitReady(first);
    const net = countingFetch();
    // A cool-down no real wait reaches during this test (restarting the origin takes seconds): only the faked clock
    // below ends it, so nothing here depends on how fast the machine is.
    const cooldownMs = 10 * 60_000;
    const client = new OriginClient({
      baseUrl: first.url,
      secret: first.secret,
      timeoutMs: 5000,
      failureThreshold: 2,
      cooldownMs,
      binding: net,
    });
    const post = (): Promise<string> => why(client.post(PATH, BODY, 'application/json'));
    expect(await post()).toBe('ok');
    expect(net.calls).toBe(1);
    expect(client.breakerState).toBe('closed');

    await first.stop();
    expect(await post()).toBe('network');
    expect(client.breakerState).toBe('closed');
    const beforeOpening = Date.now();
    expect(await post()).toBe('network');
    const afterOpening = Date.now();
    expect(client.breakerState).toBe('open');
    expect(net.calls).toBe(3);

    // Open: refused at once, and the network is not touched, even once the origin is back and would answer.
    expect(await post()).toBe('breaker_open');
    const second = await spawnOrigin({ port: first.port, secret: first.secret });
    started.push(second);
    await waitReady(second);
    expect(await post()).toBe('breaker_open');
    expect(net.calls).toBe(3);
    expect(client.breakerState).toBe('open');

    // The breaker reads Date.now(); fake only that, and step it to either side of the cool-down's end.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(beforeOpening + cooldownMs - 1);
    expect(client.breakerState).toBe('open');
    expect(await post()).toBe('breaker_open');
    expect(net.calls).toBe(3);
    vi.setSystemTime(afterOpening + cooldownMs);
    expect(client.breakerState).toBe('half-open');
    // The one trial goes to the network, finds the origin, and closes the breaker.
    expect(await post()).toBe('ok');
    expect(net.calls).toBe(4);
    expect(client.breakerState).toBe('closed');
    expect(await post()).toBe('ok');
    expect(net.calls).toBe(5);
  });

  it('times out on an origin slower than the client allows, and counts it as a failure', async () => {
    // A 1.5 s queue delay makes every request wait that long for company; the client allows 200 ms. Had it waited
    // for the answer, it would have got one ('ok'): 'timeout' is only what the client's own timer ends in.
    const slow = await spawnOrigin({ env: { ORIGIN_MAX_QUEUE_DELAY_MS: '1500' } });
    started.push(slow);
    await waitReady(slow);
    const net = countingFetch();
    const client = new OriginClient({
      baseUrl: slow.url,
      secret: slow.secret,
      timeoutMs: 200,
      failureThreshold: 1,
      cooldownMs: 60_000,
      binding: net,
    });
    expect(await why(client.post(PATH, BODY, 'application/json'))).toBe('timeout');
    expect(client.breakerState).toBe('open');
    expect(await why(client.post(PATH, BODY, 'application/json'))).toBe('breaker_open');
    expect(net.calls).toBe(1);
  });
});
