/**
 * @module The recipe of a hashed n-gram text classifier, shared by sentiment-en and spam-en: choose a model
 * (logistic regression or a small MLP) and its epochs on an inner validation split, retrain on all of train, export
 * an embedding-bag ONNX graph, measure fp32 and int8 variants on the held-out set (models/lib/variants.ts), write
 * every variant and `heldout.json`, and return the validated manifest. A recipe supplies its data, features and
 * manifest wording; everything that decides the model's bytes lives here once.
 */
import { featurizeSparse, padSparse, sparseBatch, type TextFeatureConfig } from '../../src/tasks/text/text-features.js';
import type { Feeds } from '../../src/tasks/tensor.js';
import type { Manifest, ManifestInput } from '../../src/lib/manifest.js';
import { embeddingBagIo, exportOnnx, INDICES, LOGITS, PROBABILITIES, VALUES } from './embedding-bag.js';
import { runFeeds } from './ort-eval.js';
import { validateManifest, writeArtifact, type RecipeContext } from './recipe.js';
import {
  argmax,
  classificationMetrics,
  predictProba,
  train,
  type ClassificationMetrics,
  type MlpParams,
  type MlpSpec,
  type SparseRow,
} from './train.js';
import { buildVariants, measureVariants, selectVariant, variantMetrics } from './variants.js';

export { INDICES, LOGITS, PROBABILITIES, VALUES };

/** One labelled text; `group` is its source or corpus section (kept in heldout.json for per-group evaluation). */
export interface TextExample {
  text: string;
  label: number;
  group: string;
}

export interface TextSplits {
  train: TextExample[];
  heldout: TextExample[];
  /** Inner split of `train` for model selection (the held-out set is never looked at while choosing). */
  innerTrain: TextExample[];
  innerVal: TextExample[];
}

export interface Candidate {
  name: string;
  /** 0 = logistic regression; otherwise one ReLU hidden layer of this width. */
  hidden: number;
  l2: number;
  learningRate: number;
  batchSize: number;
}

