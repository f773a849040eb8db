/**
 * @module Inbound webhooks. An admin configures a hook (`PUT /v1/hooks/{hook}`: model, JSON pointer to the input,
 * verification scheme and secret, optional forward URL); other services then `POST /v1/hooks/{hook}` signed events,
 * with no API key. Each event is verified against the raw body as received — Standard Webhooks (timestamp tolerance,
 * replayed `webhook-id` refused) or GitHub's `X-Hub-Signature-256` (replayed `X-GitHub-Delivery` refused) — and the
 * model runs on the owner's behalf: inline for a model the edge serves, as a job when it is an origin model or the
 * answer is to be forwarded (signed, as the job's `completed` webhook).
 */
import { createRoute, z } from '@hono/zod-openapi';
import jsonpointer from 'jsonpointer';
import type { Context } from 'hono';
import { predictRequest, type AppFetch } from '../jobs/consumer.js';
import { ServiceError, type ErrorCode, type ErrorStatus } from '../lib/errors.js';
import { assertKeyMayCall, currentKey, onBehalfOf } from '../auth/caller.js';
import { requireAdmin } from '../middleware/api-keys.js';
import { parseModelRef } from '../storage/registry.js';
import { rpc } from '../lib/rpc.js';
import type { HookConfig, HookObject } from '../webhooks/hook-object.js';
import { generateWebhookSecret, verifyHubSignature, verifyStandardWebhook } from '../webhooks/signing.js';
import { checkConfiguredUrl } from '../webhooks/ssrf.js';
import { createRouter, ErrorSchema, errorResponses, KEY_SECURITY } from './router.js';
import { JobSchema, submitJob } from './jobs.js';
import { services, type AppEnv } from '../serving/services.js';

const tags = ['Inbound hooks'];

/** Standard Webhooks' timestamp tolerance is 5 minutes either way; ids are remembered a little longer than that. */
const REPLAY_WINDOW_MS = 11 * 60_000;

const HookParams = z.object({
  hook: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, up to 63')
    .openapi({ param: { name: 'hook', in: 'path' }, example: 'support-tickets' }),
});

const HookRequestSchema = z
  .object({
    model: z.string().min(1).openapi({ example: 'sentiment-en' }),
    input_pointer: z
      .string()
      .regex(/^(\/([^~]|~[01])*)*$/, 'an RFC 6901 JSON pointer, like /data/text')
      .openapi({ description: 'Where the model input is inside the event (RFC 6901).', example: '/data/text' }),
    parameters: z.record(z.string(), z.unknown()).default({}),
    verify: z.object({
      scheme: z.enum(['standard-webhooks', 'github']),
      secret: z.string().min(16).max(256).optional().openapi({
        description: 'The shared secret (`whsec_…` for Standard Webhooks); made up and shown once if omitted.',
      }),
    }),
    forward_url: z
      .string()
      .max(2048)
      .optional()
      .openapi({ description: "Where to send the model's answer (signed with this key's webhook secret)." }),
  })
  .strict()
  .openapi('HookRequest');

const HookSchema = z
  .object({
    name: z.string(),
    model: z.string(),
    input_pointer: z.string(),
    parameters: z.record(z.string(), z.unknown()),
    verify: z.object({
      scheme: z.enum(['standard-webhooks', 'github']),
      secret: z.string().optional().openapi({ description: 'Only in the answer that made it up.' }),
    }),
    forward_url: z.string().optional(),
    created_at: z.string(),
    updated_at: z.string(),
    url: z.string().openapi({ description: 'Where senders POST their events.' }),
  })
  .openapi('Hook');

export const putHookRoute = createRoute({
  method: 'put',
  path: '/v1/hooks/{hook}',
  operationId: 'putHook',
  tags,
  summary: 'Configure an inbound hook (admin)',
  security: KEY_SECURITY,
  request: {
    params: HookParams,
    body: { required: true, content: { 'application/json': { schema: HookRequestSchema } } },
  },
  responses: {
    200: { description: 'The hook.', content: { 'application/json': { schema: HookSchema } } },
    ...errorResponses(400, 401, 403, 404, 415, 422, 429),
  },
});

export const getHookRoute = createRoute({
  method: 'get',
  path: '/v1/hooks/{hook}',
  operationId: 'getHook',
  tags,
  summary: 'An inbound hook (admin)',
  security: KEY_SECURITY,
  request: { params: HookParams },
  responses: {
    200: { description: 'The hook (no secret).', content: { 'application/json': { schema: HookSchema } } },
    ...errorResponses(401, 403, 404, 429),
  },
});

