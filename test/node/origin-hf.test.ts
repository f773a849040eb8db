/**
 * @module Hugging Face text folders on the origin: the same task code behind the origin's predict route, with
 * onnxruntime-node underneath. Tiny NER and NLI folders published by the CLI's code into a model store of their own,
 * a real origin process on loopback serving it, answers compared with transformers.js run offline on the same folders.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_FOLDERS } from '../../models/hf-tiny/index.js';
import { spawnOrigin, waitReady, type SpawnedOrigin } from '../../origin/spawn.js';
import { preparePublish, writeOut } from '../../scripts/publish.js';
import { NER_TEXTS, ZERO_SHOT } from '../support/hf-text-inputs.js';

const root = mkdtempSync(join(tmpdir(), 'origin-hf-'));
const store = join(root, 'store');
let origin: SpawnedOrigin;
type Pipe = (...args: unknown[]) => Promise<unknown>;
const pipes: Record<string, Pipe> = {};

beforeAll(async () => {
  const t = await import('@huggingface/transformers');
  t.env.allowRemoteModels = false;
  t.env.localModelPath = `${join(root, 'src')}/`;
  for (const task of ['token-classification', 'zero-shot-classification']) {
    const write = TINY_FOLDERS[task];
    if (write === undefined) throw new Error(`no tiny ${task} folder`);
    const dir = write(join(root, 'src', task));
    writeOut(await preparePublish(dir, { id: `tiny-${task}`, version: '1', log: () => undefined }), store);
    // transformers.js loads the graph from onnx/ of the same folder.
    mkdirSync(join(dir, 'onnx'), { recursive: true });
    copyFileSync(join(dir, 'model.onnx'), join(dir, 'onnx', 'model.onnx'));
    pipes[task] = (await t.pipeline(task as 'token-classification', task, { dtype: 'fp32' })) as unknown as Pipe;
  }
  origin = await spawnOrigin({ env: { MODEL_STORE: store } });
  await waitReady(origin);
}, 120_000);

afterAll(async () => {
  await origin.stop();
  rmSync(root, { recursive: true, force: true });
});

async function predict<T>(id: string, body: unknown): Promise<T> {
  const res = await fetch(`${origin.url}/v1/models/${id}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${origin.secret}` },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

describe('the origin serves Hugging Face folders through the shared task code', () => {
  it('token-classification equals transformers.js per token', async () => {
    const out = await predict<{ entity: string; score: number; index: number; word: string }[]>(
      'tiny-token-classification',
      { inputs: NER_TEXTS[0], parameters: { ignore_labels: [] } },
    );
    const expected = (await pipes['token-classification']?.(NER_TEXTS[0], { ignore_labels: [] })) as typeof out;
    expect(expected.length).toBeGreaterThan(5);
    expect(out.map((t) => [t.entity, t.index, t.word])).toEqual(expected.map((e) => [e.entity, e.index, e.word]));
    out.forEach((t, i) => expect(Math.abs(t.score - (expected[i]?.score ?? NaN))).toBeLessThan(1e-4));
  });

  it('zero-shot-classification equals transformers.js', async () => {
    const out = await predict<{ labels: string[]; scores: number[] }>('tiny-zero-shot-classification', {
      inputs: ZERO_SHOT.text,
      parameters: { candidate_labels: ZERO_SHOT.labels },
    });
    const expected = (await pipes['zero-shot-classification']?.(ZERO_SHOT.text, ZERO_SHOT.labels)) as typeof out;
    expect(out.labels).toEqual(expected.labels);
    out.scores.forEach((s, i) => expect(Math.abs(s - (expected.scores[i] ?? NaN))).toBeLessThan(1e-4));
  });
});
