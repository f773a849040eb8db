/**
 * @module The tiny decoder folders (models/hf-tiny/gpt2.ts, llama.ts) at graph level in onnxruntime-node: decoding
 * with the KV cache equals re-running the whole prefix; a left-padded batch gives each row what it gets alone (what the
 * service's continuous batcher relies on); Llama's `use_cache_branch=false` ignores the past it is fed; and a plain
 * greedy loop yields transformers.js's token ids (test/support/hf-generation.ts). Also: the BPE tokenizers load in
 * @huggingface/tokenizers and transformers.js alike and round-trip text, and the folders are byte-stable.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2_HEAD_DIM, GPT2_HEADS, GPT2_LAYERS } from '../../models/hf-tiny/gpt2.js';
import { LLAMA_HEAD_DIM, LLAMA_KV_HEADS, LLAMA_LAYERS, writeTinyLlamaFolder } from '../../models/hf-tiny/llama.js';
import { nodeSession } from '../../models/lib/ort-eval.js';
import {
  computeHfGeneration,
  HF_GENERATION_MODELS,
  type GenerationCaseRef,
  type HfGenerationModelId,
  type HfGenerationReferences,
} from '../support/hf-generation.js';

const root = mkdtempSync(join(tmpdir(), 'hf-generation-graphs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Decoder {
  id: HfGenerationModelId;
  dir: string;
  session: ort.InferenceSession;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  /** Has the `use_cache_branch` input (Optimum's merged decoder). */
  merged: boolean;
  eos: number;
}

const SHAPES: Record<HfGenerationModelId, { layers: number; kvHeads: number; headDim: number }> = {
  'tiny-gpt2': { layers: GPT2_LAYERS, kvHeads: GPT2_HEADS, headDim: GPT2_HEAD_DIM },
  'tiny-llama': { layers: LLAMA_LAYERS, kvHeads: LLAMA_KV_HEADS, headDim: LLAMA_HEAD_DIM },
};

const decoders = new Map<HfGenerationModelId, Decoder>();
let oracle: HfGenerationReferences;

beforeAll(async () => {
  for (const [id, spec] of Object.entries(HF_GENERATION_MODELS) as [
    HfGenerationModelId,
    (typeof HF_GENERATION_MODELS)[HfGenerationModelId],
  ][]) {
    const dir = spec.write(join(root, id));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as {
      vocab_size: number;
      eos_token_id: number;
    };
    const session = await nodeSession(readFileSync(join(dir, `${spec.modelFile}.onnx`)));
    decoders.set(id, {
      id,
      dir,
      session,
      ...SHAPES[id],
      vocab: config.vocab_size,
      merged: session.inputNames.includes('use_cache_branch'),
      eos: config.eos_token_id,
    });
  }
  oracle = await computeHfGeneration();
});

function decoder(id: HfGenerationModelId): Decoder {
  const d = decoders.get(id);
  if (d === undefined) throw new Error(`no decoder ${id}`);
  return d;
}

type Cache = Record<string, ort.Tensor>;

const i64 = (rows: readonly (readonly number[])[]): ort.Tensor =>
  new ort.Tensor('int64', BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0]?.length ?? 0]);

function emptyCache(d: Decoder, batch: number): Cache {
  const cache: Cache = {};
  for (let i = 0; i < d.layers; i++)
    for (const kind of ['key', 'value'])
      cache[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [
        batch,
        d.kvHeads,
        0,
        d.headDim,
      ]);
  return cache;
}

interface StepOut {
  /** [batch][position][vocab] */
  logits: Float32Array[][];
  cache: Cache;
  presentLength: number;
}

