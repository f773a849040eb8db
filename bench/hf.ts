/**
 * @module Benchmark of the new tasks and models (`npm run bench -- hf`): the tiny Hugging Face folder of each task
 * (models/hf-tiny) published by the CLI's code, and the models trained here (spam-en, topics-en, pos-en), each graph
 * timed with `session.run` inside workerd (the bench Worker, the product's runtime module) against onnxruntime-node
 * (1 intra-op thread) on the feeds the task code builds for a real request; and token-classification throughput in
 * tokens/s through the whole app in-process (tokenise, run, aggregate) against the same task code on onnxruntime-node
 * in Node, for the tiny NER model and pos-en.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { TINY_FOLDERS } from '../models/hf-tiny/index.js';
import { readBuiltModels } from '../scripts/model-store.js';
import { preparePublish, writeOut } from '../scripts/publish.js';
import { ManifestSchema, type Manifest } from '../src/lib/manifest.js';
import { taskModule } from '../src/tasks/index.js';
import { runTask, type TaskContext } from '../src/tasks/task.js';
import type { Feeds, ModelRunner, Outputs } from '../src/tasks/tensor.js';
import { seedInProcess, timeInProcess } from './edge.js';
import { startWrangler, table, timeBlocks, timeWorkerdRun, type Summary } from './harness.js';

const ITER = Number(process.env['BENCH_ITER'] ?? 200);
const WARMUP = 20;

const SENTENCES = [
  'Sarah lives in London and works for the United Nations in New York.',
  'The committee met on Tuesday to discuss the budget for the coming year.',
  'Wolfgang Amadeus Mozart was born in Salzburg in 1756.',
  'She said the results were better than anyone had expected at the start.',
  'Apple and Microsoft reported higher profits in the third quarter.',
  'The river flows north through the valley before it reaches the sea.',
  'He bought three tickets for the concert at the Royal Albert Hall.',
  'Researchers at the university published their findings last month.',
];

/** A real picture for the vision folders: ImageMagick's built-in wizard (265×333), as PNG base64. */
function wizardPng(): string {
  return execFileSync('/usr/bin/convert', ['wizard:', 'png:-']).toString('base64');
}

const REQUESTS: Record<string, { inputs: unknown; parameters?: Record<string, unknown> }> = {
  'text-classification': { inputs: SENTENCES[0] },
  'token-classification': { inputs: SENTENCES[0] },
  'zero-shot-classification': {
    inputs: SENTENCES[1],
    parameters: { candidate_labels: ['politics', 'sport', 'music', 'business'] },
  },
  'question-answering': { inputs: { question: 'Where does Sarah live?', context: SENTENCES.join(' ') } },
  'feature-extraction': { inputs: SENTENCES[0] },
  'image-classification': { inputs: wizardPng() },
  'object-detection': { inputs: wizardPng() },
};

/** Models trained here, with a request each: the same comparison on their served graphs. */
const BUILT: Record<string, { inputs: unknown; parameters?: Record<string, unknown> }> = {
  'spam-en': { inputs: 'Subject: You have WON a FREE cruise\n\nClick here to claim your prize now!!!' },
  'topics-en': { inputs: SENTENCES[1] },
  'pos-en': { inputs: SENTENCES[0] },
};

interface Published {
  task: string;
  manifest: Manifest;
  dir: string;
}

const LIMITS = { maxBatch: 64, maxTextChars: 20_000 };

function fileContext(dir: string): TaskContext {
  return { loadFile: (name) => Promise.resolve(new Uint8Array(readFileSync(join(dir, name)))) };
}

function nodeRunner(session: ortNode.InferenceSession): ModelRunner {
  return {
    async run(feeds: Feeds): Promise<Outputs> {
      const input = Object.fromEntries(
        Object.entries(feeds).map(([k, t]) => [k, new ortNode.Tensor(t.type, t.data as Float32Array, t.dims)]),
      );
      const out = await session.run(input);
      return Object.fromEntries(
        Object.entries(out).map(([k, t]) => [k, { type: 'float32', dims: t.dims, data: t.data as Float32Array }]),
      );
    },
  };
}

async function feedsFor(
  p: Published,
  request: { inputs: unknown; parameters?: Record<string, unknown> },
): Promise<Feeds> {
  const task = taskModule(p.manifest.task);
  if (task === undefined) throw new Error(`${p.manifest.task} has no task module`);
  const parsed = await task.parse(
    { kind: 'json', inputs: request.inputs, parameters: request.parameters ?? {} },
    p.manifest,
    LIMITS,
    fileContext(p.dir),
  );
  return task.preprocess(parsed, p.manifest);
}

function timeWorkerd(url: string, p: Published, feeds: Feeds): Promise<Summary> {
  return timeWorkerdRun(
    url,
    readFileSync(join(p.dir, p.manifest.model_file)),
    Object.entries(feeds).map(([name, t]) => ({
      name,
      type: t.type === 'int64' ? 'int64' : 'float32',
      dims: t.dims,
      data: Array.from(t.data as ArrayLike<number | bigint>, Number),
    })),
    ITER,
    WARMUP,
  );
}

