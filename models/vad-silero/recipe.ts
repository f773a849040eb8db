/**
 * @module vad-silero: Silero VAD v5 as shipped in @ricky0123/vad-web, served fp32 on the edge with its 16 kHz branch
 * inlined (inline.ts): the published graph wraps two 113-node branches in an `If` on `sr`; the edge always feeds
 * 16 kHz, and without the `If` the file is 1.3 MB instead of 2.3 MB and the WASM heap 19 MiB instead of 28; runs are
 * as fast once V8 has tiered ORT up (0.25 ms per window) and ~1.7× faster before. The build checks the inlined graph
 * against the published one window by window (state carried) and fails if they differ.
 * The shared int8 quantizer is then tried on the inlined graph (it reaches the Conv weights there; LSTM weights stay
 * fp32) and int8 ships only if it is faster in onnxruntime-web by the shared margin and keeps speech probabilities
 * within 0.01 of fp32.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import type { Manifest } from '../../src/lib/manifest.js';
import { QUANT_METHODS, quantizeModelWithReport, type QuantMethod } from '../lib/quantize.js';
import { SPEED_MARGIN } from '../lib/variants.js';
import { inlineSampleRateBranch } from './inline.js';
import { validateManifest, writeArtifact, type Recipe, type RecipeContext } from '../lib/recipe.js';

export const ID = 'vad-silero';
/** Bump when anything below changes the model. */
export const VERSION = '5.1.0';
export const PACKAGE = '@ricky0123/vad-web';
const FILE = 'silero_vad_v5.onnx';
const SAMPLE_RATE = 16_000;
const WINDOW = 512;
const CONTEXT = 64;
/** One minute of audio is 1,875 windows, about a second of single-threaded runs at the edge. */
const MAX_SECONDS = 60;

/** The installed package's directory (its `exports` hide package.json, so resolve the main entry instead). */
function packageDir(): string {
  const require = createRequire(import.meta.url);
  let dir = dirname(require.resolve(PACKAGE));
  while (!dir.endsWith(join('node_modules', '@ricky0123', 'vad-web')) && dir !== dirname(dir)) dir = dirname(dir);
  return dir;
}

