/**
 * @module The whole stack as `npm start` runs it (scripts/start.ts: local R2 seed, dev key, wrangler dev and the
 * origin; the models built first, as `--build-first` does), on free loopback ports, with its own temporary miniflare
 * state and dev-vars file so a developer's running stack is never touched. Started once for the e2e project by
 * test/e2e/stack-setup.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../../origin/config.js';
import { freePort } from '../../origin/spawn.js';
import { DEV_KEY_VAR, readDevVars } from '../../scripts/dev-key.js';

export interface RunningStack {
  /** The Worker (wrangler dev), e.g. http://127.0.0.1:41234 */
  edge: string;
  /** The origin (KServe v2), behind its secret. */
  origin: string;
  /** The shared secret start.ts handed to the edge and the origin. */
  originSecret: string;
  /** The development API key start.ts created (admin, every model). */
  key: string;
  /** The development webhook secret start.ts printed beside the key. */
  webhookSecret: string;
  /** The dev-vars file start.ts wrote (holds the key as EDGE_INFER_KEY). */
  devVars: string;
  /** The stack's miniflare state directory (`wrangler dev --persist-to`; the platform proxy's path is `<it>/v3`). */
  stateDir: string;
  /** What the stack printed so far (last 20 kB), for failure messages. */
  log: () => string;
  stop: () => Promise<void>;
}

async function waitLive(url: string, child: ChildProcess, log: () => string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}\n${log()}`);
    const res = await fetch(url).catch(() => undefined);
    if (res?.ok === true) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not come up within ${timeoutMs} ms\n${log()}`);
}

export async function startStack(): Promise<RunningStack> {
  const [workerPort, originPort] = [await freePort(), await freePort()];
  const scratch = mkdtempSync(join(tmpdir(), 'edge-stack-'));
  const devVars = join(scratch, 'dev.vars');
  const originSecret = randomBytes(24).toString('base64url');
  const stateDir = join(scratch, 'state');
  let output = '';
  // Its own process group, so the stop reaches wrangler and workerd too.
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/start.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PORT: String(workerPort),
      ORIGIN_PORT: String(originPort),
      ORIGIN_SECRET: originSecret,
      EDGE_INFER_STATE_DIR: stateDir,
      EDGE_INFER_DEV_VARS: devVars,
      // Every model built before the servers start (stack-setup.ts built them already, so this only checks), never
      // in the background: the tests run against every model ready. The servers' logs stay in the scratch folder.
      EDGE_INFER_BUILD_FIRST: '1',
      EDGE_INFER_LOG_DIR: join(scratch, 'logs'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const keep = (c: Buffer): void => {
    output = (output + c.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const log = (): string => output;
  const edge = `http://127.0.0.1:${workerPort}`;
  const origin = `http://127.0.0.1:${originPort}`;
  const stop = async (): Promise<void> => {
    if (child.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(-child.pid, 'SIGTERM');
      const killer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      }, 5000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    await waitLive(`${origin}/v2/health/live`, child, log, 180_000);
    await waitLive(`${edge}/v2/health/live`, child, log, 180_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const key = readDevVars(devVars)[DEV_KEY_VAR];
  if (key === undefined) throw new Error(`start.ts wrote no ${DEV_KEY_VAR} to ${devVars}\n${log()}`);
  // The ready lines come once the Worker answers; the webhook secret is printed among them.
  const deadline = Date.now() + 60_000;
  let webhookSecret: string | undefined;
  while (webhookSecret === undefined && Date.now() < deadline) {
    webhookSecret = /development webhook secret[^:]*: (whsec_\S+)/.exec(output)?.[1];
    if (webhookSecret === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  if (webhookSecret === undefined) {
    await stop();
    throw new Error(`start.ts printed no development webhook secret\n${log()}`);
  }
  return { edge, origin, originSecret, key, webhookSecret, devVars, stateDir, log, stop };
}
