/** @module Bench plumbing: percentiles, tables, result files, and the processes a bench needs (bench Worker, the app under wrangler dev). */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { freePort } from '../origin/spawn.js';
import { blockMeans } from './timing.js';

export const RESULTS_DIR = join(import.meta.dirname, 'results');

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? NaN;
}

export interface Summary {
  n: number;
  p50: number;
  p99: number;
}

export function summarize(times: readonly number[]): Summary {
  return { n: times.length, p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** One input of a `/run` on the bench Worker (numbers, also for int64). */
export interface WorkerdFeed {
  name: string;
  type: 'float32' | 'int64';
  dims: readonly number[];
  data: number[];
}

/**
 * `session.run` timed inside workerd by the bench Worker (the product's runtime module) on one model file and its
 * feeds, as block means; with the WASM heap after loading.
 */
export async function timeWorkerdRun(
  url: string,
  model: Uint8Array<ArrayBuffer>,
  feeds: readonly WorkerdFeed[],
  iterations: number,
  warmup: number,
): Promise<Summary & { heapBytes: number }> {
  const form = new FormData();
  form.set('model', new Blob([model]), 'model.onnx');
  form.set('spec', JSON.stringify({ feeds, iterations, warmup }));
  const res = await fetchRetry(`${url}/run`, { method: 'POST', body: form });
  if (!res.ok) throw new Error(`bench worker: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { times: number[]; heapBytes: number };
  return { ...summarize(body.times), heapBytes: body.heapBytes };
}

/** A model file with its one float32 input, as the zoo and face benchmarks time it. */
export interface FloatRun {
  file: string;
  input: string;
  dims: number[];
  data: Float32Array;
  iterations: number;
  warmup: number;
}

/** `session.run` on onnxruntime-node with one intra-op thread: the native side of every edge ÷ native ratio. */
export async function timeNodeRun(r: FloatRun): Promise<Summary> {
  const s = await ortNode.InferenceSession.create(r.file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  const feeds = { [r.input]: new ortNode.Tensor('float32', r.data, r.dims) };
  const out = await timeBlocks(() => s.run(feeds), r.iterations, r.warmup);
  await s.release();
  return out;
}

/** The same on onnxruntime-web's WASM backend in Node (one thread): the edge's runtime outside workerd. */
export async function timeWebRun(r: FloatRun): Promise<Summary> {
  ortWeb.env.wasm.numThreads = 1;
  const s = await ortWeb.InferenceSession.create(readFileSync(r.file), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const feeds = { [r.input]: new ortWeb.Tensor('float32', r.data, r.dims) };
  const out = await timeBlocks(() => s.run(feeds), r.iterations, r.warmup);
  await s.release();
  return out;
}

/** Times an async call in block means (see bench/timing.ts), as the bench Worker does inside workerd. */
export async function timeBlocks(
  call: () => Promise<unknown>,
  iterations: number,
  warmup: number,
): Promise<Summary & { block: number }> {
  const { times, block } = await blockMeans(call, iterations, warmup);
  return { ...summarize(times), block };
}

export const fmt = (v: number, digits = 3): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** Prints a table with aligned columns and returns its rows for the results file. */
export function table(
  title: string,
  header: string[],
  rows: (string | number)[][],
): { title: string; header: string[]; rows: string[][] } {
  const cells = rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`\n${title}`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of cells) console.log(line(r));
  return { title, header, rows: cells };
}

export function writeResults(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(RESULTS_DIR, `${name}-${stamp}.json`);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  writeFileSync(join(RESULTS_DIR, `${name}-latest.json`), `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/**
 * fetch with one retry: after a long pause (warm-ups elsewhere) the server may have closed the kept-alive socket,
 * and undici does not retry a POST on its own. Bench endpoints are idempotent, so retrying is safe.
 */
export async function fetchRetry(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}

export interface Started {
  url: string;
  stop(): Promise<void>;
}

/** Starts `wrangler dev` (local mode, loopback only) and waits until `readyPath` answers. */
export async function startWrangler(configPath: string, readyPath: string, extraArgs: string[] = []): Promise<Started> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      'node_modules/wrangler/bin/wrangler.js',
      'dev',
      '-c',
      configPath,
      '--port',
      String(port),
      '--ip',
      '127.0.0.1',
      '--show-interactive-dev-session=false',
      ...extraArgs,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
    },
  );
  let log = '';
  const keep = (d: Buffer): void => {
    log += d.toString();
    if (process.env['BENCH_DEBUG'] !== undefined) process.stderr.write(d);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${log.slice(-2000)}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`wrangler dev did not answer ${readyPath} within 120 s: ${log.slice(-2000)}`);
    }
    try {
      if ((await fetch(url + readyPath)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  child.on('exit', (code) => {
    if (code !== 0 && code !== null)
      console.error(`wrangler dev (${configPath}) exited with ${code}: ${log.slice(-2000)}`);
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) {
          resolve();
          return;
        }
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
