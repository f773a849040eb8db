/**
 * @module topics-en: latent semantic indexing (TF-IDF → truncated SVD, as Gensim's `LsiModel`) trained here on the
 * Brown corpus, exported as ONNX (bag of words → dense topic vector) for `/v1/embeddings` and the feature-extraction
 * task, with each dimension's top terms shipped for `parameters.topics`. Evaluated by nearest-neighbour genre
 * accuracy on held-out documents against a TF-IDF cosine baseline on the same split.
 */
import * as ortNode from 'onnxruntime-node';
import type { Manifest } from '../../src/lib/manifest.js';
import { bagOf, words, type Bag, type BagOfWordsConfig, type TopicsFile } from '../../src/tasks/text/bag-of-words.js';
import { padSparse } from '../../src/tasks/text/text-features.js';
import type { Feeds } from '../../src/tasks/tensor.js';
import { nodeSession } from '../lib/ort-eval.js';
import { validateManifest, writeArtifact, type Recipe, type RecipeContext } from '../lib/recipe.js';
import { shuffled, mulberry32 } from '../lib/train.js';
import { buildVariants, measureVariants, selectVariant, variantMetrics } from '../lib/variants.js';
import { dataFiles, genresOf, loadDocuments, PACKAGE, PACKAGE_VERSION, splitDocuments, type Document } from './data.js';
import {
  buildVocabulary,
  gramMatrix,
  idfWeights,
  nearestNeighbourAccuracy,
  project,
  sparseNearestNeighbourAccuracy,
  symmetricEigen,
  tfidf,
  truncatedSvd,
  type Lsi,
  type SparseVector,
  type Vocabulary,
} from './lsi.js';
import { EMBEDDING, exportOnnx, INDICES, VALUES } from './model.js';

export const ID = 'topics-en';
/** Bump when anything below changes the model. */
export const VERSION = '1.0.0';

/**
 * Gensim's `Dictionary.filter_extremes` defaults: a term must be in ≥ 5 training documents (8,000 terms instead of
 * 17,000 at ≥ 2, which cross-validated no better) and in ≤ half of them, which drops the function words of 2,000-word
 * samples without a hand-made stopword list (the idf would push them near zero anyway).
 */
export const VOCABULARY = { minDf: 5, maxDfShare: 0.5 };
/**
 * Sublinear term frequency, log(1 + count): in 5-fold cross-validation on the training documents it lifted
 * nearest-neighbour genre accuracy from 0.375 to 0.425 (TF-IDF) and from 0.417 to 0.460 (LSI) over Gensim's raw
 * counts, as one long document's repeated names otherwise dominate its vector. Fixed in the graph (Add 1, Log).
 */
export const SUBLINEAR_TF = true;
/** Numbers of topics compared by cross-validation on the training documents (ties keep the smaller). */
export const K_CANDIDATES = [25, 50, 100, 200] as const;
const FOLDS = 5;
const FOLD_SEED = 17;
/** Terms per topic pole in topics.json (an answer lists `topic_terms` of them, 8 by default). */
const POLE_TERMS = 10;

export const BAG: BagOfWordsConfig = {
  kind: 'bag-of-words',
  version: 1,
  vocabulary_file: 'vocabulary.json',
  // Longer than any Brown sample (≈ 2,000–2,500 words) and than MAX_TEXT_CHARS allows a request.
  max_tokens: 4096,
  normalize: true,
};
const VOCABULARY_FILE = BAG.vocabulary_file;
const TOPICS_FILE = 'topics.json';

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

/** Word tokens of every document, as serving tokenises (bag-of-words.ts). */
const tokensOf = (docs: readonly Document[]): string[][] => docs.map((d) => words(d.text, BAG.max_tokens));

const vocabMap = (v: Vocabulary): Map<string, number> => v.index;

function columns(docs: readonly Document[], v: Vocabulary, idf: Float64Array): SparseVector[] {
  return docs.map((d) => tfidf(bagOf(d.text, vocabMap(v), BAG.max_tokens), idf, SUBLINEAR_TF));
}

