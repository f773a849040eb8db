/** @module Int8 post-training weight quantization of ONNX models (MatMul, Gemm, Conv, Gather tables), written for onnxruntime 1.30. */
import {
  attr,
  decode,
  encode,
  node,
  onnx,
  opsetVersion,
  tensor,
  tensorDims,
  tensorValues,
  type IGraphProto,
  type INodeProto,
  type ITensorProto,
  type ModelProto,
} from './onnx-builder.js';

/**
 * - `dynamic`: activations are quantized per call (DynamicQuantizeLinear → uint8), weights are int8 per output
 *   channel, the product runs in integers (MatMulInteger) and is rescaled to float. ORT fuses this pattern into
 *   MatMulIntegerToFloat. Conv has no int8×int8 kernel in ORT CPU/WASM (ConvInteger is uint8-only), so Conv weights
 *   get the `qdq` treatment under this method.
 * - `qdq`: weight-only. int8 weights with a per-channel scale are dequantized in the graph (DequantizeLinear) and
 *   the original float op runs. Same storage saving; compute stays float. This is what "weight-only" means here,
 *   so there is no separate method for it.
 */
export type QuantMethod = 'dynamic' | 'qdq';
export const QUANT_METHODS: readonly QuantMethod[] = ['dynamic', 'qdq'];

export interface QuantizeOptions {
  method: QuantMethod;
  /** Weights with fewer elements stay fp32: biases and tiny layers gain nothing and lose accuracy. */
  minElements?: number;
  /** Op types to consider. */
  ops?: readonly ('MatMul' | 'Gemm' | 'Conv' | 'Gather')[];
  /** Node names (or first output names) to leave alone. */
  exclude?: readonly string[];
  /** Fold BatchNormalization into the Conv before it first (default true), so its scale lands in int8 weights. */
  foldBatchNorm?: boolean;
  /**
   * 7-bit weights (±63). Only for the `dynamic` method on x86 hosts without VNNI, where the U8S8 kernel can
   * saturate int16 intermediate sums; costs accuracy elsewhere.
   */
  reduceRange?: boolean;
}

export interface QuantizedNode {
  node: string;
  op: string;
  weight: string;
  elements: number;
  /** What was emitted for this node (Conv under `dynamic` reports `qdq`). */
  method: QuantMethod;
}

export interface QuantizeReport {
  /** BatchNormalization nodes folded into the Conv before them. */
  folded?: number;
  quantized: QuantizedNode[];
  skipped: { node: string; op: string; reason: string }[];
}

export const DEFAULT_MIN_ELEMENTS = 1024;

/**
 * Symmetric int8 quantization with one scale per slice along `axis` (the output channel): scale = max|w| / qmax,
 * q = round(w / scale) clamped to ±qmax. Zero slices get scale 1 so dequantization never divides by zero.
 */
export function quantizePerChannel(
  values: Float32Array,
  dims: readonly number[],
  axis: number,
  qmax = 127,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const maxAbs = new Float64Array(channels);
  const channelOf = (i: number): number => Math.floor(i / inner) % channels;
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    const a = Math.abs(values[i] ?? 0);
    if (a > (maxAbs[c] ?? 0)) maxAbs[c] = a;
  }
  // Scales are rounded to float32 first so quantization divides by exactly what the graph multiplies by.
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / qmax : 1));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const s = scales[channelOf(i)] ?? 1;
    q[i] = Math.max(-qmax, Math.min(qmax, Math.round((values[i] ?? 0) / s)));
  }
  return { q, scales };
}

/** The inverse of quantizePerChannel (for tests and error estimates). */
export function dequantizePerChannel(
  q: Int8Array,
  scales: Float32Array,
  dims: readonly number[],
  axis: number,
): Float32Array {
  const channels = dims[axis] ?? 1;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  return Float32Array.from(q, (v, i) => v * (scales[Math.floor(i / inner) % channels] ?? 1));
}

function transpose2d(values: Int8Array, rows: number, cols: number): Int8Array {
  const out = new Int8Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] ?? 0;
  return out;
}

