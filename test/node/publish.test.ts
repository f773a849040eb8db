/**
 * @module The publish CLI end to end in Node: tiny-bert generated here, `models publish` run as a user runs it against
 * a temporary local R2 state, the objects read back through wrangler's platform proxy; and its refusals.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { getPlatformProxy } from 'wrangler';
import { writeTinyBert } from '../../models/hf-tiny/bert.js';
import { ManifestSchema, r2Keys } from '../../src/lib/manifest.js';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'publish-test-'));
const persist = join(root, 'state');
const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

afterAll(() => rmSync(root, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(
    process.execPath,
    [join('node_modules', 'tsx', 'dist', 'cli.mjs'), join('scripts', 'models.ts'), 'publish', ...args],
    { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } },
  );
}

interface ReadBucket {
  get(key: string): Promise<{ text(): Promise<string>; arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

describe('models publish', () => {
  it('validates, writes the manifest and uploads files, manifest and latest to the local R2', async () => {
    const src = writeTinyBert(join(root, 'export'));
    const { stdout, stderr } = await cli([
      src,
      '--id',
      'my-embedder',
      '--task',
      'feature-extraction',
      '--version',
      '2.0.0',
      '--persist',
      persist,
    ]);
    expect(stderr).toMatch(/validated my-embedder@2\.0\.0 \(feature-extraction\)/);
    expect(stdout).toMatch(/published my-embedder@2\.0\.0 to the local R2; latest → 2\.0\.0/);

    const proxy = await getPlatformProxy<{ MODELS: ReadBucket }>({ persist: { path: persist } });
    try {
      const bucket = proxy.env.MODELS;
      expect(await (await bucket.get(r2Keys.latest('my-embedder')))?.text()).toBe('2.0.0');
      const manifest = ManifestSchema.parse(
        JSON.parse((await (await bucket.get(r2Keys.manifest('my-embedder', '2.0.0')))?.text()) ?? 'null'),
      );
      expect(manifest).toMatchObject({
        task: 'feature-extraction',
        model_file: 'model.onnx',
        source: { kind: 'published' },
        quantization: { type: 'fp32' },
      });
      expect(manifest.inputs.map((i) => [i.name, i.dtype, i.shape])).toEqual([
        ['input_ids', 'int64', ['batch', 'sequence']],
        ['attention_mask', 'int64', ['batch', 'sequence']],
        ['token_type_ids', 'int64', ['batch', 'sequence']],
      ]);
      expect(manifest.outputs).toEqual([
        { name: 'last_hidden_state', dtype: 'float32', shape: ['batch', 'sequence', 32] },
      ]);
      expect(manifest.preprocess).toMatchObject({ tokenizer_file: 'tokenizer.json', pad_token_id: 0, max_length: 512 });
      for (const name of ['model.onnx', 'tokenizer.json']) {
        const local = readFileSync(join(src, name));
        const entry = manifest.files.find((f) => f.name === name);
        expect(entry).toEqual({ name, bytes: local.byteLength, sha256: sha256(local) });
        const stored = new Uint8Array(
          (await (await bucket.get(r2Keys.file('my-embedder', '2.0.0', name)))?.arrayBuffer()) ?? new ArrayBuffer(0),
        );
        expect(sha256(stored)).toBe(entry?.sha256);
      }
    } finally {
      await proxy.dispose();
    }
  });

  it('refuses a file onnxruntime-web cannot load, a feature-extraction model without a tokenizer, and bad ids', async () => {
    const junk = join(root, 'junk.onnx');
    writeFileSync(junk, 'not a model');
    await expect(
      cli([junk, '--id', 'junk', '--task', 'tabular-classification', '--out', join(root, 'out')]),
    ).rejects.toThrow(/onnxruntime-web cannot load/);
    const lonely = join(root, 'lonely');
    writeTinyBert(lonely);
    rmSync(join(lonely, 'tokenizer.json'));
    await expect(
      cli([lonely, '--id', 'lonely', '--task', 'feature-extraction', '--out', join(root, 'out')]),
    ).rejects.toThrow(/needs tokenizer\.json/);
    await expect(
      cli([join(root, 'export'), '--id', 'Bad_Id', '--task', 'feature-extraction', '--out', join(root, 'out')]),
    ).rejects.toThrow(/--id Bad_Id/);
  });
});
