/**
 * @module token-classification (NER, part of speech): string(s) → tokens with character offsets → per-token logits →
 * Hugging Face's pipeline output: `{ entity, score, index, word, start, end }` per token, or with an
 * `aggregation_strategy` (`simple`, `first`, `average`, `max`) `{ entity_group, score, word, start, end }` per entity.
 *
 * Two kinds of model: transformers from a Hugging Face folder (`preprocess.kind: 'hf-tokenizer'`, subword tokens), and
 * word-level taggers trained here (`'word-features'`, e.g. pos-en: one row of hashed features per word).
 *
 * The aggregation is written here from Hugging Face's documented rules (transformers' TokenClassificationPipeline):
 * no library implements it, and transformers.js has only `simple`, applied after dropping ignored labels.
 */
import { z } from 'zod';
import { describeIssues, ServiceError } from '../../lib/errors.js';
import type { Manifest } from '../../lib/manifest.js';
import { validateTexts } from './feature-extraction.js';
import {
  continuesWord,
  encodeSingle,
  hfTokenizerConfig,
  loadTokenizer,
  tokensToString,
  transformerFeeds,
  type Assembled,
  type LoadedTokenizer,
} from './hf-tokenizer.js';
import type { RequestBody, RequestLimits, TaskContext, TaskModule } from '../task.js';
import { asFloat32, float32, type Feeds, type Outputs } from '../tensor.js';
import { padSparse } from './text-features.js';
import { softmax } from '../../maths/scores.js';
import { splitWords, WordFeatureConfigSchema, wordFeatureRows } from './word-features.js';

export const AGGREGATION_STRATEGIES = ['none', 'simple', 'first', 'average', 'max'] as const;
export type AggregationStrategy = (typeof AGGREGATION_STRATEGIES)[number];

export interface TokenEntity {
  entity: string;
  score: number;
  index: number;
  word: string;
  start: number;
  end: number;
}
export interface EntityGroup {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}
export type TokenClassificationOutput = (TokenEntity | EntityGroup)[];

/** One token before aggregation: Hugging Face's "pre-entity". */
export interface PreEntity {
  word: string;
  scores: Float32Array;
  start: number;
  end: number;
  index: number;
  isSubword: boolean;
}

interface Token {
  token: string;
  start: number;
  end: number;
  /** Position in the model's row (the index Hugging Face reports). */
  index: number;
  isSubword: boolean;
}

export interface TokenClassificationInput {
  texts: string[];
  single: boolean;
  strategy: AggregationStrategy;
  ignoreLabels: string[];
  /** Per text: its tokens (special tokens left out) and, for transformers, the model row. */
  tokens: Token[][];
  rows?: Assembled[];
  /** The tokenizer (transformers), for joining subwords into words. */
  loaded?: LoadedTokenizer;
  /** Word-level models: feature rows of every word of every text, in order. */
  featureRows?: { indices: number[]; values: number[] }[];
}

const ParametersSchema = z
  .object({
    aggregation_strategy: z.enum(AGGREGATION_STRATEGIES).optional(),
    ignore_labels: z.array(z.string()).max(1000).optional(),
  })
  .strict();

const isWordModel = (manifest: Manifest): boolean => manifest.preprocess['kind'] === 'word-features';

function labelOf(manifest: Manifest, i: number): string {
  return manifest.labels?.[i] ?? `LABEL_${i}`;
}

function argmax(xs: Float32Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if ((xs[i] ?? -Infinity) > (xs[best] ?? -Infinity)) best = i;
  return best;
}

/** Hugging Face's `get_tag`: B-/I- prefixes, anything else is an inside tag of itself. */
export function getTag(entity: string): { bi: 'B' | 'I'; tag: string } {
  if (entity.startsWith('B-')) return { bi: 'B', tag: entity.slice(2) };
  if (entity.startsWith('I-')) return { bi: 'I', tag: entity.slice(2) };
  return { bi: 'I', tag: entity };
}

/** Joins token strings into a word (Hugging Face's `convert_tokens_to_string`). */
export type JoinTokens = (tokens: string[]) => string;

function tokenEntity(pre: PreEntity, labels: (i: number) => string): TokenEntity {
  const best = argmax(pre.scores);
  return {
    entity: labels(best),
    score: pre.scores[best] ?? 0,
    index: pre.index,
    word: pre.word,
    start: pre.start,
    end: pre.end,
  };
}