function attrInt(n: INodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  // String() rather than .toString(): int64 fields decode as Long objects or numbers, and both print as decimals.
  return a?.i === undefined || a.i === null ? fallback : Number(String(a.i));
}

function attrFloat(n: INodeProto, name: string, fallback: number): number {
  const a = (n.attribute ?? []).find((x) => x.name === name);
  return a?.f === undefined || a.f === null ? fallback : a.f;
}

/** Every value name a graph (and its subgraphs) reads, so dead initializers can be dropped safely. */
function namesRead(g: IGraphProto, into: Set<string>): Set<string> {
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) into.add(i);
    for (const a of n.attribute ?? []) {
      if (a.g) namesRead(a.g, into);
      for (const sub of a.graphs ?? []) namesRead(sub, into);
    }
  }
  for (const o of g.output ?? []) if (o.name) into.add(o.name);
  return into;
}

/** Fresh value names that collide with nothing in the graph. */
class Names {
  private readonly used = new Set<string>();
  constructor(g: IGraphProto) {
    for (const n of g.node ?? [])
      for (const v of [...(n.input ?? []), ...(n.output ?? []), n.name ?? '']) this.used.add(v);
    for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) this.used.add(v.name ?? '');
    for (const t of g.initializer ?? []) this.used.add(t.name ?? '');
  }
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }
}

interface Rewrite {
  nodes: INodeProto[];
  initializers: ITensorProto[];
  method: QuantMethod;
}

/**
 * Quantizes a decoded model in place and reports what it did. Graph inputs, outputs and their shapes are untouched:
 * only weight initializers and the nodes that read them change.
 */
