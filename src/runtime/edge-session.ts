/** @module The edge's model runner: the isolate's session cache fed from the R2 registry. */
import { DEFAULT_SESSION_BUDGET } from '../lib/config.js';
import { ServiceError, modelUnavailable } from '../lib/errors.js';
import type { Manifest } from '../lib/manifest.js';
import type { ModelRegistry } from '../storage/registry.js';
import { createSession } from './ort.js';
import { ModelTooLargeError, SessionCache, type QueuedSession } from './sessions.js';

/** One cache per isolate: sessions outlive requests, which is the point. */
export const sessions = new SessionCache(DEFAULT_SESSION_BUDGET, createSession);

/** The served model file's size: what the session budget counts. */
export function modelBytes(manifest: Manifest): number {
  return manifest.files.find((f) => f.name === manifest.model_file)?.bytes ?? 0;
}

/** The session for a manifest, loading (sha256-checked) bytes from R2 at most once per isolate at a time. */
export async function edgeSession(
  manifest: Manifest,
  registry: ModelRegistry,
  timings: { fetch?: number } = {},
): Promise<QueuedSession> {
  const key = `${manifest.id}@${manifest.version}`;
  try {
    return await sessions.get(key, modelBytes(manifest), async () => {
      const t = performance.now();
      const bytes = await registry.loadModelBytes(manifest);
      timings.fetch = performance.now() - t;
      return bytes;
    });
  } catch (err) {
    if (err instanceof ModelTooLargeError)
      throw modelUnavailable(`Model '${key}' is too large for the edge session budget.`);
    if (err instanceof ServiceError) throw err;
    // Bytes that pass sha256 but that ORT refuses: a broken build, not a client error; never cached.
    console.error(JSON.stringify({ msg: 'session creation failed', model: key, err: String(err) }));
    throw modelUnavailable(`Model '${key}' is unavailable right now.`);
  }
}
