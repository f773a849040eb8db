/**
 * @module The edge's client for the origin: plain `fetch` (runtime-neutral: workerd, Node, tests), the shared
 * secret, a per-call timeout and a circuit breaker. It answers the origin's JSON, passes the origin's client
 * errors (4xx) through unchanged, and turns "the origin cannot answer" into one error the router can fall back on.
 */
import { z } from 'zod';
import { ServiceError, type ErrorCode, type ErrorStatus } from '../lib/errors.js';
import { CircuitBreaker, type BreakerState } from './breaker.js';
import { intVar } from '../lib/config.js';

/** Something that answers requests: a service binding, or the global fetch bound to a base URL. */
export interface OriginFetcher {
  fetch(request: Request): Promise<Response>;
}

export interface OriginClientOptions extends OriginConfig {
  /** A Service Binding replaces the network fetch when the origin is reachable that way. */
  binding?: OriginFetcher;
  /** The breaker's clock (default `Date.now`): tests and the benchmark drive it without sleeping. */
  now?: () => number;
}

/** The origin cannot answer now (down, slow, overloaded, breaker open). `retryAfterS` is for the 503. */
export class OriginUnavailableError extends Error {
  constructor(
    readonly why:
      'breaker_open' | 'timeout' | 'network' | 'server_error' | 'overloaded' | 'misconfigured' | 'not_configured',
    message: string,
    readonly retryAfterS: number,
    /** What the origin itself said, when it refused for the caller's sake (a full token budget's 429). */
    readonly details: { refusal?: ServiceError | undefined } = {},
  ) {
    super(message);
    this.name = 'OriginUnavailableError';
  }

  toServiceError(): ServiceError {
    if (this.details.refusal !== undefined) return this.details.refusal;
    return new ServiceError(
      503,
      'origin_unavailable',
      `The origin is unavailable (${this.message}); try again later.`,
      {
        cause: this,
        headers: { 'Retry-After': String(this.retryAfterS) },
      },
    );
  }
}

export interface OriginAnswer {
  body: unknown;
  /** The origin's own `Server-Timing`, passed on for the edge's answer. */
  serverTiming: string | null;
  ms: number;
}

const RETRY_AFTER_DEFAULT_S = 5;

function retryAfter(res: Response, fallback: number): number {
  const header = res.headers.get('retry-after');
  // Number(null) is 0: an answer without the header must keep the fallback, not say "retry at once".
  if (header === null || header.trim() === '') return fallback;
  const v = Number(header);
  return Number.isFinite(v) && v >= 0 ? Math.ceil(v) : fallback;
}

/** The origin's JSON error shape (the edge's own, `ServiceError.body()`), as far as the edge reads it. */
const OriginErrorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

async function errorBody(res: Response): Promise<{ code: string; message: string } | undefined> {
  try {
    const parsed = OriginErrorBodySchema.safeParse(await res.json());
    // Another shape (a proxy's error page as JSON) is no error body: the status alone decides.
    if (parsed.success) return parsed.data.error;
  } catch {
    // not JSON
  }
  return undefined;
}

const PASSED_THROUGH: ReadonlySet<number> = new Set([400, 413, 415, 422]);

export class OriginClient {
  private readonly breaker: CircuitBreaker;

