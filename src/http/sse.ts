/**
 * @module Server-Sent Events for the generation routes (native and OpenAI): the event stream written through a
 * per-route format, and the request's own abort signal, so a client that goes away stops the decoding loop.
 */
import type { Context, Env as HonoEnv } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { GenerationEvent, GenerationEvents } from '../tasks/generation/events.js';

/** Ends `signal`-bound work when the request's own connection closes (where the runtime reports it). */
export function clientSignal(c: Context): AbortSignal {
  return c.req.raw.signal;
}

/**
 * Writes events as Server-Sent Events through `format` (OpenAI chunks, or the native events), then `[DONE]` when
 * `done` is given. A client that disconnects aborts `abort`, which the decoding loop checks before every run.
 */
export function streamEvents<E extends HonoEnv>(
  c: Context<E>,
  events: GenerationEvents,
  abort: AbortController,
  format: (e: GenerationEvent) => unknown[],
  done?: string,
): Response {
  c.header('Cache-Control', 'no-store');
  return streamSSE(c, async (stream) => {
    stream.onAbort(() => abort.abort(new Error('client disconnected')));
    for await (const e of events) {
      if (stream.aborted) break;
      for (const chunk of format(e)) await stream.writeSSE({ data: JSON.stringify(chunk) });
    }
    if (done !== undefined && !stream.aborted) await stream.writeSSE({ data: done });
  });
}
