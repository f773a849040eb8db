/**
 * @module Bring your own model: `npm run models -- publish <file.onnx|dir> --id ID --task TASK [...]`. Loads the
 * model in onnxruntime-web (Node, WASM, one thread: the edge's runtime) to prove it runs there, reads its I/O from the
 * session, writes a manifest with sizes and sha256, and uploads files → manifest → `latest` to the local R2 (wrangler's
 * platform proxy, the state `wrangler dev` uses) or the real bucket (`--remote`, through wrangler), with a progress bar.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import cliProgress from 'cli-progress';
import * as ortWeb from 'onnxruntime-web';
import {
  DTYPES,
  ManifestSchema,
  ModelIdSchema,
  r2Keys,
  TASKS,
  VersionSchema,
  type DType,
  type Manifest,
  type ManifestInput,
  type TaskName,
  type TensorSpec,
} from '../src/lib/manifest.js';
import { p50Latency, webSession } from '../models/lib/ort-eval.js';
import {
  inferTask,
  isHfFolder,
  isHfTextTask,
  readHfFolder,
  textTaskParts,
  tokenizerFolder,
  type CheckRun,
  type HfFolder,
} from './hf-folder.js';
import {
  decodeStepFeeds,
  decoderEdgeLimits,
  EDGE_CPU_BUDGET_MS,
  generationParts,
  type DecoderCheckRun,
} from '../models/lib/hf-generation-folder.js';
import { visionParts } from './hf-vision.js';
import { localProxy } from './local-state.js';

export interface PublishOptions {
  id: string;
  /** Required for a bare .onnx file or a folder without config.json; a Hugging Face folder's architecture picks it. */
  task?: string;
  version?: string;
  labels?: string[];
  description?: string;
  license?: string;
  placement?: 'edge' | 'origin' | 'auto';
  /** Longest token sequence for text models (default: the config's max positions, at most 512). */
  maxLength?: number;
  log?: (message: string) => void;
  /** Draw a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
}

export interface PreparedFile {
  name: string;
  bytes: Uint8Array;
}

export interface Prepared {
  manifest: Manifest;
  manifestText: string;
  files: PreparedFile[];
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');
/** ORT-web reports unnamed dynamic dimensions as 2^32 - 1. */
const UNNAMED_DIM = 4294967295;
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'] as const;

function isTask(t: string): t is TaskName {
  return (TASKS as readonly string[]).includes(t);
}
function isDType(t: string): t is DType {
  return (DTYPES as readonly string[]).includes(t);
}

/** The ONNX file and companion files of a path: a file, or a directory with exactly one `.onnx` (or `model.onnx`). */
function collectFiles(path: string, task: TaskName): { model: string; extra: string[] } {
  if (!existsSync(path)) throw new Error(`${path} does not exist`);
  if (statSync(path).isFile()) {
    if (task === 'feature-extraction')
      throw new Error('feature-extraction models are published as a directory with model.onnx and tokenizer.json');
    return { model: path, extra: [] };
  }
  const names = readdirSync(path);
  const onnx = names.filter((n) => n.endsWith('.onnx'));
  const model = onnx.includes('model.onnx') ? 'model.onnx' : onnx.length === 1 ? onnx[0] : undefined;
  if (model === undefined)
    throw new Error(`${path}: expected model.onnx or exactly one .onnx file (found ${onnx.length})`);
  const extra = TOKENIZER_FILES.filter((f) => names.includes(f)).map((f) => join(path, f));
  if (task === 'feature-extraction' && !names.includes('tokenizer.json'))
    throw new Error(`${path}: feature-extraction needs tokenizer.json beside the model`);
  return { model: join(path, model), extra };
}

function tensorSpecs(metadata: readonly ortWeb.InferenceSession.ValueMetadata[]): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor)
      throw new Error(`${m.name} is not a tensor (map/sequence outputs such as ZipMap cannot be served)`);
    if (!isDType(m.type)) throw new Error(`${m.name} has element type ${m.type}, which the service does not move`);
    return { name: m.name, dtype: m.type, shape: m.shape.map((d) => (d === UNNAMED_DIM ? -1 : d)) };
  });
}

/**
 * A vision folder's graph against its config: `pixel_values` (and DETR's optional `pixel_mask`) in, `logits` out with
 * one column per label (detection: plus "no object"), and detection's `pred_boxes`. Dynamic widths are checked by
 * the task at run time.
 */
