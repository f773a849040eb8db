/**
 * @module Files of a model version that task code parses once per isolate (or origin process): a tokenizer, a
 * vocabulary. A small LRU (lru-cache) of the parsing promises, keyed by the model version and the files' sha256, so
 * concurrent first requests share one parse and a republished file is never served stale; a failed load is dropped,
 * and the next request tries again.
 */
import { LRUCache } from 'lru-cache';
import type { Manifest } from '../lib/manifest.js';
import type { TaskContext } from './task.js';

/** A handful of models per isolate at most. */
const MODELS_PER_ISOLATE = 8;

export type VersionCache<T> = (
  manifest: Manifest,
  files: readonly (string | undefined)[],
  load: () => Promise<T>,
) => Promise<T>;

export function versionCache<T>(): VersionCache<T> {
  const lru = new LRUCache<string, Promise<T>>({ max: MODELS_PER_ISOLATE });
  return (manifest, files, load) => {
    const digests = files.map((name) =>
      name === undefined ? '-' : (manifest.files.find((f) => f.name === name)?.sha256 ?? 'unlisted'),
    );
    const key = `${manifest.id}@${manifest.version}:${digests.join(':')}`;
    const hit = lru.get(key);
    if (hit !== undefined) return hit;
    const loading = load();
    lru.set(key, loading);
    loading.catch(() => lru.delete(key));
    return loading;
  };
}

/** A JSON file of the model version, parsed (the caller validates its shape). */
export async function loadJson(context: TaskContext, name: string): Promise<unknown> {
  return JSON.parse(new TextDecoder().decode(await context.loadFile(name))) as unknown;
}

/** A JSON file that must hold an object (tokenizer files). */
export async function loadJsonObject(context: TaskContext, name: string): Promise<Record<string, unknown>> {
  const value = await loadJson(context, name);
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`${name} is not a JSON object`);
  return value as Record<string, unknown>;
}
