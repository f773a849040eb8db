/** @module Tests of the built sentiment-en model: accuracy recomputed in onnxruntime-node, manifest integrity, byte-identical rebuilds. */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFeeds } from '../../models/lib/ort-eval.js';
import { sparseFeeds } from '../../models/sentiment-en/recipe.js';
import { buildRecipe, REPO_ROOT } from '../../scripts/models.js';
import { ManifestSchema } from '../../src/lib/manifest.js';
import { sentimentBuild, type SentimentBuild } from './build-fixture.js';

let built: SentimentBuild;
beforeAll(async () => {
  built = await sentimentBuild();
}, 180_000);

async function heldoutAccuracy(file: string): Promise<number> {
  const labels = built.manifest.labels ?? [];
  const texts = built.heldout.map((e) => e.text);
  const probs = await runFeeds(built.file(file), sparseFeeds(texts), 'probabilities');
  let correct = 0;
  built.heldout.forEach((e, i) => {
    const p0 = probs[i * 2] ?? 0;
    const p1 = probs[i * 2 + 1] ?? 0;
    if (labels[p1 > p0 ? 1 : 0] === e.label) correct++;
  });
  return correct / built.heldout.length;
}

describe('sentiment-en build', () => {
  it('writes a manifest the service accepts, with files that match their sha256', () => {
    const m = ManifestSchema.parse(built.manifest);
    expect(m.id).toBe('sentiment-en');
    expect(m.labels).toEqual(['negative', 'positive']);
    expect(m.inputs).toEqual([
      { name: 'indices', dtype: 'int64', shape: ['batch', 'features'] },
      { name: 'values', dtype: 'float32', shape: ['batch', 'features'] },
    ]);
    expect(m.batching?.pad_inputs).toEqual(['indices', 'values']);
    expect(m.outputs.map((o) => o.name)).toEqual(['logits', 'probabilities']);
    for (const f of m.files) {
      const bytes = built.file(f.name);
      expect(bytes.byteLength).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
    }
    expect(m.files.map((f) => f.name)).toContain(m.model_file);
    expect(readFileSync(join(built.dir, '..', 'latest'), 'utf8').trim()).toBe(m.version);
  });

  it('keeps a held-out set of 600 sentences, balanced by label', () => {
    expect(built.heldout).toHaveLength(600);
    expect(built.heldout.filter((e) => e.label === 'positive')).toHaveLength(300);
  });

  it('reaches ≥ 0.82 held-out accuracy in fp32; every int8 variant is within 1 point; the served file is int8 or says why not', async () => {
    const fp32 = await heldoutAccuracy('model.fp32.onnx');
    expect(fp32).toBeGreaterThanOrEqual(0.82);
    // Every int8 variant the build kept (a method that made the same graph as another is dropped as a duplicate).
    const int8 = readdirSync(built.dir).filter((f) => /^model\.int8-.*\.onnx$/.test(f));
    expect(int8.length).toBeGreaterThan(0);
    for (const file of int8) expect(await heldoutAccuracy(file)).toBeGreaterThanOrEqual(fp32 - 0.01);
    const served = await heldoutAccuracy(built.manifest.model_file);
    expect(served).toBeCloseTo(Number(built.manifest.metrics.accuracy), 3);
    if (built.manifest.quantization.type === 'fp32') expect(built.manifest.quantization.reason).toBeTruthy();
  });
});

describe('sentiment-en determinism', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sentiment-en-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('a second build gives byte-identical .onnx files', async () => {
    const again = await buildRecipe(join(REPO_ROOT, 'models', 'sentiment-en', 'recipe.ts'), {
      outRoot: tmp,
      force: true,
      log: () => undefined,
    });
    const files = readdirSync(built.dir).filter((f) => f.endsWith('.onnx'));
    expect(files).toContain('model.fp32.onnx');
    for (const name of files) {
      expect(new Uint8Array(readFileSync(join(again.dir, name)))).toEqual(built.file(name));
    }
    expect(readFileSync(join(again.dir, 'heldout.json'), 'utf8')).toBe(
      readFileSync(join(built.dir, 'heldout.json'), 'utf8'),
    );
  }, 180_000);
});
