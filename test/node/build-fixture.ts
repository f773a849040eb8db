/** @module Test fixture: the built sentiment-en model (built on demand when build/ is missing or stale). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAll, BUILD_DIR } from '../../scripts/models.js';
import type { Manifest } from '../../src/lib/manifest.js';
import { TextFeatureConfigSchema, type TextFeatureConfig } from '../../src/tasks/text/text-features.js';

export interface SentimentBuild {
  dir: string;
  manifest: Manifest;
  features: TextFeatureConfig;
  heldout: { text: string; label: string; group: string }[];
  file: (name: string) => Uint8Array;
}

let pending: Promise<SentimentBuild> | undefined;

/** Runs the cached build once per test process (a no-op when the inputs hash matches) and loads its outputs. */
export function sentimentBuild(): Promise<SentimentBuild> {
  pending ??= buildAll({ only: ['sentiment-en'], log: () => undefined }).then(() => {
    const version = readFileSync(join(BUILD_DIR, 'sentiment-en', 'latest'), 'utf8').trim();
    const dir = join(BUILD_DIR, 'sentiment-en', version);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const heldout = JSON.parse(readFileSync(join(dir, 'heldout.json'), 'utf8')) as SentimentBuild['heldout'];
    const file = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));
    return { dir, manifest, features: TextFeatureConfigSchema.parse(manifest.preprocess), heldout, file };
  });
  return pending;
}
