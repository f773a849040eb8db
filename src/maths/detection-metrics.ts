/**
 * @module Object detection metrics at one IoU threshold (0.5 by default): per label precision, recall and average
 * precision, and their mean (mAP@0.5), from predicted boxes with scores against gold boxes, image by image. Matching
 * is greedy by score (COCO's rule) and AP is PASCAL VOC's 2010+ all-points interpolation (the area under the
 * precision envelope), at IoU ≥ the threshold in continuous coordinates.
 */
import { invalidInput } from '../lib/errors.js';
import { ratioOrZero } from './classification-metrics.js';

/** Corner coordinates in any one unit (pixels, or fractions of the image); only ratios of areas matter. */
export interface BoundingBox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

export interface GoldBox {
  label: string;
  box: BoundingBox;
}

export interface PredictedBox extends GoldBox {
  score: number;
}

/** One image's gold boxes and the model's detections on it. */
export interface DetectionImage {
  gold: readonly GoldBox[];
  predicted: readonly PredictedBox[];
}

export interface LabelDetectionMetrics {
  /** True positives over all the label's predictions (0 when there are none): filter by score before, for a cut. */
  precision: number;
  /** True positives over gold boxes; null when the label has no gold box (undefined). */
  recall: number | null;
  /** Null when the label has no gold box: it is left out of the mean, as COCO leaves it out. */
  average_precision: number | null;
  gold: number;
  predicted: number;
  true_positives: number;
}

export interface DetectionReport {
  iou_threshold: number;
  /** Mean of the defined per-label APs (mAP@0.5 at the default threshold); null when no label has a gold box. */
  map: number | null;
  per_label: Record<string, LabelDetectionMetrics>;
}

export const DEFAULT_IOU_THRESHOLD = 0.5;

/**
 * Intersection over union of two boxes, in continuous coordinates (no VOC "+1 pixel"), 0 when the union is empty.
 * A box with xmax < xmin has no area.
 */
export function iou(a: BoundingBox, b: BoundingBox): number {
  const w = Math.max(0, Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin));
  const h = Math.max(0, Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin));
  const inter = w * h;
  const union = area(a) + area(b) - inter;
  return union <= 0 ? 0 : inter / union;
}

function area(b: BoundingBox): number {
  return Math.max(0, b.xmax - b.xmin) * Math.max(0, b.ymax - b.ymin);
}

/**
 * Average precision from detections ranked by descending score (`hits[i]`: the i-th was a true positive) against
 * `gold` gold boxes: VOC 2010+ all-points interpolation. Precision is made monotone decreasing from the right
 * (p̂(r) = max over r' ≥ r of p(r')) and AP = Σ (r_{i+1} − r_i)·p̂(r_{i+1}) over the points where recall changes:
 * the area under the precision envelope, not the 11-point VOC 2007 average. Null when there is no gold box.
 */
export function averagePrecision(hits: readonly boolean[], gold: number): number | null {
  if (gold === 0) return null;
  const recall = [0];
  const precision = [0];
  let tp = 0;
  hits.forEach((hit, i) => {
    if (hit) tp++;
    recall.push(tp / gold);
    precision.push(tp / (i + 1));
  });
  recall.push(1);
  precision.push(0);
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i] ?? 0, precision[i + 1] ?? 0);
  let ap = 0;
  for (let i = 0; i + 1 < recall.length; i++) {
    const step = (recall[i + 1] ?? 0) - (recall[i] ?? 0);
    if (step !== 0) ap += step * (precision[i + 1] ?? 0);
  }
  return ap;
}

/**
 * The report. Per label, all its predictions over all images are ranked by descending score (ties keep input
 * order: image, then position); each in turn is matched greedily to the still-unmatched gold box of its label in its
 * image with the highest IoU, and is a true positive when that IoU is ≥ the threshold, a false positive otherwise.
 * Each gold box is matched at most once, so a duplicate detection is a false positive. This is COCO's matching
 * (pycocotools, torchmetrics), not the VOC devkit's, which takes the best-overlapping gold box even when already
 * matched and then calls the detection false: the two differ only where gold boxes of one label overlap each other,
 * and there VOC's rule can fail even a perfect detector (two identical gold boxes). Labels are those of gold or
 * predicted boxes, sorted.
 */
export function detectionReport(
  images: readonly DetectionImage[],
  iouThreshold = DEFAULT_IOU_THRESHOLD,
): DetectionReport {
  if (!(iouThreshold > 0 && iouThreshold <= 1))
    throw invalidInput(`detection: the IoU threshold must lie in (0, 1], not ${iouThreshold}.`);
  const goldCount = new Map<string, number>();
  const ranked = new Map<string, { image: number; score: number; box: BoundingBox }[]>();
  images.forEach((image, i) => {
    image.gold.forEach((g, j) => {
      checkBox(g.box, `images[${i}].gold[${j}]`);
      goldCount.set(g.label, (goldCount.get(g.label) ?? 0) + 1);
    });
    image.predicted.forEach((p, j) => {
      checkBox(p.box, `images[${i}].predicted[${j}]`);
      if (!Number.isFinite(p.score)) throw invalidInput(`images[${i}].predicted[${j}].score: not a finite number.`);
      let list = ranked.get(p.label);
      if (list === undefined) ranked.set(p.label, (list = []));
      list.push({ image: i, score: p.score, box: p.box });
    });
  });
  const labels = [...new Set([...goldCount.keys(), ...ranked.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const perLabel = labels.map((label): [string, LabelDetectionMetrics] => {
    // Array.prototype.sort is stable, so equal scores keep input order.
    const predictions = [...(ranked.get(label) ?? [])].sort((a, b) => b.score - a.score);
    const taken = images.map((image) => image.gold.map(() => false));
    const hits = predictions.map(({ image, box }) => {
      let best = -1;
      let bestIou = -Infinity;
      const flags = taken[image] ?? [];
      (images[image]?.gold ?? []).forEach((g, j) => {
        if (g.label !== label || flags[j] === true) return;
        const overlap = iou(box, g.box);
        if (overlap > bestIou) {
          bestIou = overlap;
          best = j;
        }
      });
      if (best < 0 || bestIou < iouThreshold) return false;
      flags[best] = true;
      return true;
    });
    const gold = goldCount.get(label) ?? 0;
    const tp = hits.filter(Boolean).length;
    return [
      label,
      {
        precision: ratioOrZero(tp, predictions.length),
        recall: gold === 0 ? null : tp / gold,
        average_precision: averagePrecision(hits, gold),
        gold,
        predicted: predictions.length,
        true_positives: tp,
      },
    ];
  });
  const aps = perLabel.map(([, m]) => m.average_precision).filter((ap): ap is number => ap !== null);
  return {
    iou_threshold: iouThreshold,
    map: aps.length === 0 ? null : aps.reduce((a, b) => a + b, 0) / aps.length,
    per_label: Object.fromEntries(perLabel),
  };
}

function checkBox(box: BoundingBox, where: string): void {
  for (const key of ['xmin', 'ymin', 'xmax', 'ymax'] as const)
    if (!Number.isFinite(box[key])) throw invalidInput(`${where}.box.${key}: not a finite number.`);
}
