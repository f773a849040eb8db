/**
 * @module voice-activity-detection: a WAV clip (raw `audio/wav` body or base64 in JSON) → mono 16 kHz →
 * Silero VAD run window by window carrying its recurrent state → speech probabilities → hysteresis, minimum
 * durations and padding → `{ duration, segments: [{ start, end }] }` in seconds.
 */
import { z } from 'zod';
import { ServiceError, describeIssues } from '../../lib/errors.js';
import { sha256Hex } from '../../lib/sha256.js';
import type { Manifest } from '../../lib/manifest.js';
import { type RequestBody, type TaskModule } from '../task.js';

import { asFloat32, type Feeds, type ModelRunner, type Outputs, type TensorData } from '../tensor.js';
import { decodeMono, looksLikeWav, readWavHeader, resample, WavError } from '../../codecs/wav.js';
import { base64ToBytes } from '../../codecs/base64.js';

export interface SpeechSegment {
  start: number;
  end: number;
}
export interface VadOutput {
  duration: number;
  segments: SpeechSegment[];
}

export interface VadParameters {
  threshold: number;
  neg_threshold: number;
  min_speech_duration_ms: number;
  min_silence_duration_ms: number;
  speech_pad_ms: number;
}

export interface VadInput {
  /** Mono samples at the model's rate. */
  samples: Float32Array;
  /** The clip's own duration in seconds (before resampling). */
  duration: number;
  /** sha256 of the uploaded bytes: the cache key names the audio without carrying it. */
  digest: string;
  params: VadParameters;
}

/** Longest clip any placement accepts; the edge's own limit is the manifest's `edge_limits.max_seconds`. */
export const HARD_MAX_SECONDS = 600;
export const WAV_MEDIA_TYPES: readonly string[] = ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'];

/** How the model is fed (manifest `preprocess`); Silero v5's defaults at 16 kHz. */
const PreprocessSchema = z.object({
  sample_rate: z.number().int().positive().default(16_000),
  window: z.number().int().positive().default(512),
  /** Samples of the previous window prepended to each one, as Silero's own wrapper does for v5. */
  context: z.number().int().nonnegative().default(64),
  state_shape: z.array(z.number().int().positive()).default([2, 1, 128]),
});
type Preprocess = z.infer<typeof PreprocessSchema>;

const Range = (min: number, max: number) => z.number().min(min).max(max);
const ParametersSchema = z
  .object({
    threshold: Range(0.01, 0.99).optional(),
    neg_threshold: Range(0, 0.99).optional(),
    min_speech_duration_ms: Range(0, 60_000).optional(),
    min_silence_duration_ms: Range(0, 60_000).optional(),
    speech_pad_ms: Range(0, 5_000).optional(),
  })
  .strict();

/** Defaults from the manifest's `postprocess`, falling back to Silero's published ones. */
const DefaultsSchema = z.object({
  threshold: z.number().default(0.5),
  neg_threshold_offset: z.number().default(0.15),
  min_speech_duration_ms: z.number().default(250),
  min_silence_duration_ms: z.number().default(100),
  speech_pad_ms: z.number().default(30),
});

function preprocessConfig(manifest: Manifest): Preprocess {
  return PreprocessSchema.parse(manifest.preprocess);
}

function parameters(raw: Record<string, unknown>, manifest: Manifest): VadParameters {
  const parsed = ParametersSchema.safeParse(raw);
  if (!parsed.success)
    throw new ServiceError(422, 'invalid_input', describeIssues(parsed.error.issues, ['parameters']));
  const d = DefaultsSchema.parse(manifest.postprocess);
  const threshold = parsed.data.threshold ?? d.threshold;
  const neg = parsed.data.neg_threshold ?? Math.max(0.01, threshold - d.neg_threshold_offset);
  if (neg > threshold)
    throw new ServiceError(422, 'invalid_input', `parameters.neg_threshold: must not exceed threshold (${threshold}).`);
  return {
    threshold,
    neg_threshold: neg,
    min_speech_duration_ms: parsed.data.min_speech_duration_ms ?? d.min_speech_duration_ms,
    min_silence_duration_ms: parsed.data.min_silence_duration_ms ?? d.min_silence_duration_ms,
    speech_pad_ms: parsed.data.speech_pad_ms ?? d.speech_pad_ms,
  };
}

