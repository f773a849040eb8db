/**
 * @module The origin's only importer of onnxruntime-node: execution-provider choice (CUDA when its add-on is
 * installed and a GPU answers, else CPU), session creation from verified bytes, and tensor conversion.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelRunError, type Feeds, type Outputs, type TensorData } from '../src/tasks/tensor.js';

export type ExecutionProvider = 'cuda' | 'cpu';

export interface RuntimeOptions {
  /** `auto` tries CUDA then CPU; `cpu` never tries CUDA. */
  provider: 'auto' | 'cuda' | 'cpu';
  intraOpNumThreads: number;
}

export interface OriginSession {
  readonly provider: ExecutionProvider;
  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs>;
  release(): Promise<void>;
}

/** What the server reports in `/v2`: the provider actually in use, and what the binding was built with. */
export interface RuntimeInfo {
  engine: 'onnxruntime-node';
  version: string;
  execution_provider: ExecutionProvider;
  available_providers: string[];
  cuda_addon_installed: boolean;
  intra_op_num_threads: number;
}

/**
 * Whether the CUDA add-on is installed: onnxruntime-node's install script puts the CUDA provider library next to
 * the native binding (it is skipped here by `.npmrc`, and installed in the Docker image).
 */
export function cudaAddonInstalled(): boolean {
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(
      join(dir, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'),
    );
  } catch {
    return false;
  }
}

const cudaInstalled = cudaAddonInstalled();
let cudaBroken = false;
let lastProvider: ExecutionProvider = 'cpu';

function toOrt(t: TensorData): ort.Tensor {
  if (t.type === 'bool') {
    // onnxruntime-node takes bool tensors as bytes.
    const values = t.data as boolean[];
    return new ort.Tensor(
      'bool',
      Uint8Array.from(values, (v) => (v ? 1 : 0)),
      t.dims,
    );
  }
  return new ort.Tensor(t.type, t.data, t.dims);
}

function fromOrt(t: ort.Tensor): TensorData {
  const type = t.type as TensorData['type'];
  if (type === 'bool') return { type, dims: [...t.dims], data: Array.from(t.data as Uint8Array, (v) => v !== 0) };
  return { type, dims: [...t.dims], data: t.data as TensorData['data'] };
}

async function create(
  bytes: Uint8Array,
  providers: ExecutionProvider[],
  threads: number,
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    // One thread per run by default: batching, not intra-op threads, is how the origin uses its cores.
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
}

/** A session on the best provider available: CUDA first under `auto`, CPU if CUDA cannot start. */
export async function createOriginSession(bytes: Uint8Array, options: RuntimeOptions): Promise<OriginSession> {
  let session: ort.InferenceSession | undefined;
  let provider: ExecutionProvider = 'cpu';
  // Under auto, a missing add-on is not worth an attempt (ORT would log a load failure for every model).
  if (options.provider === 'cuda' || (options.provider === 'auto' && cudaInstalled && !cudaBroken)) {
    try {
      session = await create(bytes, ['cuda', 'cpu'], options.intraOpNumThreads);
      provider = 'cuda';
    } catch (err) {
      // No CUDA add-on, no driver or no device: remember it and stop trying for every model.
      cudaBroken = true;
      if (options.provider === 'cuda') throw err;
      console.warn(JSON.stringify({ msg: 'CUDA execution provider unavailable, using CPU', err: String(err) }));
    }
  }
  session ??= await create(bytes, ['cpu'], options.intraOpNumThreads);
  lastProvider = provider;
  const s = session;
  return {
    provider,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = outputNames === undefined ? await s.run(ortFeeds) : await s.run(ortFeeds, [...outputNames]);
      } catch (err) {
        throw new ModelRunError(err instanceof Error ? err.message : String(err));
      }
      const out: Outputs = {};
      for (const [name, t] of Object.entries(result)) out[name] = fromOrt(t);
      return out;
    },
    release: () => s.release(),
  };
}

export function runtimeInfo(options: RuntimeOptions): RuntimeInfo {
  return {
    engine: 'onnxruntime-node',
    version: ort.env.versions.node ?? 'unknown',
    execution_provider: lastProvider,
    // 'cuda' is listed by the binding even without its add-on; report only what can actually run.
    available_providers: ort
      .listSupportedBackends()
      .filter((b) => b.bundled || (b.name === 'cuda' && cudaInstalled))
      .map((b) => b.name),
    cuda_addon_installed: cudaInstalled,
    intra_op_num_threads: options.intraOpNumThreads,
  };
}
