/** @module Configuration from `wrangler.toml` vars (strings) into numbers with defaults and bounds. */

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

function int(value: string | undefined, fallback: number, min: number): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  // A typo in a var must not turn a limit off: fall back to the default rather than NaN or 0.
  return Number.isInteger(n) && n >= min ? n : fallback;
}

export function readConfig(vars: ConfigVars): Config {
  return {
    sessionCacheBytes: int(vars.SESSION_CACHE_BYTES, 64 * 1024 * 1024, 1),
    manifestTtlMs: int(vars.MANIFEST_TTL_SECONDS, 30, 0) * 1000,
    maxBodyBytes: int(vars.MAX_BODY_BYTES, 1024 * 1024, 1),
    maxBatch: int(vars.MAX_BATCH, 64, 1),
    maxTextChars: int(vars.MAX_TEXT_CHARS, 4096, 1),
  };
}
