/**
 * @module text-generation's shared code in Node over onnxruntime-node (the origin's runtime): the tiny GPT-2 and
 * Llama folders published by the CLI's own code, decoded by the service's loop, must give transformers.js's greedy
 * token ids (the oracle, test/support/hf-generation.ts); KV-cache decoding must equal re-running the whole prefix;
 * seeds, stop sequences and streamed pieces behave as documented; and the origin's continuous batcher must give every
 * one of 8 concurrent sequences exactly what it gives that sequence alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsOf, GenerationScheduler } from '../../origin/generation-scheduler.js';
import { createOriginSession, type OriginSession } from '../../origin/runtime.js';
import {
  decoderEdgeLimits,
  EDGE_CPU_BUDGET_MS,
  EDGE_MEMORY_BUDGET_BYTES,
  generationParts,
} from '../../models/lib/hf-generation-folder.js';
import { decidePlacement } from '../../src/routing/placement.js';
import { ServiceError } from '../../src/lib/errors.js';
import { ManifestSchema, type Manifest } from '../../src/lib/manifest.js';
import { renderChat } from '../../src/tasks/generation/chat-template.js';
import type { LoadedTokenizer } from '../../src/tasks/text/hf-tokenizer.js';
import {
  decoderConfig,
  DecoderConfigSchema,
  emptyBatch,
  runStep,
  type DecoderConfig,
} from '../../src/tasks/generation/kv-cache.js';
import { argmax, chooseToken, seededRng, type SamplingParams } from '../../src/maths/sampling.js';
import { collect, type GenerationEvent } from '../../src/tasks/generation/events.js';
import { generate } from '../../src/tasks/generation/loop.js';
import {
  encodePrompt,
  generationTokenizer,
  planGeneration,
  type DecodingRequest,
  type GenerationPlan,
} from '../../src/tasks/generation/plan.js';
import { Generation } from '../../src/tasks/generation/stepper.js';
import {
  computeHfGeneration,
  HF_GENERATION_CHAT,
  HF_GENERATION_PROMPTS,
  publishHfGeneration,
  type HfGenerationReferences,
} from '../support/hf-generation.js';

interface Loaded {
  manifest: Manifest;
  session: OriginSession;
  tokenizer: LoadedTokenizer;
}

const NAMES = { maxNewTokens: 'max_new_tokens', stop: 'stop', logitBias: 'logit_bias', prompt: 'inputs' };
let root: string;
let refs: HfGenerationReferences;
const models: Record<string, Loaded> = {};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'text-generation-'));
  refs = await computeHfGeneration();
  for (const p of await publishHfGeneration(root)) {
    const manifest = ManifestSchema.parse(JSON.parse(p.manifestText));
    const bytes = (name: string): Uint8Array => {
      const b64 = p.files[name];
      if (b64 === undefined) throw new Error(`${p.id}: no ${name}`);
      return new Uint8Array(Buffer.from(b64, 'base64'));
    };
    const session = await createOriginSession(bytes(manifest.model_file), { provider: 'cpu', intraOpNumThreads: 1 });
    const tokenizer = await generationTokenizer(manifest, { loadFile: (name) => Promise.resolve(bytes(name)) });
    models[p.id] = { manifest, session, tokenizer };
  }
}, 120_000);

afterAll(async () => {
  for (const m of Object.values(models)) await m.session.release();
  rmSync(root, { recursive: true, force: true });
});

function model(id: string): Loaded {
  const m = models[id];
  if (m === undefined) throw new Error(`${id} not loaded`);
  return m;
}

function plan(m: Loaded, prompt: string | number[], request: DecodingRequest = {}): GenerationPlan {
  const ids = typeof prompt === 'string' ? encodePrompt(m.manifest, m.tokenizer, prompt) : prompt;
  return planGeneration(m.manifest, ids, request, NAMES);
}

/** The loop's token ids, through the same `Generation` and `runStep` that `generate` uses. */
async function greedyIds(m: Loaded, p: GenerationPlan): Promise<number[]> {
  const config = decoderConfig(m.manifest);
  const seq = new Generation(p, config, m.tokenizer);
  let step = await runStep(m.session, config, emptyBatch(config), [p.promptIds]);
  for (;;) {
    const logits = step.logits[0];
    if (logits === undefined) throw new Error('no logits');
    const next = seq.accept(logits);
    if (next.finish !== undefined) return seq.completion;
    step = await runStep(m.session, config, step.batch, [[next.token]]);
  }
}

async function events(m: Loaded, p: GenerationPlan, signal?: AbortSignal): Promise<GenerationEvent[]> {
  const out: GenerationEvent[] = [];
  for await (const e of generate(m.session, m.manifest, m.tokenizer, p, signal)) out.push(e);
  return out;
}

