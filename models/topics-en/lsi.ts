/**
 * @module Latent semantic indexing as Gensim's `LsiModel` computes it, written here for the build: a vocabulary with
 * document-frequency bounds, TF-IDF (raw or sublinear term frequency × log2(N / df), columns L2-normalised, Gensim's
 * `TfidfModel` defaults), and the truncated SVD A ≈ U_k S_k V_kᵀ of the term × document matrix; a text's vector is
 * U_kᵀ x̂ (Gensim's projection, no S⁻¹ scaling). No linear algebra package is installed, and the corpus has few
 * documents (400 to train) but many terms (≈ 10⁴), so the SVD goes through the small document × document Gram matrix
 * G = AᵀA = V S² Vᵀ: its eigenvectors are the right singular vectors, its eigenvalues the squared singular values,
 * and U = A V S⁻¹. The eigendecomposition is cyclic Jacobi (rotations that zero one off-diagonal pair at a time):
 * O(n³) per sweep, which for n = 400 is well under a second, and accurate to rounding for symmetric matrices.
 */

/** One sparse vector: term ids ascending, their values. */
export interface SparseVector {
  indices: number[];
  values: number[];
}

export interface Vocabulary {
  /** Terms in id order (sorted alphabetically, so the ids depend only on the set). */
  terms: string[];
  index: Map<string, number>;
  /** Document frequency per term id, over the documents the vocabulary was built from. */
  df: number[];
  documents: number;
}

export interface VocabularyOptions {
  /** Keep terms found in at least this many documents. */
  minDf: number;
  /** Drop terms found in more than this share of the documents (function words in 2,000-word samples). */
  maxDfShare: number;
}

/** The vocabulary of tokenised documents under document-frequency bounds. */
export function buildVocabulary(docs: readonly string[][], options: VocabularyOptions): Vocabulary {
  const df = new Map<string, number>();
  for (const doc of docs) for (const t of new Set(doc)) df.set(t, (df.get(t) ?? 0) + 1);
  const maxDf = options.maxDfShare * docs.length;
  const terms = [...df]
    .filter(([, n]) => n >= options.minDf && n <= maxDf)
    .map(([t]) => t)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    terms,
    index: new Map(terms.map((t, i) => [t, i])),
    df: terms.map((t) => df.get(t) ?? 0),
    documents: docs.length,
  };
}

/** Gensim's global weight: log2(N / df). */
export function idfWeights(v: Vocabulary): Float64Array {
  return Float64Array.from(v.df, (d) => Math.log2(v.documents / d));
}

/** TF-IDF of a count vector, L2-normalised (a zero vector stays zero); `sublinear` takes log(1 + tf) for tf. */
export function tfidf(counts: SparseVector, idf: Float64Array, sublinear: boolean): SparseVector {
  const values = counts.indices.map((t, k) => {
    const tf = counts.values[k] ?? 0;
    return (sublinear ? Math.log1p(tf) : tf) * (idf[t] ?? 0);
  });
  const norm = Math.sqrt(values.reduce((s, x) => s + x * x, 0));
  return { indices: [...counts.indices], values: norm > 0 ? values.map((x) => x / norm) : values };
}

/** G = AᵀA for the documents' (sparse) columns: G[i][j] = a_i · a_j, row-major n × n. */
export function gramMatrix(columns: readonly SparseVector[], terms: number): Float64Array {
  const n = columns.length;
  const g = new Float64Array(n * n);
  const dense = new Float64Array(terms);
  for (let i = 0; i < n; i++) {
    const ci = columns[i];
    if (ci === undefined) continue;
    ci.indices.forEach((t, k) => (dense[t] = ci.values[k] ?? 0));
    for (let j = i; j < n; j++) {
      const cj = columns[j];
      if (cj === undefined) continue;
      let s = 0;
      for (let k = 0; k < cj.indices.length; k++) s += (dense[cj.indices[k] ?? 0] ?? 0) * (cj.values[k] ?? 0);
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
    for (const t of ci.indices) dense[t] = 0;
  }
  return g;
}

/**
 * Eigenvalues (descending) and eigenvectors (column j of the row-major n × n `vectors`) of a symmetric matrix, by
 * cyclic Jacobi rotations until the off-diagonal mass is negligible against the diagonal's.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += (a[i * n + i] ?? 0) ** 2;
      for (let j = i + 1; j < n; j++) off += (a[i * n + j] ?? 0) ** 2;
    }
    if (off === 0 || off <= 1e-30 * diag) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q] ?? 0;
        const app = a[p * n + p] ?? 0;
        const aqq = a[q * n + q] ?? 0;
        // Already negligible against its diagonal: a rotation would change nothing representable.
        if (Math.abs(apq) <= 1e-18 * Math.sqrt(Math.abs(app * aqq)) || apq === 0) continue;
        // The rotation angle that zeroes a[p][q]: t = tan θ, the smaller root of t² + 2τt − 1 = 0.
        const tau = (aqq - app) / (2 * apq);
        const t = (tau >= 0 ? 1 : -1) / (Math.abs(tau) + Math.sqrt(tau * tau + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // A ← JᵀAJ (columns p, q, then rows p, q) and V ← VJ.
        for (let k = 0; k < n; k++) {
          const kp = k * n + p;
          const kq = k * n + q;
          const akp = a[kp] ?? 0;
          const akq = a[kq] ?? 0;
          a[kp] = c * akp - s * akq;
          a[kq] = s * akp + c * akq;
        }
        const rp = p * n;
        const rq = q * n;
        for (let k = 0; k < n; k++) {
          const apk = a[rp + k] ?? 0;
          const aqk = a[rq + k] ?? 0;
          a[rp + k] = c * apk - s * aqk;
          a[rq + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const kp = k * n + p;
          const kq = k * n + q;
          const vkp = v[kp] ?? 0;
          const vkq = v[kq] ?? 0;
          v[kp] = c * vkp - s * vkq;
          v[kq] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (x, y) => (a[y * n + y] ?? 0) - (a[x * n + x] ?? 0) || x - y,
  );
  const values = Float64Array.from(order, (i) => a[i * n + i] ?? 0);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src] ?? 0;
  });
  return { values, vectors };
}

export interface Lsi {
  /** U_k, row-major terms × k: row t is term t's loading on each topic. */
  u: Float64Array;
  /** Singular values, descending. */
  s: number[];
  k: number;
  terms: number;
}

