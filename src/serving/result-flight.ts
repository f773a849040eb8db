/**
 * @module One prediction's path after validation: KV cache lookup → compute → cache store through `waitUntil`,
 * with identical requests in flight in this isolate sharing that whole path (one KV read, one inference, one
 * KV write). Shared by `/v1/.../predict` and `/v2/.../infer`.
 */
import type { Manifest } from '../lib/manifest.js';
import { resultCacheKey, type ResultCache } from '../storage/result-cache.js';

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

export interface Computed {
  output: unknown;
  placement: string;
}

export interface ServeResult extends Computed {
  cache: CacheStatus;
  timings: Record<string, number>;
}

export interface ServeDeps {
  cache: ResultCache;
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Flights by cache key. An entry stays until its KV write has landed, so a request arriving between the
 * inference and the write still joins it instead of missing KV and computing again.
 */
const inflight = new Map<string, Promise<ServeResult>>();

/** What a cache entry is addressed by, besides the model version. */
export interface CacheAddress {
  /** The API surface (the same input answers differently per surface). */
  surface: string;
  /** Whose entry: an API key's partition, or `shared` (see `cachePartition`). Coalescing follows it. */
  partition: string;
  input: unknown;
}

export async function serve(
  manifest: Manifest,
  address: CacheAddress,
  noStore: boolean,
  deps: ServeDeps,
  compute: (timings: Record<string, number>) => Promise<Computed>,
): Promise<ServeResult> {
  const key = await resultCacheKey(manifest, address);
  // `no-store` requests never touch KV, so they share flights only with each other.
  const flightKey = noStore ? `${key}:no-store` : key;
  const joined = inflight.get(flightKey);
  if (joined) return joined;

  let release = (): void => {
    inflight.delete(flightKey);
  };
  const flight = (async (): Promise<ServeResult> => {
    const timings: Record<string, number> = {};
    if (!noStore) {
      const t = performance.now();
      const hit = await deps.cache.get(key);
      timings['cache'] = performance.now() - t;
      if (hit) return { ...hit, cache: 'HIT', timings };
    }
    const result = await compute(timings);
    if (noStore) return { ...result, cache: 'BYPASS', timings };
    const write = deps.cache.put(key, result, manifest.cache.ttl_seconds).finally(release);
    release = () => undefined; // the write releases the flight now
    deps.waitUntil(write);
    return { ...result, cache: 'MISS', timings };
  })();
  inflight.set(flightKey, flight);
  try {
    return await flight;
  } finally {
    release();
  }
}
