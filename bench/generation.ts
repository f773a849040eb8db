/**
 * @module The text-generation benchmark (issue 10, `npm run bench -- generation`): time to first token and decode
 * tokens/s of one greedy stream on the Brown corpus decoder (brown-gpt-en) at the edge (the real app under
 * wrangler dev, its native generate route with `stream: true`), on onnxruntime-node with one intra-op thread (the
 * shared `generate()` loop in this process, no HTTP) and at a real origin process (its native route); then origin
 * throughput at concurrency 8 with continuous batching (ORIGIN_GENERATION_MAX_BATCH=16) against one sequence at a
 * time (=1), over HTTP and with the scheduler in-process, checking that every batched answer equals the prompt's
 * solo answer, and the bound one decode step at 8 rows against 1 row sets on that speed-up. `npx tsx
 * bench/generation.ts` runs it alone; bench/run.ts imports `benchGeneration`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { eventsOf, GenerationScheduler } from '../origin/generation-scheduler.js';
import { createOriginSession, type OriginSession } from '../origin/runtime.js';
import { spawnOrigin, waitReady, type SpawnedOrigin } from '../origin/spawn.js';
import { localKey } from '../scripts/dev-key.js';
import { BUILD_DIR } from '../scripts/model-store.js';
import { localProxy } from '../scripts/local-state.js';
import type { SeedBucket } from '../scripts/seed.js';
import { ManifestSchema, r2Keys, type Manifest } from '../src/lib/manifest.js';
import type { LoadedTokenizer } from '../src/tasks/text/hf-tokenizer.js';
import { decoderConfig, emptyBatch, joinBatches, runStep, type KvBatch } from '../src/tasks/generation/kv-cache.js';
import { GenerationEventSchema, type GenerationEvent } from '../src/tasks/generation/events.js';
import { generate } from '../src/tasks/generation/loop.js';
import {
  encodePrompt,
  generationTokenizer,
  planGeneration,
  type GenerationPlan,
} from '../src/tasks/generation/plan.js';
import { percentile, startWrangler, table, writeResults, type Started } from './harness.js';
import { WARMUP_MS } from './timing.js';

/** The decoder timed, and the store (laid out as build/models) it is read from: other decoders can be timed alike. */
const MODEL = process.env['BENCH_GEN_MODEL'] ?? 'brown-gpt-en';
const SOURCE = process.env['BENCH_GEN_STORE'] ?? BUILD_DIR;
const NEW_TOKENS = Number(process.env['BENCH_GEN_TOKENS'] ?? 64);
/** Timed single-stream generations per runtime (after warm-up); medians are reported. */
const RUNS = Number(process.env['BENCH_GEN_RUNS'] ?? 7);
/** Interleaved rounds of the concurrency test per mode; the median round is reported. */
const ROUNDS = Number(process.env['BENCH_GEN_ROUNDS'] ?? 3);
const CONCURRENCY = 8;

/**
 * Brown-style openings of different lengths (12–50 characters; the model holds 128, so each leaves room for 64 new
 * tokens), so the batched rows are left-padded by different amounts. Characters all in the model's vocabulary.
 */
const PROMPTS = [
  'The jury said that the city had',
  'It was a cold night in',
  'Mr. Kennedy told reporters on Tuesday that the',
  'She looked at him and',
  'In the spring of 1960, the committee found that',
  'The old man',
  'There is no reason to believe that the people of',
  'When the music stopped, we',
];

/** One stream's timeline: ms from the request to the first text event and to `done`, and what it produced. */
interface StreamTiming {
  ttftMs: number;
  totalMs: number;
  tokens: number;
  text: string;
  finish: string;
}

