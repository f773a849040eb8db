/**
 * @module Tiny ViT-style image classifiers, generated here (no hub) in the folder `optimum-cli export onnx` writes for
 * `ViTForImageClassification` / `DeiTForImageClassification`: `model.onnx` (pixel_values f32 [batch, 3, H, W] →
 * logits [batch, labels]), `config.json` and `preprocessor_config.json` as Hugging Face's `ViTImageProcessor` /
 * `DeiTImageProcessor` write them. Weights are seeded random, so the files are byte-stable and a test can run
 * transformers.js's pipeline on the same folder. Two processors, so both paths are exercised: ViT's (resize to an exact
 * size, bilinear, mean/std 0.5) and DeiT's (resize, then centre crop, bicubic, ImageNet mean/std).
 *
 * Graph: patch embedding (Conv, stride = patch) → tokens + position embeddings → LayerNorm → one single-head
 * self-attention block with a residual → LayerNorm → mean over tokens → Linear = logits.
 *
 * Deliberately not a `recipe.ts`: random weights answer nothing useful. Tests write a folder and publish it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attr, encode, graph, model, node, tensor, valueInfo, type INodeProto } from '../lib/onnx-builder.js';
import { mulberry32 } from '../lib/train.js';

/** CIFAR-10's classes: names a reader recognises; the weights know nothing of them. */
export const VIT_LABELS = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

export type VitVariant = 'vit' | 'deit';

/** The model's input side, the patch side, and the token width. */
export const IMAGE_SIZE = 32;
const PATCH = 8;
const HIDDEN = 16;
/** Logit spread: large enough that softmax scores differ clearly from image to image. */
const HEAD_GAIN = 6;

/** A tiny graph under construction: seeded weights and named nodes (shared by the ViT and DETR generators). */
export class GraphBuilder {
  readonly nodes: INodeProto[] = [];
  readonly inits: ReturnType<typeof tensor>[] = [];
  private readonly rand: () => number;

  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }

  /** Gaussian-ish seeded weights (sum of three uniforms), scaled. */
  weight(name: string, dims: number[], scale: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: n }, () => (this.rand() + this.rand() + this.rand() - 1.5) * scale);
    this.inits.push(tensor(name, values, dims));
    return name;
  }

  constant(name: string, values: Float32Array | BigInt64Array, dims: number[]): string {
    this.inits.push(tensor(name, values, dims));
    return name;
  }

  op(type: string, inputs: string[], output: string, attrs: Parameters<typeof node>[3] = {}): string {
    this.nodes.push(node(type, inputs, [output], attrs, { name: output }));
    return output;
  }

  dense(x: string, prefix: string, inDim: number, outDim: number, gain = 1): string {
    const w = this.weight(`${prefix}.weight`, [inDim, outDim], gain / Math.sqrt(inDim));
    const b = this.weight(`${prefix}.bias`, [outDim], 0.02);
    return this.op('Add', [this.op('MatMul', [x, w], `${prefix}.matmul`), b], `${prefix}.out`);
  }

  layerNorm(x: string, prefix: string, width: number): string {
    const gamma = this.constant(`${prefix}.gamma`, new Float32Array(width).fill(1), [width]);
    const beta = this.constant(`${prefix}.beta`, new Float32Array(width), [width]);
    return this.op('LayerNormalization', [x, gamma, beta], `${prefix}.out`, {
      axis: attr.int(-1),
      epsilon: attr.float(1e-12),
    });
  }
}

const SEEDS: Record<VitVariant, number> = { vit: 20_241_101, deit: 20_241_102 };