/**
 * The rank-k truncated SVD's left factor from the documents' TF-IDF columns. Each singular vector's sign is fixed
 * so that its largest-magnitude term loads positively (an SVD is unique only up to sign; this makes builds
 * reproducible and topic poles stable). `eigen` may be passed when several k share one decomposition.
 */
export function truncatedSvd(
  columns: readonly SparseVector[],
  terms: number,
  k: number,
  eigen = symmetricEigen(gramMatrix(columns, terms), columns.length),
): Lsi {
  const n = columns.length;
  if (k > n) throw new Error(`k = ${k} exceeds the ${n} documents`);
  const s: number[] = [];
  const u = new Float64Array(terms * k);
  for (let i = 0; i < k; i++) {
    const lambda = eigen.values[i] ?? 0;
    if (!(lambda > 1e-12)) throw new Error(`singular value ${i} is zero: k = ${k} exceeds the matrix rank`);
    const sigma = Math.sqrt(lambda);
    s.push(sigma);
    // u_i = A v_i / σ_i, accumulated column by column over the sparse documents.
    for (let j = 0; j < n; j++) {
      const vij = (eigen.vectors[j * n + i] ?? 0) / sigma;
      const c = columns[j];
      if (c === undefined || vij === 0) continue;
      for (let m = 0; m < c.indices.length; m++) {
        const t = c.indices[m] ?? 0;
        u[t * k + i] = (u[t * k + i] ?? 0) + (c.values[m] ?? 0) * vij;
      }
    }
    let best = 0;
    for (let t = 0; t < terms; t++) if (Math.abs(u[t * k + i] ?? 0) > Math.abs(u[best * k + i] ?? 0)) best = t;
    if ((u[best * k + i] ?? 0) < 0) for (let t = 0; t < terms; t++) u[t * k + i] = -(u[t * k + i] ?? 0);
  }
  return { u, s, k, terms };
}

/** U_kᵀ x for a sparse x. */
export function project(lsi: Lsi, x: SparseVector): Float64Array {
  const out = new Float64Array(lsi.k);
  x.indices.forEach((t, m) => {
    const w = x.values[m] ?? 0;
    for (let i = 0; i < lsi.k; i++) out[i] = (out[i] ?? 0) + w * (lsi.u[t * lsi.k + i] ?? 0);
  });
  return out;
}

function unit(v: ArrayLike<number>): Float64Array {
  let n = 0;
  for (let i = 0; i < v.length; i++) n += (v[i] ?? 0) ** 2;
  const scale = n > 0 ? 1 / Math.sqrt(n) : 0;
  return Float64Array.from({ length: v.length }, (_, i) => (v[i] ?? 0) * scale);
}

/** Share of queries whose most cosine-similar reference vector (dense) has the query's label. */
export function nearestNeighbourAccuracy(
  queries: readonly ArrayLike<number>[],
  queryLabels: readonly string[],
  refs: readonly ArrayLike<number>[],
  refLabels: readonly string[],
): number {
  const r = refs.map(unit);
  let correct = 0;
  queries.forEach((q, qi) => {
    const uq = unit(q);
    let best = -Infinity;
    let label = '';
    r.forEach((v, j) => {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += (v[i] ?? 0) * (uq[i] ?? 0);
      if (dot > best) {
        best = dot;
        label = refLabels[j] ?? '';
      }
    });
    if (label === queryLabels[qi]) correct++;
  });
  return queries.length === 0 ? 0 : correct / queries.length;
}

/** The same for sparse unit vectors (the TF-IDF cosine baseline), without densifying every reference. */
export function sparseNearestNeighbourAccuracy(
  queries: readonly SparseVector[],
  queryLabels: readonly string[],
  refs: readonly SparseVector[],
  refLabels: readonly string[],
  terms: number,
): number {
  const dense = new Float64Array(terms);
  let correct = 0;
  queries.forEach((q, qi) => {
    q.indices.forEach((t, k) => (dense[t] = q.values[k] ?? 0));
    let best = -Infinity;
    let label = '';
    refs.forEach((r, j) => {
      let dot = 0;
      for (let k = 0; k < r.indices.length; k++) dot += (dense[r.indices[k] ?? 0] ?? 0) * (r.values[k] ?? 0);
      if (dot > best) {
        best = dot;
        label = refLabels[j] ?? '';
      }
    });
    if (label === queryLabels[qi]) correct++;
    for (const t of q.indices) dense[t] = 0;
  });
  return queries.length === 0 ? 0 : correct / queries.length;
}
