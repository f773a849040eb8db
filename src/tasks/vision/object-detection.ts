/**
 * @module object-detection for DETR-style models published from a Hugging Face folder: PNG/JPEG (raw body, or base64
 * in JSON `inputs`) → the folder's image processor (`preprocess.kind: 'hf-image-processor'`) → `logits` [batch,
 * queries, labels + 1] (the last class is "no object") and `pred_boxes` [batch, queries, 4] (centre x, centre y, width,
 * height, normalised) → `[{ label, score, box: { xmin, ymin, xmax, ymax } }]` in the uploaded image's pixels.
 *
 * Post-processing is transformers.js's `post_process_object_detection` and pipeline: per query, skip it when "no
 * object" is the most likely class, else score = softmax probability of the best class, kept when ≥ `threshold`
 * (default 0.9, transformers.js's; Python's pipeline defaults to 0.5 and takes the best real class even when "no
 * object" beats it, which differs only below 0.5); boxes truncated to integers unless `percentage: true`; queries in
 * model order. Images are run one size at a time without padding, so each answer is the one that image gets alone.
 */
import { z } from 'zod';
import { ServiceError, describeIssues } from '../../lib/errors.js';
import { sha256Hex } from '../../lib/sha256.js';
import type { Manifest } from '../../lib/manifest.js';
import { groupBySize, HfImageProcessorSchema, processImage, stack, type ProcessedImage } from './hf-image-processor.js';
import { imagesOf } from './image-classification.js';
import { decodeImage, DEFAULT_MAX_PIXELS } from '../../codecs/image.js';
import type { RequestBody, RequestLimits, TaskModule } from '../task.js';
import { asFloat32, float32, type Feeds, type ModelRunner, type Outputs } from '../tensor.js';
import { softmax } from '../../maths/scores.js';

/** Which outputs hold the class logits and the boxes, and the default score threshold. */
const PostprocessSchema = z.object({
  logits_output: z.string().default('logits'),
  boxes_output: z.string().default('pred_boxes'),
  threshold: z.number().min(0).max(1).default(0.9),
});

const ParametersSchema = z
  .object({
    threshold: z.number().min(0).max(1).optional(),
    /** Boxes as fractions of the image's width and height instead of whole pixels. */
    percentage: z.boolean().optional(),
  })
  .strict();

/** One detection: the answer's element type (a list input answers a list of these lists). */
export const DetectionSchema = z.object({
  label: z.string(),
  score: z.number(),
  box: z.object({ xmin: z.number(), ymin: z.number(), xmax: z.number(), ymax: z.number() }),
});
export type Detection = z.infer<typeof DetectionSchema>;

export interface ObjectDetectionInput {
  images: ProcessedImage[];
  /** sha256 of each image as the model sees it (pixels, their size, the uploaded size): the cache key. */
  digests: string[];
  single: boolean;
  threshold: number;
  percentage: boolean;
  pixels: number;
  inputBytes: number;
}

function processor(manifest: Manifest) {
  const parsed = HfImageProcessorSchema.safeParse(manifest.preprocess);
  if (!parsed.success) throw new Error(`model ${manifest.id}: bad preprocess: ${parsed.error.message}`);
  return parsed.data;
}

function feeds(p: ObjectDetectionInput, indices: readonly number[], manifest: Manifest): Feeds {
  const [c, h, w] = p.images[indices[0] ?? 0]?.dims ?? [3, 0, 0];
  const n = indices.length;
  const out: Feeds = { [manifest.inputs[0]?.name ?? 'pixel_values']: float32(stack(p.images, indices), [n, c, h, w]) };
  // DETR exports take a mask of real (unpadded) pixels: all of them, since nothing is padded.
  if (manifest.inputs.some((i) => i.name === 'pixel_mask'))
    out['pixel_mask'] = { type: 'int64', dims: [n, h, w], data: new BigInt64Array(n * h * w).fill(1n) };
  return out;
}

