/**
 * @module The API's error vocabulary: one error type, `ServiceError`, thrown by routes, middleware and task code
 * alike, and one JSON shape `{ error: { code, message } }` for every 4xx/5xx the service answers.
 */

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_input'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'model_not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'token_budget_exceeded'
  | 'model_unavailable'
  | 'origin_unavailable'
  | 'internal';

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export interface ServiceErrorOptions {
  /** What went wrong underneath; logged with the request id, never sent to the client. */
  cause?: unknown;
  /** Headers the answer carries (`Retry-After`, `WWW-Authenticate`). */
  headers?: Record<string, string>;
}

/**
 * An error meant for the client: its message is safe to show (never a stack or an internal detail).
 *
 * @example
 * throw new ServiceError(429, 'rate_limited', 'Over 600 requests a minute.', { headers: { 'Retry-After': '60' } });
 */
export class ServiceError extends Error {
  readonly headers: Record<string, string>;

  constructor(
    readonly status: ErrorStatus,
    readonly code: ErrorCode,
    message: string,
    options: ServiceErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ServiceError';
    this.headers = options.headers ?? {};
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }

  /** The answer as a standalone Response (for middleware that must hand one back rather than throw). */
  toResponse(): Response {
    return new Response(JSON.stringify(this.body()), {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
    });
  }
}

export const invalidInput = (message: string, cause?: unknown): ServiceError =>
  new ServiceError(422, 'invalid_input', message, { cause });
export const modelNotFound = (ref: string): ServiceError =>
  new ServiceError(404, 'model_not_found', `No model named '${ref}'.`);
export const modelUnavailable = (message: string, cause?: unknown): ServiceError =>
  new ServiceError(503, 'model_unavailable', message, { cause, headers: { 'Retry-After': '30' } });

/** Renders a zod issue path the way a client reads it: `inputs[2]`, `parameters.top_k`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? 'body' : out;
}

/** First zod issue as one sentence naming the field. */
export function describeIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  prefix: readonly PropertyKey[] = [],
): string {
  const first = issues[0];
  if (first === undefined) return 'Invalid input.';
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `${fieldPath([...prefix, ...first.path])}: ${first.message}${more}.`;
}
