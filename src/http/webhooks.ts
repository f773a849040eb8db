/**
 * @module A key's webhook signing secret: `GET /v1/webhooks/secret` shows it to that key (made on first use), and
 * `POST /v1/webhooks/secret/rotate` replaces it while the old one keeps signing beside it for
 * `WEBHOOK_SECRET_GRACE_SECONDS`, so receivers can switch without missing a delivery.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { secretsStub } from '../jobs/consumer.js';
import { currentKey } from '../auth/caller.js';
import type { SigningSecrets } from '../webhooks/secrets-object.js';
import { createRouter, errorResponses, KEY_SECURITY, RateLimitHeaders } from './router.js';
import { services, type AppEnv } from '../serving/services.js';

const tags = ['Webhooks'];

const SecretSchema = z
  .object({
    secret: z.string().openapi({
      description: 'Verify `webhook-signature` with it (any Standard Webhooks library).',
      example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    }),
    created_at: z.string(),
    previous_expires_at: z
      .string()
      .optional()
      .openapi({ description: 'After a rotation: until then, deliveries are signed with the old secret too.' }),
  })
  .openapi('WebhookSecret');

const answer = {
  description: "This key's signing secret.",
  headers: z.object(RateLimitHeaders),
  content: { 'application/json': { schema: SecretSchema } },
};

export const getSecretRoute = createRoute({
  method: 'get',
  path: '/v1/webhooks/secret',
  operationId: 'getWebhookSecret',
  tags,
  summary: "This key's webhook signing secret",
  security: KEY_SECURITY,
  responses: { 200: answer, ...errorResponses(401, 429) },
});

export const rotateSecretRoute = createRoute({
  method: 'post',
  path: '/v1/webhooks/secret/rotate',
  operationId: 'rotateWebhookSecret',
  tags,
  summary: 'Rotate the signing secret',
  description: 'The old secret keeps signing beside the new one for WEBHOOK_SECRET_GRACE_SECONDS (a day by default).',
  security: KEY_SECURITY,
  responses: { 200: answer, ...errorResponses(401, 429) },
});

const shown = (s: SigningSecrets): z.infer<typeof SecretSchema> => ({
  secret: s.secret,
  created_at: s.created_at,
  ...(s.previous === undefined ? {} : { previous_expires_at: s.previous.expires_at }),
});

export function webhooksRoutes() {
  return createRouter<AppEnv>()
    .openapi(getSecretRoute, async (c) => c.json(shown(await secretsStub(c.env, currentKey(c).id).current()), 200))
    .openapi(rotateSecretRoute, async (c) => {
      const grace = services(c).config.webhooks.secretGraceMs;
      return c.json(shown(await secretsStub(c.env, currentKey(c).id).rotate(grace)), 200);
    });
}
