/**
 * @module Evaluation on the caller's own labelled examples: every example goes through the same serving path as
 * `predict` (scope, pinned version, cache partition, placement, fallback), in batches as large as the deployment's
 * limit, and each answer becomes a predicted label with a probability per label for the metrics in src/maths/. An
 * example the model cannot run is reported with its error, never dropped silently: a batch that fails with a client
 * error is retried example by example to find which.
 */
import type { Context, Env as HonoEnv } from 'hono';
import { z } from 'zod';
import { ServiceError, invalidInput } from '../lib/errors.js';
import type { Manifest, TaskName } from '../lib/manifest.js';
import type { ClassificationExample } from '../maths/classification-metrics.js';
import { taskModule } from '../tasks/index.js';
import type { RequestBody } from '../tasks/task.js';
import { candidateLabelsOf } from '../tasks/text/zero-shot-classification.js';
import { taskContext, type Serving } from './contract.js';

/** The tasks whose answers are one label per input, with a score per label. */
export const EVALUATED_TASKS: readonly TaskName[] = [
  'text-classification',
  'image-classification',
  'tabular-classification',
  'zero-shot-classification',
];

export interface LabelledExample {
  inputs: unknown;
  label: string;
  group?: string | undefined;
}

export interface ExampleFailure {
  index: number;
  error: { code: string; message: string };
}

export interface ScoredExamples {
  /** Scored examples, with the index each had in the request. */
  scored: (ClassificationExample & { index: number })[];
  failures: ExampleFailure[];
}

/** The labels a model answers with for this request: the manifest's, or zero-shot's candidate labels. */
export function evaluationLabels(manifest: Manifest, parameters: Record<string, unknown>): string[] {
  if (!EVALUATED_TASKS.includes(manifest.task))
    throw invalidInput(
      `Model '${manifest.id}' is a ${manifest.task} model; evaluation covers ${EVALUATED_TASKS.join(', ')}.`,
    );
  if (manifest.task === 'zero-shot-classification') return candidateLabelsOf(parameters);
  const labels = manifest.labels;
  if (labels === undefined || labels.length === 0)
    throw new ServiceError(422, 'invalid_input', `Model '${manifest.id}' names no labels, so it cannot be scored.`);
  return labels;
}

/** Every label of the examples must be one the model can answer (422 naming the first that is not). */
export function checkLabels(examples: readonly LabelledExample[], labels: readonly string[], model: string): void {
  const known = new Set(labels);
  const bad = examples.findIndex((e) => !known.has(e.label));
  if (bad >= 0)
    throw invalidInput(
      `examples[${bad}].label: '${examples[bad]?.label ?? ''}' is not a label of '${model}' (${labels.join(', ')}).`,
    );
}

/**
 * Task parameters that make a prediction answer every label (not only the top ones), and the caller's others.
 * Explanations are never asked for here: they cost more and change no score.
 */
function scoringParameters(task: TaskName, parameters: Record<string, unknown>): Record<string, unknown> {
  const rest = Object.fromEntries(Object.entries(parameters).filter(([k]) => k !== 'top_k' && k !== 'explain'));
  if (task === 'image-classification') return { ...rest, top_k: null };
  if (task === 'zero-shot-classification') return { ...rest, multi_label: false };
  return rest;
}

/** The answers evaluation reads: labels with scores (classifiers), or zero-shot's parallel lists. */
const LabelScoresSchema = z.array(z.object({ label: z.string(), score: z.number() }));
const ZeroShotSchema = z.object({ labels: z.array(z.string()), scores: z.array(z.number()) });