/** `first`, `average` or `max` over one word's tokens (Hugging Face's `aggregate_word`). */
function aggregateWord(
  tokens: readonly PreEntity[],
  strategy: 'first' | 'average' | 'max',
  labels: (i: number) => string,
  join: JoinTokens,
): Omit<TokenEntity, 'index'> {
  const first = tokens[0];
  const last = tokens[tokens.length - 1];
  if (first === undefined || last === undefined) throw new Error('aggregateWord needs at least one token');
  let scores: Float32Array;
  if (strategy === 'first') scores = first.scores;
  else if (strategy === 'max') {
    // The token whose best score is highest decides (ties: the first such token).
    let best = first;
    for (const t of tokens) if (Math.max(...t.scores) > Math.max(...best.scores)) best = t;
    scores = best.scores;
  } else {
    scores = new Float32Array(first.scores.length);
    for (const t of tokens) t.scores.forEach((v, i) => (scores[i] = (scores[i] ?? 0) + v / tokens.length));
  }
  const idx = argmax(scores);
  return {
    entity: labels(idx),
    score: scores[idx] ?? 0,
    word: join(tokens.map((t) => t.word)),
    start: first.start,
    end: last.end,
  };
}

/** Groups consecutive entities: an I- (or unprefixed) tag continues the group of the same tag; B- starts anew. */
function groupEntities(entities: readonly Omit<TokenEntity, 'index'>[], join: JoinTokens): EntityGroup[] {
  const groups: EntityGroup[] = [];
  let open: Omit<TokenEntity, 'index'>[] = [];
  const close = (): void => {
    const first = open[0];
    const last = open[open.length - 1];
    if (first === undefined || last === undefined) return;
    groups.push({
      // The tag without its B-/I- prefix (`split("-", 1)[-1]`).
      entity_group: first.entity.includes('-') ? first.entity.slice(first.entity.indexOf('-') + 1) : first.entity,
      score: open.reduce((s, e) => s + e.score, 0) / open.length,
      word: join(open.map((e) => e.word)),
      start: first.start,
      end: last.end,
    });
  };
  for (const e of entities) {
    const prev = open[open.length - 1];
    if (prev !== undefined) {
      const { bi, tag } = getTag(e.entity);
      if (tag === getTag(prev.entity).tag && bi !== 'B') {
        open.push(e);
        continue;
      }
      close();
    }
    open = [e];
  }
  close();
  return groups;
}

/**
 * Hugging Face's aggregation over one text's pre-entities, then its `ignore_labels` filter (applied to the token's
 * entity, or to the group's tag — after grouping, so an ignored token still separates two entities).
 */
export function aggregate(
  pre: readonly PreEntity[],
  strategy: AggregationStrategy,
  ignoreLabels: readonly string[],
  labels: (i: number) => string,
  join: JoinTokens,
): TokenClassificationOutput {
  const ignored = new Set(ignoreLabels);
  if (strategy === 'none') return pre.map((p) => tokenEntity(p, labels)).filter((e) => !ignored.has(e.entity));
  let entities: Omit<TokenEntity, 'index'>[];
  if (strategy === 'simple') entities = pre.map((p) => tokenEntity(p, labels));
  else {
    entities = [];
    let word: PreEntity[] = [];
    for (const p of pre) {
      if (word.length > 0 && !p.isSubword) {
        entities.push(aggregateWord(word, strategy, labels, join));
        word = [];
      }
      word.push(p);
    }
    if (word.length > 0) entities.push(aggregateWord(word, strategy, labels, join));
  }
  return groupEntities(entities, join).filter((g) => !ignored.has(g.entity_group));
}

function parseParameters(body: RequestBody): { strategy: AggregationStrategy; ignoreLabels: string[] } {
  const params = ParametersSchema.safeParse(body.parameters);
  if (!params.success)
    throw new ServiceError(422, 'invalid_input', describeIssues(params.error.issues, ['parameters']));
  return {
    strategy: params.data.aggregation_strategy ?? 'none',
    ignoreLabels: params.data.ignore_labels ?? ['O'],
  };
}

