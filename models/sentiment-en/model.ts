/** @module sentiment-en's trainable model and its ONNX export: features float32 [batch, D] → logits, probabilities [batch, 2]. */
import { attr, encode, graph, model, node, tensor, valueInfo, type INodeProto, type ITensorProto } from '../lib/onnx-builder.js';
import type { MlpParams } from '../lib/train.js';

export const INPUT = 'features';
export const LOGITS = 'logits';
export const PROBABILITIES = 'probabilities';

/**
 * MatMul + Add per layer (ReLU between): plain ops that every ORT build has and the quantizer understands. No ZipMap,
 * tensor outputs only, so ORT-web can read both.
 */
export function exportOnnx(p: MlpParams, docString: string): Uint8Array {
  const nodes: INodeProto[] = [];
  const inits: ITensorProto[] = [];
  let x = INPUT;
  for (const [i, layer] of p.layers.entries()) {
    const last = i === p.layers.length - 1;
    const w = `layer${i}.weight`;
    const b = `layer${i}.bias`;
    const mm = `layer${i}.matmul`;
    const out = last ? LOGITS : `layer${i}.pre_activation`;
    inits.push(tensor(w, Float32Array.from(layer.w), [layer.rows, layer.cols]), tensor(b, Float32Array.from(layer.b), [layer.cols]));
    nodes.push(node('MatMul', [x, w], [mm], {}, { name: `layer${i}/MatMul` }), node('Add', [mm, b], [out], {}, { name: `layer${i}/Add` }));
    if (!last) {
      const act = `layer${i}.relu`;
      nodes.push(node('Relu', [out], [act], {}, { name: `layer${i}/Relu` }));
      x = act;
    }
  }
  nodes.push(node('Softmax', [LOGITS], [PROBABILITIES], { axis: attr.int(-1) }, { name: 'Softmax' }));
  const classes = p.spec.classes;
  return encode(
    model({
      docString,
      graph: graph({
        name: 'sentiment_en',
        nodes,
        inputs: [valueInfo(INPUT, 'float32', ['batch', p.spec.inputs])],
        outputs: [valueInfo(LOGITS, 'float32', ['batch', classes]), valueInfo(PROBABILITIES, 'float32', ['batch', classes])],
        initializers: inits,
      }),
    }),
  );
}
