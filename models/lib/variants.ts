/**
 * @module The quantization rule every recipe follows: build fp32 and each int8 method, measure size, latency in
 * onnxruntime-web (WASM, 1 thread — the edge runtime) and onnxruntime-node, and accuracy on the model's evaluation
 * set; ship the fastest int8 variant that loses at most one point, or fp32 with the reason.
 */
import type { Manifest } from '../../src/lib/manifest.js';
import { p50Latency, type EvalInput } from './ort-eval.js';
import { QUANT_METHODS, quantizeModelWithReport, type QuantizeOptions, type QuantMethod } from './quantize.js';

export type VariantName = QuantMethod | 'fp32';

export interface Variant {
  method: VariantName;
  bytes: Uint8Array;
  /** File name in the build directory: `model.fp32.onnx`, `model.int8-<method>.onnx`. */
  file: string;
}

export interface Measured {
  accuracy: number;
  /** Other quality figures the recipe wants recorded per variant (macro-F1…). */
  extra: Record<string, number>;
  bytes: number;
  p50_web_ms: number;
  p50_node_ms: number;
}

/** An int8 variant ships only if it loses at most this much accuracy against fp32 (one point). */
export const MAX_INT8_LOSS = 0.01;
/** A later int8 method must be this much faster (fraction of p50) to displace an earlier one: timing noise must not flip builds. */
export const SPEED_MARGIN = 0.2;
/** What the `edge_latency_ms_p50` metric is, said once so every manifest words it the same. */
export const EDGE_LATENCY_NOTE =
  'p50 of session.run, batch 1, onnxruntime-web 1.30 WASM SIMD with 1 thread in Node (the edge runtime; workerd figures: npm run bench)';

/** fp32 plus one int8 variant per quantizer method. */
export function buildVariants(
  fp32: Uint8Array,
  options: Omit<QuantizeOptions, 'method'>,
  log: (m: string) => void,
): Variant[] {
  const out: Variant[] = [{ method: 'fp32', bytes: fp32, file: 'model.fp32.onnx' }];
  for (const method of QUANT_METHODS) {
    const { bytes, report } = quantizeModelWithReport(fp32, { ...options, method });
    const skipped = report.skipped.map((s) => `${s.node} (${s.reason})`).join(', ') || 'none';
    // A method that emitted none of its own rewrites (Conv-only or old-opset graphs under `dynamic`) made the same
    // graph as another method: measuring it twice would only let timing noise pick between two names for one model.
    if (report.quantized.length > 0 && !report.quantized.some((q) => q.method === method)) {
      log(
        `  int8 ${method}: no ${method} rewrite applies (every weight went weight-only); skipped as a duplicate of qdq`,
      );
      continue;
    }
    log(
      `  int8 ${method}: quantized ${report.quantized.map((q) => `${q.weight} (${q.elements}, ${q.method})`).join(', ') || 'nothing'}; fp32 kept: ${skipped}`,
    );
    out.push({ method, bytes, file: `model.int8-${method}.onnx` });
  }
  return out;
}

/** Measures every variant: `evaluate` gives accuracy (and extras) on the evaluation set; `one` is a batch-1 input for latency. */
export async function measureVariants(
  variants: readonly Variant[],
  evaluate: (bytes: Uint8Array) => Promise<{ accuracy: number; extra?: Record<string, number> }>,
  one: EvalInput,
  log: (m: string) => void,
  latency: { warmup?: number; iterations?: number } = {},
): Promise<Map<VariantName, Measured>> {
  const results = new Map<VariantName, Measured>();
  for (const v of variants) {
    const q = await evaluate(v.bytes);
    const r: Measured = {
      accuracy: q.accuracy,
      extra: q.extra ?? {},
      bytes: v.bytes.byteLength,
      p50_web_ms: await p50Latency(v.bytes, one, { runtime: 'web', ...latency }),
      p50_node_ms: await p50Latency(v.bytes, one, { runtime: 'node', ...latency }),
    };
    results.set(v.method, r);
    const extras = Object.entries(r.extra)
      .map(([k, x]) => `, ${k} ${x.toFixed(4)}`)
      .join('');
    log(
      `  ${v.method}: accuracy ${r.accuracy.toFixed(4)}${extras}, ${r.bytes} bytes, p50 batch-1 web ${r.p50_web_ms.toFixed(3)} ms, node ${r.p50_node_ms.toFixed(3)} ms`,
    );
  }
  return results;
}