/** Fold of each document: within each genre a seeded shuffle deals the documents round-robin into FOLDS folds. */
function foldsOf(docs: readonly Document[]): number[] {
  const fold = new Array<number>(docs.length).fill(0);
  const rand = mulberry32(FOLD_SEED);
  for (const g of genresOf(docs)) {
    const members = docs.flatMap((d, i) => (d.genre === g ? [i] : []));
    shuffled(members, rand).forEach((i, k) => (fold[i] = k % FOLDS));
  }
  return fold;
}

/** Cross-validated nearest-neighbour genre accuracy of TF-IDF and of LSI at each candidate k, on `docs`. */
function crossValidate(
  docs: readonly Document[],
  log: (m: string) => void,
): { tfidf: number; lsi: Map<number, number> } {
  const fold = foldsOf(docs);
  const tokens = tokensOf(docs);
  let tfidfHits = 0;
  const lsiHits = new Map<number, number>(K_CANDIDATES.map((k) => [k, 0]));
  for (let f = 0; f < FOLDS; f++) {
    const fit = docs.filter((_, i) => fold[i] !== f);
    const test = docs.filter((_, i) => fold[i] === f);
    const v = buildVocabulary(
      tokens.filter((_, i) => fold[i] !== f),
      VOCABULARY,
    );
    const idf = idfWeights(v);
    const a = columns(fit, v, idf);
    const q = columns(test, v, idf);
    const fitLabels = fit.map((d) => d.genre);
    const testLabels = test.map((d) => d.genre);
    tfidfHits += sparseNearestNeighbourAccuracy(q, testLabels, a, fitLabels, v.terms.length) * test.length;
    const eigen = symmetricEigen(gramMatrix(a, v.terms.length), a.length);
    for (const k of K_CANDIDATES) {
      const lsi = truncatedSvd(a, v.terms.length, k, eigen);
      const acc = nearestNeighbourAccuracy(
        q.map((x) => project(lsi, x)),
        testLabels,
        a.map((x) => project(lsi, x)),
        fitLabels,
      );
      lsiHits.set(k, (lsiHits.get(k) ?? 0) + acc * test.length);
    }
    log(`  fold ${f + 1}/${FOLDS}: ${fit.length} fit, ${test.length} test, ${v.terms.length} terms`);
  }
  return {
    tfidf: tfidfHits / docs.length,
    lsi: new Map([...lsiHits].map(([k, hits]) => [k, hits / docs.length])),
  };
}

/** The feeds for a batch of bags (what the feature-extraction task sends). */
export function bagFeeds(bags: readonly Bag[]): Feeds {
  const b = padSparse(bags);
  return {
    [INDICES]: { type: 'int64', dims: [bags.length, b.width], data: b.indices },
    [VALUES]: { type: 'float32', dims: [bags.length, b.width], data: b.values },
  };
}

/** The model's vectors for many bags, in onnxruntime-node, chunked so the gathered [b, n, k] rows stay small. */
export async function embedBags(bytes: Uint8Array, bags: readonly Bag[], chunk = 32): Promise<Float32Array[]> {
  const session = await nodeSession(bytes);
  const out: Float32Array[] = [];
  try {
    for (let start = 0; start < bags.length; start += chunk) {
      const part = bags.slice(start, start + chunk);
      const b = padSparse(part);
      const dims = [part.length, b.width];
      const res = await session.run(
        {
          [INDICES]: new ortNode.Tensor('int64', b.indices, dims),
          [VALUES]: new ortNode.Tensor('float32', b.values, dims),
        },
        [EMBEDDING],
      );
      const e = res[EMBEDDING];
      if (e === undefined || !(e.data instanceof Float32Array)) throw new Error('no embedding output');
      const k = Number(e.dims[1]);
      for (let r = 0; r < part.length; r++) out.push(e.data.slice(r * k, (r + 1) * k));
    }
  } finally {
    await session.release();
  }
  return out;
}

