/**
 * @module The rate-limit middleware on its own, on a tiny Hono app over miniflare's real Rate Limiting bindings
 * (`RATE_LIMIT_TEST_TIGHT`: 3 per 10 s, declared in vitest.config.ts): 429 with `Retry-After` and the policy
 * headers, separate budgets per key, recovery in the next window, and failing open when the binding breaks.
 */
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it, vi } from 'vitest';
import type { RateLimitTier } from '../../src/lib/config.js';
import { rateLimit } from '../../src/middleware/rate-limit.js';
import { errorHandler } from '../../src/http/router.js';

const TIGHT: RateLimitTier = { binding: 'RATE_LIMIT_TEST_TIGHT', limit: 3, period: 10 };

function appWith(tier: RateLimitTier, bindings: object = env) {
  let handled = 0;
  const app = new Hono();
  app.use('*', rateLimit({ tier: () => tier, key: (c) => c.req.header('x-who') ?? 'anon' }));
  app.get('/', (c) => {
    handled++;
    return c.json({ ok: true });
  });
  app.onError(errorHandler);
  const send = (who: string): Promise<Response> =>
    Promise.resolve(app.request('/', { headers: { 'x-who': who } }, bindings));
  return { send, handled: () => handled };
}

/**
 * Waits for the binding's next fixed window (miniflare counts windows of `period` s on the wall clock); with
 * `ifUnderMs`, only when less than that is left of the current one.
 */
async function nextWindow(periodS: number, ifUnderMs = Infinity): Promise<void> {
  const ms = periodS * 1000;
  const left = ms - (Date.now() % ms);
  if (left < ifUnderMs) await new Promise((r) => setTimeout(r, left + 50));
}

describe('rateLimit', () => {
  it('answers 429 rate_limited with Retry-After past the limit, without running the handler, then recovers', async () => {
    await nextWindow(TIGHT.period, 3000); // all four requests must fall in one window
    const { send, handled } = appWith(TIGHT);
    const who = `k-${crypto.randomUUID()}`;
    for (let i = 0; i < 3; i++) {
      const ok = await send(who);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('RateLimit-Limit')).toBe('3');
      expect(ok.headers.get('RateLimit-Policy')).toBe('3;w=10');
    }
    const limited = await send(who);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('Retry-After')).toBe('10');
    expect(limited.headers.get('RateLimit-Remaining')).toBe('0');
    const body = await limited.json<{ error: { code: string; message: string } }>();
    expect(body.error.code).toBe('rate_limited');
    expect(body.error.message).toMatch(/3 requests per 10 s/);
    expect(handled()).toBe(3);
    // Another caller has its own budget.
    expect((await send(`other-${crypto.randomUUID()}`)).status).toBe(200);
    await nextWindow(TIGHT.period);
    expect((await send(who)).status).toBe(200);
  }, 30_000);

  it('fails open (and logs) when the binding throws or is missing', async () => {
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const broken = { RATE_LIMIT_TEST_TIGHT: { limit: () => Promise.reject(new Error('limiter down')) } };
      const a = appWith(TIGHT, broken);
      for (let i = 0; i < 5; i++) expect((await a.send('x')).status).toBe(200);
      const b = appWith({ binding: 'NO_SUCH_BINDING', limit: 1, period: 60 });
      for (let i = 0; i < 3; i++) expect((await b.send('x')).status).toBe(200);
      const lines = errors.mock.calls.map((c) => String(c[0]));
      expect(lines.some((l) => l.includes('rate limiter failed'))).toBe(true);
      expect(lines.filter((l) => l.includes('NO_SUCH_BINDING'))).toHaveLength(1);
    } finally {
      errors.mockRestore();
    }
  });
});
