/**
 * @module Tests of brown-gpt-en: the training graph's gradients against finite differences, the exported KV-cache
 * graph against full recomputation (and left padding) and against the training graph's forward on the same weights,
 * the held-out bits per character recomputed here in onnxruntime-node against the manifest, the Kneser–Ney 3-gram
 * baseline refitted here and beaten on the same held-out characters (plus an absolute bound), the 3-gram itself on
 * hand-worked cases, the tokenizer's exact round trip in both Hugging Face libraries, and transformers.js's own
 * text-generation pipeline, greedy and offline on the built folder, against a plain greedy loop over the served file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileText, loadTexts, splitTexts } from '../../models/brown-gpt-en/data.js';
import { bitsPerChar, fitKneserNey3, type KneserNey3 } from '../../models/brown-gpt-en/ngram.js';
import {
  gradName,
  inferenceGraph,
  initParams,
  IO,
  paramSpecs,
  TRAIN_IO,
  type GptConfig,
  type Params,
} from '../../models/brown-gpt-en/gpt.js';
import { buildVocab, encoder, EOT_ID, textStreams, UNK } from '../../models/brown-gpt-en/tokenizer.js';
import { trainingFeeds, trainingSession } from '../../models/brown-gpt-en/train.js';
import { decode, tensorDims, tensorValues } from '../../models/lib/onnx-builder.js';
import { mulberry32 } from '../../models/lib/train.js';
import { buildAll, BUILD_DIR } from '../../scripts/models.js';
import { ManifestSchema, type Manifest } from '../../src/lib/manifest.js';

const ID = 'brown-gpt-en';

interface Built {
  dir: string;
  version: string;
  manifest: Manifest;
  config: GptConfig;
}

let built: Built;
let splits: ReturnType<typeof splitTexts>;

beforeAll(async () => {
  // A no-op when the cached build's inputs hash matches (global setup has normally built it already).
  await buildAll({ only: [ID], log: () => undefined });
  const version = readFileSync(join(BUILD_DIR, ID, 'latest'), 'utf8').trim();
  const dir = join(BUILD_DIR, ID, version);
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, number>;
  const num = (k: string): number => {
    const v = cfg[k];
    if (typeof v !== 'number') throw new Error(`config.json has no ${k}`);
    return v;
  };
  built = {
    dir,
    version,
    manifest,
    config: {
      vocabSize: num('vocab_size'),
      nPositions: num('n_positions'),
      nLayer: num('n_layer'),
      nHead: num('n_head'),
      nEmbd: num('n_embd'),
    },
  };
  splits = splitTexts(loadTexts());
}, 600_000);

const metric = (name: string): number => {
  const v = built.manifest.metrics[name];
  if (typeof v !== 'number') throw new Error(`metric ${name} missing`);
  return v;
};

const modelBytes = (name = 'model.onnx'): Uint8Array => new Uint8Array(readFileSync(join(built.dir, name)));

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
}

function floats(out: ort.InferenceSession.OnnxValueMapType, name: string): Float32Array {
  const d = out[name]?.data;
  if (!(d instanceof Float32Array)) throw new Error(`output ${name} missing`);
  return d;
}

const int64 = (values: readonly number[], dims: number[]): ort.Tensor =>
  new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);

/** Feeds of the exported graph: rows of ids (same length), their masks over past + new, positions, and the past. */
function decoderFeeds(
  c: GptConfig,
  ids: readonly number[][],
  mask: readonly number[][],
  positions: readonly number[][],
  past?: ort.InferenceSession.OnnxValueMapType,
): Record<string, ort.Tensor> {
  const b = ids.length;
  const s = ids[0]?.length ?? 0;
  const hd = c.nEmbd / c.nHead;
  const feeds: Record<string, ort.Tensor> = {
    [IO.inputIds]: int64(ids.flat(), [b, s]),
    [IO.attentionMask]: int64(mask.flat(), [b, mask[0]?.length ?? 0]),
    [IO.positionIds]: int64(positions.flat(), [b, s]),
  };
  for (let i = 0; i < c.nLayer; i++) {
    for (const [inName, outName] of [
      [IO.pastKey(i), IO.presentKey(i)],
      [IO.pastValue(i), IO.presentValue(i)],
    ] as const) {
      const p = past?.[outName];
      feeds[inName] = p ?? new ort.Tensor('float32', new Float32Array(0), [b, c.nHead, 0, hd]);
    }
  }
  return feeds;
}

