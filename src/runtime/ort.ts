/**
 * @module The only importer of onnxruntime-web: wires ORT's WASM SIMD build into workerd and creates sessions.
 *
 * workerd forbids compiling WebAssembly from bytes, so ORT's own loader (fetch + instantiate) cannot work.
 * Wrangler imports the `.wasm` file as an already compiled `WebAssembly.Module`; we hand that to the
 * Emscripten glue through its `instantiateWasm` hook. ORT builds the Emscripten config object itself and
 * passes no extra keys, so the hook is put on `Object.prototype` for the duration of the first session
 * creation only (a property lookup on ORT's config object then finds it) and removed straight after.
 * This leans on ORT internals: the version is pinned and test/worker/runtime.test.ts covers it.
 */
import * as ort from 'onnxruntime-web/wasm';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import type { DType } from '../lib/manifest.js';
import { ModelRunError, type Feeds, type Outputs, type TensorData } from '../tasks/tensor.js';

const WASM_FILE = 'ort-wasm-simd-threaded.wasm';

/** A loaded model. `run` is not re-entrant in ORT-web; callers serialise (see sessions.ts). */
export interface EdgeSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Feeds, outputNames?: readonly string[]): Promise<Outputs>;
  release(): Promise<void>;
}

let initialised: Promise<void> | undefined;
let wasmMemory: WebAssembly.Memory | undefined;
const runtimeState = { created: 0, runs: 0 };

function configure(): void {
  // workerd has no Web Workers and refuses SharedArrayBuffer postMessage: one thread, no proxy worker.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  // An override that is never fetched: it makes ORT use the glue embedded in the bundle and skip URL lookups.
  ort.env.wasm.wasmPaths = { wasm: WASM_FILE };
  ort.env.logLevel = 'error';
}

type InstantiateHook = (
  imports: WebAssembly.Imports,
  receive: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
) => object;

const instantiateWasm: InstantiateHook = (imports, receive) => {
  const instance = new WebAssembly.Instance(ortWasm, imports);
  // The threaded build imports its memory; other builds export it. Look in both.
  const candidates = [...Object.values(instance.exports), ...Object.values(imports).flatMap((ns) => Object.values(ns))];
  wasmMemory = candidates.find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory);
  receive(instance, ortWasm);
  return {};
};

const sessionOptions: ort.InferenceSession.SessionOptions = {
  executionProviders: ['wasm'],
  graphOptimizationLevel: 'all',
  // Intra-op threads are moot with numThreads = 1; said explicitly so a copy of this config stays honest.
  intraOpNumThreads: 1,
  enableCpuMemArena: true,
};

/** Creates a session from model bytes. The first call initialises ORT; concurrent first calls wait for it. */
export async function createSession(bytes: Uint8Array): Promise<EdgeSession> {
  if (initialised === undefined) {
    configure();
    // Two creations racing through ORT's initialisation throw "multiple calls to initializeWebAssembly()":
    // the first creation runs alone with the hook installed, everyone else waits for it.
    Object.defineProperty(Object.prototype, 'instantiateWasm', {
      value: instantiateWasm,
      configurable: true,
      writable: true,
    });
    const first = ort.InferenceSession.create(bytes, sessionOptions);
    // Later creations only need ORT up; a bad first model still leaves it initialised (ORT remembers a failed init itself).
    initialised = first.then(
      () => undefined,
      () => undefined,
    );
    try {
      return wrap(await first);
    } finally {
      Reflect.deleteProperty(Object.prototype, 'instantiateWasm');
    }
  }
  await initialised;
  return wrap(await ort.InferenceSession.create(bytes, sessionOptions));
}

function wrap(session: ort.InferenceSession): EdgeSession {
  runtimeState.created += 1;
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputNames) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrt(t);
      runtimeState.runs += 1;
      let result: ort.InferenceSession.OnnxValueMapType;
      try {
        result = outputNames ? await session.run(ortFeeds, outputNames) : await session.run(ortFeeds);
      } catch (err) {
        throw new ModelRunError(err instanceof Error ? err.message : String(err));
      }
      const out: Outputs = {};
      for (const [name, t] of Object.entries(result)) {
        out[name] = fromOrt(t);
        t.dispose();
      }
      return out;
    },
    release: () => session.release(),
  };
}

