/**
 * @module Starts the origin as a real child process on loopback (free port), for tests, the benchmark and the
 * e2e checks: waits for its `origin listening` line and stops it on demand (SIGTERM, then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './config.js';

/** A port free on loopback right now (the OS picks it; the probe socket is closed before returning). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface SpawnedOrigin {
  url: string;
  port: number;
  secret: string;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr), for failing tests' messages. */
  output: () => string;
  stop: () => Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Reuse a port (to restart an origin where clients expect it). 0 picks a free one. */
  port?: number;
  secret?: string;
  timeoutMs?: number;
}

export async function spawnOrigin(options: SpawnOptions = {}): Promise<SpawnedOrigin> {
  const secret = options.secret ?? randomBytes(16).toString('hex');
  const child = spawn(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(REPO_ROOT, 'origin', 'server.ts')],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(options.port ?? 0),
        ORIGIN_SECRET: secret,
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`origin did not start within ${options.timeoutMs ?? 30_000} ms:\n${log}`));
    }, options.timeoutMs ?? 30_000);
    const onData = (chunk: Buffer): void => {
      // Keep reading (a full pipe would block the child) but keep only the tail.
      log = (log + chunk.toString()).slice(-65_536);
      const m = /"msg":"origin listening"[^\n]*"port":(\d+)/.exec(log);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-65_536);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`origin exited with ${code ?? 'a signal'} before listening:\n${log}`));
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    secret,
    child,
    output: () => log,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Waits until the origin has preloaded its models (`/v2/health/ready` answers 200). */
export async function waitReady(origin: Pick<SpawnedOrigin, 'url' | 'secret'>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(`${origin.url}/v2/health/ready`, {
      headers: { authorization: `Bearer ${origin.secret}` },
    }).catch(() => undefined);
    if (res?.ok === true) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('origin never became ready');
}
