/** @module Node-side access to built models under build/models: what tests seed into R2 and compare against. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredModel } from '../test/support/provided.js';

export const BUILD_DIR = join(import.meta.dirname, '..', 'build', 'models');

export type { StoredModel };

/** Every built model's latest version, read from disk. */
export function readBuiltModels(): StoredModel[] {
  if (!existsSync(BUILD_DIR)) return [];
  const out: StoredModel[] = [];
  for (const id of readdirSync(BUILD_DIR).sort()) {
    const latest = join(BUILD_DIR, id, 'latest');
    if (!existsSync(latest)) continue;
    const version = readFileSync(latest, 'utf8').trim();
    const dir = join(BUILD_DIR, id, version);
    const manifestText = readFileSync(join(dir, 'manifest.json'), 'utf8');
    const manifest = JSON.parse(manifestText) as { files: { name: string }[] };
    const files: Record<string, string> = {};
    for (const f of manifest.files) files[f.name] = readFileSync(join(dir, f.name)).toString('base64');
    out.push({ id, version, dir, manifestText, files });
  }
  return out;
}