  constructor(private readonly options: OriginClientOptions) {
    this.breaker = new CircuitBreaker({
      failureThreshold: options.failureThreshold,
      cooldownMs: options.cooldownMs,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  get breakerState(): BreakerState {
    return this.breaker.state;
  }

  /** POSTs JSON or raw bytes to the origin and answers its JSON, or throws ServiceError / OriginUnavailableError. */
  async post(path: string, body: BodyInit, contentType: string): Promise<OriginAnswer> {
    const started = performance.now();
    const res = await this.send('POST', path, { body, contentType }, AbortSignal.timeout(this.options.timeoutMs));
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch {
      this.breaker.failure();
      throw new OriginUnavailableError('server_error', 'it answered something that is not JSON', RETRY_AFTER_DEFAULT_S);
    }
    this.breaker.success();
    return { body: parsed, serverTiming: res.headers.get('server-timing'), ms: performance.now() - started };
  }

  /**
   * POSTs and answers the origin's 2xx response with its body unread (a token stream), or throws as `post` does.
   * The timeout covers the answer's head only; `signal` (the caller's) ends the stream whenever the caller goes.
   */
  async stream(
    path: string,
    body: BodyInit,
    contentType: string,
    signal: AbortSignal,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const head = AbortSignal.timeout(this.options.timeoutMs);
    const controller = new AbortController();
    const abort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', abort, { once: true });
    const timer = (): void => controller.abort(head.reason);
    head.addEventListener('abort', timer, { once: true });
    try {
      const res = await this.send('POST', path, { body, contentType, headers }, controller.signal);
      this.breaker.success();
      return res;
    } finally {
      head.removeEventListener('abort', timer);
    }
  }

  /** A bodiless DELETE (a cancel passed on): whether the origin answered 2xx. */
  async delete(path: string, headers: Record<string, string> = {}): Promise<boolean> {
    try {
      const res = await this.send('DELETE', path, { headers }, AbortSignal.timeout(this.options.timeoutMs));
      await res.body?.cancel();
      // An answer is the breaker's success, as for the other calls (a DELETE may be the half-open probe).
      this.breaker.success();
      return true;
    } catch (err) {
      if (err instanceof ServiceError || err instanceof OriginUnavailableError) return false;
      throw err;
    }
  }

  /** One request through the breaker: the 2xx response, or the error the edge acts on. */
  private async send(
    method: 'POST' | 'DELETE',
    path: string,
    content: { body?: BodyInit; contentType?: string; headers?: Record<string, string> },
    signal: AbortSignal,
  ): Promise<Response> {
    const { breaker } = this;
    const permit = breaker.acquire();
    if (!permit.allowed) {
      // Fail fast: no connection attempt while the origin is known to be down.
      throw new OriginUnavailableError(
        'breaker_open',
        'circuit open after repeated failures',
        Math.max(1, Math.ceil(permit.retryAfterMs / 1000)),
      );
    }
    let res: Response;
    try {
      const url = new URL(path, this.options.baseUrl);
      const init: RequestInit = {
        method,
        headers: {
          ...content.headers,
          ...(content.contentType === undefined ? {} : { 'content-type': content.contentType }),
          authorization: `Bearer ${this.options.secret}`,
        },
        ...(content.body === undefined ? {} : { body: content.body }),
        signal,
      };
      res = await (this.options.binding ? this.options.binding.fetch(new Request(url, init)) : fetch(url, init));
    } catch (err) {
      breaker.failure();
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      if (timedOut)
        throw new OriginUnavailableError(
          'timeout',
          `no answer within ${this.options.timeoutMs} ms`,
          RETRY_AFTER_DEFAULT_S,
        );

      throw new OriginUnavailableError('network', 'it could not be reached', RETRY_AFTER_DEFAULT_S);
    }
    if (res.ok) return res;
    const err = await errorBody(res);
    if (res.status === 429) {
      // Alive but its queue (or token budget) is full: not a breaker failure, but the edge may take the request.
      breaker.success();
      const wait = retryAfter(res, 1);
      throw new OriginUnavailableError('overloaded', 'its queue is full', wait, {
        // The caller's own answer when the edge cannot take it: the origin's 429, saying which budget and when.
        refusal:
          err?.code !== 'token_budget_exceeded'
            ? undefined
            : new ServiceError(429, err.code, err.message, { headers: { 'Retry-After': String(wait) } }),
      });
    }
    if (PASSED_THROUGH.has(res.status) && err !== undefined) {
      breaker.success();
      throw new ServiceError(res.status as ErrorStatus, err.code as ErrorCode, err.message);
    }
    if (res.status === 401 || res.status === 403 || res.status === 404) {
      // A wrong secret, or an origin whose model store lags the edge's: our configuration, not the caller's.
      breaker.success();
      console.error(JSON.stringify({ msg: 'origin refused the edge', status: res.status, error: err }));
      throw new OriginUnavailableError(
        'misconfigured',
        `it refused the request (${res.status})`,
        RETRY_AFTER_DEFAULT_S,
      );
    }
    breaker.failure();
    throw new OriginUnavailableError(
      'server_error',
      `it answered ${res.status}`,
      retryAfter(res, RETRY_AFTER_DEFAULT_S),
    );
  }
}

/** Origin settings as wrangler vars/secrets (strings) and an optional service binding. */
export interface OriginVars {
  ORIGIN_URL?: string;
  ORIGIN_SECRET?: string;
  ORIGIN_TIMEOUT_MS?: string;
  ORIGIN_BREAKER_FAILURES?: string;
  ORIGIN_BREAKER_COOLDOWN_MS?: string;
  ORIGIN?: OriginFetcher;
}

export interface OriginConfig {
  baseUrl: string;
  secret: string;
  timeoutMs: number;
  failureThreshold: number;
  cooldownMs: number;
}

/** The origin's configuration, or undefined when none is set (the edge then serves everything it can). */
export function readOriginConfig(vars: OriginVars): OriginConfig | undefined {
  const url = vars.ORIGIN_URL?.trim() ?? '';
  if (url === '' && vars.ORIGIN === undefined) return undefined;
  return {
    // A service binding needs some URL to form requests; its host is not used for routing.
    baseUrl: url === '' ? 'https://origin.internal' : url,
    secret: vars.ORIGIN_SECRET ?? '',
    timeoutMs: intVar(vars.ORIGIN_TIMEOUT_MS, 10_000, 1),
    failureThreshold: intVar(vars.ORIGIN_BREAKER_FAILURES, 3, 1),
    cooldownMs: intVar(vars.ORIGIN_BREAKER_COOLDOWN_MS, 10_000, 1),
  };
}

/** Clients (and their breakers) live as long as the isolate, one per distinct configuration. */
const clients = new Map<string, OriginClient>();

export function originClient(vars: OriginVars): OriginClient | undefined {
  const config = readOriginConfig(vars);
  if (config === undefined) return undefined;
  const key = JSON.stringify(config) + (vars.ORIGIN === undefined ? '' : '+binding');
  let client = clients.get(key);
  if (client === undefined) {
    client = new OriginClient({ ...config, ...(vars.ORIGIN === undefined ? {} : { binding: vars.ORIGIN }) });
    clients.set(key, client);
  }
  return client;
}
