/**
 * @module The `edge-infer` CLI end to end: `node bin/edge-infer.mjs …` as a child process against the `npm start`
 * stack, each answer checked against a direct `fetch` of the same request (predictions, the catalogue, the key
 * lifecycle and its scopes, errors and their exit codes), plus `models quantize` and `models publish --out` on a
 * small model built here and loaded back in onnxruntime-node.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encode, graph, model, node, tensor, valueInfo } from '../../models/lib/onnx-builder.js';
import { REPO_ROOT } from '../../origin/config.js';
import { freePort } from '../../origin/spawn.js';
import { visionFixtures } from '../support/vision.js';

const { edge, key, devVars } = inject('stack');
const BIN = join(REPO_ROOT, 'bin', 'edge-infer.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'edge-cli-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The caller's environment without anything that would pick a key or a URL behind the test's back. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('EDGE_INFER_')));
  return { ...env, ...extra };
}

/** Runs the CLI as a user does (a fresh Node process through the bin), never rejecting: the exit code is the result. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd: REPO_ROOT, env: cleanEnv(env), timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The CLI against the stack with a key (the admin dev key by default). */
const api = (args: string[], withKey = key): Promise<Run> => cli(['--base-url', edge, '--key', withKey, ...args]);

/** The independent check: the same request straight to the API. */
function direct(path: string, withKey: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${edge}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${withKey}`, ...(init.headers as Record<string, string> | undefined) },
  });
}

const predictJson = (modelId: string, inputs: unknown, withKey = key): Promise<Response> =>
  direct(`/v1/models/${modelId}/predict`, withKey, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs }),
  });

const errorMessage = async (res: Response): Promise<string> =>
  ((await res.json()) as { error: { message: string } }).error.message;

/** One held-out MNIST digit as a PNG file. */
let digit: { label: string; file: string; bytes: Uint8Array<ArrayBuffer> };

beforeAll(() => {
  const d = visionFixtures(10).digits[0];
  if (d === undefined) throw new Error('no digit fixture');
  const bytes = new Uint8Array(Buffer.from(d.png, 'base64'));
  const file = join(scratch, 'digit.png');
  writeFileSync(file, bytes);
  digit = { label: d.label, file, bytes };
});

describe('edge-infer predict', () => {
  it('--json prints exactly what the API answers; human mode shows the labels best first, headers on stderr', async () => {
    const run = await api(['predict', 'sentiment-en', 'I love it', '--json']);
    expect(run.stderr).toMatch(/X-Model: sentiment-en@/);
    expect(run.code).toBe(0);
    const res = await predictJson('sentiment-en', 'I love it');
    expect(res.status).toBe(200);
    expect(JSON.parse(run.stdout)).toEqual(await res.json());

    const human = await api(['predict', 'sentiment-en', 'I love it', '--no-cache']);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toMatch(/^positive\s+0\.\d{4}\s+█/);
    expect(human.stdout).toMatch(/^negative\s/m);
    expect(human.stderr).toMatch(/X-Placement: edge .*X-Cache: BYPASS/);
  });

  it('sends a PNG as the raw body: the top label is the held-out digit', async () => {
    const run = await api(['predict', 'digits-mnist', '--file', digit.file, '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { label: string; score: number }[];
    const res = await direct('/v1/models/digits-mnist/predict', key, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: digit.bytes,
    });
    expect(out).toEqual(await res.json());
    expect(out[0]?.label).toBe(digit.label);

    const human = await api(['predict', 'digits-mnist', '--file', digit.file, '--param', 'top_k=2']);
    expect(human.code).toBe(0);
    expect(human.stdout.trim().split('\n')).toHaveLength(2);
    expect(human.stdout.split('\n')[0]?.split(/\s+/)[0]).toBe(digit.label);
  });
});

describe('edge-infer models', () => {
  it('list --json equals GET /v1/models; the table lists sentiment-en', async () => {
    const run = await api(['models', 'list', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(await (await direct('/v1/models', key)).json());

    const human = await api(['models', 'list']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+VERSION\s+TASK\s+QUANTIZATION\s+ACCURACY$/m);
    expect(human.stdout).toMatch(/^sentiment-en\s+\S+\s+text-classification\s/m);
  });

  it('show prints the card; --json equals GET /v1/models/{model}', async () => {
    const card = (await (await direct('/v1/models/sentiment-en', key)).json()) as { version: string };
    const run = await api(['models', 'show', 'sentiment-en', '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(card);
    const human = await api(['models', 'show', 'sentiment-en']);
    expect(human.stdout).toContain(`model:`);
    expect(human.stdout).toMatch(new RegExp(`^model:\\s+sentiment-en@${card.version.replace(/\./g, '\\.')}$`, 'm'));
  });

  it('finds the dev key in the dev-vars file for a loopback URL when no key is given', async () => {
    const run = await cli(['--base-url', edge, 'models', 'list', '--json'], { EDGE_INFER_DEV_VARS: devVars });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ object: 'list' });
  });
});

describe('edge-infer keys', () => {
  it('creates a scoped key (secret shown once), lists it without the secret, and revokes it', async () => {
    const created = await api(['keys', 'create', '--name', 'cli-test', '--models', 'sentiment-*', '--json']);
    expect(created.code).toBe(0);
    const record = JSON.parse(created.stdout) as { id: string; key: string; scopes: { models: string[] } };
    expect(record.key).toMatch(/^ei_live_/);
    expect(record.scopes.models).toEqual(['sentiment-*']);
    expect(created.stdout.split(record.key)).toHaveLength(2);
    expect(created.stderr).toMatch(/not be shown again|cannot be shown again/);

    const listed = await api(['keys', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.stdout) as { data: { id: string }[] }).data.map((k) => k.id)).toContain(record.id);
    expect(listed.stdout).not.toContain(record.key);
    const table = await api(['keys', 'list']);
    expect(table.stdout).toMatch(new RegExp(`^${record.id}\\s+cli-test\\s`, 'm'));
    expect(table.stdout).not.toContain(record.key);

    // In scope: works. Out of scope: the API's 403, exit 1.
    const ok = await api(['predict', 'sentiment-en', 'great phone', '--json'], record.key);
    expect(ok.code).toBe(0);
    const forbidden = await api(['predict', 'digits-mnist', '--file', digit.file], record.key);
    expect(forbidden.code).toBe(1);
    expect(forbidden.stdout).toBe('');
    const refused = await direct('/v1/models/digits-mnist/predict', record.key, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: digit.bytes,
    });
    expect(refused.status).toBe(403);
    expect(forbidden.stderr.trim()).toBe(`error: ${await errorMessage(refused)} (forbidden, HTTP 403)`);

    const revoked = await api(['keys', 'revoke', record.id]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^revoked ${record.id} \\(cli-test\\)`));
    // wrangler dev runs one isolate, the one that served the revoke: refused at once.
    const after = await api(['predict', 'sentiment-en', 'great phone'], record.key);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/\(unauthorized, HTTP 401\)/);
  });
});

