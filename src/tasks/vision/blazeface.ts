/**
 * @module MediaPipe BlazeFace's geometry, written from MediaPipe's documented rules (SsdAnchorsCalculator,
 * TensorsToDetectionsCalculator, NonMaxSuppressionCalculator's WEIGHTED algorithm, DetectionLetterboxRemoval): SSD
 * anchors with fixed size, box and keypoint offsets decoded relative to them, sigmoid scores, blended (weighted)
 * non-maximum suppression, and the letterbox that keeps the picture's aspect ratio. Pure arithmetic on plain
 * arrays, shared by the task (edge and origin), the build and the tests. No library does this for BlazeFace's
 * tensors: MediaPipe's own code is C++/TFLite and needs its graph runtime, so it is written here.
 */
import { byScore } from '../../maths/scores.js';

/** MediaPipe's names for BlazeFace's six keypoints, in the model's order; "right" is the subject's right. */
export const FACE_KEYPOINTS = [
  'right_eye',
  'left_eye',
  'nose_tip',
  'mouth_center',
  'right_ear_tragion',
  'left_ear_tragion',
] as const;

/** How the anchors are laid out (MediaPipe's SsdAnchorsCalculatorOptions with `fixed_anchor_size: true`). */
export interface AnchorSpec {
  /** The model's square input side in pixels (128 front, 256 back). */
  inputSize: number;
  /** One stride per SSD layer; consecutive layers with the same stride share one feature map. */
  strides: readonly number[];
  /** Anchors each layer adds per cell: one per aspect ratio (1.0) plus the interpolated scale. */
  anchorsPerLayer: number;
  /** Where in its cell an anchor's centre sits (0.5: the middle). */
  offset: number;
}

/** One anchor centre, in [0, 1] of the model input. With a fixed anchor size, width and height are 1. */
export interface Anchor {
  x: number;
  y: number;
}

/**
 * Anchors in the order the model emits its rows: feature maps by increasing stride, cells row by row, then the
 * anchors of one cell. BlazeFace front (128, strides 8/16/16/16) and back (256, strides 16/32/32/32) both give
 * 16×16×2 + 8×8×6 = 896.
 */
export function ssdAnchors(spec: AnchorSpec): Anchor[] {
  const out: Anchor[] = [];
  let layer = 0;
  while (layer < spec.strides.length) {
    const stride = spec.strides[layer] ?? 1;
    let next = layer;
    while (next < spec.strides.length && spec.strides[next] === stride) next++;
    const perCell = (next - layer) * spec.anchorsPerLayer;
    const cells = Math.ceil(spec.inputSize / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let a = 0; a < perCell; a++) out.push({ x: (x + spec.offset) / cells, y: (y + spec.offset) / cells });
      }
    }
    layer = next;
  }
  return out;
}

/** A face in normalised coordinates of the model input (or, after `unletterbox`, of whatever frame it maps to). */
export interface RawFace {
  score: number;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  /** x, y pairs, in the model's keypoint order. */
  keypoints: Float64Array;
}

export interface DecodeOptions {
  /** Offsets are in input pixels: divide by this (MediaPipe's x/y/w/h_scale, = the input size). */
  scale: number;
  /** Raw scores are clamped to ±this before the sigmoid (MediaPipe's `score_clipping_thresh`). */
  scoreClip: number;
  /** Faces scoring below this are dropped before suppression. */
  threshold: number;
  /** Values per anchor row: 4 box values (x, y, w, h offsets) then 2 per keypoint. */
  coords: number;
  keypoints: number;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * Decodes rows of raw scores (one per anchor) and raw coordinates (`coords` per anchor). Box centre and keypoints are
 * anchor + offset / scale, width and height are value / scale (the anchor size is 1); scores are sigmoid(clamped logit).
 */
export function decodeFaces(
  scores: Float32Array,
  boxes: Float32Array,
  anchors: readonly Anchor[],
  o: DecodeOptions,
): RawFace[] {
  if (scores.length !== anchors.length || boxes.length !== anchors.length * o.coords)
    throw new Error(
      `BlazeFace outputs do not fit ${anchors.length} anchors: ${scores.length} scores, ${boxes.length} box values`,
    );
  const faces: RawFace[] = [];
  for (let i = 0; i < anchors.length; i++) {
    const raw = scores[i] ?? 0;
    const score = sigmoid(Math.min(o.scoreClip, Math.max(-o.scoreClip, raw)));
    if (!(score >= o.threshold)) continue;
    const a = anchors[i] ?? { x: 0, y: 0 };
    const at = i * o.coords;
    const cx = (boxes[at] ?? 0) / o.scale + a.x;
    const cy = (boxes[at + 1] ?? 0) / o.scale + a.y;
    const w = (boxes[at + 2] ?? 0) / o.scale;
    const h = (boxes[at + 3] ?? 0) / o.scale;
    const keypoints = new Float64Array(2 * o.keypoints);
    for (let k = 0; k < o.keypoints; k++) {
      keypoints[2 * k] = (boxes[at + 4 + 2 * k] ?? 0) / o.scale + a.x;
      keypoints[2 * k + 1] = (boxes[at + 5 + 2 * k] ?? 0) / o.scale + a.y;
    }
    faces.push({ score, xmin: cx - w / 2, ymin: cy - h / 2, xmax: cx + w / 2, ymax: cy + h / 2, keypoints });
  }
  return faces;
}

/** Intersection over union of two boxes; 0 when either is empty. */
export function iou(a: RawFace, b: RawFace): number {
  const iw = Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin);
  const ih = Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter;
  return union > 0 ? inter / union : 0;
}

