/** @module Tests of the int8 quantizer on the real sentiment model and on a synthetic MatMul/Gemm/Conv graph, run in onnxruntime-node. */
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  attr,
  decode,
  encode,
  graph,
  model,
  node,
  tensor,
  valueInfo,
  type IValueInfoProto,
} from '../../models/lib/onnx-builder.js';
import { runFeeds } from '../../models/lib/ort-eval.js';
import {
  dequantizePerChannel,
  QUANT_METHODS,
  quantizeModel,
  quantizeModelWithReport,
  quantizePerChannel,
  type QuantMethod,
} from '../../models/lib/quantize.js';
import { sparseFeeds } from '../../models/sentiment-en/recipe.js';
import type { Feeds } from '../../src/tasks/tensor.js';
import { sentimentBuild, type SentimentBuild } from './build-fixture.js';

/** Largest |Δ probability| allowed between an int8 variant and fp32 on any held-out sentence. */
const PROB_TOLERANCE = 0.03;

function ioSignature(bytes: Uint8Array): unknown {
  const g = decode(bytes).graph;
  const sig = (vs: IValueInfoProto[] | null | undefined): unknown[] =>
    (vs ?? []).map((v) => ({
      name: v.name,
      elem: v.type?.tensorType?.elemType,
      dims: v.type?.tensorType?.shape?.dim?.map((d) => d.dimParam || Number(d.dimValue ?? 0)),
    }));
  return { inputs: sig(g?.input), outputs: sig(g?.output) };
}

describe('quantizePerChannel', () => {
  it('is symmetric per output column and within half a step of the original', () => {
    const w = new Float32Array([0.5, -10, 0.25, 4, -0.125, 0]);
    const { q, scales } = quantizePerChannel(w, [3, 2], 1);
    expect(scales[0]).toBeCloseTo(0.5 / 127, 8);
    expect(scales[1]).toBeCloseTo(10 / 127, 8);
    expect(Math.max(...q.map(Math.abs))).toBe(127);
    const back = dequantizePerChannel(q, scales, [3, 2], 1);
    back.forEach((v, i) => expect(Math.abs(v - (w[i] ?? 0))).toBeLessThanOrEqual((scales[i % 2] ?? 0) / 2 + 1e-9));
  });
});

describe('quantizeModel on sentiment-en', () => {
  let built: SentimentBuild;
  let fp32: Uint8Array;
  let input: Feeds;
  let ref: Float32Array;
  beforeAll(async () => {
    built = await sentimentBuild();
    fp32 = built.file('model.fp32.onnx');
    input = sparseFeeds(built.heldout.map((e) => e.text));
    ref = await runFeeds(fp32, input, 'probabilities');
  });

  for (const method of QUANT_METHODS) {
    it(`${method}: close to fp32 on held-out inputs, ≤ 0.3 of the size, same I/O`, async () => {
      const { bytes, report } = quantizeModelWithReport(fp32, { method });
      // The embedding bag's table is a Gather over a float initializer: quantized weight-only under either method.
      expect(report.quantized.map((q) => [q.op, q.method])).toContainEqual(['Gather', 'qdq']);
      expect(bytes.byteLength / fp32.byteLength).toBeLessThanOrEqual(0.3);
      expect(ioSignature(bytes)).toEqual(ioSignature(fp32));
      const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
      expect(s.inputNames).toEqual(['indices', 'values']);
      expect(s.outputNames).toEqual(['logits', 'probabilities']);
      await s.release();
      const got = await runFeeds(bytes, input, 'probabilities');
      expect(got.length).toBe(ref.length);
      let maxDiff = 0;
      got.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (ref[i] ?? 0)))));
      expect(maxDiff).toBeLessThanOrEqual(PROB_TOLERANCE);
    });
  }

  it('the served int8 file is exactly the quantizer output for its method (deterministic)', () => {
    const method = built.manifest.quantization.method as QuantMethod;
    expect(built.manifest.quantization.type).toBe('int8');
    expect(quantizeModel(fp32, { method })).toEqual(built.file(built.manifest.model_file));
  });
});