/** Each topic's poles: the terms with the largest positive and negative loadings. */
function topicsFile(lsi: Lsi, v: Vocabulary): TopicsFile {
  const topics: TopicsFile['topics'] = [];
  for (let i = 0; i < lsi.k; i++) {
    const loadings = v.terms.map((term, t) => ({ term, weight: lsi.u[t * lsi.k + i] ?? 0 }));
    const byWeight = [...loadings].sort((a, b) => b.weight - a.weight || (a.term < b.term ? -1 : 1));
    const pole = (xs: typeof loadings): { term: string; weight: number }[] =>
      xs.slice(0, POLE_TERMS).map((x) => ({ term: x.term, weight: round(x.weight, 5) }));
    topics.push({
      topic: i,
      positive: pole(byWeight.filter((x) => x.weight > 0)),
      negative: pole(byWeight.filter((x) => x.weight < 0).reverse()),
    });
  }
  return { topics };
}

async function build(ctx: RecipeContext): Promise<Manifest> {
  const t0 = performance.now();
  const docs = loadDocuments();
  const s = splitDocuments(docs);
  const genres = genresOf(docs);
  ctx.log(
    `data: ${docs.length} documents, ${genres.length} genres; ${s.train.length} train, ${s.heldout.length} held-out`,
  );

  // Choose k by cross-validation on the training documents only.
  const cv = crossValidate(s.train, ctx.log);
  let k: number = K_CANDIDATES[0];
  for (const c of K_CANDIDATES) if ((cv.lsi.get(c) ?? 0) > (cv.lsi.get(k) ?? 0)) k = c;
  ctx.log(
    `  cv: tf-idf ${cv.tfidf.toFixed(4)}; lsi ${[...cv.lsi].map(([c, a]) => `k=${c} ${a.toFixed(4)}`).join(', ')} → k = ${k}`,
  );

  // Fit on all of train.
  const v = buildVocabulary(tokensOf(s.train), VOCABULARY);
  const idf = idfWeights(v);
  const a = columns(s.train, v, idf);
  const eigen = symmetricEigen(gramMatrix(a, v.terms.length), a.length);
  const lsi = truncatedSvd(a, v.terms.length, k, eigen);
  // Columns are unit vectors, so ‖A‖²_F = trace(G) = number of documents: the share the k topics keep.
  const energy = lsi.s.reduce((sum, x) => sum + x * x, 0) / a.length;
  ctx.log(`fit: ${v.terms.length} terms, k = ${k}, ${(energy * 100).toFixed(1)}% of the TF-IDF matrix's energy`);

  const fp32 = exportOnnx(
    { idf, u: lsi.u, terms: v.terms.length, k },
    `${ID}@${VERSION} LSI (TF-IDF → truncated SVD, k = ${k}) on the Brown corpus`,
  );
  const trainBags = s.train.map((d) => bagOf(d.text, vocabMap(v), BAG.max_tokens));
  const heldoutBags = s.heldout.map((d) => bagOf(d.text, vocabMap(v), BAG.max_tokens));
  const trainLabels = s.train.map((d) => d.genre);
  const heldoutLabels = s.heldout.map((d) => d.genre);
  // Nearest-neighbour genre accuracy of a variant, from its own vectors for the held-out and training documents.
  const evaluate = async (bytes: Uint8Array): Promise<{ accuracy: number }> => ({
    accuracy: nearestNeighbourAccuracy(
      await embedBags(bytes, heldoutBags),
      heldoutLabels,
      await embedBags(bytes, trainBags),
      trainLabels,
    ),
  });
  const variants = buildVariants(fp32, {}, ctx.log);
  const one = bagFeeds([heldoutBags[0] ?? { indices: [], values: [], tokens: 0 }]);
  const results = await measureVariants(variants, evaluate, one, ctx.log, { iterations: 200 });
  const { served, quantization } = selectVariant(variants, results);

  const baseline = sparseNearestNeighbourAccuracy(
    columns(s.heldout, v, idf),
    heldoutLabels,
    a,
    trainLabels,
    v.terms.length,
  );
  ctx.log(`held-out: tf-idf cosine baseline ${baseline.toFixed(4)}`);

  const written = new Map(variants.map((x) => [x.file, writeArtifact(ctx.outDir, x.file, x.bytes)]));
  const servedFile = written.get(served.file);
  if (servedFile === undefined) throw new Error('served file was not written');
  const vocabularyFile = writeArtifact(ctx.outDir, VOCABULARY_FILE, `${JSON.stringify(v.terms)}\n`);
  const topics = writeArtifact(ctx.outDir, TOPICS_FILE, `${JSON.stringify(topicsFile(lsi, v))}\n`);
  // Which documents were held out, for tests that recompute the figures (not served).
  writeArtifact(
    ctx.outDir,
    'split.json',
    `${JSON.stringify({ train: s.train.map((d) => d.id), heldout: s.heldout.map((d) => d.id) })}\n`,
  );

  const metrics: Record<string, number | string | Record<string, number>> = {
    ...variantMetrics(variants, results, served),
    accuracy_is:
      'nearest-neighbour genre accuracy: each held-out document takes the genre of its most cosine-similar training document (15 Brown genres)',
    nn_genre_accuracy: round(results.get(served.method)?.accuracy ?? 0),
    tfidf_nn_genre_accuracy: round(baseline),
    cv_nn_genre_accuracy: Object.fromEntries([...cv.lsi].map(([c, x]) => [`k${c}`, round(x)])),
    cv_tfidf_nn_genre_accuracy: round(cv.tfidf),
    topics: k,
    vocabulary_terms: v.terms.length,
    energy_captured: round(energy),
    singular_values_top5: Object.fromEntries(lsi.s.slice(0, 5).map((x, i) => [`s${i}`, round(x)])),
    train_documents: s.train.length,
    heldout_documents: s.heldout.length,
    split: `seeded 80/20 document split stratified by genre; k chosen by ${FOLDS}-fold cross-validation on the training documents`,
  };

  const manifest = validateManifest({
    id: ID,
    version: VERSION,
    task: 'feature-extraction',
    description: `Topic vectors for English text: latent semantic indexing (TF-IDF with sublinear term frequency → truncated SVD, as Gensim's LsiModel) fitted here on the Brown corpus (${s.train.length} documents, 15 genres). A text's words (letters, lowercased) are counted over a ${v.terms.length}-term vocabulary, TF-IDF-weighted, scaled to unit length and projected onto ${k} topics; parameters.topics lists the strongest topics with their top terms. Words outside the vocabulary are ignored (a text with none answers a zero vector).`,
    license: `MIT (model and code); training data: the Brown Corpus (W. N. Francis and H. Kučera, Brown University, 1964, revised 1971 and 1979), Form C as shipped in ${PACKAGE}@${PACKAGE_VERSION} (package MIT), whose README says "Distributed with the permission of the copyright holder, redistribution permitted."`,
    source: {
      kind: 'trained',
      recipe: 'models/topics-en/recipe.ts',
      data: `${PACKAGE}@${PACKAGE_VERSION} (the Brown corpus, 500 tagged samples; genres from cats.txt)`,
      package: PACKAGE,
      package_version: PACKAGE_VERSION,
    },
    files: [servedFile, vocabularyFile, topics],
    model_file: servedFile.name,
    inputs: [
      { name: INDICES, dtype: 'int64', shape: ['batch', 'terms'] },
      { name: VALUES, dtype: 'float32', shape: ['batch', 'terms'] },
    ],
    outputs: [{ name: EMBEDDING, dtype: 'float32', shape: ['batch', k] }],
    preprocess: { ...BAG },
    postprocess: { topics_file: TOPICS_FILE, top_topics: 3, topic_terms: 8 },
    quantization,
    placement: 'auto',
    edge_limits: { max_batch: 32, max_tokens: 32_768 },
    batching: { max_batch_size: 64, max_queue_delay_ms: 2, pad_inputs: [INDICES, VALUES] },
    // Brown's words are public text, but callers' texts are not: the cache stays per key (the default).
    metrics,
  });
  ctx.log(`built ${ID}@${VERSION}: serving ${served.file} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return manifest;
}

export const recipe: Recipe = {
  id: ID,
  version: VERSION,
  inputs: () => ({
    files: dataFiles(),
    packages: [PACKAGE, 'onnx-proto', 'protobufjs', 'onnxruntime-node', 'onnxruntime-web', 'zod'],
  }),
  build,
};
