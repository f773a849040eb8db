/**
 * @module Model build CLI: `build [--force] [--only id]` runs every models/<id>/recipe.ts (cached; verbose: every
 * recipe line on the terminal, onnxruntime's own warnings silenced); `plan [--json]` says which recipes are up to date
 * and how long each took last time, without building (what `npm start` orders its background builds by); `quantize IN
 * OUT [--method]`; `publish <file.onnx|dir> --id ID [--task TASK]` uploads a model of your own (scripts/publish.ts; a
 * Hugging Face folder through scripts/hf-folder.ts); `tiny TASK DIR` writes a tiny Hugging Face folder to try it. The
 * `edge-infer models quantize|publish` CLI commands run the same exported functions (quantizeFile, publishModel).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { TINY_FOLDERS } from '../models/hf-tiny/index.js';
import { decode, encode } from '../models/lib/onnx-builder.js';
import { QUANT_METHODS, quantizeModelProto, type QuantizeReport, type QuantMethod } from '../models/lib/quantize.js';
import { sha256Hex, type Recipe } from '../models/lib/recipe.js';
import { isHfFolder } from './hf-folder.js';
import { preparePublish, uploadLocal, uploadRemote, writeOut, type PublishOptions } from './publish.js';
import type { Manifest } from '../src/lib/manifest.js';
import type { ModelStatus } from '../src/storage/model-status.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BUILD_DIR = join(REPO_ROOT, 'build', 'models');
/** Bumped when the cache key's recipe changes, so old caches never match. */
const CACHE_SCHEME = 'models-cache/1';

const IMPORT = /(?:^|\s)(?:import|export)\s(?:[^'"]*?\sfrom\s)?['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The recipe's source closure: every file reachable through relative imports (`.js` specifiers map to `.ts`). */
export function sourceClosure(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1];
      if (spec === undefined) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target)) visit(target);
    }
  };
  visit(entry);
  return [...seen].sort();
}

/** Installed version of a package, from the lock file (some packages' exports hide their package.json). */
function packageVersion(name: string): string {
  const lock: unknown = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
  if (typeof lock === 'object' && lock !== null && 'packages' in lock) {
    const pkgs = lock.packages;
    if (typeof pkgs === 'object' && pkgs !== null) {
      const entry: unknown = Object.entries(pkgs).find(([k]) => k === `node_modules/${name}`)?.[1];
      if (typeof entry === 'object' && entry !== null && 'version' in entry && typeof entry.version === 'string')
        return entry.version;
    }
  }
  return 'unknown';
}

/** Hash of everything a recipe's output depends on: sources (by repo-relative path), data files, package versions. */
export function inputsHash(recipe: Recipe, entry: string): string {
  const parts: string[] = [CACHE_SCHEME, `node ${process.versions.node.split('.')[0] ?? ''}`];
  for (const f of sourceClosure(entry)) parts.push(`src ${relative(REPO_ROOT, f)} ${sha256Hex(readFileSync(f))}`);
  const inputs = recipe.inputs();
  for (const f of [...inputs.files].sort()) parts.push(`data ${relative(REPO_ROOT, f)} ${sha256Hex(readFileSync(f))}`);
  for (const p of [...inputs.packages].sort()) parts.push(`pkg ${p}@${packageVersion(p)}`);
  for (const e of [...(inputs.environment ?? [])].sort()) parts.push(`env ${e}`);
  return sha256Hex(parts.join('\n'));
}

function isRecipe(v: unknown): v is Recipe {
  return (
    typeof v === 'object' && v !== null && 'id' in v && 'version' in v && 'build' in v && typeof v.build === 'function'
  );
}

/** Recipe entry files: models/<id>/recipe.ts, sorted by id. */
export function recipeEntries(): string[] {
  const root = join(REPO_ROOT, 'models');
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'lib')
    .map((d) => join(root, d.name, 'recipe.ts'))
    .filter((f) => existsSync(f))
    .sort();
}

