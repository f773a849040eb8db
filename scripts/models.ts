/**
 * @module Model build CLI: `build [--force] [--only id]` runs every models/<id>/recipe.ts (cached); `quantize IN OUT
 * [--method]`; `publish <file.onnx|dir> --id ID --task TASK` uploads a model of your own (scripts/publish.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { QUANT_METHODS, quantizeModelWithReport, type QuantMethod } from '../models/lib/quantize.js';
import { sha256Hex, type Recipe } from '../models/lib/recipe.js';
import { preparePublish, uploadLocal, uploadRemote, writeOut } from './publish.js';
import type { Manifest } from '../src/storage/manifest.js';

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
 * directory at once; the second waits, then usually finds the cache fresh. A lock older than `staleMs` is broken.
 */
async function withLock<T>(dir: string, fn: () => Promise<T>, staleMs = 10 * 60_000): Promise<T> {
  const lock = `${dir}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > staleMs) rmSync(lock, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
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
  // A stale directory could keep files the new build no longer writes; start clean.
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Drop the hash first so an interrupted build is never taken for a finished one.
  rmSync(hashFile, { force: true });
  const manifest = await recipe.build({ outDir: dir, repoRoot: REPO_ROOT, log });
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(modelDir, 'latest'), `${recipe.version}\n`);
  writeFileSync(hashFile, `${hash}\n`);
  return { id: recipe.id, version: recipe.version, dir, skipped: false, manifest };
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

function isMethod(v: string): v is QuantMethod {
  return (QUANT_METHODS as readonly string[]).includes(v);
}

const USAGE = `usage:
  npx tsx scripts/models.ts build [--force] [--only <id>]...
  npx tsx scripts/models.ts quantize IN.onnx OUT.onnx [--method dynamic|qdq] [--min-elements N] [--reduce-range]
  npx tsx scripts/models.ts publish <file.onnx|dir> --id ID --task TASK [--labels a,b,c] [--version V] [--description TEXT]
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
      bucket: { type: 'string', default: 'edge-inference-models' },
      persist: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'build') {
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
    const minText = values['min-elements'];
    const minElements = minText === undefined ? undefined : Number(minText);
    if (minElements !== undefined && !Number.isInteger(minElements)) {
      console.error('--min-elements must be an integer');
      return 2;
    }
    const src = readFileSync(input);
    const { bytes, report } = quantizeModelWithReport(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), {
      method,
      reduceRange: values['reduce-range'],
      ...(minElements === undefined ? {} : { minElements }),
    });
    mkdirSync(dirname(resolve(output)), { recursive: true });
    writeFileSync(output, bytes);
    for (const q of report.quantized)
      console.log(`quantized ${q.op} ${q.node} weight ${q.weight} (${q.elements}) as ${q.method}`);
    for (const s of report.skipped) console.log(`kept fp32 ${s.op} ${s.node}: ${s.reason}`);
    console.log(
      `${input} (${src.byteLength} bytes) → ${output} (${bytes.byteLength} bytes, ratio ${(bytes.byteLength / src.byteLength).toFixed(3)})`,
    );
    return 0;
  }
  if (command === 'publish') return publishCommand(rest, values);
  console.error(`unknown command ${command}\n${USAGE}`);
  return 2;
}

interface PublishFlags {
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

async function publishCommand(rest: string[], values: PublishFlags): Promise<number> {
  const [path] = rest;
  const placement = values.placement;
  const maxLength = values['max-length'] === undefined ? undefined : Number(values['max-length']);
  if (path === undefined || values.id === undefined || values.task === undefined) {
    console.error(USAGE);
    return 2;
  }
  if (placement !== undefined && placement !== 'edge' && placement !== 'origin' && placement !== 'auto') {
    console.error('--placement must be edge, origin or auto');
    return 2;
  }
  if (maxLength !== undefined && !(Number.isInteger(maxLength) && maxLength >= 2)) {
    console.error('--max-length must be an integer ≥ 2');
    return 2;
  }
  const prepared = await preparePublish(path, {
    id: values.id,
    task: values.task,
    ...(values.version === undefined ? {} : { version: values.version }),
    ...(values.labels === undefined ? {} : { labels: values.labels.split(',').map((l) => l.trim()) }),
    ...(values.description === undefined ? {} : { description: values.description }),
    ...(values.license === undefined ? {} : { license: values.license }),
    ...(placement === undefined ? {} : { placement }),
    ...(maxLength === undefined ? {} : { maxLength }),
  });
  const m = prepared.manifest;
  console.error(
    `validated ${m.id}@${m.version} (${m.task}): inputs ${m.inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(',')}]`).join(', ')} → outputs ${m.outputs.map((o) => `${o.name} ${o.dtype}[${o.shape.join(',')}]`).join(', ')}`,
  );
  if (values.out !== undefined)
    console.error(`wrote ${relative(process.cwd(), writeOut(prepared, values.out)) || '.'}`);
  // --out alone writes files only; with --persist or by default it also uploads to the local R2.
  let where: string | undefined;
  if (values.remote === true) {
    await uploadRemote(prepared, values.bucket ?? 'edge-inference-models', { tmpDir: join(BUILD_DIR, '.publish') });
    where = `R2 bucket ${values.bucket ?? ''}`;
  } else if (values.out === undefined || values.persist !== undefined) {
    await uploadLocal(prepared, values.persist === undefined ? {} : { persistPath: values.persist });
    where = 'the local R2';
  }
  console.log(
    where === undefined
      ? `prepared ${m.id}@${m.version} (not uploaded)`
      : `published ${m.id}@${m.version} to ${where}; latest → ${m.version}`,
  );
  return 0;
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
