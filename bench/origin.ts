/**
 * @module The origin benchmark (issue 4): throughput at concurrency 32 with dynamic batching vs without (same
 * origin, ORIGIN_BATCHING=off), origin p50 vs edge p50 for the same request (through the Worker under wrangler dev,
 * and the origin direct), and how fast a request fails or falls back while the breaker is open.
 * Loopback only, bounded in time. `npx tsx bench/origin.ts` runs it alone; bench/run.ts can import `benchOrigin`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR } from '../scripts/model-store.js';
import { localKey } from '../scripts/dev-key.js';
import { seedLocal } from '../scripts/seed.js';
import { spawnOrigin, waitReady, type SpawnedOrigin } from '../origin/spawn.js';
import { OriginClient } from '../src/routing/origin-client.js';
import { percentile, startWrangler, summarize, table, writeResults, type Summary } from './harness.js';

const CONCURRENCY = 32;
const SECONDS = Number(process.env['BENCH_ORIGIN_SECONDS'] ?? 4);
const SEQUENTIAL = Number(process.env['BENCH_ORIGIN_SEQUENTIAL'] ?? 200);

interface Workload {
  name: string;
  path: string;
  body: (i: number) => string;
}

interface Throughput {
  workload: string;
  batching: boolean;
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  runs: number;
  rowsPerRun: number;
}

export interface OriginBenchResult {
  throughput: Throughput[];
  speedup: Record<string, number>;
  latency: Record<string, Summary>;
  breaker: { clientOpen: Summary; edgeFallback: Summary | undefined };
}

const headers = (o: SpawnedOrigin): Record<string, string> => ({
  'content-type': 'application/json',
  authorization: `Bearer ${o.secret}`,
});

async function runsOf(o: SpawnedOrigin): Promise<{ runs: number; rows: number }> {
  const text = await (await fetch(`${o.url}/metrics`, { headers: headers(o) })).text();
  let runs = 0;
  let rows = 0;
  for (const m of text.matchAll(/^origin_model_runs_total\{[^}]*\} (\d+)/gm)) runs += Number(m[1]);
  for (const m of text.matchAll(/^origin_batch_rows_sum\{[^}]*\} ([\d.e+]+)/gm)) rows += Number(m[1]);
  return { runs, rows };
}

/** CONCURRENCY closed-loop clients for SECONDS: completed requests, latencies, model runs. */
async function load(o: SpawnedOrigin, w: Workload, batching: boolean): Promise<Throughput> {
  for (let i = 0; i < 50; i++)
    await fetch(`${o.url}${w.path}`, { method: 'POST', headers: headers(o), body: w.body(i) }).then((r) =>
      r.arrayBuffer(),
    );
  const before = await runsOf(o);
  const times: number[] = [];
  let errors = 0;
  let n = 0;
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const i = n++;
        const t = performance.now();
        const res = await fetch(`${o.url}${w.path}`, { method: 'POST', headers: headers(o), body: w.body(i) });
        await res.arrayBuffer();
        if (res.ok) times.push(performance.now() - t);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const after = await runsOf(o);
  const runs = after.runs - before.runs;
  return {
    workload: w.name,
    batching,
    requests: times.length,
    errors,
    rps: times.length / elapsed,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    runs,
    rowsPerRun: runs === 0 ? 0 : (after.rows - before.rows) / runs,
  };
}

function workloads(): Workload[] {
  const out: Workload[] = [
    {
      name: 'sentiment-en predict (1 text)',
      path: '/v1/models/sentiment-en/predict',
      body: (i) =>
        JSON.stringify({
          inputs: `request ${i}: ${i % 2 === 0 ? 'I love this, wonderful' : 'awful, it broke at once'}`,
        }),
    },
  ];
  if (existsSync(join(BUILD_DIR, 'text-orientation', 'latest'))) {
    // One 3×48×192 image per request: a conv net, where stacking rows amortises per-run work.
    const image = Array.from({ length: 3 * 48 * 192 }, (_, k) => Math.round(Math.sin(k) * 1000) / 1000);
    const body = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 3, 48, 192], datatype: 'FP32', data: image }] });
    out.push({ name: 'text-orientation infer (1 image)', path: '/v2/models/text-orientation/infer', body: () => body });
  }
  return out;
}

async function sequential(call: () => Promise<Response>, n: number): Promise<Summary> {
  for (let i = 0; i < 20; i++) await (await call()).arrayBuffer();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await call();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`status ${res.status}`);
    times.push(performance.now() - t);
  }
  return summarize(times);
}

