/** @module Configuration from `wrangler.toml` vars (strings) into numbers with defaults and bounds. */

/** Model bytes kept as live sessions per isolate when `SESSION_CACHE_BYTES` is unset. */
export const DEFAULT_SESSION_BUDGET = 64 * 1024 * 1024;

export interface Config {
  sessionCacheBytes: number;
  manifestTtlMs: number;
  maxBodyBytes: number;
  maxBatch: number;
  maxTextChars: number;
}

export interface ConfigVars {
  SESSION_CACHE_BYTES?: string;
  MANIFEST_TTL_SECONDS?: string;
  MAX_BODY_BYTES?: string;
  MAX_BATCH?: string;
  MAX_TEXT_CHARS?: string;
}

/** An integer setting from a string var (wrangler var or process env); a missing or bad value keeps the default. */
export function intVar(value: string | undefined, fallback: number, min: number): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  // A typo in a var must not turn a limit off: fall back to the default rather than NaN or 0.
  return Number.isInteger(n) && n >= min ? n : fallback;
}

export function readConfig(vars: ConfigVars): Config {
  return {
    sessionCacheBytes: intVar(vars.SESSION_CACHE_BYTES, DEFAULT_SESSION_BUDGET, 1),
    manifestTtlMs: intVar(vars.MANIFEST_TTL_SECONDS, 30, 0) * 1000,
    maxBodyBytes: intVar(vars.MAX_BODY_BYTES, 1024 * 1024, 1),
    maxBatch: intVar(vars.MAX_BATCH, 64, 1),
    maxTextChars: intVar(vars.MAX_TEXT_CHARS, 4096, 1),
  };
}