function argmax(xs: Float32Array, from: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if ((xs[from + i] ?? 0) > (xs[from + best] ?? 0)) best = i;
  return best;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return m;
}

/** Weights of a built model file, by initializer name. */
function weightsOf(bytes: Uint8Array, c: GptConfig): Params {
  const m = decode(bytes);
  const byName = new Map((m.graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
  const p: Params = new Map();
  for (const s of paramSpecs(c)) {
    const t = byName.get(s.name);
    if (t === undefined) throw new Error(`initializer ${s.name} missing`);
    const v = tensorValues(t);
    if (!(v instanceof Float32Array)) throw new Error(`${s.name} is not float32`);
    expect(tensorDims(t)).toEqual(s.dims);
    p.set(s.name, v);
  }
  return p;
}

const TINY: GptConfig = { vocabSize: 13, nPositions: 10, nLayer: 2, nHead: 2, nEmbd: 8 };

/** Tiny weights made large enough that every path carries a visible gradient. */
function tinyParams(seed: number): Params {
  const p = initParams(TINY, seed);
  const r = mulberry32(seed + 1);
  for (const v of p.values()) for (let i = 0; i < v.length; i++) v[i] = (v[i] ?? 0) + (r() - 0.5) * 0.6;
  return p;
}

describe('brown-gpt-en training graph', () => {
  it('gives every weight the gradient finite differences measure', async () => {
    const B = 2;
    const T = 7; // shorter than nPositions: the untouched rows of wpe must get zero gradient
    const s = await trainingSession(TINY, B, T, 1);
    const p = tinyParams(3);
    const r = mulberry32(11);
    const ids = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(r() * TINY.vocabSize)));
    const targets = BigInt64Array.from({ length: B * T }, () => BigInt(Math.floor(r() * TINY.vocabSize)));
    const loss = async (): Promise<number> =>
      floats(await s.run(trainingFeeds(TINY, p, ids, targets, B, T), [TRAIN_IO.loss]), TRAIN_IO.loss)[0] ?? 0;
    const out = await s.run(trainingFeeds(TINY, p, ids, targets, B, T));
    const h = 1e-2;
    for (const spec of paramSpecs(TINY)) {
      const g = floats(out, gradName(spec.name));
      const w = p.get(spec.name) ?? new Float32Array(0);
      expect(g.length).toBe(w.length);
      if (spec.name === 'wpe') for (let i = T * TINY.nEmbd; i < g.length; i++) expect(g[i]).toBe(0);
      for (let k = 0; k < 6; k++) {
        const i = Math.floor(r() * (spec.name === 'wpe' ? T * TINY.nEmbd : w.length));
        const orig = w[i] ?? 0;
        w[i] = orig + h;
        const up = await loss();
        w[i] = orig - h;
        const down = await loss();
        w[i] = orig;
        // Central differences in float32: error ~h² plus rounding of the loss (~1e-7 / h).
        expect(Math.abs((up - down) / (2 * h) - (g[i] ?? 0)), `${spec.name}[${i}]`).toBeLessThan(2e-4);
      }
    }
    await s.release();
  }, 120_000);

  it('computes the same logits as the exported decoder on the same weights', async () => {
    const B = 2;
    const T = TINY.nPositions;
    const p = tinyParams(5);
    const r = mulberry32(2);
    const rows = Array.from({ length: B }, () => Array.from({ length: T }, () => Math.floor(r() * TINY.vocabSize)));
    const ids = BigInt64Array.from(rows.flat().map(BigInt));
    const train = await trainingSession(TINY, B, T, 1);
    const trainLogits = floats(
      await train.run(trainingFeeds(TINY, p, ids, ids, B, T), [TRAIN_IO.logits]),
      TRAIN_IO.logits,
    );
    await train.release();
    const dec = await session(inferenceGraph(TINY, p, 'test'));
    const positions = rows.map((row) => row.map((_, t) => t));
    const decLogits = floats(
      await dec.run(
        decoderFeeds(
          TINY,
          rows,
          rows.map((row) => row.map(() => 1)),
          positions,
        ),
        [IO.logits],
      ),
      IO.logits,
    );
    expect(maxAbsDiff(trainLogits, decLogits)).toBeLessThan(1e-4);
    await dec.release();
  });
});

