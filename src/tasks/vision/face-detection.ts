/**
 * @module face-detection: PNG/JPEG (raw body, or base64 in JSON `inputs`) → letterbox into the model's square input
 * (aspect kept, black padding) → BlazeFace → 896 anchors decoded, sigmoid scores thresholded, weighted NMS →
 * `[{ label: 'face', score, box, keypoints }]` in the original picture's pixels (Hugging Face's object-detection
 * shape plus MediaPipe's six keypoints). A list of images answers a list of lists.
 */
import { z } from 'zod';
import { describeIssues, ServiceError } from '../../lib/errors.js';
import { sha256Hex } from '../../lib/sha256.js';
import type { Manifest } from '../../lib/manifest.js';
import {
  decodeFaces,
  letterbox,
  ssdAnchors,
  suppress,
  unletterbox,
  type Anchor,
  type Letterbox,
  type RawFace,
} from './blazeface.js';
import { imagesOf } from './image-classification.js';
import { decodeImage, DEFAULT_MAX_PIXELS, type RgbaImage } from '../../codecs/image.js';
import { resizePlane } from './image-ops.js';
import type { RequestBody, RequestLimits, TaskModule } from '../task.js';
import { asFloat32, float32, type Feeds, type ModelRunner, type Outputs } from '../tensor.js';

/** How the manifest says to fill the model input: a square, NHWC, values mapped from [0, 1] to `range`. */
export const FacePreprocessSchema = z.object({
  kind: z.literal('letterbox'),
  size: z.number().int().positive(),
  layout: z.literal('nhwc'),
  range: z.tuple([z.number(), z.number()]),
  max_pixels: z.number().int().positive().optional(),
});
export type FacePreprocess = z.infer<typeof FacePreprocessSchema>;

/** Anchor layout, output names (in anchor order) and MediaPipe's decoding and suppression defaults. */
export const FacePostprocessSchema = z.object({
  anchors: z.object({
    strides: z.array(z.number().int().positive()).min(1),
    anchors_per_layer: z.number().int().positive(),
    offset: z.number(),
  }),
  /** Score outputs ([1, n, 1]) and box outputs ([1, n, coords]) per feature map, concatenated in this order. */
  score_outputs: z.array(z.string()).min(1),
  box_outputs: z.array(z.string()).min(1),
  box_scale: z.number().positive(),
  score_clipping: z.number().positive(),
  coords: z.number().int().positive(),
  keypoints: z.array(z.string()),
  threshold: z.number().min(0).max(1),
  iou_threshold: z.number().min(0).max(1),
  nms: z.enum(['weighted', 'hard']),
  max_faces: z.number().int().positive(),
});
export type FacePostprocess = z.infer<typeof FacePostprocessSchema>;