function checkVisionGraph(
  task: 'image-classification' | 'object-detection',
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
  labels: number,
): void {
  const names = inputs.map((i) => i.name);
  if (!names.includes('pixel_values') || names.some((n) => n !== 'pixel_values' && n !== 'pixel_mask'))
    throw new Error(`model.onnx: vision models take pixel_values (and pixel_mask) (inputs: ${names.join(', ')})`);
  const logits = outputs.find((o) => o.name === 'logits');
  if (logits === undefined) throw new Error(`model.onnx: ${task} models answer logits`);
  if (task === 'object-detection' && !outputs.some((o) => o.name === 'pred_boxes'))
    throw new Error('model.onnx: object-detection models answer pred_boxes beside logits (DETR-style)');
  const width = logits.shape[logits.shape.length - 1];
  const expected = task === 'object-detection' ? labels + 1 : labels;
  if (typeof width === 'number' && width > 0 && width !== expected)
    throw new Error(
      `config.json: id2label has ${labels} labels but model.onnx's logits have ${width} columns` +
        (task === 'object-detection' ? ' (detection adds one for "no object")' : ''),
    );
}

function defaultVersion(): string {
  // Sortable and valid as a version: 20260501-121314.
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** Validates the model in ORT-web and writes the manifest; uploads nothing. */
export async function preparePublish(path: string, options: PublishOptions): Promise<Prepared> {
  const log = options.log ?? ((m: string) => console.error(m));
  if (!ModelIdSchema.safeParse(options.id).success)
    throw new Error(`--id ${options.id}: lowercase letters, digits and dashes`);
  const hf: HfFolder | undefined = isHfFolder(path) ? readHfFolder(path) : undefined;
  const taskName = options.task ?? (hf === undefined ? undefined : inferTask(hf));
  if (taskName === undefined)
    throw new Error('--task is required for a model without config.json (a Hugging Face folder names its own)');
  if (!isTask(taskName)) throw new Error(`--task ${taskName}: one of ${TASKS.join(', ')}`);
  const task = taskName;
  const version = options.version ?? defaultVersion();
  if (!VersionSchema.safeParse(version).success)
    throw new Error(`--version ${version}: letters, digits, dot, dash, underscore`);
  const collected = hf === undefined ? collectFiles(path, task) : { model: hf.modelPath, extra: [] };
  const model = collected.model;
  // A folder without config.json that holds a tokenizer (an older feature-extraction export) is read as a Hugging
  // Face folder with an empty config: the same checks and manifest parts, without the config's facts.
  const textFolder =
    hf ?? (task === 'feature-extraction' && statSync(path).isDirectory() ? tokenizerFolder(path, model) : undefined);
  const extra = textFolder === undefined ? collected.extra : [];
  const modelBytes = new Uint8Array(readFileSync(model));
  log(`loading ${model} (${modelBytes.byteLength} bytes) in onnxruntime-web (WASM, 1 thread)…`);
  const t0 = performance.now();
  const session = await webSession(modelBytes).catch((err: unknown) => {
    throw new Error(`onnxruntime-web cannot load ${model}: ${err instanceof Error ? err.message : String(err)}`);
  });
  const loadMs = performance.now() - t0;
  try {
    const inputs = tensorSpecs(session.inputMetadata);
    const outputs = tensorSpecs(session.outputMetadata);
    const files: PreparedFile[] = [
      { name: 'model.onnx', bytes: modelBytes },
      ...extra.map((f) => ({ name: basename(f), bytes: new Uint8Array(readFileSync(f)) })),
    ];
    let preprocess: Record<string, unknown> = {};
    let postprocess: Record<string, unknown> = {};
    let labels = options.labels;
    let stepMs: number | undefined;
    let edgeLimits: ManifestInput['edge_limits'] =
      task === 'feature-extraction' ? { max_tokens: 4096, max_batch: 64 } : {};
    if (textFolder !== undefined && isHfTextTask(task)) {
      const run: CheckRun = async (feeds) => {
        const out = await session.run(
          Object.fromEntries(
            Object.entries(feeds).map(([name, f]) => [name, new ortWeb.Tensor('int64', f.data, f.dims)]),
          ),
        );
        return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { type: t.type, dims: t.dims }]));
      };
      const parts = await textTaskParts(
        task,
        textFolder,
        inputs.map((i) => i.name),
        run,
        options.maxLength === undefined ? {} : { maxLength: options.maxLength },
      );
      for (const name of parts.files) files.push({ name, bytes: new Uint8Array(readFileSync(join(path, name))) });
      preprocess = parts.preprocess;
      postprocess = parts.postprocess;
      labels = options.labels ?? parts.labels;
      edgeLimits = parts.edge_limits;
      if (labels !== undefined && parts.labels !== undefined && labels.length !== parts.labels.length)
        throw new Error(`--labels names ${labels.length} labels; config.json's id2label has ${parts.labels.length}`);
    } else if (hf !== undefined && task === 'text-generation') {
      const run: DecoderCheckRun = async (feeds) => {
        const out = await session.run(
          Object.fromEntries(
            Object.entries(feeds).map(([name, f]) => [
              name,
              f.data instanceof Float32Array
                ? new ortWeb.Tensor('float32', f.data, f.dims)
                : f.data instanceof BigInt64Array
                  ? new ortWeb.Tensor('int64', f.data, f.dims)
                  : new ortWeb.Tensor('bool', Uint8Array.from(f.data as boolean[], Number), f.dims),
            ]),
          ),
        );
        return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, { dims: t.dims }]));
      };
      const parts = await generationParts(
        path,
        inputs.map((i) => i.name),
        run,
      );
      for (const name of parts.files) files.push({ name, bytes: new Uint8Array(readFileSync(join(path, name))) });
      preprocess = parts.preprocess;
      postprocess = parts.postprocess;
      // The edge limits come from this machine's measurement of one decode step in onnxruntime-web (1 thread).
      const measured = await p50Latency(modelBytes, decodeStepFeeds(parts.postprocess), {
        runtime: 'web',
        warmup: 10,
        iterations: 50,
      });
      // Limits from the figure the manifest records, so a reader can check one against the other.
      stepMs = Number(measured.toFixed(4));
      edgeLimits = decoderEdgeLimits(parts.postprocess, modelBytes.byteLength, stepMs);
      log(`decode step ${stepMs.toFixed(3)} ms in onnxruntime-web → edge_limits ${JSON.stringify(edgeLimits)}`);
    } else if (hf !== undefined && (task === 'image-classification' || task === 'object-detection')) {
      const parts = visionParts(task, path, hf.rawConfig);
      checkVisionGraph(task, inputs, outputs, parts.labels.length);
      for (const name of [...parts.files, 'config.json'])
        files.push({ name, bytes: new Uint8Array(readFileSync(join(path, name))) });
      preprocess = parts.preprocess;
      postprocess = parts.postprocess;
      labels = options.labels ?? parts.labels;
      if (labels.length !== parts.labels.length)
        throw new Error(`--labels names ${labels.length} labels; config.json's id2label has ${parts.labels.length}`);
    }
    const text = new TextDecoder().decode(modelBytes);
    // A quantized export carries int8 operators; say so rather than calling it fp32.
    const int8 = /MatMulInteger|ConvInteger|DynamicQuantizeLinear|DequantizeLinear|QLinear/.test(text);
    const input: ManifestInput = {
      id: options.id,
      version,
      task,
      description:
        options.description ?? `${options.id}: a ${task} model published with the models CLI from ${basename(model)}.`,
      license: options.license ?? 'unspecified (published by its owner)',
      source: {
        kind: 'published',
        path: basename(path),
        ...(hf === undefined ? {} : { data: `Hugging Face folder (model_type ${hf.config.model_type})` }),
      },
      files: files.map((f) => ({ name: f.name, bytes: f.bytes.byteLength, sha256: sha256(f.bytes) })),
      model_file: 'model.onnx',
      inputs,
      outputs,
      ...(labels === undefined ? {} : { labels }),
      preprocess,
      postprocess,
      quantization: int8
        ? { type: 'int8', method: 'as published', reason: 'the published graph already holds int8 operators' }
        : { type: 'fp32', method: 'none', reason: 'published as is' },
      placement: options.placement ?? 'auto',
      edge_limits: edgeLimits,
      metrics: {
        onnxruntime_web_load_ms: Number(loadMs.toFixed(1)),
        ...(stepMs === undefined ? {} : { p50_ms_decode_step_web: stepMs, edge_cpu_budget_ms: EDGE_CPU_BUDGET_MS }),
      },
      created_at: new Date().toISOString(),
    };
    const manifest = ManifestSchema.parse(input);
    return { manifest, manifestText: `${JSON.stringify(manifest, null, 2)}\n`, files };
  } finally {
    await session.release();
  }
}

