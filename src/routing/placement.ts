/**
 * @module The placement policy: edge or origin for one request, from the manifest's `placement` and
 * `edge_limits`, the request's size and the caller's `X-Placement` hint. Pure: no I/O, no clock, no globals,
 * so it is the same decision in workerd, in Node tests and in the docs' examples.
 */
import type { Manifest } from '../lib/manifest.js';
import type { RequestSize } from '../tasks/task.js';

export type Target = 'edge' | 'origin';

/** What the answer's `X-Placement` header says: where the result was computed. */
export type PlacementHeader = Target | 'edge-fallback';

export interface PlacementInput {
  manifest: Pick<Manifest, 'placement' | 'edge_limits' | 'files' | 'model_file'>;
  size: RequestSize;
  /** The raw `X-Placement` request header, if any. */
  hint?: string | undefined;
  /** Whether an origin is configured at all (URL or service binding). */
  originConfigured: boolean;
}

export interface PlacementDecision {
  target: Target;
  /** One sentence for `X-Placement-Reason`: why this target, and why a hint was refused. */
  reason: string;
  /** Whether the edge may run the request when the origin cannot (`X-Placement: edge-fallback`). */
  edgeFallback: boolean;
  /** The hint as understood, and whether the policy followed it. */
  hint?: { requested: Target; honoured: boolean };
  /** Edge limits the request exceeds, e.g. `batch 32 > max_batch 16`. */
  exceeded: string[];
}

type LimitKey = keyof Manifest['edge_limits'];

/**
 * Limits whose excess the edge cannot absorb at all: a model over the byte budget does not load, and a huge image
 * or clip can exhaust a 128 MB isolate. The others (batch, tokens, input bytes) only make the edge slow, so an
 * over-limit request may still run there when the origin is down.
 */
const HARD_LIMITS: ReadonlySet<LimitKey> = new Set<LimitKey>(['max_model_bytes', 'max_pixels', 'max_seconds']);

function modelBytes(manifest: PlacementInput['manifest']): number {
  return manifest.files.find((f) => f.name === manifest.model_file)?.bytes ?? 0;
}

/** Each edge limit the request breaks, with the numbers, and whether any of them is a hard one. */
export function exceededLimits(input: Pick<PlacementInput, 'manifest' | 'size'>): {
  exceeded: string[];
  hard: boolean;
} {
  const limits = input.manifest.edge_limits;
  const measured: [LimitKey, string, number | undefined][] = [
    ['max_batch', 'batch', input.size.batch],
    ['max_pixels', 'pixels', input.size.pixels],
    ['max_input_bytes', 'input bytes', input.size.inputBytes],
    ['max_tokens', 'tokens', input.size.tokens],
    ['max_seconds', 'seconds', input.size.seconds],
    ['max_model_bytes', 'model bytes', modelBytes(input.manifest)],
  ];
  const exceeded: string[] = [];
  let hard = false;
  for (const [key, what, value] of measured) {
    const limit = limits[key];
    if (limit === undefined || value === undefined || value <= limit) continue;
    exceeded.push(`${what} ${value} > ${key} ${limit}`);
    if (HARD_LIMITS.has(key)) hard = true;
  }
  return { exceeded, hard };
}

/** `edge` or `origin` (case-insensitive); anything else is no hint at all. */
export function parseHint(header: string | undefined): Target | undefined {
  const h = header?.trim().toLowerCase();
  return h === 'edge' || h === 'origin' ? h : undefined;
}

export function decidePlacement(input: PlacementInput): PlacementDecision {
  const { manifest, originConfigured } = input;
  const requested = parseHint(input.hint);
  const { exceeded, hard } = exceededLimits(input);
  const over = exceeded.join(', ');
  const decide = (target: Target, reason: string): PlacementDecision => {
    const d: PlacementDecision = { target, reason, exceeded, edgeFallback: manifest.placement !== 'origin' && !hard };
    if (requested !== undefined) d.hint = { requested, honoured: requested === target };
    return d;
  };

  if (manifest.placement === 'edge') {
    // Pinned to the edge: the edge's own limits (422s) apply, the origin is never asked.
    return decide(
      'edge',
      requested === 'origin' ? 'hint refused: the model is pinned to the edge' : 'the model is pinned to the edge',
    );
  }
  if (manifest.placement === 'origin') {
    return decide(
      'origin',
      requested === 'edge'
        ? 'hint refused: the model is served by the origin only'
        : 'the model is served by the origin only',
    );
  }
  // auto
  if (requested === 'origin') {
    if (originConfigured) return decide('origin', 'hint honoured');
    return decide('edge', 'hint refused: no origin is configured');
  }
  if (exceeded.length > 0) {
    if (originConfigured || hard)
      return decide('origin', `${requested === 'edge' ? 'hint refused: ' : ''}over the edge limits (${over})`);
    // Nowhere better to send it: soft limits only slow the edge down.
    return decide('edge', `over the edge limits (${over}) but no origin is configured`);
  }
  return decide('edge', requested === 'edge' ? 'hint honoured' : 'within the edge limits');
}
