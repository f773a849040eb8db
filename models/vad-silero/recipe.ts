/**
 * @module vad-silero: Silero VAD v5 as shipped in @ricky0123/vad-web, copied byte for byte, served fp32 on the
 * edge. The shared int8 quantizer is tried on it and the outcome recorded: Silero keeps its Conv/LSTM weights inside
 * `If` subgraphs (one branch per sample rate), which the quantizer does not descend into, so it finds nothing to
 * quantize and fp32 ships.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import type { Manifest } from '../../src/storage/manifest.js';
import { QUANT_METHODS, quantizeModelWithReport } from '../lib/quantize.js';
import { validateManifest, writeArtifact, type Recipe, type RecipeContext } from '../lib/recipe.js';

export const ID = 'vad-silero';
/** Bump when anything below changes the model. */
export const VERSION = '5.0.0';
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

/** p50 of one window's run (context + window samples, state carried) in onnxruntime-node and onnxruntime-web, 1 thread. */
async function windowLatency(bytes: Uint8Array): Promise<{ node: number; web: number }> {
  const frame = Float32Array.from({ length: CONTEXT + WINDOW }, (_, i) => 0.1 * Math.sin(i / 7));
  const iterations = 200;
  const time = async (run: () => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < 20; i++) await run();
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      await run();
      times.push(performance.now() - t);
    }
    return median(times);
  };
  const n = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const nodeFeeds = {
    input: new ortNode.Tensor('float32', frame, [1, frame.length]),
    state: new ortNode.Tensor('float32', new Float32Array(256), [2, 1, 128]),
    sr: new ortNode.Tensor('int64', BigInt64Array.of(BigInt(SAMPLE_RATE)), []),
  };
  const node = await time(() => n.run(nodeFeeds));
  await n.release();
  ortWeb.env.wasm.numThreads = 1;
  ortWeb.env.wasm.proxy = false;
  const w = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const webFeeds = {
    input: new ortWeb.Tensor('float32', frame, [1, frame.length]),
    state: new ortWeb.Tensor('float32', new Float32Array(256), [2, 1, 128]),
    sr: new ortWeb.Tensor('int64', BigInt64Array.of(BigInt(SAMPLE_RATE)), []),
  };
  const web = await time(() => w.run(webFeeds));
  await w.release();
  return { node, web };
}

async function build(ctx: RecipeContext): Promise<Manifest> {
  const bytes = new Uint8Array(readFileSync(modelPath()));
  const version = packageVersion();
  const quantized = QUANT_METHODS.map((method) => ({ method, count: quantizeModelWithReport(bytes, { method }).report.quantized.length }));
  ctx.log(`  quantizer: ${quantized.map((q) => `${q.method} quantized ${q.count} nodes`).join(', ')}`);
  const anyQuantized = quantized.some((q) => q.count > 0);
  const latency = await windowLatency(bytes);
  ctx.log(`  p50 per ${WINDOW}-sample window: onnxruntime-node ${latency.node.toFixed(3)} ms, onnxruntime-web ${latency.web.toFixed(3)} ms`);
  const file = writeArtifact(ctx.outDir, 'model.onnx', bytes);
  return validateManifest({
    id: ID,
    version: VERSION,
    task: 'voice-activity-detection',
    description:
      'Voice activity detection: Silero VAD v5 (16 kHz, 32 ms windows with a recurrent state). Takes a WAV clip (PCM or float, any rate, mono or stereo) and answers the speech segments in seconds.',
    license: 'MIT (Silero VAD weights, via @ricky0123/vad-web, MIT)',
    source: { kind: 'npm', package: PACKAGE, package_version: version, path: `dist/${FILE}`, recipe: 'models/vad-silero/recipe.ts' },
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
    postprocess: { threshold: 0.5, neg_threshold_offset: 0.15, min_speech_duration_ms: 250, min_silence_duration_ms: 100, speech_pad_ms: 30 },
    quantization: anyQuantized
      ? { type: 'fp32', method: 'none', reason: 'int8 variants were not evaluated for this model; fp32 is the published weights' }
      : {
          type: 'fp32',
          method: 'none',
          reason: 'the shared quantizer found no MatMul/Gemm/Conv in the main graph: Silero keeps its Conv and LSTM weights inside If subgraphs (one per sample rate), so int8 would be the same model',
        },
    placement: 'edge',
    edge_limits: { max_seconds: MAX_SECONDS, max_batch: 1 },
    metrics: {
      bytes: bytes.byteLength,
      p50_ms_per_window_web: Number(latency.web.toFixed(4)),
      p50_ms_per_window_node: Number(latency.node.toFixed(4)),
      window_samples: WINDOW,
      sample_rate: SAMPLE_RATE,
    },
  });
}

export const recipe: Recipe = {
  id: ID,
  version: VERSION,
  inputs: () => ({ files: [modelPath()], packages: [PACKAGE, 'onnx-proto', 'protobufjs', 'onnxruntime-node', 'onnxruntime-web', 'zod'] }),
  build,
};
