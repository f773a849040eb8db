/** @module Per-isolate services built from the bindings, and the Hono environment type every edge router shares. */
import type { Context } from 'hono';
import { KeyStore } from '../auth/keys.js';
import { readConfig, type Config } from '../lib/config.js';
import { sessions } from '../inference/edge.js';
import type { KeyVariables } from '../middleware/api-keys.js';
import { ModelRegistry } from '../storage/registry.js';
import { ResultCache } from '../storage/result-cache.js';
import type { BaseVariables } from './http.js';

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

// Bindings are stable within an isolate; keying the stores on them keeps the manifest and key caches warm across
// requests while letting tests that pass other bindings (a broken KV) get their own.
type Stores = Omit<Services, 'config'>;
const byEnv = new WeakMap<R2Bucket, WeakMap<KVNamespace, WeakMap<KVNamespace, Stores>>>();

function memo<K extends object, V>(map: WeakMap<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

/** Config by env object: cheap to read, and a test (or a deploy) with other vars gets its own. */
const configs = new WeakMap<object, Config>();

export function services(c: Context<AppEnv>): Services {
  const env = c.env;
  const config = memo(configs, env, () => readConfig(env));
  const stores = memo(
    memo(
      memo(byEnv, env.MODELS, () => new WeakMap<KVNamespace, WeakMap<KVNamespace, Stores>>()),
      env.CACHE,
      () => new WeakMap<KVNamespace, Stores>(),
    ),
    env.AUTH,
    () => ({
      registry: new ModelRegistry(env.MODELS, config.manifestTtlMs),
      cache: new ResultCache(env.CACHE),
      keys: new KeyStore(env.AUTH, { ttlMs: config.authCacheTtlMs }),
    }),
  );
  sessions.setBudget(config.sessionCacheBytes);
  return { config, ...stores };
}
