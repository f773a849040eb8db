/**
 * @module The edge benchmark (issue 2): `session.run` inside workerd vs onnxruntime-node (1 intra-op thread) vs
 * onnxruntime-web in Node, fp32 and int8; end-to-end HTTP against the app under wrangler dev (cache MISS vs HIT,
 * overhead beyond `run`); model size ratio. Prints tables of ratios measured in this one run.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { readBuiltModels } from '../scripts/model-store.js';
import { localKey } from '../scripts/dev-key.js';
import { seedLocal } from '../scripts/seed.js';
import { generateSecret } from '../src/auth/keys.js';
import { ManifestSchema, type Manifest } from '../src/lib/manifest.js';
import { sparseBatch, TextFeatureConfigSchema } from '../src/tasks/text/text-features.js';
import { fetchRetry, startWrangler, summarize, table, timeBlocks, type Summary } from './harness.js';

const ITER = Number(process.env['BENCH_ITER'] ?? 300);
const WARMUP = 30;

interface Variant {
  name: string;
  file: string;
  bytes: number;
}

async function timeNode(file: string, feeds: Record<string, ortNode.Tensor>): Promise<Summary> {
  const s = await ortNode.InferenceSession.create(file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const summary = await timeBlocks(() => s.run(feeds), ITER, WARMUP);
  await s.release();
  return summary;
}

async function timeWebNode(file: string, feeds: Record<string, ortWeb.Tensor>): Promise<Summary> {
  ortWeb.env.wasm.numThreads = 1;
  const s = await ortWeb.InferenceSession.create(readFileSync(file), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const summary = await timeBlocks(() => s.run(feeds), ITER, WARMUP);
  await s.release();
  return summary;
}

interface BagFeeds {
  dims: number[];
  indices: BigInt64Array;
  values: Float32Array;
}

async function timeWorkerd(url: string, file: string, bag: BagFeeds): Promise<Summary & { heapBytes: number }> {
  const form = new FormData();
  form.set('model', new Blob([readFileSync(file)]), 'model.onnx');
  const feeds = [
    { name: 'indices', type: 'int64', dims: bag.dims, data: Array.from(bag.indices, Number) },
    { name: 'values', type: 'float32', dims: bag.dims, data: Array.from(bag.values) },
  ];
  form.set('spec', JSON.stringify({ feeds, iterations: ITER, warmup: WARMUP }));
  const res = await fetchRetry(`${url}/run`, { method: 'POST', body: form });
  if (!res.ok) throw new Error(`bench worker: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { times: number[]; heapBytes: number };
  return { ...summarize(body.times), heapBytes: body.heapBytes };
}

async function httpLoop(
  url: string,
  n: number,
  body: (i: number) => unknown,
  headers: Record<string, string> = {},
): Promise<{ total: Summary; cache: string[] }> {
  const totals: number[] = [];
  const cache: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(`${url}/v1/models/sentiment-en/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body(i)),
    });
    await res.arrayBuffer();
    const ms = performance.now() - t;
    totals.push(ms);
    cache.push(res.headers.get('x-cache') ?? '');
  }
  return { total: summarize(totals), cache };
}

/** Seeds the bench Worker's local R2 with one model (its directory holds the manifest's files) and its AUTH with a fresh key; returns the key. */
export async function seedInProcess(url: string, dir: string, manifest: Manifest): Promise<string> {
  const form = new FormData();
  form.set(`models/${manifest.id}/latest`, new Blob([manifest.version]), 'latest');
  form.set(
    `models/${manifest.id}/${manifest.version}/manifest.json`,
    new Blob([readFileSync(join(dir, 'manifest.json'))]),
    'manifest.json',
  );
  // Every file the manifest lists (a tokenizer beside the graph), as the registry will ask for them.
  for (const f of manifest.files)
    form.set(
      `models/${manifest.id}/${manifest.version}/${f.name}`,
      new Blob([readFileSync(join(dir, f.name))]),
      f.name,
    );
  const apiKey = generateSecret();
  form.set('api_key', apiKey);
  const seeded = await fetchRetry(`${url}/seed`, { method: 'POST', body: form });
  if (!seeded.ok) throw new Error(`bench worker seed: ${seeded.status} ${await seeded.text()}`);
  return apiKey;
}

export interface InProcessRequest {
  path: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  variant?: 'full' | 'no-auth';
  quiet?: boolean;
  iterations?: number;
  /** The status every answer must have (200 by default). */
  status?: number;
}