export async function loadRecipe(entry: string): Promise<Recipe> {
  const mod: unknown = await import(pathToFileURL(entry).href);
  const r = typeof mod === 'object' && mod !== null && 'recipe' in mod ? mod.recipe : undefined;
  if (!isRecipe(r)) throw new Error(`${entry} does not export a \`recipe\``);
  return r;
}

export interface BuildOptions {
  force?: boolean;
  only?: readonly string[];
  /** Output root (default build/models); tests build into a temporary directory. */
  outRoot?: string;
  log?: (message: string) => void;
}

export interface BuildOutcome {
  id: string;
  version: string;
  dir: string;
  skipped: boolean;
  manifest: Manifest;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Holds `<dir>.lock` (mkdir is atomic) around fn, so parallel test workers or two CLI runs never build into the same
 * directory at once; the second waits, then usually finds the cache fresh. The lock names its holder's pid, so a lock
 * whose holder is gone (Ctrl-C, `npm start` stopping its background build, an out-of-memory kill) is broken at once;
 * one with no live holder to ask about is broken after `staleMs`. No signal handler is needed: a signal's default
 * action ends a build at once, where a handler would wait for a long synchronous training loop to yield.
 */
async function withLock<T>(dir: string, fn: () => Promise<T>, staleMs = 10 * 60_000): Promise<T> {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (holderGone(lock) || age > staleMs) rmSync(lock, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Whether the process a lock names has exited (false when the lock names none yet, or it cannot be told). */
function holderGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
  } catch {
    return false; // just made, its pid not written yet (or an older lock without one: staleMs decides)
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return err instanceof Error && 'code' in err && err.code === 'ESRCH';
  }
}

/**
 * onnxruntime's own warnings ("Removing initializer …", printed for every session over a graph with folded
 * constants) are noise in a build: errors only, for onnxruntime-node and the onnxruntime-web copy the recipes also
 * run. Set here, in the build's entry rather than models/lib, because every recipe's cache key hashes its sources;
 * both runtimes read the level once, when their first session is made, so this must run before any recipe does.
 */
export function quietOnnxRuntime(): void {
  ortNode.env.logLevel = 'error';
  ortWeb.env.logLevel = 'error';
  // onnxruntime-web takes a session's severity from its options only (default: warnings), so its factory gets that
  // default here; a recipe that names a level keeps its own. (Setting it in models/lib/ort-eval.ts instead would
  // change every recipe's inputs hash and rebuild all the models for a log level.)
  const session = ortWeb.InferenceSession;
  const create = session.create.bind(session);
  Object.defineProperty(session, 'create', {
    configurable: true,
    writable: true,
    value: (model: unknown, ...rest: unknown[]): Promise<ortWeb.InferenceSession> => {
      const options = rest[0];
      if (rest.length <= 1 && (options === undefined || isSessionOptions(options))) {
        const quiet = { logSeverityLevel: 3 as const, ...options };
        if (typeof model === 'string') return create(model, quiet);
        if (model instanceof Uint8Array) return create(model, quiet);
      }
      return Reflect.apply(create, session, [model, ...rest]) as Promise<ortWeb.InferenceSession>;
    },
  });
}

function isSessionOptions(v: unknown): v is ortWeb.InferenceSession.SessionOptions {
  return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer);
}

/** The build's record of itself beside the model (`build/models/<id>/.build.json`): how long the last build took. */
export interface BuildRecord {
  seconds: number;
  finished_at: string;
}

/** The last build's record for a model, if one finished here. */
export function buildRecord(id: string, outRoot = BUILD_DIR): BuildRecord | undefined {
  const file = join(outRoot, id, '.build.json');
  if (!existsSync(file)) return undefined;
  try {
    const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof raw === 'object' && raw !== null && 'seconds' in raw && typeof raw.seconds === 'number')
      return { seconds: raw.seconds, finished_at: 'finished_at' in raw ? String(raw.finished_at) : '' };
  } catch {
    // a torn or hand-edited record is as good as none
  }
  return undefined;
}

/**
 * The build's state in `build/models/<id>/status.json` (the origin's local store reads it as R2's
 * `models/<id>/status.json`): a model whose directory is being rebuilt answers 503 "building" there, not 404.
 */