export interface TextClassifierSpec {
  id: string;
  version: string;
  features: TextFeatureConfig;
  labels: readonly string[];
  seed: number;
  maxEpochs: number;
  /** Compared on the inner validation split, simplest first (ties keep the earlier one). */
  candidates: readonly Candidate[];
  /** Origin dynamic batching's largest batch. */
  maxBatch: number;
  /** The edge's largest batch (placement `auto` sends bigger ones to the origin). */
  edgeMaxBatch: number;
  /** The ONNX graph's name (part of the model's bytes). */
  graphName: string;
  /** The class whose precision and recall each variant also reports (`<label>_precision`, `<label>_recall`). */
  positiveLabel?: number;
  /** Also record the served variant's held-out accuracy per `group` (`heldout_accuracy_by_group`). */
  groupMetrics?: boolean;
  /** Manifest wording: what it is, where it came from. */
  manifest: Pick<ManifestInput, 'description' | 'license' | 'source'>;
  /** Metrics the recipe adds after the shared ones (data preparation figures…). */
  extraMetrics?: Record<string, number | string | Record<string, number>>;
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

/** A batch of texts as the model's feeds: the embedding bag the service's text-classification task sends. */
export function sparseFeeds(texts: readonly string[], features: TextFeatureConfig): Feeds {
  const b = sparseBatch(texts, features);
  return {
    [INDICES]: { type: 'int64', dims: [texts.length, b.width], data: b.indices },
    [VALUES]: { type: 'float32', dims: [texts.length, b.width], data: b.values },
  };
}

/** Precision and recall of one class from a confusion matrix (confusion[true][predicted]). */
export function precisionRecall(m: ClassificationMetrics, cls: number): { precision: number; recall: number } {
  const tp = m.confusion[cls]?.[cls] ?? 0;
  const predicted = m.confusion.reduce((s, row) => s + (row[cls] ?? 0), 0);
  const actual = (m.confusion[cls] ?? []).reduce((s, v) => s + v, 0);
  return { precision: predicted === 0 ? 0 : tp / predicted, recall: actual === 0 ? 0 : tp / actual };
}

interface Selection {
  candidate: Candidate;
  epochs: number;
  valAccuracy: number;
  all: Record<string, number>;
}

/** Trains each candidate on inner-train, keeps its best epoch on inner-val; the best (simplest on ties) wins. */
function selectModel(
  spec: TextClassifierSpec,
  splits: TextSplits,
  featurize: (text: string) => SparseRow,
  log: (m: string) => void,
): Selection {
  const sparse = (xs: readonly TextExample[]): SparseRow[] => xs.map((e) => featurize(e.text));
  const x = sparse(splits.innerTrain);
  const y = splits.innerTrain.map((e) => e.label);
  const vx = sparse(splits.innerVal);
  const vy = splits.innerVal.map((e) => e.label);
  let best: Selection | undefined;
  const all: Record<string, number> = {};
  for (const c of spec.candidates) {
    let bestAcc = -1;
    let bestEpoch = 1;
    train(x, y, mlpSpec(spec, c.hidden), {
      epochs: spec.maxEpochs,
      batchSize: c.batchSize,
      learningRate: c.learningRate,
      l2: c.l2,
      seed: spec.seed,
      onEpoch: (epoch, p) => {
        const acc = classificationMetrics(vy, predictProba(p, vx).map(argmax), spec.labels.length).accuracy;
        if (acc > bestAcc) {
          bestAcc = acc;
          bestEpoch = epoch;
        }
      },
    });
    all[c.name] = bestAcc;
    log(`  ${c.name}: inner-val accuracy ${bestAcc.toFixed(4)} at epoch ${bestEpoch}`);
    // Strictly better only: candidates are ordered simplest first, so ties keep the smaller model.
    if (best === undefined || bestAcc > best.valAccuracy)
      best = { candidate: c, epochs: bestEpoch, valAccuracy: bestAcc, all };
  }
  if (best === undefined) throw new Error('no candidates');
  return best;
}

const mlpSpec = (spec: TextClassifierSpec, hidden: number): MlpSpec => ({
  inputs: spec.features.buckets,
  hidden,
  classes: spec.labels.length,
});

/** Rows per evaluation run: the gathered [rows, features, hidden] tensor of long texts stays tens of MB. */
const EVAL_CHUNK = 128;

/** A variant's held-out predictions (argmax class per example), run in onnxruntime-node in chunks of rows. */
async function predictHeldout(bytes: Uint8Array, rows: readonly SparseRow[], classes: number): Promise<number[]> {
  const out: number[] = [];
  for (let start = 0; start < rows.length; start += EVAL_CHUNK) {
    const part = rows.slice(start, start + EVAL_CHUNK);
    const b = padSparse(part);
    const dims = [part.length, b.width];
    const probs = await runFeeds(
      bytes,
      { [INDICES]: { type: 'int64', dims, data: b.indices }, [VALUES]: { type: 'float32', dims, data: b.values } },
      PROBABILITIES,
    );
    for (let i = 0; i < part.length; i++) out.push(argmax(probs.subarray(i * classes, (i + 1) * classes)));
  }
  return out;
}

/** Held-out accuracy, macro-F1 (and the positive class's precision/recall) of one variant's predictions. */
function heldoutMetrics(
  spec: TextClassifierSpec,
  predicted: readonly number[],
  heldout: readonly TextExample[],
): { accuracy: number; extra: Record<string, number> } {
  const m = classificationMetrics(
    heldout.map((e) => e.label),
    predicted,
    spec.labels.length,
  );
  const extra: Record<string, number> = { macro_f1: m.macro_f1 };
  if (spec.positiveLabel !== undefined) {
    const name = spec.labels[spec.positiveLabel] ?? String(spec.positiveLabel);
    const pr = precisionRecall(m, spec.positiveLabel);
    extra[`${name}_precision`] = pr.precision;
    extra[`${name}_recall`] = pr.recall;
  }
  return { accuracy: m.accuracy, extra };
}

/** Accuracy within each `group` of the held-out set. */
function groupAccuracy(predicted: readonly number[], heldout: readonly TextExample[]): Record<string, number> {
  const counts = new Map<string, { right: number; all: number }>();
  heldout.forEach((e, i) => {
    const c = counts.get(e.group) ?? { right: 0, all: 0 };
    c.all++;
    if (predicted[i] === e.label) c.right++;
    counts.set(e.group, c);
  });
  return Object.fromEntries([...counts].map(([g, c]) => [g, round(c.right / c.all)]));
}

/** Builds, measures and writes the classifier; returns its manifest (the models CLI writes manifest.json). */
export async function buildTextClassifier(
  ctx: RecipeContext,
  spec: TextClassifierSpec,
  splits: TextSplits,
): Promise<Manifest> {
  const t0 = performance.now();
  ctx.log(
    `data: ${splits.train.length} train (${splits.innerTrain.length} inner-train, ${splits.innerVal.length} inner-val), ${splits.heldout.length} held-out`,
  );

  // Each text's features once: the inner split is part of train, and long e-mails cost milliseconds apiece.
  const cache = new Map<string, SparseRow>();
  const featurize = (text: string): SparseRow => {
    const hit = cache.get(text);
    if (hit !== undefined) return hit;
    const row = featurizeSparse(text, spec.features);
    cache.set(text, row);
    return row;
  };
  const chosen = selectModel(spec, splits, featurize, ctx.log);
  const c = chosen.candidate;
  ctx.log(`chosen: ${c.name}, retraining on all of train for ${chosen.epochs} epochs`);
  const params: MlpParams = train(
    splits.train.map((e) => featurize(e.text)),
    splits.train.map((e) => e.label),
    mlpSpec(spec, c.hidden),
    { epochs: chosen.epochs, batchSize: c.batchSize, learningRate: c.learningRate, l2: c.l2, seed: spec.seed },
  );

  const fp32 = exportOnnx(
    params,
    `${spec.id}@${spec.version} ${c.name}, hashed n-gram features (${spec.features.buckets} buckets)`,
    spec.graphName,
  );
  const variants = buildVariants(fp32, {}, ctx.log);
  const one = sparseFeeds([splits.heldout[0]?.text ?? ''], spec.features);
  const heldoutRows = splits.heldout.map((e) => featurize(e.text));
  const predictions = new Map<Uint8Array, number[]>();
  const predict = async (bytes: Uint8Array): Promise<number[]> => {
    const p = await predictHeldout(bytes, heldoutRows, spec.labels.length);
    predictions.set(bytes, p);
    return p;
  };
  const results = await measureVariants(
    variants,
    async (bytes) => heldoutMetrics(spec, await predict(bytes), splits.heldout),
    one,
    ctx.log,
  );
  const { served, quantization } = selectVariant(variants, results);

  // Every variant stays in the build directory for benchmarks; only the served one is listed in `files`.
  const written = new Map(variants.map((v) => [v.file, writeArtifact(ctx.outDir, v.file, v.bytes)]));
  const servedFile = written.get(served.file);
  if (servedFile === undefined) throw new Error('served file was not written');
  writeArtifact(
    ctx.outDir,
    'heldout.json',
    `${JSON.stringify(splits.heldout.map((e) => ({ text: e.text, label: spec.labels[e.label] ?? String(e.label), group: e.group })))}\n`,
  );

  const metrics: Record<string, number | string | Record<string, number>> = {
    ...variantMetrics(variants, results, served),
    heldout_examples: splits.heldout.length,
    train_examples: splits.train.length,
    model_type: c.name,
    epochs: chosen.epochs,
    inner_val_accuracy: Object.fromEntries(Object.entries(chosen.all).map(([k, v]) => [k, round(v)])),
    ...(spec.groupMetrics === true
      ? { heldout_accuracy_by_group: groupAccuracy(predictions.get(served.bytes) ?? [], splits.heldout) }
      : {}),
    ...spec.extraMetrics,
  };

  const k = spec.labels.length;
  const manifest = validateManifest({
    id: spec.id,
    version: spec.version,
    task: 'text-classification',
    ...spec.manifest,
    files: [servedFile],
    model_file: servedFile.name,
    ...embeddingBagIo('batch', k),
    labels: [...spec.labels],
    preprocess: { ...spec.features },
    // Which outputs hold what: scores are already softmaxed; logits are there for explanations and calibration.
    postprocess: { scores_output: PROBABILITIES, logits_output: LOGITS },
    quantization,
    // auto: batches over the edge's max_batch go to the origin (dynamic batching there); smaller ones stay here.
    placement: 'auto',
    edge_limits: { max_batch: spec.edgeMaxBatch, max_tokens: spec.features.max_tokens },
    // Rows of different feature counts stack after zero-padding dim 1 (index 0 × value 0 adds nothing).
    batching: { max_batch_size: spec.maxBatch, max_queue_delay_ms: 2, pad_inputs: [INDICES, VALUES] },
    metrics,
  });
  ctx.log(
    `built ${spec.id}@${spec.version}: serving ${served.file} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return manifest;
}
