/**
 * @module The KV cache of decoder-only models in Optimum's I/O convention (`past_key_values.{i}.key|value` in,
 * `present.{i}.key|value` out, [batch, kv_heads, past, head_dim]) held for a batch of sequences: prefill one prompt,
 * step every row by one token, join a row into a running batch and drop finished ones. Rows of different lengths are
 * LEFT-padded with `attention_mask` 0, and `position_ids` count each row's own tokens, so a row answers exactly as it
 * would alone. A step feeds the previous `present` tensors back as `past` unchanged (no copy) while the rows stay the
 * same; only a join or a leave re-lays the tensors out. The edge runs batches of one; the origin's scheduler
 * (origin/generation-scheduler.ts) runs many. Written here: this bookkeeping is specific to the export convention and
 * no library does it for onnxruntime-web/-node sessions.
 */
import { z } from 'zod';
import type { Manifest } from '../../lib/manifest.js';
import { asFloat32, type Feeds, type ModelRunner, type Outputs, type TensorData } from '../tensor.js';

/** Manifest `postprocess` of text-generation models: the graph's cache layout and the model's generation limits. */
export const DecoderConfigSchema = z.object({
  kind: z.literal('decoder'),
  layers: z.number().int().positive(),
  kv_heads: z.number().int().positive(),
  head_dim: z.number().int().positive(),
  vocab_size: z.number().int().positive(),
  /** Tokens a sequence may hold, prompt and completion together (config's n_positions / max_position_embeddings). */
  context_length: z.number().int().positive(),
  /** Whether the graph takes `position_ids` (GPT-2 and Llama exports do) and `use_cache_branch` (merged decoders). */
  position_ids: z.boolean().default(true),
  use_cache_branch: z.boolean().default(false),
  eos_token_ids: z.array(z.number().int().nonnegative()).default([]),
  bos_token_id: z.number().int().nonnegative().optional(),
  /** Whether a prompt starts with BOS (tokenizer_config's `add_bos_token`, or the post-processor adding it). */
  add_bos_token: z.boolean().default(false),
  /** `max_tokens` when a request names none (the model card states it). */
  default_max_tokens: z.number().int().positive().default(256),
  /** Jinja chat template from tokenizer_config.json; absent: the documented default applies. */
  chat_template: z.string().optional(),
  /** Sampling defaults from generation_config.json, used when a request does not say. */
  defaults: z
    .object({
      do_sample: z.boolean().optional(),
      temperature: z.number().min(0).optional(),
      top_k: z.number().int().min(0).optional(),
      top_p: z.number().gt(0).max(1).optional(),
      repetition_penalty: z.number().positive().optional(),
    })
    .default({}),
});
export type DecoderConfig = z.infer<typeof DecoderConfigSchema>;

export function decoderConfig(manifest: Manifest): DecoderConfig {
  return DecoderConfigSchema.parse(manifest.postprocess);
}

const pastName = (layer: number, part: 'key' | 'value'): string => `past_key_values.${layer}.${part}`;
const presentName = (layer: number, part: 'key' | 'value'): string => `present.${layer}.${part}`;

/** The cache tensors of a batch: one [rows, kv_heads, length, head_dim] array per layer and part, plus each row's mask. */
export interface KvBatch {
  rows: number;
  /** Positions held (padding included): the third dimension of every cache tensor. */
  length: number;
  /** In layer order: key 0, value 0, key 1, value 1, … */
  tensors: Float32Array[];
  /** Per row, `length` entries: 1 where the row has a real token, 0 for left padding. */
  masks: Uint8Array[];
  /** Per row, the position id its next token gets (its own token count). */
  positions: number[];
}

export function emptyBatch(config: DecoderConfig): KvBatch {
  return {
    rows: 0,
    length: 0,
    tensors: Array.from({ length: config.layers * 2 }, () => new Float32Array(0)),
    masks: [],
    positions: [],
  };
}

/** The next-token logits of each row and the batch with this step's keys and values in it. */
export interface StepResult {
  logits: Float32Array[];
  batch: KvBatch;
}

