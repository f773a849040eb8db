/**
 * @module The edge's `generate` and `cancel`: placement (prompt + `max_tokens` against the manifest's measured
 * `edge_limits.max_tokens`), the KV result cache for reproducible answers (greedy, or seeded) replayed as a stream
 * when the request streams, then the edge's own session or the origin's token stream (parsed from its SSE with
 * eventsource-parser), with the same fallback rules as predictions. Every generation is registered under its id and
 * the caller's key, so `DELETE /v1/generations/{id}` stops it here or is passed on to the origin.
 */
import type { Context } from 'hono';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { z } from 'zod';
import { edgeSession } from '../runtime/edge-session.js';
import { ID_HEADER, liveGenerations, newGenerationId, OWNER_HEADER, type LiveGeneration } from './live-generations.js';
import { currentKey } from '../middleware/api-keys.js';
import { placementReason } from './dispatch.js';
import { OriginUnavailableError, originClient, type OriginClient } from '../routing/origin-client.js';
import { decidePlacement, type PlacementHeader } from '../routing/placement.js';
import type { Manifest } from '../lib/manifest.js';
import { resultCacheKey } from '../storage/result-cache.js';
import { SAMPLER } from '../maths/sampling.js';
import {
  generate,
  generationTokenizer,
  type GenerationEvent,
  type GenerationEvents,
  type GenerationPlan,
  DoneSchema,
  GenerationEventSchema,
} from '../tasks/generation/text-generation.js';
import { nativeRequest } from '../http/generate.js';
import { cachePartition, wantsNoStore } from './edge.js';
import { stageTimings, taskContext, type GenerationControl } from './contract.js';
import { services, type AppEnv } from './services.js';

/** A finished generation as the cache keeps it: the pieces as they were streamed, then the end. */
const CachedGenerationSchema = z.object({ pieces: z.array(z.string()), done: DoneSchema });
type CachedGeneration = z.infer<typeof CachedGenerationSchema>;

/** What addresses a reproducible answer: the plan, without the seed when decoding is greedy (it plays no part). */
function cacheInput(plan: GenerationPlan): unknown {
  const { seed, reproducible, ...rest } = plan;
  return plan.temperature === 0 ? { ...rest, reproducible } : { ...rest, reproducible, seed, sampler: SAMPLER };
}

function* replay(cached: CachedGeneration): Generator<GenerationEvent> {
  let tokens = 0;
  for (const text of cached.pieces) yield { type: 'text', text, tokens: ++tokens };
  yield cached.done;
}

/** The events, passed on as they come; a finished (not cancelled) answer is written to the cache at the end. */
async function* recorded(
  events: GenerationEvents,
  live: LiveGeneration,
  store: ((cached: CachedGeneration) => void) | undefined,
): AsyncGenerator<GenerationEvent> {
  const pieces: string[] = [];
  try {
    for await (const e of events) {
      if (e.type === 'text') pieces.push(e.text);
      else if (e.finish_reason !== 'cancelled') store?.({ pieces, done: e });
      yield e;
    }
  } finally {
    live.end();
  }
}

/** The origin's SSE events (its native generate route), checked one by one. */
async function* originEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<GenerationEvent> {
  const reader = body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const event = GenerationEventSchema.parse(JSON.parse(value.data));
      yield event;
      if (event.type === 'done') return;
    }
    throw new Error('the origin ended the generation stream without a done event');
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

async function startAtOrigin(
  client: OriginClient,
  manifest: Manifest,
  plan: GenerationPlan,
  control: GenerationControl,
  owner: string,
): Promise<GenerationEvents> {
  const res = await client.stream(
    `/v1/models/${manifest.id}@${manifest.version}/generate`,
    JSON.stringify(nativeRequest(plan)),
    'application/json',
    control.signal,
    { [ID_HEADER]: control.id, [OWNER_HEADER]: owner },
  );
  const body = res.body as ReadableStream<Uint8Array> | null;
  if (body === null) throw new OriginUnavailableError('server_error', 'it answered an empty stream', 5);
  return originEvents(body);
}

