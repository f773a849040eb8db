/**
 * @module The headers every prediction answers with — `X-Cache`, `X-Placement`, `X-Placement-Reason`, `X-Model`,
 * `Server-Timing` — written in this one place for the edge's predictions, its generations (streamed, replayed or
 * not) and the origin's own answers, so a caller sees one shape whoever computed the answer.
 */
import type { Context } from 'hono';
import { setMetric } from 'hono/timing';
import type { Manifest } from '../lib/manifest.js';

export type CacheStatus = 'HIT' | 'MISS' | 'BYPASS';

export interface Answered {
  cache: CacheStatus;
  /** `edge`, `origin` or `edge-fallback`. */
  placement: string;
  reason: string;
  timings: Record<string, number | undefined>;
}

/**
 * Stage timings onto the answer's `Server-Timing` (hono's `timing()` middleware, mounted by both apps, writes the
 * header with a `total` beside them).
 */
export function stageTimings(c: Context, timings: Record<string, number | undefined>): void {
  for (const [name, ms] of Object.entries(timings)) if (ms !== undefined) setMetric(c, name, ms, undefined, 2);
}

export function predictionHeaders(c: Context, manifest: Manifest, answered: Answered): void {
  c.header('X-Cache', answered.cache);
  c.header('X-Placement', answered.placement);
  c.header('X-Placement-Reason', answered.reason);
  c.header('X-Model', `${manifest.id}@${manifest.version}`);
  stageTimings(c, answered.timings);
  // An answer that bypassed the cache must not be kept by anything in between either.
  if (answered.cache === 'BYPASS') c.header('Cache-Control', 'no-store');
}
