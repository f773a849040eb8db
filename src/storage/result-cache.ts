/**
 * @module The KV result cache: content-addressed keys that never hold the raw input, TTL from the manifest,
 * and failures that are logged and swallowed (a cache must never fail a request).
 */
import { z } from 'zod';
import type { Manifest } from '../lib/manifest.js';
import { sha256Hex } from '../lib/sha256.js';

/** JSON with object keys sorted at every depth, so equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array) return Array.from(v);
    if (typeof v === 'bigint') return v.toString();
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return Object.fromEntries(entries);
    }
    return v;
  });
}

/**
 * `sha256(partition + id@version + task + surface + canonical(inputs, parameters))`, namespaced by a schema version
 * for clean rollovers. The partition (an API key's id, or `shared`) keeps one caller's inputs from showing up as
 * another's HIT; the raw input never appears in the key.
 */
export async function resultCacheKey(
  manifest: Manifest,
  address: { surface: string; partition: string; input: unknown },
): Promise<string> {
  const { surface, partition, input } = address;
  const digest = await sha256Hex(
    `${partition}\n${manifest.id}@${manifest.version}\n${manifest.task}\n${surface}\n${canonicalJson(input)}`,
  );
  return `result:v2:${digest}`;
}

const CachedResultSchema = z.object({ output: z.unknown(), placement: z.string() });
export type CachedResult = z.infer<typeof CachedResultSchema>;

export class ResultCache {
  constructor(private readonly kv: KVNamespace) {}

  async get(key: string): Promise<CachedResult | undefined> {
    try {
      const hit: unknown = await this.kv.get(key, 'json');
      if (hit === null) return undefined;
      const parsed = CachedResultSchema.safeParse(hit);
      if (parsed.success) return parsed.data;
      // Not an entry this code wrote: a miss (the request runs and overwrites it), never a failed request.
      console.error(JSON.stringify({ msg: 'result cache entry is malformed; treated as a miss' }));
      return undefined;
    } catch (err) {
      console.error(JSON.stringify({ msg: 'result cache read failed', err: String(err) }));
      return undefined;
    }
  }

  async put(key: string, value: CachedResult, ttlSeconds: number): Promise<void> {
    try {
      await this.kv.put(key, JSON.stringify(value), { expirationTtl: Math.max(60, ttlSeconds) });
    } catch (err) {
      console.error(JSON.stringify({ msg: 'result cache write failed', err: String(err) }));
    }
  }
}
