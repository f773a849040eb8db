/**
 * @module The development API key `npm start` hands out: kept in `.dev.vars` (git-ignored) as `EDGE_INFER_KEY`, so it
 * survives restarts, and inserted into the local KV that `wrangler dev` reads, through the service's own KeyStore
 * (hashed, like any key). Production never has one: it exists only in local miniflare state.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localProxy } from './local-state.js';
import { isWellFormedSecret, KeyStore, generateSecret, type KeyKv, type KeyRecord } from '../src/auth/keys.js';

export const DEV_VARS = join(import.meta.dirname, '..', '.dev.vars');
export const DEV_KEY_VAR = 'EDGE_INFER_KEY';

/** `NAME=value` lines of a dotenv file (comments and blanks kept out). */
export function readDevVars(file = DEV_VARS): Record<string, string> {
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

/** Sets one variable in a dotenv file, leaving every other line as it was. */
export function writeDevVar(name: string, value: string, file = DEV_VARS): void {
  const text = existsSync(file) ? readFileSync(file, 'utf8').replace(/\n+$/, '') : '';
  const lines = text === '' ? [] : text.split('\n');
  const at = lines.findIndex((l) => new RegExp(`^\\s*${name}\\s*=`).test(l));
  if (at === -1) lines.push(`${name}=${value}`);
  else lines[at] = `${name}=${value}`;
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
}

/** The development key: the one in `.dev.vars` if there is one, else a new one written there; stored in `kv`. */
export async function ensureDevKey(kv: KeyKv, file = DEV_VARS): Promise<{ secret: string; record: KeyRecord }> {
  const existing = readDevVars(file)[DEV_KEY_VAR];
  const secret = existing !== undefined && isWellFormedSecret(existing) ? existing : generateSecret('dev');
  if (secret !== existing) writeDevVar(DEV_KEY_VAR, secret, file);
  const store = new KeyStore(kv, { ttlMs: 0 });
  const record = await store.insert(secret, {
    name: 'development (npm start)',
    scopes: { models: ['*'], admin: true },
    tier: 'default',
    kind: 'dev',
  });
  return { secret, record };
}

/** A fresh key in the local KV `wrangler dev` reads (benchmarks): admin, every model, the given tier. */
export async function localKey(tier: string, stateDir?: string): Promise<string> {
  const proxy = await localProxy<{ AUTH: KeyKv }>({ stateDir });
  try {
    const secret = generateSecret('dev');
    await new KeyStore(proxy.env.AUTH, { ttlMs: 0 }).insert(secret, {
      name: `benchmark ${new Date().toISOString()}`,
      scopes: { models: ['*'], admin: true },
      tier,
      kind: 'dev',
    });
    return secret;
  } finally {
    await proxy.dispose();
  }
}