function writeBuildStatus(modelDir: string, status: Omit<ModelStatus, 'updated_at'>): void {
  mkdirSync(modelDir, { recursive: true });
  writeFileSync(
    join(modelDir, 'status.json'),
    `${JSON.stringify({ ...status, updated_at: new Date().toISOString() })}\n`,
  );
}

/** Builds one recipe into `<outRoot>/<id>/<version>/`, unless its inputs hash matches the last build's. */
export async function buildRecipe(entry: string, options: BuildOptions = {}): Promise<BuildOutcome> {
  const recipe = await loadRecipe(entry);
  return withLock(join(options.outRoot ?? BUILD_DIR, recipe.id), () => buildUnlocked(recipe, entry, options));
}

async function buildUnlocked(recipe: Recipe, entry: string, options: BuildOptions): Promise<BuildOutcome> {
  const log = options.log ?? ((m: string) => console.log(m));
  const outRoot = options.outRoot ?? BUILD_DIR;
  const modelDir = join(outRoot, recipe.id);
  const dir = join(modelDir, recipe.version);
  const hashFile = join(modelDir, '.inputs-hash');
  const manifestFile = join(dir, 'manifest.json');
  const hash = inputsHash(recipe, entry);
  const cached = existsSync(hashFile) && readFileSync(hashFile, 'utf8').trim() === hash && existsSync(manifestFile);
  if (cached && options.force !== true) {
    log(`${recipe.id}@${recipe.version}: up to date (inputs ${hash.slice(0, 12)})`);
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    return { id: recipe.id, version: recipe.version, dir, skipped: true, manifest };
  }
  log(`${recipe.id}@${recipe.version}: building`);
  const started = Date.now();
  const expected = buildRecord(recipe.id, outRoot)?.seconds;
  writeBuildStatus(modelDir, {
    state: 'building',
    version: recipe.version,
    progress: 0,
    started_at: new Date(started).toISOString(),
    ...(expected === undefined ? {} : { eta_seconds: expected }),
  });
  // A stale directory could keep files the new build no longer writes; start clean.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Drop the hash first so an interrupted build is never taken for a finished one.
  rmSync(hashFile, { force: true });
  let manifest: Manifest;
  try {
    manifest = await recipe.build({ outDir: dir, repoRoot: REPO_ROOT, log });
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
    writeBuildStatus(modelDir, { state: 'failed', version: recipe.version, reason: reason.slice(0, 300) });
    throw err;
  }
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(modelDir, 'latest'), `${recipe.version}\n`);
  writeFileSync(hashFile, `${hash}\n`);
  const record: BuildRecord = { seconds: (Date.now() - started) / 1000, finished_at: new Date().toISOString() };
  writeFileSync(join(modelDir, '.build.json'), `${JSON.stringify(record)}\n`);
  writeBuildStatus(modelDir, { state: 'ready', version: recipe.version });
  return { id: recipe.id, version: recipe.version, dir, skipped: false, manifest };
}

/** One recipe as `plan` reports it: whether its last build is current, and what that build cost. */
export interface BuildPlan {
  id: string;
  version: string;
  /** The inputs hash matches the last build's: `build` would skip it. */
  fresh: boolean;
  /** A finished build of some version is in the build directory (servable while a new one builds). */
  built: boolean;
  /** How long the last build took here, in seconds, when one was recorded. */
  seconds?: number;
}

