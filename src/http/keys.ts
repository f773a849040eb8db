/**
 * @module API key management for admin keys: `POST /v1/keys` (the secret is in that answer and nowhere else, ever),
 * `GET /v1/keys`, `GET /v1/keys/{id}`, `DELETE /v1/keys/{id}` (revokes; the record stays, marked).
 */
import { createRoute, z } from '@hono/zod-openapi';
import { ServiceError } from '../lib/errors.js';
import { requireAdmin } from '../middleware/api-keys.js';
import { createRouter, errorResponses, KEY_SECURITY, RateLimitHeaders } from './router.js';
import { services, type AppEnv } from '../serving/services.js';

const tags = ['API keys'];

export const KeyRecordSchema = z
  .object({
    id: z.string().openapi({ example: 'key_3kT9x2Qw7LmA' }),
    name: z.string(),
    hint: z
      .string()
      .openapi({ description: "The secret's first characters, to tell keys apart.", example: 'ei_live_Zm9v' }),
    scopes: z.object({
      models: z.array(z.string()).openapi({ description: 'Model ids or globs (`*`).', example: ['sentiment-*'] }),
      admin: z.boolean(),
    }),
    tier: z.string().openapi({ description: 'Rate-limit tier.', example: 'default' }),
    created_at: z.string(),
    revoked_at: z.string().optional(),
  })
  .openapi('ApiKey');

const CreateKeySchema = z
  .object({
    name: z.string().min(1).max(100).openapi({ example: 'checkout-service' }),
    models: z
      .array(z.string().regex(/^[a-z0-9*-]{1,64}$/, 'model ids and globs are lowercase letters, digits, dashes and *'))
      .min(1)
      .default(['*'])
      .openapi({ description: 'Models the key may call (ids or `*` globs); all by default.' }),
    admin: z.boolean().default(false).openapi({ description: 'May manage keys.' }),
    tier: z.string().default('default').openapi({ description: 'A rate-limit tier (`RATE_LIMIT_TIERS`).' }),
  })
  .strict()
  .openapi('CreateKeyRequest');

const IdParams = z.object({
  id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'key_3kT9x2Qw7LmA' }),
});
const headers = z.object(RateLimitHeaders);
const adminErrors = errorResponses(401, 403, 429);

export const createKeyRoute = createRoute({
  method: 'post',
  path: '/v1/keys',
  operationId: 'createKey',
  tags,
  summary: 'Create an API key (admin)',
  description: 'The answer holds the secret, once: only its SHA-256 is stored.',
  security: KEY_SECURITY,
  request: { body: { required: true, content: { 'application/json': { schema: CreateKeySchema } } } },
  responses: {
    201: {
      description: 'The new key, with its secret.',
      headers,
      content: {
        'application/json': {
          schema: KeyRecordSchema.extend({
            key: z.string().openapi({ description: 'The secret. Shown only here.', example: 'ei_live_…' }),
          }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 415, 422, 429),
  },
});

export const listKeysRoute = createRoute({
  method: 'get',
  path: '/v1/keys',
  operationId: 'listKeys',
  tags,
  summary: 'List API keys (admin)',
  security: KEY_SECURITY,
  responses: {
    200: {
      description: 'Every key, newest first (no secrets).',
      headers,
      content: {
        'application/json': { schema: z.object({ object: z.literal('list'), data: z.array(KeyRecordSchema) }) },
      },
    },
    ...adminErrors,
  },
});

export const getKeyRoute = createRoute({
  method: 'get',
  path: '/v1/keys/{id}',
  operationId: 'getKey',
  tags,
  summary: 'One API key (admin)',
  security: KEY_SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: 'The key (no secret).', headers, content: { 'application/json': { schema: KeyRecordSchema } } },
    ...errorResponses(401, 403, 404, 429),
  },
});

export const revokeKeyRoute = createRoute({
  method: 'delete',
  path: '/v1/keys/{id}',
  operationId: 'revokeKey',
  tags,
  summary: 'Revoke an API key (admin)',
  description:
    'Takes effect at once in the isolate that served this call, and everywhere within AUTH_CACHE_TTL_SECONDS ' +
    "(30 s) plus KV's propagation (up to 60 s).",
  security: KEY_SECURITY,
  request: { params: IdParams },
  responses: {
    200: { description: 'The revoked key.', headers, content: { 'application/json': { schema: KeyRecordSchema } } },
    ...errorResponses(401, 403, 404, 429),
  },
});

const keyNotFound = (id: string): ServiceError => new ServiceError(404, 'not_found', `No API key with id '${id}'.`);

export function keysRoutes() {
  const router = createRouter<AppEnv>();
  router.use('/v1/keys', requireAdmin());
  router.use('/v1/keys/*', requireAdmin());
  return router
    .openapi(createKeyRoute, async (c) => {
      const { keys, config } = services(c);
      const body = c.req.valid('json');
      if (config.rateLimitTiers[body.tier] === undefined || body.tier === 'ip') {
        const tiers = Object.keys(config.rateLimitTiers).filter((t) => t !== 'ip');
        throw new ServiceError(422, 'invalid_input', `tier: unknown tier '${body.tier}' (tiers: ${tiers.join(', ')}).`);
      }
      const { secret, record } = await keys.create({
        name: body.name,
        scopes: { models: body.models, admin: body.admin },
        tier: body.tier,
      });
      return c.json({ ...record, key: secret }, 201);
    })
    .openapi(listKeysRoute, async (c) => c.json({ object: 'list' as const, data: await services(c).keys.list() }, 200))
    .openapi(getKeyRoute, async (c) => {
      const { id } = c.req.valid('param');
      const record = await services(c).keys.get(id);
      if (record === undefined) throw keyNotFound(id);
      return c.json(record, 200);
    })
    .openapi(revokeKeyRoute, async (c) => {
      const { id } = c.req.valid('param');
      const record = await services(c).keys.revoke(id);
      if (record === undefined) throw keyNotFound(id);
      return c.json(record, 200);
    });
}