export interface SuppressionOptions {
  /** Faces overlapping the best remaining one by more than this IoU join its cluster (MediaPipe: 0.3). */
  iouThreshold: number;
  /** Stop after this many faces. */
  maxFaces: number;
  /** `weighted` blends each cluster (MediaPipe's WEIGHTED); `hard` keeps only its best member (classic NMS). */
  mode: 'weighted' | 'hard';
}

/**
 * Non-maximum suppression. Faces are taken best first; each one gathers every remaining face that overlaps it by
 * more than `iouThreshold` (itself included). `weighted` answers the score-weighted mean of the cluster's box corners
 * and keypoints with the best member's score, which steadies boxes that several anchors agree on; `hard` answers the
 * best member as it is. The cluster leaves the pool either way.
 */
export function suppress(faces: readonly RawFace[], o: SuppressionOptions): RawFace[] {
  let remaining = [...faces].sort(byScore);
  const out: RawFace[] = [];
  while (remaining.length > 0 && out.length < o.maxFaces) {
    const best = remaining[0];
    if (best === undefined) break;
    const cluster: RawFace[] = [];
    const rest: RawFace[] = [];
    for (const f of remaining) (iou(best, f) > o.iouThreshold || f === best ? cluster : rest).push(f);
    remaining = rest;
    if (o.mode === 'hard') {
      out.push(best);
      continue;
    }
    let total = 0;
    const keypoints = new Float64Array(best.keypoints.length);
    const box = { xmin: 0, ymin: 0, xmax: 0, ymax: 0 };
    for (const f of cluster) {
      total += f.score;
      box.xmin += f.xmin * f.score;
      box.ymin += f.ymin * f.score;
      box.xmax += f.xmax * f.score;
      box.ymax += f.ymax * f.score;
      f.keypoints.forEach((v, k) => (keypoints[k] = (keypoints[k] ?? 0) + v * f.score));
    }
    out.push({
      score: best.score,
      xmin: box.xmin / total,
      ymin: box.ymin / total,
      xmax: box.xmax / total,
      ymax: box.ymax / total,
      keypoints: keypoints.map((v) => v / total),
    });
  }
  return out;
}

/**
 * Where a `width`×`height` picture lands in the square model input when it is scaled to fit (aspect kept) and centred:
 * its scaled size and the padding before it, in input pixels.
 */
export interface Letterbox {
  size: number;
  width: number;
  height: number;
  /** The picture's size inside the square, in input pixels (at least 1). */
  innerWidth: number;
  innerHeight: number;
  /** Padding left and top, in input pixels. */
  left: number;
  top: number;
}

export function letterbox(width: number, height: number, size: number): Letterbox {
  const s = size / Math.max(width, height);
  const innerWidth = Math.max(1, Math.min(size, Math.round(width * s)));
  const innerHeight = Math.max(1, Math.min(size, Math.round(height * s)));
  return {
    size,
    width,
    height,
    innerWidth,
    innerHeight,
    left: Math.floor((size - innerWidth) / 2),
    top: Math.floor((size - innerHeight) / 2),
  };
}

/** Maps a face from normalised model-input coordinates to the original picture's pixels (the letterbox undone). */
export function unletterbox(f: RawFace, lb: Letterbox): RawFace {
  const fx = (x: number): number => ((x * lb.size - lb.left) * lb.width) / lb.innerWidth;
  const fy = (y: number): number => ((y * lb.size - lb.top) * lb.height) / lb.innerHeight;
  return {
    score: f.score,
    xmin: fx(f.xmin),
    ymin: fy(f.ymin),
    xmax: fx(f.xmax),
    ymax: fy(f.ymax),
    keypoints: f.keypoints.map((v, i) => (i % 2 === 0 ? fx(v) : fy(v))),
  };
}