/** Every recipe's plan (or those `only` names), in recipe order; nothing is built. */
export async function planBuilds(options: { only?: readonly string[]; outRoot?: string } = {}): Promise<BuildPlan[]> {
  const outRoot = options.outRoot ?? BUILD_DIR;
  const out: BuildPlan[] = [];
  for (const entry of recipeEntries()) {
    const id = relative(join(REPO_ROOT, 'models'), dirname(entry));
    if (options.only && options.only.length > 0 && !options.only.includes(id)) continue;
    const recipe = await loadRecipe(entry);
    const modelDir = join(outRoot, recipe.id);
    const hashFile = join(modelDir, '.inputs-hash');
    const manifestFile = join(modelDir, recipe.version, 'manifest.json');
    const fresh =
      existsSync(hashFile) &&
      readFileSync(hashFile, 'utf8').trim() === inputsHash(recipe, entry) &&
      existsSync(manifestFile);
    const latest = join(modelDir, 'latest');
    const built =
      existsSync(latest) && existsSync(join(modelDir, readFileSync(latest, 'utf8').trim(), 'manifest.json'));
    const seconds = buildRecord(recipe.id, outRoot)?.seconds;
    out.push({ id: recipe.id, version: recipe.version, fresh, built, ...(seconds === undefined ? {} : { seconds }) });
  }
  return out;
}

export async function buildAll(options: BuildOptions = {}): Promise<BuildOutcome[]> {
  const out: BuildOutcome[] = [];
  for (const entry of recipeEntries()) {
    const id = relative(join(REPO_ROOT, 'models'), dirname(entry));
    if (options.only && options.only.length > 0 && !options.only.includes(id)) continue;
    out.push(await buildRecipe(entry, options));
  }
  return out;
}

export function isMethod(v: string): v is QuantMethod {
  return (QUANT_METHODS as readonly string[]).includes(v);
}

/** The stages of `quantizeFile`, in order (the CLI draws a bar over them). */
export const QUANTIZE_STEPS = ['read', 'decode', 'quantize', 'encode', 'write'] as const;
export type QuantizeStep = (typeof QUANTIZE_STEPS)[number];

export interface QuantizeFileOptions {
  method: QuantMethod;
  reduceRange?: boolean;
  minElements?: number;
  /** Called as each stage starts (the work is synchronous, so this is the only progress there is to report). */
  onStep?: (step: QuantizeStep, index: number) => void;
}

export interface QuantizeFileResult {
  inputBytes: number;
  outputBytes: number;
  report: QuantizeReport;
}