export function quantizeModelProto(m: ModelProto, options: QuantizeOptions): QuantizeReport {
  const g = m.graph;
  if (!g) throw new Error('model has no graph');
  const minElements = options.minElements ?? DEFAULT_MIN_ELEMENTS;
  const ops = new Set<string>(options.ops ?? ['MatMul', 'Gemm', 'Conv', 'Gather']);
  const exclude = new Set(options.exclude ?? []);
  const qmax = options.reduceRange === true ? 63 : 127;
  const opset = opsetVersion(m) ?? 1;
  const report: QuantizeReport = { quantized: [], skipped: [] };

  // Exporters for old opsets (paddle2onnx at opset 9, for one) keep weights in Constant nodes: make them initializers
  // first, so they can be found and rewritten like any other weight. Graph semantics are unchanged.
  hoistConstants(g);
  if (options.foldBatchNorm !== false) report.folded = foldBatchNorm(g);
  const inits = new Map<string, ITensorProto>();
  for (const t of g.initializer ?? []) if (t.name) inits.set(t.name, t);
  // An initializer also listed as a graph input can be overridden at run time: its values are not constants.
  const graphInputs = new Set((g.input ?? []).map((v) => v.name ?? ''));
  const names = new Names(g);
  // One dequantized copy per weight, even when several nodes share it (qdq path).
  const dequantized = new Map<string, string>();

  const skip = (n: INodeProto, reason: string): Rewrite | undefined => {
    report.skipped.push({ node: label(n), op: n.opType ?? '', reason });
    return undefined;
  };

  /** int8 weight + scale + zero point initializers and a DequantizeLinear feeding `n.input[1]`. */
  const qdqWeight = (n: INodeProto, weightName: string, w: Float32Array, dims: number[], axis: number): Rewrite => {
    const done = dequantized.get(weightName);
    if (done !== undefined)
      return { nodes: [{ ...n, input: replaceAt(n.input ?? [], 1, done) }], initializers: [], method: 'qdq' };
    const { q, scales } = quantizePerChannel(w, dims, axis, qmax);
    const qName = names.fresh(`${weightName}_quantized`);
    const sName = names.fresh(`${weightName}_scale`);
    const zName = names.fresh(`${weightName}_zero_point`);
    const out = names.fresh(`${weightName}_dequantized`);
    dequantized.set(weightName, out);
    const channels = dims[axis] ?? 1;
    return {
      nodes: [
        node(
          'DequantizeLinear',
          [qName, sName, zName],
          [out],
          { axis: attr.int(axis) },
          { name: names.fresh(`${weightName}_DequantizeLinear`) },
        ),
        { ...n, input: replaceAt(n.input ?? [], 1, out) },
      ],
      initializers: [
        tensor(qName, q, dims),
        tensor(sName, scales, [channels]),
        tensor(zName, new Int8Array(channels), [channels]),
      ],
      method: 'qdq',
    };
  };

  /**
   * Weight-only int8 for opsets before 13, which have no per-axis DequantizeLinear (and opset 9 none at all):
   * Cast(int8 → float) × per-channel scale shaped to broadcast along `axis`. Only Cast and Mul, so any opset runs it,
   * and ORT folds the pair into a float weight when the session loads: the saving is in bytes shipped, not compute.
   */
  const castMulWeight = (n: INodeProto, weightName: string, w: Float32Array, dims: number[], axis: number): Rewrite => {
    const done = dequantized.get(weightName);
    if (done !== undefined)
      return { nodes: [{ ...n, input: replaceAt(n.input ?? [], 1, done) }], initializers: [], method: 'qdq' };
    const { q, scales } = quantizePerChannel(w, dims, axis, qmax);
    const qName = names.fresh(`${weightName}_quantized`);
    const sName = names.fresh(`${weightName}_scale`);
    const fName = names.fresh(`${weightName}_quantized_float`);
    const out = names.fresh(`${weightName}_dequantized`);
    dequantized.set(weightName, out);
    const scaleDims = dims.map((d, i) => (i === axis ? d : 1));
    return {
      nodes: [
        node(
          'Cast',
          [qName],
          [fName],
          { to: attr.int(onnx.TensorProto.DataType.FLOAT) },
          { name: names.fresh(`${weightName}_Cast`) },
        ),
        node('Mul', [fName, sName], [out], {}, { name: names.fresh(`${weightName}_scale_Mul`) }),
        { ...n, input: replaceAt(n.input ?? [], 1, out) },
      ],
      initializers: [tensor(qName, q, dims), tensor(sName, scales, scaleDims)],
      method: 'qdq',
    };
  };

  /**
   * DynamicQuantizeLinear(A) → MatMulInteger(A_q, W_q[K,N], A_zp, W_zp) → Cast → Mul(A_scale·W_scale) [→ Add bias]:
   * the exact shape ORT's MatMulIntegerToFloat fusion looks for. `alpha` folds into the weight scales.
   */
  const dynamicMatMul = (
    n: INodeProto,
    weightName: string,
    wq: Int8Array,
    scales: Float32Array,
    k: number,
    cols: number,
    bias: string | undefined,
  ): Rewrite => {
    const a = n.input?.[0] ?? '';
    const y = n.output?.[0] ?? '';
    const base = label(n);
    const aQ = names.fresh(`${a}_quantized`);
    const aScale = names.fresh(`${a}_scale`);
    const aZp = names.fresh(`${a}_zero_point`);
    const wQ = names.fresh(`${weightName}_quantized`);
    const wScale = names.fresh(`${weightName}_scale`);
    const wZp = names.fresh(`${weightName}_zero_point`);
    const acc = names.fresh(`${base}_int32`);
    const accF = names.fresh(`${base}_int32_float`);
    const scale = names.fresh(`${base}_scale`);
    const scaled = bias === undefined ? y : names.fresh(`${base}_scaled`);
    const nodes = [
      node('DynamicQuantizeLinear', [a], [aQ, aScale, aZp], {}, { name: names.fresh(`${base}_DynamicQuantizeLinear`) }),
      node('MatMulInteger', [aQ, wQ, aZp, wZp], [acc], {}, { name: names.fresh(`${base}_MatMulInteger`) }),
      node(
        'Cast',
        [acc],
        [accF],
        { to: attr.int(onnx.TensorProto.DataType.FLOAT) },
        { name: names.fresh(`${base}_Cast`) },
      ),
      node('Mul', [aScale, wScale], [scale], {}, { name: names.fresh(`${base}_scale_Mul`) }),
      node('Mul', [accF, scale], [scaled], {}, { name: names.fresh(`${base}_Mul`) }),
    ];
    if (bias !== undefined) nodes.push(node('Add', [scaled, bias], [y], {}, { name: names.fresh(`${base}_bias_Add`) }));
    return {
      nodes,
      // Per-column B zero points (all 0: symmetric) — ORT accepts a [N] zero point for per-column B scales.
      initializers: [
        tensor(wQ, wq, [k, cols]),
        tensor(wScale, scales, [cols]),
        tensor(wZp, new Int8Array(cols), [cols]),
      ],
      method: 'dynamic',
    };
  };

  /**
   * Gather over a float table (an embedding bag's weights): Gather the int8 rows, then Cast × per-column scale.
   * Only the gathered rows are dequantized, so a run stays O(rows used); no activation is quantized, so a row's
   * answer does not depend on the rows batched with it. Both methods emit this (it is weight-only).
   */
  const gatherWeight = (n: INodeProto, weightName: string, w: Float32Array, dims: number[]): Rewrite => {
    const { q, scales } = quantizePerChannel(w, dims, 1, qmax);
    const qName = names.fresh(`${weightName}_quantized`);
    const sName = names.fresh(`${weightName}_scale`);
    const gathered = names.fresh(`${label(n)}_int8`);
    const gatheredF = names.fresh(`${label(n)}_int8_float`);
    return {
      nodes: [
        { ...n, input: replaceAt(n.input ?? [], 0, qName), output: [gathered] },
        node(
          'Cast',
          [gathered],
          [gatheredF],
          { to: attr.int(onnx.TensorProto.DataType.FLOAT) },
          { name: names.fresh(`${label(n)}_Cast`) },
        ),
        node('Mul', [gatheredF, sName], [n.output?.[0] ?? ''], {}, { name: names.fresh(`${label(n)}_scale_Mul`) }),
      ],
      initializers: [tensor(qName, q, dims), tensor(sName, scales, [dims[1] ?? 1])],
      method: 'qdq',
    };
  };

  const floatWeight = (n: INodeProto, index = 1): { name: string; values: Float32Array; dims: number[] } | string => {
    const name = n.input?.[index] ?? '';
    const t = inits.get(name);
    if (t === undefined) return 'weight is not an initializer';
    if (graphInputs.has(name)) return 'weight is also a graph input';
    if (t.dataType !== onnx.TensorProto.DataType.FLOAT) return 'weight is not float32';
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return 'weight is stored externally';
    const values = tensorValues(t);
    if (!(values instanceof Float32Array)) return 'weight is not float32';
    if (values.length < minElements) return `weight has ${values.length} < ${minElements} elements`;
    return { name, values, dims: tensorDims(t) };
  };

  const rewrite = (n: INodeProto): Rewrite | undefined => {
    const op = n.opType ?? '';
    if (!ops.has(op)) return undefined;
    if (exclude.has(label(n)) || exclude.has(n.output?.[0] ?? '')) return skip(n, 'excluded');
    if (op === 'Gather') {
      const table = floatWeight(n, 0);
      if (typeof table === 'string') return skip(n, table);
      if (table.dims.length !== 2 || attrInt(n, 'axis', 0) !== 0)
        return skip(n, 'Gather is not over rows of a 2-D table');
      return gatherWeight(n, table.name, table.values, table.dims);
    }
    const w = floatWeight(n);
    if (typeof w === 'string') return skip(n, w);
    if (opset < 13)
      return castMulWeight(
        n,
        w.name,
        w.values,
        w.dims,
        op === 'Gemm' && attrInt(n, 'transB', 0) !== 1 ? 1 : op === 'Conv' || op === 'Gemm' ? 0 : w.dims.length - 1,
      );

    if (op === 'Conv') return qdqWeight(n, w.name, w.values, w.dims, 0);

    if (op === 'MatMul') {
      if (w.dims.length < 2) return skip(n, 'weight rank < 2');
      const axis = w.dims.length - 1;
      if (options.method === 'qdq' || w.dims.length !== 2) return qdqWeight(n, w.name, w.values, w.dims, axis);
      const [k = 0, cols = 0] = w.dims;
      const { q, scales } = quantizePerChannel(w.values, w.dims, 1, qmax);
      return dynamicMatMul(n, w.name, q, scales, k, cols, undefined);
    }

    // Gemm: Y = alpha·A'·B' + beta·C
    if (w.dims.length !== 2) return skip(n, 'Gemm weight is not 2-D');
    const transB = attrInt(n, 'transB', 0) === 1;
    if (options.method === 'qdq') return qdqWeight(n, w.name, w.values, w.dims, transB ? 0 : 1);
    if (attrInt(n, 'transA', 0) !== 0) return skip(n, 'Gemm with transA is not rewritten for dynamic');
    const alpha = attrFloat(n, 'alpha', 1);
    const beta = attrFloat(n, 'beta', 1);
    const cName = n.input?.[2];
    const hasBias = cName !== undefined && cName !== '';
    if (hasBias && beta !== 1 && !inits.has(cName)) return skip(n, 'Gemm beta ≠ 1 with a computed C');
    const [rows = 0, cols0 = 0] = w.dims;
    const { q, scales } = quantizePerChannel(w.values, w.dims, transB ? 0 : 1, qmax);
    const k = transB ? cols0 : rows;
    const cols = transB ? rows : cols0;
    const wq = transB ? transpose2d(q, rows, cols0) : q;
    const folded = alpha === 1 ? scales : Float32Array.from(scales, (s) => s * alpha);
    let bias: string | undefined;
    const extra: ITensorProto[] = [];
    if (hasBias) {
      const c = inits.get(cName);
      if (beta !== 1 && c !== undefined) {
        const cv = tensorValues(c);
        if (!(cv instanceof Float32Array)) return skip(n, 'Gemm C is not float32');
        bias = names.fresh(`${cName}_beta`);
        extra.push(
          tensor(
            bias,
            Float32Array.from(cv, (v) => v * beta),
            tensorDims(c),
          ),
        );
      } else {
        bias = cName;
      }
    }
    const r = dynamicMatMul(n, w.name, wq, folded, k, cols, bias);
    r.initializers.push(...extra);
    return r;
  };

  const newNodes: INodeProto[] = [];
  const newInits: ITensorProto[] = [];
  for (const n of g.node ?? []) {
    const r = rewrite(n);
    if (r === undefined) {
      newNodes.push(n);
      continue;
    }
    newNodes.push(...r.nodes);
    newInits.push(...r.initializers);
    const weight = n.opType === 'Gather' ? (n.input?.[0] ?? '') : (n.input?.[1] ?? '');
    const t = inits.get(weight);
    report.quantized.push({
      node: label(n),
      op: n.opType ?? '',
      weight,
      elements: t ? tensorDims(t).reduce((a, b) => a * b, 1) : 0,
      method: r.method,
    });
  }
  g.node = newNodes;
  const read = namesRead(g, new Set());
  g.initializer = [...(g.initializer ?? []).filter((t) => read.has(t.name ?? '')), ...newInits];
  if (report.quantized.length > 0) {
    m.metadataProps = [
      ...(m.metadataProps ?? []).filter((p) => p.key !== 'quantization'),
      onnx.StringStringEntryProto.create({
        key: 'quantization',
        value: `int8 ${options.method} per-channel symmetric`,
      }),
    ];
  }
  return report;
}

