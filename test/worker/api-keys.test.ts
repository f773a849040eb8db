/**
 * @module The API-key middleware and store on their own, on a tiny Hono app over the real miniflare KV: verdicts,
 * 401 shapes, what is stored (hashes, never secrets), and revocation crossing isolates within the cache TTL (two
 * KeyStores over one KV stand for two isolates).
 */
import { env } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { generateSecret, isWellFormedSecret, KeyStore, scopeAllows } from '../../src/auth/keys.js';
import { sha256Hex } from '../../src/lib/sha256.js';
import { assertCanCall, currentKey, type KeyVariables } from '../../src/auth/caller.js';
import { apiKeys, requireAdmin } from '../../src/middleware/api-keys.js';
import { errorHandler } from '../../src/http/router.js';

type TestEnv = { Variables: KeyVariables };

function appOver(store: KeyStore) {
  const app = new Hono<TestEnv>();
  app.use('*', apiKeys<TestEnv>({ store: () => store }));
  app.get('/whoami', (c) => c.json({ id: currentKey(c).id }));
  app.get('/models/:id', (c) => {
    assertCanCall(c, c.req.param('id'));
    return c.json({ ok: true });
  });
  app.get('/admin', requireAdmin<TestEnv>(), (c) => c.json({ ok: true }));
  app.onError(errorHandler);
  return app;
}

const get = (app: Hono<TestEnv>, path: string, authorization?: string): Promise<Response> =>
  Promise.resolve(app.request(path, authorization === undefined ? {} : { headers: { authorization } }));

describe('keys', () => {
  it('are 192 random bits after a recognisable prefix, and only their SHA-256 is stored', async () => {
    const store = new KeyStore(env.AUTH, { ttlMs: 30_000 });
    const { secret, record } = await store.create({
      name: 'n',
      scopes: { models: ['*'], admin: false },
      tier: 'default',
    });
    expect(secret).toMatch(/^ei_live_[A-Za-z0-9_-]{32}$/);
    expect(isWellFormedSecret(secret)).toBe(true);
    expect(new Set(Array.from({ length: 50 }, () => generateSecret())).size).toBe(50);
    expect(record.hint).toBe(secret.slice(0, 12));
    const stored = await env.AUTH.get(`key:${await sha256Hex(secret)}`, 'json');
    expect(stored).toEqual(record);
    const listed = await env.AUTH.list();
    for (const k of listed.keys) {
      expect(k.name).not.toContain(secret.slice(8));
      expect((await env.AUTH.get(k.name)) ?? '').not.toContain(secret.slice(8));
    }
  });

  it('scopes match ids and * globs, nothing else', () => {
    const s = { models: ['sentiment-*', 'iris-tree'], admin: false };
    expect(scopeAllows(s, 'sentiment-en')).toBe(true);
    expect(scopeAllows(s, 'iris-tree')).toBe(true);
    expect(scopeAllows(s, 'iris-tree-2')).toBe(false);
    expect(scopeAllows(s, 'digits-mnist')).toBe(false);
    expect(scopeAllows({ models: ['*'], admin: false }, 'anything')).toBe(true);
    expect(scopeAllows({ models: ['a.b'], admin: false }, 'axb')).toBe(false);
  });
});

