/**
 * @module Token classification metrics: token accuracy, and entity-level precision/recall/F1 counted as seqeval
 * counts them in its default mode (chunks read from IOB1/IOB2/IOBES tags; a predicted entity is right only when its
 * type, start and end all match a gold one), micro-averaged overall and per entity type.
 */
import { invalidInput } from '../lib/errors.js';
import { precisionRecallF1 } from './classification-metrics.js';

/** One tagged sentence: gold tags and predicted tags, one per token. */
export interface TaggedSequence {
  labels: readonly string[];
  predicted: readonly string[];
}

/** A chunk of tokens `start`…`end` (both inclusive, as seqeval's tuples) of one entity type. */
export interface Entity {
  type: string;
  start: number;
  end: number;
}

export interface EntityScores {
  precision: number;
  recall: number;
  f1: number;
  /** Gold entities. */
  support: number;
  predicted: number;
  true_positives: number;
}

export interface TokenClassificationReport {
  tokens: number;
  token_accuracy: number;
  /** Micro average over all entities of all types. */
  overall: EntityScores;
  per_type: Record<string, EntityScores>;
}

/** `O`, or a `B-`/`I-`/`E-`/`S-` prefix and a type (which may itself hold dashes: `B-LOC-CITY` is a LOC-CITY). */
const TAG = /^([BIES])-(.+)$/s;

interface ParsedTag {
  /** 'O' outside any entity. */
  prefix: 'B' | 'I' | 'E' | 'S' | 'O';
  type: string;
}

function parseTag(tag: string, where: string): ParsedTag {
  if (tag === 'O') return { prefix: 'O', type: '' };
  const m = TAG.exec(tag);
  const prefix = m?.[1];
  const type = m?.[2];
  if ((prefix !== 'B' && prefix !== 'I' && prefix !== 'E' && prefix !== 'S') || type === undefined)
    throw invalidInput(`${where}: '${tag}' is not a tag (O, or B-/I-/E-/S- and a type).`);
  return { prefix, type };
}

/**
 * The entities of one tag sequence, by seqeval's `get_entities` (default, non-strict mode): a chunk ends when the
 * previous tag was E or S, when B/S follows B or I, when O follows B or I, or when the type changes; a chunk starts at
 * B or S, at I or E after O, E or S, or wherever the type changes. So `I-` after `O` opens an entity (IOB1), and
 * `B-PER I-LOC` is two entities.
 */
export function entities(tags: readonly string[], where = 'tags'): Entity[] {
  const out: Entity[] = [];
  let prev: ParsedTag = { prefix: 'O', type: '' };
  let begin = 0;
  // One O past the end closes the last chunk, as seqeval appends it.
  for (let i = 0; i <= tags.length; i++) {
    const tag = i < tags.length ? parseTag(tags[i] ?? 'O', `${where}[${i}]`) : { prefix: 'O' as const, type: '' };
    if (endsChunk(prev, tag)) out.push({ type: prev.type, start: begin, end: i - 1 });
    if (startsChunk(prev, tag)) begin = i;
    prev = tag;
  }
  return out;
}

function endsChunk(prev: ParsedTag, tag: ParsedTag): boolean {
  if (prev.prefix === 'O') return false;
  if (prev.prefix === 'E' || prev.prefix === 'S') return true;
  // prev is B or I.
  if (tag.prefix === 'B' || tag.prefix === 'S' || tag.prefix === 'O') return true;
  return prev.type !== tag.type;
}

function startsChunk(prev: ParsedTag, tag: ParsedTag): boolean {
  if (tag.prefix === 'O') return false;
  if (tag.prefix === 'B' || tag.prefix === 'S') return true;
  // tag is I or E.
  if (prev.prefix === 'O' || prev.prefix === 'E' || prev.prefix === 'S') return true;
  return prev.type !== tag.type;
}

/**
 * Token accuracy (tokens whose predicted tag equals the gold tag, `O` included, as seqeval's `accuracy_score`) and
 * entity precision/recall/F1 (0 where undefined). Entities never cross sentences: each sequence is chunked alone,
 * the same as seqeval's O between flattened sentences.
 */
export function tokenClassificationReport(sequences: readonly TaggedSequence[]): TokenClassificationReport {
  let tokens = 0;
  let tokensRight = 0;
  // Per type: [gold, predicted, true positives].
  const counts = new Map<string, [number, number, number]>();
  const tally = (type: string, slot: 0 | 1 | 2): void => {
    let c = counts.get(type);
    if (c === undefined) counts.set(type, (c = [0, 0, 0]));
    c[slot]++;
  };
  sequences.forEach((sequence, s) => {
    if (sequence.labels.length !== sequence.predicted.length)
      throw invalidInput(
        `sequences[${s}]: ${sequence.labels.length} gold tags but ${sequence.predicted.length} predicted tags.`,
      );
    tokens += sequence.labels.length;
    sequence.labels.forEach((tag, i) => {
      if (tag === sequence.predicted[i]) tokensRight++;
    });
    const gold = entities(sequence.labels, `sequences[${s}].labels`);
    const predicted = entities(sequence.predicted, `sequences[${s}].predicted`);
    const goldKeys = new Set(gold.map(entityKey));
    for (const e of gold) tally(e.type, 0);
    for (const e of predicted) {
      tally(e.type, 1);
      if (goldKeys.has(entityKey(e))) tally(e.type, 2);
    }
  });
  if (tokens === 0) throw invalidInput('token classification: there are no tokens.');
  const scores = ([gold, predicted, tp]: readonly [number, number, number]): EntityScores => ({
    ...precisionRecallF1(tp, predicted, gold),
    support: gold,
    predicted,
    true_positives: tp,
  });
  const total: [number, number, number] = [0, 0, 0];
  for (const c of counts.values())
    for (let slot = 0; slot < 3; slot++) total[slot] = (total[slot] ?? 0) + (c[slot] ?? 0);
  return {
    tokens,
    token_accuracy: tokensRight / tokens,
    overall: scores(total),
    // Types sorted by name, as seqeval's report lists them, so the answer does not depend on example order.
    per_type: Object.fromEntries(
      [...counts].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([type, c]) => [type, scores(c)]),
    ),
  };
}

/** Type, start and end: the identity of an entity within one sentence (a JSON array cannot collide on separators). */
function entityKey(e: Entity): string {
  return JSON.stringify([e.type, e.start, e.end]);
}
