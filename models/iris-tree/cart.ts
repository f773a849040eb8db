/**
 * @module CART (Gini) decision trees for dense numeric features, their prediction, seeded stratified k-fold splits,
 * and the export to an `ai.onnx.ml` TreeEnsembleClassifier without ZipMap (tensor outputs `label`, `probabilities`).
 */
import {
  attr,
  encode,
  graph,
  ML_DOMAIN,
  ML_OPSET,
  DEFAULT_OPSET,
  model,
  node,
  valueInfo,
} from '../lib/onnx-builder.js';
import { mulberry32, shuffled } from '../lib/train.js';

export type TreeNode =
  | { kind: 'leaf'; counts: number[] }
  | { kind: 'split'; feature: number; threshold: number; left: TreeNode; right: TreeNode };

export interface CartOptions {
  maxDepth: number;
  minSamplesSplit: number;
  classes: number;
}

export const INPUT = 'features';
export const LABEL = 'label';
export const PROBABILITIES = 'probabilities';

function gini(counts: readonly number[], n: number): number {
  if (n === 0) return 0;
  let s = 1;
  for (const c of counts) s -= (c / n) ** 2;
  return s;
}

function countsOf(idx: readonly number[], y: readonly number[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const i of idx) counts[y[i] ?? 0] = (counts[y[i] ?? 0] ?? 0) + 1;
  return counts;
}

/**
 * Grows a tree greedily: at each node the split (feature, threshold) with the lowest weighted child Gini; thresholds
 * are midpoints between consecutive distinct values, rounded to float32 because the ONNX model compares in float32.
 * Ties keep the first feature and the lowest threshold, so a tree is a pure function of its data.
 */
export function trainCart(x: readonly (readonly number[])[], y: readonly number[], options: CartOptions): TreeNode {
  const grow = (idx: number[], depth: number): TreeNode => {
    const counts = countsOf(idx, y, options.classes);
    const parent = gini(counts, idx.length);
    if (depth >= options.maxDepth || idx.length < options.minSamplesSplit || parent === 0)
      return { kind: 'leaf', counts };
    let best: { feature: number; threshold: number; score: number } | undefined;
    const features = x[idx[0] ?? 0]?.length ?? 0;
    for (let f = 0; f < features; f++) {
      const sorted = [...idx].sort((a, b) => (x[a]?.[f] ?? 0) - (x[b]?.[f] ?? 0));
      const left = new Array<number>(options.classes).fill(0);
      const right = [...counts];
      for (let k = 0; k < sorted.length - 1; k++) {
        const cls = y[sorted[k] ?? 0] ?? 0;
        left[cls] = (left[cls] ?? 0) + 1;
        right[cls] = (right[cls] ?? 0) - 1;
        const v = x[sorted[k] ?? 0]?.[f] ?? 0;
        const next = x[sorted[k + 1] ?? 0]?.[f] ?? 0;
        if (v === next) continue;
        const nl = k + 1;
        const nr = sorted.length - nl;
        const score = (nl * gini(left, nl) + nr * gini(right, nr)) / sorted.length;
        if (best === undefined || score < best.score - 1e-12)
          best = { feature: f, threshold: Math.fround((v + next) / 2), score };
      }
    }
    if (best === undefined || best.score >= parent - 1e-12) return { kind: 'leaf', counts };
    const { feature, threshold } = best;
    const l = idx.filter((i) => Math.fround(x[i]?.[feature] ?? 0) <= threshold);
    const r = idx.filter((i) => Math.fround(x[i]?.[feature] ?? 0) > threshold);
    return { kind: 'split', feature, threshold, left: grow(l, depth + 1), right: grow(r, depth + 1) };
  };
  return grow(
    x.map((_, i) => i),
    0,
  );
}

/** Leaf class frequencies for one row (the probabilities the ONNX model outputs). */
export function predictProba(tree: TreeNode, row: readonly number[]): number[] {
  let n = tree;
  while (n.kind === 'split') n = Math.fround(row[n.feature] ?? 0) <= n.threshold ? n.left : n.right;
  const total = n.counts.reduce((a, b) => a + b, 0);
  return n.counts.map((c) => c / total);
}