describe('quantizeModel on MatMul, Gemm (transB, alpha, beta) and Conv', () => {
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647 - 0.5;
  };
  const f = (n: number): Float32Array => Float32Array.from({ length: n }, rand);
  const fp32 = encode(
    model({
      graph: graph({
        name: 'mixed',
        nodes: [
          node('Conv', ['img', 'K', 'kb'], ['c'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }),
          node('Relu', ['c'], ['cr']),
          node('Flatten', ['cr'], ['flat']),
          node('MatMul', ['flat', 'W1'], ['h0']),
          node('Relu', ['h0'], ['h']),
          node('Gemm', ['h', 'W2', 'b2'], ['y'], { transB: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) }),
          node('Gemm', ['h', 'Wsmall'], ['z']),
        ],
        inputs: [valueInfo('img', 'float32', ['batch', 1, 8, 8])],
        outputs: [valueInfo('y', 'float32', ['batch', 40]), valueInfo('z', 'float32', ['batch', 2])],
        initializers: [
          tensor('K', f(128 * 9), [128, 1, 3, 3]),
          tensor('kb', f(128), [128]),
          tensor('W1', f(128 * 64 * 64), [128 * 64, 64]),
          tensor('W2', f(40 * 64), [40, 64]),
          tensor('b2', f(40), [40]),
          tensor('Wsmall', f(64 * 2), [64, 2]),
        ],
      }),
    }),
  );
  const x = f(3 * 64);

  async function run(bytes: Uint8Array): Promise<Record<string, Float32Array>> {
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const out = await s.run({ img: new ort.Tensor('float32', x, [3, 1, 8, 8]) });
    await s.release();
    return { y: out.y?.data as Float32Array, z: out.z?.data as Float32Array };
  }

  for (const method of QUANT_METHODS) {
    it(`${method}: quantizes the large weights, keeps small ones fp32, stays within 2% of the output range`, async () => {
      const { bytes, report } = quantizeModelWithReport(fp32, { method });
      expect(report.quantized.map((q) => q.op).sort()).toEqual(['Conv', 'Gemm', 'MatMul']);
      expect(report.quantized.find((q) => q.op === 'Conv')?.method).toBe('qdq');
      expect(report.skipped.map((s) => s.reason)).toEqual(['weight has 128 < 1024 elements']);
      expect(bytes.byteLength / fp32.byteLength).toBeLessThanOrEqual(0.3);
      const want = await run(fp32);
      const got = await run(bytes);
      for (const k of ['y', 'z'] as const) {
        const a = want[k] ?? new Float32Array();
        const b = got[k] ?? new Float32Array();
        const range = Math.max(...a.map(Math.abs));
        let maxDiff = 0;
        a.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - (b[i] ?? 0)))));
        expect(maxDiff / range).toBeLessThanOrEqual(0.02);
      }
      // Original float weights are gone; only int8 copies remain.
      const names = (decode(bytes).graph?.initializer ?? []).map((t) => t.name);
      expect(names).not.toContain('W1');
      expect(names).toContain('Wsmall');
    });
  }
});

describe('BatchNormalization folding', () => {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const f = (n: number, lo = -0.5, hi = 0.5): Float32Array =>
    Float32Array.from({ length: n }, () => lo + (hi - lo) * rand());
  const C = 16;
  const fp32 = encode(
    model({
      graph: graph({
        name: 'conv_bn',
        nodes: [
          node('Conv', ['img', 'K'], ['c'], { kernel_shape: attr.ints([3, 3]), pads: attr.ints([1, 1, 1, 1]) }),
          node('BatchNormalization', ['c', 'gamma', 'beta', 'mean', 'var'], ['bn'], { epsilon: attr.float(1e-3) }),
          node('Relu', ['bn'], ['y']),
        ],
        inputs: [valueInfo('img', 'float32', ['batch', 3, 8, 8])],
        outputs: [valueInfo('y', 'float32', ['batch', C, 8, 8])],
        initializers: [
          tensor('K', f(C * 3 * 9), [C, 3, 3, 3]),
          tensor('gamma', f(C, 0.5, 2), [C]),
          tensor('beta', f(C), [C]),
          tensor('mean', f(C), [C]),
          tensor('var', f(C, 0.1, 2), [C]),
        ],
      }),
    }),
  );
  const x = f(2 * 3 * 64, -1, 1);
  const run = async (bytes: Uint8Array): Promise<Float32Array> => {
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'disabled' });
    const out = await s.run({ img: new ort.Tensor('float32', x, [2, 3, 8, 8]) });
    await s.release();
    return out.y?.data as Float32Array;
  };

  it('folds BN into the Conv before quantizing: the same function, no BatchNormalization node left', async () => {
    // minElements above the weight's size: nothing is quantized, so the fold alone is compared with the original.
    const { bytes, report } = quantizeModelWithReport(fp32, { method: 'qdq', minElements: 1e9 });
    expect(report.folded).toBe(1);
    expect((decode(bytes).graph?.node ?? []).map((n) => n.opType)).toEqual(['Conv', 'Relu']);
    const want = await run(fp32);
    const got = await run(bytes);
    want.forEach((v, i) => expect(Math.abs(v - (got[i] ?? NaN))).toBeLessThanOrEqual(1e-5));
    // Off on request: the BatchNormalization stays.
    const kept = quantizeModelWithReport(fp32, { method: 'qdq', minElements: 1e9, foldBatchNorm: false });
    expect((decode(kept.bytes).graph?.node ?? []).map((n) => n.opType)).toContain('BatchNormalization');
  });
});