/** The detections of the images at `indices` (the rows of `outputs`, in order). */
function detections(
  outputs: Outputs,
  p: ObjectDetectionInput,
  indices: readonly number[],
  manifest: Manifest,
): Detection[][] {
  const post = PostprocessSchema.parse(manifest.postprocess);
  const logits = asFloat32(outputs[post.logits_output], post.logits_output);
  const boxes = asFloat32(outputs[post.boxes_output], post.boxes_output);
  const queries = boxes.length / 4 / indices.length;
  const classes = logits.length / queries / indices.length;
  if (!Number.isInteger(queries) || !Number.isInteger(classes) || classes < 2)
    throw new Error(`model ${manifest.id}: logits and pred_boxes do not agree on the number of queries`);
  return indices.map((idx, k) => {
    const image = p.images[idx];
    const { width, height } = image?.original ?? { width: 1, height: 1 };
    const found: Detection[] = [];
    for (let q = 0; q < queries; q++) {
      const row = logits.subarray((k * queries + q) * classes, (k * queries + q + 1) * classes);
      let best = 0;
      for (let j = 1; j < classes; j++) if ((row[j] ?? -Infinity) > (row[best] ?? -Infinity)) best = j;
      if (best === classes - 1) continue; // "no object" is the most likely class
      const score = softmax(row)[best] ?? 0;
      if (score < p.threshold) continue;
      const b = boxes.subarray((k * queries + q) * 4, (k * queries + q + 1) * 4);
      const [cx, cy, bw, bh] = [b[0] ?? 0, b[1] ?? 0, b[2] ?? 0, b[3] ?? 0];
      const corners = [cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2];
      const [xmin, ymin, xmax, ymax] = p.percentage
        ? corners
        : corners.map((v, i) => Math.trunc(v * (i % 2 === 0 ? width : height)));
      found.push({
        label: manifest.labels?.[best] ?? `LABEL_${best}`,
        score,
        box: { xmin: xmin ?? 0, ymin: ymin ?? 0, xmax: xmax ?? 0, ymax: ymax ?? 0 },
      });
    }
    return found;
  });
}

function answer(results: Detection[][], p: ObjectDetectionInput): Detection[] | Detection[][] {
  return p.single ? (results[0] ?? []) : results;
}

export const objectDetection: TaskModule<ObjectDetectionInput, Detection[] | Detection[][]> = {
  task: 'object-detection',

  async parse(body: RequestBody, manifest: Manifest, limits: RequestLimits): Promise<ObjectDetectionInput> {
    const params = ParametersSchema.safeParse(body.parameters);
    if (!params.success)
      throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
    const pre = processor(manifest);
    const { single, list } = imagesOf(body, limits);
    const images: ProcessedImage[] = [];
    const digests: string[] = [];
    let pixels = 0;
    let inputBytes = 0;
    for (const item of list) {
      const img = decodeImage(item.bytes, { where: item.where, maxPixels: pre.max_pixels ?? DEFAULT_MAX_PIXELS });
      const processed = processImage(img, pre);
      images.push(processed);
      const size = `${processed.dims.join('x')}:${img.width}x${img.height}:`;
      const keyed = new Uint8Array(size.length + processed.pixels.length);
      keyed.set(new TextEncoder().encode(size));
      keyed.set(processed.pixels, size.length);
      digests.push(await sha256Hex(keyed));
      pixels += img.width * img.height;
      inputBytes += item.bytes.length;
    }
    return {
      images,
      digests,
      single,
      threshold: params.data.threshold ?? PostprocessSchema.parse(manifest.postprocess).threshold,
      percentage: params.data.percentage ?? false,
      pixels,
      inputBytes,
    };
  },

  size: (p) => ({ batch: p.images.length, pixels: p.pixels, inputBytes: p.inputBytes }),

  cacheKeyInput: (p) => ({ images: p.digests, single: p.single, threshold: p.threshold, percentage: p.percentage }),

  // Images of different sizes run one size at a time (padding would change the answers).
  execute(p: ObjectDetectionInput, runner: ModelRunner, manifest: Manifest) {
    const groups = groupBySize(p.images);
    if (groups.length < 2) return undefined;
    return (async () => {
      const results: Detection[][] = new Array<Detection[]>(p.images.length);
      for (const group of groups) {
        const outputs = await runner.run(feeds(p, group, manifest));
        detections(outputs, p, group, manifest).forEach((d, k) => {
          results[group[k] ?? 0] = d;
        });
      }
      return answer(results, p);
    })();
  },

  preprocess: (p, manifest) =>
    feeds(
      p,
      p.images.map((_, i) => i),
      manifest,
    ),

  postprocess: (outputs, p, manifest) =>
    answer(
      detections(
        outputs,
        p,
        p.images.map((_, i) => i),
        manifest,
      ),
      p,
    ),
};
