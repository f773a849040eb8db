/**
 * @module text-classification: string(s) → hashed n-gram features (an embedding bag's indices + values, or a dense
 * vector for models that take one) → logits → `[{ label, score }]`, with occlusion explanations; or, for transformer
 * classifiers published from a Hugging Face folder (`preprocess.kind: 'hf-tokenizer'`), the model's own tokenizer →
 * logits → softmax (sigmoid for `multi_label_classification`), as Hugging Face's pipeline scores them.
 */
import { z } from 'zod';
import { ServiceError, describeIssues } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { rankLabels, sigmoid, softmax, type LabelScore } from '../../maths/scores.js';
import { encodeSingle, hfTokenizerConfig, loadTokenizer, transformerFeeds, type Assembled } from './hf-tokenizer.js';
import { type RequestBody, type RequestLimits, type TaskContext, type TaskModule } from '../task.js';

import { asFloat32, float32, type Feeds, type ModelRunner, type Outputs } from '../tensor.js';
import {
  featurizeSparse,
  padSparse,
  tokenFeatures,
  TextFeatureConfigSchema,
  type TextFeatureConfig,
} from './text-features.js';

export interface Attribution {
  token: string;
  weight: number;
}
export type ClassificationResult = LabelScore[] | { labels: LabelScore[]; attributions: Attribution[] };

export interface TextClassificationInput {
  texts: string[];
  /** A single string in gives a single result out (Hugging Face convention). */
  single: boolean;
  topK: number | undefined;
  explain: boolean;
  /** Transformer classifiers: each text as a model row (tokenised, truncated); absent for n-gram models. */
  rows?: Assembled[];
}

/** Whether a manifest is a transformer classifier (tokenizer preprocessing) rather than an n-gram one. */
export function isTransformer(manifest: Manifest): boolean {
  return manifest.preprocess['kind'] === 'hf-tokenizer';
}

const ScoreFunctionSchema = z.object({ function: z.enum(['softmax', 'sigmoid']).default('softmax') });

/** Explanations run one extra row per token: bound it so one request cannot ask for an unbounded batch. */
const MAX_EXPLAIN_TOKENS = 64;

const ParametersSchema = z
  .object({
    top_k: z.number().int().min(1).optional(),
    explain: z.boolean().optional(),
  })
  .strict();

function features(manifest: Manifest): TextFeatureConfig {
  return TextFeatureConfigSchema.parse(manifest.preprocess);
}

function labels(manifest: Manifest, width: number): string[] {
  return manifest.labels ?? Array.from({ length: width }, (_, i) => `LABEL_${i}`);
}

/**
 * Class probabilities per row, from `probabilities` when the model has it, else the manifest's function (softmax
 * unless a multi-label model says sigmoid) of `logits`.
 */
function probabilityRows(outputs: Outputs, rows: number, manifest?: Manifest): Float32Array[] {
  const probs = outputs['probabilities'];
  const source = probs ?? outputs['logits'] ?? Object.values(outputs)[0];
  const data = asFloat32(source, 'probabilities');
  const width = data.length / rows;
  const fn = manifest === undefined ? 'softmax' : ScoreFunctionSchema.parse(manifest.postprocess).function;
  const out: Float32Array[] = [];
  for (let r = 0; r < rows; r++) {
    const row = data.subarray(r * width, (r + 1) * width);
    out.push(probs ? row : fn === 'sigmoid' ? sigmoid(row) : softmax(row));
  }
  return out;
}

function rankAll(outputs: Outputs, p: TextClassificationInput, manifest: Manifest): LabelScore[][] {
  return probabilityRows(outputs, p.texts.length, manifest).map((row) =>
    ranked(row, labels(manifest, row.length), p.topK),
  );
}

function ranked(probs: Float32Array, names: string[], topK: number | undefined): LabelScore[] {
  return rankLabels(probs, names, topK);
}