const int64 = (values: ArrayLike<number>, dims: readonly number[]): TensorData => ({
  type: 'int64',
  dims,
  data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))),
});

/**
 * The feeds that run `tokens[r]` (each row the same count; one for a decode step, the prompt for a prefill of a
 * one-row batch) after the cached positions. Rows without a cache yet are a batch of `rows` with `length` 0.
 */
export function stepFeeds(config: DecoderConfig, batch: KvBatch, tokens: readonly (readonly number[])[]): Feeds {
  const rows = tokens.length;
  const width = tokens[0]?.length ?? 0;
  if (rows === 0 || width === 0 || tokens.some((t) => t.length !== width))
    throw new Error('runStep: every row needs the same, non-zero number of new tokens');
  if (batch.rows !== rows && !(batch.rows === 0 && batch.length === 0))
    throw new Error(`runStep: ${rows} token rows for a batch of ${batch.rows}`);
  const past = batch.rows === 0 ? emptyRows(config, rows) : batch;
  const total = past.length + width;
  const ids: number[] = [];
  const mask = new Uint8Array(rows * total);
  const positions: number[] = [];
  for (let r = 0; r < rows; r++) {
    ids.push(...(tokens[r] ?? []));
    mask.set(past.masks[r] ?? new Uint8Array(past.length), r * total);
    mask.fill(1, r * total + past.length, (r + 1) * total);
    const start = past.positions[r] ?? 0;
    for (let t = 0; t < width; t++) positions.push(start + t);
  }
  const feeds: Feeds = { input_ids: int64(ids, [rows, width]), attention_mask: int64(mask, [rows, total]) };
  if (config.position_ids) feeds['position_ids'] = int64(positions, [rows, width]);
  if (config.use_cache_branch) feeds['use_cache_branch'] = { type: 'bool', dims: [1], data: [past.length > 0] };
  const dims = [rows, config.kv_heads, past.length, config.head_dim];
  for (let l = 0; l < config.layers; l++) {
    feeds[pastName(l, 'key')] = { type: 'float32', dims, data: tensorAt(past, l * 2) };
    feeds[pastName(l, 'value')] = { type: 'float32', dims, data: tensorAt(past, l * 2 + 1) };
  }
  return feeds;
}

/** Runs `tokens[r]` after the cached positions (see stepFeeds): each row's next-token logits and the grown cache. */
export async function runStep(
  runner: ModelRunner,
  config: DecoderConfig,
  batch: KvBatch,
  tokens: readonly (readonly number[])[],
): Promise<StepResult> {
  const outputs = await runner.run(stepFeeds(config, batch, tokens));
  const past = batch.rows === 0 ? emptyRows(config, tokens.length) : batch;
  const width = tokens[0]?.length ?? 0;
  return {
    logits: lastLogits(outputs, tokens.length, width, config.vocab_size),
    batch: nextBatch(config, past, outputs, width),
  };
}

function emptyRows(config: DecoderConfig, rows: number): KvBatch {
  return { ...emptyBatch(config), rows, masks: Array.from({ length: rows }, () => new Uint8Array(0)), positions: [] };
}

function tensorAt(batch: KvBatch, i: number): Float32Array {
  const t = batch.tensors[i];
  if (t === undefined) throw new Error(`KV cache tensor ${i} is missing`);
  return t;
}

function lastLogits(outputs: Outputs, rows: number, width: number, vocab: number): Float32Array[] {
  const logits = asFloat32(outputs['logits'], 'logits');
  if (logits.length !== rows * width * vocab)
    throw new Error(`model output logits has ${logits.length} values, expected ${rows}×${width}×${vocab}`);
  return Array.from({ length: rows }, (_, r) =>
    logits.slice((r * width + width - 1) * vocab, (r * width + width) * vocab),
  );
}