export const deleteHookRoute = createRoute({
  method: 'delete',
  path: '/v1/hooks/{hook}',
  operationId: 'deleteHook',
  tags,
  summary: 'Delete an inbound hook (admin)',
  security: KEY_SECURITY,
  request: { params: HookParams },
  responses: {
    204: { description: 'Deleted.' },
    ...errorResponses(401, 403, 404, 429),
  },
});

export const receiveHookRoute = createRoute({
  method: 'post',
  path: '/v1/hooks/{hook}',
  operationId: 'receiveHook',
  tags,
  summary: 'Deliver a signed event to a hook (no API key)',
  description:
    'Signed per the hook: Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) or ' +
    "`X-Hub-Signature-256`. Answers the model's output (200) for a model the edge serves, or 202 with a job.",
  request: { params: HookParams },
  responses: {
    200: {
      description: "The model's answer, as `POST /v1/models/{model}/predict` gives it.",
      content: { 'application/json': { schema: z.unknown() } },
    },
    202: {
      description: 'Running as a job (an origin model, or a forwarded answer).',
      content: { 'application/json': { schema: JobSchema } },
    },
    ...errorResponses(400, 401, 404, 413, 422, 429, 503),
  },
});

/** The prediction's headers an inline hook answer carries. */
const PASSED_HEADERS = ['X-Cache', 'X-Placement', 'X-Placement-Reason', 'X-Model', 'Server-Timing'];

const hookStub = (c: Context<AppEnv>, name: string) => rpc<HookObject>(c.env.HOOK.get(c.env.HOOK.idFromName(name)));
const hookNotFound = (name: string): ServiceError => new ServiceError(404, 'not_found', `No hook named '${name}'.`);
const refused = (reason: string): ServiceError =>
  new ServiceError(401, 'unauthorized', reason, { headers: { 'WWW-Authenticate': 'Signature' } });

function shown(c: Context<AppEnv>, h: HookConfig, withSecret: boolean): z.infer<typeof HookSchema> {
  return {
    name: h.name,
    model: h.model,
    input_pointer: h.input_pointer,
    parameters: h.parameters,
    verify: withSecret ? h.verify : { scheme: h.verify.scheme },
    ...(h.forward_url === undefined ? {} : { forward_url: h.forward_url }),
    created_at: h.created_at,
    updated_at: h.updated_at,
    url: `${new URL(c.req.url).origin}/v1/hooks/${h.name}`,
  };
}

/** Verifies one event against the raw body; returns the id replays are refused by (when the scheme has one). */
async function verifyEvent(
  hook: HookConfig,
  raw: Uint8Array,
  text: string,
  headers: Headers,
): Promise<string | undefined> {
  if (hook.verify.scheme === 'standard-webhooks') {
    const verdict = verifyStandardWebhook(hook.verify.secret, text, headers);
    if (!verdict.ok) throw refused(verdict.reason);
    return headers.get('webhook-id') ?? undefined;
  }
  const verdict = await verifyHubSignature(hook.verify.secret, raw, headers.get('x-hub-signature-256') ?? undefined);
  if (!verdict.ok) throw refused(verdict.reason);
  return headers.get('x-github-delivery') ?? undefined;
}

/**
 * The hooks routes; `fetchApp` runs an inline prediction through the app itself, on the owner's behalf: the same
 * chain as a job's chunk, for the reason given at `AppFetch` in src/jobs/consumer.ts.
 */