/** Quantizes the ONNX file `input` into `output` (its directory made as needed); what `quantize` runs. */
export function quantizeFile(input: string, output: string, options: QuantizeFileOptions): QuantizeFileResult {
  const step = (s: QuantizeStep): void => options.onStep?.(s, QUANTIZE_STEPS.indexOf(s));
  step('read');
  const src = readFileSync(input);
  step('decode');
  const m = decode(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  step('quantize');
  const report = quantizeModelProto(m, {
    method: options.method,
    reduceRange: options.reduceRange ?? false,
    ...(options.minElements === undefined ? {} : { minElements: options.minElements }),
  });
  step('encode');
  const bytes = encode(m);
  step('write');
  mkdirSync(dirname(resolve(output)), { recursive: true });
  writeFileSync(output, bytes);
  return { inputBytes: src.byteLength, outputBytes: bytes.byteLength, report };
}

/** What `quantize` prints: one line per weight, then the sizes. */
export function quantizeSummary(input: string, output: string, r: QuantizeFileResult): string[] {
  return [
    ...r.report.quantized.map((q) => `quantized ${q.op} ${q.node} weight ${q.weight} (${q.elements}) as ${q.method}`),
    ...r.report.skipped.map((s) => `kept fp32 ${s.op} ${s.node}: ${s.reason}`),
    `${input} (${r.inputBytes} bytes) → ${output} (${r.outputBytes} bytes, ratio ${(r.outputBytes / r.inputBytes).toFixed(3)})`,
  ];
}

/** The `--min-elements` text as an integer, or a usage error. */
export function parseMinElements(text: string | undefined): number | undefined | { usage: string } {
  if (text === undefined) return undefined;
  const n = Number(text);
  return Number.isInteger(n) ? n : { usage: '--min-elements must be an integer' };
}

const USAGE = `usage:
  npx tsx scripts/models.ts build [--force] [--only <id>]...
  npx tsx scripts/models.ts plan [--json] [--only <id>]...
  npx tsx scripts/models.ts quantize IN.onnx OUT.onnx [--method dynamic|qdq] [--min-elements N] [--reduce-range]
  npx tsx scripts/models.ts tiny TASK DIR
  npx tsx scripts/models.ts publish <file.onnx|dir> --id ID [--task TASK] [--labels a,b,c] [--version V] [--description TEXT]
      [--license TEXT] [--placement edge|origin|auto] [--max-length N] [--remote [--bucket NAME]] [--persist DIR] [--out DIR]`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      force: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      method: { type: 'string', default: 'dynamic' },
      'min-elements': { type: 'string' },
      'reduce-range': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      id: { type: 'string' },
      task: { type: 'string' },
      labels: { type: 'string' },
      version: { type: 'string' },
      description: { type: 'string' },
      license: { type: 'string' },
      placement: { type: 'string' },
      'max-length': { type: 'string' },
      remote: { type: 'boolean', default: false },
      bucket: { type: 'string', default: DEFAULT_BUCKET },
      persist: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'plan') {
    const plans = await planBuilds({ only: values.only ?? [] });
    if (values.json) console.log(JSON.stringify(plans));
    else
      for (const p of plans)
        console.log(
          `${p.id}@${p.version} ${p.fresh ? 'up to date' : p.built ? 'stale (an older build is there)' : 'not built'}${p.seconds === undefined ? '' : `, last build ${p.seconds.toFixed(0)} s`}`,
        );
    return 0;
  }
  if (command === 'build') {
    quietOnnxRuntime();
    const outcomes = await buildAll({ force: values.force, only: values.only ?? [] });
    for (const o of outcomes)
      console.log(`${o.id}@${o.version} ${o.skipped ? 'cached' : 'built'} → ${relative(REPO_ROOT, o.dir)}`);
    return 0;
  }
  if (command === 'quantize') {
    const [input, output] = rest;
    if (input === undefined || output === undefined) {
      console.error(USAGE);
      return 2;
    }
    const method = values.method;
    if (!isMethod(method)) {
      console.error(`unknown --method ${method}; expected ${QUANT_METHODS.join(' | ')}`);
      return 2;
    }
    const minElements = parseMinElements(values['min-elements']);
    if (typeof minElements === 'object') {
      console.error(minElements.usage);
      return 2;
    }
    const result = quantizeFile(input, output, {
      method,
      reduceRange: values['reduce-range'],
      ...(minElements === undefined ? {} : { minElements }),
    });
    for (const line of quantizeSummary(input, output, result)) console.log(line);
    return 0;
  }
  if (command === 'tiny') {
    const [task, dir] = rest;
    const write = task === undefined ? undefined : TINY_FOLDERS[task];
    if (write === undefined || dir === undefined) {
      console.error(`usage: tiny TASK DIR (TASK: ${Object.keys(TINY_FOLDERS).join(', ')})`);
      return 2;
    }
    console.log(`wrote a tiny ${task} folder (random weights, Optimum's layout) → ${write(dir)}`);
    return 0;
  }
  if (command === 'publish') {
    const request = publishRequest(rest[0], values);
    if ('usage' in request) {
      console.error(request.usage === USAGE_MISSING ? USAGE : request.usage);
      return 2;
    }
    const outcome = await publishModel(request);
    console.log(publishSummary(outcome));
    return 0;
  }
  console.error(`unknown command ${command}\n${USAGE}`);
  return 2;
}

export const DEFAULT_BUCKET = 'edge-inference-models';
/**
 * `publishRequest`'s answer when the path, --id or --task (needed unless the folder has a Hugging Face config.json)
 * is missing: each caller prints its own usage text.
 */
export const USAGE_MISSING = 'missing <path>, --id or --task';

/** `publish`'s flags as parsed (strings, as on the command line). */
export interface PublishFlags {
  id?: string | undefined;
  task?: string | undefined;
  labels?: string | undefined;
  version?: string | undefined;
  description?: string | undefined;
  license?: string | undefined;
  placement?: string | undefined;
  'max-length'?: string | undefined;
  remote?: boolean | undefined;
  bucket?: string | undefined;
  persist?: string | undefined;
  out?: string | undefined;
}

