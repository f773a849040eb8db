/** @module Configuration from `wrangler.toml` vars (strings) into typed settings with defaults and bounds. */
import { z } from 'zod';

/** Model bytes kept as live sessions per isolate when `SESSION_CACHE_BYTES` is unset. */
export const DEFAULT_SESSION_BUDGET = 64 * 1024 * 1024;

/** One rate-limit tier: the Rate Limiting binding that enforces it, and the numbers it was declared with. */
export interface RateLimitTier {
  /** Name of a `[[ratelimits]]` binding in wrangler.toml. */
  binding: string;
  /** Mirrors the binding's `simple.limit` and `simple.period`, for the `RateLimit-*` headers and `Retry-After`. */
  limit: number;
  period: 10 | 60;
}

const TierSchema = z.object({
  binding: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
  limit: z.number().int().positive(),
  period: z.union([z.literal(10), z.literal(60)]),
});
const TiersSchema = z.record(z.string().regex(/^[a-z][a-z0-9-]*$/), TierSchema);

/** Per client IP, on the routes that take no key; a tiers value without an `ip` tier keeps this one. */
const IP_TIER: RateLimitTier = { binding: 'RATE_LIMIT_IP', limit: 120, period: 60 };

/** The tiers wrangler.toml declares; used when `RATE_LIMIT_TIERS` is unset or invalid. */
export const DEFAULT_TIERS: Record<string, RateLimitTier> = {
  default: { binding: 'RATE_LIMIT_DEFAULT', limit: 600, period: 60 },
  high: { binding: 'RATE_LIMIT_HIGH', limit: 6000, period: 60 },
  ip: IP_TIER,
};

export interface Config {
  sessionCacheBytes: number;
  manifestTtlMs: number;
  maxBodyBytes: number;
  maxBatch: number;
  maxTextChars: number;
  /** How long an isolate trusts a key record (or a key's absence) read from KV. */
  authCacheTtlMs: number;
  /** Per-key tiers by name (a key's record names one). */
  rateLimitTiers: Record<string, RateLimitTier>;
  /** The per-IP limit on routes that take no key (health, the API document): the `ip` tier. */
  ipRateLimit: RateLimitTier;
  /** Origins allowed by CORS: empty is off, `*` is any. */
  corsOrigins: string[];
  jobs: JobConfig;
  webhooks: WebhookConfig;
}

/** Async jobs (`POST /v1/jobs`). */
export interface JobConfig {
  /** Body limit of `POST /v1/jobs` (the sync routes keep `maxBodyBytes`). */
  maxBodyBytes: number;
  /** List items one job may hold. */
  maxItems: number;
  /** How long a finished job is kept. */
  resultTtlMs: number;
  /** Delay before a job message that threw runs again. */
  retryDelaySeconds: number;
  /** Chunks one queue message runs before handing the rest to a fresh one. */
  chunksPerMessage: number;
}

/** Outgoing webhooks. */
export interface WebhookConfig {
  maxAttempts: number;
  /** One attempt's limit: a slower receiver counts as down (at most 10 s). */
  timeoutMs: number;
  /** The first retry's delay; each later one doubles, with jitter. */
  retryBaseSeconds: number;
  /** How long a rotated-out signing secret keeps signing beside the new one. */
  secretGraceMs: number;
  /** DNS-over-HTTPS JSON endpoint the SSRF guard resolves hosts with. */
  dohUrl: string;
  /** Development only: http and https to literal loopback hosts. */
  allowLoopback: boolean;
}

/** The vars `readConfig` reads; `Env` (from `wrangler types`) satisfies it. */
export interface ConfigVars {
  SESSION_CACHE_BYTES?: string;
  MANIFEST_TTL_SECONDS?: string;
  MAX_BODY_BYTES?: string;
  MAX_BATCH?: string;
  MAX_TEXT_CHARS?: string;
  AUTH_CACHE_TTL_SECONDS?: string;
  RATE_LIMIT_TIERS?: string;
  CORS_ORIGINS?: string;
  MAX_JOB_BODY_BYTES?: string;
  MAX_JOB_ITEMS?: string;
  JOB_RESULT_TTL_SECONDS?: string;
  JOB_RETRY_DELAY_SECONDS?: string;
  JOB_CHUNKS_PER_MESSAGE?: string;
  WEBHOOK_MAX_ATTEMPTS?: string;
  WEBHOOK_TIMEOUT_MS?: string;
  WEBHOOK_RETRY_BASE_SECONDS?: string;
  WEBHOOK_SECRET_GRACE_SECONDS?: string;
  WEBHOOK_DOH_URL?: string;
  WEBHOOK_ALLOW_LOOPBACK?: string;
}

