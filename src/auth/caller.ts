/**
 * @module Who a request acts for: the API key the `apiKeys` middleware put on the context, or the key a request the
 * service makes to itself acts for (a job's chunk, a hook's run), and the scope check every model call makes with it.
 * Below the HTTP layer so the serving path can ask "whose call is this?" without importing middleware.
 */
import type { Context, Env as HonoEnv } from 'hono';
import { ServiceError } from '../lib/errors.js';
import { scopeAllows, type KeyRecord, type Verdict } from './keys.js';

export interface KeyVariables {
  /** The authenticated key (set by `apiKeys`). */
  apiKey: KeyRecord;
  /** Why the last presented key was refused, for the 401's message. */
  authFailure: Exclude<Verdict, { ok: true }>['reason'];
}

type KeyEnv = HonoEnv & { Variables: KeyVariables };

/**
 * Requests the service makes to itself on a key's behalf (a job's chunks, an inbound hook's run): they go through
 * the same app as the key's own calls, with the key's scopes, cache partition and placement. Marked by object
 * identity, never by a header, so nothing from outside can claim to be one.
 */
const onBehalf = new WeakMap<Request, KeyRecord>();

export function onBehalfOf(request: Request, key: KeyRecord): Request {
  onBehalf.set(request, key);
  return request;
}

/** The key an internal request acts for (undefined for every request from outside). */
export function internalCaller(c: Context): KeyRecord | undefined {
  return onBehalf.get(c.req.raw);
}

/** The authenticated key; a route reached without `apiKeys` in front is a wiring bug, not the caller's fault. */
export function currentKey<E extends KeyEnv>(c: Context<E>): KeyRecord {
  const key = (c.var as Partial<KeyVariables>).apiKey;
  if (key === undefined) throw new Error('no API key on the context: apiKeys() must run before this route');
  return key;
}

/** 403 unless the key's scope includes the model (checked before any model work). */
export function assertCanCall<E extends KeyEnv>(c: Context<E>, modelId: string): void {
  assertKeyMayCall(currentKey(c), modelId);
}

/** The same check for a key outside a request's context (a job's owner, a hook's). */
export function assertKeyMayCall(key: KeyRecord, modelId: string): void {
  if (!scopeAllows(key.scopes, modelId)) {
    throw new ServiceError(403, 'forbidden', `This API key may not call '${modelId}'.`);
  }
}
