/**
 * @module question-answering (extractive), as Hugging Face's pipeline answers it: `{question, context}` → the
 * question and a window of the context as a pair (long contexts in overlapping windows, `doc_stride` tokens shared)
 * → start/end logits → per window, softmax over the context tokens (and [CLS]), every span of at most
 * `max_answer_len` tokens scored start × end → the best `top_k` over all windows, each with its character offsets
 * in the context (widened to whole words, `align_to_words`) and the context text they cover.
 */
import { z } from 'zod';
import { describeIssues, ServiceError } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { byScore, softmaxMasked } from '../../maths/scores.js';
import {
  assemble,
  encodeWithOffsets,
  hfTokenizerConfig,
  loadTokenizer,
  specialCount,
  transformerFeeds,
  wordIds,
  type Assembled,
  type TokenSpan,
} from './hf-tokenizer.js';
import type { RequestBody, RequestLimits, TaskContext, TaskModule } from '../task.js';
import { asFloat32, type Feeds, type Outputs } from '../tensor.js';

export interface Answer {
  score: number;
  start: number;
  end: number;
  answer: string;
}
export type QuestionAnsweringOutput = Answer | Answer[];

interface Window {
  /** Index of the example (question/context pair) this window belongs to. */
  example: number;
  row: Assembled;
  /** The context spans this window holds (spanIndex in `row` indexes into it). */
  spans: TokenSpan[];
  /** Word id of each of those spans (for align_to_words). */
  words: number[];
}

interface Example {
  question: string;
  context: string;
  spans: TokenSpan[];
  words: number[];
}

export interface QuestionAnsweringInput {
  examples: Example[];
  single: boolean;
  windows: Window[];
  topK: number;
  maxAnswerLen: number;
  handleImpossible: boolean;
  alignToWords: boolean;
  /** For the cache key. */
  docStride: number;
  maxSeqLen: number;
}

const QaInputSchema = z.object({ question: z.string().min(1), context: z.string().min(1) }).strict();
const ParametersSchema = z
  .object({
    top_k: z.number().int().min(1).max(20).optional(),
    max_answer_len: z.number().int().min(1).max(512).optional(),
    doc_stride: z.number().int().min(0).optional(),
    max_seq_len: z.number().int().min(16).optional(),
    max_question_len: z.number().int().min(1).optional(),
    handle_impossible_answer: z.boolean().optional(),
    align_to_words: z.boolean().optional(),
  })
  .strict();

/** Windows one request may produce: each is a model row. */
const MAX_WINDOWS = 64;

function parseInputs(
  inputs: unknown,
  limits: RequestLimits,
): { pairs: z.infer<typeof QaInputSchema>[]; single: boolean } {
  const single = !Array.isArray(inputs);
  const list: unknown[] = Array.isArray(inputs) ? inputs : [inputs];
  if (list.length === 0) throw new ServiceError(422, 'invalid_input', 'inputs: must hold at least one question.');
  if (list.length > limits.maxBatch)
    throw new ServiceError(422, 'invalid_input', `inputs: at most ${limits.maxBatch} questions per request.`);
  const pairs = list.map((item, i) => {
    const r = QaInputSchema.safeParse(item);
    const where = single ? ['inputs'] : ['inputs', String(i)];
    if (!r.success) throw new ServiceError(422, 'invalid_input', describeIssues(r.error.issues, where));
    for (const field of ['question', 'context'] as const)
      if (r.data[field].length > limits.maxTextChars)
        throw new ServiceError(
          422,
          'invalid_input',
          `${[...where, field].join('.')}: at most ${limits.maxTextChars} characters (got ${r.data[field].length}).`,
        );
    return r.data;
  });
  return { pairs, single };
}

async function buildWindows(
  pairs: z.infer<typeof QaInputSchema>[],
  manifest: Manifest,
  context: TaskContext,
  params: { docStride: number; maxSeqLen: number; maxQuestionLen: number },
): Promise<{ examples: Example[]; windows: Window[] }> {
  const loaded = await loadTokenizer(manifest, context);
  const examples: Example[] = [];
  const windows: Window[] = [];
  pairs.forEach((pair, example) => {
    const question = encodeWithOffsets(loaded, pair.question).slice(0, params.maxQuestionLen);
    const spans = encodeWithOffsets(loaded, pair.context);
    const words = wordIds(loaded, spans);
    examples.push({ ...pair, spans, words });
    const room = params.maxSeqLen - question.length - specialCount(loaded, true);
    if (room < 1)
      throw new ServiceError(
        422,
        'invalid_input',
        `parameters.max_seq_len: ${params.maxSeqLen} tokens leave no room for the context after the question.`,
      );
    // Overlapping windows as Hugging Face's tokenizers cut them: each next window repeats the last `stride` tokens.
    const stride = Math.min(params.docStride, room - 1);
    for (let from = 0; ; from += room - stride) {
      const part = spans.slice(from, from + room);
      windows.push({
        example,
        row: assemble(loaded, question, part),
        spans: part,
        words: words.slice(from, from + room),
      });
      if (windows.length > MAX_WINDOWS)
        throw new ServiceError(
          422,
          'invalid_input',
          `inputs: the contexts need more than ${MAX_WINDOWS} windows of ${params.maxSeqLen} tokens; send shorter contexts or raise max_seq_len.`,
        );
      if (from + room >= spans.length) break;
    }
  });
  return { examples, windows };
}

