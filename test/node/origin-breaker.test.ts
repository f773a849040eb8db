/**
 * @module The edge's origin client (runtime-neutral fetch) against a real origin process that is stopped and
 * started again on the same port: the breaker opens after N failures, fails fast while open, probes after the
 * cool-down and closes when the origin is back; a slow origin hits the client's timeout.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnOrigin, waitReady, type SpawnedOrigin } from '../../origin/spawn.js';
import { CircuitBreaker } from '../../src/routing/breaker.js';
import { OriginClient, OriginUnavailableError } from '../../src/routing/origin-client.js';

const started: SpawnedOrigin[] = [];
afterAll(async () => {
  for (const o of started) await o.stop();
});

const BODY = JSON.stringify({ inputs: 'I love it' });
const why = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof OriginUnavailableError ? e.why : String(e)),
  );

describe('circuit breaker against a real origin', () => {
  it('opens when the origin stops, fails fast, and recovers through a half-open probe when it is back', async () => {
    const first = await spawnOrigin();
    started.push(first);
    await waitReady(first);
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 400 });
    const client = new OriginClient({ baseUrl: first.url, secret: first.secret, timeoutMs: 5000, breaker });
    const path = '/v1/models/sentiment-en/predict';
    expect(await why(client.post(path, BODY, 'application/json'))).toBe('ok');

    await first.stop();
    expect(await why(client.post(path, BODY, 'application/json'))).toBe('network');
    expect(breaker.state).toBe('closed');
    expect(await why(client.post(path, BODY, 'application/json'))).toBe('network');
    expect(breaker.state).toBe('open');
    const t = performance.now();
    expect(await why(client.post(path, BODY, 'application/json'))).toBe('breaker_open');
    expect(performance.now() - t).toBeLessThan(5);

    const second = await spawnOrigin({ port: first.port, secret: first.secret });
    started.push(second);
    await waitReady(second);
    await new Promise((r) => setTimeout(r, 450));
    expect(breaker.state).toBe('half-open');
    expect(await why(client.post(path, BODY, 'application/json'))).toBe('ok');
    expect(breaker.state).toBe('closed');
  });

  it('times out on an origin slower than the client allows, and counts it as a failure', async () => {
    // A 1.5 s queue delay makes every request wait that long for company.
    const slow = await spawnOrigin({ env: { ORIGIN_MAX_QUEUE_DELAY_MS: '1500' } });
    started.push(slow);
    await waitReady(slow);
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 60_000 });
    const client = new OriginClient({ baseUrl: slow.url, secret: slow.secret, timeoutMs: 200, breaker });
    const t = performance.now();
    expect(await why(client.post('/v1/models/sentiment-en/predict', BODY, 'application/json'))).toBe('timeout');
    expect(performance.now() - t).toBeLessThan(1000);
    expect(breaker.state).toBe('open');
  });
});