/**
 * Folds inference-mode BatchNormalization into the Conv that feeds it: with s = γ / √(σ² + ε), W' = W·s per output
 * channel and b' = (b − μ)·s + β. Same function, one node fewer, and the scale goes into weights that get quantized
 * instead of staying as fp32 parameters. Only when the Conv's output feeds nothing else and every parameter is a
 * float initializer. Returns how many were folded.
 */
function foldBatchNorm(g: IGraphProto): number {
  const inits = new Map<string, ITensorProto>();
  for (const t of g.initializer ?? []) if (t.name) inits.set(t.name, t);
  const consumers = new Map<string, number>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  for (const o of g.output ?? []) consumers.set(o.name ?? '', (consumers.get(o.name ?? '') ?? 0) + 1);
  const producer = new Map<string, INodeProto>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n);
  const floats = (name: string | undefined): Float32Array | undefined => {
    const t = name === undefined ? undefined : inits.get(name);
    if (t?.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
    const v = tensorValues(t);
    return v instanceof Float32Array ? v : undefined;
  };
  const removed = new Set<INodeProto>();
  const replaced: ITensorProto[] = [];
  for (const bn of g.node ?? []) {
    if (bn.opType !== 'BatchNormalization' || (bn.domain ?? '') !== '') continue;
    if ((bn.output ?? []).slice(1).some((o) => o !== '') || attrInt(bn, 'training_mode', 0) !== 0) continue;
    const x = bn.input?.[0] ?? '';
    const conv = producer.get(x);
    if (conv?.opType !== 'Conv' || consumers.get(x) !== 1) continue;
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => floats(bn.input?.[i]));
    const wName = conv.input?.[1];
    const w = floats(wName);
    const wInit = wName === undefined ? undefined : inits.get(wName);
    if (!scale || !bias || !mean || !variance || !w || !wInit || (consumers.get(wName ?? '') ?? 0) !== 1) continue;
    const channels = scale.length;
    const perChannel = w.length / channels;
    const convBias = floats(conv.input?.[2]);
    if (!Number.isInteger(perChannel) || (convBias !== undefined && convBias.length !== channels)) continue;
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const s = Float32Array.from(scale, (gamma, c) => gamma / Math.sqrt((variance[c] ?? 0) + eps));
    const w2 = Float32Array.from(w, (v, i) => v * (s[Math.floor(i / perChannel)] ?? 1));
    const b2 = Float32Array.from(s, (sc, c) => ((convBias?.[c] ?? 0) - (mean[c] ?? 0)) * sc + (bias[c] ?? 0));
    const bName = `${wName ?? ''}_bn_folded_bias`;
    replaced.push(tensor(wName ?? '', w2, tensorDims(wInit)), tensor(bName, b2, [channels]));
    conv.input = [conv.input?.[0] ?? '', wName ?? '', bName];
    conv.output = [bn.output?.[0] ?? ''];
    removed.add(bn);
  }
  if (removed.size === 0) return 0;
  const swapped = new Set(replaced.map((t) => t.name));
  g.node = (g.node ?? []).filter((n) => !removed.has(n));
  g.initializer = [...(g.initializer ?? []).filter((t) => !swapped.has(t.name)), ...replaced];
  // Parameters only the folded nodes read are now dead; the caller's final sweep drops unread initializers.
  return removed.size;
}

