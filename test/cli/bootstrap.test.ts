/**
 * @module `edge-infer keys bootstrap`, the first admin key of a deployment: written into a fresh local state through
 * the platform proxy, and through wrangler's own `kv key` CLI (the path `--remote` takes, run here with `--local`),
 * then read back by the service's KeyStore over that state as a working admin key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { getPlatformProxy } from 'wrangler';
import { bootstrapKey, wranglerKv } from '../../cli/commands/bootstrap.js';
import type { Io } from '../../cli/io.js';
import { generateSecret, KeyStore, type KeyKv } from '../../src/auth/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'bootstrap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function verify(secret: string): Promise<Awaited<ReturnType<KeyStore['verify']>>> {
  const proxy = await getPlatformProxy<{ AUTH: KeyKv }>({ persist: { path: join(dir, 'v3') } });
  try {
    return await new KeyStore(proxy.env.AUTH, { ttlMs: 0 }).verify(secret);
  } finally {
    await proxy.dispose();
  }
}

describe('keys bootstrap', () => {
  it('writes an admin key for every model into the local state, and prints its secret once', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), env: {}, progress: false };
    await bootstrapKey(io, { name: 'ops', persist: join(dir, 'v3'), json: true });
    const printed = JSON.parse(out.join('\n')) as { key: string; id: string };
    expect(printed.key).toMatch(/^ei_live_/);
    expect(err.join('\n')).toMatch(/shown this once/);
    const verdict = await verify(printed.key);
    expect(verdict).toMatchObject({ ok: true, record: { id: printed.id, scopes: { models: ['*'], admin: true } } });
  }, 60_000);

  it("stores the same record through wrangler's kv CLI (the --remote path, here against local state)", async () => {
    const secret = generateSecret();
    const store = new KeyStore(wranglerKv(['--local', '--persist-to', dir]), { ttlMs: 0 });
    const record = await store.insert(secret, {
      name: 'via wrangler',
      scopes: { models: ['*'], admin: true },
      tier: 'default',
    });
    expect(await verify(secret)).toEqual({ ok: true, record });
    // Idempotent: the same secret again finds the record instead of writing a second one.
    expect(
      await store.insert(secret, { name: 'again', scopes: { models: [], admin: false }, tier: 'default' }),
    ).toEqual(record);
  }, 120_000);
});
