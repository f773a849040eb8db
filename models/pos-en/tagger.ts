/**
 * @module pos-en's features, training rows and evaluation: the recipe builds with these and the test recomputes its
 * held-out figures with them, so both read the corpus through one path (the served `wordFeatureRows`).
 */
import { WORD_FEATURE_TEMPLATES, wordFeatureRows, type WordFeatureConfig } from '../../src/tasks/text/word-features.js';
import { SparseMatrixBuilder, type SparseMatrix } from '../lib/train-sparse.js';
import type { BrownDocument, Tagset } from './data.js';

/**
 * Chosen on the inner validation documents (held-out never consulted), MLP-32 one epoch: 2^17 buckets (2^18 gained
 * 0.1–0.2 point of token accuracy for twice the bytes; the recipe's MODEL note has the figures); the sentence-position and neighbour-shape templates changed nothing measurable
 * but cost almost nothing, and are kept for free text (capitalisation after a quote, all-caps headlines). The
 * abbreviations (for splitting free text only) come from the training documents: `featureConfig`.
 */
export const FEATURES: WordFeatureConfig = {
  kind: 'word-features',
  version: 1,
  buckets: 1 << 17,
  hash: 'fnv1a32-utf8',
  features: [...WORD_FEATURE_TEMPLATES],
  affix_max: 4,
  window: 2,
  abbreviations: [],
  max_words: 512,
};

/** An abbreviation must occur this often with its period in the training documents. */
export const MIN_ABBREVIATION_COUNT = 3;

/**
 * Brown's abbreviations, for splitting free text as Brown did: words of two or more letters that training documents
 * spell with a period as one token ("Mr.", "etc.", "Calif.") at least MIN_ABBREVIATION_COUNT times, and more often
 * than they end a sentence before a separate "." ("in." is inches twice but "in ." ends many more sentences).
 */
export function abbreviationsOf(train: readonly BrownDocument[]): string[] {
  const withPeriod = new Map<string, number>();
  const beforeStop = new Map<string, number>();
  for (const d of train)
    for (const s of d.sentences)
      s.forEach((t, i) => {
        const m = /^(\p{L}{2,})\.$/u.exec(t.word);
        if (m?.[1] !== undefined) withPeriod.set(m[1], (withPeriod.get(m[1]) ?? 0) + 1);
        if (s[i + 1]?.word === '.') beforeStop.set(t.word, (beforeStop.get(t.word) ?? 0) + 1);
      });
  return [...withPeriod]
    .filter(([w, n]) => n >= MIN_ABBREVIATION_COUNT && n > (beforeStop.get(w) ?? 0))
    .map(([w]) => w)
    .sort();
}

/** The recipe's feature configuration: FEATURES with the training documents' abbreviations. */
export function featureConfig(train: readonly BrownDocument[]): WordFeatureConfig {
  return { ...FEATURES, abbreviations: abbreviationsOf(train) };
}

/** Every scored token of some documents as rows: features, label index, the word, and its document's genre. */
export interface TaggedRows {
  x: SparseMatrix;
  y: Int32Array;
  words: string[];
  genres: string[];
}

/**
 * Features of each sentence's words in context (untagged tokens are context for their neighbours but get no row:
 * they have no gold tag to learn or score).
 */
export function taggedRows(docs: readonly BrownDocument[], tagset: Tagset, config: WordFeatureConfig): TaggedRows {
  const b = new SparseMatrixBuilder();
  const y: number[] = [];
  const words: string[] = [];
  const genres: string[] = [];
  for (const d of docs)
    for (const sentence of d.sentences) {
      const rows = wordFeatureRows(
        sentence.map((t) => t.word),
        config,
      );
      sentence.forEach((t, i) => {
        const label = tagset.labelOf(t.tag);
        const row = rows[i];
        if (label < 0 || row === undefined) return;
        b.push(row);
        y.push(label);
        words.push(t.word);
        genres.push(d.genre);
      });
    }
  return { x: b.build(), y: Int32Array.from(y), words, genres };
}

/** Brown's open word classes; the baseline gives an unknown word the one most frequent in training. */
const OPEN_CLASSES = new Set(
  ['NN', 'NNS', 'NP', 'NPS', 'JJ', 'JJR', 'JJS', 'JJT', 'RB', 'RBR', 'RBT'].concat(['VB', 'VBD', 'VBG', 'VBN', 'VBZ']),
);

/**
 * The most-frequent-tag baseline: each word gets the label it had most often in training (exact spelling, else
 * lowercased; ties to the lower label index), an unknown word the most frequent open-class label.
 */
export function mostFrequentTag(train: TaggedRows, labels: readonly string[]): (word: string) => number {
  const counts = new Map<string, Map<number, number>>();
  const add = (key: string, y: number): void => {
    const m = counts.get(key) ?? new Map<number, number>();
    m.set(y, (m.get(y) ?? 0) + 1);
    counts.set(key, m);
  };
  const labelCounts = new Map<number, number>();
  train.words.forEach((w, i) => {
    const y = train.y[i] ?? 0;
    add(w, y);
    add(`\u0000${w.toLowerCase()}`, y);
    labelCounts.set(y, (labelCounts.get(y) ?? 0) + 1);
  });
  let open = 0;
  let openCount = -1;
  for (const [y, c] of labelCounts)
    if (OPEN_CLASSES.has(labels[y] ?? '') && (c > openCount || (c === openCount && y < open))) {
      open = y;
      openCount = c;
    }
  const best = (m: Map<number, number>): number => {
    let y = -1;
    let n = -1;
    for (const [k, c] of m) if (c > n || (c === n && k < y)) [y, n] = [k, c];
    return y;
  };
  const memo = new Map<string, number>();
  return (word) => {
    const hit = memo.get(word);
    if (hit !== undefined) return hit;
    const m = counts.get(word) ?? counts.get(`\u0000${word.toLowerCase()}`);
    const y = m === undefined ? open : best(m);
    memo.set(word, y);
    return y;
  };
}

export interface TaggingScores {
  accuracy: number;
  /** Accuracy on tokens whose spelling never occurs in the training documents. */
  unknown_word_accuracy: number;
  unknown_words: number;
  by_genre: Record<string, number>;
}

/** Token accuracy of `predicted` against rows' labels, overall, on unknown words and per genre. */
export function scoreTagging(
  rows: TaggedRows,
  predicted: ArrayLike<number>,
  known: (word: string) => boolean,
): TaggingScores {
  let correct = 0;
  let unknown = 0;
  let unknownCorrect = 0;
  const genre = new Map<string, { n: number; correct: number }>();
  rows.words.forEach((w, i) => {
    const ok = predicted[i] === rows.y[i];
    if (ok) correct++;
    if (!known(w)) {
      unknown++;
      if (ok) unknownCorrect++;
    }
    const g = genre.get(rows.genres[i] ?? '') ?? { n: 0, correct: 0 };
    g.n++;
    if (ok) g.correct++;
    genre.set(rows.genres[i] ?? '', g);
  });
  const n = rows.words.length;
  return {
    accuracy: n === 0 ? 0 : correct / n,
    unknown_word_accuracy: unknown === 0 ? 0 : unknownCorrect / unknown,
    unknown_words: unknown,
    by_genre: Object.fromEntries(
      [...genre].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.correct / v.n]),
    ),
  };
}