describe('edge-infer errors', () => {
  it('an unknown model: the API message, model_not_found, exit 1', async () => {
    const run = await api(['predict', 'no-such-model', 'hello']);
    expect(run.code).toBe(1);
    const res = await predictJson('no-such-model', 'hello');
    expect(res.status).toBe(404);
    expect(run.stderr.trim()).toBe(`error: ${await errorMessage(res)} (model_not_found, HTTP 404)`);
  });

  it('a bad key: the 401 message, exit 1', async () => {
    const bad = `ei_live_${'x'.repeat(32)}`;
    const run = await api(['models', 'list'], bad);
    expect(run.code).toBe(1);
    const res = await direct('/v1/models', bad);
    expect(res.status).toBe(401);
    expect(run.stderr.trim()).toBe(`error: ${await errorMessage(res)} (unauthorized, HTTP 401)`);
  });

  it('no server: "cannot reach", exit 1, no stack trace', async () => {
    const blocked = await cli(['--base-url', 'http://127.0.0.1:1', '--key', key, 'models', 'list']);
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:1\b/);
    const port = await freePort();
    const refused = await cli(['--base-url', `http://127.0.0.1:${port}`, 'predict', 'sentiment-en', 'hi']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`error: cannot reach http://127.0.0.1:${port}: is \`npm start\` running?`);
  });

  it('usage errors: commander’s message, exit 2', async () => {
    const command = await cli(['frobnicate']);
    expect(command.code).toBe(2);
    expect(command.stderr).toMatch(/unknown command 'frobnicate'/);
    const option = await cli(['predict', 'sentiment-en', 'hi', '--bogus']);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/unknown option '--bogus'/);
    expect(option.stdout).toBe('');
  });
});

