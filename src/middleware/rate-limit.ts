/**
 * @module Rate limiting with Cloudflare's Rate Limiting binding, through `hono-rate-limiter`: a tier names the
 * binding and the numbers it was declared with, a key function says whose budget a request spends (an API key,
 * a client IP). Over the limit: 429 `rate_limited` with `Retry-After`, before any model work. The binding tells only
 * "allowed or not", so answers carry `RateLimit-Limit` and `RateLimit-Policy` (known) but no remaining count.
 */
import type { Context, Env as HonoEnv, MiddlewareHandler } from 'hono';
import { rateLimiter } from 'hono-rate-limiter';
import type { RateLimitTier } from '../lib/config.js';
import { ServiceError } from '../lib/errors.js';

export interface RateLimitOptions<E extends HonoEnv> {
  /** The tier this request is limited by, or undefined for none. */
  tier: (c: Context<E>) => RateLimitTier | undefined;
  /** Whose budget: `key:<id>`, `ip:<address>`. */
  key: (c: Context<E>) => string;
}

/** A Rate Limiting binding as workerd (and miniflare) expose it. */
interface Limiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

function isLimiter(v: unknown): v is Limiter {
  return typeof v === 'object' && v !== null && 'limit' in v && typeof v.limit === 'function';
}

/** The binding a tier names, looked up on the Worker's bindings. */
function bindingOf(c: Context, tier: RateLimitTier): Limiter | undefined {
  const candidate: unknown = (c.env as Record<string, unknown> | undefined)?.[tier.binding];
  return isLimiter(candidate) ? candidate : undefined;
}

const loggedMissing = new Set<string>();

/** Limiters that let requests through when the binding itself fails (one per binding, made once). */
const failingOpen = new WeakMap<Limiter, Limiter>();
function failOpen(binding: Limiter): Limiter {
  let wrapped = failingOpen.get(binding);
  if (wrapped === undefined) {
    wrapped = {
      // A limiter outage must not take the API down with it: fail open, and log.
      limit: async (o) => {
        try {
          return await binding.limit(o);
        } catch (err) {
          console.error(JSON.stringify({ msg: 'rate limiter failed; allowing', err: String(err) }));
          return { success: true };
        }
      },
    };
    failingOpen.set(binding, wrapped);
  }
  return wrapped;
}

function tooMany(tier: RateLimitTier): ServiceError {
  const policy = { 'RateLimit-Limit': String(tier.limit), 'RateLimit-Policy': `${tier.limit};w=${tier.period}` };
  // The binding counts fixed windows of `period` seconds: the budget is back within one period.
  return new ServiceError(
    429,
    'rate_limited',
    `Rate limit reached: ${tier.limit} requests per ${tier.period} s. Retry after the window resets.`,
    { headers: { 'Retry-After': String(tier.period), ...policy, 'RateLimit-Remaining': '0' } },
  );
}

/**
 * @example
 * app.use('/v1/*', rateLimit({ tier: (c) => tiers[currentKey(c).tier], key: (c) => `key:${currentKey(c).id}` }));
 */
export function rateLimit<E extends HonoEnv>(options: RateLimitOptions<E>): MiddlewareHandler<E> {
  // The tier and its binding of this request, found by the outer middleware before the limiter runs.
  const found = new WeakMap<Context<E>, { tier: RateLimitTier; binding: Limiter }>();
  const of = (c: Context<E>): { tier: RateLimitTier; binding: Limiter } => {
    const f = found.get(c);
    if (f === undefined) throw new Error('rateLimit: the limiter ran without its tier');
    return f;
  };
  const limited = rateLimiter<E>({
    binding: (c: Context<E>) => failOpen(of(c).binding),
    keyGenerator: (c: Context<E>) => options.key(c),
    handler: (c: Context<E>) => {
      throw tooMany(of(c).tier);
    },
  });
  return async (c, next) => {
    const tier = options.tier(c);
    const binding = tier === undefined ? undefined : bindingOf(c, tier);
    if (tier === undefined || binding === undefined) {
      // A missing binding is a deployment mistake: say so once per isolate, and serve rather than refuse everyone.
      if (tier !== undefined && !loggedMissing.has(tier.binding)) {
        loggedMissing.add(tier.binding);
        console.error(JSON.stringify({ msg: 'rate limit binding missing; not limiting', binding: tier.binding }));
      }
      await next();
      return;
    }
    c.header('RateLimit-Limit', String(tier.limit));
    c.header('RateLimit-Policy', `${tier.limit};w=${tier.period}`);
    found.set(c, { tier, binding });
    await limited(c, next);
  };
}

/** The caller's address as Cloudflare reports it (`CF-Connecting-IP`; miniflare sets it locally too). */
export const clientIp = (c: Context): string =>
  c.req.header('cf-connecting-ip') ?? c.req.header('x-real-ip') ?? 'unknown';