/** Moves `Constant` nodes holding a tensor into the graph's initializers, keeping their output names. */
function hoistConstants(g: IGraphProto): void {
  const kept: INodeProto[] = [];
  const hoisted: ITensorProto[] = [];
  for (const n of g.node ?? []) {
    const value = n.opType === 'Constant' && (n.attribute ?? []).length === 1 ? (n.attribute ?? [])[0] : undefined;
    const out = n.output?.[0];
    if (
      value?.name === 'value' &&
      value.t !== null &&
      value.t !== undefined &&
      out !== undefined &&
      (n.domain ?? '') === ''
    ) {
      hoisted.push({ ...value.t, name: out });
    } else {
      kept.push(n);
    }
  }
  if (hoisted.length === 0) return;
  g.node = kept;
  g.initializer = [...(g.initializer ?? []), ...hoisted];
}

/** A node's name, or its first output when unnamed (decoded protobuf strings are '' rather than absent). */
function label(n: INodeProto): string {
  return n.name !== undefined && n.name !== null && n.name !== '' ? n.name : (n.output?.[0] ?? '');
}

function replaceAt(xs: readonly string[], i: number, v: string): string[] {
  return xs.map((x, j) => (j === i ? v : x));
}

/** Quantizes serialised model bytes, returning the new bytes and what changed. */
export function quantizeModelWithReport(
  bytes: Uint8Array,
  options: QuantizeOptions,
): { bytes: Uint8Array; report: QuantizeReport } {
  const m = decode(bytes);
  const report = quantizeModelProto(m, options);
  return { bytes: encode(m), report };
}

/** Quantizes serialised model bytes (int8 weights, per output channel, symmetric). */
export function quantizeModel(bytes: Uint8Array, options: QuantizeOptions): Uint8Array {
  return quantizeModelWithReport(bytes, options).bytes;
}
