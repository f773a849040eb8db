/**
 * @module The CLI's failures: `CliError` carries the one line to print and the exit code (1: the API or the network
 * said no, 2: the command line is wrong), so an expected failure never shows a stack trace.
 */

/** Exit codes: 1 for API and network errors (and failed local work), 2 for usage errors (as commander's). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A wrong command line found after commander's own checks (a missing input, a malformed `--param`). */
export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE);

/** The API's `{ error: { code, message } }`, or undefined for any other body (a proxy's HTML page, say). */
export function apiErrorBody(body: unknown): { code: string; message: string } | undefined {
  if (typeof body !== 'object' || body === null || !('error' in body)) return undefined;
  const e = body.error;
  if (typeof e !== 'object' || e === null || !('code' in e) || !('message' in e)) return undefined;
  return typeof e.code === 'string' && typeof e.message === 'string' ? { code: e.code, message: e.message } : undefined;
}

/** Turns a failed answer into one line: the API's message, its code and the HTTP status. */
export async function apiError(res: {
  status: number;
  statusText: string;
  text(): Promise<string>;
}): Promise<CliError> {
  const text = await res.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const e = apiErrorBody(body);
  if (e !== undefined) return new CliError(`${e.message} (${e.code}, HTTP ${res.status})`);
  const status = `HTTP ${res.status}${res.statusText === '' ? '' : ` ${res.statusText}`}`;
  return new CliError(`${status}: ${text.slice(0, 200).trim() || 'no body'}`);
}

/** The system error code under a failed fetch (undici wraps it: TypeError('fetch failed', { cause })). */
function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if ('code' in e && typeof e.code === 'string') return e.code;
    // Happy-eyeballs failures carry every attempt's error in an AggregateError.
    if (e instanceof AggregateError) {
      const inner: unknown = e.errors[0];
      if (inner instanceof Error && 'code' in inner && typeof inner.code === 'string') return inner.code;
    }
  }
  return undefined;
}

/** One line for a request that got no answer at all. */
export function networkError(baseUrl: string, err: unknown): CliError {
  const code = networkCode(err);
  if (code === 'ECONNREFUSED') return new CliError(`cannot reach ${baseUrl}: is \`npm start\` running?`);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  const why = cause ?? (err instanceof Error ? err.message : String(err));
  return new CliError(`cannot reach ${baseUrl}: ${code === undefined ? why : `${code} (${why})`}`);
}
