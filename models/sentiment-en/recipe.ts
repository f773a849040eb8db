/** @module sentiment-en: English sentence sentiment, trained here on UCI Sentiment Labelled Sentences, served int8 on the edge. */
import { featurizeBatch, featurizeSparse, type TextFeatureConfig } from '../../src/tasks/text-features.js';
import type { Manifest } from '../../src/storage/manifest.js';
import { p50Latency, runFloat } from '../lib/ort-eval.js';
import { QUANT_METHODS, quantizeModelWithReport, type QuantMethod } from '../lib/quantize.js';
import { validateManifest, writeArtifact, type Recipe, type RecipeContext } from '../lib/recipe.js';
import { argmax, classificationMetrics, predictProba, train, type MlpParams, type MlpSpec, type SparseRow } from '../lib/train.js';
import { dataFiles, LABELS, loadExamples, splitExamples, type Example } from './data.js';
import { exportOnnx, INPUT, LOGITS, PROBABILITIES } from './model.js';

export const ID = 'sentiment-en';
/** Bump when anything below changes the model. */
export const VERSION = '1.0.0';

/**
 * Chosen on the inner validation split (held-out never consulted): 2^15 buckets beat 2^13/2^14 by 1–3 points
 * (fewer collisions) and 2^16–2^17 gained < 0.5 point while doubling the dense input a batch of 64 moves;
 * negation marking and word-internal character 2–5-grams each added about a point; binary ≈ log-tf on sentences.
 */
export const FEATURES: TextFeatureConfig = {
  kind: 'hashed-ngrams',
  version: 1,
  buckets: 1 << 15,
  max_ngram: 2,
  hash: 'fnv1a32-utf8',
  weighting: 'binary',
  norm: 'l2',
  strip_accents: false,
  max_tokens: 512,
  negation: true,
  char_ngram_min: 2,
  char_ngram_max: 5,
};

const SEED = 1;
const MAX_EPOCHS = 16;
/** Candidates compared on the inner validation split; the winner is retrained on all of train. */
const CANDIDATES: { name: string; hidden: number; l2: number; learningRate: number; batchSize: number }[] = [
  { name: 'logistic-regression', hidden: 0, l2: 1e-5, learningRate: 0.01, batchSize: 32 },
  { name: 'mlp-32-relu', hidden: 32, l2: 1e-5, learningRate: 0.01, batchSize: 32 },
];
/** An int8 variant ships only if it loses at most this much held-out accuracy against fp32. */
const MAX_INT8_LOSS = 0.01;
const MAX_BATCH = 64;
/** A later int8 method must be this much faster (fraction of p50) to displace an earlier one. */
const SPEED_MARGIN = 0.2;

const sparse = (xs: readonly Example[]): SparseRow[] => xs.map((e) => featurizeSparse(e.text, FEATURES));
const labelsOf = (xs: readonly Example[]): number[] => xs.map((e) => e.label);

interface Selection {
  candidate: (typeof CANDIDATES)[number];
  epochs: number;
  valAccuracy: number;
  all: Record<string, number>;
}

/** Trains each candidate on inner-train, keeps its best epoch on inner-val; the best (simplest on ties) wins. */
function selectModel(innerTrain: readonly Example[], innerVal: readonly Example[], log: (m: string) => void): Selection {
  const x = sparse(innerTrain);
  const y = labelsOf(innerTrain);
  const vx = sparse(innerVal);
  const vy = labelsOf(innerVal);
  let best: Selection | undefined;
  const all: Record<string, number> = {};
  for (const c of CANDIDATES) {
    let bestAcc = -1;
    let bestEpoch = 1;
    train(x, y, spec(c.hidden), {
      epochs: MAX_EPOCHS,
      batchSize: c.batchSize,
      learningRate: c.learningRate,
      l2: c.l2,
      seed: SEED,
      onEpoch: (epoch, p) => {
        const acc = classificationMetrics(vy, predictProba(p, vx).map(argmax), 2).accuracy;
        if (acc > bestAcc) {
          bestAcc = acc;
          bestEpoch = epoch;
        }
      },
    });
    all[c.name] = bestAcc;
    log(`  ${c.name}: inner-val accuracy ${bestAcc.toFixed(4)} at epoch ${bestEpoch}`);
    // Strictly better only: CANDIDATES are ordered simplest first, so ties keep the smaller model.
    if (best === undefined || bestAcc > best.valAccuracy) best = { candidate: c, epochs: bestEpoch, valAccuracy: bestAcc, all };
  }
  if (best === undefined) throw new Error('no candidates');
  return best;
}