/** One answer as the metrics read it: the predicted label (the best scored) and a probability per label. */
function scoreOf(output: unknown): { predicted: string; scores: Record<string, number> } {
  const ranked = LabelScoresSchema.safeParse(output);
  const zeroShot = ZeroShotSchema.safeParse(output);
  const pairs: [string, number][] = ranked.success
    ? ranked.data.map((e) => [e.label, e.score])
    : zeroShot.success
      ? zeroShot.data.labels.map((label, i) => [label, zeroShot.data.scores[i] ?? 0])
      : [];
  const best = pairs.reduce<[string, number] | undefined>(
    (b, p) => (b === undefined || p[1] > b[1] ? p : b),
    undefined,
  );
  if (best === undefined) throw new Error(`evaluation: an answer without label scores (${JSON.stringify(output)})`);
  // A map without a prototype: a label named `constructor` or `__proto__` is just a label.
  const scores = Object.assign(Object.create(null) as object, Object.fromEntries(pairs)) as Record<string, number>;
  return { predicted: best[0], scores };
}

/** Runs each example through `serving.predict` in batches and scores the answers. */
export async function scoreExamples<E extends HonoEnv>(
  serving: Serving<E>,
  c: Context<E>,
  manifest: Manifest,
  examples: readonly LabelledExample[],
  parameters: Record<string, unknown>,
): Promise<ScoredExamples> {
  const task = taskModule(manifest.task);
  if (task === undefined) throw invalidInput(`Model '${manifest.id}' has no task module to evaluate.`);
  const registry = serving.registry(c);
  const limits = serving.limits(c);
  const params = scoringParameters(manifest.task, parameters);
  // Zero-shot counts (text × label) pairs against the batch limit.
  const perInput = manifest.task === 'zero-shot-classification' ? Math.max(1, candidateLabelsOf(params).length) : 1;
  const batchSize = Math.max(1, Math.floor(limits.maxBatch / perInput));
  const out: ScoredExamples = { scored: [], failures: [] };

  const predict = async (indexes: readonly number[]): Promise<unknown[]> => {
    const body: RequestBody = {
      kind: 'json',
      inputs: indexes.map((i) => examples[i]?.inputs),
      parameters: params,
    };
    const parsed = await task.parse(body, manifest, limits, taskContext(registry, manifest));
    const output = await serving.predict(c, manifest, { task, parsed, body });
    if (!Array.isArray(output) || output.length !== indexes.length)
      throw new Error(`evaluation: '${manifest.id}' answered a batch of ${indexes.length} with another shape`);
    return output as unknown[];
  };
  const record = (index: number, output: unknown): void => {
    const example = examples[index];
    if (example === undefined) return;
    out.scored.push({
      index,
      label: example.label,
      ...scoreOf(output),
      ...(example.group === undefined ? {} : { group: example.group }),
    });
  };
  const isClientError = (err: unknown): err is ServiceError => err instanceof ServiceError && err.status < 500;

  for (let start = 0; start < examples.length; start += batchSize) {
    const indexes = Array.from({ length: Math.min(batchSize, examples.length - start) }, (_, k) => start + k);
    try {
      const outputs = await predict(indexes);
      indexes.forEach((index, k) => record(index, outputs[k]));
    } catch (err) {
      if (!isClientError(err)) throw err;
      // Which example is at fault: each alone (the good ones usually come back from the cache of this very call).
      for (const index of indexes) {
        try {
          const [output] = await predict([index]);
          record(index, output);
        } catch (one) {
          if (!isClientError(one)) throw one;
          // Alone, the example is `inputs[0]` of its request; name it as the caller sent it.
          const message = one.message.replace(/^inputs(\[0\])?/, `examples[${index}].inputs`);
          out.failures.push({ index, error: { code: one.code, message } });
        }
      }
    }
  }
  return out;
}

/**
 * The label fairness is measured for: `parameters.positive_label`, else the second of a binary model's labels (the
 * convention of label id 1 as the positive class), else none (multi-class reports give the recall gap instead).
 */
export function positiveLabel(labels: readonly string[], requested: unknown): string | undefined {
  if (typeof requested === 'string') {
    if (!labels.includes(requested))
      throw invalidInput(`parameters.positive_label: '${requested}' is not one of ${labels.join(', ')}.`);
    return requested;
  }
  return labels.length === 2 ? labels[1] : undefined;
}
