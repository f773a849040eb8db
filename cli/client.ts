/**
 * @module Where the CLI talks to and as whom: the base URL (`--base-url`, `EDGE_INFER_BASE_URL`, else the local
 * `npm start` stack), the key (`--key`, `EDGE_INFER_KEY`, else, for a loopback URL only, the dev key `npm start`
 * wrote to `.dev.vars`), the typed Hono client over the edge app's routes, and the one place that turns a failed
 * call into a `CliError`.
 */
import { hc } from 'hono/client';
import { DEV_KEY_VAR, DEV_VARS, readDevVars } from '../scripts/dev-key.js';
import type { AppType } from '../src/app.js';
import { apiError, networkError, usageError } from './errors.js';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:8787';

/** The options every command takes (commander's `optsWithGlobals()`). */
export interface GlobalOptions {
  baseUrl?: string | undefined;
  key?: string | undefined;
  json?: boolean | undefined;
}

export interface Target {
  baseUrl: string;
  key: string | undefined;
  /** Where the key came from, for the hint on a 401. */
  keySource: 'flag' | 'env' | 'dev-vars' | 'none';
}

type Env = Readonly<Record<string, string | undefined>>;

/** Loopback only: the dev key must never be sent to a remote host someone typed by mistake. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

export function resolveTarget(options: GlobalOptions, env: Env = process.env): Target {
  const raw = options.baseUrl ?? (env['EDGE_INFER_BASE_URL'] || DEFAULT_BASE_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`--base-url ${raw}: not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--base-url ${raw}: not http(s)`);
  // hc joins paths onto the base; a trailing slash would double up.
  const baseUrl = url.href.replace(/\/+$/, '');
  if (options.key !== undefined) return { baseUrl, key: options.key, keySource: 'flag' };
  const fromEnv = env['EDGE_INFER_KEY'];
  if (fromEnv !== undefined && fromEnv !== '') return { baseUrl, key: fromEnv, keySource: 'env' };
  if (isLoopback(url)) {
    // The same override start.ts honours, so the CLI finds the key of a stack started with its own dev-vars file.
    const devKey = readDevVars(env['EDGE_INFER_DEV_VARS'] || DEV_VARS)[DEV_KEY_VAR];
    if (devKey !== undefined && devKey !== '') return { baseUrl, key: devKey, keySource: 'dev-vars' };
  }
  return { baseUrl, key: undefined, keySource: 'none' };
}

/** Headers every call sends: the key as a bearer token, when there is one. */
export function authHeaders(target: Target): Record<string, string> {
  return target.key === undefined ? {} : { authorization: `Bearer ${target.key}` };
}

export type ApiClient = ReturnType<typeof hc<AppType>>;

/** The typed client: paths, params, JSON bodies and success bodies all checked against the edge app's routes. */
export function apiClient(target: Target): ApiClient {
  return hc<AppType>(target.baseUrl, { headers: authHeaders(target) });
}

interface Answer {
  ok: boolean;
  status: number;
  statusText: string;
  text(): Promise<string>;
}

/** The success members of a typed client's response union; a plain `Response` (ok: boolean) stays as it is. */
export type Success<R> = R extends { ok: true } ? R : R extends { ok: false } ? never : R;

const succeeded = <R extends Answer>(r: R): r is Success<R> & R => r.ok;

/**
 * Runs one call: no answer becomes "cannot reach …", a non-2xx answer the API's message, code and status. What is
 * left is one of the route's success responses, so its `json()` is typed.
 */
export async function send<R extends Answer>(target: Target, call: () => Promise<R>): Promise<Success<R> & R> {
  let res: R;
  try {
    res = await call();
  } catch (err) {
    throw networkError(target.baseUrl, err);
  }
  if (succeeded(res)) return res;
  const err = await apiError(res);
  if (res.status === 401 && target.keySource === 'none')
    err.message += '; no API key: pass --key, set EDGE_INFER_KEY, or run `npm start` for a local dev key';
  throw err;
}
