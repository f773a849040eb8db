/**
 * @module Evaluation on the caller's own data: `POST /v1/models/{model}/evaluate` (one model's report: accuracy,
 * macro-F1, per-class precision/recall/F1, confusion matrix, log loss, Brier, calibration, bootstrap intervals, and
 * per-group metrics with fairness gaps when examples carry a group) and `POST /v1/evaluate` (several models on the
 * same examples, with McNemar's test for each pair). Every example runs through the same serving path as `predict`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, Env as HonoEnv } from 'hono';
import { invalidInput } from '../lib/errors.js';
import { classificationReport, mcnemarFromCorrectness, type ClassificationReport } from '../maths/metrics.js';
import { resolveModel, type Serving } from '../serving/contract.js';
import {
  checkLabels,
  evaluationLabels,
  positiveLabel,
  scoreExamples,
  type LabelledExample,
} from '../serving/evaluation.js';
import { ModelRefParam } from './predict.js';
import { createRouter, errorResponses, KEY_SECURITY, RateLimitHeaders } from './router.js';

/** Examples per synchronous evaluation: each is a prediction, and the answer must come within one request. */
export const MAX_EVAL_SYNC = 2000;

const ExampleSchema = z
  .object({
    inputs: z
      .unknown()
      .refine((v) => v !== undefined, 'required')
      .openapi({ description: 'One input, as `predict` takes it (a string, a base64 image, a row of numbers).' }),
    label: z.string().min(1).openapi({ description: 'The true label.', example: 'positive' }),
    group: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: 'A subpopulation for the fairness report (a dialect, a region, a device).' }),
  })
  .strict()
  .openapi('EvaluationExample');

const EvaluationParameters = z
  .object({
    seed: z
      .number()
      .int()
      .optional()
      .openapi({ description: 'Bootstrap seed (default 0): same seed, same intervals.' }),
    confidence: z.number().gt(0).lt(1).optional().openapi({ description: 'Interval level (default 0.95).' }),
    resamples: z
      .number()
      .int()
      .min(100)
      .max(10_000)
      .optional()
      .openapi({ description: 'Bootstrap resamples (1,000).' }),
    bins: z.number().int().min(2).max(50).optional().openapi({ description: 'Calibration bins (10, equal width).' }),
    positive_label: z.string().optional().openapi({
      description: "The label fairness gaps are measured for (default: a binary model's second label).",
    }),
    alpha: z.number().gt(0).lt(1).optional().openapi({ description: 'McNemar significance level (0.05).' }),
  })
  .catchall(z.unknown())
  .openapi('EvaluationParameters', {
    description: 'Evaluation settings, plus any task parameter `predict` takes (e.g. `candidate_labels`).',
  });

const ExamplesSchema = z.array(ExampleSchema).min(1).max(MAX_EVAL_SYNC);

const EvaluateRequestSchema = z
  .object({ examples: ExamplesSchema, parameters: EvaluationParameters.optional() })
  .strict()
  .openapi('EvaluateRequest');

const Interval = z.object({ lower: z.number(), upper: z.number() });
const Metrics = z.object({
  examples: z.number().int(),
  accuracy: z.number(),
  macro_f1: z.number(),
  per_class: z.record(
    z.string(),
    z.object({ precision: z.number(), recall: z.number(), f1: z.number(), support: z.number().int() }),
  ),
  confusion_matrix: z.object({ labels: z.array(z.string()), matrix: z.array(z.array(z.number().int())) }),
  log_loss: z.number(),
  brier: z.number(),
  calibration: z.object({
    ece: z.number(),
    bins: z.array(
      z.object({
        lower: z.number(),
        upper: z.number(),
        count: z.number().int(),
        confidence: z.number().nullable(),
        accuracy: z.number().nullable(),
      }),
    ),
  }),
});
const Fairness = z.object({
  positive_label: z.string(),
  demographic_parity_difference: z.number(),
  equal_opportunity_difference: z.number().nullable(),
  groups: z.record(
    z.string(),
    z.object({ examples: z.number().int(), positive_rate: z.number(), true_positive_rate: z.number().nullable() }),
  ),
  largest_recall_gap: z
    .object({ label: z.string(), difference: z.number(), highest: z.string(), lowest: z.string() })
    .nullable()
    .optional(),
});
const Failure = z.object({
  index: z.number().int(),
  error: z.object({ code: z.string(), message: z.string() }),
});

