/** @module Per-isolate services built from the bindings, and the Hono environment type every router shares. */
import type { Context } from 'hono';
import { readConfig, type Config } from '../lib/config.js';
import { sessions } from '../inference/edge.js';
import { ModelRegistry } from '../storage/registry.js';
import { ResultCache } from '../storage/result-cache.js';

export interface AppEnv {
  Bindings: Env;
}

export interface Services {
  config: Config;
  registry: ModelRegistry;
  cache: ResultCache;
}

// Bindings are stable within an isolate; keying on them keeps the manifest cache warm across requests
// while letting tests that pass other bindings get their own services.
const byBucket = new WeakMap<R2Bucket, WeakMap<KVNamespace, Services>>();

export function services(c: Context<AppEnv>): Services {
  const env = c.env;
  let inner = byBucket.get(env.MODELS);
  if (inner === undefined) {
    inner = new WeakMap();
    byBucket.set(env.MODELS, inner);
  }
  let s = inner.get(env.CACHE);
  if (s === undefined) {
    const config = readConfig(env);
    s = { config, registry: new ModelRegistry(env.MODELS, config.manifestTtlMs), cache: new ResultCache(env.CACHE) };
    inner.set(env.CACHE, s);
  }
  sessions.setBudget(s.config.sessionCacheBytes);
  return s;
}