export const textClassification: TaskModule<TextClassificationInput, ClassificationResult | ClassificationResult[]> = {
  task: 'text-classification',

  parse(
    body: RequestBody,
    manifest: Manifest,
    limits: RequestLimits,
    context?: TaskContext,
  ): TextClassificationInput | Promise<TextClassificationInput> {
    if (body.kind !== 'json')
      throw new ServiceError(
        415,
        'unsupported_media_type',
        'text-classification takes application/json with "inputs": string | string[].',
      );
    const params = ParametersSchema.safeParse(body.parameters);
    if (!params.success)
      throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
    const inputs = body.inputs;
    if (Array.isArray(inputs)) {
      const bad = inputs.findIndex((t) => typeof t !== 'string');
      if (bad !== -1) throw new ServiceError(422, 'invalid_input', `inputs[${bad}]: must be a string.`);
    } else if (typeof inputs !== 'string') {
      throw new ServiceError(422, 'invalid_input', 'inputs: must be a string or an array of strings.');
    }
    const single = typeof inputs === 'string';
    const texts: string[] = typeof inputs === 'string' ? [inputs] : (inputs as string[]);
    if (texts.length === 0) throw new ServiceError(422, 'invalid_input', 'inputs: must hold at least one string.');
    if (texts.length > limits.maxBatch) {
      throw new ServiceError(
        422,
        'invalid_input',
        `inputs: at most ${limits.maxBatch} strings per request (got ${texts.length}).`,
      );
    }
    texts.forEach((t, i) => {
      if (t.length > limits.maxTextChars) {
        const where = single ? 'inputs' : `inputs[${i}]`;
        throw new ServiceError(
          422,
          'invalid_input',
          `${where}: at most ${limits.maxTextChars} characters (got ${t.length}).`,
        );
      }
    });
    const parsed = { texts, single, topK: params.data.top_k, explain: params.data.explain ?? false };
    if (!isTransformer(manifest)) return parsed;
    if (parsed.explain)
      throw new ServiceError(
        422,
        'invalid_input',
        'parameters.explain: explanations are served for n-gram models only (occlusion over their features).',
      );
    if (context === undefined) throw new Error('text-classification needs a TaskContext to load its tokenizer');
    return tokenizeTexts(parsed, manifest, context);
  },

  size: (p) => ({
    batch: p.texts.length,
    inputBytes: p.texts.reduce((n, t) => n + t.length, 0),
    ...(p.rows === undefined ? {} : { tokens: p.rows.reduce((n, r) => n + r.ids.length, 0) }),
  }),

  cacheKeyInput: (p) => ({ texts: p.texts, single: p.single, top_k: p.topK ?? null, explain: p.explain }),

  preprocess(p: TextClassificationInput, manifest: Manifest): Feeds {
    if (p.rows !== undefined) return transformerFeeds(p.rows, manifest);
    const config = features(manifest);
    return encodeRows(
      p.texts.map((t) => featurizeSparse(t, config)),
      manifest,
      config,
    );
  },

  postprocess(outputs: Outputs, p: TextClassificationInput, manifest: Manifest): LabelScore[] | LabelScore[][] {
    const results = rankAll(outputs, p, manifest);
    return p.single ? (results[0] ?? []) : results;
  },

  execute(p, runner, manifest) {
    return p.explain ? explainAll(p, runner, manifest) : undefined;
  },
};

async function tokenizeTexts(
  parsed: TextClassificationInput,
  manifest: Manifest,
  context: TaskContext,
): Promise<TextClassificationInput> {
  const loaded = await loadTokenizer(manifest, context);
  const max = hfTokenizerConfig(manifest).max_length;
  return { ...parsed, rows: parsed.texts.map((t) => encodeSingle(loaded, t, max).row) };
}

async function explainAll(
  p: TextClassificationInput,
  runner: ModelRunner,
  manifest: Manifest,
): Promise<ClassificationResult | ClassificationResult[]> {
  const perText = rankAll(await runner.run(textClassification.preprocess(p, manifest)), p, manifest);
  const explained: ClassificationResult[] = [];
  for (let i = 0; i < p.texts.length; i++) {
    const ranking = perText[i] ?? [];
    explained.push({
      labels: ranking,
      attributions: await occlusion(p.texts[i] ?? '', ranking[0]?.label, runner, manifest),
    });
  }
  return p.single ? (explained[0] ?? []) : explained;
}

/**
 * Occlusion attributions: a token's weight is how much the top label's probability drops when that token's
 * features (its unigram and the bigrams containing it) are zeroed. One batched run for all tokens.
 */
async function occlusion(
  text: string,
  topLabel: string | undefined,
  runner: ModelRunner,
  manifest: Manifest,
): Promise<Attribution[]> {
  const config = features(manifest);
  const tokens = tokenFeatures(text, config).slice(0, MAX_EXPLAIN_TOKENS);
  if (tokens.length === 0) return [];
  const base = featurizeSparse(text, config);
  const rows: SparseRow[] = [base];
  for (const t of tokens) {
    const drop = new Set(t.buckets);
    const keep = Array.from(base.indices, (_, k) => k).filter((k) => !drop.has(base.indices[k] ?? -1));
    rows.push({ indices: keep.map((k) => base.indices[k] ?? 0), values: keep.map((k) => base.values[k] ?? 0) });
  }
  const probs = probabilityRows(await runner.run(encodeRows(rows, manifest, config)), rows.length);
  const names = labels(manifest, probs[0]?.length ?? 0);
  const target = Math.max(0, names.indexOf(topLabel ?? ''));
  const baseScore = probs[0]?.[target] ?? 0;
  return tokens.map((t, r) => ({ token: t.token, weight: round6(baseScore - (probs[r + 1]?.[target] ?? 0)) }));
}

interface SparseRow {
  indices: ArrayLike<number>;
  values: ArrayLike<number>;
}

/**
 * The model's feeds for sparse feature rows: an embedding bag (`int64` indices + `float32` values, padded) when the
 * model declares an int64 input, else the dense [n, buckets] vector older and third-party models take.
 */
function encodeRows(rows: readonly SparseRow[], manifest: Manifest, config: TextFeatureConfig): Feeds {
  const indexInput = manifest.inputs.find((i) => i.dtype === 'int64');
  const valueInput = manifest.inputs.find((i) => i.dtype === 'float32');
  if (indexInput !== undefined && valueInput !== undefined) {
    const b = padSparse(rows);
    return {
      [indexInput.name]: { type: 'int64', dims: [rows.length, b.width], data: b.indices },
      [valueInput.name]: float32(b.values, [rows.length, b.width]),
    };
  }
  const d = config.buckets;
  const dense = new Float32Array(rows.length * d);
  rows.forEach((r, i) => {
    for (let k = 0; k < r.indices.length; k++) dense[i * d + (r.indices[k] ?? 0)] = r.values[k] ?? 0;
  });
  return { [valueInput?.name ?? 'features']: float32(dense, [rows.length, d]) };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
