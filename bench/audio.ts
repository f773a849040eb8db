/**
 * @module Audio and bring-your-own-model benchmark: vad-silero per 512-sample window (with Silero's 64-sample context,
 * the state and the int64 scalar `sr`, as the task feeds it) and tiny-bert embeddings, `session.run` inside workerd
 * (the bench Worker, the product's runtime module) against onnxruntime-node (1 intra-op thread) and onnxruntime-web in
 * Node; WASM heap after load, one fresh bench Worker per model so the heap is that model's alone.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { writeTinyBert } from '../models/hf-tiny/bert.js';
import { BUILD_DIR } from '../scripts/model-store.js';
import { fetchRetry, startWrangler, summarize, table, type Summary } from './harness.js';

const ITER = Number(process.env['BENCH_ITER'] ?? 300);
/**
 * Long on purpose: V8 runs ORT's WASM in its baseline tier (Liftoff) until functions are hot, and in workerd the
 * optimised tier arrives late — vad-silero measured 0.53 ms per window after 10 warm-up runs and 0.25 ms after 2,000
 * (the same as ORT-web in Node). A long-lived isolate reaches the fast figure; 30 warm-up runs would report the cold one.
 */
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 2000);

interface BenchFeed {
  name: string;
  type: 'float32' | 'int64';
  dims: number[];
  data: number[];
}

interface Case {
  model: string;
  input: string;
  file: string;
  feeds: BenchFeed[];
}

function nodeFeeds(feeds: BenchFeed[]): Record<string, ortNode.Tensor> {
  return Object.fromEntries(
    feeds.map((f) => [
      f.name,
      f.type === 'int64'
        ? new ortNode.Tensor(
            'int64',
            BigInt64Array.from(f.data, (v) => BigInt(v)),
            f.dims,
          )
        : new ortNode.Tensor('float32', Float32Array.from(f.data), f.dims),
    ]),
  );
}

function webFeeds(feeds: BenchFeed[]): Record<string, ortWeb.Tensor> {
  return Object.fromEntries(
    feeds.map((f) => [
      f.name,
      f.type === 'int64'
        ? new ortWeb.Tensor(
            'int64',
            BigInt64Array.from(f.data, (v) => BigInt(v)),
            f.dims,
          )
        : new ortWeb.Tensor('float32', Float32Array.from(f.data), f.dims),
    ]),
  );
}

async function loop(run: () => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < WARMUP; i++) await run();
  const times: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  return summarize(times);
}