/** Times one request through the product app inside the bench Worker (app.fetch, no HTTP hop), as block means. */
export async function timeInProcess(url: string, r: InProcessRequest): Promise<Summary> {
  const { status = 200, iterations = ITER, variant = 'full', quiet = true, ...request } = r;
  const res = await fetchRetry(`${url}/app`, {
    method: 'POST',
    body: JSON.stringify({ ...request, iterations, warmup: WARMUP, variant, quiet }),
  });
  const out = (await res.json()) as { times: number[]; status: number };
  if (out.status !== status) throw new Error(`in-process ${r.method} ${r.path} answered ${out.status}`);
  return summarize(out.times);
}

/**
 * The product app's request path inside the isolate (app.fetch with real local R2/KV, no HTTP hop): what the Worker
 * itself adds on top of `session.run`, separated from wrangler dev's local proxying.
 */
async function timeAppInProcess(
  url: string,
  dir: string,
  manifest: Manifest,
  text: string,
): Promise<(string | number)[][]> {
  const apiKey = await seedInProcess(url, dir, manifest);
  const time = (
    path: string,
    method: string,
    headers: Record<string, string>,
    body?: string,
    variant: 'full' | 'no-auth' = 'full',
    quiet = true,
  ): Promise<Summary> =>
    timeInProcess(url, { path, method, headers, variant, quiet, ...(body === undefined ? {} : { body }) });
  const predict = `/v1/models/${manifest.id}/predict`;
  const json = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
  const body = JSON.stringify({ inputs: text });
  const live = await time('/v2/health/live', 'GET', {});
  const bypass = await time(predict, 'POST', { ...json, 'cache-control': 'no-store' }, body);
  const logged = await time(predict, 'POST', { ...json, 'cache-control': 'no-store' }, body, 'full', false);
  // Auth + rate limit on a HIT: the real app against the same app with a fixed key and no limiter, interleaved
  // in rounds so drift on a shared machine hits both alike; the difference of the medians is the cost.
  const hits: Summary[] = [];
  const bare: Summary[] = [];
  for (let round = 0; round < 3; round++) {
    hits.push(await time(predict, 'POST', json, body));
    bare.push(await time(predict, 'POST', json, body, 'no-auth'));
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const hit = { p50: median(hits.map((h) => h.p50)), p99: median(hits.map((h) => h.p99)) };
  const noAuth = { p50: median(bare.map((h) => h.p50)), p99: median(bare.map((h) => h.p99)) };
  return [
    ['GET /v2/health/live', live.p50, live.p99, 'n/a'],
    ['predict, no-store (BYPASS)', bypass.p50, bypass.p99, bypass.p50 - live.p50],
    ['predict, no-store, with the log line printed (local console)', logged.p50, logged.p99, logged.p50 - live.p50],
    ['predict, cache HIT (same input), API key + rate limit', hit.p50, hit.p99, hit.p50 - live.p50],
    ['predict, cache HIT, fixed key, no limiter', noAuth.p50, noAuth.p99, noAuth.p50 - live.p50],
    ['cost of auth + rate limit on a HIT (difference of p50s)', hit.p50 - noAuth.p50, 'n/a', 'goal ≤ 0.1'],
  ];
}

export async function benchEdge(): Promise<unknown> {
  const built = readBuiltModels().find((m) => m.id === 'sentiment-en');
  if (built === undefined) throw new Error('run npm run models:build first');
  const manifest: Manifest = ManifestSchema.parse(JSON.parse(built.manifestText));
  const config = TextFeatureConfigSchema.parse(manifest.preprocess);
  const heldout = JSON.parse(readFileSync(join(built.dir, 'heldout.json'), 'utf8')) as { text: string }[];
  const variants: Variant[] = [
    {
      name: 'fp32',
      file: join(built.dir, 'model.fp32.onnx'),
      bytes: statSync(join(built.dir, 'model.fp32.onnx')).size,
    },
    {
      name: `int8 (${manifest.quantization.method})`,
      file: join(built.dir, manifest.model_file),
      bytes: statSync(join(built.dir, manifest.model_file)).size,
    },
  ];

  const benchWorker = await startWrangler('bench/wrangler.toml', '/info');
  const runRows: (string | number)[][] = [];
  let servedRunP50 = NaN;
  let appRows: (string | number)[][] | undefined;
  const raw: Record<string, unknown> = {};
  try {
    for (const batch of [1, 32]) {
      const texts = Array.from({ length: batch }, (_, i) => heldout[i % heldout.length]?.text ?? '');
      // The model's input: an embedding bag (indices + values), [batch, widest row's feature count].
      const b = sparseBatch(texts, config);
      const bag: BagFeeds = { dims: [batch, b.width], indices: b.indices, values: b.values };
      for (const v of variants) {
        const node = await timeNode(v.file, {
          indices: new ortNode.Tensor('int64', bag.indices, bag.dims),
          values: new ortNode.Tensor('float32', bag.values, bag.dims),
        });
        const web = await timeWebNode(v.file, {
          indices: new ortWeb.Tensor('int64', bag.indices, bag.dims),
          values: new ortWeb.Tensor('float32', bag.values, bag.dims),
        });
        const edge = await timeWorkerd(benchWorker.url, v.file, bag);
        raw[`${v.name} b${batch}`] = { node, webNode: web, workerd: edge };
        if (batch === 1 && v.file.endsWith(manifest.model_file)) servedRunP50 = edge.p50;
        runRows.push([
          v.name,
          String(batch),
          edge.p50,
          edge.p99,
          node.p50,
          node.p99,
          web.p50,
          edge.p50 / node.p50,
          web.p50 / node.p50,
          `${(edge.heapBytes / 2 ** 20).toFixed(0)} MiB`,
        ]);
      }
    }
    appRows = await timeAppInProcess(benchWorker.url, built.dir, manifest, heldout[0]?.text ?? '');
  } finally {
    await benchWorker.stop();
  }
  const runTable = table(
    'sentiment-en session.run, ms (block means, ≥ 30 blocks of ≥ 25 ms each; 1 thread everywhere)',
    [
      'variant',
      'batch',
      'workerd p50',
      'workerd p99',
      'node p50',
      'node p99',
      'web-in-node p50',
      'workerd ÷ node',
      'web-node ÷ node',
      'wasm heap',
    ],
    runRows,
  );
  const appTable = table(
    'sentiment-en through the app inside workerd (app.fetch, real local R2/KV/Rate Limiting, no HTTP hop; request log muted but where said), ms per request (block means)',
    ['request', 'p50', 'p99', 'p50 beyond the no-op route'],
    appRows ?? [],
  );
  const sizeTable = table(
    'sentiment-en model size',
    ['variant', 'bytes', 'ratio to fp32'],
    variants.map((v) => [v.name, String(v.bytes), v.bytes / (variants[0]?.bytes ?? 1)]),
  );

  await seedLocal();
  // The `high` tier (6,000 a minute): the loops below send about 800 requests in a few seconds.
  const key = await localKey('high');
  const app = await startWrangler('wrangler.toml', '/v2/health/live');
  let httpTable;
  try {
    const text = (i: number): string => heldout[i % heldout.length]?.text ?? '';
    const auth = { authorization: `Bearer ${key}` };
    await httpLoop(app.url, 20, (i) => ({ inputs: `warm ${i}` }), { ...auth, 'cache-control': 'no-store' });
    const n = Math.min(200, ITER);
    const nonce = Date.now();
    const miss = await httpLoop(app.url, n, (i) => ({ inputs: `${text(i)} ${nonce}-${i}` }), auth);
    const hit = await httpLoop(app.url, n, () => ({ inputs: `${text(0)} ${nonce}-0` }), auth);
    const bypass = await httpLoop(app.url, n, (i) => ({ inputs: text(i) }), { ...auth, 'cache-control': 'no-store' });
    // The floor: wrangler dev's own proxying plus Node's fetch, on a route that does no work.
    const floorTimes: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await (await fetch(`${app.url}/v2/health/live`)).arrayBuffer();
      floorTimes.push(performance.now() - t);
    }
    const floor = summarize(floorTimes);
    raw['http'] = { miss, hit, bypass, floor };
    // "Beyond run": the HTTP p50 minus the served model's workerd session.run p50 (batch 1) from above.
    httpTable = table(
      `HTTP end to end against wrangler dev, loopback (${n} sequential requests each), ms`,
      ['request', 'p50', 'p99', 'p50 beyond run', 'p50 beyond floor + run', 'X-Cache seen'],
      [
        ['floor: GET /v2/health/live', floor.p50, floor.p99, 'n/a', 'n/a', ''],
        [
          'cache MISS (new input)',
          miss.total.p50,
          miss.total.p99,
          miss.total.p50 - servedRunP50,
          miss.total.p50 - floor.p50 - servedRunP50,
          [...new Set(miss.cache)].join(','),
        ],
        [
          'cache HIT (same input)',
          hit.total.p50,
          hit.total.p99,
          'n/a (no run)',
          hit.total.p50 - floor.p50,
          [...new Set(hit.cache)].join(','),
        ],
        [
          'no-store (BYPASS)',
          bypass.total.p50,
          bypass.total.p99,
          bypass.total.p50 - servedRunP50,
          bypass.total.p50 - floor.p50 - servedRunP50,
          [...new Set(bypass.cache)].join(','),
        ],
      ],
    );
  } finally {
    await app.stop();
  }
  return { tables: [runTable, appTable, sizeTable, httpTable], raw };
}
