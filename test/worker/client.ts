/** @module Calls the Worker app in-process inside workerd (same isolate, so tests can read runtime counters). */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { app } from '../../src/index.js';

export interface ErrorJson {
  error: { code: string; message: string };
}

/** One request through the real app with real bindings; waits for `waitUntil` work (cache writes) too. */
export async function call(path: string, init: RequestInit = {}, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`, init), bindings, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export function postJson(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  bindings: Env = env,
): Promise<Response> {
  return call(
    path,
    { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) },
    bindings,
  );
}

export function json<T>(res: Response): Promise<T> {
  return res.json<T>();
}