export function depthOf(tree: TreeNode): number {
  return tree.kind === 'leaf' ? 0 : 1 + Math.max(depthOf(tree.left), depthOf(tree.right));
}

export function leavesOf(tree: TreeNode): number {
  return tree.kind === 'leaf' ? 1 : leavesOf(tree.left) + leavesOf(tree.right);
}

/** Seeded stratified k-fold: each class's shuffled indices are dealt round-robin to the folds. Returns test indices per fold. */
export function stratifiedKFold(y: readonly number[], k: number, seed: number): number[][] {
  const rand = mulberry32(seed);
  const folds: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (const cls of [...new Set(y)].sort((a, b) => a - b)) {
    const idx = shuffled(
      y.flatMap((v, i) => (v === cls ? [i] : [])),
      rand,
    );
    for (const i of idx) {
      folds[next % k]?.push(i);
      next++;
    }
  }
  return folds.map((f) => f.sort((a, b) => a - b));
}

/** The tree as a single-tree TreeEnsembleClassifier: `label` int64 [N] and `probabilities` float32 [N, classes]. */
export function exportTree(tree: TreeNode, features: number, classes: number, docString: string): Uint8Array {
  const ids: number[] = [];
  const featureIds: number[] = [];
  const values: number[] = [];
  const modes: string[] = [];
  const trueIds: number[] = [];
  const falseIds: number[] = [];
  const classNodeIds: number[] = [];
  const classIds: number[] = [];
  const classWeights: number[] = [];
  // Pre-order numbering: a node's id is its position in the attribute arrays.
  const visit = (n: TreeNode): number => {
    const id = ids.length;
    ids.push(id);
    featureIds.push(n.kind === 'split' ? n.feature : 0);
    values.push(n.kind === 'split' ? n.threshold : 0);
    modes.push(n.kind === 'split' ? 'BRANCH_LEQ' : 'LEAF');
    trueIds.push(0);
    falseIds.push(0);
    if (n.kind === 'split') {
      trueIds[id] = visit(n.left);
      falseIds[id] = visit(n.right);
    } else {
      const total = n.counts.reduce((a, b) => a + b, 0);
      n.counts.forEach((c, cls) => {
        classNodeIds.push(id);
        classIds.push(cls);
        classWeights.push(c / total);
      });
    }
    return id;
  };
  visit(tree);
  const zeros = ids.map(() => 0);
  const tree_ = node(
    'TreeEnsembleClassifier',
    [INPUT],
    [LABEL, PROBABILITIES],
    {
      classlabels_int64s: attr.ints(Array.from({ length: classes }, (_, i) => i)),
      nodes_treeids: attr.ints(zeros),
      nodes_nodeids: attr.ints(ids),
      nodes_featureids: attr.ints(featureIds),
      nodes_values: attr.floats(values),
      nodes_modes: attr.strings(modes),
      nodes_truenodeids: attr.ints(trueIds),
      nodes_falsenodeids: attr.ints(falseIds),
      class_treeids: attr.ints(classNodeIds.map(() => 0)),
      class_nodeids: attr.ints(classNodeIds),
      class_ids: attr.ints(classIds),
      class_weights: attr.floats(classWeights),
      post_transform: attr.string('NONE'),
    },
    { name: 'TreeEnsembleClassifier', domain: ML_DOMAIN },
  );
  return encode(
    model({
      docString,
      opsets: [
        { domain: '', version: DEFAULT_OPSET },
        { domain: ML_DOMAIN, version: ML_OPSET },
      ],
      graph: graph({
        name: 'iris_tree',
        nodes: [tree_],
        inputs: [valueInfo(INPUT, 'float32', ['batch', features])],
        outputs: [valueInfo(LABEL, 'int64', ['batch']), valueInfo(PROBABILITIES, 'float32', ['batch', classes])],
      }),
    }),
  );
}
