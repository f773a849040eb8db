/**
 * @module One prediction's path after validation: KV cache lookup → coalesce identical in-flight work →
 * compute → cache store through `waitUntil`. Shared by `/v1/.../predict` and `/v2/.../infer`.
 */
import type { Manifest } from '../storage/manifest.js';
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

/** Identical requests in flight in this isolate share one computation (keyed like the cache). */
const inflight = new Map<string, { result: Promise<Computed>; stored: boolean }>();

export async function serve(
  manifest: Manifest,
  surface: string,
  cacheInput: unknown,
  noStore: boolean,
  deps: ServeDeps,
  compute: (timings: Record<string, number>) => Promise<Computed>,
): Promise<ServeResult> {
  const timings: Record<string, number> = {};
  const key = await resultCacheKey(manifest, surface, cacheInput);
  if (!noStore) {
    const t = performance.now();
    const hit = await deps.cache.get(key);
    timings.cache = performance.now() - t;
    if (hit) return { ...hit, cache: 'HIT', timings };
  }
  let shared = inflight.get(key);
  if (shared === undefined) {
    shared = { result: compute(timings), stored: false };
    inflight.set(key, shared);
    // Remove once settled, success or not: a failure must not stick to later requests.
    const forget = (): void => {
      inflight.delete(key);
    };
    shared.result.then(forget, forget);
  }
  const result = await shared.result;
  // One KV write per computation, by the first caller allowed to store.
  if (!noStore && !shared.stored) {
    shared.stored = true;
    deps.waitUntil(deps.cache.put(key, result, manifest.cache.ttl_seconds));
  }
  return { ...result, cache: noStore ? 'BYPASS' : 'MISS', timings };
}