function modelPath(): string {
  return join(packageDir(), 'dist', FILE);
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(packageDir(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

/** Seeded test signal: tone bursts over faint noise, 4 s at 16 kHz (what the equivalence and int8 checks run on). */
function testSignal(): Float32Array {
  let a = 1;
  return Float32Array.from({ length: SAMPLE_RATE * 4 }, (_, i) => {
    a = (a * 1103515245 + 12345) >>> 0;
    const burst = Math.sin((Math.PI * i) / SAMPLE_RATE) ** 2;
    return 0.3 * burst * (Math.sin(i / 9) + 0.5 * Math.sin(i / 4.3)) + 0.01 * ((a / 4294967296) * 2 - 1);
  });
}

interface Runner {
  run(frame: Float32Array, state: Float32Array): Promise<{ prob: number; state: Float32Array }>;
  release(): Promise<void>;
}

async function runner(bytes: Uint8Array, runtime: 'node' | 'web'): Promise<Runner> {
  const sr = BigInt64Array.of(BigInt(SAMPLE_RATE));
  if (runtime === 'node') {
    const s = await ortNode.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return {
      async run(frame, state) {
        const out = await s.run({
          input: new ortNode.Tensor('float32', frame, [1, frame.length]),
          state: new ortNode.Tensor('float32', state, [2, 1, 128]),
          sr: new ortNode.Tensor('int64', sr, []),
        });
        return { prob: (out['output']?.data as Float32Array)[0] ?? NaN, state: out['stateN']?.data as Float32Array };
      },
      release: () => s.release(),
    };
  }
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.proxy = false;
  const s = await ortWeb.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  return {
    async run(frame, state) {
      const out = await s.run({
        input: new ortWeb.Tensor('float32', frame, [1, frame.length]),
        state: new ortWeb.Tensor('float32', state, [2, 1, 128]),
        sr: new ortWeb.Tensor('int64', sr, []),
      });
      return { prob: (out['output']?.data as Float32Array)[0] ?? NaN, state: out['stateN']?.data as Float32Array };
    },
    release: () => s.release(),
  };
}

/** Speech probability per window over the signal, state carried, as the task runs it; plus the p50 per window. */
async function probabilities(
  bytes: Uint8Array,
  runtime: 'node' | 'web',
  signal: Float32Array,
): Promise<{ probs: number[]; p50: number }> {
  const r = await runner(bytes, runtime);
  try {
    let state: Float32Array = new Float32Array(256);
    const probs: number[] = [];
    const times: number[] = [];
    // The first pass gives the probabilities; passes continue (state carried) until WARMUP_RUNS windows have run, so
    // V8 has tiered ORT's WASM up, and the last pass is timed.
    const windows = Math.floor((signal.length - CONTEXT) / WINDOW);
    const passes = Math.ceil(WARMUP_RUNS / windows) + 1;
    for (let pass = 0; pass < passes; pass++) {
      for (let at = 0; at + CONTEXT + WINDOW <= signal.length; at += WINDOW) {
        const t = performance.now();
        const out = await r.run(signal.slice(at, at + CONTEXT + WINDOW), state);
        if (pass === passes - 1) times.push(performance.now() - t);
        if (pass === 0) probs.push(out.prob);
        state = out.state;
      }
    }
    return { probs, p50: median(times) };
  } finally {
    await r.release();
  }
}

/** Runs before timing: V8 keeps WASM in its baseline tier until hot (0.44 ms per window cold, 0.25 ms warm). */
const WARMUP_RUNS = 2000;
const maxDiff = (a: number[], b: number[]): number => Math.max(...a.map((v, i) => Math.abs(v - (b[i] ?? NaN))));
/** int8 must keep every window's speech probability this close to fp32 (a proxy for the 1-point rule). */
const MAX_INT8_PROB_DIFF = 0.01;
/** The inlined graph must reproduce the published one to float rounding. */
const MAX_INLINE_DIFF = 1e-5;

async function build(ctx: RecipeContext): Promise<Manifest> {
  const published = new Uint8Array(readFileSync(modelPath()));
  const version = packageVersion();
  const signal = testSignal();
  const ref = await probabilities(published, 'node', signal);
  const publishedWeb = await probabilities(published, 'web', signal);
  const fp32 = inlineSampleRateBranch(published);
  const inlinedNode = await probabilities(fp32, 'node', signal);
  const inlinedWeb = await probabilities(fp32, 'web', signal);
  const inlineDiff = Math.max(maxDiff(inlinedNode.probs, ref.probs), maxDiff(inlinedWeb.probs, ref.probs));
  ctx.log(
    `  published: ${published.byteLength} bytes, p50/window web ${publishedWeb.p50.toFixed(3)} ms, node ${ref.p50.toFixed(3)} ms`,
  );
  ctx.log(
    `  16 kHz branch inlined: ${fp32.byteLength} bytes, p50/window web ${inlinedWeb.p50.toFixed(3)} ms, node ${inlinedNode.p50.toFixed(3)} ms, max |Δp| vs published ${inlineDiff.toExponential(2)}`,
  );
  if (!(inlineDiff <= MAX_INLINE_DIFF))
    throw new Error(`inlined graph differs from the published one by ${inlineDiff}`);

  const int8: { method: QuantMethod; bytes: Uint8Array; count: number; web: number; node: number; diff: number }[] = [];
  for (const method of QUANT_METHODS) {
    const { bytes, report } = quantizeModelWithReport(fp32, { method });
    if (report.quantized.length === 0) continue;
    const web = await probabilities(bytes, 'web', signal);
    const node = await probabilities(bytes, 'node', signal);
    const diff = maxDiff(node.probs, ref.probs);
    int8.push({ method, bytes, count: report.quantized.length, web: web.p50, node: node.p50, diff });
    ctx.log(
      `  int8 ${method}: ${report.quantized.length} Conv weights, ${bytes.byteLength} bytes, p50/window web ${web.p50.toFixed(3)} ms, node ${node.p50.toFixed(3)} ms, max |Δp| ${diff.toFixed(4)}`,
    );
  }
  const eligible = int8.filter((v) => v.diff <= MAX_INT8_PROB_DIFF && v.web < inlinedWeb.p50 * (1 - SPEED_MARGIN));
  const chosen = eligible.sort((a, b) => a.web - b.web)[0];
  const int8Summary = int8
    .map((v) => `${v.method} p50 ${v.web.toFixed(3)} ms, max |Δp| ${v.diff.toFixed(3)}`)
    .join('; ');
  const quantization: Manifest['quantization'] =
    chosen === undefined
      ? {
          type: 'fp32',
          method: 'none',
          reason:
            int8.length === 0
              ? 'the shared quantizer found nothing to quantize'
              : `int8 was not ≥ ${SPEED_MARGIN * 100}% faster in onnxruntime-web than fp32 (${inlinedWeb.p50.toFixed(3)} ms per window) while keeping speech probabilities within ${MAX_INT8_PROB_DIFF} (${int8Summary}); the LSTM (in a nested If of the decoder) stays fp32 either way: the quantizer rewrites MatMul/Gemm/Conv only`,
        }
      : {
          type: 'int8',
          method: chosen.method,
          reason: `≥ ${SPEED_MARGIN * 100}% faster in onnxruntime-web with speech probabilities within ${MAX_INT8_PROB_DIFF} of fp32 (${int8Summary})`,
        };
  const served = chosen?.bytes ?? fp32;
  const file = writeArtifact(ctx.outDir, 'model.onnx', served);
  writeArtifact(ctx.outDir, 'model.published.onnx', published);
  const servedWeb = chosen?.web ?? inlinedWeb.p50;
  const servedNode = chosen?.node ?? inlinedNode.p50;
  const round = (x: number): number => Number(x.toFixed(4));
  return validateManifest({
    id: ID,
    version: VERSION,
    task: 'voice-activity-detection',
    description:
      'Voice activity detection: Silero VAD v5 (16 kHz, 32 ms windows with a recurrent state). Takes a WAV clip (PCM or float, any rate, mono or stereo) and answers the speech segments in seconds.',
    license: 'MIT (Silero VAD weights, via @ricky0123/vad-web, MIT)',
    source: {
      kind: 'npm',
      package: PACKAGE,
      package_version: version,
      path: `dist/${FILE} (16 kHz branch inlined)`,
      recipe: 'models/vad-silero/recipe.ts',
    },
    files: [file],
    model_file: file.name,
    inputs: [
      { name: 'input', dtype: 'float32', shape: [1, 'samples'] },
      { name: 'state', dtype: 'float32', shape: [2, 1, 128] },
      { name: 'sr', dtype: 'int64', shape: [] },
    ],
    outputs: [
      { name: 'output', dtype: 'float32', shape: [1, 1] },
      { name: 'stateN', dtype: 'float32', shape: [2, 1, 128] },
    ],
    preprocess: { sample_rate: SAMPLE_RATE, window: WINDOW, context: CONTEXT, state_shape: [2, 1, 128] },
    postprocess: {
      threshold: 0.5,
      neg_threshold_offset: 0.15,
      min_speech_duration_ms: 250,
      min_silence_duration_ms: 100,
      speech_pad_ms: 30,
    },
    quantization,
    placement: 'edge',
    edge_limits: { max_seconds: MAX_SECONDS, max_batch: 1 },
    metrics: {
      bytes: served.byteLength,
      published_bytes: published.byteLength,
      edge_latency_ms_p50: round(servedWeb),
      edge_latency_measured: `p50 of session.run per ${WINDOW}-sample window (+${CONTEXT} context), state carried, onnxruntime-web 1.30 WASM SIMD, 1 thread, in Node (workerd figures: npm run bench)`,
      p50_ms_per_window_web: {
        published: round(publishedWeb.p50),
        inlined: round(inlinedWeb.p50),
        ...Object.fromEntries(int8.map((v) => [`int8_${v.method}`, round(v.web)])),
      },
      p50_ms_per_window_node: {
        published: round(ref.p50),
        inlined: round(inlinedNode.p50),
        served: round(servedNode),
        ...Object.fromEntries(int8.map((v) => [`int8_${v.method}`, round(v.node)])),
      },
      inline_max_prob_diff: Number(inlineDiff.toExponential(2)),
      ...Object.fromEntries(int8.map((v) => [`int8_${v.method}_max_prob_diff`, round(v.diff)])),
      window_samples: WINDOW,
      sample_rate: SAMPLE_RATE,
    },
  });
}

export const recipe: Recipe = {
  id: ID,
  version: VERSION,
  inputs: () => ({
    files: [modelPath()],
    packages: [PACKAGE, 'onnx-proto', 'protobufjs', 'onnxruntime-node', 'onnxruntime-web', 'zod'],
  }),
  build,
};
