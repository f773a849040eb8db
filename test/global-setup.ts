/**
 * @module Runs once in Node before every project: makes sure the models are built, then hands their bytes
 * and onnxruntime-node reference outputs to the workerd tests (which cannot read files or import .onnx).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { readBuiltModels } from '../scripts/model-store.js';
import { synthesiseAudio } from './support/audio.js';
import { computeByo } from './support/byo.js';
import { faceFixtures } from './support/faces.js';
import { computeHfGeneration, publishHfGeneration } from './support/hf-generation.js';
import { computeHfText } from './support/hf-text.js';
import { posSentences } from './support/pos.js';
import { computeHfVision } from './support/hf-vision.js';
import { computeNlpReferences } from './support/nlp.js';
import './support/provided.js';
import { computeReferences } from './support/references.js';
import { visionFixtures } from './support/vision.js';

export default async function setup(project: TestProject): Promise<void> {
  // The build is cached on its inputs' hash, so this is a no-op when nothing changed.
  execFileSync(
    process.execPath,
    [join('node_modules', 'tsx', 'dist', 'cli.mjs'), join('scripts', 'models.ts'), 'build'],
    { stdio: 'inherit' },
  );
  project.provide('models', readBuiltModels());
  project.provide('references', await computeReferences());
  project.provide('vision', visionFixtures());
  project.provide('audio', synthesiseAudio());
  project.provide('byo', await computeByo());
  project.provide('hfText', await computeHfText());
  const generationRoot = mkdtempSync(join(tmpdir(), 'hf-generation-published-'));
  try {
    project.provide('hfGeneration', {
      references: await computeHfGeneration(),
      models: await publishHfGeneration(generationRoot),
    });
  } finally {
    rmSync(generationRoot, { recursive: true, force: true });
  }
  project.provide('posSentences', posSentences());
  project.provide('hfVision', await computeHfVision());
  project.provide('faces', await faceFixtures());
  project.provide('nlp', await computeNlpReferences());
}
