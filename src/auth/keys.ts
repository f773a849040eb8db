/**
 * @module API keys: random secrets with a recognisable prefix (`ei_live_…`, `ei_dev_…`), stored in KV only as their
 * SHA-256 with a record `{ id, name, scopes, tier, created_at, revoked_at? }`, and cached in the isolate for a short
 * TTL so that authenticating a request costs no KV round trip on the hot path.
 *
 * KV layout (binding `AUTH`): `key:<sha256 hex>` → the record (what a request reads), `id:<key id>` → the sha256
 * hex (what listing and revoking by id read). Neither ever holds the secret.
 */
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { sha256Hex } from '../lib/sha256.js';

/** `live` keys are made by the admin API and the CLI; `dev` keys by `npm start` for the local stack. */
export type KeyKind = 'live' | 'dev';

/** 24 random bytes: 192 bits, base64url, after the prefix. */
const SECRET_BYTES = 24;
const SECRET_FORMAT = /^ei_(live|dev)_[A-Za-z0-9_-]{32}$/;

const KeyScopesSchema = z.object({
  /** Model ids or globs (`*` matches any run of characters): `["*"]`, `["sentiment-*", "digits-mnist"]`. */
  models: z.array(z.string()),
  /** May manage keys (`/v1/keys`). */
  admin: z.boolean(),
});
export type KeyScopes = z.infer<typeof KeyScopesSchema>;

/**
 * A key's record as KV holds it: read back through this schema, so a damaged record fails here, loudly (a 500,
 * logged), rather than as a missing field somewhere in authorization. The admin API's own schema (with the
 * document's examples) is `KeyRecordSchema` in http/keys.ts.
 */
const StoredKeyRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** The secret's first characters (prefix and 4 more), so people can tell their keys apart; not enough to use. */
  hint: z.string(),
  scopes: KeyScopesSchema,
  /** A rate-limit tier name (`RATE_LIMIT_TIERS`). */
  tier: z.string(),
  created_at: z.string(),
  revoked_at: z.string().optional(),
});
export type KeyRecord = z.infer<typeof StoredKeyRecordSchema>;

const parseRecord = (text: string): KeyRecord => StoredKeyRecordSchema.parse(JSON.parse(text));

export interface NewKey {
  name: string;
  scopes: KeyScopes;
  tier: string;
  kind?: KeyKind;
}

