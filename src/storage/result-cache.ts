/**
 * @module The KV result cache: content-addressed keys that never hold the raw input, TTL from the manifest,
 * and failures that are logged and swallowed (a cache must never fail a request).
 */
import type { Manifest } from './manifest.js';
import { sha256Hex } from './registry.js';

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

/** `sha256(id@version + task + canonical(inputs, parameters))`, namespaced by a schema version for clean rollovers. */
export async function resultCacheKey(manifest: Manifest, surface: string, input: unknown): Promise<string> {
  const digest = await sha256Hex(
    `${manifest.id}@${manifest.version}\n${manifest.task}\n${surface}\n${canonicalJson(input)}`,
  );
  return `result:v1:${digest}`;
}

export interface CachedResult {
  output: unknown;
  placement: string;
}

export class ResultCache {
  constructor(private readonly kv: KVNamespace) {}

  async get(key: string): Promise<CachedResult | undefined> {
    try {
      const hit = await this.kv.get<CachedResult>(key, 'json');
      return hit ?? undefined;
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
