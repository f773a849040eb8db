/** @module Per-isolate services built from the bindings, and the Hono environment type every edge router shares. */
import type { Context } from 'hono';
import { KeyStore } from '../auth/keys.js';
import { readConfig, type Config } from '../lib/config.js';
import { sessions } from '../runtime/edge-session.js';
import type { KeyVariables } from '../auth/caller.js';
import { ModelRegistry } from '../storage/registry.js';
import { ResultCache } from '../storage/result-cache.js';
import type { BaseVariables } from './contract.js';

export interface AppEnv {
  Bindings: Env;
  Variables: BaseVariables & KeyVariables;
}

export interface Services {
  config: Config;
  registry: ModelRegistry;
  cache: ResultCache;
  keys: KeyStore;
}

// Bindings are stable within an isolate: keying each store on its own binding keeps the manifest and key caches warm
// across requests, while tests that pass another binding (a broken KV) get a store of their own.
const registries = new WeakMap<R2Bucket, ModelRegistry>();
const caches = new WeakMap<KVNamespace, ResultCache>();
const keyStores = new WeakMap<KVNamespace, KeyStore>();
/** Config by env object: cheap to read, and a test (or a deploy) with other vars gets its own. */
const configs = new WeakMap<object, Config>();

function memo<K extends object, V>(map: WeakMap<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

export function services(c: Context<AppEnv>): Services {
  return servicesFor(c.env);
}

/** The same services outside a request (the queue consumer). */
export function servicesFor(env: Env): Services {
  const config = memo(configs, env, () => readConfig(env));
  sessions.setBudget(config.sessionCacheBytes);
  return {
    config,
    registry: memo(registries, env.MODELS, () => new ModelRegistry(env.MODELS, config.manifestTtlMs)),
    cache: memo(caches, env.CACHE, () => new ResultCache(env.CACHE)),
    keys: memo(keyStores, env.AUTH, () => new KeyStore(env.AUTH, { ttlMs: config.authCacheTtlMs })),
  };
}