/** A stream of `events` begun at `start` (performance.now()), timed to its first text event and its end. */
async function timeEvents(start: number, events: AsyncIterable<GenerationEvent>): Promise<StreamTiming> {
  let ttftMs = NaN;
  for await (const e of events) {
    if (e.type === 'text' && Number.isNaN(ttftMs)) ttftMs = performance.now() - start;
    if (e.type === 'done')
      return {
        ttftMs,
        totalMs: performance.now() - start,
        tokens: e.usage.completion_tokens,
        text: e.text,
        finish: e.finish_reason,
      };
  }
  throw new Error('the generation ended without a done event');
}

/**
 * The native route's SSE events as they arrive on the wire. Read chunk by chunk into eventsource-parser's callback
 * parser rather than through a chain of web TransformStreams: each stage of such a chain costs promise hops per
 * event in Node, which on a busy machine showed up as a large share of the "service's" per-token time.
 */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<GenerationEvent> {
  const queued: GenerationEvent[] = [];
  const parser = createParser({ onEvent: (m) => queued.push(GenerationEventSchema.parse(JSON.parse(m.data))) });
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.feed(decoder.decode(value, { stream: true }));
      yield* queued.splice(0);
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** Where a native generate route lives and how to call it. */
interface Endpoint {
  url: string;
  headers: Record<string, string>;
  /** The `X-Placement` every answer must carry (the edge's), if any. */
  placement?: string;
}

/** One greedy streamed generation over HTTP, timed from just before the request is sent. */
async function httpStream(ep: Endpoint, prompt: string): Promise<StreamTiming> {
  const start = performance.now();
  const res = await fetch(`${ep.url}/v1/models/${MODEL}/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...ep.headers },
    body: JSON.stringify({
      inputs: prompt,
      parameters: { max_new_tokens: NEW_TOKENS, do_sample: false },
      stream: true,
    }),
  });
  if (!res.ok || res.body === null) throw new Error(`generate: ${res.status} ${await res.text()}`);
  const placement = res.headers.get('x-placement');
  if (ep.placement !== undefined && placement !== ep.placement)
    throw new Error(`generate ran at ${placement ?? '(no X-Placement)'}, expected ${ep.placement}`);
  return timeEvents(start, sseEvents(res.body));
}

/** Warm-up (≥ WARMUP_MS and ≥ 2 runs: V8's WASM and JS tiers), then RUNS timed runs of one call. */
async function timedRuns(call: () => Promise<StreamTiming>): Promise<StreamTiming[]> {
  const warm = performance.now();
  for (let i = 0; i < 2 || performance.now() - warm < WARMUP_MS; i++) await call();
  const out: StreamTiming[] = [];
  for (let i = 0; i < RUNS; i++) out.push(await call());
  return out;
}

const median = (xs: readonly number[]): number => percentile(xs, 50);

interface SingleStream {
  runs: number;
  tokens: number;
  ttftMs: number;
  ttftP99Ms: number;
  /** (tokens − 1) / (done − first text): tokens after the first, per second of decoding. */
  decodeTokensPerSecond: number;
  /** tokens / (done − request): what a caller sees end to end. */
  overallTokensPerSecond: number;
  text: string;
}

function singleSummary(runs: readonly StreamTiming[]): SingleStream {
  const decode = runs.map((r) => ((r.tokens - 1) / (r.totalMs - r.ttftMs)) * 1000);
  return {
    runs: runs.length,
    tokens: median(runs.map((r) => r.tokens)),
    ttftMs: median(runs.map((r) => r.ttftMs)),
    ttftP99Ms: percentile(
      runs.map((r) => r.ttftMs),
      99,
    ),
    decodeTokensPerSecond: median(decode),
    overallTokensPerSecond: median(runs.map((r) => (r.tokens / r.totalMs) * 1000)),
    text: runs[0]?.text ?? '',
  };
}

/** Mean ms of a no-op GET (the HTTP floor each HTTP row's TTFT includes), after a short warm-up. */
async function httpFloor(url: string, headers: Record<string, string> = {}): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t = performance.now();
    await (await fetch(`${url}/v2/health/live`, { headers })).arrayBuffer();
    if (i >= 20) times.push(performance.now() - t);
  }
  return median(times);
}

interface Concurrent {
  wallMs: number;
  tokens: number;
  tokensPerSecond: number;
  ttftMs: number;
  texts: string[];
}

/** CONCURRENCY streams started together, one per prompt: generated tokens over the wall time until the last ends. */
async function concurrently(start: (prompt: string, t0: number) => Promise<StreamTiming>): Promise<Concurrent> {
  const t0 = performance.now();
  const streams = await Promise.all(PROMPTS.slice(0, CONCURRENCY).map((p) => start(p, t0)));
  const wallMs = performance.now() - t0;
  const tokens = streams.reduce((n, s) => n + s.tokens, 0);
  return {
    wallMs,
    tokens,
    tokensPerSecond: (tokens / wallMs) * 1000,
    ttftMs: median(streams.map((s) => s.ttftMs)),
    texts: streams.map((s) => s.text),
  };
}

/** The median round by wall time (its texts are checked with every round's). */
function medianRound(rounds: readonly Concurrent[]): Concurrent {
  const sorted = [...rounds].sort((a, b) => a.wallMs - b.wallMs);
  const m = sorted[Math.floor((sorted.length - 1) / 2)];
  if (m === undefined) throw new Error('no rounds');
  return m;
}

/** How many of `rounds`' answers differ from `solo` (prompt by prompt), and the first difference. */
function mismatches(rounds: readonly Concurrent[], solo: readonly string[]): { differ: number; first?: string } {
  let differ = 0;
  let first: string | undefined;
  for (const r of rounds)
    r.texts.forEach((t, i) => {
      if (t === solo[i]) return;
      differ++;
      first ??= `prompt ${i}: ${JSON.stringify(t)} vs solo ${JSON.stringify(solo[i])}`;
    });
  return first === undefined ? { differ } : { differ, first };
}

/** Model runs and the rows they carried so far, from an origin's Prometheus metrics. */
async function originRuns(o: SpawnedOrigin): Promise<{ runs: number; rows: number }> {
  const text = await (await fetch(`${o.url}/metrics`, { headers: { authorization: `Bearer ${o.secret}` } })).text();
  let runs = 0;
  let rows = 0;
  const id = `${MODEL}@`;
  for (const m of text.matchAll(/^origin_model_runs_total\{([^}]*)\} (\d+)/gm))
    if (m[1]?.includes(id) === true) runs += Number(m[2]);
  for (const m of text.matchAll(/^origin_batch_rows_sum\{([^}]*)\} ([\d.e+]+)/gm))
    if (m[1]?.includes(id) === true) rows += Number(m[2]);
  return { runs, rows };
}

interface Local {
  manifest: Manifest;
  tokenizer: LoadedTokenizer;
  bytes: Uint8Array;
  plan(prompt: string): GenerationPlan;
}

function loadLocal(dir: string): Promise<Local> {
  const manifest = ManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
  const context = { loadFile: (name: string) => Promise.resolve(new Uint8Array(readFileSync(join(dir, name)))) };
  return generationTokenizer(manifest, context).then((tokenizer) => ({
    manifest,
    tokenizer,
    bytes: new Uint8Array(readFileSync(join(dir, manifest.model_file))),
    plan: (prompt: string) =>
      planGeneration(
        manifest,
        encodePrompt(manifest, tokenizer, prompt),
        { maxNewTokens: NEW_TOKENS, doSample: false },
        { maxNewTokens: 'max_new_tokens', stop: 'stop', logitBias: 'logit_bias', prompt: 'prompt' },
      ),
  }));
}

/** The origin's own session (onnxruntime-node, CPU, one intra-op thread), as a ModelRunner. */
const nodeSession = (local: Local): Promise<OriginSession> =>
  createOriginSession(local.bytes, { provider: 'cpu', intraOpNumThreads: 1 });

/** The concurrency test with the scheduler in this process: the batching alone, without HTTP or SSE. */
async function inProcessBatching(
  local: Local,
  session: OriginSession,
): Promise<{ batched: Concurrent[]; oneAtATime: Concurrent[] }> {
  const schedulers = {
    batched: new GenerationScheduler(session, local.manifest, { maxBatch: 16, tokenBudget: 65_536 }),
    oneAtATime: new GenerationScheduler(session, local.manifest, { maxBatch: 1, tokenBudget: 65_536 }),
  };
  const round = (s: GenerationScheduler): Promise<Concurrent> =>
    concurrently((prompt, t0) =>
      timeEvents(t0, eventsOf(s.submit(local.plan(prompt), local.tokenizer, new AbortController().signal))),
    );
  // Warm-up of both (the batched shapes differ from the solo ones).
  const warm = performance.now();
  while (performance.now() - warm < WARMUP_MS) {
    await round(schedulers.batched);
    await round(schedulers.oneAtATime);
  }
  const batched: Concurrent[] = [];
  const oneAtATime: Concurrent[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    oneAtATime.push(await round(schedulers.oneAtATime));
    batched.push(await round(schedulers.batched));
  }
  return { batched, oneAtATime };
}

/**
 * What batching can gain at most on this model and machine: one decode step (runStep: session.run plus the cache
 * bookkeeping) with 1 row and with CONCURRENCY rows after the same prompt, as block means after a warm-up. Its ratio
 * (rows × one-row time ÷ batch time) bounds the end-to-end speed-up, which adds prefills and per-token work.
 */
async function stepCeiling(
  local: Local,
  session: OriginSession,
): Promise<{ oneRowMs: number; batchMs: number; rows: number; ceiling: number }> {
  const config = decoderConfig(local.manifest);
  const promptIds = local.plan(PROMPTS[0] ?? '').promptIds;
  const batchOf = async (rows: number): Promise<KvBatch> => {
    let batch = emptyBatch(config);
    for (let r = 0; r < rows; r++)
      batch = joinBatches(config, batch, (await runStep(session, config, emptyBatch(config), [promptIds])).batch);
    return batch;
  };
  const blockMs = async (rows: number): Promise<number[]> => {
    const start = await batchOf(rows);
    const tokens = Array.from({ length: rows }, () => [promptIds[0] ?? 0]);
    const blocks: number[] = [];
    const warm = performance.now();
    while (performance.now() - warm < WARMUP_MS / 2 || blocks.length < 15) {
      let batch = start;
      const t0 = performance.now();
      for (let s = 0; s < NEW_TOKENS; s++) batch = (await runStep(session, config, batch, tokens)).batch;
      if (performance.now() - warm >= WARMUP_MS / 2) blocks.push((performance.now() - t0) / NEW_TOKENS);
    }
    return blocks;
  };
  const oneRowMs = median(await blockMs(1));
  const batchMs = median(await blockMs(CONCURRENCY));
  return { oneRowMs, batchMs, rows: CONCURRENCY, ceiling: (CONCURRENCY * oneRowMs) / batchMs };
}

/**
 * Copies the built model (files checked against the manifest's sha256) into a fresh store of its own, so every
 * runtime here serves the same bytes even if build/models is rewritten meanwhile, and the origins load nothing else.
 */
function snapshot(root: string): { store: string; dir: string; manifestText: string } {
  const latest = join(SOURCE, MODEL, 'latest');
  if (!existsSync(latest)) throw new Error(`${MODEL} is not in ${SOURCE}: run npm run models:build first`);
  const version = readFileSync(latest, 'utf8').trim();
  const from = join(SOURCE, MODEL, version);
  const store = join(root, 'store');
  const dir = join(store, MODEL, version);
  mkdirSync(dir, { recursive: true });
  const manifestText = readFileSync(join(from, 'manifest.json'), 'utf8');
  const manifest = ManifestSchema.parse(JSON.parse(manifestText));
  for (const f of manifest.files) {
    const bytes = existsSync(join(from, f.name)) ? readFileSync(join(from, f.name)) : undefined;
    if (bytes === undefined || createHash('sha256').update(bytes).digest('hex') !== f.sha256)
      throw new Error(`${from}/${f.name} is missing or does not match its manifest (is the model being rebuilt?)`);
    writeFileSync(join(dir, f.name), bytes);
  }
  writeFileSync(join(dir, 'manifest.json'), manifestText);
  writeFileSync(join(store, MODEL, 'latest'), version);
  return { store, dir, manifestText };
}

/** Puts the snapshot into the local R2 of a `wrangler dev` state folder: files, manifest, then `latest`. */
async function seedEdge(stateDir: string, dir: string, manifest: Manifest, manifestText: string): Promise<void> {
  const proxy = await localProxy<{ MODELS: SeedBucket }>({ stateDir });
  try {
    for (const f of manifest.files)
      await proxy.env.MODELS.put(
        r2Keys.file(manifest.id, manifest.version, f.name),
        new Uint8Array(readFileSync(join(dir, f.name))),
      );
    await proxy.env.MODELS.put(r2Keys.manifest(manifest.id, manifest.version), manifestText);
    await proxy.env.MODELS.put(r2Keys.latest(manifest.id), manifest.version);
  } finally {
    await proxy.dispose();
  }
}

export async function benchGeneration(): Promise<unknown> {
  const root = mkdtempSync(join(tmpdir(), 'bench-generation-'));
  try {
    return await measure(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

async function measure(root: string): Promise<unknown> {
  const snap = snapshot(root);
  const local = await loadLocal(snap.dir);
  const prompt = PROMPTS[0] ?? '';
  const raw: Record<string, unknown> = { model: `${MODEL}@${local.manifest.version}`, newTokens: NEW_TOKENS, prompt };

  // 1. onnxruntime-node, 1 thread: the shared generate() loop in this process (no HTTP), and each prompt's solo answer.
  const session = await nodeSession(local);
  let nodeSingle: SingleStream;
  const solo: string[] = [];
  let inProcess: { batched: Concurrent[]; oneAtATime: Concurrent[] };
  let ceiling: Awaited<ReturnType<typeof stepCeiling>>;
  try {
    const run = (p: string): Promise<StreamTiming> =>
      timeEvents(performance.now(), generate(session, local.manifest, local.tokenizer, local.plan(p)));
    nodeSingle = singleSummary(await timedRuns(() => run(prompt)));
    for (const p of PROMPTS) solo.push((await run(p)).text);
    inProcess = await inProcessBatching(local, session);
    ceiling = await stepCeiling(local, session);
  } finally {
    await session.release();
  }

  // 2. Origin processes: one with continuous batching (16 rows), one decoding a sequence at a time.
  const env = {
    MODEL_STORE: snap.store,
    ORIGIN_INTRA_OP_THREADS: '1',
    ORIGIN_EXECUTION_PROVIDER: 'cpu',
    ORIGIN_PRELOAD: 'off',
  };
  const [batchedOrigin, serialOrigin] = await Promise.all([
    spawnOrigin({ env: { ...env, ORIGIN_GENERATION_MAX_BATCH: '16' } }),
    spawnOrigin({ env: { ...env, ORIGIN_GENERATION_MAX_BATCH: '1' } }),
  ]);
  let originSingle: SingleStream;
  let originFloor: number;
  let originSolo: string[];
  const http: { batched: Concurrent[]; oneAtATime: Concurrent[] } = { batched: [], oneAtATime: [] };
  const rowsPerRun: Record<string, number> = {};
  try {
    await Promise.all([waitReady(batchedOrigin), waitReady(serialOrigin)]);
    const ep = (o: SpawnedOrigin): Endpoint => ({ url: o.url, headers: { authorization: `Bearer ${o.secret}` } });
    originSingle = singleSummary(await timedRuns(() => httpStream(ep(batchedOrigin), prompt)));
    originFloor = await httpFloor(batchedOrigin.url);
    originSolo = [];
    for (const p of PROMPTS) originSolo.push((await httpStream(ep(batchedOrigin), p)).text);
    const round = (o: SpawnedOrigin): Promise<Concurrent> => concurrently((p) => httpStream(ep(o), p));
    await round(serialOrigin);
    await round(batchedOrigin);
    for (let r = 0; r < ROUNDS; r++) {
      for (const [mode, o] of [
        ['oneAtATime', serialOrigin],
        ['batched', batchedOrigin],
      ] as const) {
        const before = await originRuns(o);
        http[mode].push(await round(o));
        const after = await originRuns(o);
        rowsPerRun[mode] = (after.rows - before.rows) / Math.max(1, after.runs - before.runs);
      }
    }
  } finally {
    await Promise.all([batchedOrigin.stop(), serialOrigin.stop()]);
  }

  // 3. The edge: the real app under wrangler dev with a state folder of its own (local R2 holding the snapshot, a
  // fresh key in local KV), no origin configured.
  const stateDir = join(root, 'wrangler-state');
  await seedEdge(stateDir, snap.dir, local.manifest, snap.manifestText);
  const key = await localKey('high', stateDir);
  let edgeSingle: SingleStream;
  let edgeFloor: number;
  const app: Started = await startWrangler('wrangler.toml', '/v2/health/live', ['--persist-to', stateDir]);
  try {
    const ep: Endpoint = { url: app.url, headers: { authorization: `Bearer ${key}`, 'x-placement': 'edge' } };
    edgeSingle = singleSummary(await timedRuns(() => httpStream({ ...ep, placement: 'edge' }, prompt)));
    edgeFloor = await httpFloor(app.url);
  } finally {
    await app.stop();
  }

  const single = table(
    `${MODEL}: one greedy stream, ${NEW_TOKENS} new tokens, prompt ${JSON.stringify(prompt)} (median of ${RUNS} after ≥ ${WARMUP_MS / 1000} s warm-up; 1 thread everywhere)`,
    [
      'runtime',
      'TTFT ms',
      'TTFT p99 ms',
      'HTTP floor ms',
      'decode tokens/s',
      'end-to-end tokens/s',
      'tokens',
      'decode ÷ native',
    ],
    [
      [
        'edge: workerd (wrangler dev, native route, SSE, no-store)',
        edgeSingle.ttftMs,
        edgeSingle.ttftP99Ms,
        edgeFloor,
        edgeSingle.decodeTokensPerSecond,
        edgeSingle.overallTokensPerSecond,
        String(edgeSingle.tokens),
        edgeSingle.decodeTokensPerSecond / nodeSingle.decodeTokensPerSecond,
      ],
      [
        'onnxruntime-node in Node (generate(), no HTTP)',
        nodeSingle.ttftMs,
        nodeSingle.ttftP99Ms,
        'n/a',
        nodeSingle.decodeTokensPerSecond,
        nodeSingle.overallTokensPerSecond,
        String(nodeSingle.tokens),
        1,
      ],
      [
        'origin process (native route, SSE)',
        originSingle.ttftMs,
        originSingle.ttftP99Ms,
        originFloor,
        originSingle.decodeTokensPerSecond,
        originSingle.overallTokensPerSecond,
        String(originSingle.tokens),
        originSingle.decodeTokensPerSecond / nodeSingle.decodeTokensPerSecond,
      ],
    ],
  );

  const sameText =
    edgeSingle.text === nodeSingle.text && originSingle.text === nodeSingle.text ? 'yes' : 'NO (see raw.single)';
  const rows: (string | number)[][] = [];
  const speedup: Record<string, number> = {};
  const checks: Record<string, { differ: number; first?: string }> = {};
  for (const [where, results, reference] of [
    ['origin over HTTP', http, originSolo],
    ['scheduler in-process', inProcess, solo],
  ] as const) {
    const on = medianRound(results.batched);
    const off = medianRound(results.oneAtATime);
    speedup[where] = on.tokensPerSecond / off.tokensPerSecond;
    const batchedCheck = mismatches(results.batched, reference);
    const serialCheck = mismatches(results.oneAtATime, reference);
    checks[`${where}, batched`] = batchedCheck;
    checks[`${where}, one at a time`] = serialCheck;
    const answers = (c: { differ: number }, n: number): string =>
      c.differ === 0 ? `all ${n} equal solo` : `${c.differ} of ${n} DIFFER`;
    const n = results.batched.length * CONCURRENCY;
    rows.push([
      where,
      'one at a time (max batch 1)',
      off.tokensPerSecond,
      off.wallMs,
      off.ttftMs,
      String(off.tokens),
      where === 'origin over HTTP' ? (rowsPerRun['oneAtATime'] ?? NaN) : 'n/a',
      answers(serialCheck, results.oneAtATime.length * CONCURRENCY),
    ]);
    rows.push([
      where,
      'continuous batching (max batch 16)',
      on.tokensPerSecond,
      on.wallMs,
      on.ttftMs,
      String(on.tokens),
      where === 'origin over HTTP' ? (rowsPerRun['batched'] ?? NaN) : 'n/a',
      answers(batchedCheck, n),
    ]);
  }
  const throughput = table(
    `Origin generation throughput at concurrency ${CONCURRENCY}: ${CONCURRENCY} greedy streams of ${NEW_TOKENS} new tokens, different prompts, started together (median of ${ROUNDS} interleaved rounds; CPU, 1 intra-op thread)`,
    [
      'where',
      'mode',
      'tokens/s',
      'wall ms',
      'median TTFT ms',
      'tokens',
      'rows per model run (prefills count 1)',
      'answers vs solo',
    ],
    rows,
  );
  const ratio = table(
    'Continuous batching speed-up (tokens/s, max batch 16 ÷ max batch 1; goal ≥ 3×)',
    ['where', 'speed-up', 'goal met'],
    [
      ...Object.entries(speedup).map(([w, s]) => [w, s, s >= 3 ? 'yes' : 'NO']),
      [
        `bound: one decode step, ${ceiling.rows} rows ÷ 1 row (${ceiling.batchMs.toFixed(3)} ms vs ${ceiling.oneRowMs.toFixed(3)} ms; rows × one-row time ÷ batch time)`,
        ceiling.ceiling,
        ceiling.ceiling >= 3 ? 'yes' : 'NO',
      ],
    ],
  );
  console.log(`\nsame greedy text at the edge, on onnxruntime-node and at the origin: ${sameText}`);
  const allEqual = Object.values(checks).every((c) => c.differ === 0);
  console.log(`batched answers equal their solo answers: ${allEqual ? 'yes, every one' : 'NO'}`);
  for (const [k, c] of Object.entries(checks))
    if (c.first !== undefined) console.log(`  ${k}: ${c.differ} differ; first: ${c.first}`);

  raw['single'] = { edge: edgeSingle, node: nodeSingle, origin: originSingle, edgeFloor, originFloor };
  raw['concurrency'] = { http, inProcess, rowsPerRun, solo, originSolo };
  raw['stepCeiling'] = ceiling;
  return {
    tables: [single, throughput, ratio],
    speedup,
    stepCeiling: ceiling,
    sameTextAcrossRuntimes: sameText === 'yes',
    batchedEqualsSolo: allEqual,
    checks,
    raw,
  };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const result = await benchGeneration();
  console.log(
    `\nwritten: ${writeResults('bench-generation', { date: new Date().toISOString(), node: process.version, cpus: cpus().length, loadavg: loadavg(), generation: result })}`,
  );
}