async function parseTransformer(
  texts: string[],
  manifest: Manifest,
  context: TaskContext,
): Promise<Pick<TokenClassificationInput, 'tokens' | 'rows' | 'loaded'>> {
  const loaded = await loadTokenizer(manifest, context);
  const max = hfTokenizerConfig(manifest).max_length;
  const tokens: Token[][] = [];
  const rows: Assembled[] = [];
  for (const text of texts) {
    const { spans, row } = encodeSingle(loaded, text, max);
    // Each span's position in the row: the template puts the sequence after its leading special tokens.
    const offset = row.sequence.indexOf(0);
    tokens.push(
      spans.map((s, k) => ({
        // An unknown token reports the text it stands for (as Hugging Face does).
        token: s.id === loaded.unkId ? text.slice(s.start, s.end) : s.token,
        start: s.start,
        end: s.end,
        index: offset + k,
        isSubword: s.id !== loaded.unkId && continuesWord(loaded, spans, k),
      })),
    );
    rows.push(row);
  }
  return { tokens, rows, loaded };
}

function parseWords(texts: string[], manifest: Manifest): Pick<TokenClassificationInput, 'tokens' | 'featureRows'> {
  const cfg = WordFeatureConfigSchema.parse(manifest.preprocess);
  const tokens: Token[][] = [];
  const featureRows: { indices: number[]; values: number[] }[] = [];
  for (const text of texts) {
    const words = splitWords(text, cfg);
    tokens.push(words.map((w, i) => ({ token: w.word, start: w.start, end: w.end, index: i, isSubword: false })));
    featureRows.push(
      ...wordFeatureRows(
        words.map((w) => w.word),
        cfg,
      ),
    );
  }
  return { tokens, featureRows };
}

export const tokenClassification: TaskModule<
  TokenClassificationInput,
  TokenClassificationOutput | TokenClassificationOutput[]
> = {
  task: 'token-classification',

  async parse(body, manifest, limits: RequestLimits, context) {
    if (body.kind !== 'json')
      throw new ServiceError(
        415,
        'unsupported_media_type',
        'token-classification takes application/json with "inputs": string | string[].',
      );
    const { strategy, ignoreLabels } = parseParameters(body);
    const { texts, single } = validateTexts(body.inputs, limits);
    if (isWordModel(manifest)) return { texts, single, strategy, ignoreLabels, ...parseWords(texts, manifest) };
    if (context === undefined) throw new Error('token-classification needs a TaskContext to load its tokenizer');
    return { texts, single, strategy, ignoreLabels, ...(await parseTransformer(texts, manifest, context)) };
  },

  size: (p) => ({
    batch: p.texts.length,
    tokens: p.tokens.reduce((n, t) => n + t.length, 0),
    inputBytes: p.texts.reduce((n, t) => n + t.length, 0),
  }),

  cacheKeyInput: (p) => ({ texts: p.texts, single: p.single, strategy: p.strategy, ignore: p.ignoreLabels }),

  preprocess(p, manifest): Feeds {
    if (p.rows !== undefined) return transformerFeeds(p.rows, manifest);
    const rows = p.featureRows ?? [];
    // A text with no words still runs: one empty row keeps the graph's batch dimension non-zero.
    const b = padSparse(rows.length > 0 ? rows : [{ indices: [0], values: [0] }]);
    const n = Math.max(1, rows.length);
    const indexInput = manifest.inputs.find((i) => i.dtype === 'int64')?.name ?? 'indices';
    const valueInput = manifest.inputs.find((i) => i.dtype === 'float32')?.name ?? 'values';
    return {
      [indexInput]: { type: 'int64', dims: [n, b.width], data: b.indices },
      [valueInput]: float32(b.values, [n, b.width]),
    };
  },

  postprocess(outputs: Outputs, p, manifest) {
    const logits = outputs['logits'] ?? Object.values(outputs)[0];
    const data = asFloat32(logits, 'logits');
    const width = logits?.dims[logits.dims.length - 1] ?? 0;
    const labels = (i: number): string => labelOf(manifest, i);
    const loaded = p.loaded;
    const join: JoinTokens = loaded === undefined ? (ts) => ts.join(' ') : (ts) => tokensToString(loaded, ts);
    const seq = p.rows === undefined ? 0 : (logits?.dims[1] ?? 0);
    let wordRow = 0;
    const results = p.tokens.map((tokens, b) => {
      const pre: PreEntity[] = tokens.map((t) => {
        // Transformers: [batch, seq, labels] at the token's position; word models: one row per word, in order.
        const row = p.rows === undefined ? wordRow++ : b * seq + t.index;
        return {
          word: t.token,
          scores: softmax(data.subarray(row * width, (row + 1) * width)),
          start: t.start,
          end: t.end,
          index: t.index,
          isSubword: t.isSubword,
        };
      });
      return aggregate(pre, p.strategy, p.ignoreLabels, labels, join);
    });
    return p.single ? (results[0] ?? []) : results;
  },
};