interface Upload {
  key: string;
  bytes: Uint8Array | string;
  contentType: string;
}

/** Files first, manifest next, `latest` last: a reader never sees a pointer to something half-written. */
function uploads(p: Prepared): Upload[] {
  const { id, version } = p.manifest;
  return [
    ...p.files.map((f) => ({
      key: r2Keys.file(id, version, f.name),
      bytes: f.bytes,
      contentType: f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    })),
    { key: r2Keys.manifest(id, version), bytes: p.manifestText, contentType: 'application/json' },
    { key: r2Keys.latest(id), bytes: version, contentType: 'text/plain' },
  ];
}

const size = (b: Uint8Array | string): number => (typeof b === 'string' ? Buffer.byteLength(b) : b.byteLength);

async function withProgress(items: Upload[], show: boolean, put: (u: Upload) => Promise<void>): Promise<void> {
  const total = items.reduce((n, u) => n + size(u.bytes), 0);
  const bar = show
    ? new cliProgress.SingleBar(
        { format: 'uploading [{bar}] {percentage}% | {value}/{total} bytes | {key}', stream: process.stderr },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, 0, { key: '' });
  try {
    for (const u of items) {
      bar?.update({ key: u.key });
      await put(u);
      bar?.increment(size(u.bytes));
    }
  } finally {
    bar?.stop();
  }
}

