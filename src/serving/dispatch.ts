/**
 * @module Carries out a placement decision inside the cache pipeline's compute step: run at the edge, or ask the
 * origin and fall back to the edge when the origin cannot answer and the request may run here; otherwise a 503
 * `origin_unavailable` with `Retry-After`. The routes supply the two ways to compute; this file owns the order.
 */
import type { OriginAnswer, OriginClient } from '../routing/origin-client.js';
import { OriginUnavailableError } from '../routing/origin-client.js';
import type { PlacementDecision, PlacementHeader } from '../routing/placement.js';

export interface DispatchWays {
  edge: (timings: Record<string, number>) => Promise<unknown>;
  origin: (client: OriginClient) => Promise<OriginAnswer>;
}

/** Filled in while computing: why a request fell back, for `X-Placement-Reason`. */
export interface DispatchNote {
  fallback?: string;
}

export async function dispatch(
  decision: PlacementDecision,
  client: OriginClient | undefined,
  ways: DispatchWays,
  timings: Record<string, number>,
  note: DispatchNote = {},
): Promise<{ output: unknown; placement: PlacementHeader }> {
  if (decision.target === 'edge') return { output: await ways.edge(timings), placement: 'edge' };
  try {
    if (client === undefined) throw new OriginUnavailableError('not_configured', 'no origin is configured', 60);
    const answer = await ways.origin(client);
    timings.origin = answer.ms;
    return { output: answer.body, placement: 'origin' };
  } catch (err) {
    if (!(err instanceof OriginUnavailableError)) throw err;
    if (!decision.edgeFallback) throw err.toServiceError();
    note.fallback = `origin unavailable (${err.why}), ran at the edge`;
    return { output: await ways.edge(timings), placement: 'edge-fallback' };
  }
}

/** The `X-Placement-Reason` header value for a decision and what happened while computing. */
export function placementReason(decision: PlacementDecision, note: DispatchNote): string {
  return note.fallback === undefined ? decision.reason : `${decision.reason}; ${note.fallback}`;
}