describe('brown-gpt-en build', () => {
  it('writes a text-generation manifest with the Hugging Face folder beside it', () => {
    const m = built.manifest;
    expect(m.task).toBe('text-generation');
    expect(m.model_file).toBe('model.onnx');
    expect(m.files.map((f) => f.name).sort()).toEqual(
      [
        'config.json',
        'generation_config.json',
        'model.onnx',
        'special_tokens_map.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ].sort(),
    );
    const config = JSON.parse(readFileSync(join(built.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['model_type']).toBe('gpt2');
    expect(config['architectures']).toEqual(['GPT2LMHeadModel']);
    expect(config['bos_token_id']).toBe(EOT_ID);
    expect(config['eos_token_id']).toBe(EOT_ID);
    expect(m.postprocess['context_length']).toBe(built.config.nPositions);
    expect(m.source.kind).toBe('trained');
  });

  it('serves the variant its quantization names', () => {
    // The recipe picks the variant by measured decode speed; whichever it picked, model.onnx must be that file.
    const q = built.manifest.quantization;
    const file = q.type === 'fp32' ? 'model.fp32.onnx' : `model.int8-${q.method}.onnx`;
    expect(Buffer.from(modelBytes()).equals(Buffer.from(modelBytes(file)))).toBe(true);
  });

  it('decodes with its KV cache exactly as a full recomputation, left padding included', async () => {
    const c = built.config;
    const s = await session(modelBytes());
    const vocab = c.vocabSize;
    const r = mulberry32(4);
    const prompt = Array.from({ length: 9 }, () => 2 + Math.floor(r() * (vocab - 2)));
    // Prefill 9 tokens, then 6 single-token steps fed back through past/present.
    let out = await s.run(decoderFeeds(c, [prompt], [prompt.map(() => 1)], [prompt.map((_, t) => t)]));
    const seq = [...prompt];
    const stepped: Float32Array[] = [];
    for (let step = 0; step < 6; step++) {
      // The prefill's logits are [1, 9, vocab]; each step's [1, 1, vocab].
      const row = step === 0 ? prompt.length - 1 : 0;
      const next = argmax(floats(out, IO.logits), row * vocab, vocab);
      seq.push(next);
      out = await s.run(decoderFeeds(c, [[next]], [seq.map(() => 1)], [[seq.length - 1]], out));
      stepped.push(floats(out, IO.logits).slice());
    }
    const full = floats(await s.run(decoderFeeds(c, [seq], [seq.map(() => 1)], [seq.map((_, t) => t)])), IO.logits);
    stepped.forEach((logits, k) => {
      const t = prompt.length + k;
      expect(maxAbsDiff(logits, full.slice(t * vocab, (t + 1) * vocab))).toBeLessThan(1e-4);
    });
    // A row left-padded by 4 next to a full row answers as it does alone.
    const short = seq.slice(0, 8);
    const padded = [0, 0, 0, 0, ...short];
    const both = floats(
      await s.run(
        decoderFeeds(
          c,
          [seq.slice(0, 12), padded],
          [seq.slice(0, 12).map(() => 1), padded.map((_, t) => (t < 4 ? 0 : 1))],
          [seq.slice(0, 12).map((_, t) => t), padded.map((_, t) => (t < 4 ? 1 : t - 4))],
        ),
      ),
      IO.logits,
    );
    const alone = floats(
      await s.run(decoderFeeds(c, [short], [short.map(() => 1)], [short.map((_, t) => t)])),
      IO.logits,
    );
    for (let t = 0; t < short.length; t++)
      expect(
        maxAbsDiff(both.slice((12 + 4 + t) * vocab, (12 + 5 + t) * vocab), alone.slice(t * vocab, (t + 1) * vocab)),
      ).toBeLessThan(1e-4);
    await s.release();
  }, 60_000);

  it('computes the same full-sequence logits as its training graph on its own weights', async () => {
    const c = built.config;
    const bytes = modelBytes('model.fp32.onnx');
    const p = weightsOf(bytes, c);
    const T = 32;
    const r = mulberry32(8);
    const row = Array.from({ length: T }, () => 2 + Math.floor(r() * (c.vocabSize - 2)));
    // The training graph wants full windows of its compiled length; any length ≤ nPositions is a valid graph.
    const train = await trainingSession(c, 1, T, 1);
    const ids = BigInt64Array.from(row.map(BigInt));
    const a = floats(await train.run(trainingFeeds(c, p, ids, ids, 1, T), [TRAIN_IO.logits]), TRAIN_IO.logits);
    await train.release();
    const s = await session(bytes);
    const b = floats(await s.run(decoderFeeds(c, [row], [row.map(() => 1)], [row.map((_, t) => t)])), IO.logits);
    await s.release();
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
  }, 60_000);

  it("recomputes the served model's held-out bits per character on three held-out files", async () => {
    const c = built.config;
    const byFile = built.manifest.metrics['heldout_bits_per_char_by_file'];
    if (typeof byFile !== 'object') throw new Error('per-file metric missing');
    const vocab = buildVocab(splits.train.map(fileText));
    expect(vocab.tokens.length).toBe(c.vocabSize);
    const files = [splits.heldout[0], splits.heldout[7], splits.heldout[15]].flatMap((d) => (d ? [d] : []));
    expect(files).toHaveLength(3);
    const streams = textStreams(files.map(fileText), encoder(vocab));
    const { bits, chars } = await servedBits(streams);
    const expected = files.reduce(
      (acc, d, i) => acc + (byFile[d.id] ?? Number.NaN) * ((streams[i]?.length ?? 1) - 1),
      0,
    );
    // Same protocol, another implementation and thread count: agreement to far better than the 0.05 asked.
    expect(Math.abs(bits / chars - expected / chars)).toBeLessThan(0.01);
    // The slice's figure is also close to the whole held-out figure (genres differ, so loosely).
    expect(Math.abs(bits / chars - metric('heldout_bits_per_char'))).toBeLessThan(0.5);
  }, 120_000);
});

/**
 * The served model's bits per character on token streams, in onnxruntime-node, written apart from evaluate.ts: slide
 * a window of n_positions by half of it over each stream and score each target once (the build's protocol).
 */
async function servedBits(streams: readonly Int32Array[]): Promise<{ bits: number; chars: number }> {
  const c = built.config;
  const s = await session(modelBytes());
  const T = c.nPositions;
  let bits = 0;
  let chars = 0;
  try {
    for (const stream of streams) {
      const targets = stream.length - 1;
      let done = 0;
      for (let start = 0; done < targets; start += T / 2) {
        const from = Math.max(0, Math.min(start, targets - T));
        const len = Math.min(T, targets - from);
        const ids = Array.from(stream.subarray(from, from + len));
        const logits = floats(
          await s.run(decoderFeeds(c, [ids], [ids.map(() => 1)], [ids.map((_, t) => t)]), [IO.logits]),
          IO.logits,
        );
        for (let t = done - from; t < len; t++) {
          const row = logits.subarray(t * c.vocabSize, (t + 1) * c.vocabSize);
          const max = Math.max(...row);
          const logSum = Math.log(row.reduce((acc, v) => acc + Math.exp(v - max), 0)) + max;
          bits += (logSum - (row[stream[from + t + 1] ?? 0] ?? 0)) / Math.LN2;
          chars++;
        }
        done = from + len;
      }
    }
  } finally {
    await s.release();
  }
  return { bits, chars };
}

/** Characters of each held-out file in the like-for-like sample: every genre, a sixth of the text, a few seconds. */
const SAMPLE_CHARS = 2048;
/**
 * The absolute bound on the sample: the README's 2.249 bits/char over the whole held-out split plus 0.15. The 23 files'
 * own figures spread by 0.16 (standard deviation, manifest per-file metric), so a mean over all 23 of them sits within
 * about 0.16/√23 ≈ 0.03 of the whole figure; 0.15 leaves room for the files' first 2,048 characters differing from
 * the rest, and still fails a model that lost a tenth of its margin over the 3-gram (2.92).
 */
const MAX_SAMPLE_BITS_PER_CHAR = 2.4;

describe('brown-gpt-en against its Kneser–Ney 3-gram baseline, both computed here', () => {
  let kn: KneserNey3;
  let encode: (text: string) => Int32Array;
  beforeAll(() => {
    const vocab = buildVocab(splits.train.map(fileText));
    encode = encoder(vocab);
    // The baseline refitted here from the training split (ngram.ts, the recipe's code; data.ts's seeded split).
    kn = fitKneserNey3(textStreams(splits.train.map(fileText), encode), vocab.tokens.length);
  }, 120_000);

  it('the refitted 3-gram scores the whole held-out split as the card says', () => {
    const heldout = textStreams(splits.heldout.map(fileText), encode);
    const whole = bitsPerChar(kn, heldout);
    expect(whole.chars).toBe(heldout.reduce((n, s) => n + s.length - 1, 0));
    // The card rounds to 4 decimals; a 3-gram that beat the GPT would fail the comparison below instead.
    expect(Math.abs(whole.bpc - metric('baseline_heldout_bits_per_char'))).toBeLessThanOrEqual(5e-5);
  });

  it('the served model beats the 3-gram on the same held-out characters, and stays under an absolute bound', async () => {
    const sample = textStreams(
      splits.heldout.map((d) => fileText(d).slice(0, SAMPLE_CHARS)),
      encode,
    );
    expect(sample).toHaveLength(splits.heldout.length);
    const gpt = await servedBits(sample);
    const baseline = bitsPerChar(kn, sample);
    // Both score every character after each file's leading end-of-text: the same targets.
    expect(gpt.chars).toBe(baseline.chars);
    expect(gpt.chars).toBeGreaterThan(splits.heldout.length * (SAMPLE_CHARS / 2));
    expect(gpt.bits / gpt.chars).toBeLessThan(baseline.bpc);
    expect(gpt.bits / gpt.chars).toBeLessThan(MAX_SAMPLE_BITS_PER_CHAR);
  }, 120_000);
});

describe('the Kneser–Ney 3-gram on hand-worked cases', () => {
  it('gives the probabilities interpolated modified Kneser–Ney gives, worked out by hand', () => {
    /*
     * Vocabulary {0 = bos, 1 = a, 2 = b}, one stream: bos a a b a. The first character is conditioned on (bos, bos).
     * Trigrams (u, v, w), each seen once: (0,0,1), (0,1,1), (1,1,2), (1,2,1). Every order's count-of-counts has
     * n2 or n3 = 0, so every order takes the fallback discounts D1 = 0.5, D2 = 1, D3+ = 1.5.
     * Bigram continuation counts N1+(• v w) (distinct u before (v, w)): (0,1) = (1,1) = (1,2) = (2,1) = 1.
     * Unigram continuation counts N1+(• w) (distinct v before w): w=0: 0, w=1: 3 (v = 0, 1, 2), w=2: 1 (v = 1).
     * Unigrams: total 4, γ = (D(3) + D(1)) / 4 = 0.5, so p1(w) = (max(N − D, 0) + 0.5 · 4 · 1/3) / 4:
     *   p1(0) = (2/3)/4 = 1/6, p1(1) = (1.5 + 2/3)/4 = 13/24, p1(2) = (0.5 + 2/3)/4 = 7/24.
     * Bigrams, context v = 1: N = {1: 1, 2: 1}, total 2, γ = (0.5 + 0.5)/2 = 0.5, γ · total = 1:
     *   p2(1|1) = (0.5 + 13/24)/2 = 25/48, p2(2|1) = (0.5 + 7/24)/2 = 19/48, p2(0|1) = (1/6)/2 = 1/12.
     * Context v = 0 (and likewise v = 2): N = {1: 1}, total 1, γ = 0.5:
     *   p2(1|0) = 0.5 + 0.5 · 13/24 = 37/48, p2(0|0) = 0.5 · 1/6 = 1/12, p2(2|0) = 0.5 · 7/24 = 7/48.
     * Trigrams, each seen context holds one count, so γ = 0.5 and p(w|u,v) = [w seen] · 0.5 + 0.5 · p2(w|v):
     *   p(1|0,0) = 0.5 + 37/96 = 85/96, p(0|0,0) = 1/24, p(2|0,0) = 7/96;
     *   p(1|0,1) = 0.5 + 25/96 = 73/96, p(2|0,1) = 19/96; p(2|1,1) = 0.5 + 19/96 = 67/96, p(1|1,1) = 25/96;
     *   p(1|1,2) = 0.5 + 37/96 = 85/96. An unseen context (2,2) backs off to the bigram: p(1|2,2) = 37/48.
     */
    const stream = Int32Array.from([0, 1, 1, 2, 1]);
    const m = fitKneserNey3([stream], 3);
    expect(m.discounts['3']).toEqual([0.5, 1, 1.5]);
    const cases: [number, number, number, number][] = [
      [0, 0, 1, 85 / 96],
      [0, 0, 0, 1 / 24],
      [0, 0, 2, 7 / 96],
      [0, 1, 1, 73 / 96],
      [0, 1, 2, 19 / 96],
      [1, 1, 2, 67 / 96],
      [1, 1, 1, 25 / 96],
      [1, 2, 1, 85 / 96],
      [2, 2, 1, 37 / 48],
      [2, 2, 0, 1 / 12],
    ];
    for (const [u, v, w, p] of cases) expect(m.prob(u, v, w), `p(${w}|${u},${v})`).toBeCloseTo(p, 12);
    // Every context's distribution sums to 1, seen or not.
    for (let u = 0; u < 3; u++)
      for (let v = 0; v < 3; v++) expect(m.prob(u, v, 0) + m.prob(u, v, 1) + m.prob(u, v, 2)).toBeCloseTo(1, 12);
    // Scored on itself: −log2(85/96 · 73/96 · 67/96 · 85/96) over its 4 characters (bos is context, not scored).
    const scored = bitsPerChar(m, [stream]);
    expect(scored.chars).toBe(4);
    expect(scored.bpc).toBeCloseTo(-Math.log2((85 / 96) * (73 / 96) * (67 / 96) * (85 / 96)) / 4, 12);
  });

  it("estimates Chen and Goodman's discounts from the count-of-counts", () => {
    /*
     * Streams bos a a a a a a, bos b b b b b, bos a b a b a (a = 1, b = 2). Trigram counts:
     *   (0,0,1) 2, (0,1,1) 1, (1,1,1) 4, (0,0,2) 1, (0,2,2) 1, (2,2,2) 3, (0,1,2) 1, (1,2,1) 2, (2,1,2) 1,
     * so n1 = 5, n2 = 2, n3 = 1, n4 = 1; Y = n1 / (n1 + 2 n2) = 5/9 and
     *   D1 = 1 − 2Y·n2/n1 = 1 − 4/9 = 5/9, D2 = 2 − 3Y·n3/n2 = 2 − 5/6 = 7/6, D3+ = 3 − 4Y·n4/n3 = 3 − 20/9 = 7/9.
     */
    const m = fitKneserNey3(
      [
        Int32Array.from([0, 1, 1, 1, 1, 1, 1]),
        Int32Array.from([0, 2, 2, 2, 2, 2]),
        Int32Array.from([0, 1, 2, 1, 2, 1]),
      ],
      3,
    );
    const [d1, d2, d3] = m.discounts['3'];
    expect(d1).toBeCloseTo(5 / 9, 12);
    expect(d2).toBeCloseTo(7 / 6, 12);
    expect(d3).toBeCloseTo(7 / 9, 12);
    // The estimated discounts still leave every context a distribution.
    for (let u = 0; u < 3; u++)
      for (let v = 0; v < 3; v++) expect(m.prob(u, v, 0) + m.prob(u, v, 1) + m.prob(u, v, 2)).toBeCloseTo(1, 12);
  });
});

describe('brown-gpt-en tokenizer', () => {
  it('round-trips held-out text exactly in @huggingface/tokenizers and transformers.js', async () => {
    const json = JSON.parse(readFileSync(join(built.dir, 'tokenizer.json'), 'utf8')) as object;
    const cfg = JSON.parse(readFileSync(join(built.dir, 'tokenizer_config.json'), 'utf8')) as object;
    const tok = new Tokenizer(json, cfg);
    const vocab = buildVocab(splits.train.map(fileText));
    const enc = encoder(vocab);
    const known = new Set(vocab.tokens);
    const text = splits.heldout.slice(0, 4).map(fileText).join('').slice(0, 20_000);
    // Code points, as the tokenizer counts characters.
    const expected = Array.from(text, (ch) => (known.has(ch) ? ch : UNK)).join('');
    const ids = tok.encode(text, { add_special_tokens: true }).ids;
    expect(ids).toEqual(Array.from(enc(text)));
    expect(tok.decode(ids, { skip_special_tokens: false })).toBe(expected);
    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false;
    t.env.localModelPath = `${join(BUILD_DIR, ID)}/`;
    const auto = await t.AutoTokenizer.from_pretrained(built.version);
    const autoIds = auto.encode(text);
    expect(autoIds).toEqual(ids);
    expect(auto.decode(autoIds)).toBe(expected);
  }, 60_000);
});

describe('brown-gpt-en in transformers.js', () => {
  it('greedy text-generation pipeline output equals a plain greedy loop over the served file', async () => {
    const c = built.config;
    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false;
    t.env.localModelPath = `${join(BUILD_DIR, ID)}/`;
    const pipe = (await t.pipeline('text-generation', built.version, {
      dtype: 'fp32',
      subfolder: '',
      model_file_name: 'model',
    })) as unknown as {
      (text: string, o: Record<string, unknown>): Promise<{ generated_text: string }[]>;
      tokenizer: { encode: (text: string) => number[]; decode: (ids: number[]) => string };
      dispose: () => Promise<void>;
    };
    const prompt = 'The jury said that';
    const maxNew = 40;
    const out = await pipe(prompt, { max_new_tokens: maxNew, do_sample: false, return_full_text: false });
    const generated = out[0]?.generated_text ?? '';
    // The plain loop: prefill the prompt, then feed each arg-max back with the cache.
    const s = await session(modelBytes());
    const seq = pipe.tokenizer.encode(prompt);
    let res = await s.run(decoderFeeds(c, [seq], [seq.map(() => 1)], [seq.map((_, i) => i)]));
    const mine: number[] = [];
    let lastRow = seq.length - 1;
    for (let k = 0; k < maxNew; k++) {
      const next = argmax(floats(res, IO.logits), lastRow * c.vocabSize, c.vocabSize);
      if (next === EOT_ID) break;
      mine.push(next);
      seq.push(next);
      res = await s.run(decoderFeeds(c, [[next]], [seq.map(() => 1)], [[seq.length - 1]], res));
      lastRow = 0;
    }
    await s.release();
    expect(generated).toBe(pipe.tokenizer.decode(mine));
    expect(generated.length).toBeGreaterThan(0);
    await pipe.dispose();
  }, 120_000);
});