export const FaceDetectionParametersSchema = z
  .object({
    /** Minimum face score (after the sigmoid). */
    threshold: z.number().min(0).max(1).optional(),
    /** Overlap (IoU) above which two boxes are one face. */
    iou_threshold: z.number().min(0).max(1).optional(),
    /** `weighted` blends overlapping boxes (MediaPipe); `hard` keeps the best one (classic NMS). */
    nms: z.enum(['weighted', 'hard']).optional(),
    max_faces: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

const Point = z.object({ name: z.string(), x: z.number(), y: z.number() });
/** One detected face; boxes and keypoints in pixels of the image as sent (origin top left). */
export const DetectedFaceSchema = z.object({
  label: z.literal('face'),
  score: z.number(),
  box: z.object({ xmin: z.number(), ymin: z.number(), xmax: z.number(), ymax: z.number() }),
  keypoints: z.array(Point),
});
export type DetectedFace = z.infer<typeof DetectedFaceSchema>;
/** The task's answer: faces for one image, or one list per image for a list input. */
export const FaceDetectionOutputSchema = z.union([z.array(DetectedFaceSchema), z.array(z.array(DetectedFaceSchema))]);

interface FaceImage {
  /** The model input, NHWC without the batch dimension. */
  tensor: Float32Array;
  letterbox: Letterbox;
  /** sha256 of the tensor: the cache key names the picture by what the model sees, at a bounded size. */
  digest: string;
  bytes: number;
}

export interface FaceDetectionInput {
  images: FaceImage[];
  single: boolean;
  threshold: number;
  iouThreshold: number;
  nms: 'weighted' | 'hard';
  maxFaces: number;
}

export function facePreprocess(manifest: Manifest): FacePreprocess {
  const parsed = FacePreprocessSchema.safeParse(manifest.preprocess);
  if (!parsed.success) throw new Error(`model ${manifest.id}: bad preprocess: ${parsed.error.message}`);
  return parsed.data;
}

export function facePostprocess(manifest: Manifest): FacePostprocess {
  const parsed = FacePostprocessSchema.safeParse(manifest.postprocess);
  if (!parsed.success) throw new Error(`model ${manifest.id}: bad postprocess: ${parsed.error.message}`);
  return parsed.data;
}

/**
 * The model input for a decoded picture: scaled to fit the square with its aspect kept (area filter when shrinking,
 * bilinear when enlarging), centred, the margins black as MediaPipe pads them, [0, 1] mapped linearly to `range`.
 * Transparent pixels are laid over white. The one definition the task, the build and the tests use.
 */
export function letterboxTensor(img: RgbaImage, pre: FacePreprocess): { data: Float32Array; letterbox: Letterbox } {
  const lb = letterbox(img.width, img.height, pre.size);
  const [lo, hi] = pre.range;
  const n = img.width * img.height;
  const data = new Float32Array(pre.size * pre.size * 3).fill(lo);
  // One channel at a time: a 4-megapixel photo is 16 MB per float plane, which an isolate can afford once, not thrice.
  const plane = new Float32Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const a = (img.data[i * 4 + 3] ?? 255) / 255;
      plane[i] = ((img.data[i * 4 + c] ?? 0) / 255) * a + (1 - a);
    }
    const scaled = resizePlane(plane, img.width, img.height, lb.innerWidth, lb.innerHeight, 'area');
    for (let y = 0; y < lb.innerHeight; y++) {
      const row = ((y + lb.top) * pre.size + lb.left) * 3 + c;
      for (let x = 0; x < lb.innerWidth; x++) data[row + x * 3] = lo + (hi - lo) * (scaled[y * lb.innerWidth + x] ?? 0);
    }
  }
  return { data, letterbox: lb };
}

/** Anchors per anchor layout, computed once per isolate (896 of them for both BlazeFace models). */
const anchorCache = new Map<string, Anchor[]>();
function anchorsFor(post: FacePostprocess, inputSize: number): Anchor[] {
  const key = `${inputSize}:${post.anchors.strides.join(',')}:${post.anchors.anchors_per_layer}:${post.anchors.offset}`;
  let anchors = anchorCache.get(key);
  if (anchors === undefined) {
    anchors = ssdAnchors({
      inputSize,
      strides: post.anchors.strides,
      anchorsPerLayer: post.anchors.anchors_per_layer,
      offset: post.anchors.offset,
    });
    anchorCache.set(key, anchors);
  }
  return anchors;
}

