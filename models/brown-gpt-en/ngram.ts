/**
 * @module The baseline brown-gpt-en must beat: an interpolated modified Kneser–Ney character 3-gram (Chen & Goodman,
 * 1998), fitted on the training files and scored in bits per character on held-out files. Written here because no
 * maintained npm package fits Kneser–Ney language models (the n-gram packages on npm count n-grams or smooth with
 * add-k / Witten–Bell at most), and a character trigram over ~90 symbols is a few dense arrays anyway.
 */

export interface KneserNey3 {
  vocabSize: number;
  /** Probability of token w after the two tokens u, v. */
  prob: (u: number, v: number, w: number) => number;
  /** Discounts D1, D2, D3+ of each order (1 = unigram continuation counts, 3 = trigram counts). */
  discounts: Record<'1' | '2' | '3', [number, number, number]>;
}

/** Chen & Goodman's estimates from the count-of-counts n1…n4 of one order's counts. */
function discountsOf(counts: Int32Array): [number, number, number] {
  const n = [0, 0, 0, 0, 0];
  for (const c of counts) if (c >= 1 && c <= 4) n[c] = (n[c] ?? 0) + 1;
  const [n1, n2, n3, n4] = [n[1] ?? 0, n[2] ?? 0, n[3] ?? 0, n[4] ?? 0];
  if (n1 === 0 || n2 === 0 || n3 === 0) return [0.5, 1, 1.5];
  const y = n1 / (n1 + 2 * n2);
  return [1 - 2 * y * (n2 / n1), 2 - 3 * y * (n3 / n2), 3 - 4 * y * (n4 / n3)];
}

const disc = (d: readonly [number, number, number], c: number): number =>
  c === 0 ? 0 : c === 1 ? d[0] : c === 2 ? d[1] : d[2];

/**
 * Interpolated modified KN over one order: for each context, the discounted mass of its followers and the
 * back-off weight γ = (D1·N1 + D2·N2 + D3·N3+) / total of that context.
 */
function contextStats(
  counts: Int32Array,
  contexts: number,
  v: number,
  d: readonly [number, number, number],
): { total: Float64Array; gamma: Float64Array } {
  const total = new Float64Array(contexts);
  const gamma = new Float64Array(contexts);
  for (let c = 0; c < contexts; c++) {
    let t = 0;
    let g = 0;
    for (let w = 0; w < v; w++) {
      const k = counts[c * v + w] ?? 0;
      t += k;
      g += disc(d, k);
    }
    total[c] = t;
    gamma[c] = t > 0 ? g / t : 0;
  }
  return { total, gamma };
}

/**
 * Fits the model on token streams. Each stream is one file, starting with its bos token; the first character of a
 * stream is conditioned on (bos, bos), i.e. the stream is padded with one more bos on the left.
 */
export function fitKneserNey3(streams: readonly Int32Array[], vocabSize: number): KneserNey3 {
  const v = vocabSize;
  const c3 = new Int32Array(v * v * v);
  for (const s of streams) {
    for (let i = 1; i < s.length; i++) {
      const u = i >= 2 ? (s[i - 2] ?? 0) : (s[0] ?? 0);
      const at = (u * v + (s[i - 1] ?? 0)) * v + (s[i] ?? 0);
      c3[at] = (c3[at] ?? 0) + 1;
    }
  }
  // Continuation counts: N1+(• v w) = distinct u before (v, w); N1+(• w) = distinct v before w among bigram types.
  const c2 = new Int32Array(v * v);
  for (let u = 0; u < v; u++)
    for (let x = 0; x < v; x++)
      for (let w = 0; w < v; w++) if ((c3[(u * v + x) * v + w] ?? 0) > 0) c2[x * v + w] = (c2[x * v + w] ?? 0) + 1;
  const c1 = new Int32Array(v);
  for (let x = 0; x < v; x++) for (let w = 0; w < v; w++) if ((c2[x * v + w] ?? 0) > 0) c1[w] = (c1[w] ?? 0) + 1;
  const d3 = discountsOf(c3);
  const d2 = discountsOf(c2);
  const d1 = discountsOf(c1);
  const s3 = contextStats(c3, v * v, v, d3);
  const s2 = contextStats(c2, v, v, d2);
  const s1 = contextStats(c1, 1, v, d1);
  const p1 = new Float64Array(v);
  const t1 = s1.total[0] ?? 0;
  for (let w = 0; w < v; w++) {
    const k = c1[w] ?? 0;
    p1[w] = (Math.max(k - disc(d1, k), 0) + (s1.gamma[0] ?? 0) * t1 * (1 / v)) / t1;
  }
  const p2 = new Float64Array(v * v);
  for (let x = 0; x < v; x++) {
    const t = s2.total[x] ?? 0;
    for (let w = 0; w < v; w++) {
      const k = c2[x * v + w] ?? 0;
      p2[x * v + w] = t > 0 ? (Math.max(k - disc(d2, k), 0) + (s2.gamma[x] ?? 0) * t * (p1[w] ?? 0)) / t : (p1[w] ?? 0);
    }
  }
  const prob = (u: number, x: number, w: number): number => {
    const ctx = u * v + x;
    const t = s3.total[ctx] ?? 0;
    const lower = p2[x * v + w] ?? 0;
    if (t === 0) return lower;
    const k = c3[ctx * v + w] ?? 0;
    return (Math.max(k - disc(d3, k), 0) + (s3.gamma[ctx] ?? 0) * t * lower) / t;
  };
  return { vocabSize: v, prob, discounts: { '1': d1, '2': d2, '3': d3 } };
}

/** Bits per character on streams shaped like the training ones (each starts with bos, which is context, not scored). */
export function bitsPerChar(model: KneserNey3, streams: readonly Int32Array[]): { bpc: number; chars: number } {
  let bits = 0;
  let chars = 0;
  for (const s of streams) {
    for (let i = 1; i < s.length; i++) {
      const u = i >= 2 ? (s[i - 2] ?? 0) : (s[0] ?? 0);
      bits -= Math.log2(model.prob(u, s[i - 1] ?? 0, s[i] ?? 0));
      chars++;
    }
  }
  return { bpc: bits / chars, chars };
}
