/** @module Tests of the ONNX builder: encode/decode round trip, initializer types, attributes, and loading in onnxruntime-node. */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  attr,
  decode,
  encode,
  graph,
  IR_VERSION,
  ML_DOMAIN,
  ML_OPSET,
  model,
  node,
  opsetVersion,
  tensor,
  tensorDims,
  tensorValues,
  valueInfo,
} from '../../models/lib/onnx-builder.js';

const w = new Float32Array([1, -2, 3, -4, 5, -6]);

function tinyModel(): Uint8Array {
  return encode(
    model({
      graph: graph({
        name: 'tiny',
        nodes: [
          node('Gemm', ['x', 'W', 'b'], ['y'], { transB: attr.int(1), alpha: attr.float(0.5) }, { name: 'gemm' }),
          node('Softmax', ['y'], ['p'], { axis: attr.int(-1) }),
        ],
        inputs: [valueInfo('x', 'float32', ['batch', 3])],
        outputs: [valueInfo('y', 'float32', ['batch', 2]), valueInfo('p', 'float32', ['batch', 2])],
        initializers: [tensor('W', w, [2, 3]), tensor('b', new Float32Array([0.5, -0.5]), [2])],
      }),
      metadata: { labels: 'a,b' },
    }),
  );
}

describe('onnx-builder', () => {
  it('round-trips through encode/decode', () => {
    const bytes = tinyModel();
    const m = decode(bytes);
    expect(Number(String(m.irVersion))).toBe(IR_VERSION);
    expect(opsetVersion(m)).toBe(17);
    const g = m.graph;
    expect(g?.node?.map((n) => n.opType)).toEqual(['Gemm', 'Softmax']);
    const W = g?.initializer?.find((t) => t.name === 'W');
    expect(W && tensorDims(W)).toEqual([2, 3]);
    expect(W && tensorValues(W)).toEqual(w);
    expect(g?.input?.[0]?.type?.tensorType?.shape?.dim?.[0]?.dimParam).toBe('batch');
    expect(m.metadataProps?.[0]).toMatchObject({ key: 'labels', value: 'a,b' });
    // Encoding the decoded message again gives the same bytes: nothing is lost or reordered.
    expect(encode(m)).toEqual(bytes);
  });

  it('stores every supported initializer type and reads it back', () => {
    const cases = [
      new Float32Array([1.5, -2]),
      new Int8Array([-128, 127]),
      new Uint8Array([0, 255]),
      new Int32Array([-7, 7]),
      new BigInt64Array([-(2n ** 40n), 3n]),
    ];
    for (const values of cases)
      expect(
        tensorValues(
          decode(
            encode(
              model({
                graph: graph({
                  name: 'g',
                  nodes: [],
                  inputs: [],
                  outputs: [],
                  initializers: [tensor('t', values, [2])],
                }),
              }),
            ),
          ).graph?.initializer?.[0] ?? {},
        ),
      ).toEqual(values);
    expect(() => tensor('bad', new Float32Array(3), [2, 2])).toThrow(/3 values/);
  });

  it('builds models onnxruntime-node runs, with the dynamic batch dimension', async () => {
    const s = await ort.InferenceSession.create(tinyModel(), { intraOpNumThreads: 1 });
    const x = new ort.Tensor('float32', new Float32Array([1, 0, 0, 0, 1, 0]), [2, 3]);
    const out = await s.run({ x });
    // y = 0.5 · x · Wᵀ + b
    expect([...(out.y?.data as Float32Array)]).toEqual([1, -2.5, -0.5, 2]);
    expect(out.p?.dims).toEqual([2, 2]);
    await s.release();
  });

  it('imports ai.onnx.ml for ML operators', async () => {
    const bytes = encode(
      model({
        opsets: [
          { domain: '', version: 17 },
          { domain: ML_DOMAIN, version: ML_OPSET },
        ],
        graph: graph({
          name: 'linear',
          nodes: [
            node(
              'LinearClassifier',
              ['x'],
              ['label', 'scores'],
              {
                classlabels_ints: attr.ints([0, 1]),
                coefficients: attr.floats([1, 0, 0, 1]),
                intercepts: attr.floats([0, 0]),
              },
              { domain: ML_DOMAIN },
            ),
          ],
          inputs: [valueInfo('x', 'float32', ['batch', 2])],
          outputs: [valueInfo('label', 'int64', ['batch']), valueInfo('scores', 'float32', ['batch', 2])],
        }),
      }),
    );
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
    const out = await s.run({ x: new ort.Tensor('float32', new Float32Array([0.2, 0.9]), [1, 2]) });
    expect(out.label?.data).toEqual(new BigInt64Array([1n]));
    await s.release();
  });
});