function concatOutputs(outputs: Outputs, names: readonly string[]): Float32Array {
  const parts = names.map((n) => asFloat32(outputs[n], n));
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;
const clamp = (v: number, hi: number): number => Math.min(hi, Math.max(0, v));

/** Decodes one image's outputs into faces in its own pixels. */
export function facesFromOutputs(
  outputs: Outputs,
  image: Pick<FaceImage, 'letterbox'>,
  p: Pick<FaceDetectionInput, 'threshold' | 'iouThreshold' | 'nms' | 'maxFaces'>,
  manifest: Manifest,
): DetectedFace[] {
  const post = facePostprocess(manifest);
  const size = image.letterbox.size;
  const raw = decodeFaces(
    concatOutputs(outputs, post.score_outputs),
    concatOutputs(outputs, post.box_outputs),
    anchorsFor(post, size),
    {
      scale: post.box_scale,
      scoreClip: post.score_clipping,
      threshold: p.threshold,
      coords: post.coords,
      keypoints: post.keypoints.length,
    },
  );
  const kept = suppress(raw, { iouThreshold: p.iouThreshold, maxFaces: p.maxFaces, mode: p.nms });
  const { width, height } = image.letterbox;
  return kept.map((f): DetectedFace => {
    const g: RawFace = unletterbox(f, image.letterbox);
    return {
      label: 'face',
      score: g.score,
      // Boxes are cut to the picture (a face at the edge extends past it); keypoints stay where the model put them.
      box: {
        xmin: round2(clamp(g.xmin, width)),
        ymin: round2(clamp(g.ymin, height)),
        xmax: round2(clamp(g.xmax, width)),
        ymax: round2(clamp(g.ymax, height)),
      },
      keypoints: post.keypoints.map((name, k) => ({
        name,
        x: round2(g.keypoints[2 * k] ?? 0),
        y: round2(g.keypoints[2 * k + 1] ?? 0),
      })),
    };
  });
}

function feedsOf(image: FaceImage, manifest: Manifest, pre: FacePreprocess): Feeds {
  const name = manifest.inputs[0]?.name ?? 'input';
  return { [name]: float32(image.tensor, [1, pre.size, pre.size, 3]) };
}

/** The model's outputs this task reads (the graph may have others). */
function outputNames(manifest: Manifest): string[] {
  const post = facePostprocess(manifest);
  return [...post.score_outputs, ...post.box_outputs];
}

export const faceDetection: TaskModule<FaceDetectionInput, DetectedFace[] | DetectedFace[][]> = {
  task: 'face-detection',

  async parse(body: RequestBody, manifest: Manifest, limits: RequestLimits): Promise<FaceDetectionInput> {
    const params = FaceDetectionParametersSchema.safeParse(body.parameters);
    if (!params.success)
      throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
    const pre = facePreprocess(manifest);
    const post = facePostprocess(manifest);
    const maxPixels = pre.max_pixels ?? DEFAULT_MAX_PIXELS;
    const { single, list } = imagesOf(body, limits);
    const images: FaceImage[] = [];
    for (const item of list) {
      const img = decodeImage(item.bytes, { where: item.where, maxPixels });
      const t = letterboxTensor(img, pre);
      const digest = await sha256Hex(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
      images.push({ tensor: t.data, letterbox: t.letterbox, digest, bytes: item.bytes.length });
    }
    return {
      images,
      single,
      threshold: params.data.threshold ?? post.threshold,
      iouThreshold: params.data.iou_threshold ?? post.iou_threshold,
      nms: params.data.nms ?? post.nms,
      maxFaces: params.data.max_faces ?? post.max_faces,
    };
  },

  size: (p) => ({
    batch: p.images.length,
    pixels: p.images.reduce((a, i) => a + i.letterbox.width * i.letterbox.height, 0),
    inputBytes: p.images.reduce((a, i) => a + i.bytes, 0),
  }),

  // The answer depends on what the model sees and on the picture's size (boxes are in its pixels).
  cacheKeyInput: (p) => ({
    images: p.images.map((i) => [i.digest, i.letterbox.width, i.letterbox.height]),
    single: p.single,
    threshold: p.threshold,
    iou_threshold: p.iouThreshold,
    nms: p.nms,
    max_faces: p.maxFaces,
  }),

  preprocess(p: FaceDetectionInput, manifest: Manifest): Feeds {
    // The graph takes one picture (batch dimension fixed at 1); lists run one by one through execute().
    const first = p.images[0];
    if (first === undefined || p.images.length !== 1)
      throw new Error('face-detection preprocesses one image at a time');
    return feedsOf(first, manifest, facePreprocess(manifest));
  },

  postprocess(outputs: Outputs, p: FaceDetectionInput, manifest: Manifest): DetectedFace[] | DetectedFace[][] {
    const first = p.images[0];
    if (first === undefined) throw new Error('no image');
    const faces = facesFromOutputs(outputs, first, p, manifest);
    return p.single ? faces : [faces];
  },

  execute(p: FaceDetectionInput, runner: ModelRunner, manifest: Manifest) {
    if (p.images.length === 1) return undefined; // the plain path, with per-stage timings
    const pre = facePreprocess(manifest);
    const names = outputNames(manifest);
    return (async () => {
      const out: DetectedFace[][] = [];
      for (const image of p.images)
        out.push(facesFromOutputs(await runner.run(feedsOf(image, manifest, pre), names), image, p, manifest));
      return out;
    })();
  },
};
