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
import { currentKey } from '../auth/caller.js';
import type { Manifest } from '../lib/manifest.js';
import { SAMPLER } from '../maths/sampling.js';
import { OriginUnavailableError, originClient, type OriginClient } from '../routing/origin-client.js';
import { decidePlacement } from '../routing/placement.js';
import { edgeSession } from '../runtime/edge-session.js';
import { resultCacheKey } from '../storage/result-cache.js';
import {
  type GenerationEvent,
  type GenerationEvents,
  DoneSchema,
  GenerationEventSchema,
} from '../tasks/generation/events.js';
import { generate } from '../tasks/generation/loop.js';
import { generationTokenizer, type GenerationPlan } from '../tasks/generation/plan.js';
import { taskContext, type GenerationControl } from './contract.js';
import { dispatch, type Timings } from './dispatch.js';
import { predictionHeaders } from './headers.js';
import { ID_HEADER, liveGenerations, newGenerationId, OWNER_HEADER, type LiveGeneration } from './live-generations.js';
import { cachePartition, wantsNoStore } from './result-flight.js';
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

/** The body of the origin's native generate route (`POST /v1/models/{model}/generate`, src/http/generate.ts). */
export interface NativeGenerateBody {
  inputs: number[];
  parameters: {
    max_new_tokens: number;
    do_sample: boolean;
    temperature?: number;
    top_k: number;
    top_p: number;
    repetition_penalty: number;
    frequency_penalty: number;
    presence_penalty: number;
    logit_bias: Record<string, number>;
    seed: number;
    stop: string[];
  };
  stream: true;
}

/** A plan as the native request that reproduces it exactly (the edge's forward to the origin). */
export function nativeRequest(plan: GenerationPlan): NativeGenerateBody {
  return {
    inputs: plan.promptIds,
    parameters: {
      max_new_tokens: plan.maxNewTokens,
      do_sample: plan.temperature > 0,
      ...(plan.temperature > 0 ? { temperature: plan.temperature } : {}),
      top_k: plan.topK,
      top_p: plan.topP,
      repetition_penalty: plan.repetitionPenalty,
      frequency_penalty: plan.frequencyPenalty,
      presence_penalty: plan.presencePenalty,
      logit_bias: Object.fromEntries(plan.logitBias.map(([id, bias]) => [String(id), bias])),
      seed: plan.seed,
      stop: plan.stop,
    },
    stream: true,
  };
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
    const timings: Timings = {};
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
        predictionHeaders(c, manifest, {
          cache: 'HIT',
          placement: hit.placement,
          reason: 'a cached answer, replayed',
          timings,
        });
        live.end();
        // Replayed as the stream it was, piece by piece, whether or not this request streams.
        return replay(cached.data);
      }
    }
    const ran = await dispatch(
      decision,
      client,
      {
        edge: async (t) => {
          const stages: Record<string, number> = {};
          const session = await edgeSession(manifest, registry, stages);
          const tokenizer = await generationTokenizer(manifest, taskContext(registry, manifest));
          Object.assign(t, stages);
          return generate(session, manifest, tokenizer, plan, live.signal);
        },
        origin: (origin) => startAtOrigin(origin, manifest, plan, { id: control.id, signal: live.signal }, owner),
      },
      timings,
    );
    predictionHeaders(c, manifest, { ...ran, cache: key === undefined ? 'BYPASS' : 'MISS', timings });
    const store =
      key === undefined
        ? undefined
        : (cached: CachedGeneration): void =>
            c.executionCtx.waitUntil(
              cache.put(key, { output: cached, placement: ran.placement }, manifest.cache.ttl_seconds),
            );
    return recorded(ran.output, live, store);
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
export function edgeGenerationId(prefix: string): string {
  return newGenerationId(prefix);
}