export interface Selection {
  served: Variant;
  quantization: Manifest['quantization'];
}

/**
 * The rule: among int8 variants within MAX_INT8_LOSS of fp32, the first in QUANT_METHODS order, displaced only by one
 * at least SPEED_MARGIN faster in ORT-web; fp32 when none qualifies. `fp32Reason` overrides for models with nothing
 * to quantize.
 */
export function selectVariant(
  variants: readonly Variant[],
  results: ReadonlyMap<VariantName, Measured>,
  fp32Reason?: string,
): Selection {
  const fp32 = variants.find((v) => v.method === 'fp32');
  const ref = results.get('fp32');
  if (fp32 === undefined || ref === undefined) throw new Error('fp32 variant missing');
  if (fp32Reason !== undefined)
    return { served: fp32, quantization: { type: 'fp32', method: 'none', reason: fp32Reason } };
  const eligible = variants.filter(
    (v) => v.method !== 'fp32' && (results.get(v.method)?.accuracy ?? 0) >= ref.accuracy - MAX_INT8_LOSS - 1e-12,
  );
  let served = eligible[0];
  for (const v of eligible) {
    const best = served === undefined ? undefined : results.get(served.method);
    const r = results.get(v.method);
    if (best !== undefined && r !== undefined && r.p50_web_ms < best.p50_web_ms * (1 - SPEED_MARGIN)) served = v;
  }
  if (served === undefined) {
    const losses = variants
      .filter((v) => v.method !== 'fp32')
      .map((v) => `${v.method} ${(results.get(v.method)?.accuracy ?? 0).toFixed(4)}`)
      .join(', ');
    return {
      served: fp32,
      quantization: {
        type: 'fp32',
        method: 'none',
        reason: `no int8 variant kept accuracy within ${MAX_INT8_LOSS} of fp32 (${ref.accuracy.toFixed(4)}; ${losses})`,
      },
    };
  }
  const r = results.get(served.method);
  const faster = r !== undefined && r.p50_web_ms < ref.p50_web_ms;
  return {
    served,
    quantization: {
      type: 'int8',
      method: served.method,
      reason:
        `int8 within ${MAX_INT8_LOSS} accuracy of fp32 (${ref.accuracy.toFixed(4)} → ${(r?.accuracy ?? 0).toFixed(4)}); ${served.method} is the preferred method ` +
        `unless another is ≥ ${SPEED_MARGIN * 100}% faster in onnxruntime-web (p50, batch 1)` +
        (faster
          ? ''
          : `; note: fp32 is faster at batch 1 (${ref.p50_web_ms.toFixed(3)} vs ${(r?.p50_web_ms ?? 0).toFixed(3)} ms), int8 ships for size`),
    },
  };
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

/** The manifest metrics every model records about its variants (same names across the zoo). */
export function variantMetrics(
  variants: readonly Variant[],
  results: ReadonlyMap<VariantName, Measured>,
  served: Variant,
): Record<string, number | string | Record<string, number>> {
  const s = results.get(served.method);
  const ref = results.get('fp32');
  if (s === undefined || ref === undefined) throw new Error('variants not measured');
  const metrics: Record<string, number | string | Record<string, number>> = {
    accuracy: round(s.accuracy),
    fp32_accuracy: round(ref.accuracy),
    bytes: Object.fromEntries(variants.map((v) => [v.method, v.bytes.byteLength])),
    size_ratio: round(s.bytes / ref.bytes),
    p50_ms_batch1_web: Object.fromEntries([...results].map(([k, v]) => [k, round(v.p50_web_ms)])),
    p50_ms_batch1_node: Object.fromEntries([...results].map(([k, v]) => [k, round(v.p50_node_ms)])),
    edge_latency_ms_p50: round(s.p50_web_ms),
    edge_latency_measured: EDGE_LATENCY_NOTE,
  };
  for (const [k, v] of Object.entries(s.extra)) metrics[k] = round(v);
  for (const [k, v] of Object.entries(ref.extra)) metrics[`fp32_${k}`] = round(v);
  for (const method of QUANT_METHODS) {
    const r = results.get(method);
    if (r === undefined) continue;
    metrics[`int8_${method}_accuracy`] = round(r.accuracy);
    for (const [k, v] of Object.entries(r.extra)) metrics[`int8_${method}_${k}`] = round(v);
  }
  return metrics;
}
