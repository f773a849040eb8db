/**
 * @module image-classification: PNG/JPEG (raw body, or base64 in JSON `inputs`) → decode → the model's fitting
 * (`manifest.preprocess.kind`: MNIST digit, PaddleOCR text line, or a Hugging Face image processor for ViT-style
 * models published from their folder) → scores → `[{ label, score }]`, best first.
 */
import { z } from 'zod';
import { ServiceError, describeIssues } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { base64ToBytes, bytesToBase64 } from '../../codecs/base64.js';
import { decodeImage, DEFAULT_MAX_PIXELS, IMAGE_MEDIA_TYPES, type RgbaImage } from '../../codecs/image.js';
import { fitDigit, textLineTensor } from './image-ops.js';
import { HfImageProcessorSchema, processImage } from './hf-image-processor.js';
import { type RequestBody, type RequestLimits, type TaskModule } from '../task.js';

import { asFloat32, float32, type Feeds, type Outputs } from '../tensor.js';
import { rankLabels, softmax, type LabelScore } from '../../maths/scores.js';

const DigitSchema = z.object({
  kind: z.literal('mnist-digit'),
  size: z.number().int().positive().default(28),
  box: z.number().int().positive().default(20),
  threshold: z.number().min(0).max(1).default(0.2),
  max_pixels: z.number().int().positive().optional(),
});

const TextLineSchema = z.object({
  kind: z.literal('text-line'),
  height: z.number().int().positive(),
  max_width: z.number().int().positive(),
  mean: z.array(z.number()).length(3),
  std: z.array(z.number().positive()).length(3),
  channel_order: z.enum(['rgb', 'bgr']).default('rgb'),
  filter: z.enum(['area', 'bilinear']).default('bilinear'),
  max_pixels: z.number().int().positive().optional(),
});

/** How a manifest says to turn an image into the model's input. */
export const ImagePreprocessSchema = z.discriminatedUnion('kind', [
  DigitSchema,
  TextLineSchema,
  HfImageProcessorSchema,
]);
export type ImagePreprocess = z.infer<typeof ImagePreprocessSchema>;

/**
 * Which output holds scores, whether they are probabilities already, and how many labels answer when the request does
 * not say (all when absent; Hugging Face folders: 5, as its pipelines).
 */
const PostprocessSchema = z.object({
  scores_output: z.string().optional(),
  softmax: z.boolean().default(false),
  top_k: z.number().int().min(1).optional(),
});

/** `top_k: null` asks for every label, as transformers.js's pipeline takes it. */
const ParametersSchema = z.object({ top_k: z.number().int().min(1).nullable().optional() }).strict();

export interface ImageClassificationInput {
  /** One model-ready tensor per image (CHW, no batch dimension). */
  tensors: Float32Array[];
  dims: readonly number[];
  single: boolean;
  topK: number | undefined;
  pixels: number;
  inputBytes: number;
}

export function imagePreprocess(manifest: Manifest): ImagePreprocess {
  const parsed = ImagePreprocessSchema.safeParse(manifest.preprocess);
  if (!parsed.success) throw new Error(`model ${manifest.id}: bad preprocess: ${parsed.error.message}`);
  return parsed.data;
}

/** The model input (one image, CHW) for a decoded image: the single definition the builds train and evaluate with. */
export function imageTensor(img: RgbaImage, pre: ImagePreprocess): { data: Float32Array; dims: number[] } {
  if (pre.kind === 'mnist-digit') return { data: fitDigit(img, pre), dims: [1, pre.size, pre.size] };
  if (pre.kind === 'hf-image-processor') {
    const t = processImage(img, pre);
    return { data: t.tensor, dims: t.dims };
  }
  const data = textLineTensor(img, {
    height: pre.height,
    maxWidth: pre.max_width,
    mean: pre.mean,
    std: pre.std,
    channelOrder: pre.channel_order,
    filter: pre.filter,
  });
  return { data, dims: [3, pre.height, pre.max_width] };
}

const SUPPORTED = 'image/png or image/jpeg';

/**
 * The request's images as bytes, each with the field a message should name; `single` when one image came in (a raw
 * body or one base64 string), which answers with one result rather than a list. Shared by the image tasks.
 */
