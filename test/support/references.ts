/**
 * @module Independent reference outputs: the same built model files run through onnxruntime-node (native CPU,
 * one intra-op thread) in Node, to compare the edge's onnxruntime-web answers against.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { readBuiltModels } from '../../scripts/model-store.js';
import { ManifestSchema } from '../../src/lib/manifest.js';
import type { KserveTensor, References, TensorRef } from './provided.js';
import { sparseBatch, TextFeatureConfigSchema } from '../../src/tasks/text/text-features.js';

export type { References };

export async function computeReferences(): Promise<References> {
  const model = readBuiltModels().find((m) => m.id === 'sentiment-en');
  if (model === undefined) throw new Error('sentiment-en is not built');
  const manifest = ManifestSchema.parse(JSON.parse(model.manifestText));
  const heldoutPath = join(model.dir, 'heldout.json');
  if (!existsSync(heldoutPath)) throw new Error(`${heldoutPath} is missing`);
  const heldout = JSON.parse(readFileSync(heldoutPath, 'utf8')) as { text: string; label: string }[];
  const texts = heldout.slice(0, 4).map((e) => e.text);
  const config = TextFeatureConfigSchema.parse(manifest.preprocess);
  // The model's input contract: an embedding bag, `indices` int64 + `values` float32, [texts, widest row].
  const bag = sparseBatch(texts, config);
  const dims = [texts.length, bag.width];
  const session = await ortNode.InferenceSession.create(join(model.dir, manifest.model_file), {
    intraOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const result = await session.run({
    indices: new ortNode.Tensor('int64', bag.indices, dims),
    values: new ortNode.Tensor('float32', bag.values, dims),
  });
  const outputs: Record<string, TensorRef> = {};
  for (const [name, t] of Object.entries(result))
    outputs[name] = { dims: [...t.dims], data: Array.from(t.data as Float32Array) };
  await session.release();
  const inputs: KserveTensor[] = [
    { name: 'indices', shape: dims, datatype: 'INT64', data: Array.from(bag.indices, Number) },
    { name: 'values', shape: dims, datatype: 'FP32', data: Array.from(bag.values) },
  ];
  return { sentiment: { heldout, texts, inputs, outputs } };
}
