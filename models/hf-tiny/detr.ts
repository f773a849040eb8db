/**
 * @module A tiny DETR-style object detector, generated here (no hub) in the folder `optimum-cli export onnx` writes for
 * `DetrForObjectDetection`: `model.onnx` (pixel_values f32 [batch, 3, height, width] and pixel_mask i64 [batch,
 * height, width] → logits [batch, queries, labels + 1], the last class "no object", and pred_boxes [batch, queries, 4],
 * sigmoid centre x, centre y, width, height), `config.json` and `preprocessor_config.json` as Hugging Face's
 * `DetrImageProcessor` writes it (shortest/longest edge, so every aspect ratio keeps its own input size).
 *
 * Graph: strided conv features → ReLU → global average and max pools → × the mask's mean (1 when nothing is padded,
 * whatever size the mask is: transformers.js sends a 64×64 one, Python the image's) → Tanh hidden layer → per-query
 * class logits and boxes. Seeded random weights, with per-query biases so a few queries clear the default 0.9
 * threshold on some images and not on others, with distinct labels and boxes.
 *
 * Deliberately not a `recipe.ts`: random weights answer nothing useful. Tests write a folder and publish it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attr, encode, graph, model, valueInfo } from '../lib/onnx-builder.js';
import { GraphBuilder } from './vit.js';

/** A few COCO classes. */
export const DETR_LABELS = ['person', 'bicycle', 'car', 'cat', 'dog', 'bird'] as const;
export const QUERIES = 10;
const CHANNELS = 8;
const HIDDEN = 32;
const STRIDE = 4;
const SEED = 20_241_103;
/** Shortest and longest edge of the resized image (DETR's own are 800 and 1333). */
export const SHORTEST_EDGE = 64;
export const LONGEST_EDGE = 96;

/** Per-query logit offsets: query q leans to class q mod (labels + 1), some strongly, some towards "no object". */
const LEAN = [5.5, 4.5, 3.5, 6, 2.5, 5, 4, 1.5, 5, 3];

export function tinyDetrOnnx(labels: number = DETR_LABELS.length): Uint8Array {
  const g = new GraphBuilder(SEED);
  const classes = labels + 1;
  const conv = g.op(
    'Conv',
    [
      'pixel_values',
      g.weight('backbone.conv.weight', [CHANNELS, 3, STRIDE, STRIDE], 1 / Math.sqrt(3 * STRIDE * STRIDE)),
      g.weight('backbone.conv.bias', [CHANNELS], 0.1),
    ],
    'backbone.conv',
    { kernel_shape: attr.ints([STRIDE, STRIDE]), strides: attr.ints([STRIDE, STRIDE]) },
  );
  const features = g.op('Relu', [conv], 'backbone.relu');
  const pooled = g.op(
    'Concat',
    [g.op('GlobalAveragePool', [features], 'backbone.avg'), g.op('GlobalMaxPool', [features], 'backbone.max')],
    'backbone.pooled',
    { axis: attr.int(1) },
  );
  const flat = g.op('Flatten', [pooled], 'backbone.flat', { axis: attr.int(1) });
  const mask = g.op('ReduceMean', [g.op('Cast', ['pixel_mask'], 'mask.float', { to: attr.int(1) })], 'mask.mean', {
    axes: attr.ints([1, 2]),
    keepdims: attr.int(0),
  });
  const maskCol = g.op('Unsqueeze', [mask, g.constant('mask.axes', BigInt64Array.from([1n]), [1])], 'mask.column');
  const masked = g.op('Mul', [flat, maskCol], 'backbone.masked');
  const hidden = g.op('Tanh', [g.dense(masked, 'decoder', 2 * CHANNELS, HIDDEN, 3)], 'decoder.tanh');

  const lean = new Float32Array(QUERIES * classes);
  for (let q = 0; q < QUERIES; q++) lean[q * classes + (q % classes)] = LEAN[q % LEAN.length] ?? 0;
  const classLogits = g.op(
    'Add',
    [
      g.dense(hidden, 'class_embed', HIDDEN, QUERIES * classes, 2),
      g.constant('class_embed.lean', lean, [QUERIES * classes]),
    ],
    'class_embed.leaned',
  );
  g.op(
    'Reshape',
    [classLogits, g.constant('logits.shape', BigInt64Array.from([-1n, BigInt(QUERIES), BigInt(classes)]), [3])],
    'logits',
  );
  const boxes = g.op('Sigmoid', [g.dense(hidden, 'bbox_embed', HIDDEN, QUERIES * 4, 1.5)], 'bbox_embed.sigmoid');
  g.op(
    'Reshape',
    [boxes, g.constant('pred_boxes.shape', BigInt64Array.from([-1n, BigInt(QUERIES), 4n]), [3])],
    'pred_boxes',
  );

  return encode(
    model({
      docString: 'tiny-detr: a DETR-shaped test model with seeded random weights (not trained).',
      graph: graph({
        name: 'tiny_detr',
        nodes: g.nodes,
        inputs: [
          valueInfo('pixel_values', 'float32', ['batch_size', 'num_channels', 'height', 'width']),
          valueInfo('pixel_mask', 'int64', ['batch_size', 'height', 'width']),
        ],
        outputs: [
          valueInfo('logits', 'float32', ['batch_size', QUERIES, classes]),
          valueInfo('pred_boxes', 'float32', ['batch_size', QUERIES, 4]),
        ],
        initializers: g.inits,
      }),
    }),
  );
}

/** `preprocessor_config.json` as `DetrImageProcessor` saves it. */
export function detrPreprocessorConfig(): Record<string, unknown> {
  return {
    do_convert_annotations: true,
    do_normalize: true,
    do_pad: true,
    do_rescale: true,
    do_resize: true,
    format: 'coco_detection',
    image_mean: [0.485, 0.456, 0.406],
    image_processor_type: 'DetrImageProcessor',
    image_std: [0.229, 0.224, 0.225],
    pad_size: null,
    resample: 2,
    rescale_factor: 0.00392156862745098,
    size: { longest_edge: LONGEST_EDGE, shortest_edge: SHORTEST_EDGE },
  };
}

/** Writes the Optimum-style folder (`model.onnx`, `config.json`, `preprocessor_config.json`); returns the dir. */
export function writeTinyDetrFolder(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), tinyDetrOnnx());
  const json = (name: string, value: unknown): void =>
    writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', {
    _name_or_path: 'tiny-detr',
    architectures: ['DetrForObjectDetection'],
    model_type: 'detr',
    backbone: 'tiny-conv',
    use_timm_backbone: false,
    num_channels: 3,
    num_queries: QUERIES,
    d_model: HIDDEN,
    encoder_layers: 0,
    decoder_layers: 1,
    id2label: Object.fromEntries(DETR_LABELS.map((l, i) => [String(i), l])),
    label2id: Object.fromEntries(DETR_LABELS.map((l, i) => [l, i])),
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
  });
  json('preprocessor_config.json', detrPreprocessorConfig());
  return dir;
}
