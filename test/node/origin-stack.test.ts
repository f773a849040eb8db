/**
 * @module The whole stack as `npm start` runs it (scripts/start.ts: model build, local R2 seed, wrangler dev and the
 * origin, on free loopback ports), exercised over real HTTP: small batches stay on the edge, big ones reach the
 * origin with the shared secret that start.ts handed to both. Bounded: one start, a few requests, then a stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../origin/config.js';
import { freePort } from '../../origin/spawn.js';

async function waitLive(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}`);
    const res = await fetch(url).catch(() => undefined);
    if (res?.ok === true) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms`);
}

let stack: ChildProcess;
let log = '';
let edge = '';
let origin = '';

beforeAll(async () => {
  const [workerPort, originPort] = [await freePort(), await freePort()];
  edge = `http://127.0.0.1:${workerPort}`;
  origin = `http://127.0.0.1:${originPort}`;
  // Its own process group, so the stop reaches wrangler and workerd too.
  stack = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/start.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: String(workerPort), ORIGIN_PORT: String(originPort), ORIGIN_SECRET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const keep = (c: Buffer): void => {
    log = (log + c.toString()).slice(-20_000);
  };
  stack.stdout?.on('data', keep);
  stack.stderr?.on('data', keep);
  try {
    await waitLive(`${origin}/v2/health/live`, stack, 120_000);
    await waitLive(`${edge}/v2/health/live`, stack, 120_000);
  } catch (err) {
    throw new Error(`${String(err)}\n${log}`, { cause: err });
  }
}, 240_000);

afterAll(async () => {
  if (stack.pid !== undefined && stack.exitCode === null) {
    const exited = new Promise((r) => stack.once('exit', r));
    process.kill(-stack.pid, 'SIGTERM');
    const killer = setTimeout(() => {
      if (stack.pid !== undefined) process.kill(-stack.pid, 'SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(killer);
  }
});

const predict = (inputs: string[]): Promise<Response> =>
  fetch(`${edge}/v1/models/sentiment-en/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ inputs }),
  });

describe('npm start: edge on wrangler dev + origin', () => {
  it('serves a small batch on the edge and a batch over the edge max_batch on the origin', async () => {
    const small = await predict(['I love it', 'I hate it']);
    expect(small.status).toBe(200);
    expect(small.headers.get('X-Placement')).toBe('edge');
    const big = await predict(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? `wonderful, I love it ${i}` : `awful, I hate it ${i}`)),
    );
    expect(big.status).toBe(200);
    expect(`${big.headers.get('X-Placement') ?? ''}: ${big.headers.get('X-Placement-Reason') ?? ''}`).toBe(
      'origin: over the edge limits (batch 24 > max_batch 16)',
    );
    const out = (await big.json()) as { label: string }[][];
    expect(out.map((o) => o[0]?.label)).toEqual(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 'positive' : 'negative')),
    );
  });

  it('keeps the origin closed to callers without the secret', async () => {
    expect((await fetch(`${origin}/v2/models/sentiment-en`)).status).toBe(401);
  });
});