describe('apiKeys middleware', () => {
  it('answers 401 unauthorized with WWW-Authenticate for every kind of bad credential', async () => {
    const store = new KeyStore(env.AUTH, { ttlMs: 30_000 });
    const revoked = await store.create({ name: 'r', scopes: { models: ['*'], admin: false }, tier: 'default' });
    await store.revoke(revoked.record.id);
    const app = appOver(store);
    const cases: [string | undefined, RegExp][] = [
      [undefined, /Send an API key/],
      ['Basic dXNlcjpwYXNz', /must be 'Bearer <key>'/],
      ['Bearer', /must be 'Bearer <key>'/],
      ['Bearer not-a-key', /malformed/],
      [`Bearer ${generateSecret()}`, /not known/],
      [`Bearer ${revoked.secret}`, /revoked/],
    ];
    for (const [header, message] of cases) {
      const res = await get(app, '/whoami', header);
      expect(res.status, String(header)).toBe(401);
      expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
      const body = await res.json<{ error: { code: string; message: string } }>();
      expect(body.error.code).toBe('unauthorized');
      expect(body.error.message).toMatch(message);
    }
  });

  it('puts the key on the context; 403 outside its scope and on admin routes for plain keys', async () => {
    const store = new KeyStore(env.AUTH, { ttlMs: 30_000 });
    const plain = await store.create({ name: 'p', scopes: { models: ['sentiment-*'], admin: false }, tier: 'default' });
    const admin = await store.create({ name: 'a', scopes: { models: [], admin: true }, tier: 'default' });
    const app = appOver(store);
    expect(await (await get(app, '/whoami', `Bearer ${plain.secret}`)).json()).toEqual({ id: plain.record.id });
    expect((await get(app, '/models/sentiment-en', `Bearer ${plain.secret}`)).status).toBe(200);
    const forbidden = await get(app, '/models/digits-mnist', `Bearer ${plain.secret}`);
    expect(forbidden.status).toBe(403);
    expect((await forbidden.json<{ error: { code: string } }>()).error.code).toBe('forbidden');
    expect((await get(app, '/admin', `Bearer ${plain.secret}`)).status).toBe(403);
    expect((await get(app, '/admin', `Bearer ${admin.secret}`)).status).toBe(200);
  });

  it('a revocation in one isolate reaches another within the cache TTL, and at once in its own', async () => {
    const ttlMs = 300;
    // Both isolates' caches run on one hand-driven clock, so the TTL window is stepped, not slept through. It starts
    // far from 0: lru-cache reads a start time of 0 as "no TTL".
    let now = 1_000_000;
    const clock = (): number => now;
    // lru-cache keeps a clock reading for 1 ms (a real timer) before asking again; a real tick after each step
    // lets the new time be read.
    const step = async (ms: number): Promise<void> => {
      now += ms;
      await new Promise((r) => setTimeout(r, 5));
    };
    const here = new KeyStore(env.AUTH, { ttlMs, now: clock });
    const elsewhere = new KeyStore(env.AUTH, { ttlMs, now: clock });
    const { secret, record } = await here.create({
      name: 't',
      scopes: { models: ['*'], admin: false },
      tier: 'default',
    });
    expect((await elsewhere.verify(secret)).ok).toBe(true); // now cached over there
    await here.revoke(record.id);
    expect(await here.verify(secret)).toEqual({ ok: false, reason: 'revoked' });
    // The other isolate still trusts its cached record, to the last millisecond of the TTL…
    expect((await elsewhere.verify(secret)).ok).toBe(true);
    await step(ttlMs);
    expect((await elsewhere.verify(secret)).ok).toBe(true);
    // …and once the TTL has run out, reads KV again.
    await step(1);
    expect(await elsewhere.verify(secret)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('serves a hot key from the isolate cache, without a KV read', async () => {
    let reads = 0;
    const counting = {
      get: (key: string, type: 'text') => {
        reads++;
        return env.AUTH.get(key, type);
      },
      put: (key: string, value: string) => env.AUTH.put(key, value),
      list: (o: { prefix: string; cursor?: string }) => env.AUTH.list(o),
    };
    const store = new KeyStore(counting, { ttlMs: 30_000 });
    const { secret } = await store.create({ name: 'h', scopes: { models: ['*'], admin: false }, tier: 'default' });
    reads = 0;
    for (let i = 0; i < 20; i++) expect((await store.verify(secret)).ok).toBe(true);
    expect(reads).toBe(1);
    // Unknown keys are cached as absent too, so a flood of bad keys does not become a flood of KV reads.
    const unknown = generateSecret();
    reads = 0;
    for (let i = 0; i < 5; i++) expect((await store.verify(unknown)).ok).toBe(false);
    expect(reads).toBe(1);
  });
});