/** A checked `publish`: what to validate and where to put it. */
export interface PublishRequest {
  path: string;
  options: PublishOptions;
  remote: boolean;
  bucket: string;
  persist?: string;
  out?: string;
}

/** Checks the flags (the same rules for this script and the `edge-infer` CLI); a usage error names the bad one. */
export function publishRequest(path: string | undefined, values: PublishFlags): PublishRequest | { usage: string } {
  const placement = values.placement;
  const maxLength = values['max-length'] === undefined ? undefined : Number(values['max-length']);
  // A Hugging Face folder (config.json) names its task through its architecture; anything else must say it.
  if (path === undefined || values.id === undefined || (values.task === undefined && !isHfFolder(path)))
    return { usage: USAGE_MISSING };
  if (placement !== undefined && placement !== 'edge' && placement !== 'origin' && placement !== 'auto')
    return { usage: '--placement must be edge, origin or auto' };
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 2))
    return { usage: '--max-length must be an integer ≥ 2' };
  return {
    path,
    options: {
      id: values.id,
      ...(values.task === undefined ? {} : { task: values.task }),
      ...(values.version === undefined ? {} : { version: values.version }),
      ...(values.labels === undefined ? {} : { labels: values.labels.split(',').map((l) => l.trim()) }),
      ...(values.description === undefined ? {} : { description: values.description }),
      ...(values.license === undefined ? {} : { license: values.license }),
      ...(placement === undefined ? {} : { placement }),
      ...(maxLength === undefined ? {} : { maxLength }),
    },
    remote: values.remote === true,
    bucket: values.bucket ?? DEFAULT_BUCKET,
    ...(values.persist === undefined ? {} : { persist: values.persist }),
    ...(values.out === undefined ? {} : { out: values.out }),
  };
}

export interface PublishOutcome {
  manifest: Manifest;
  /** Where it was uploaded, in words; undefined when only written to --out. */
  where?: string;
}

/**
 * Validates, optionally writes `--out`, and uploads (`--remote`: the real bucket; else the local R2 unless only
 * `--out` was given). Progress lines go to `log` (stderr by default), the upload bar to stderr when it is a terminal.
 */
export async function publishModel(
  request: PublishRequest,
  io: { log?: (message: string) => void; progress?: boolean } = {},
): Promise<PublishOutcome> {
  const log = io.log ?? ((m: string) => console.error(m));
  const prepared = await preparePublish(request.path, { ...request.options, log });
  const m = prepared.manifest;
  log(
    `validated ${m.id}@${m.version} (${m.task}): inputs ${m.inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(',')}]`).join(', ')} → outputs ${m.outputs.map((o) => `${o.name} ${o.dtype}[${o.shape.join(',')}]`).join(', ')}`,
  );
  if (request.out !== undefined) log(`wrote ${relative(process.cwd(), writeOut(prepared, request.out)) || '.'}`);
  const progress = io.progress === undefined ? {} : { progress: io.progress };
  // --out alone writes files only; with --persist or by default it also uploads to the local R2.
  if (request.remote) {
    await uploadRemote(prepared, request.bucket, { tmpDir: join(BUILD_DIR, '.publish'), ...progress });
    return { manifest: m, where: `R2 bucket ${request.bucket}` };
  }
  if (request.out === undefined || request.persist !== undefined) {
    await uploadLocal(prepared, {
      ...(request.persist === undefined ? {} : { persistPath: request.persist }),
      ...progress,
    });
    return { manifest: m, where: 'the local R2' };
  }
  return { manifest: m };
}

/** The last line `publish` prints (stdout). */
export function publishSummary(o: PublishOutcome): string {
  const m = o.manifest;
  return o.where === undefined
    ? `prepared ${m.id}@${m.version} (not uploaded)`
    : `published ${m.id}@${m.version} to ${o.where}; latest → ${m.version}`;
}

// Run only as a script, so tests can import buildAll/buildRecipe without side effects.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exitCode = 1;
    },
  );
}
