/**
 * @module zero-shot-classification on NLI models, as Hugging Face's pipeline does it: each candidate label becomes a
 * hypothesis (`hypothesis_template`, default "This example is {}."), the text and each hypothesis run as a pair, and
 * the entailment logits are softmaxed across labels — or, with `multi_label` (or a single label), entailment against
 * contradiction per label. Answers `{ sequence, labels, scores }`, best first.
 */
import { z } from 'zod';
import { describeIssues, ServiceError } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { validateTexts } from './feature-extraction.js';
import {
  assemble,
  encodeWithOffsets,
  hfTokenizerConfig,
  loadTokenizer,
  specialCount,
  transformerFeeds,
  type Assembled,
} from './hf-tokenizer.js';
import type { RequestBody, RequestLimits, TaskContext, TaskModule } from '../task.js';
import { asFloat32, type Feeds, type Outputs } from '../tensor.js';
import { softmax } from '../../maths/scores.js';

export interface ZeroShotOutput {
  sequence: string;
  labels: string[];
  scores: number[];
}

export interface ZeroShotInput {
  texts: string[];
  single: boolean;
  candidateLabels: string[];
  template: string;
  multiLabel: boolean;
  /** texts × labels pairs, text-major. */
  rows: Assembled[];
}

/** Each label is one more row through the model per text: bounded so one request cannot ask for thousands. */
export const MAX_CANDIDATE_LABELS = 32;
const DEFAULT_TEMPLATE = 'This example is {}.';

const ParametersSchema = z
  .object({
    // Hugging Face also takes one comma-separated string.
    candidate_labels: z.union([z.array(z.string().min(1).max(200)).min(1), z.string().min(1)]),
    hypothesis_template: z.string().min(1).max(500).optional(),
    multi_label: z.boolean().optional(),
  })
  .strict();

const PostprocessSchema = z.object({
  entailment_id: z.number().int().nonnegative(),
  contradiction_id: z.number().int().nonnegative(),
});

/** The candidate labels a request names (a list, or one comma-separated string), as the task will score them. */
export function candidateLabelsOf(parameters: Record<string, unknown>): string[] {
  return parseParameters({ kind: 'json', inputs: '', parameters }).labels;
}

function parseParameters(body: RequestBody): { labels: string[]; template: string; multiLabel: boolean } {
  const params = ParametersSchema.safeParse(body.parameters);
  if (!params.success)
    throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
  const raw = params.data.candidate_labels;
  const labels = (typeof raw === 'string' ? raw.split(',') : raw).map((l) => l.trim()).filter((l) => l.length > 0);
  if (labels.length === 0)
    throw new ServiceError(422, 'invalid_input', 'parameters.candidate_labels: name at least one label.');
  if (labels.length > MAX_CANDIDATE_LABELS)
    throw new ServiceError(
      422,
      'invalid_input',
      `parameters.candidate_labels: at most ${MAX_CANDIDATE_LABELS} labels (got ${labels.length}).`,
    );
  const template = params.data.hypothesis_template ?? DEFAULT_TEMPLATE;
  if (!template.includes('{}'))
    throw new ServiceError(
      422,
      'invalid_input',
      'parameters.hypothesis_template: must contain {} where the label goes, e.g. "This text is about {}."',
    );
  return { labels, template, multiLabel: params.data.multi_label ?? false };
}

async function pairs(
  texts: string[],
  hypotheses: string[],
  manifest: Manifest,
  context: TaskContext,
): Promise<Assembled[]> {
  const loaded = await loadTokenizer(manifest, context);
  const max = hfTokenizerConfig(manifest).max_length - specialCount(loaded, true);
  const encodedHypotheses = hypotheses.map((h) => encodeWithOffsets(loaded, h));
  const rows: Assembled[] = [];
  for (const text of texts) {
    const premise = encodeWithOffsets(loaded, text);
    for (const h of encodedHypotheses) {
      // Hugging Face truncates only the text (`only_first`): the hypothesis is kept whole.
      rows.push(assemble(loaded, premise.slice(0, Math.max(1, max - h.length)), h.slice(0, Math.max(1, max - 1))));
    }
  }
  return rows;
}

export const zeroShotClassification: TaskModule<ZeroShotInput, ZeroShotOutput | ZeroShotOutput[]> = {
  task: 'zero-shot-classification',

  async parse(body, manifest, limits: RequestLimits, context) {
    if (body.kind !== 'json')
      throw new ServiceError(
        415,
        'unsupported_media_type',
        'zero-shot-classification takes application/json with "inputs" and "parameters.candidate_labels".',
      );
    const { labels, template, multiLabel } = parseParameters(body);
    const { texts, single } = validateTexts(body.inputs, limits);
    if (texts.length * labels.length > limits.maxBatch)
      throw new ServiceError(
        422,
        'invalid_input',
        `inputs × parameters.candidate_labels: at most ${limits.maxBatch} pairs per request (got ${texts.length} × ${labels.length}).`,
      );
    if (context === undefined) throw new Error('zero-shot-classification needs a TaskContext to load its tokenizer');
    const hypotheses = labels.map((l) => template.replaceAll('{}', l));
    return {
      texts,
      single,
      candidateLabels: labels,
      template,
      multiLabel,
      rows: await pairs(texts, hypotheses, manifest, context),
    };
  },

  size: (p) => ({
    batch: p.rows.length,
    tokens: p.rows.reduce((n, r) => n + r.ids.length, 0),
    inputBytes: p.texts.reduce((n, t) => n + t.length, 0),
  }),

  cacheKeyInput: (p) => ({
    texts: p.texts,
    single: p.single,
    labels: p.candidateLabels,
    template: p.template,
    multi: p.multiLabel,
  }),

  preprocess: (p, manifest): Feeds => transformerFeeds(p.rows, manifest),

  postprocess(outputs: Outputs, p, manifest) {
    const { entailment_id: entail, contradiction_id: contra } = PostprocessSchema.parse(manifest.postprocess);
    const logits = outputs['logits'] ?? Object.values(outputs)[0];
    const data = asFloat32(logits, 'logits');
    const width = logits?.dims[1] ?? 0;
    const n = p.candidateLabels.length;
    // Hugging Face: a single label is always scored on its own (entailment vs contradiction).
    const each = p.multiLabel || n === 1;
    const results = p.texts.map((sequence, t) => {
      const at = (k: number, col: number): number => data[(t * n + k) * width + col] ?? 0;
      const scores = each
        ? p.candidateLabels.map((_, k) => softmax(Float32Array.of(at(k, contra), at(k, entail)))[1] ?? 0)
        : Array.from(softmax(Float32Array.from(p.candidateLabels, (_, k) => at(k, entail))));
      const order = scores.map((s, k) => ({ s, k })).sort((a, b) => b.s - a.s);
      return {
        sequence,
        labels: order.map((o) => p.candidateLabels[o.k] ?? ''),
        scores: order.map((o) => o.s),
      };
    });
    return p.single ? (results[0] ?? { sequence: '', labels: [], scores: [] }) : results;
  },
};