export function tinyVitOnnx(variant: VitVariant, labels: number = VIT_LABELS.length): Uint8Array {
  const g = new GraphBuilder(SEEDS[variant]);
  const H = HIDDEN;
  const tokens = (IMAGE_SIZE / PATCH) ** 2;
  const patches = g.op(
    'Conv',
    [
      'pixel_values',
      g.weight('embeddings.patch.weight', [H, 3, PATCH, PATCH], 1 / Math.sqrt(3 * PATCH * PATCH)),
      g.weight('embeddings.patch.bias', [H], 0.02),
    ],
    'embeddings.patches',
    { kernel_shape: attr.ints([PATCH, PATCH]), strides: attr.ints([PATCH, PATCH]) },
  );
  const flat = g.op(
    'Reshape',
    [patches, g.constant('embeddings.flat_shape', BigInt64Array.from([0n, BigInt(H), -1n]), [3])],
    'embeddings.flat',
  );
  const seq = g.op('Transpose', [flat], 'embeddings.tokens', { perm: attr.ints([0, 2, 1]) });
  const emb = g.op('Add', [seq, g.weight('embeddings.position', [tokens, H], 0.5)], 'embeddings.sum');
  const x = g.layerNorm(emb, 'layernorm_before', H);

  const q = g.dense(x, 'attention.query', H, H);
  const k = g.dense(x, 'attention.key', H, H);
  const v = g.dense(x, 'attention.value', H, H);
  const kT = g.op('Transpose', [k], 'attention.key_t', { perm: attr.ints([0, 2, 1]) });
  const scale = g.constant('attention.scale', new Float32Array([1 / Math.sqrt(H)]), []);
  const scores = g.op('Mul', [g.op('MatMul', [q, kT], 'attention.qk'), scale], 'attention.scores');
  const probs = g.op('Softmax', [scores], 'attention.probs', { axis: attr.int(-1) });
  const ctx = g.op('MatMul', [probs, v], 'attention.context');
  const attended = g.op('Add', [emb, g.dense(ctx, 'attention.output', H, H)], 'attention.residual');
  const y = g.layerNorm(attended, 'layernorm', H);
  const pooled = g.op('ReduceMean', [y], 'pooler', { axes: attr.ints([1]), keepdims: attr.int(0) });
  const logits = g.dense(pooled, 'classifier', H, labels, HEAD_GAIN);
  g.nodes.push(node('Identity', [logits], ['logits'], {}, { name: 'logits' }));

  return encode(
    model({
      docString: `tiny-${variant}: a ViT-shaped test model with seeded random weights (not trained).`,
      graph: graph({
        name: `tiny_${variant}`,
        nodes: g.nodes,
        inputs: [valueInfo('pixel_values', 'float32', ['batch_size', 3, IMAGE_SIZE, IMAGE_SIZE])],
        outputs: [valueInfo('logits', 'float32', ['batch_size', labels])],
        initializers: g.inits,
      }),
    }),
  );
}

/** `preprocessor_config.json` as Hugging Face's image processors write it (every field they save). */
export function vitPreprocessorConfig(variant: VitVariant): Record<string, unknown> {
  if (variant === 'vit') {
    return {
      do_normalize: true,
      do_rescale: true,
      do_resize: true,
      image_mean: [0.5, 0.5, 0.5],
      image_processor_type: 'ViTImageProcessor',
      image_std: [0.5, 0.5, 0.5],
      resample: 2,
      rescale_factor: 0.00392156862745098,
      size: { height: IMAGE_SIZE, width: IMAGE_SIZE },
    };
  }
  return {
    crop_size: { height: IMAGE_SIZE, width: IMAGE_SIZE },
    do_center_crop: true,
    do_normalize: true,
    do_rescale: true,
    do_resize: true,
    image_mean: [0.485, 0.456, 0.406],
    image_processor_type: 'DeiTImageProcessor',
    image_std: [0.229, 0.224, 0.225],
    resample: 3,
    rescale_factor: 0.00392156862745098,
    size: { height: IMAGE_SIZE + 8, width: IMAGE_SIZE + 8 },
  };
}

/** Writes the Optimum-style folder (`model.onnx`, `config.json`, `preprocessor_config.json`); returns the dir. */
export function writeTinyVitFolder(dir: string, variant: VitVariant = 'vit'): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), tinyVitOnnx(variant));
  const json = (name: string, value: unknown): void =>
    writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', {
    _name_or_path: `tiny-${variant}`,
    architectures: [variant === 'vit' ? 'ViTForImageClassification' : 'DeiTForImageClassification'],
    model_type: variant,
    hidden_size: HIDDEN,
    intermediate_size: HIDDEN * 4,
    num_attention_heads: 1,
    num_hidden_layers: 1,
    num_channels: 3,
    image_size: IMAGE_SIZE,
    patch_size: PATCH,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    qkv_bias: true,
    id2label: Object.fromEntries(VIT_LABELS.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(VIT_LABELS.map((l, i) => [l, i])),
    problem_type: 'single_label_classification',
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
  });
  json('preprocessor_config.json', vitPreprocessorConfig(variant));
  return dir;
}