async function timeNode(c: Case): Promise<Summary> {
  const s = await ortNode.InferenceSession.create(c.file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const feeds = nodeFeeds(c.feeds);
  const out = await loop(() => s.run(feeds));
  await s.release();
  return out;
}

async function timeWebNode(c: Case): Promise<Summary> {
  ortWeb.env.wasm.numThreads = 1;
  const s = await ortWeb.InferenceSession.create(readFileSync(c.file), {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const feeds = webFeeds(c.feeds);
  const out = await loop(() => s.run(feeds));
  await s.release();
  return out;
}

/** In a bench Worker of its own, so the WASM heap it reports is this model's. */
async function timeWorkerd(c: Case): Promise<Summary & { heapBytes: number; createMs: number }> {
  const worker = await startWrangler('bench/wrangler.toml', '/info');
  try {
    const form = new FormData();
    form.set('model', new Blob([readFileSync(c.file)]), 'model.onnx');
    form.set('spec', JSON.stringify({ feeds: c.feeds, iterations: ITER, warmup: WARMUP }));
    const res = await fetchRetry(`${worker.url}/run`, { method: 'POST', body: form });
    if (!res.ok) throw new Error(`bench worker: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { times: number[]; heapBytes: number; createMs: number };
    return { ...summarize(body.times), heapBytes: body.heapBytes, createMs: body.createMs };
  } finally {
    await worker.stop();
  }
}

function vadCase(file = 'model.onnx', label = 'vad-silero'): Case {
  // Only this model's directory: other models may be mid-build while this runs.
  const latest = join(BUILD_DIR, 'vad-silero', 'latest');
  if (!existsSync(latest)) throw new Error('vad-silero is not built: run npm run models:build first');
  const builtDir = join(BUILD_DIR, 'vad-silero', readFileSync(latest, 'utf8').trim());
  // 64 samples of context + one 512-sample window of a 16 kHz tone-and-noise mix, as the task feeds it.
  let a = 1;
  const frame = Array.from({ length: 576 }, (_, i) => {
    a = (a * 1103515245 + 12345) >>> 0;
    return 0.2 * Math.sin(i / 5) + 0.02 * ((a / 4294967296) * 2 - 1);
  });
  return {
    model: label,
    input: '1 window (64 + 512 samples)',
    file: join(builtDir, file),
    feeds: [
      { name: 'input', type: 'float32', dims: [1, 576], data: frame },
      { name: 'state', type: 'float32', dims: [2, 1, 128], data: new Array<number>(256).fill(0) },
      { name: 'sr', type: 'int64', dims: [], data: [16_000] },
    ],
  };
}

function bertCase(file: string, batch: number, seq: number): Case {
  const ids = Array.from({ length: batch * seq }, (_, i) =>
    i % seq === 0 ? 2 : i % seq === seq - 1 ? 3 : 5 + ((i * 37) % 1400),
  );
  const dims = [batch, seq];
  return {
    model: 'tiny-bert',
    input: `batch ${batch} × ${seq} tokens`,
    file,
    feeds: [
      { name: 'input_ids', type: 'int64', dims, data: ids },
      { name: 'attention_mask', type: 'int64', dims, data: new Array<number>(batch * seq).fill(1) },
      { name: 'token_type_ids', type: 'int64', dims, data: new Array<number>(batch * seq).fill(0) },
    ],
  };
}

export async function benchAudio(): Promise<unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tiny-bert-'));
  try {
    const bert = join(writeTinyBert(dir), 'model.onnx');
    // The published graph too, to show what inlining its sample-rate If buys at the edge.
    const cases = [
      vadCase(),
      vadCase('model.published.onnx', 'vad-silero (published graph)'),
      bertCase(bert, 1, 16),
      bertCase(bert, 8, 64),
    ];
    const rows: (string | number)[][] = [];
    const raw: Record<string, unknown> = {};
    for (const c of cases) {
      const node = await timeNode(c);
      const web = await timeWebNode(c);
      const edge = await timeWorkerd(c);
      raw[`${c.model} ${c.input}`] = { node, webNode: web, workerd: edge };
      rows.push([
        c.model,
        c.input,
        edge.p50,
        edge.p99,
        node.p50,
        node.p99,
        web.p50,
        edge.p50 / node.p50,
        edge.p50 / node.p50 <= 2 ? 'yes' : 'no',
        `${(edge.heapBytes / 2 ** 20).toFixed(0)} MiB`,
      ]);
    }
    const runs = table(
      'audio + bring-your-own: session.run, ms (workerd: block means; 1 thread everywhere)',
      [
        'model',
        'input',
        'workerd p50',
        'workerd p99',
        'node p50',
        'node p99',
        'web-in-node p50',
        'workerd ÷ node',
        '≤ 2×',
        'wasm heap',
      ],
      rows,
    );
    const vad = raw[`vad-silero ${cases[0]?.input ?? ''}`] as { workerd: Summary } | undefined;
    const perSecond = vad === undefined ? NaN : vad.workerd.p50 * (16_000 / 512);
    const realtime = table(
      'vad-silero at the edge',
      ['figure', 'value'],
      [
        ['workerd ms of inference per second of audio (p50 × 31.25 windows)', perSecond],
        ['real-time factor (audio seconds per inference second)', 1000 / perSecond],
      ],
    );
    return { runs, realtime, raw };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Runnable alone: `npx tsx bench/audio.ts`.
if (import.meta.url === `file://${process.argv[1] ?? ''}`) await benchAudio();