/** One run: ids / mask / positions per row (all rows the same length), the past, and the merged graph's flag. */
async function step(
  d: Decoder,
  ids: number[][],
  mask: number[][],
  positions: number[][],
  past: Cache,
  useCacheBranch?: boolean,
): Promise<StepOut> {
  const feeds: Cache = { input_ids: i64(ids), attention_mask: i64(mask), position_ids: i64(positions), ...past };
  if (d.merged) {
    const pastLength = past['past_key_values.0.key']?.dims[2] ?? 0;
    feeds['use_cache_branch'] = new ort.Tensor('bool', [useCacheBranch ?? pastLength > 0], [1]);
  }
  const out = await d.session.run(feeds);
  const logitsTensor = out['logits'];
  if (logitsTensor === undefined) throw new Error('no logits');
  const data = logitsTensor.data as Float32Array;
  const [batch = 0, seq = 0, vocab = 0] = logitsTensor.dims;
  const logits = Array.from({ length: batch }, (_, b) =>
    Array.from({ length: seq }, (_, s) => data.subarray((b * seq + s) * vocab, (b * seq + s + 1) * vocab)),
  );
  const cache: Cache = {};
  for (const [name, t] of Object.entries(out))
    if (name.startsWith('present.')) cache[name.replace('present.', 'past_key_values.')] = t;
  return { logits, cache, presentLength: out['present.0.key']?.dims[2] ?? -1 };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const ones = (n: number): number[] => new Array<number>(n).fill(1);

/** Logits of one row alone, no cache, every position. */
async function full(d: Decoder, ids: number[]): Promise<Float32Array[]> {
  const out = await step(d, [ids], [ones(ids.length)], [range(0, ids.length)], emptyCache(d, 1));
  return out.logits[0] ?? [];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

function argmaxWithMargin(xs: ArrayLike<number>): { index: number; margin: number } {
  let best = 0;
  let second = -Infinity;
  for (let i = 1; i < xs.length; i++) {
    const v = xs[i] ?? -Infinity;
    const top = xs[best] ?? -Infinity;
    if (v > top) {
      second = top;
      best = i;
    } else if (v > second) second = v;
  }
  return { index: best, margin: (xs[best] ?? 0) - second };
}

const TOLERANCE = 1e-4;
/** Token ids that the tiny vocabularies have (both are over 700 tokens), avoiding the specials at the ends. */
const PROMPT = [17, 340, 5, 222, 101, 64, 300, 12, 450];
const IDS: HfGenerationModelId[] = ['tiny-gpt2', 'tiny-llama'];

describe.each(IDS)('%s graph', (id) => {
  it('decoding with the KV cache (prefill, a 3-token chunk, then one token per run) equals re-running the prefix', async () => {
    const d = decoder(id);
    const reference = await full(d, PROMPT);
    let worst = 0;
    // Prefill 3 tokens.
    let out = await step(d, [PROMPT.slice(0, 3)], [ones(3)], [range(0, 3)], emptyCache(d, 1));
    for (let s = 0; s < 3; s++) worst = Math.max(worst, maxAbsDiff(out.logits[0]?.[s] ?? [], reference[s] ?? []));
    // A chunk of 3 over a past of 3: the causal rule must offset query positions by the past length.
    out = await step(d, [PROMPT.slice(3, 6)], [ones(6)], [range(3, 6)], out.cache);
    expect(out.presentLength).toBe(6);
    for (let s = 0; s < 3; s++) worst = Math.max(worst, maxAbsDiff(out.logits[0]?.[s] ?? [], reference[3 + s] ?? []));
    // Then one token per run.
    for (let t = 6; t < PROMPT.length; t++) {
      out = await step(d, [[PROMPT[t] ?? 0]], [ones(t + 1)], [[t]], out.cache);
      expect(out.presentLength).toBe(t + 1);
      worst = Math.max(worst, maxAbsDiff(out.logits[0]?.[0] ?? [], reference[t] ?? []));
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('a batch of two rows, the shorter LEFT-padded (mask 0), gives each row its logits alone, prefill and 4 steps', async () => {
    const d = decoder(id);
    const long = PROMPT.slice(0, 7);
    const short = PROMPT.slice(2, 6);
    const pad = long.length - short.length;
    const rows = [long, [...new Array<number>(pad).fill(d.eos), ...short]];
    const mask = [ones(long.length), [...new Array<number>(pad).fill(0), ...ones(short.length)]];
    // Positions count real tokens only; padded slots get 1 (any value: they are masked), as Hugging Face does.
    const positions = [range(0, long.length), [...new Array<number>(pad).fill(1), ...range(0, short.length)]];
    let batch = await step(d, rows, mask, positions, emptyCache(d, 2));
    const alone = [await step(d, [long], [ones(long.length)], [range(0, long.length)], emptyCache(d, 1))];
    alone.push(await step(d, [short], [ones(short.length)], [range(0, short.length)], emptyCache(d, 1)));
    let worst = 0;
    for (let s = 0; s < long.length; s++)
      worst = Math.max(worst, maxAbsDiff(batch.logits[0]?.[s] ?? [], alone[0]?.logits[0]?.[s] ?? []));
    for (let s = 0; s < short.length; s++)
      worst = Math.max(worst, maxAbsDiff(batch.logits[1]?.[pad + s] ?? [], alone[1]?.logits[0]?.[s] ?? []));
    // Greedy steps: each row feeds its own next token; the padded row's mask keeps its zeros.
    const lengths = [long.length, short.length];
    for (let k = 0; k < 4; k++) {
      const next = [0, 1].map((r) => argmaxWithMargin(alone[r]?.logits[0]?.at(-1) ?? []).index);
      for (const r of [0, 1]) (mask[r] ?? []).push(1);
      batch = await step(
        d,
        next.map((t) => [t]),
        mask,
        lengths.map((l) => [l]),
        batch.cache,
      );
      for (const r of [0, 1]) {
        const a = alone[r];
        if (a === undefined) throw new Error('missing row');
        alone[r] = await step(d, [[next[r] ?? 0]], [ones((lengths[r] ?? 0) + 1)], [[lengths[r] ?? 0]], a.cache);
        worst = Math.max(worst, maxAbsDiff(batch.logits[r]?.[0] ?? [], alone[r]?.logits[0]?.[0] ?? []));
      }
      for (const r of [0, 1]) lengths[r] = (lengths[r] ?? 0) + 1;
    }
    expect(worst).toBeLessThan(TOLERANCE);
  });

  it('a plain greedy loop in onnxruntime-node yields transformers.js’s token ids, with clear argmax margins', async () => {
    const d = decoder(id);
    const ref = oracle.models.find((m) => m.id === id);
    if (ref === undefined) throw new Error(`oracle has no ${id}`);
    const cases: GenerationCaseRef[] = [...ref.cases, ...(ref.chat === undefined ? [] : [ref.chat])];
    let minMargin = Infinity;
    for (const c of cases) {
      expect(c.generatedIds.length).toBeGreaterThan(0);
      const ids = [...c.promptIds];
      let out = await step(d, [ids], [ones(ids.length)], [range(0, ids.length)], emptyCache(d, 1));
      const generated: number[] = [];
      while (generated.length < oracle.maxNewTokens) {
        const { index, margin } = argmaxWithMargin(out.logits[0]?.at(-1) ?? []);
        minMargin = Math.min(minMargin, margin);
        generated.push(index);
        if (index === d.eos) break;
        ids.push(index);
        out = await step(d, [[index]], [ones(ids.length)], [[ids.length - 1]], out.cache);
      }
      expect(generated, c.prompt).toEqual(c.generatedIds);
    }
    // Far above float differences between runtimes (~1e-5 here), so the ids do not hinge on a near-tie.
    expect(minMargin).toBeGreaterThan(2e-2);
  });

  it('writes byte-identical folders each time', () => {
    const a = HF_GENERATION_MODELS[id].write(join(root, `${id}-again`));
    const d = decoder(id);
    const files = readdirSync(d.dir).sort();
    expect(readdirSync(a).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(a, f)).equals(readFileSync(join(d.dir, f))), f).toBe(true);
  });
});

describe('tiny-llama use_cache_branch', () => {
  it('false ignores whatever past is fed (as if past length were 0); true attends over it', async () => {
    const d = decoder('tiny-llama');
    const ids = PROMPT.slice(0, 5);
    const reference = await full(d, ids);
    // A garbage past of length 6 (not zeros: zeros would still shift a softmax).
    const garbage: Cache = {};
    let seed = 1;
    const noise = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
    for (let i = 0; i < d.layers; i++)
      for (const kind of ['key', 'value']) {
        const n = d.kvHeads * 6 * d.headDim;
        garbage[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', Float32Array.from({ length: n }, noise), [
          1,
          d.kvHeads,
          6,
          d.headDim,
        ]);
      }
    // Optimum's way (mask over the new tokens only) and a mask that also covers the ignored past.
    for (const mask of [ones(ids.length), ones(6 + ids.length)]) {
      const out = await step(d, [ids], [mask], [range(0, ids.length)], garbage, false);
      expect(out.presentLength).toBe(ids.length);
      let worst = 0;
      for (let s = 0; s < ids.length; s++)
        worst = Math.max(worst, maxAbsDiff(out.logits[0]?.[s] ?? [], reference[s] ?? []));
      expect(worst).toBeLessThan(TOLERANCE);
    }
    const used = await step(d, [ids], [ones(6 + ids.length)], [range(6, 6 + ids.length)], garbage, true);
    expect(used.presentLength).toBe(6 + ids.length);
    expect(maxAbsDiff(used.logits[0]?.at(-1) ?? [], reference.at(-1) ?? [])).toBeGreaterThan(1e-2);
  });
});

describe('tiny-llama rotary embeddings', () => {
  it('see relative positions only: shifting every position_id by 10 leaves the logits unchanged', async () => {
    const d = decoder('tiny-llama');
    const ids = PROMPT.slice(0, 6);
    const reference = await full(d, ids);
    const shifted = await step(d, [ids], [ones(ids.length)], [range(10, 10 + ids.length)], emptyCache(d, 1));
    let worst = 0;
    for (let s = 0; s < ids.length; s++)
      worst = Math.max(worst, maxAbsDiff(shifted.logits[0]?.[s] ?? [], reference[s] ?? []));
    // cos/sin of larger angles round differently, hence a looser bound than the cache's.
    expect(worst).toBeLessThan(1e-3);
  });
});

describe('BPE tokenizers', () => {
  const TEXTS = [
    'Hello, world! The café was great.\nSecond line — naïve façade, 😀 and “quotes”.',
    '  two leading spaces, tabs\tand trailing  ',
    "It's 2024: prices rose 15% (again)...",
  ];

  const FOLDERS = ['tiny-gpt2', 'tiny-llama', 'tiny-llama-metaspace'] as const;

  it.each(FOLDERS)('%s: @huggingface/tokenizers and transformers.js agree on ids and round-trip text', async (id) => {
    const dir =
      id === 'tiny-llama-metaspace'
        ? writeTinyLlamaFolder(join(root, id), { tokenizer: 'metaspace' })
        : decoder(id).dir;
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    const tok = new Tokenizer(json, config);
    // transformers.js loads the folder itself, offline.
    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false;
    t.env.localModelPath = `${root}/`;
    const auto = await t.AutoTokenizer.from_pretrained(id);
    // Metaspace prepends no `▁` to a text that starts with a space, yet the decoder strips one: Hugging Face's own
    // quirk of that form, so leading spaces do not round-trip there.
    for (const text of id === 'tiny-llama-metaspace' ? TEXTS.filter((x) => !x.startsWith(' ')) : TEXTS) {
      const enc = tok.encode(text);
      expect(auto.encode(text)).toEqual(enc.ids);
      expect(tok.decode(enc.ids, { skip_special_tokens: true })).toBe(text);
      expect(auto.decode(enc.ids, { skip_special_tokens: true })).toBe(text);
      // Real merges: common words are single tokens, not letters.
      expect(enc.ids.length).toBeLessThan(text.length * 0.8);
    }
    if (id === 'tiny-gpt2') {
      expect(tok.encode('The food').tokens).toEqual(['The', 'Ġfood']);
      return;
    }
    expect(tok.encode('The food').tokens).toEqual(['<s>', '▁The', '▁food']);
    expect(tok.encode('😀').tokens).toEqual(['<s>', '▁', '<0xF0>', '<0x9F>', '<0x98>', '<0x80>']);
    // The two forms differ only after a special token inside the text: legacy prepends `▁` to every section.
    const after = tok.encode('</s>ok', { add_special_tokens: false }).tokens;
    expect(after[0]).toBe('</s>');
    expect(after[1]?.startsWith('▁')).toBe(id === 'tiny-llama');
  });
});
