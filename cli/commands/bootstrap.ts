/**
 * @module `edge-infer keys bootstrap`: the first admin key of a deployment, written straight into the `AUTH` KV
 * namespace (no admin key exists yet to call `POST /v1/keys` with). `--remote` goes through `wrangler kv key` with
 * the account wrangler is logged into; without it, the local state `npm start` serves. The record is made by the
 * service's own KeyStore, so it is hashed exactly like every other key.
 */
import { execFileSync } from 'node:child_process';
import { generateSecret, KeyStore, type KeyKv, type KeyRecord } from '../../src/auth/keys.js';
import { REPO_ROOT } from '../../origin/config.js';
import { localProxy } from '../../scripts/local-state.js';
import { fields } from '../format.js';
import type { Io } from '../io.js';

export interface BootstrapOptions {
  name: string;
  tier?: string | undefined;
  remote?: boolean | undefined;
  /** The local state's proxy path, as `models publish --persist` takes it (default .wrangler/state/v3). */
  persist?: string | undefined;
  json?: boolean | undefined;
}

/**
 * KV through wrangler's CLI (`wrangler kv key get|put --binding AUTH`): the only way to a remote namespace without an
 * API token of our own. `get` prints "Value not found" for a missing key (exit 0); values here are JSON or hex.
 */
export function wranglerKv(where: string[]): KeyKv {
  const wrangler = (args: string[]): string =>
    execFileSync(
      process.execPath,
      ['node_modules/wrangler/bin/wrangler.js', 'kv', 'key', ...args, '--binding', 'AUTH', ...where],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
      },
    );
  return {
    get: (key) => {
      const out = wrangler(['get', key, '--text']).trim();
      return Promise.resolve(out === 'Value not found' ? null : out);
    },
    put: (key, value) => {
      wrangler(['put', key, value]);
      return Promise.resolve();
    },
    list: () => Promise.reject(new Error('listing is not needed to bootstrap a key')),
  };
}

export async function bootstrapKey(io: Io, options: BootstrapOptions): Promise<void> {
  const input = { name: options.name, scopes: { models: ['*'], admin: true }, tier: options.tier ?? 'default' };
  const secret = generateSecret('live');
  let record: KeyRecord;
  if (options.remote === true) {
    record = await new KeyStore(wranglerKv(['--remote']), { ttlMs: 0 }).insert(secret, input);
  } else {
    const proxy = await localProxy<{ AUTH: KeyKv }>({ path: options.persist });
    try {
      record = await new KeyStore(proxy.env.AUTH, { ttlMs: 0 }).insert(secret, input);
    } finally {
      await proxy.dispose();
    }
  }
  if (options.json === true) io.out(JSON.stringify({ ...record, key: secret }));
  else {
    io.out(
      fields([
        ['id', record.id],
        ['name', record.name],
        ['scopes', 'admin, every model'],
        ['tier', record.tier],
        ['key', secret],
      ]),
    );
  }
  io.err('warning: store the key now: it is shown this once and cannot be shown again (only its hash is kept).');
}