async function timeNative(p: Published, feeds: Feeds): Promise<Summary> {
  const s = await ortNode.InferenceSession.create(join(p.dir, p.manifest.model_file), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const runner = nodeRunner(s);
  const out = await timeBlocks(() => runner.run(feeds), ITER, WARMUP);
  await s.release();
  return out;
}

/** Tokens of a token-classification request as the task counts them (the size placement sees). */
async function tokensOf(p: Published, inputs: string[]): Promise<number> {
  const task = taskModule(p.manifest.task);
  if (task === undefined) throw new Error('no task');
  const parsed = await task.parse({ kind: 'json', inputs, parameters: {} }, p.manifest, LIMITS, fileContext(p.dir));
  return task.size(parsed).tokens ?? 0;
}

/** The whole task (parse → run → aggregate) on onnxruntime-node in Node: the native side of tokens/s. */
async function timeTaskNative(p: Published, inputs: string[]): Promise<Summary> {
  const task = taskModule(p.manifest.task);
  if (task === undefined) throw new Error('no task');
  const s = await ortNode.InferenceSession.create(join(p.dir, p.manifest.model_file), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const runner = nodeRunner(s);
  const out = await timeBlocks(
    async () => {
      const parsed = await task.parse(
        { kind: 'json', inputs, parameters: { aggregation_strategy: 'simple' } },
        p.manifest,
        LIMITS,
        fileContext(p.dir),
      );
      await runTask(task, parsed, runner, p.manifest);
    },
    ITER,
    WARMUP,
  );
  await s.release();
  return out;
}

export async function benchHf(): Promise<unknown> {
  const root = mkdtempSync(join(tmpdir(), 'bench-hf-'));
  const worker = await startWrangler('bench/wrangler.toml', '/info');
  try {
    const published: Published[] = [];
    for (const [task, write] of Object.entries(TINY_FOLDERS)) {
      const prepared = await preparePublish(write(join(root, 'src', task)), {
        id: `tiny-${task}`,
        version: '1',
        log: () => undefined,
      });
      published.push({ task, manifest: prepared.manifest, dir: writeOut(prepared, join(root, 'out')) });
    }
    const built = readBuiltModels().flatMap((m): (Published & { request: (typeof BUILT)[string] })[] => {
      const request = BUILT[m.id];
      if (request === undefined) return [];
      const manifest = ManifestSchema.parse(JSON.parse(m.manifestText));
      return [{ task: m.id, manifest, dir: m.dir, request }];
    });
    const rows: (string | number)[][] = [];
    const raw: Record<string, unknown> = {};
    for (const p of [...published.map((x) => ({ ...x, request: REQUESTS[x.task] })), ...built]) {
      const request = p.request;
      if (request === undefined) continue;
      const feeds = await feedsFor(p, request);
      const edge = await timeWorkerd(worker.url, p, feeds);
      const node = await timeNative(p, feeds);
      const shape = Object.values(feeds)[0]?.dims.join('×') ?? '';
      raw[p.task] = { shape, edge, node };
      rows.push([p.task, shape, edge.p50, node.p50, edge.p50 / node.p50]);
    }
    const runs = table(
      'New models: session.run p50 ms, workerd vs onnxruntime-node (1 thread), feeds of one real request (tiny HF folders by task; trained models by id)',
      ['model', 'feeds', 'workerd', 'native', 'workerd ÷ native'],
      rows,
    );

    // tokens/s: eight sentences per request through the app in-process, no cache, simple aggregation.
    const throughput: (string | number)[][] = [];
    const pos = readBuiltModels().find((m) => m.id === 'pos-en');
    const ner = published.find((p) => p.task === 'token-classification');
    const taggers: Published[] = [
      ...(ner === undefined ? [] : [ner]),
      ...(pos === undefined
        ? []
        : [
            {
              task: 'token-classification',
              manifest: ManifestSchema.parse(JSON.parse(pos.manifestText)),
              dir: pos.dir,
            },
          ]),
    ];
    for (const p of taggers) {
      const apiKey = await seedInProcess(worker.url, p.dir, p.manifest);
      const tokens = await tokensOf(p, SENTENCES);
      const edge = await timeInProcess(worker.url, {
        path: `/v1/models/${p.manifest.id}/predict`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, 'cache-control': 'no-store' },
        body: JSON.stringify({ inputs: SENTENCES, parameters: { aggregation_strategy: 'simple' } }),
        iterations: Math.min(ITER, 100),
      });
      const native = await timeTaskNative(p, SENTENCES);
      raw[`tokens/s ${p.manifest.id}`] = { tokens, edge, native };
      throughput.push([
        p.manifest.id,
        tokens,
        (tokens / edge.p50) * 1000,
        (tokens / native.p50) * 1000,
        edge.p50 / native.p50,
      ]);
    }
    const tps = table(
      'token-classification throughput: 8 sentences per request, whole task (p50), tokens/s',
      ['model', 'tokens', 'workerd app (in-process)', 'native task (Node)', 'edge ÷ native time'],
      throughput,
    );
    return { tables: [runs, tps], raw };
  } finally {
    await worker.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