describe('edge-infer models quantize and publish', () => {
  const fp32File = join(scratch, 'tiny.fp32.onnx');
  let seed = 11;
  const f = (n: number, scale: number): Float32Array =>
    Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * scale);
  // 64 → 32 → 40: two weights over the quantizer's 1,024-element threshold.
  const w1 = f(64 * 32, 0.2);
  const w2 = f(32 * 40, 0.2);
  beforeAll(() => {
    writeFileSync(
      fp32File,
      encode(
        model({
          graph: graph({
            name: 'tiny',
            nodes: [
              node('MatMul', ['x', 'W1'], ['h0']),
              node('Relu', ['h0'], ['h']),
              node('Gemm', ['h', 'W2'], ['logits']),
              node('Softmax', ['logits'], ['probabilities']),
            ],
            inputs: [valueInfo('x', 'float32', ['batch', 64])],
            outputs: [valueInfo('probabilities', 'float32', ['batch', 40])],
            initializers: [tensor('W1', w1, [64, 32]), tensor('W2', w2, [32, 40])],
          }),
        }),
      ),
    );
  });

  it('quantize writes a smaller int8 model that onnxruntime-node loads and runs', async () => {
    const out = join(scratch, 'tiny.int8.onnx');
    const run = await cli(['models', 'quantize', fp32File, out, '--method', 'dynamic']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/quantized MatMul/);
    expect(statSync(out).size).toBeLessThan(statSync(fp32File).size);
    const session = await ort.InferenceSession.create(readFileSync(out), { intraOpNumThreads: 1 });
    // An input spread over ±20, so the 40 probabilities differ enough for a wrong model to show.
    const x = f(64, 40);
    const result = await session.run({ x: new ort.Tensor('float32', x, [1, 64]) });
    await session.release();
    const p = result['probabilities']?.data as Float32Array;
    expect(p).toHaveLength(40);
    // The reference: the float model's arithmetic written out here, softmax(relu(x·W1)·W2), in float64.
    const h = Array.from({ length: 32 }, (_, j) =>
      Math.max(
        0,
        Array.from(x).reduce((acc, xi, i) => acc + xi * (w1[i * 32 + j] ?? NaN), 0),
      ),
    );
    const logits = Array.from({ length: 40 }, (_, k) =>
      h.reduce((acc, hj, j) => acc + hj * (w2[j * 40 + k] ?? NaN), 0),
    );
    const top = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - top));
    const ref = e.map((v) => v / e.reduce((a, b) => a + b, 0));
    const spread = Math.max(...ref) - Math.min(...ref);
    expect(spread).toBeGreaterThan(0.05);
    // int8 weights and activations move each probability by a small share of that spread, and keep the top class.
    expect(Math.max(...Array.from(p, (v, k) => Math.abs(v - (ref[k] ?? NaN))))).toBeLessThan(0.1 * spread);
    expect(p.indexOf(Math.max(...p))).toBe(ref.indexOf(Math.max(...ref)));

    const wrong = await cli(['models', 'quantize', fp32File, out, '--method', 'fp8']);
    expect(wrong.code).toBe(2);
  });

  it('publish --out validates the model in onnxruntime-web and writes the layout (no upload)', async () => {
    const outDir = join(scratch, 'published');
    const run = await cli([
      'models',
      'publish',
      fp32File,
      '--id',
      'cli-tiny',
      '--task',
      'tabular-classification',
      '--version',
      '1.0.0',
      '--out',
      outDir,
    ]);
    expect(run.stderr).toMatch(/validated cli-tiny@1\.0\.0 \(tabular-classification\)/);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('prepared cli-tiny@1.0.0 (not uploaded)');
    expect(existsSync(join(outDir, 'cli-tiny', '1.0.0', 'model.onnx'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(outDir, 'cli-tiny', '1.0.0', 'manifest.json'), 'utf8')) as {
      inputs: { name: string }[];
    };
    expect(manifest.inputs.map((i) => i.name)).toEqual(['x']);

    const bad = await cli(['models', 'publish', fp32File, '--id', 'Bad_Id', '--task', 'tabular-classification']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: --id Bad_Id: lowercase letters, digits and dashes$/m);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });
});