const spec = (hidden: number): MlpSpec => ({ inputs: FEATURES.buckets, hidden, classes: LABELS.length });

interface Evaluated {
  accuracy: number;
  macro_f1: number;
  bytes: number;
  p50_web_ms: number;
  p50_node_ms: number;
}

async function evaluate(bytes: Uint8Array, heldout: readonly Example[]): Promise<Evaluated> {
  const input = { name: INPUT, data: featurizeBatch(heldout.map((e) => e.text), FEATURES), dims: [heldout.length, FEATURES.buckets] };
  const probs = await runFloat(bytes, input, PROBABILITIES);
  const predicted = heldout.map((_, i) => argmax(probs.subarray(i * LABELS.length, (i + 1) * LABELS.length)));
  const m = classificationMetrics(labelsOf(heldout), predicted, LABELS.length);
  const one = { name: INPUT, data: input.data.slice(0, FEATURES.buckets), dims: [1, FEATURES.buckets] };
  return {
    accuracy: m.accuracy,
    macro_f1: m.macro_f1,
    bytes: bytes.byteLength,
    p50_web_ms: await p50Latency(bytes, one, { runtime: 'web' }),
    p50_node_ms: await p50Latency(bytes, one, { runtime: 'node' }),
  };
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

async function build(ctx: RecipeContext): Promise<Manifest> {
  const t0 = performance.now();
  const splits = splitExamples(loadExamples());
  ctx.log(`data: ${splits.train.length} train (${splits.innerTrain.length} inner-train, ${splits.innerVal.length} inner-val), ${splits.heldout.length} held-out`);

  const chosen = selectModel(splits.innerTrain, splits.innerVal, ctx.log);
  const c = chosen.candidate;
  ctx.log(`chosen: ${c.name}, retraining on all of train for ${chosen.epochs} epochs`);
  const params: MlpParams = train(sparse(splits.train), labelsOf(splits.train), spec(c.hidden), {
    epochs: chosen.epochs,
    batchSize: c.batchSize,
    learningRate: c.learningRate,
    l2: c.l2,
    seed: SEED,
  });

  const fp32 = exportOnnx(params, `${ID}@${VERSION} ${c.name}, hashed n-gram features (${FEATURES.buckets} buckets)`);
  const variants: { method: QuantMethod | 'fp32'; bytes: Uint8Array; file: string }[] = [{ method: 'fp32', bytes: fp32, file: 'model.fp32.onnx' }];
  for (const method of QUANT_METHODS) {
    const { bytes, report } = quantizeModelWithReport(fp32, { method });
    ctx.log(`  int8 ${method}: quantized ${report.quantized.map((q) => `${q.weight} (${q.elements})`).join(', ')}; fp32 kept: ${report.skipped.map((s) => `${s.node} (${s.reason})`).join(', ') || 'none'}`);
    variants.push({ method, bytes, file: `model.int8-${method}.onnx` });
  }

  const results = new Map<string, Evaluated>();
  for (const v of variants) {
    const r = await evaluate(v.bytes, splits.heldout);
    results.set(v.method, r);
    ctx.log(`  ${v.method}: held-out accuracy ${r.accuracy.toFixed(4)}, macro-F1 ${r.macro_f1.toFixed(4)}, ${r.bytes} bytes, p50 batch-1 web ${r.p50_web_ms.toFixed(3)} ms, node ${r.p50_node_ms.toFixed(3)} ms`);
  }
  const ref = results.get('fp32');
  if (ref === undefined) throw new Error('fp32 was not evaluated');

  // Ship an int8 variant within the accuracy budget: the first in QUANT_METHODS order, displaced only by one that is
  // clearly faster in ORT-web (the edge runtime). The margin keeps timing noise from flipping the choice build to build.
  const eligible = variants.filter((v) => v.method !== 'fp32' && (results.get(v.method)?.accuracy ?? 0) >= ref.accuracy - MAX_INT8_LOSS);
  let served = eligible[0] ?? variants[0];
  for (const v of eligible) {
    const best = served === undefined ? undefined : results.get(served.method);
    const r = results.get(v.method);
    if (best !== undefined && r !== undefined && r.p50_web_ms < best.p50_web_ms * (1 - SPEED_MARGIN)) served = v;
  }
  if (served === undefined) throw new Error('no variants');
  const servedResult = results.get(served.method) ?? ref;
  const reason =
    served.method === 'fp32'
      ? `no int8 variant kept held-out accuracy within ${MAX_INT8_LOSS} of fp32 (${ref.accuracy.toFixed(4)})`
      : `int8 within ${MAX_INT8_LOSS} held-out accuracy of fp32 (${ref.accuracy.toFixed(4)}); ${served.method} is the preferred method unless another is ≥ ${SPEED_MARGIN * 100}% faster in onnxruntime-web (p50, batch 1)`;

  // Every variant stays in the build directory for benchmarks; only the served one is listed in `files`.
  const written = new Map(variants.map((v) => [v.file, writeArtifact(ctx.outDir, v.file, v.bytes)]));
  const servedFile = written.get(served.file);
  if (servedFile === undefined) throw new Error('served file was not written');
  writeArtifact(
    ctx.outDir,
    'heldout.json',
    `${JSON.stringify(splits.heldout.map((e) => ({ text: e.text, label: LABELS[e.label] ?? String(e.label), group: e.source })))}\n`,
  );

  const metrics: Record<string, number | string | Record<string, number>> = {
    accuracy: round(servedResult.accuracy),
    macro_f1: round(servedResult.macro_f1),
    fp32_accuracy: round(ref.accuracy),
    fp32_macro_f1: round(ref.macro_f1),
    heldout_examples: splits.heldout.length,
    train_examples: splits.train.length,
    model_type: c.name,
    epochs: chosen.epochs,
    inner_val_accuracy: Object.fromEntries(Object.entries(chosen.all).map(([k, v]) => [k, round(v)])),
    bytes: Object.fromEntries(variants.map((v) => [v.method, v.bytes.byteLength])),
    size_ratio: round(servedResult.bytes / ref.bytes),
    p50_ms_batch1_web: Object.fromEntries([...results].map(([k, v]) => [k, round(v.p50_web_ms)])),
    p50_ms_batch1_node: Object.fromEntries([...results].map(([k, v]) => [k, round(v.p50_node_ms)])),
  };
  for (const method of QUANT_METHODS) {
    const r = results.get(method);
    if (r === undefined) continue;
    metrics[`int8_${method}_accuracy`] = round(r.accuracy);
    metrics[`int8_${method}_macro_f1`] = round(r.macro_f1);
  }

  const manifest = validateManifest({
    id: ID,
    version: VERSION,
    task: 'text-classification',
    description:
      'English sentence sentiment (negative/positive) for short product, film and restaurant reviews. Hashed word 1–2-gram, negation and character n-gram features; a model trained in TypeScript on 2,400 UCI sentences.',
    license: 'MIT (model and code); training data: UCI Sentiment Labelled Sentences (Kotzias et al. 2015, CC BY 4.0) as shipped in sentiment@5.0.2 (MIT)',
    source: {
      kind: 'trained',
      recipe: 'models/sentiment-en/recipe.ts',
      data: 'sentiment@5.0.2 test/fixtures (UCI Sentiment Labelled Sentences)',
      package: 'sentiment',
      package_version: '5.0.2',
    },
    files: [servedFile],
    model_file: servedFile.name,
    inputs: [{ name: INPUT, dtype: 'float32', shape: ['batch', FEATURES.buckets] }],
    outputs: [
      { name: LOGITS, dtype: 'float32', shape: ['batch', LABELS.length] },
      { name: PROBABILITIES, dtype: 'float32', shape: ['batch', LABELS.length] },
    ],
    labels: [...LABELS],
    preprocess: { ...FEATURES },
    // Which outputs hold what: scores are already softmaxed; logits are there for explanations and calibration.
    postprocess: { scores_output: PROBABILITIES, logits_output: LOGITS },
    quantization: served.method === 'fp32' ? { type: 'fp32', method: 'none', reason } : { type: 'int8', method: served.method, reason },
    // auto: batches over the edge's max_batch go to the origin (dynamic batching there); smaller ones stay here.
    placement: 'auto',
    edge_limits: { max_batch: 16, max_tokens: FEATURES.max_tokens },
    batching: { max_batch_size: MAX_BATCH, max_queue_delay_ms: 2 },
    metrics,
  });
  ctx.log(`built ${ID}@${VERSION}: serving ${served.file} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return manifest;
}

export const recipe: Recipe = {
  id: ID,
  version: VERSION,
  inputs: () => ({ files: dataFiles(), packages: ['sentiment', 'onnx-proto', 'protobufjs', 'onnxruntime-node', 'onnxruntime-web', 'zod'] }),
  build,
};