export function imagesOf(
  body: RequestBody,
  limits: RequestLimits,
): { single: boolean; list: { bytes: Uint8Array; where: string }[] } {
  if (body.kind === 'binary') {
    // application/octet-stream is sniffed; any other declared type must be one we decode.
    if (IMAGE_MEDIA_TYPES[body.contentType] === undefined && body.contentType !== 'application/octet-stream') {
      throw new ServiceError(
        415,
        'unsupported_media_type',
        `Content-Type ${body.contentType || '(none)'} is not supported: send ${SUPPORTED}, or JSON with base64 "inputs".`,
      );
    }
    return { single: true, list: [{ bytes: body.bytes, where: 'body' }] };
  }
  const inputs = body.inputs;
  if (typeof inputs === 'string')
    return { single: true, list: [{ bytes: base64ToBytes(inputs, 'inputs'), where: 'inputs' }] };
  if (!Array.isArray(inputs))
    throw new ServiceError(422, 'invalid_input', 'inputs: must be a base64 PNG/JPEG string or an array of them.');
  if (inputs.length === 0) throw new ServiceError(422, 'invalid_input', 'inputs: must hold at least one image.');
  if (inputs.length > limits.maxBatch)
    throw new ServiceError(
      422,
      'invalid_input',
      `inputs: at most ${limits.maxBatch} images per request (got ${inputs.length}).`,
    );
  const list = inputs.map((v: unknown, i) => {
    if (typeof v !== 'string') throw new ServiceError(422, 'invalid_input', `inputs[${i}]: must be a base64 string.`);
    return { bytes: base64ToBytes(v, `inputs[${i}]`), where: `inputs[${i}]` };
  });
  return { single: false, list };
}

function probabilityRows(outputs: Outputs, rows: number, manifest: Manifest): Float32Array[] {
  const post = PostprocessSchema.parse(manifest.postprocess);
  const name = post.scores_output ?? manifest.outputs[0]?.name ?? '';
  const data = asFloat32(outputs[name] ?? Object.values(outputs)[0], name);
  const width = data.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    const row = data.subarray(r * width, (r + 1) * width);
    return post.softmax ? softmax(row) : row;
  });
}

export const imageClassification: TaskModule<ImageClassificationInput, LabelScore[] | LabelScore[][]> = {
  task: 'image-classification',

  parse(body: RequestBody, manifest: Manifest, limits: RequestLimits): ImageClassificationInput {
    const params = ParametersSchema.safeParse(body.parameters);
    if (!params.success)
      throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
    const pre = imagePreprocess(manifest);
    const maxPixels = pre.max_pixels ?? DEFAULT_MAX_PIXELS;
    const { single, list } = imagesOf(body, limits);
    const tensors: Float32Array[] = [];
    let dims: readonly number[] = [];
    let pixels = 0;
    let inputBytes = 0;
    for (const item of list) {
      const img = decodeImage(item.bytes, { where: item.where, maxPixels });
      const t = imageTensor(img, pre);
      tensors.push(t.data);
      dims = t.dims;
      pixels += img.width * img.height;
      inputBytes += item.bytes.length;
    }
    const topK =
      params.data.top_k === null
        ? undefined
        : (params.data.top_k ?? PostprocessSchema.parse(manifest.postprocess).top_k);
    return { tensors, dims, single, topK, pixels, inputBytes };
  },

  size: (p) => ({ batch: p.tensors.length, pixels: p.pixels, inputBytes: p.inputBytes }),

  // The model input itself: two encodings of one picture share a cache entry, and the key's size is bounded by the
  // model's input, not the upload's.
  cacheKeyInput: (p) => ({
    tensors: p.tensors.map((t) => bytesToBase64(new Uint8Array(t.buffer, t.byteOffset, t.byteLength))),
    single: p.single,
    top_k: p.topK ?? null,
  }),

  preprocess(p: ImageClassificationInput, manifest: Manifest): Feeds {
    const per = p.tensors[0]?.length ?? 0;
    const batch = new Float32Array(per * p.tensors.length);
    p.tensors.forEach((t, i) => batch.set(t, i * per));
    const name = manifest.inputs[0]?.name ?? 'input';
    return { [name]: float32(batch, [p.tensors.length, ...p.dims]) };
  },

  postprocess(outputs: Outputs, p: ImageClassificationInput, manifest: Manifest): LabelScore[] | LabelScore[][] {
    const results = probabilityRows(outputs, p.tensors.length, manifest).map((row) =>
      rankLabels(row, manifest.labels, p.topK),
    );
    return p.single ? (results[0] ?? []) : results;
  },
};