export function hooksRoutes(fetchApp: AppFetch) {
  const router = createRouter<AppEnv>();
  const admin = requireAdmin<AppEnv>();

  router.openapi({ ...putHookRoute, middleware: [admin] }, async (c) => {
    const { hook: name } = c.req.valid('param');
    const body = c.req.valid('json');
    const key = currentKey(c);
    const ref = parseModelRef(body.model);
    assertKeyMayCall(key, ref.id);
    const manifest = await services(c).registry.resolve(ref);
    if (body.forward_url !== undefined) {
      const verdict = await checkConfiguredUrl(body.forward_url, services(c).config.webhooks);
      if (!verdict.ok) throw new ServiceError(422, 'invalid_input', verdict.reason.replace(/^webhook/, 'forward_url'));
    }
    const secret =
      body.verify.secret ??
      (body.verify.scheme === 'standard-webhooks' ? generateWebhookSecret() : crypto.randomUUID().replaceAll('-', ''));
    if (body.verify.scheme === 'standard-webhooks' && !/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(secret)) {
      throw new ServiceError(
        422,
        'invalid_input',
        'verify.secret: Standard Webhooks secrets look like whsec_ and base64.',
      );
    }
    const config = await hookStub(c, name).configure({
      name,
      // Pinned to the id the admin named; `latest` moves with new versions unless they pinned one.
      model: ref.version === undefined ? manifest.id : `${manifest.id}@${manifest.version}`,
      input_pointer: body.input_pointer,
      parameters: body.parameters,
      verify: { scheme: body.verify.scheme, secret },
      ...(body.forward_url === undefined ? {} : { forward_url: body.forward_url }),
      owner_key_id: key.id,
    });
    return c.json(shown(c, config, body.verify.secret === undefined), 200);
  });

  router.openapi({ ...getHookRoute, middleware: [admin] }, async (c) => {
    const { hook: name } = c.req.valid('param');
    const config = await hookStub(c, name).config();
    if (config === null) throw hookNotFound(name);
    return c.json(shown(c, config, false), 200);
  });

  router.openapi({ ...deleteHookRoute, middleware: [admin] }, async (c) => {
    const { hook: name } = c.req.valid('param');
    if (!(await hookStub(c, name).remove())) throw hookNotFound(name);
    return c.body(null, 204);
  });

  router.openapi(receiveHookRoute, async (c) => {
    const { hook: name } = c.req.valid('param');
    const stub = hookStub(c, name);
    const hook = await stub.config();
    if (hook === null) throw hookNotFound(name);
    // The signature covers these bytes exactly as sent: never a parsed and re-serialised body.
    const raw = new Uint8Array(await c.req.arrayBuffer());
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw);
    } catch {
      throw refused('The body is not UTF-8, so it cannot carry a valid signature.');
    }
    const messageId = await verifyEvent(hook, raw, text, c.req.raw.headers);
    if (messageId !== undefined && !(await stub.firstSighting(messageId, REPLAY_WINDOW_MS))) {
      throw refused(`Message '${messageId}' was already received (a replay).`);
    }
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      throw new ServiceError(400, 'invalid_json', 'The event body is not valid JSON.');
    }
    const inputs: unknown =
      event !== null && typeof event === 'object' ? jsonpointer.get(event, hook.input_pointer) : undefined;
    if (inputs === undefined) {
      throw new ServiceError(422, 'invalid_input', `The event has nothing at ${hook.input_pointer || '(the root)'}.`);
    }
    const { keys, registry } = services(c);
    const owner = await keys.get(hook.owner_key_id);
    if (owner === undefined || owner.revoked_at !== undefined) {
      throw new ServiceError(
        503,
        'model_unavailable',
        `Hook '${name}' belongs to a revoked API key; an admin must configure it again.`,
      );
    }
    const manifest = await registry.resolve(parseModelRef(hook.model));
    const origin = new URL(c.req.url).origin;
    if (hook.forward_url !== undefined || manifest.placement === 'origin') {
      const { job } = await submitJob(
        c.env,
        owner,
        {
          model: hook.model,
          inputs,
          parameters: hook.parameters,
          ...(hook.forward_url === undefined ? {} : { webhook: hook.forward_url }),
        },
        // A message the sender retries under the same id is the same job.
        { idempotencyKey: messageId === undefined ? undefined : `hook:${name}:${messageId}`, baseUrl: origin },
      );
      return c.json(job as z.infer<typeof JobSchema>, 202);
    }
    const request = predictRequest(origin, hook.model, inputs, hook.parameters);
    const res = await fetchApp(onBehalfOf(request, owner), c.env, c.executionCtx);
    const answer: unknown = await res.json();
    // The prediction's own refusal (an input the model cannot take, a limit) is the sender's answer too.
    if (!res.ok) {
      const refusal = ErrorSchema.safeParse(answer);
      // The app answers every failure in this shape; anything else is our bug, a logged 500.
      if (!refusal.success) throw new Error(`the prediction answered HTTP ${res.status} without an error body`);
      const { code, message } = refusal.data.error;
      // The app's own answer: its codes are ErrorCode's.
      throw new ServiceError(res.status as ErrorStatus, code as ErrorCode, message);
    }
    for (const name of PASSED_HEADERS) {
      const value = res.headers.get(name);
      if (value !== null) c.header(name, value);
    }
    return c.json(answer, 200);
  });

  return router;
}