interface PutBucket {
  put(
    key: string,
    value: Uint8Array | string,
    options?: { httpMetadata?: { contentType?: string }; customMetadata?: Record<string, string> },
  ): Promise<unknown>;
}

/** Into the local R2 that `wrangler dev` and `npm start` read (`.wrangler/state/v3`, or `persistPath`). */
export async function uploadLocal(
  p: Prepared,
  options: { persistPath?: string; progress?: boolean } = {},
): Promise<void> {
  // `persistPath` is the proxy's own path (`<state dir>/v3`), as `--persist` takes it.
  const proxy = await localProxy<{ MODELS: PutBucket }>({ path: options.persistPath });
  try {
    await withProgress(uploads(p), options.progress ?? process.stderr.isTTY, async (u) => {
      // A plain Uint8Array: the proxy's serialiser refuses Node's Buffer subclass.
      const value = typeof u.bytes === 'string' ? u.bytes : new Uint8Array(u.bytes);
      await proxy.env.MODELS.put(u.key, value, {
        httpMetadata: { contentType: u.contentType },
        customMetadata: { sha256: sha256(u.bytes) },
      });
    });
  } finally {
    await proxy.dispose();
  }
}

/** Into the real bucket through wrangler (which holds the account's credentials). */
export async function uploadRemote(
  p: Prepared,
  bucket: string,
  options: { progress?: boolean; tmpDir: string },
): Promise<void> {
  mkdirSync(options.tmpDir, { recursive: true });
  await withProgress(uploads(p), options.progress ?? process.stderr.isTTY, (u) => {
    const file = join(options.tmpDir, sha256(u.key));
    writeFileSync(file, u.bytes);
    execFileSync(
      'npx',
      [
        'wrangler',
        'r2',
        'object',
        'put',
        `${bucket}/${u.key}`,
        '--file',
        file,
        '--content-type',
        u.contentType,
        '--remote',
      ],
      { stdio: 'ignore' },
    );
    return Promise.resolve();
  });
}

/** The published layout on disk (`<out>/<id>/<version>/…` and `<out>/<id>/latest`), as build/models has it. */
export function writeOut(p: Prepared, outRoot: string): string {
  const dir = join(outRoot, p.manifest.id, p.manifest.version);
  mkdirSync(dir, { recursive: true });
  for (const f of p.files) writeFileSync(join(dir, f.name), f.bytes);
  writeFileSync(join(dir, 'manifest.json'), p.manifestText);
  writeFileSync(join(outRoot, p.manifest.id, 'latest'), `${p.manifest.version}\n`);
  return dir;
}
