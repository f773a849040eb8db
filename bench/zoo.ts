/**
 * @module Vision and tabular zoo benchmark: for digits-mnist, text-orientation and iris-tree, every built variant
 * (fp32, int8 dynamic, int8 qdq) timed as `session.run` inside workerd (the bench Worker, the product's runtime
 * module) against onnxruntime-node (1 intra-op thread) and onnxruntime-web in Node, on a real input at batch 1; size
 * ratio to fp32; accuracy as the build measured it; WASM heap after load (one fresh bench Worker per model).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDigits, splitDigits } from '../models/digits-mnist/data.js';
import { digitInputs } from '../models/digits-mnist/recipe.js';
import { loadIris } from '../models/iris-tree/recipe.js';
import { lineInputs } from '../models/text-orientation/recipe.js';
import type { RenderedLine } from '../models/text-orientation/render.js';
import { readBuiltModels } from '../scripts/model-store.js';
import { ManifestSchema, type Manifest } from '../src/lib/manifest.js';
import { startWrangler, table, timeNodeRun, timeWebRun, timeWorkerdRun, type Summary } from './harness.js';

const ITER = Number(process.env['BENCH_ITER'] ?? 300);
const WARMUP = 30;
const VARIANTS = ['fp32', 'dynamic', 'qdq'] as const;

interface Case {
  id: string;
  manifest: Manifest;
  dir: string;
  input: string;
  dims: number[];
  data: Float32Array;
}

function cases(): Case[] {
  const built = new Map(readBuiltModels().map((m) => [m.id, m]));
  const get = (id: string): { manifest: Manifest; dir: string } => {
    const m = built.get(id);
    if (m === undefined) throw new Error(`${id} is not built: npm run models:build`);
    return { manifest: ManifestSchema.parse(JSON.parse(m.manifestText)), dir: m.dir };
  };
  const digits = get('digits-mnist');
  const digit = digitInputs(splitDigits(loadDigits()).heldout.slice(0, 1))[0] ?? new Float32Array(784);
  const lines = get('text-orientation');
  const rendered = (JSON.parse(readFileSync(join(lines.dir, 'eval.json'), 'utf8')) as RenderedLine[]).slice(0, 1);
  const iris = get('iris-tree');
  return [
    { id: 'digits-mnist', ...digits, input: 'image', dims: [1, 1, 28, 28], data: digit },
    {
      id: 'text-orientation',
      ...lines,
      input: 'x',
      dims: [1, 3, 48, 192],
      data: lineInputs(join(lines.dir, 'eval'), rendered),
    },
    { id: 'iris-tree', ...iris, input: 'features', dims: [1, 4], data: Float32Array.from(loadIris().x[0] ?? []) },
  ];
}

/** Variant name → file in the build directory (iris ships one fp32 file under its own name). */
function variantFiles(c: Case): { name: string; file: string }[] {
  const out: { name: string; file: string }[] = [];
  for (const v of VARIANTS) {
    const file = join(c.dir, v === 'fp32' ? 'model.fp32.onnx' : `model.int8-${v}.onnx`);
    if (existsSync(file)) out.push({ name: v, file });
  }
  if (out.length === 0)
    out.push({
      name: c.manifest.quantization.type === 'int8' ? c.manifest.quantization.method : 'fp32',
      file: join(c.dir, c.manifest.model_file),
    });
  return out;
}

function timeWorkerd(url: string, file: string, c: Case): Promise<Summary & { heapBytes: number }> {
  return timeWorkerdRun(
    url,
    readFileSync(file),
    [{ name: c.input, type: 'float32', dims: c.dims, data: Array.from(c.data) }],
    ITER,
    WARMUP,
  );
}

function accuracyOf(m: Manifest, variant: string): string {
  const key = variant === 'fp32' ? 'fp32_accuracy' : `int8_${variant}_accuracy`;
  const v =
    m.metrics[key] ?? (m.quantization.type === 'fp32' && variant === 'fp32' ? m.metrics['accuracy'] : undefined);
  return typeof v === 'number' ? v.toFixed(4) : 'n/a';
}

export async function benchZoo(): Promise<unknown> {
  const rows: (string | number)[][] = [];
  const raw: Record<string, unknown> = {};
  for (const c of cases()) {
    const files = variantFiles(c);
    const fp32Bytes = readFileSync(files[0]?.file ?? '').byteLength;
    // A fresh bench Worker per model, so the heap it reports after loading is this model's variants' alone.
    const worker = await startWrangler('bench/wrangler.toml', '/info');
    try {
      for (const v of files) {
        const bytes = readFileSync(v.file).byteLength;
        const edge = await timeWorkerd(worker.url, v.file, c);
        const run = { file: v.file, input: c.input, dims: c.dims, data: c.data, iterations: ITER, warmup: WARMUP };
        const node = await timeNodeRun(run);
        const web = await timeWebRun(run);
        const served = v.file.endsWith(c.manifest.model_file) ? ' (served)' : '';
        raw[`${c.id} ${v.name}`] = { bytes, edge, node, web };
        rows.push([
          c.id,
          `${v.name}${served}`,
          String(bytes),
          bytes / fp32Bytes,
          accuracyOf(c.manifest, v.name),
          edge.p50,
          edge.p99,
          node.p50,
          web.p50,
          edge.p50 / node.p50,
          edge.p50 / node.p50 <= 2 ? 'yes' : 'no',
          `${(edge.heapBytes / 2 ** 20).toFixed(0)} MiB`,
        ]);
      }
    } finally {
      await worker.stop();
    }
  }
  const runTable = table(
    `Zoo session.run at batch 1, ms (block means, ${ITER} runs each, 1 thread); goals: workerd ≤ 2× native, int8 ≤ 0.28 of fp32 size`,
    [
      'model',
      'variant',
      'bytes',
      'size ÷ fp32',
      'accuracy',
      'workerd p50',
      'workerd p99',
      'node p50',
      'web-in-node p50',
      'workerd ÷ node',
      '≤ 2×',
      'wasm heap',
    ],
    rows,
  );
  return { tables: [runTable], raw };
}

// Run alone with `npx tsx bench/zoo.ts`; bench/run.ts imports benchZoo instead.
if (process.argv[1]?.endsWith('zoo.ts') === true) {
  benchZoo().then(
    () => undefined,
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
