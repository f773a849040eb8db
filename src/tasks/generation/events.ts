/**
 * @module What a generation reports, in order — text pieces as they become final, then one `done` with the finish
 * reason and usage — as types, as the JSON schemas of the native route's SSE events, and collected into one answer.
 */
import { z } from 'zod';

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** What a generation reports, in order: text pieces as they become final, then one `done`. */
export type GenerationEvent =
  | { type: 'text'; text: string; tokens: number }
  | { type: 'done'; finish_reason: FinishReason; usage: Usage; text: string };

/** A generation's events: streamed as they come, or replayed from the cache. */
export type GenerationEvents = AsyncIterable<GenerationEvent> | Iterable<GenerationEvent>;

/** A `done` event as JSON on the wire. */
export const DoneSchema = z.object({
  type: z.literal('done'),
  finish_reason: z.enum(['stop', 'length', 'cancelled']),
  usage: z.object({
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
  }),
  text: z.string(),
});
/** The native route's SSE events as JSON on the wire (the edge reads the origin's; the benchmark reads both). */
export const GenerationEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string(), tokens: z.number().int() }),
  DoneSchema,
]);

/** A whole generation's answer, from its events. */
export async function collect(events: GenerationEvents): Promise<Extract<GenerationEvent, { type: 'done' }>> {
  for await (const e of events) if (e.type === 'done') return e;
  throw new Error('generation ended without a done event');
}
