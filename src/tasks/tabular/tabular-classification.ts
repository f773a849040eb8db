/**
 * @module tabular-classification: rows of numbers (`number[]` or `number[][]`) → float32 [rows, features] →
 * class probabilities (e.g. an `ai.onnx.ml` TreeEnsembleClassifier without ZipMap) → `[{ label, score }]` per row.
 */
import { z } from 'zod';
import { ServiceError, describeIssues } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { type RequestBody, type RequestLimits, type TaskModule } from '../task.js';

import { asFloat32, float32, type Feeds, type Outputs } from '../tensor.js';
import { rankLabels, type LabelScore } from '../../maths/scores.js';

/** Feature names in column order (for messages and docs); their count is the row width. */
const PreprocessSchema = z.object({ features: z.array(z.string()).min(1) });
const PostprocessSchema = z.object({ scores_output: z.string().default('probabilities') });
const ParametersSchema = z.object({ top_k: z.number().int().min(1).optional() }).strict();

export interface TabularInput {
  rows: number[][];
  single: boolean;
  topK: number | undefined;
}

function featureNames(manifest: Manifest): string[] {
  const parsed = PreprocessSchema.safeParse(manifest.preprocess);
  if (!parsed.success) throw new Error(`model ${manifest.id}: preprocess.features is missing`);
  return parsed.data.features;
}

function checkRow(row: unknown, where: string, names: readonly string[]): number[] {
  if (!Array.isArray(row))
    throw new ServiceError(
      422,
      'invalid_input',
      `${where}: must be an array of ${names.length} numbers (${names.join(', ')}).`,
    );
  if (row.length !== names.length) {
    throw new ServiceError(
      422,
      'invalid_input',
      `${where}: expected ${names.length} numbers (${names.join(', ')}), got ${row.length}.`,
    );
  }
  return row.map((v: unknown, j) => {
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new ServiceError(422, 'invalid_input', `${where}[${j}] (${names[j] ?? ''}): must be a finite number.`);
    return v;
  });
}

export const tabularClassification: TaskModule<TabularInput, LabelScore[] | LabelScore[][]> = {
  task: 'tabular-classification',

  parse(body: RequestBody, manifest: Manifest, limits: RequestLimits): TabularInput {
    if (body.kind !== 'json')
      throw new ServiceError(
        415,
        'unsupported_media_type',
        'tabular-classification takes application/json with "inputs": number[] | number[][].',
      );
    const params = ParametersSchema.safeParse(body.parameters);
    if (!params.success)
      throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
    const names = featureNames(manifest);
    const inputs = body.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0)
      throw new ServiceError(
        422,
        'invalid_input',
        `inputs: must be a row of ${names.length} numbers or a non-empty array of rows.`,
      );
    // A flat array of numbers is one row; an array of arrays is a batch (Hugging Face's single-in, single-out rule).
    const single = !inputs.some((v) => Array.isArray(v));
    if (!single && inputs.length > limits.maxBatch)
      throw new ServiceError(
        422,
        'invalid_input',
        `inputs: at most ${limits.maxBatch} rows per request (got ${inputs.length}).`,
      );
    const rows = single
      ? [checkRow(inputs, 'inputs', names)]
      : inputs.map((r: unknown, i) => checkRow(r, `inputs[${i}]`, names));
    return { rows, single, topK: params.data.top_k };
  },

  size: (p) => ({ batch: p.rows.length }),

  cacheKeyInput: (p) => ({ rows: p.rows, single: p.single, top_k: p.topK ?? null }),

  preprocess(p: TabularInput, manifest: Manifest): Feeds {
    const width = p.rows[0]?.length ?? 0;
    const data = new Float32Array(p.rows.length * width);
    p.rows.forEach((r, i) => data.set(r, i * width));
    return { [manifest.inputs[0]?.name ?? 'features']: float32(data, [p.rows.length, width]) };
  },

  postprocess(outputs: Outputs, p: TabularInput, manifest: Manifest): LabelScore[] | LabelScore[][] {
    const name = PostprocessSchema.parse(manifest.postprocess).scores_output;
    const probs = asFloat32(outputs[name], name);
    const classes = probs.length / p.rows.length;
    const results = p.rows.map((_, r) =>
      rankLabels(probs.subarray(r * classes, (r + 1) * classes), manifest.labels, p.topK),
    );
    return p.single ? (results[0] ?? []) : results;
  },
};
