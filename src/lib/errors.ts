/** @module The API's error vocabulary: one class, one JSON shape `{ error: { code, message } }`. */

export type ErrorCode =
  | 'invalid_json'
  | 'invalid_input'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'model_not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'model_unavailable'
  | 'origin_unavailable'
  | 'internal';

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 413 | 415 | 422 | 429 | 500 | 502 | 503 | 504;

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** An error meant for the client: its message is safe to show (never a stack or an internal detail). */
export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export const invalidInput = (message: string): ApiError => new ApiError(422, 'invalid_input', message);
export const modelNotFound = (ref: string): ApiError =>
  new ApiError(404, 'model_not_found', `No model named '${ref}'.`);
export const modelUnavailable = (message: string): ApiError =>
  new ApiError(503, 'model_unavailable', message, { 'Retry-After': '30' });

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