export async function benchOrigin(): Promise<OriginBenchResult> {
  const throughput: Throughput[] = [];
  const batched = await spawnOrigin();
  const unbatched = await spawnOrigin({ env: { ORIGIN_BATCHING: 'off' } });
  let edge: Awaited<ReturnType<typeof startWrangler>> | undefined;
  try {
    await Promise.all([waitReady(batched), waitReady(unbatched)]);
    for (const w of workloads()) {
      throughput.push(await load(unbatched, w, false));
      throughput.push(await load(batched, w, true));
    }
    await unbatched.stop();

    // Origin p50 vs edge p50 for the same predict request (cache bypassed), one at a time.
    await seedLocal();
    const key = await localKey('high');
    edge = await startWrangler('wrangler.toml', '/v2/health/live', [
      '--var',
      `ORIGIN_URL:${batched.url}`,
      '--var',
      `ORIGIN_SECRET:${batched.secret}`,
    ]);
    const edgeUrl = edge.url;
    const body = JSON.stringify({ inputs: 'The battery lasts all day and the screen is lovely.' });
    const viaEdge = (placement: string) => (): Promise<Response> =>
      fetch(`${edgeUrl}/v1/models/sentiment-en/predict`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'cache-control': 'no-store',
          'x-placement': placement,
          authorization: `Bearer ${key}`,
        },
        body,
      });
    const latency: Record<string, Summary> = {
      'edge (wrangler dev, ORT-web)': await sequential(viaEdge('edge'), SEQUENTIAL),
      'edge → origin (X-Placement: origin)': await sequential(viaEdge('origin'), SEQUENTIAL),
      'origin direct (onnxruntime-node)': await sequential(
        () =>
          fetch(`${batched.url}/v1/models/sentiment-en/predict`, { method: 'POST', headers: headers(batched), body }),
        SEQUENTIAL,
      ),
    };

    // Breaker open: the client refuses without connecting. In-process, then end to end through the edge.
    const client = new OriginClient({
      baseUrl: 'http://127.0.0.1:1',
      secret: 'x',
      timeoutMs: 1000,
      failureThreshold: 1,
      cooldownMs: 3_600_000,
      // One refused call opens the breaker; every timed call after it is refused before reaching any fetch.
      binding: { fetch: () => Promise.reject(new TypeError('origin down')) },
    });
    await client.post('/v1/models/sentiment-en/predict', body, 'application/json').catch(() => undefined);
    const open: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      await client.post('/v1/models/sentiment-en/predict', body, 'application/json').catch(() => undefined);
      open.push(performance.now() - t);
    }
    await batched.stop();
    // Origin stopped: the first failures open the Worker's breaker, then requests fall back to the edge at once.
    let fallback: Summary | undefined;
    try {
      for (let i = 0; i < 5; i++) await (await viaEdge('origin')()).arrayBuffer();
      fallback = await sequential(viaEdge('origin'), SEQUENTIAL);
    } catch (err) {
      console.error(`edge fallback timing failed: ${String(err)}`);
    }

    const speedup: Record<string, number> = {};
    for (const w of new Set(throughput.map((t) => t.workload))) {
      const on = throughput.find((t) => t.workload === w && t.batching);
      const off = throughput.find((t) => t.workload === w && !t.batching);
      if (on && off) speedup[w] = on.rps / off.rps;
    }
    return { throughput, speedup, latency, breaker: { clientOpen: summarize(open), edgeFallback: fallback } };
  } finally {
    await edge?.stop();
    await batched.stop();
    await unbatched.stop();
  }
}

export function printOrigin(r: OriginBenchResult): unknown[] {
  return [
    table(
      `Origin throughput at concurrency ${CONCURRENCY} (${SECONDS} s closed loop, loopback, CPU, 1 intra-op thread)`,
      ['workload', 'batching', 'req/s', 'p50 ms', 'p99 ms', 'model runs', 'rows/run', 'errors'],
      r.throughput.map((t) => [
        t.workload,
        t.batching ? 'on' : 'off',
        t.rps,
        t.p50,
        t.p99,
        String(t.runs),
        t.rowsPerRun,
        String(t.errors),
      ]),
    ),
    table(
      'Dynamic batching speed-up (req/s on ÷ off)',
      ['workload', 'speed-up'],
      Object.entries(r.speedup).map(([w, s]) => [w, s]),
    ),
    table(
      `Same predict request, one at a time (${SEQUENTIAL} requests, cache bypassed)`,
      ['path', 'p50 ms', 'p99 ms'],
      Object.entries(r.latency).map(([k, s]) => [k, s.p50, s.p99]),
    ),
    table(
      'Breaker open (goal: fail fast, ≤ 5 ms)',
      ['what', 'p50 ms', 'p99 ms'],
      [
        ['client refuses (no connection)', r.breaker.clientOpen.p50, r.breaker.clientOpen.p99],
        ...(r.breaker.edgeFallback
          ? [
              [
                'edge request, origin down → edge-fallback (incl. edge inference)',
                r.breaker.edgeFallback.p50,
                r.breaker.edgeFallback.p99,
              ],
            ]
          : []),
      ],
    ),
  ];
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const result = await benchOrigin();
  const tables = printOrigin(result);
  console.log(
    `\nwritten: ${writeResults('origin', { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, ...result, tables })}`,
  );
}