const EvaluationReportSchema = Metrics.extend({
  object: z.literal('evaluation'),
  model: z.string().openapi({ description: 'The version that answered: `id@version`.', example: 'sentiment-en@2.1.0' }),
  task: z.string(),
  n: z.number().int().openapi({ description: 'Examples scored (the request’s, less `failures`).' }),
  labels: z.array(z.string()),
  intervals: z.object({
    confidence: z.number(),
    resamples: z.number().int(),
    seed: z.number().int(),
    accuracy: Interval,
    macro_f1: Interval,
  }),
  groups: z.record(z.string(), Metrics).optional(),
  fairness: Fairness.optional(),
  failures: z.array(Failure).openapi({ description: 'Examples the model could not run, with the error each got.' }),
}).openapi('EvaluationReport');

const CompareRequestSchema = z
  .object({
    models: z
      .array(z.string().min(1))
      .min(1)
      .max(8)
      .openapi({ example: ['sentiment-en', 'sentiment-en@2.1.0'] }),
    examples: ExamplesSchema,
    parameters: EvaluationParameters.optional(),
  })
  .strict()
  .openapi('CompareRequest');

const PairSchema = z
  .object({
    a: z.string(),
    b_model: z.string(),
    b: z.number().int().openapi({ description: 'Examples model `a` got right and `b_model` wrong.' }),
    c: z.number().int().openapi({ description: 'Examples `b_model` got right and `a` wrong.' }),
    method: z.enum(['exact_binomial', 'chi_square']),
    statistic: z.number(),
    p_value: z.number(),
    alpha: z.number(),
    better: z.string().nullable().openapi({ description: 'The significantly more accurate model, or null.' }),
  })
  .openapi('McNemarPair');

const CompareResponseSchema = z
  .object({
    object: z.literal('comparison'),
    n: z.number().int().openapi({ description: 'Examples every model could run (the paired test needs all).' }),
    reports: z.array(EvaluationReportSchema),
    pairs: z.array(PairSchema),
  })
  .openapi('Comparison');