/** A boolean var: `true`, `1` or `yes`; anything else (empty, unset) is off. */
export function flagVar(value: string | undefined): boolean {
  return /^(true|1|yes)$/i.test((value ?? '').trim());
}

/** An integer setting from a string var (wrangler var or process env); a missing or bad value keeps the default. */
export function intVar(value: string | undefined, fallback: number, min: number): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  // A typo in a var must not turn a limit off: fall back to the default rather than NaN or 0.
  return Number.isInteger(n) && n >= min ? n : fallback;
}

/** `RATE_LIMIT_TIERS` as JSON `{ "<tier>": { binding, limit, period } }`; a bad value is logged and the default used. */
export function parseTiers(value: string | undefined): Record<string, RateLimitTier> {
  if (value === undefined || value.trim() === '') return DEFAULT_TIERS;
  try {
    const parsed = TiersSchema.safeParse(JSON.parse(value));
    if (parsed.success && parsed.data['default'] !== undefined) return parsed.data;
  } catch {
    // fall through to the log line
  }
  console.error(JSON.stringify({ msg: 'RATE_LIMIT_TIERS is invalid (needs a "default" tier); using the defaults' }));
  return DEFAULT_TIERS;
}

export function readConfig(vars: ConfigVars): Config {
  const cors = (vars.CORS_ORIGINS ?? '').trim();
  const tiers = parseTiers(vars.RATE_LIMIT_TIERS);
  return {
    sessionCacheBytes: intVar(vars.SESSION_CACHE_BYTES, DEFAULT_SESSION_BUDGET, 1),
    manifestTtlMs: intVar(vars.MANIFEST_TTL_SECONDS, 30, 0) * 1000,
    maxBodyBytes: intVar(vars.MAX_BODY_BYTES, 1024 * 1024, 1),
    maxBatch: intVar(vars.MAX_BATCH, 64, 1),
    maxTextChars: intVar(vars.MAX_TEXT_CHARS, 4096, 1),
    authCacheTtlMs: intVar(vars.AUTH_CACHE_TTL_SECONDS, 30, 0) * 1000,
    rateLimitTiers: tiers,
    ipRateLimit: tiers['ip'] ?? IP_TIER,
    corsOrigins: cors === '' ? [] : cors.split(',').map((o) => o.trim()),
    jobs: {
      maxBodyBytes: intVar(vars.MAX_JOB_BODY_BYTES, 8 * 1024 * 1024, 1),
      maxItems: intVar(vars.MAX_JOB_ITEMS, 50_000, 1),
      resultTtlMs: intVar(vars.JOB_RESULT_TTL_SECONDS, 7 * 24 * 3600, 1) * 1000,
      retryDelaySeconds: intVar(vars.JOB_RETRY_DELAY_SECONDS, 10, 0),
      chunksPerMessage: intVar(vars.JOB_CHUNKS_PER_MESSAGE, 16, 1),
    },
    webhooks: {
      maxAttempts: intVar(vars.WEBHOOK_MAX_ATTEMPTS, 10, 1),
      timeoutMs: Math.min(intVar(vars.WEBHOOK_TIMEOUT_MS, 10_000, 1), 10_000),
      retryBaseSeconds: intVar(vars.WEBHOOK_RETRY_BASE_SECONDS, 30, 0),
      secretGraceMs: intVar(vars.WEBHOOK_SECRET_GRACE_SECONDS, 24 * 3600, 0) * 1000,
      dohUrl: (vars.WEBHOOK_DOH_URL ?? '').trim() || 'https://cloudflare-dns.com/dns-query',
      allowLoopback: flagVar(vars.WEBHOOK_ALLOW_LOOPBACK),
    },
  };
}
