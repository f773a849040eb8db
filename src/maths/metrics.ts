/**
 * @module The evaluation metrics (issue 17) in one place: `classificationReport` (every classification metric, its
 * bootstrap intervals, per-group metrics and fairness gaps), plus the significance, token classification and
 * detection metrics it stands beside. Pure arithmetic over plain objects, so the edge and the origin answer alike.
 */
import {
  DEFAULT_CONFIDENCE,
  DEFAULT_RESAMPLES,
  DEFAULT_SEED,
  percentileBootstrap,
  type BootstrapOptions,
  type Interval,
} from './bootstrap.js';
import {
  accuracyAndMacroF1,
  allRows,
  DEFAULT_CALIBRATION_BINS,
  metricsOver,
  prepareExamples,
  type ClassificationExample,
  type ClassificationMetrics,
} from './classification-metrics.js';
import { fairnessReport, groupRows, type FairnessReport } from './fairness.js';

export {
  DEFAULT_CONFIDENCE,
  DEFAULT_RESAMPLES,
  DEFAULT_SEED,
  percentileBootstrap,
  quantile,
  type BootstrapOptions,
  type Interval,
} from './bootstrap.js';
export {
  classificationMetrics,
  DEFAULT_CALIBRATION_BINS,
  LOG_LOSS_EPSILON,
  type Calibration,
  type CalibrationBin,
  type ClassificationExample,
  type ClassificationMetrics,
  type ClassMetrics,
  type ConfusionMatrix,
} from './classification-metrics.js';
export { type FairnessReport, type GroupRates, type RecallGap } from './fairness.js';
export {
  chiSquareSurvival1,
  erfc,
  MCNEMAR_EXACT_BELOW,
  mcnemarFromCorrectness,
  mcnemarTest,
  type McNemarResult,
} from './significance.js';
export {
  entities,
  tokenClassificationReport,
  type Entity,
  type EntityScores,
  type TaggedSequence,
  type TokenClassificationReport,
} from './entity-metrics.js';
export {
  averagePrecision,
  DEFAULT_IOU_THRESHOLD,
  detectionReport,
  iou,
  type BoundingBox,
  type DetectionImage,
  type DetectionReport,
  type GoldBox,
  type LabelDetectionMetrics,
  type PredictedBox,
} from './detection-metrics.js';

export interface ClassificationReportOptions extends BootstrapOptions {
  /** Equal-width calibration bins; 10 by default. */
  bins?: number;
  /** The label fairness is measured for; without it, grouped examples get per-group metrics but no `fairness`. */
  positiveLabel?: string;
}

export interface ClassificationReport extends ClassificationMetrics {
  /** Percentile-bootstrap intervals over the examples (one set of resamples for both statistics). */
  intervals: {
    confidence: number;
    resamples: number;
    seed: number;
    accuracy: Interval;
    macro_f1: Interval;
  };
  /** Only when some example carries a group: the same metrics per group (examples without one count only above). */
  groups?: Record<string, ClassificationMetrics>;
  /** Only when some example carries a group and `positiveLabel` is given. */
  fairness?: FairnessReport;
}

/**
 * Every classification metric over `examples` with label set `labels` (the confusion matrix's order), with seeded
 * percentile-bootstrap intervals for accuracy and macro-F1, and, when examples carry `group`, the metrics per group
 * and the fairness gaps for `positiveLabel`.
 */
export function classificationReport(
  examples: readonly ClassificationExample[],
  labels: readonly string[],
  options: ClassificationReportOptions = {},
): ClassificationReport {
  const data = prepareExamples(examples, labels);
  const bins = options.bins ?? DEFAULT_CALIBRATION_BINS;
  const bootstrap = {
    resamples: options.resamples ?? DEFAULT_RESAMPLES,
    confidence: options.confidence ?? DEFAULT_CONFIDENCE,
    seed: options.seed ?? DEFAULT_SEED,
  };
  const [accuracy, macroF1] = percentileBootstrap(examples.length, (rows) => accuracyAndMacroF1(data, rows), bootstrap);
  const report: ClassificationReport = {
    ...metricsOver(data, allRows(examples.length), bins),
    intervals: {
      ...bootstrap,
      accuracy,
      macro_f1: macroF1,
    },
  };
  const groups = groupRows(examples.map((e) => e.group));
  if (groups.size > 0) {
    report.groups = Object.fromEntries([...groups].map(([group, rows]) => [group, metricsOver(data, rows, bins)]));
    if (options.positiveLabel !== undefined) report.fairness = fairnessReport(data, groups, options.positiveLabel);
  }
  return report;
}
