/**
 * @module One structured JSON log line per request (Workers Logs index its fields): route pattern, model, status,
 * cache, placement, duration and the key's id — never the payload, never the key itself.
 */
import type { Context, Env as HonoEnv, MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';

export interface RequestLine {
  msg: 'request';
  request_id: string | undefined;
  method: string;
  /** The matched pattern (`/v1/models/:model/predict`), not the URL: bounded, and free of caller data. */
  route: string;
  status: number;
  duration_ms: number;
  model: string | null;
  cache: string | null;
  placement: string | null;
  key_id: string | null;
}

export interface RequestLogOptions {
  /** Where lines go (default: `console.log` of the JSON, which Workers Logs picks up). */
  write?: (line: RequestLine) => void;
}

type LogEnv = HonoEnv & { Variables: { requestId?: string; apiKey?: { id: string } } };

export function requestLog<E extends LogEnv>(options: RequestLogOptions = {}): MiddlewareHandler<E> {
  const write = options.write ?? ((line: RequestLine) => console.log(JSON.stringify(line)));
  return async (c: Context<E>, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const headers = c.res.headers;
      const vars = c.var as LogEnv['Variables'];
      write({
        msg: 'request',
        request_id: vars.requestId,
        method: c.req.method,
        route: routePath(c, -1),
        status: c.res.status,
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        model: headers.get('x-model'),
        cache: headers.get('x-cache'),
        placement: headers.get('x-placement'),
        key_id: vars.apiKey?.id ?? null,
      });
    }
  };
}