export async function edgeGenerate(
  c: Context<AppEnv>,
  manifest: Manifest,
  plan: GenerationPlan,
  control: GenerationControl,
): Promise<GenerationEvents> {
  const { registry, cache } = services(c);
  const owner = currentKey(c).id;
  const live = liveGenerations.start(control.id, owner, control.signal);
  try {
    const client = originClient(c.env);
    const decision = decidePlacement({
      manifest,
      size: { batch: 1, tokens: plan.promptIds.length + plan.maxNewTokens },
      hint: c.req.header('x-placement'),
      originConfigured: client !== undefined,
    });
    c.header('X-Model', `${manifest.id}@${manifest.version}`);
    const timings: Record<string, number> = {};
    const key =
      plan.reproducible && !wantsNoStore(c)
        ? await resultCacheKey(manifest, {
            surface: 'generate',
            partition: cachePartition(c, manifest),
            input: cacheInput(plan),
          })
        : undefined;
    if (key !== undefined) {
      const t = performance.now();
      const hit = await cache.get(key);
      timings['cache'] = performance.now() - t;
      const cached = CachedGenerationSchema.safeParse(hit?.output);
      if (hit !== undefined && cached.success) {
        c.header('X-Cache', 'HIT');
        c.header('X-Placement', hit.placement);
        c.header('X-Placement-Reason', 'a cached answer, replayed');
        stageTimings(c, timings);
        live.end();
        // Replayed as the stream it was, piece by piece, whether or not this request streams.
        return replay(cached.data);
      }
    }
    const atEdge = async (): Promise<GenerationEvents> => {
      const stages: Record<string, number> = {};
      const session = await edgeSession(manifest, registry, stages);
      const tokenizer = await generationTokenizer(manifest, taskContext(registry, manifest));
      Object.assign(timings, stages);
      return generate(session, manifest, tokenizer, plan, live.signal);
    };
    let events: GenerationEvents;
    let placement: PlacementHeader = decision.target;
    const note: { fallback?: string } = {};
    if (decision.target === 'origin') {
      try {
        if (client === undefined) throw new OriginUnavailableError('not_configured', 'no origin is configured', 60);
        events = await startAtOrigin(client, manifest, plan, { id: control.id, signal: live.signal }, owner);
      } catch (err) {
        if (!(err instanceof OriginUnavailableError)) throw err;
        if (!decision.edgeFallback) throw err.toServiceError();
        note.fallback = `origin unavailable (${err.why}), ran at the edge`;
        placement = 'edge-fallback';
        events = await atEdge();
      }
    } else {
      events = await atEdge();
    }
    c.header('X-Cache', key === undefined ? 'BYPASS' : 'MISS');
    if (key === undefined) c.header('Cache-Control', 'no-store');
    c.header('X-Placement', placement);
    c.header('X-Placement-Reason', placementReason(decision, note));
    stageTimings(c, timings);
    const store =
      key === undefined
        ? undefined
        : (cached: CachedGeneration): void =>
            c.executionCtx.waitUntil(cache.put(key, { output: cached, placement }, manifest.cache.ttl_seconds));
    return recorded(events, live, store);
  } catch (err) {
    live.end();
    throw err;
  }
}

/** Stops the caller's generation here, or asks the origin (a generation it runs may have started in another isolate). */
export async function edgeCancel(c: Context<AppEnv>, id: string): Promise<boolean> {
  const owner = currentKey(c).id;
  if (liveGenerations.cancel(id, owner)) return true;
  const client = originClient(c.env);
  if (client === undefined) return false;
  return client.delete(`/v1/generations/${encodeURIComponent(id)}`, { [OWNER_HEADER]: owner });
}

/** Ids are made here, never taken from the caller (a chosen id could collide with someone else's). */
export function edgeGenerationId(_c: Context<AppEnv>, prefix: string): string {
  return newGenerationId(prefix);
}