const textOf = (es: GenerationEvent[]): string => es.map((e) => (e.type === 'text' ? e.text : '')).join('');
const doneOf = (es: GenerationEvent[]): Extract<GenerationEvent, { type: 'done' }> => {
  const d = es.at(-1);
  if (d?.type !== 'done') throw new Error('no done event');
  return d;
};

describe.each(['tiny-gpt2', 'tiny-llama'])('%s', (id) => {
  const ref = () => {
    const r = refs.models.find((x) => x.id === id);
    if (r === undefined) throw new Error(`no oracle for ${id}`);
    return r;
  };

  it('is published as text-generation with the cache layout config.json states', () => {
    const m = model(id);
    expect(m.manifest.task).toBe('text-generation');
    const config = decoderConfig(m.manifest);
    expect(config.layers).toBe(2);
    expect(config.use_cache_branch).toBe(id === 'tiny-llama');
    expect(config.kv_heads).toBe(id === 'tiny-llama' ? 2 : 4);
    expect(config.eos_token_ids).toEqual([ref().eosTokenId]);
  });

  it.each(HF_GENERATION_PROMPTS.map((p, i) => [i, p] as const))(
    'greedy ids equal transformers.js (prompt %i)',
    async (i, prompt) => {
      const m = model(id);
      const r = ref().cases[i];
      if (r === undefined) throw new Error('no case');
      const p = plan(m, prompt, { maxNewTokens: refs.maxNewTokens, temperature: 0 });
      expect(p.promptIds).toEqual(r.promptIds);
      expect(await greedyIds(m, p)).toEqual(r.generatedIds);
      // generate() itself: the streamed pieces and the final text are the pipeline's text.
      const es = await events(m, p);
      expect(textOf(es)).toBe(r.generatedText);
      expect(doneOf(es).text).toBe(r.generatedText);
      expect(doneOf(es).usage).toEqual({
        prompt_tokens: r.promptIds.length,
        completion_tokens: r.generatedIds.length,
        total_tokens: r.promptIds.length + r.generatedIds.length,
      });
    },
  );

  it('decodes with the KV cache exactly as re-running the whole prefix (1e-4 on logits)', async () => {
    const m = model(id);
    const config = decoderConfig(m.manifest);
    const ids = encodePrompt(m.manifest, m.tokenizer, HF_GENERATION_PROMPTS[1]);
    let cached = await runStep(m.session, config, emptyBatch(config), [ids]);
    let worst = 0;
    for (let s = 0; s < 10; s++) {
      const logits = cached.logits[0] ?? new Float32Array(0);
      const full = (await runStep(m.session, config, emptyBatch(config), [ids])).logits[0] ?? new Float32Array(0);
      expect(full.length).toBe(config.vocab_size);
      for (let v = 0; v < full.length; v++) worst = Math.max(worst, Math.abs((full[v] ?? 0) - (logits[v] ?? 0)));
      const next = argmax(logits);
      ids.push(next);
      cached = await runStep(m.session, config, cached.batch, [[next]]);
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it('stops before a stop sequence, and streamed pieces never hold its start', async () => {
    const m = model(id);
    const r = ref().cases[0];
    if (r === undefined) throw new Error('no case');
    const stop = r.generatedText.slice(4, 7);
    const cut = r.generatedText.indexOf(stop);
    const es = await events(m, plan(m, HF_GENERATION_PROMPTS[0], { maxNewTokens: 16, temperature: 0, stop: [stop] }));
    expect(doneOf(es).finish_reason).toBe('stop');
    expect(doneOf(es).text).toBe(r.generatedText.slice(0, cut));
    expect(textOf(es)).toBe(doneOf(es).text);
  });

  it('reproduces a sampled answer from its seed', async () => {
    const m = model(id);
    const sampled = (seed: number) =>
      events(m, plan(m, HF_GENERATION_PROMPTS[2], { maxNewTokens: 12, temperature: 1.2, topK: 50, seed }));
    const a = doneOf(await sampled(7)).text;
    expect(doneOf(await sampled(7)).text).toBe(a);
    const others = await Promise.all([8, 9, 10].map(async (s) => doneOf(await sampled(s)).text));
    expect(others.some((t) => t !== a)).toBe(true);
  });

  it('says finish_reason "length" when cut at max_new_tokens, and "cancelled" when aborted', async () => {
    const m = model(id);
    const cut = doneOf(await events(m, plan(m, 'The food was', { maxNewTokens: 3, temperature: 0 })));
    expect(cut.finish_reason).toBe('length');
    expect(cut.usage.completion_tokens).toBe(3);
    const controller = new AbortController();
    controller.abort();
    const cancelled = doneOf(await events(m, plan(m, 'The food was', { maxNewTokens: 10 }), controller.signal));
    expect(cancelled.finish_reason).toBe('cancelled');
  });

  it('refuses a max_new_tokens the context cannot hold, naming the field', () => {
    const m = model(id);
    const context = decoderConfig(m.manifest).context_length;
    expect(() => plan(m, 'The food was', { maxNewTokens: context })).toThrow(/max_new_tokens: .* do not fit/);
  });

  it('continuous batching: 8 concurrent sequences of different lengths equal their solo outputs', async () => {
    const m = model(id);
    const prompts = [...HF_GENERATION_PROMPTS, ...HF_GENERATION_PROMPTS.map((p) => `${p} and then`)];
    const plans = prompts.map((p, i) => plan(m, p, { maxNewTokens: 4 + 3 * i, temperature: 0 }));
    const solo: string[] = [];
    for (const p of plans) solo.push((await collect(generate(m.session, m.manifest, m.tokenizer, p))).text);
    const steps: number[] = [];
    const scheduler = new GenerationScheduler(m.session, m.manifest, {
      maxBatch: 16,
      tokenBudget: 100_000,
      onStep: (rows, kind) => {
        if (kind === 'decode') steps.push(rows);
      },
    });
    const never = new AbortController().signal;
    const batched = await Promise.all(
      plans.map(async (p) => (await collect(eventsOf(scheduler.submit(p, m.tokenizer, never)))).text),
    );
    expect(batched).toEqual(solo);
    // They really ran together: some decode step carried all 8 rows.
    expect(Math.max(...steps)).toBe(8);
  });
});

describe('the Llama chat template', () => {
  it('renders the conversation as transformers.js does, to the same ids', () => {
    const m = model('tiny-llama');
    const chat = refs.models.find((r) => r.id === 'tiny-llama')?.chat;
    if (chat === undefined) throw new Error('no chat oracle');
    const config = decoderConfig(m.manifest);
    const text = renderChat(HF_GENERATION_CHAT, config.chat_template, {
      bos_token: m.tokenizer.tokenizer.id_to_token(config.bos_token_id ?? -1),
      eos_token: m.tokenizer.tokenizer.id_to_token(config.eos_token_ids[0] ?? -1),
    });
    expect(text).toBe(chat.prompt);
    expect(m.tokenizer.tokenizer.encode(text, { add_special_tokens: false }).ids).toEqual(chat.promptIds);
  });
});

describe('the scheduler token budget', () => {
  it('answers 429 token_budget_exceeded with Retry-After beyond it, and frees the budget as sequences end', async () => {
    const m = model('tiny-gpt2');
    const scheduler = new GenerationScheduler(m.session, m.manifest, { maxBatch: 4, tokenBudget: 40 });
    const never = new AbortController().signal;
    const p = plan(m, 'The food was', { maxNewTokens: 20, temperature: 0 });
    const first = scheduler.submit(p, m.tokenizer, never);
    let refused: unknown;
    try {
      scheduler.submit(p, m.tokenizer, never);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(ServiceError);
    expect((refused as ServiceError).status).toBe(429);
    expect((refused as ServiceError).code).toBe('token_budget_exceeded');
    expect(Number((refused as ServiceError).headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    await collect(eventsOf(first));
    expect(scheduler.stats.tokens).toBe(0);
    await collect(eventsOf(scheduler.submit(p, m.tokenizer, never)));
  });
});

describe('sampling', () => {
  const base: SamplingParams = {
    temperature: 1,
    topK: 0,
    topP: 1,
    repetitionPenalty: 1,
    frequencyPenalty: 0,
    presencePenalty: 0,
    logitBias: new Map(),
  };
  const logitsArb = fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 2, maxLength: 64 });

  it('top_k draws only among the k highest logits', () => {
    fc.assert(
      fc.property(logitsArb, fc.integer({ min: 1, max: 5 }), fc.integer(), (values, k, seed) => {
        const logits = Float32Array.from(values);
        const id = chooseToken(logits, { ...base, topK: k }, [], [], seededRng(seed));
        const rank = values.filter((v) => v > (values[id] ?? 0)).length;
        expect(rank).toBeLessThan(k);
      }),
      { numRuns: 300 },
    );
  });

  it('top_p draws only from the smallest head holding that probability', () => {
    fc.assert(
      fc.property(logitsArb, fc.double({ min: 0.05, max: 0.95, noNaN: true }), fc.integer(), (values, p, seed) => {
        const logits = Float32Array.from(values);
        const id = chooseToken(logits, { ...base, topP: p }, [], [], seededRng(seed));
        const max = Math.max(...values);
        const weights = values.map((v) => Math.exp(v - max));
        const total = weights.reduce((a, b) => a + b, 0);
        // Mass strictly above the chosen token must still be under p, else it was outside the nucleus.
        const above = weights.filter((w, i) => w > (weights[id] ?? 0) && i !== id).reduce((a, b) => a + b, 0);
        expect(above / total).toBeLessThan(p + 1e-9);
      }),
      { numRuns: 300 },
    );
  });

  it('the first draw of consecutive small seeds follows the softmax', () => {
    // Callers send seeds like 1, 2, 3: each request's first token must be a fair draw, not one from the tail.
    const logits = Float32Array.from([2, 1, 0, -1]);
    const weights = Array.from(logits, (v) => Math.exp(v));
    const total = weights.reduce((a, b) => a + b, 0);
    const n = 1000;
    const counts = [0, 0, 0, 0];
    for (let seed = 0; seed < n; seed++) {
      const id = chooseToken(logits, base, [], [], seededRng(seed));
      counts[id] = (counts[id] ?? 0) + 1;
    }
    weights.forEach((w, id) => {
      const p = w / total;
      // Five binomial standard deviations: a fair generator fails this about once in 10^6 runs.
      expect(Math.abs((counts[id] ?? 0) / n - p), `token ${id}`).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
    });
  });

  it('temperature 0 is argmax; a repetition penalty lowers a seen token', () => {
    const logits = Float32Array.from([1, 3, 2]);
    expect(chooseToken(logits, { ...base, temperature: 0 }, [], [], seededRng(1))).toBe(1);
    expect(chooseToken(logits, { ...base, temperature: 0, repetitionPenalty: 2 }, [1], [], seededRng(1))).toBe(2);
    const bias = new Map([[0, 10]]);
    expect(chooseToken(logits, { ...base, temperature: 0, logitBias: bias }, [], [], seededRng(1))).toBe(0);
  });
});

describe('publishing checks', () => {
  it.each(['tiny-gpt2', 'tiny-llama'])(
    '%s: edge_limits come from its decode step measured in onnxruntime-web at publish',
    (id) => {
      const { manifest } = model(id);
      const step = manifest.metrics['p50_ms_decode_step_web'];
      expect(typeof step === 'number' && step > 0, 'p50_ms_decode_step_web').toBe(true);
      const limit = manifest.edge_limits.max_tokens ?? 0;
      // The tokens whose decoding fits the budget, and not one more (memory binds only for large caches).
      expect(limit * Number(step)).toBeLessThanOrEqual(EDGE_CPU_BUDGET_MS);
      expect((limit + 1) * Number(step)).toBeGreaterThan(EDGE_CPU_BUDGET_MS - 1e-9);
      expect(manifest.edge_limits.max_model_bytes).toBe(EDGE_MEMORY_BUDGET_BYTES / 2);
    },
  );

  it('keeps a decoder too big for an isolate off the edge, and caps tokens by the KV cache a large model needs', () => {
    const layout = (layers: number, kvHeads: number, headDim: number): DecoderConfig =>
      DecoderConfigSchema.parse({
        kind: 'decoder',
        layers,
        kv_heads: kvHeads,
        head_dim: headDim,
        vocab_size: 32_000,
        context_length: 4096,
      });
    const base = model('tiny-llama').manifest;
    const withModel = (bytes: number, limits: Manifest['edge_limits']): Manifest => ({
      ...base,
      edge_limits: limits,
      files: base.files.map((f) => (f.name === base.model_file ? { ...f, bytes } : f)),
    });
    // A 7B-parameter Llama in fp16 (13.5 GB): never at the edge, even with no origin to go to.
    const big = 13_476_000_000;
    const huge = decidePlacement({
      manifest: withModel(big, decoderEdgeLimits(layout(32, 32, 128), big, 20)),
      size: { batch: 1, tokens: 16 },
      originConfigured: false,
    });
    expect(huge.target).toBe('origin');
    expect(huge.edgeFallback).toBe(false);
    expect(huge.exceeded.join()).toMatch(/model bytes 13476000000 > max_model_bytes/);
    // 30 MB of weights leave 4 MiB for a cache of 32 layers × 8 KV heads × 128 (4 × 256 KiB a token): 4 tokens.
    const tight = decoderEdgeLimits(layout(32, 8, 128), 30 * 1024 * 1024, 0.01);
    expect(tight.max_tokens).toBe(4);
    const long = decidePlacement({
      manifest: withModel(30 * 1024 * 1024, tight),
      size: { batch: 1, tokens: 40 },
      originConfigured: true,
    });
    expect(long.target).toBe('origin');
    expect(long.edgeFallback).toBe(true);
  });

  it('refuses a folder whose config.json disagrees with the graph on layers', async () => {
    const dir = join(root, 'tiny-gpt2');
    await expect(
      generationParts(dir, ['input_ids', 'attention_mask', 'past_key_values.0.key', 'past_key_values.0.value']),
    ).rejects.toThrow(/config.json says 2 layers/);
  });
});
