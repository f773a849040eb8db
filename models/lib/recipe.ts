/** @module The uniform interface every `models/<id>/recipe.ts` exports, and helpers for writing its build output. */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManifestSchema, type Manifest, type ManifestInput } from '../../src/lib/manifest.js';

export interface RecipeContext {
  /** `build/models/<id>/<version>/`, created and empty when build() starts. */
  outDir: string;
  /** Repository root (absolute). */
  repoRoot: string;
  log: (message: string) => void;
}

export interface Recipe {
  id: string;
  /** A constant of the recipe: bump it (by editing the recipe) when the model changes meaningfully. */
  version: string;
  /**
   * What the build reads besides its source code (relative imports are followed automatically): data files as
   * absolute paths, npm packages whose installed versions matter, and facts about the machine that change the
   * output (e.g. whether an evaluation tool is installed).
   */
  inputs: () => { files: string[]; packages: string[]; environment?: string[] };
  /** Writes the model files into ctx.outDir and returns the validated manifest (the CLI writes manifest.json). */
  build: (ctx: RecipeContext) => Promise<Manifest>;
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes a file into the output directory and returns its manifest `files` entry. */
export function writeArtifact(
  outDir: string,
  name: string,
  bytes: Uint8Array | string,
): { name: string; bytes: number; sha256: string } {
  mkdirSync(outDir, { recursive: true });
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  writeFileSync(join(outDir, name), data);
  return { name, bytes: data.byteLength, sha256: sha256Hex(data) };
}

/** Validates with the service's own schema, so a build can never publish a manifest the service would reject. */
export function validateManifest(input: ManifestInput): Manifest {
  const parsed = ManifestSchema.safeParse(input);
  if (!parsed.success) throw new Error(`invalid manifest: ${parsed.error.message}`);
  const m = parsed.data;
  if (!m.files.some((f) => f.name === m.model_file)) throw new Error(`model_file ${m.model_file} is not in files`);
  return m;
}
