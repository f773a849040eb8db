/**
 * @module The HTTP layer both apps share: an OpenAPIHono factory whose validation failures answer
 * `422 invalid_input` naming the field, the one `onError` that turns every failure into `{ error: { code, message } }`
 * (unknown ones logged with their cause and the request id), the JSON 404, and the bits every route definition
 * reuses (error responses, the security requirement, the prediction headers).
 */
import { OpenAPIHono, z, type Hook, type RouteConfig } from '@hono/zod-openapi';
import type { Context, Env as HonoEnv, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { describeIssues, ServiceError, type ErrorCode, type ErrorStatus } from '../lib/errors.js';
import type { BaseVariables } from '../serving/contract.js';

/** Turns validation failures from `@hono/zod-openapi` into the API's 422 (JSON syntax errors stay 400). */
export function validationHook<E extends HonoEnv>(): Hook<unknown, E, string, undefined> {
  return (result) => {
    if (!result.success) {
      const where = result.target === 'json' ? [] : [result.target === 'param' ? 'path' : result.target];
      throw new ServiceError(422, 'invalid_input', describeIssues(result.error.issues, where));
    }
    return undefined;
  };
}

/** A router (or app) with the shared validation hook; route modules build theirs with it. */
export function createRouter<E extends HonoEnv>(): OpenAPIHono<E> {
  return new OpenAPIHono<E>({ defaultHook: validationHook<E>() });
}

const HTTP_EXCEPTION_CODES: Partial<Record<number, [ErrorCode, string]>> = {
  400: ['invalid_json', 'The request body is not valid JSON.'],
  401: ['unauthorized', 'Authentication is required.'],
  413: ['payload_too_large', 'The request body is too large.'],
  415: ['unsupported_media_type', "This route does not take the request's Content-Type; see /openapi.json."],
};

/**
 * Hono's own middleware (validators, body limit, media-type gate) throws HTTPException: give it our vocabulary.
 * `contentType` (the request's) makes the media-type gate's 415 say what was refused.
 */
export function toServiceError(err: unknown, contentType?: string): ServiceError {
  if (err instanceof ServiceError) return err;
  if (err instanceof HTTPException && err.status < 500) {
    const [code, fallback] = HTTP_EXCEPTION_CODES[err.status] ?? ['invalid_input', err.message || 'Bad request.'];
    const type = contentType?.split(';')[0]?.trim();
    const message =
      err.status === 415 && type !== undefined && type !== ''
        ? `This route does not take Content-Type ${type}; see /openapi.json for the types it takes.`
        : fallback;
    return new ServiceError(err.status as ErrorStatus, code, message, { cause: err });
  }
  return new ServiceError(500, 'internal', 'Something went wrong on our side; it has been logged.', { cause: err });
}

function describeCause(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const own = err.stack ?? err.message;
  return err.cause === undefined ? own : `${own}\ncaused by: ${describeCause(err.cause)}`;
}

/** The one error handler: a JSON answer always; a log line with the cause for everything that is our fault. */
export const errorHandler: ErrorHandler = (err, c) => {
  const e = toServiceError(err, c.req.header('content-type'));
  if (e.status >= 500) {
    console.error(
      JSON.stringify({
        msg: e.code === 'internal' ? 'unhandled error' : 'server error',
        request_id: (c as Context<{ Variables: Partial<BaseVariables> }>).get('requestId'),
        path: c.req.path,
        code: e.code,
        // A stack only for our own bugs: an expected 503 (a model still building, the origin down) is one line.
        err:
          e.code === 'internal'
            ? describeCause(e.cause)
            : e.cause instanceof Error
              ? `${e.message} (${e.cause.message})`
              : e.message,
      }),
    );
  }
  return c.json(e.body(), e.status, e.headers);
};

export const notFoundHandler: NotFoundHandler = (c) =>
  c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` } }, 404);

/** The shared `{ error: { code, message } }` schema, a named component of the document. */
export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_input', description: 'Stable, snake_case; switch on this.' }),
      message: z.string().openapi({
        example: 'inputs[1]: must be a string.',
        description: 'A sentence for people; names the field when the input is at fault.',
      }),
    }),
  })
  .openapi('Error');

const RETRY_AFTER = z.string().openapi({ description: 'Seconds to wait before retrying.', example: '30' });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: '`invalid_json`: the body is not JSON.',
  401: '`unauthorized`: no API key, a malformed one, or an unknown or revoked key.',
  403: "`forbidden`: the key's scope does not include this model (or this admin route).",
  404: '`model_not_found` or `not_found`.',
  409: '`conflict`: the resource is not in a state that allows this (a finished job, no webhook event yet).',
  413: '`payload_too_large`: the body or the input is over a limit.',
  415: '`unsupported_media_type`: a Content-Type this route or model does not take.',
  422: '`invalid_input`: the message names the field at fault.',
  429: "`rate_limited`: over the key's (or the IP's) rate limit, or the origin's queue is full.",
  503: '`model_unavailable` or `origin_unavailable`.',
};

type ErrorResponse = {
  description: string;
  content: { 'application/json': { schema: typeof ErrorSchema } };
  headers?: z.ZodObject;
};

/** Response entries for the error statuses a route can answer. */
export function errorResponses<const S extends readonly (keyof typeof ERROR_DESCRIPTIONS)[]>(
  ...statuses: S
): Record<S[number], ErrorResponse> {
  const out: Partial<Record<number, ErrorResponse>> = {};
  for (const status of statuses) {
    const entry: ErrorResponse = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error.',
      content: { 'application/json': { schema: ErrorSchema } },
    };
    if (status === 401) entry.headers = z.object({ 'WWW-Authenticate': z.string().openapi({ example: 'Bearer' }) });
    if (status === 429 || status === 503) entry.headers = z.object({ 'Retry-After': RETRY_AFTER });
    out[status] = entry;
  }
  return out as Record<S[number], ErrorResponse>;
}

/** The security scheme's name in the document; routes that need a key list it. */
export const API_KEY_SCHEME = 'apiKey';
export const KEY_SECURITY = [{ [API_KEY_SCHEME]: [] }];

/** Headers on every answer that passed the key's rate limit. */
export const RateLimitHeaders = {
  'RateLimit-Limit': z
    .string()
    .openapi({ description: "Requests allowed per window for this key's tier.", example: '600' }),
  'RateLimit-Policy': z.string().openapi({ description: 'The limit and its window in seconds.', example: '600;w=60' }),
};

/** Headers on every prediction (task API, KServe infer, embeddings). */
export const PredictionHeaders = z.object({
  'X-Request-Id': z.string().openapi({ description: 'Echoed when the request sent one; else made up.' }),
  'X-Cache': z.enum(['HIT', 'MISS', 'BYPASS']).openapi({
    description: 'Result cache outcome; `Cache-Control: no-store` on the request gives BYPASS both ways.',
  }),
  'X-Placement': z.enum(['edge', 'origin', 'edge-fallback']).openapi({ description: 'Where the answer was computed.' }),
  'X-Placement-Reason': z
    .string()
    .openapi({ description: 'Why it was computed there.', example: 'within the edge limits' }),
  'X-Model': z
    .string()
    .openapi({ description: 'The model version that answered: `id@version`.', example: 'sentiment-en@2.1.0' }),
  'Server-Timing': z.string().openapi({
    description: 'Milliseconds per stage: cache, fetch, preprocess, inference, postprocess, origin.',
    example: 'cache;dur=0.41, inference;dur=0.02',
  }),
  ...RateLimitHeaders,
});

/** The `X-Placement` and `Cache-Control` request headers predictions honour. */
export const PredictionRequestHeaders = z.object({
  'x-placement': z
    .string()
    .optional()
    .openapi({ description: 'A hint, `edge` or `origin`; the policy may refuse it (see `X-Placement-Reason`).' }),
  'cache-control': z
    .string()
    .optional()
    .openapi({ description: '`no-store` bypasses the result cache both ways.', example: 'no-store' }),
});

/** Refuses bodies over the deployment's limit before reading them whole (Content-Length, or a streamed count). */
export function limitBody<E extends HonoEnv>(max: (c: Context<E>) => number): MiddlewareHandler<E> {
  // One hono bodyLimit per distinct limit (in practice one), not one per request.
  const bySize = new Map<number, MiddlewareHandler>();
  return async (c, next) => {
    const maxSize = max(c);
    let limit = bySize.get(maxSize);
    if (limit === undefined) {
      limit = bodyLimit({
        maxSize,
        onError: () => {
          throw new ServiceError(413, 'payload_too_large', `The request body is over the limit of ${maxSize} bytes.`);
        },
      });
      bySize.set(maxSize, limit);
    }
    return limit(c, next);
  };
}

/**
 * Mounting with documentation-only extras: `doc` (the route plus what only the document needs — optional request
 * headers or query parameters, a body marked required where the validator must not run on every media type) goes
 * into the document,
 * and the returned route, hidden from it, is the one to mount. Typed clients then see the route's real inputs.
 */
export function documented<R extends RouteConfig>(
  router: Pick<OpenAPIHono, 'openAPIRegistry'>,
  route: R,
  extras: { headers?: z.ZodObject; query?: z.ZodObject; bodyRequired?: boolean },
): R & { hide: true } {
  const request = route.request ?? {};
  const body =
    request.body === undefined || extras.bodyRequired === undefined
      ? request.body
      : { ...request.body, required: extras.bodyRequired };
  router.openAPIRegistry.registerPath({
    ...route,
    request: {
      ...request,
      ...(extras.headers === undefined ? {} : { headers: extras.headers }),
      ...(extras.query === undefined ? {} : { query: extras.query }),
      ...(body === undefined ? {} : { body }),
    },
  });
  return { ...route, hide: true };
}

/** The responses of a prediction route: the answer with the prediction headers, and every error it can answer. */
export function predictionResponses<S extends z.ZodType>(schema: S, description: string) {
  return {
    200: { description, headers: PredictionHeaders, content: { 'application/json': { schema } } },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 503),
  };
}