/** What a presented secret turned out to be. */
export type Verdict = { ok: true; record: KeyRecord } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' };

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A fresh secret of the right format (exported for tests that need a well-formed key nobody created). */
export function generateSecret(kind: KeyKind = 'live'): string {
  return `ei_${kind}_${base64url(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

export const isWellFormedSecret = (secret: string): boolean => SECRET_FORMAT.test(secret);

/**
 * Whether a key may call a model. Model ids are `[a-z0-9-]` only, so a pattern needs no escaping beyond `*`; a glob
 * library would bring path semantics (`/`, `**`, braces) that do not apply here.
 */
export function scopeAllows(scopes: KeyScopes, modelId: string): boolean {
  return scopes.models.some((pattern) => {
    if (pattern === '*') return true;
    const parts = pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, '\\$&'));
    return new RegExp(`^${parts.join('.*')}$`).test(modelId);
  });
}

const kvKeys = {
  byHash: (hash: string): string => `key:${hash}`,
  byId: (id: string): string => `id:${id}`,
  idPrefix: 'id:',
};

/** The slice of a KV namespace the store uses (a real KVNamespace, or wrangler's platform proxy of one). */
export interface KeyKv {
  get(key: string, type: 'text'): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
  list(options: {
    prefix: string;
    cursor?: string;
  }): Promise<{ keys: { name: string }[]; list_complete: boolean; cursor?: string }>;
}

type Cached = { state: 'found'; record: KeyRecord } | { state: 'absent' };

export interface KeyStoreOptions {
  /** How long an isolate trusts what it read (a found record, or "no such key"); a revocation elsewhere waits this long. */
  ttlMs: number;
  /** Records held per isolate. */
  max?: number;
  /** The clock the TTL is measured on, in ms (default: `performance.now`); tests pass a fake one. */
  now?: () => number;
}

export class KeyStore {
  private readonly cache: LRUCache<string, Cached>;

  constructor(
    private readonly kv: KeyKv,
    options: KeyStoreOptions,
  ) {
    // lru-cache refuses ttl 0; a zero TTL means "always read KV", which a tiny TTL approximates.
    this.cache = new LRUCache<string, Cached>({
      max: options.max ?? 10_000,
      ttl: Math.max(1, options.ttlMs),
      ...(options.now === undefined ? {} : { perf: { now: options.now } }),
    });
  }

  /** Creates a key; the secret is returned here once and never again. */
  async create(input: NewKey): Promise<{ secret: string; record: KeyRecord }> {
    const secret = generateSecret(input.kind ?? 'live');
    const record = await this.insert(secret, input);
    return { secret, record };
  }

  /**
   * Stores a record for a secret the caller already holds (`npm start` keeps its development key across restarts
   * in `.dev.vars`). Idempotent for the same secret.
   */
  async insert(secret: string, input: NewKey, now: Date = new Date()): Promise<KeyRecord> {
    if (!isWellFormedSecret(secret)) throw new Error('a key secret must look like ei_live_… or ei_dev_…');
    const hash = await sha256Hex(secret);
    const existing = await this.kv.get(kvKeys.byHash(hash), 'text');
    if (existing !== null) return parseRecord(existing);
    const record: KeyRecord = {
      id: `key_${base64url(crypto.getRandomValues(new Uint8Array(9)))}`,
      name: input.name,
      // The prefix (up to its second `_`) and 4 more: the random part may itself hold `_`, so never search from the end.
      hint: secret.slice(0, secret.indexOf('_', 3) + 5),
      scopes: input.scopes,
      tier: input.tier,
      created_at: now.toISOString(),
    };
    // The record first, then the id index: a key is never listed before it works.
    await this.kv.put(kvKeys.byHash(hash), JSON.stringify(record));
    await this.kv.put(kvKeys.byId(record.id), hash);
    this.cache.delete(hash);
    return record;
  }

  /** Looks a presented secret up: from the isolate cache when fresh, else KV. */
  async verify(secret: string): Promise<Verdict> {
    if (!isWellFormedSecret(secret)) return { ok: false, reason: 'malformed' };
    const hash = await sha256Hex(secret);
    let cached = this.cache.get(hash);
    if (cached === undefined) {
      const text = await this.kv.get(kvKeys.byHash(hash), 'text');
      cached = text === null ? { state: 'absent' } : { state: 'found', record: parseRecord(text) };
      this.cache.set(hash, cached);
    }
    if (cached.state === 'absent') return { ok: false, reason: 'unknown' };
    if (cached.record.revoked_at !== undefined) return { ok: false, reason: 'revoked' };
    return { ok: true, record: cached.record };
  }

  async get(id: string): Promise<KeyRecord | undefined> {
    const hash = await this.kv.get(kvKeys.byId(id), 'text');
    if (hash === null) return undefined;
    const text = await this.kv.get(kvKeys.byHash(hash), 'text');
    return text === null ? undefined : parseRecord(text);
  }

  /** Every key's record, newest first. */
  async list(): Promise<KeyRecord[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.kv.list({ prefix: kvKeys.idPrefix, ...(cursor === undefined ? {} : { cursor }) });
      ids.push(...page.keys.map((k) => k.name.slice(kvKeys.idPrefix.length)));
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor !== undefined);
    const records = await Promise.all(ids.map((id) => this.get(id)));
    return records
      .filter((r): r is KeyRecord => r !== undefined)
      .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  }

  /** Marks a key revoked (kept, so its id still explains old log lines); this isolate stops accepting it at once. */
  async revoke(id: string, now: Date = new Date()): Promise<KeyRecord | undefined> {
    const hash = await this.kv.get(kvKeys.byId(id), 'text');
    if (hash === null) return undefined;
    const text = await this.kv.get(kvKeys.byHash(hash), 'text');
    if (text === null) return undefined;
    const record = parseRecord(text);
    if (record.revoked_at !== undefined) return record;
    const revoked: KeyRecord = { ...record, revoked_at: now.toISOString() };
    await this.kv.put(kvKeys.byHash(hash), JSON.stringify(revoked));
    this.cache.set(hash, { state: 'found', record: revoked });
    return revoked;
  }
}