const evaluateRoute = createRoute({
  method: 'post',
  path: '/v1/models/{model}/evaluate',
  operationId: 'evaluateModel',
  tags: ['Evaluation'],
  summary: 'Measure a classifier on your own labelled examples',
  description:
    'Each example goes through the same path as `predict` (scope, version, cache, placement). Answers accuracy, ' +
    'macro-F1, per-class precision/recall/F1, the confusion matrix, log loss, Brier, calibration (ECE over 10 bins), ' +
    'seeded bootstrap intervals, and with `group` on examples the per-group metrics and fairness gaps. ' +
    `At most ${MAX_EVAL_SYNC} examples per request.`,
  security: KEY_SECURITY,
  request: {
    params: z.object({ model: ModelRefParam }),
    body: { required: true, content: { 'application/json': { schema: EvaluateRequestSchema } } },
  },
  responses: {
    200: {
      description: 'The report.',
      headers: z.object(RateLimitHeaders),
      content: { 'application/json': { schema: EvaluationReportSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 503),
  },
});

const compareRoute = createRoute({
  method: 'post',
  path: '/v1/evaluate',
  operationId: 'compareModels',
  tags: ['Evaluation'],
  summary: 'Compare models on the same labelled examples (McNemar)',
  description:
    "Each model's report on the same examples, and for each pair McNemar's test on their disagreements: the exact " +
    'binomial for fewer than 25, chi-square with continuity correction otherwise. The models must share a label set.',
  security: KEY_SECURITY,
  request: { body: { required: true, content: { 'application/json': { schema: CompareRequestSchema } } } },
  responses: {
    200: {
      description: 'The reports and the pairwise tests.',
      headers: z.object(RateLimitHeaders),
      content: { 'application/json': { schema: CompareResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 413, 415, 422, 429, 503),
  },
});

type EvalParameters = z.infer<typeof EvaluationParameters>;

/** Evaluation settings apart; the rest are task parameters passed to every prediction. */
function split(parameters: EvalParameters | undefined): { settings: EvalParameters; task: Record<string, unknown> } {
  const { seed, confidence, resamples, bins, positive_label, alpha, ...task } = parameters ?? {};
  return { settings: { seed, confidence, resamples, bins, positive_label, alpha }, task };
}

interface Evaluated {
  labels: string[];
  report: z.infer<typeof EvaluationReportSchema>;
  /** Per request index: whether the model was right (undefined where it failed). */
  correct: (boolean | undefined)[];
}

async function evaluateOne<E extends HonoEnv>(
  serving: Serving<E>,
  c: Context<E>,
  model: string,
  examples: readonly LabelledExample[],
  parameters: EvalParameters | undefined,
): Promise<Evaluated> {
  const manifest = await resolveModel(serving, c, model);
  const { settings, task } = split(parameters);
  const labels = evaluationLabels(manifest, task);
  checkLabels(examples, labels, `${manifest.id}@${manifest.version}`);
  const { scored, failures } = await scoreExamples(serving, c, manifest, examples, task);
  if (scored.length === 0)
    throw invalidInput(`examples: '${manifest.id}' could run none of them (${failures[0]?.error.message ?? ''}).`);
  const positive = positiveLabel(labels, settings.positive_label) ?? labels[0];
  const report: ClassificationReport = classificationReport(scored, labels, {
    ...(settings.seed === undefined ? {} : { seed: settings.seed }),
    ...(settings.confidence === undefined ? {} : { confidence: settings.confidence }),
    ...(settings.resamples === undefined ? {} : { resamples: settings.resamples }),
    ...(settings.bins === undefined ? {} : { bins: settings.bins }),
    ...(positive === undefined ? {} : { positiveLabel: positive }),
  });
  const correct: (boolean | undefined)[] = Array.from({ length: examples.length }, () => undefined);
  for (const s of scored) correct[s.index] = s.predicted === s.label;
  return {
    labels,
    correct,
    report: {
      object: 'evaluation',
      model: `${manifest.id}@${manifest.version}`,
      task: manifest.task,
      n: scored.length,
      labels,
      ...report,
      failures,
    },
  };
}

/** The evaluation routes over a deployment's serving. */
export function evaluateRoutes<E extends HonoEnv>(serving: Serving<E>) {
  const router = createRouter<E>();
  return router
    .openapi(evaluateRoute, async (c) => {
      const { examples, parameters } = c.req.valid('json');
      const { report } = await evaluateOne(serving, c, c.req.valid('param').model, examples, parameters);
      return c.json(report, 200);
    })
    .openapi(compareRoute, async (c) => {
      const { models, examples, parameters } = c.req.valid('json');
      const first = await evaluateOne(serving, c, models[0] ?? '', examples, parameters);
      const rest: Evaluated[] = [];
      for (const model of models.slice(1)) {
        const other = await evaluateOne(serving, c, model, examples, parameters);
        const missing = first.labels.filter((l) => !other.labels.includes(l));
        const extra = other.labels.filter((l) => !first.labels.includes(l));
        if (missing.length > 0 || extra.length > 0)
          throw invalidInput(
            `models: '${other.report.model}' and '${first.report.model}' answer different labels` +
              (missing.length > 0 ? `; only '${first.report.model}' has ${missing.join(', ')}` : '') +
              (extra.length > 0 ? `; only '${other.report.model}' has ${extra.join(', ')}` : '') +
              '.',
          );
        rest.push(other);
      }
      const all = [first, ...rest];
      // The paired test needs the same examples on both sides: only those every model could run.
      const shared = examples.map((_, i) => i).filter((i) => all.every((e) => e.correct[i] !== undefined));
      const alpha = parameters?.alpha ?? 0.05;
      const pairs: z.infer<typeof PairSchema>[] = [];
      for (let i = 0; i < all.length; i++)
        for (let j = i + 1; j < all.length; j++) {
          const a = all[i];
          const b = all[j];
          if (a === undefined || b === undefined) continue;
          const test = mcnemarFromCorrectness(
            shared.map((k) => a.correct[k] === true),
            shared.map((k) => b.correct[k] === true),
            alpha,
          );
          pairs.push({
            a: a.report.model,
            b_model: b.report.model,
            b: test.b,
            c: test.c,
            method: test.method,
            statistic: test.statistic,
            p_value: test.p_value,
            alpha: test.alpha,
            better: test.better === 'a' ? a.report.model : test.better === 'b' ? b.report.model : null,
          });
        }
      return c.json({ object: 'comparison' as const, n: shared.length, reports: all.map((e) => e.report), pairs }, 200);
    });
}