function nextBatch(config: DecoderConfig, past: KvBatch, outputs: Outputs, width: number): KvBatch {
  const length = past.length + width;
  const expected = past.rows * config.kv_heads * length * config.head_dim;
  const tensors: Float32Array[] = [];
  for (let l = 0; l < config.layers; l++) {
    for (const part of ['key', 'value'] as const) {
      const t = asFloat32(outputs[presentName(l, part)], presentName(l, part));
      if (t.length !== expected)
        throw new Error(`model output ${presentName(l, part)} has ${t.length} values, expected ${expected}`);
      tensors.push(t);
    }
  }
  const masks = Array.from({ length: past.rows }, (_, r) => {
    const m = new Uint8Array(length);
    m.set(past.masks[r] ?? new Uint8Array(past.length));
    m.fill(1, past.length);
    return m;
  });
  const positions = Array.from({ length: past.rows }, (_, r) => (past.positions[r] ?? 0) + width);
  return { rows: past.rows, length, tensors, masks, positions };
}

/**
 * Copies rows of `from` into a new layout of `length` positions, right-aligned (the extra positions become left
 * padding). `picks` names the source rows in their new order.
 */
function relayout(config: DecoderConfig, parts: { batch: KvBatch; picks: number[] }[], length: number): KvBatch {
  const rows = parts.reduce((n, p) => n + p.picks.length, 0);
  const head = config.head_dim;
  const tensors = Array.from(
    { length: config.layers * 2 },
    () => new Float32Array(rows * config.kv_heads * length * head),
  );
  const masks: Uint8Array[] = [];
  const positions: number[] = [];
  let out = 0;
  for (const { batch, picks } of parts) {
    const shift = length - batch.length;
    if (shift < 0) throw new Error('relayout: cannot shorten a batch below its rows');
    for (const r of picks) {
      for (let i = 0; i < tensors.length; i++) {
        const src = tensorAt(batch, i);
        const dst = tensors[i] ?? new Float32Array(0);
        for (let h = 0; h < config.kv_heads; h++) {
          const from = (r * config.kv_heads + h) * batch.length * head;
          const to = ((out * config.kv_heads + h) * length + shift) * head;
          dst.set(src.subarray(from, from + batch.length * head), to);
        }
      }
      const m = new Uint8Array(length);
      m.set(batch.masks[r] ?? new Uint8Array(batch.length), shift);
      masks.push(m);
      positions.push(batch.positions[r] ?? 0);
      out += 1;
    }
  }
  return { rows, length, tensors, masks, positions };
}

/** The running batch with `joining`'s rows appended (both left-padded to the longer of the two). */
export function joinBatches(config: DecoderConfig, running: KvBatch, joining: KvBatch): KvBatch {
  if (running.rows === 0) return joining;
  const all = (b: KvBatch): number[] => Array.from({ length: b.rows }, (_, i) => i);
  return relayout(
    config,
    [
      { batch: running, picks: all(running) },
      { batch: joining, picks: all(joining) },
    ],
    Math.max(running.length, joining.length),
  );
}

/**
 * The batch with only the `keep` rows, in that order; padding every kept row has on the left is trimmed, so a batch
 * never keeps computing over positions that no row attends to.
 */
export function keepRows(config: DecoderConfig, batch: KvBatch, keep: readonly number[]): KvBatch {
  if (keep.length === 0) return emptyBatch(config);
  let lead = batch.length;
  for (const r of keep) {
    const m = batch.masks[r] ?? new Uint8Array(0);
    const first = m.indexOf(1);
    lead = Math.min(lead, first < 0 ? batch.length : first);
  }
  if (lead === 0 && keep.length === batch.rows && keep.every((r, i) => r === i)) return batch;
  const trimmed = trimLeft(config, batch, lead);
  return relayout(config, [{ batch: trimmed, picks: [...keep] }], trimmed.length);
}

function trimLeft(config: DecoderConfig, batch: KvBatch, lead: number): KvBatch {
  if (lead === 0) return batch;
  const length = batch.length - lead;
  const head = config.head_dim;
  const tensors = batch.tensors.map((src) => {
    const dst = new Float32Array(batch.rows * config.kv_heads * length * head);
    for (let rh = 0; rh < batch.rows * config.kv_heads; rh++)
      dst.set(src.subarray((rh * batch.length + lead) * head, (rh + 1) * batch.length * head), rh * length * head);
    return dst;
  });
  return { ...batch, length, tensors, masks: batch.masks.map((m) => m.slice(lead)) };
}
