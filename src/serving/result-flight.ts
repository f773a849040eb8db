/**
 * @module The result cache's side of a model call: whose partition an answer lives in, whether the request lets
 * the cache be used, and one call's flight — KV lookup → compute → store through `waitUntil` — with identical
 * requests in flight in this isolate sharing that whole flight (one KV read, one inference, one KV write).
 */
import type { Context, Env as HonoEnv } from 'hono';
import { currentKey, type KeyVariables } from '../auth/caller.js';
import type { Manifest } from '../lib/manifest.js';
import { resultCacheKey, type ResultCache } from '../storage/result-cache.js';
import type { Timings } from './dispatch.js';
import type { CacheStatus } from './headers.js';

/** `Cache-Control: no-store` on the request bypasses the result cache both ways. */
export function wantsNoStore(c: Context): boolean {
  return /(^|,)\s*no-store\s*(,|$)/i.test(c.req.header('cache-control') ?? '');
}

/**
 * Whose results a request may see. By default each API key has its own partition, so `X-Cache: HIT` never tells one
 * caller what another sent; a model whose manifest says `cache.shared: true` (public inputs) shares one.
 */
export function cachePartition<E extends HonoEnv & { Variables: KeyVariables }>(
  c: Context<E>,
  manifest: Manifest,
): string {
  return manifest.cache.shared ? 'shared' : `key:${currentKey(c).id}`;
}

/** What a cache entry is addressed by, besides the model version. */
export interface CacheAddress {
  /** The API surface (the same input answers differently per surface). */
  surface: string;
  /** Whose entry: an API key's partition, or `shared` (see `cachePartition`). Coalescing follows it. */
  partition: string;
  input: unknown;
}

export interface Computed {
  output: unknown;
  placement: string;
  /** Why it was computed there; absent on a HIT (the caller says why it would have been). */
  reason?: string;
}

export interface FlightResult extends Computed {
  cache: CacheStatus;
  timings: Timings;
}

export interface FlightDeps {
  cache: ResultCache;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Flights by cache key. An entry stays until its KV write has landed, so a request arriving between the
 * inference and the write still joins it instead of missing KV and computing again.
 */
const inflight = new Map<string, Promise<FlightResult>>();

export async function flight(
  manifest: Manifest,
  address: CacheAddress,
  noStore: boolean,
  deps: FlightDeps,
  compute: (timings: Timings) => Promise<Computed>,
): Promise<FlightResult> {
  const key = await resultCacheKey(manifest, address);
  // `no-store` requests never touch KV, so they share flights only with each other.
  const flightKey = noStore ? `${key}:no-store` : key;
  const joined = inflight.get(flightKey);
  if (joined) return joined;

  let release = (): void => {
    inflight.delete(flightKey);
  };
  const flown = (async (): Promise<FlightResult> => {
    const timings: Timings = {};
    if (!noStore) {
      const t = performance.now();
      const hit = await deps.cache.get(key);
      timings['cache'] = performance.now() - t;
      if (hit) return { output: hit.output, placement: hit.placement, cache: 'HIT', timings };
    }
    const result = await compute(timings);
    if (noStore) return { ...result, cache: 'BYPASS', timings };
    const write = deps.cache
      .put(key, { output: result.output, placement: result.placement }, manifest.cache.ttl_seconds)
      .finally(release);
    release = () => undefined; // the write releases the flight now
    deps.waitUntil(write);
    return { ...result, cache: 'MISS', timings };
  })();
  inflight.set(flightKey, flown);
  try {
    return await flown;
  } finally {
    release();
  }
}
