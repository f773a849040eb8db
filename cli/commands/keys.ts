/**
 * @module `edge-infer keys create|list|revoke`: the admin API (`/v1/keys`) through the typed client. The secret is in
 * `create`'s answer only: printed once, with a warning on stderr that it cannot be shown again.
 */
import { apiClient, resolveTarget, send, type GlobalOptions } from '../client.js';
import { fields, table } from '../format.js';
import type { Io } from '../io.js';

export interface CreateKeyOptions extends GlobalOptions {
  name: string;
  models?: string | undefined;
  admin?: boolean | undefined;
  tier?: string | undefined;
}

/** `--models a,b*` as the list the API takes (blank entries dropped). */
export const modelList = (text: string): string[] =>
  text
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');

export async function createKey(io: Io, options: CreateKeyOptions): Promise<void> {
  const target = resolveTarget(options, io.env);
  const json = {
    name: options.name,
    ...(options.models === undefined ? {} : { models: modelList(options.models) }),
    ...(options.admin === true ? { admin: true } : {}),
    ...(options.tier === undefined ? {} : { tier: options.tier }),
  };
  const res = await send(target, () => apiClient(target).v1.keys.$post({ json }));
  if (options.json === true) {
    io.out(await res.text());
  } else {
    const k = await res.json();
    io.out(
      fields([
        ['id', k.id],
        ['name', k.name],
        ['models', k.scopes.models.join(', ')],
        ['admin', k.scopes.admin ? 'yes' : 'no'],
        ['tier', k.tier],
        ['key', k.key],
      ]),
    );
  }
  io.err('warning: store the key now: it is shown this once and cannot be shown again (only its hash is kept).');
}

/**
 * The hint as the API means it: the prefix and four characters. Cut here too, so the table never shows more of a
 * secret than that even if a server sends a longer hint.
 */
export const shortHint = (hint: string): string => `${/^ei_[a-z]+_.{0,4}/.exec(hint)?.[0] ?? hint.slice(0, 12)}…`;

export async function listKeys(io: Io, options: GlobalOptions): Promise<void> {
  const target = resolveTarget(options, io.env);
  const res = await send(target, () => apiClient(target).v1.keys.$get());
  if (options.json === true) {
    io.out(await res.text());
    return;
  }
  const { data } = await res.json();
  if (data.length === 0) {
    io.out('no keys');
    return;
  }
  const rows = data.map((k) => [
    k.id,
    k.name,
    shortHint(k.hint),
    k.scopes.models.join(','),
    k.scopes.admin ? 'yes' : 'no',
    k.tier,
    k.created_at,
    k.revoked_at ?? '-',
  ]);
  io.out(table([['ID', 'NAME', 'HINT', 'MODELS', 'ADMIN', 'TIER', 'CREATED', 'REVOKED'], ...rows]));
}

export async function revokeKey(io: Io, id: string, options: GlobalOptions): Promise<void> {
  const target = resolveTarget(options, io.env);
  const res = await send(target, () => apiClient(target).v1.keys[':id'].$delete({ param: { id } }));
  if (options.json === true) {
    io.out(await res.text());
    return;
  }
  const k = await res.json();
  io.out(`revoked ${k.id} (${k.name}) at ${k.revoked_at ?? 'now'}`);
  // The route's own description: immediate where it was served, everywhere after the caches and KV catch up.
  io.err('note: other edge locations may accept the key for up to ~90 s (key cache TTL plus KV propagation).');
}
