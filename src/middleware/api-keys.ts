/**
 * @module API-key authentication as hono middleware: `Authorization: Bearer <key>` parsed by hono's `bearer-auth`,
 * the key checked against the `KeyStore` (isolate cache, then KV), the key's record put on the context for scopes,
 * rate limits and the request log. Every refusal is 401 `unauthorized` with `WWW-Authenticate: Bearer`.
 */
import type { Context, Env as HonoEnv, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { currentKey, internalCaller, type KeyVariables } from '../auth/caller.js';
import type { KeyStore } from '../auth/keys.js';
import { ServiceError } from '../lib/errors.js';

type KeyEnv = HonoEnv & { Variables: KeyVariables };

const REASONS: Record<KeyVariables['authFailure'], string> = {
  malformed: 'The API key is malformed; keys look like ei_live_ followed by 32 characters.',
  unknown: 'The API key is not known.',
  revoked: 'The API key has been revoked.',
};

const unauthorized = (message: string, challenge: string): never => {
  throw new ServiceError(401, 'unauthorized', message, { headers: { 'WWW-Authenticate': challenge } });
};

export interface ApiKeysOptions<E extends KeyEnv> {
  store: (c: Context<E>) => KeyStore;
}

/**
 * Requires a valid API key.
 *
 * @example
 * app.use('/v1/*', apiKeys({ store: (c) => services(c).keys }));
 */
export function apiKeys<E extends KeyEnv>(options: ApiKeysOptions<E>): MiddlewareHandler<E> {
  const bearer = bearerAuth<E>({
    verifyToken: async (token, c) => {
      const verdict = await options.store(c).verify(token);
      if (verdict.ok) c.set('apiKey', verdict.record);
      else c.set('authFailure', verdict.reason);
      return verdict.ok;
    },
    // bearer-auth answers 400 for a header that is not `Bearer <token>`; to callers that is a missing key too.
    noAuthenticationHeader: {
      message: () => unauthorized("Send an API key as 'Authorization: Bearer <key>'.", 'Bearer'),
    },
    invalidAuthenticationHeader: {
      message: () => unauthorized("The Authorization header must be 'Bearer <key>'.", 'Bearer error="invalid_request"'),
    },
    invalidToken: {
      message: (c: Context<E>) => unauthorized(REASONS[c.get('authFailure')], 'Bearer error="invalid_token"'),
    },
  });
  return async (c, next) => {
    const owner = internalCaller(c);
    if (owner !== undefined) {
      c.set('apiKey', owner);
      return next();
    }
    return bearer(c, next);
  };
}

/** Admits only keys with the `admin` scope. */
export function requireAdmin<E extends KeyEnv>(): MiddlewareHandler<E> {
  return async (c, next) => {
    if (!currentKey(c).scopes.admin) throw new ServiceError(403, 'forbidden', 'This route needs an admin API key.');
    await next();
  };
}
