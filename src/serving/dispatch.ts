/**
 * @module Carries out a placement decision: run at the edge, or ask the origin and fall back to the edge when the
 * origin cannot answer and the request may run here; otherwise a 503 `origin_unavailable` with `Retry-After`. The
 * one fallback rule, for predictions and generations alike: the caller supplies the two ways to compute (returning
 * an answer, or a stream of generation events), this file owns the order.
 */
import type { OriginClient } from '../routing/origin-client.js';
import { OriginUnavailableError } from '../routing/origin-client.js';
import type { PlacementDecision, PlacementHeader } from '../routing/placement.js';

/** Stage timings in milliseconds (`Server-Timing`), filled in by whichever way runs. */
export type Timings = Record<string, number>;

export interface DispatchWays<T> {
  edge: (timings: Timings) => Promise<T>;
  origin: (client: OriginClient, timings: Timings) => Promise<T>;
}

export interface Dispatched<T> {
  output: T;
  placement: PlacementHeader;
  /** `X-Placement-Reason`: the decision's reason, and the fallback's when there was one. */
  reason: string;
}

export async function dispatch<T>(
  decision: PlacementDecision,
  client: OriginClient | undefined,
  ways: DispatchWays<T>,
  timings: Timings,
): Promise<Dispatched<T>> {
  if (decision.target === 'edge')
    return { output: await ways.edge(timings), placement: 'edge', reason: decision.reason };
  try {
    if (client === undefined) throw new OriginUnavailableError('not_configured', 'no origin is configured', 60);
    return { output: await ways.origin(client, timings), placement: 'origin', reason: decision.reason };
  } catch (err) {
    if (!(err instanceof OriginUnavailableError)) throw err;
    if (!decision.edgeFallback) throw err.toServiceError();
    return {
      output: await ways.edge(timings),
      placement: 'edge-fallback',
      reason: `${decision.reason}; origin unavailable (${err.why}), ran at the edge`,
    };
  }
}