function toOrt(t: TensorData): ort.Tensor {
  const dims = [...t.dims];
  switch (t.type) {
    case 'float32':
      return new ort.Tensor('float32', asType(t, Float32Array), dims);
    case 'int64':
      return new ort.Tensor('int64', asType(t, BigInt64Array), dims);
    case 'int32':
      return new ort.Tensor('int32', asType(t, Int32Array), dims);
    case 'uint8':
      return new ort.Tensor('uint8', asType(t, Uint8Array), dims);
    case 'int8':
      return new ort.Tensor('int8', asType(t, Int8Array), dims);
    case 'bool': {
      const src = t.data;
      const bytes =
        src instanceof Uint8Array
          ? src
          : Uint8Array.from(Array.isArray(src) ? src.map((v) => (v === true ? 1 : 0)) : []);
      return new ort.Tensor('bool', bytes, dims);
    }
    case 'string': {
      if (!Array.isArray(t.data) || !t.data.every((v): v is string => typeof v === 'string'))
        throw new TypeError('string tensor needs string data');
      return new ort.Tensor('string', t.data, dims);
    }
  }
}

function asType<T>(t: TensorData, ctor: abstract new (...args: never[]) => T): T {
  if (!(t.data instanceof ctor)) throw new TypeError(`tensor data does not match its type ${t.type}`);
  return t.data;
}

const ORT_TYPES: Partial<Record<ort.Tensor.Type, DType>> = {
  float32: 'float32',
  int64: 'int64',
  int32: 'int32',
  uint8: 'uint8',
  int8: 'int8',
  bool: 'bool',
  string: 'string',
};

function fromOrt(t: ort.Tensor): TensorData {
  const type = ORT_TYPES[t.type];
  if (type === undefined) throw new TypeError(`unsupported output tensor type ${t.type}`);
  const data = t.data;
  // Copy: ORT may reuse the buffer once the tensor is disposed.
  if (data instanceof Float32Array) return { type, dims: t.dims, data: data.slice() };
  if (data instanceof BigInt64Array) return { type, dims: t.dims, data: data.slice() };
  if (data instanceof Int32Array) return { type, dims: t.dims, data: data.slice() };
  if (data instanceof Int8Array) return { type, dims: t.dims, data: data.slice() };
  if (data instanceof Uint8Array) return { type, dims: t.dims, data: data.slice() };
  if (Array.isArray(data)) return { type, dims: t.dims, data: data.map(String) };
  throw new TypeError(`unsupported output tensor data for ${t.type}`);
}

/** Facts about the wiring, for the health endpoint and the upgrade test. */
export function runtimeInfo(): {
  ortVersion: string;
  wasmFile: string;
  wasmExports: number;
  simd: boolean;
  threads: number;
  sessionsCreated: number;
  runs: number;
  heapBytes: number | undefined;
} {
  return {
    ortVersion: ort.env.versions.web ?? 'unknown',
    wasmFile: WASM_FILE,
    wasmExports: WebAssembly.Module.exports(ortWasm).length,
    simd: WebAssembly.Module.exports(ortWasm).length > 0 && simdSupported(),
    threads: ort.env.wasm.numThreads ?? 1,
    sessionsCreated: runtimeState.created,
    runs: runtimeState.runs,
    heapBytes: wasmHeapBytes(),
  };
}

/** A minimal module using v128 ops: validates only where the engine supports WASM SIMD (what ORT itself checks). */
function simdSupported(): boolean {
  return WebAssembly.validate(
    new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
    ]),
  );
}

/** The WASM linear memory size (it grows, never shrinks), once ORT is up. */
function wasmHeapBytes(): number | undefined {
  return wasmMemory?.buffer.byteLength;
}
