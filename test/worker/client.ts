/**
 * @module Calls the Worker app in-process inside workerd (same isolate, so tests can read runtime counters), as a
 * caller with an API key: each test file gets its own keys, inserted into the real miniflare KV through the
 * service's own KeyStore (the hash and record a real key has).
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { generateSecret, KeyStore, type KeyRecord, type NewKey } from '../../src/auth/keys.js';
import { app } from '../../src/index.js';

export interface ErrorJson {
  error: { code: string; message: string };
}

/**
 * Keys this test file calls with. `bulk` is the tier vitest.config.ts declares for tests that send many requests
 * (its binding allows far more than the production tiers); `tight` allows 3 requests per 10 s.
 */
const KEYS = {
  admin: { name: 'test admin', scopes: { models: ['*'], admin: true }, tier: 'bulk' },
  plain: { name: 'test plain', scopes: { models: ['*'], admin: false }, tier: 'bulk' },
  sentimentOnly: { name: 'test sentiment-only', scopes: { models: ['sentiment-*'], admin: false }, tier: 'bulk' },
  other: { name: 'test other tenant', scopes: { models: ['*'], admin: false }, tier: 'bulk' },
  tight: { name: 'test tight tier', scopes: { models: ['*'], admin: false }, tier: 'tight' },
} satisfies Record<string, NewKey>;
export type TestKey = keyof typeof KEYS;

const secrets: Record<TestKey, string> = {
  admin: generateSecret(),
  plain: generateSecret(),
  sentimentOnly: generateSecret(),
  other: generateSecret(),
  tight: generateSecret(),
};
const records = new Map<TestKey, KeyRecord>();
let inserted: Promise<void> | undefined;

/** Inserts this file's keys into env.AUTH once. */
export function ensureKeys(): Promise<void> {
  inserted ??= (async () => {
    const store = new KeyStore(env.AUTH, { ttlMs: 0 });
    for (const [name, spec] of Object.entries(KEYS) as [TestKey, NewKey][]) {
      records.set(name, await store.insert(secrets[name], spec));
    }
  })();
  return inserted;
}

/** A test key's secret (for Authorization headers). */
export const secretOf = (key: TestKey): string => secrets[key];

/** A test key's stored record. */
export async function recordOf(key: TestKey): Promise<KeyRecord> {
  await ensureKeys();
  const r = records.get(key);
  if (r === undefined) throw new Error(`test key ${key} was not inserted`);
  return r;
}

export interface CallOptions {
  /** Which key to send (default `admin`); `null` sends no Authorization header. */
  key?: TestKey | null;
}

/** One request through the real app with real bindings; waits for `waitUntil` work (cache writes) too. */
export async function call(
  path: string,
  init: RequestInit = {},
  bindings: Env = env,
  options: CallOptions = {},
): Promise<Response> {
  await ensureKeys();
  const headers = new Headers(init.headers);
  const key = options.key === undefined ? 'admin' : options.key;
  if (key !== null && !headers.has('authorization')) headers.set('authorization', `Bearer ${secrets[key]}`);
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`, { ...init, headers }), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export function postJson(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  bindings: Env = env,
  options: CallOptions = {},
): Promise<Response> {
  return call(
    path,
    { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) },
    bindings,
    options,
  );
}

export function json<T>(res: Response): Promise<T> {
  return res.json<T>();
}
