/** @module Node-side access to built models under build/models: what tests and `npm start` seed into R2. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredModel } from '../test/support/provided.js';

export const BUILD_DIR = join(import.meta.dirname, '..', 'build', 'models');

export type { StoredModel };

/** Where a built model is and its manifest's text, without its files (what seeding one model needs). */
export type BuiltModel = Omit<StoredModel, 'files'>;

/** A model's latest build, or undefined when it has none (never built, or being built for the first time). */
export function builtModel(id: string): BuiltModel | undefined {
  const latest = join(BUILD_DIR, id, 'latest');
  if (!existsSync(latest)) return undefined;
  const version = readFileSync(latest, 'utf8').trim();
  const dir = join(BUILD_DIR, id, version);
  // A rebuild of the same version empties its directory first: no manifest there means no build to use yet.
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) return undefined;
  return { id, version, dir, manifestText: readFileSync(manifestFile, 'utf8') };
}

/** Ids of every model with a build, sorted. */
export function builtModelIds(): string[] {
  if (!existsSync(BUILD_DIR)) return [];
  return readdirSync(BUILD_DIR)
    .sort()
    .filter((id) => builtModel(id) !== undefined);
}

/** Every built model's latest version, read from disk. */
export function readBuiltModels(): StoredModel[] {
  const out: StoredModel[] = [];
  for (const id of builtModelIds()) {
    const model = builtModel(id);
    if (model === undefined) continue;
    const manifest = JSON.parse(model.manifestText) as { files: { name: string }[] };
    const files: Record<string, string> = {};
    for (const f of manifest.files) files[f.name] = readFileSync(join(model.dir, f.name)).toString('base64');
    out.push({ ...model, files });
  }
  return out;
}