/** One window's candidate answers, best first (Hugging Face's `decode_spans` over start × end probabilities). */
function windowAnswers(
  w: Window,
  example: Example,
  start: Float32Array,
  end: Float32Array,
  p: QuestionAnsweringInput,
): { answers: Answer[]; nullScore: number } {
  const n = w.row.ids.length;
  // Context tokens may hold the answer; the first token ([CLS]) is kept in the softmax for the null answer.
  const isContext = w.row.sequence.map((s) => s === 1);
  const keep = isContext.map((c, i) => c || i === 0);
  const ps = softmaxMasked(start.subarray(0, n), keep);
  const pe = softmaxMasked(end.subarray(0, n), keep);
  const nullScore = (ps[0] ?? 0) * (pe[0] ?? 0);
  const candidates: { s: number; e: number; score: number }[] = [];
  for (let s = 0; s < n; s++) {
    if (!isContext[s]) continue;
    for (let e = s; e < Math.min(n, s + p.maxAnswerLen); e++) {
      if (!isContext[e]) continue;
      candidates.push({ s, e, score: (ps[s] ?? 0) * (pe[e] ?? 0) });
    }
  }
  candidates.sort(byScore);
  const answers = candidates.slice(0, p.topK).map(({ s, e, score }) => {
    const first = w.row.spanIndex[s] ?? 0;
    const last = w.row.spanIndex[e] ?? 0;
    let from = w.spans[first]?.start ?? 0;
    let to = w.spans[last]?.end ?? 0;
    if (p.alignToWords) {
      // Widen to the whole words the span starts and ends in (the word's tokens over the whole context).
      const startWord = w.words[first];
      const endWord = w.words[last];
      from = example.spans.find((_, k) => example.words[k] === startWord)?.start ?? from;
      to = example.spans.findLast((_, k) => example.words[k] === endWord)?.end ?? to;
    }
    return { score, start: from, end: to, answer: example.context.slice(from, to) };
  });
  return { answers, nullScore };
}

export const questionAnswering: TaskModule<
  QuestionAnsweringInput,
  QuestionAnsweringOutput | QuestionAnsweringOutput[]
> = {
  task: 'question-answering',

  async parse(body: RequestBody, manifest, limits, context) {
    if (body.kind !== 'json')
      throw new ServiceError(
        415,
        'unsupported_media_type',
        'question-answering takes application/json with "inputs": {question, context} or a list of them.',
      );
    const params = ParametersSchema.safeParse(body.parameters);
    if (!params.success)
      throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
    const { pairs, single } = parseInputs(body.inputs, limits);
    if (context === undefined) throw new Error('question-answering needs a TaskContext to load its tokenizer');
    const modelMax = hfTokenizerConfig(manifest).max_length;
    const maxSeqLen = Math.min(params.data.max_seq_len ?? 384, modelMax);
    const docStride = params.data.doc_stride ?? Math.min(128, Math.floor(maxSeqLen / 2));
    const built = await buildWindows(pairs, manifest, context, {
      docStride,
      maxSeqLen,
      maxQuestionLen: params.data.max_question_len ?? 64,
    });
    return {
      ...built,
      single,
      topK: params.data.top_k ?? 1,
      maxAnswerLen: params.data.max_answer_len ?? 15,
      handleImpossible: params.data.handle_impossible_answer ?? false,
      alignToWords: params.data.align_to_words ?? true,
      docStride,
      maxSeqLen,
    };
  },

  size: (p) => ({
    batch: p.windows.length,
    tokens: p.windows.reduce((n, w) => n + w.row.ids.length, 0),
    inputBytes: p.examples.reduce((n, e) => n + e.question.length + e.context.length, 0),
  }),

  cacheKeyInput: (p) => ({
    pairs: p.examples.map((e) => [e.question, e.context]),
    single: p.single,
    top_k: p.topK,
    max_answer_len: p.maxAnswerLen,
    impossible: p.handleImpossible,
    align: p.alignToWords,
    stride: p.docStride,
    seq: p.maxSeqLen,
  }),

  preprocess: (p, manifest): Feeds =>
    transformerFeeds(
      p.windows.map((w) => w.row),
      manifest,
    ),

  postprocess(outputs: Outputs, p) {
    const startT = outputs['start_logits'];
    const endT = outputs['end_logits'];
    if (startT === undefined || endT === undefined) throw new Error('model answered no start_logits/end_logits');
    const start = asFloat32(startT, 'start_logits');
    const end = asFloat32(endT, 'end_logits');
    const seq = startT.dims[1] ?? 0;
    const results = p.examples.map((example, x) => {
      const all: Answer[] = [];
      let nullScore = 1;
      p.windows.forEach((w, i) => {
        if (w.example !== x) return;
        const got = windowAnswers(
          w,
          example,
          start.subarray(i * seq, (i + 1) * seq),
          end.subarray(i * seq, (i + 1) * seq),
          p,
        );
        all.push(...got.answers);
        nullScore = Math.min(nullScore, got.nullScore);
      });
      if (p.handleImpossible) all.push({ score: nullScore, start: 0, end: 0, answer: '' });
      all.sort(byScore);
      const top = all.slice(0, p.topK);
      return p.topK === 1 ? (top[0] ?? { score: 0, start: 0, end: 0, answer: '' }) : top;
    });
    return p.single ? (results[0] ?? []) : results;
  },
};