function audioBytes(body: RequestBody): Uint8Array {
  if (body.kind === 'binary') {
    const known = WAV_MEDIA_TYPES.includes(body.contentType);
    // application/octet-stream is taken only when the bytes say WAV; any other audio/image type is refused up front.
    if (!known && !(body.contentType === 'application/octet-stream' && looksLikeWav(body.bytes))) {
      throw new ServiceError(
        415,
        'unsupported_media_type',
        `voice-activity-detection takes WAV audio (${WAV_MEDIA_TYPES.join(', ')}), not ${body.contentType}.`,
      );
    }
    return body.bytes;
  }
  if (Array.isArray(body.inputs))
    throw new ServiceError(422, 'invalid_input', 'inputs: one WAV clip per request (a base64 string).');
  if (typeof body.inputs !== 'string')
    throw new ServiceError(422, 'invalid_input', 'inputs: must be a base64-encoded WAV file.');
  return base64ToBytes(body.inputs, 'inputs');
}

/** Seconds this request may last here: the edge limit when pinned to the edge, else the hard cap. */
function maxSeconds(manifest: Manifest): number {
  const edge = manifest.edge_limits.max_seconds;
  return manifest.placement === 'edge' && edge !== undefined ? Math.min(edge, HARD_MAX_SECONDS) : HARD_MAX_SECONDS;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * Silero's `get_speech_timestamps`: speech starts when a window's probability reaches `threshold`, ends after
 * `min_silence_duration_ms` below `neg_threshold` (hysteresis), segments shorter than `min_speech_duration_ms`
 * are dropped, and each is padded by `speech_pad_ms` (splitting gaps shorter than two pads in the middle).
 * Pure: probabilities in, sample offsets out.
 */
export function speechSegments(
  probs: ArrayLike<number>,
  totalSamples: number,
  sampleRate: number,
  window: number,
  p: VadParameters,
): { start: number; end: number }[] {
  const minSpeech = (sampleRate * p.min_speech_duration_ms) / 1000;
  const minSilence = (sampleRate * p.min_silence_duration_ms) / 1000;
  const pad = Math.round((sampleRate * p.speech_pad_ms) / 1000);
  const speeches: { start: number; end: number }[] = [];
  let triggered = false;
  let start = 0;
  let tempEnd: number | undefined;
  for (let i = 0; i < probs.length; i++) {
    const prob = probs[i] ?? 0;
    const at = window * i;
    if (prob >= p.threshold) tempEnd = undefined;
    if (prob >= p.threshold && !triggered) {
      triggered = true;
      start = at;
      continue;
    }
    if (prob < p.neg_threshold && triggered) {
      tempEnd ??= at;
      if (at - tempEnd < minSilence) continue;
      if (tempEnd - start > minSpeech) speeches.push({ start, end: tempEnd });
      triggered = false;
      tempEnd = undefined;
    }
  }
  if (triggered && totalSamples - start > minSpeech) speeches.push({ start, end: totalSamples });
  for (let i = 0; i < speeches.length; i++) {
    const s = speeches[i];
    if (s === undefined) continue;
    if (i === 0) s.start = Math.max(0, s.start - pad);
    const next = speeches[i + 1];
    if (next === undefined) {
      s.end = Math.min(totalSamples, s.end + pad);
      continue;
    }
    const gap = next.start - s.end;
    if (gap < 2 * pad) {
      s.end += Math.floor(gap / 2);
      next.start = Math.max(0, next.start - Math.floor(gap / 2));
    } else {
      s.end = Math.min(totalSamples, s.end + pad);
      next.start = Math.max(0, next.start - pad);
    }
  }
  return speeches;
}

/** Speech probability per window, one run per window, the recurrent state carried from each run to the next. */
export async function speechProbabilities(
  samples: Float32Array,
  runner: ModelRunner,
  manifest: Manifest,
): Promise<Float32Array> {
  const cfg = preprocessConfig(manifest);
  const [inputName, stateName, rateName] = manifest.inputs.map((i) => i.name);
  const [probName, stateOutName] = manifest.outputs.map((o) => o.name);
  if (
    inputName === undefined ||
    stateName === undefined ||
    rateName === undefined ||
    probName === undefined ||
    stateOutName === undefined
  ) {
    throw new Error(
      `manifest ${manifest.id}@${manifest.version} does not describe a Silero-style VAD (input, state, sr → output, stateN)`,
    );
  }
  const windows = Math.ceil(samples.length / cfg.window);
  const probs = new Float32Array(windows);
  const width = cfg.context + cfg.window;
  let state: TensorData = {
    type: 'float32',
    dims: cfg.state_shape,
    data: new Float32Array(cfg.state_shape.reduce((a, b) => a * b, 1)),
  };
  const rate: TensorData = { type: 'int64', dims: [], data: BigInt64Array.of(BigInt(cfg.sample_rate)) };
  for (let w = 0; w < windows; w++) {
    // [context from the previous window | this window], zero where the clip has not started or has ended.
    const frame = new Float32Array(width);
    const from = w * cfg.window - cfg.context;
    const lo = Math.max(0, from);
    const hi = Math.min(samples.length, w * cfg.window + cfg.window);
    frame.set(samples.subarray(lo, hi), lo - from);
    const feeds: Feeds = {
      [inputName]: { type: 'float32', dims: [1, width], data: frame },
      [stateName]: state,
      [rateName]: rate,
    };
    const out: Outputs = await runner.run(feeds);
    probs[w] = asFloat32(out[probName], probName)[0] ?? 0;
    const next = out[stateOutName];
    if (next === undefined) throw new Error(`model output ${stateOutName} is missing`);
    state = next;
  }
  return probs;
}

export const voiceActivityDetection: TaskModule<VadInput, VadOutput> = {
  task: 'voice-activity-detection',

  async parse(body: RequestBody, manifest: Manifest): Promise<VadInput> {
    const params = parameters(body.parameters, manifest);
    const bytes = audioBytes(body);
    if (!looksLikeWav(bytes))
      throw new ServiceError(
        415,
        'unsupported_media_type',
        'voice-activity-detection takes WAV audio (RIFF/WAVE); the bytes sent are not a WAV file.',
      );
    try {
      const header = readWavHeader(bytes);
      const limit = maxSeconds(manifest);
      if (header.seconds > limit) {
        throw new ServiceError(
          413,
          'payload_too_large',
          `The clip lasts ${header.seconds.toFixed(2)} s, over the limit of ${limit} s for this model.`,
        );
      }
      if (header.frames === 0) throw new WavError('the clip has no samples.');
      const rate = preprocessConfig(manifest).sample_rate;
      const samples = resample(decodeMono(bytes, header), header.sampleRate, rate);
      return {
        samples,
        duration: header.seconds, // A copy types as ArrayBuffer-backed under both the workerd and the Node typings (WebCrypto wants that).
        digest: await sha256Hex(new Uint8Array(bytes)),
        params,
      };
    } catch (err) {
      if (err instanceof WavError)
        throw new ServiceError(422, 'invalid_input', `inputs: corrupt or unsupported WAV file: ${err.message}`);
      throw err;
    }
  },

  size: (p) => ({ batch: 1, seconds: p.duration, inputBytes: p.samples.byteLength }),

  cacheKeyInput: (p) => ({ audio_sha256: p.digest, parameters: p.params }),

  preprocess(): Feeds {
    // Never used alone: the task always runs through execute (one run per window, carrying state).
    throw new Error('voice-activity-detection runs through execute()');
  },

  postprocess(_outputs: Outputs, p: VadInput): VadOutput {
    return { duration: round3(p.duration), segments: [] };
  },

  execute(p, runner, manifest) {
    return (async () => {
      const cfg = preprocessConfig(manifest);
      const probs = await speechProbabilities(p.samples, runner, manifest);
      const segments = speechSegments(probs, p.samples.length, cfg.sample_rate, cfg.window, p.params).map((s) => ({
        start: round3(s.start / cfg.sample_rate),
        end: round3(Math.min(p.duration, s.end / cfg.sample_rate)),
      }));
      return { duration: round3(p.duration), segments };
    })();
  },
};
