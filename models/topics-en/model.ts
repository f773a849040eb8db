/**
 * @module topics-en's ONNX export: a bag of words → an LSI vector. Inputs `indices` int64 [batch, n] (vocabulary ids,
 * each at most once per row, padded with id 0) and `values` float32 [batch, n] (their counts, padding 0) → `embedding`
 * float32 [batch, k] = U_kᵀ · x̂, where x̂ is the row's TF-IDF vector (log(1 + count) × idf[id]) scaled to unit
 * length. Padding adds nothing anywhere: log(1 + 0) = 0.
 */
import { attr, encode, graph, model, node, scalar, tensor, valueInfo, type INodeProto } from '../lib/onnx-builder.js';

export const INDICES = 'indices';
export const VALUES = 'values';
export const EMBEDDING = 'embedding';
/** Initializer names, read back by tests that recompute the graph in plain TypeScript. */
export const IDF = 'tfidf.idf';
export const PROJECTION = 'lsi.projection';
/** Guards the division for a text with no known word (its vector stays zero instead of NaN). */
export const NORM_EPSILON = 1e-12;

export interface LsiExport {
  /** Global TF-IDF weight per term id. */
  idf: Float64Array;
  /** U_k, row-major terms × k. */
  u: Float64Array;
  terms: number;
  k: number;
}

export function exportOnnx(m: LsiExport, docString: string): Uint8Array {
  const nodes: INodeProto[] = [
    // TF-IDF weights of the row's terms: sublinear term frequency times the term's idf.
    node('Add', [VALUES, 'one'], ['tf.shifted'], {}, { name: 'tf/Add' }),
    node('Log', ['tf.shifted'], ['tf.log'], {}, { name: 'tf/Log' }),
    node('Gather', [IDF, INDICES], ['tfidf.idf_rows'], { axis: attr.int(0) }, { name: 'idf/Gather' }),
    node('Mul', ['tf.log', 'tfidf.idf_rows'], ['tfidf.weights'], {}, { name: 'tfidf/Mul' }),
    // L2 norm over the row (ids are distinct, so the sparse sum of squares is the dense vector's).
    node('Mul', ['tfidf.weights', 'tfidf.weights'], ['norm.squares'], {}, { name: 'norm/Square' }),
    node('ReduceSum', ['norm.squares', 'axis1'], ['norm.sum'], { keepdims: attr.int(1) }, { name: 'norm/ReduceSum' }),
    node('Sqrt', ['norm.sum'], ['norm.length'], {}, { name: 'norm/Sqrt' }),
    node('Max', ['norm.length', 'epsilon'], ['norm.safe'], {}, { name: 'norm/Max' }),
    node('Div', ['tfidf.weights', 'norm.safe'], ['tfidf.unit'], {}, { name: 'norm/Div' }),
    // Projection: Gather the terms' rows of U_k, then one batched MatMul [b, 1, n] × [b, n, k] (as sentiment-en's bag).
    node('Gather', [PROJECTION, INDICES], ['lsi.rows'], { axis: attr.int(0) }, { name: 'lsi/Gather' }),
    node('Unsqueeze', ['tfidf.unit', 'axis1'], ['lsi.weights'], {}, { name: 'lsi/Unsqueeze' }),
    node('MatMul', ['lsi.weights', 'lsi.rows'], ['lsi.sum'], {}, { name: 'lsi/MatMul' }),
    node('Squeeze', ['lsi.sum', 'axis1'], [EMBEDDING], {}, { name: 'lsi/Squeeze' }),
  ];
  return encode(
    model({
      docString,
      graph: graph({
        name: 'topics_en',
        nodes,
        inputs: [valueInfo(INDICES, 'int64', ['batch', 'terms']), valueInfo(VALUES, 'float32', ['batch', 'terms'])],
        outputs: [valueInfo(EMBEDDING, 'float32', ['batch', m.k])],
        initializers: [
          tensor(IDF, Float32Array.from(m.idf), [m.terms]),
          tensor(PROJECTION, Float32Array.from(m.u), [m.terms, m.k]),
          scalar.float32('one', 1),
          scalar.float32('epsilon', NORM_EPSILON),
          tensor('axis1', BigInt64Array.from([1n]), [1]),
        ],
      }),
    }),
  );
}
