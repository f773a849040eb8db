/**
 * @module WAV decoding (RIFF/WAVE: PCM 8/16/24/32-bit integer, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE) to mono
 * float samples, and a windowed-sinc resampler. Runtime-neutral: the edge and the origin share it.
 *
 * Hand-written on purpose, after trying `wavefile@11` (the common npm WAV library): its ESM entry does not load in
 * Node (extensionless imports), it accepted a file whose data chunk was cut short without a word, and it took
 * 2.4 s to decode and resample one minute of 48 kHz stereo — a Worker's whole CPU budget. The chunk walk below
 * is small, checks every length against the buffer, and reports what is wrong in a sentence.
 */

/** A decoding failure with a message a client can act on (routes turn it into a 422). */
export class WavError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WavError';
  }
}

export type SampleFormat = 'pcm' | 'float';

/** What the `fmt ` chunk and the `data` chunk's length say, before any sample is decoded. */
export interface WavHeader {
  format: SampleFormat;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  /** Bytes of one sample frame (all channels). */
  blockAlign: number;
  /** Byte offset and length of the sample data inside the buffer. */
  dataOffset: number;
  dataBytes: number;
  frames: number;
  seconds: number;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const MAX_CHANNELS = 8;
const MIN_RATE = 1000;
const MAX_RATE = 384_000;

function fourcc(view: DataView, offset: number): string {
  return String.fromCharCode(
    view.getUint8(offset),
    view.getUint8(offset + 1),
    view.getUint8(offset + 2),
    view.getUint8(offset + 3),
  );
}

/** True when the bytes start like a RIFF/WAVE file (what decides 415 versus 422). */
export function looksLikeWav(bytes: Uint8Array): boolean {
  if (bytes.byteLength < 12) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return fourcc(view, 0) === 'RIFF' && fourcc(view, 8) === 'WAVE';
}

/** Walks the chunks and validates `fmt ` and `data`; decodes nothing, so a duration limit can refuse cheaply. */
export function readWavHeader(bytes: Uint8Array): WavHeader {
  if (!looksLikeWav(bytes)) throw new WavError('not a RIFF/WAVE file.');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let fmt: Omit<WavHeader, 'dataOffset' | 'dataBytes' | 'frames' | 'seconds'> | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = fourcc(view, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > bytes.byteLength) throw new WavError('the fmt chunk is truncated.');
      let tag = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      const blockAlign = view.getUint16(body + 12, true);
      const bitsPerSample = view.getUint16(body + 14, true);
      if (tag === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40) throw new WavError('the WAVE_FORMAT_EXTENSIBLE fmt chunk is truncated.');
        // The sub-format GUID's first two bytes carry the real format tag.
        tag = view.getUint16(body + 24, true);
      }
      if (tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_IEEE_FLOAT) {
        throw new WavError(
          `unsupported WAV encoding (format tag 0x${tag.toString(16)}); send PCM integer or IEEE float samples.`,
        );
      }
      const format: SampleFormat = tag === WAVE_FORMAT_PCM ? 'pcm' : 'float';
      const okBits = format === 'pcm' ? [8, 16, 24, 32].includes(bitsPerSample) : [32, 64].includes(bitsPerSample);
      if (!okBits)
        throw new WavError(`unsupported ${bitsPerSample}-bit ${format === 'pcm' ? 'PCM' : 'float'} samples.`);
      if (channels < 1 || channels > MAX_CHANNELS)
        throw new WavError(`unsupported channel count ${channels} (1–${MAX_CHANNELS}).`);
      if (sampleRate < MIN_RATE || sampleRate > MAX_RATE)
        throw new WavError(`unsupported sample rate ${sampleRate} Hz (${MIN_RATE}–${MAX_RATE}).`);
      if (blockAlign !== channels * (bitsPerSample / 8))
        throw new WavError('the fmt chunk is inconsistent (block align does not match channels × bits).');
      fmt = { format, channels, sampleRate, bitsPerSample, blockAlign };
    } else if (id === 'data') {
      if (fmt === undefined) throw new WavError('the data chunk comes before the fmt chunk.');
      // Streaming writers put 0 or 0xFFFFFFFF in the size when they cannot seek back; take what is there.
      const declared = size === 0 || size === 0xffffffff ? bytes.byteLength - body : size;
      if (body + declared > bytes.byteLength) {
        throw new WavError(
          `the data chunk is truncated (${declared} bytes declared, ${bytes.byteLength - body} present).`,
        );
      }
      const frames = Math.floor(declared / fmt.blockAlign);
      return { ...fmt, dataOffset: body, dataBytes: frames * fmt.blockAlign, frames, seconds: frames / fmt.sampleRate };
    }
    // Chunks are padded to an even size.
    offset = body + size + (size % 2);
  }
  throw new WavError(fmt === undefined ? 'no fmt chunk.' : 'no data chunk.');
}

/** Decodes the samples and averages the channels into one, as float32 in [-1, 1]. */
export function decodeMono(bytes: Uint8Array, header: WavHeader): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + header.dataOffset, header.dataBytes);
  const { channels, frames, bitsPerSample, format } = header;
  const width = bitsPerSample / 8;
  const read: (at: number) => number =
    format === 'float'
      ? bitsPerSample === 32
        ? (at) => view.getFloat32(at, true)
        : (at) => view.getFloat64(at, true)
      : bitsPerSample === 8
        ? (at) => (view.getUint8(at) - 128) / 128 // 8-bit PCM is unsigned
        : bitsPerSample === 16
          ? (at) => view.getInt16(at, true) / 32768
          : bitsPerSample === 24
            ? (at) => (view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608
            : (at) => view.getInt32(at, true) / 2147483648;
  const out = new Float32Array(frames);
  let at = 0;
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let ch = 0; ch < channels; ch++, at += width) sum += read(at);
    const v = sum / channels;
    // NaN or out-of-range floats would poison the model's recurrent state for the rest of the clip.
    out[f] = Number.isFinite(v) ? Math.max(-1, Math.min(1, v)) : 0;
  }
  return out;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** Zero crossings of the sinc on each side, at the lower of the two rates: the filter's sharpness. */
const ZERO_CROSSINGS = 16;
/** Cut-off as a fraction of the lower Nyquist frequency: leaves a transition band so the window can act. */
const ROLLOFF = 0.94;
/** Precomputed filter phases are kept when the rate ratio needs at most this many (44.1k → 16k needs 160). */
const MAX_PHASES = 1024;

function blackman(x: number): number {
  // x in [-1, 1]
  const t = Math.PI * (x + 1);
  return 0.42 - 0.5 * Math.cos(t) + 0.08 * Math.cos(2 * t);
}

/**
 * Band-limited resampling with a Blackman-windowed sinc low-pass (cut-off at 0.94 × the lower Nyquist, 16 zero
 * crossings each side), so downsampling from 44.1/48 kHz removes what would alias into the 0–8 kHz band.
 * For rational ratios the filter is precomputed per output phase (polyphase); otherwise computed per sample.
 */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return input;
  const g = gcd(fromRate, toRate);
  const up = toRate / g; // output phases
  const down = fromRate / g;
  const outLength = Math.floor((input.length * toRate) / fromRate);
  const out = new Float32Array(outLength);
  // Filter in input-sample units: cut-off relative to the input rate, width scaled when downsampling.
  const scale = Math.min(1, toRate / fromRate);
  const cutoff = ROLLOFF * scale; // × (fromRate / 2)
  const half = Math.ceil(ZERO_CROSSINGS / scale);
  const taps = 2 * half + 1;
  const kernel = (d: number): number => {
    // d: distance in input samples from the output instant
    if (Math.abs(d) >= half) return 0;
    const x = Math.PI * cutoff * d;
    const sinc = x === 0 ? 1 : Math.sin(x) / x;
    return cutoff * sinc * blackman(d / half);
  };
  const table = up <= MAX_PHASES ? new Float32Array(up * taps) : undefined;
  if (table !== undefined) {
    for (let p = 0; p < up; p++) {
      const frac = ((p * down) % up) / up;
      for (let k = 0; k < taps; k++) table[p * taps + k] = kernel(k - half - frac);
    }
  }
  for (let n = 0; n < outLength; n++) {
    const t = (n * down) / up;
    const base = Math.floor(t);
    let acc = 0;
    if (table !== undefined) {
      const row = (n % up) * taps;
      for (let k = 0; k < taps; k++) {
        const i = base - half + k;
        if (i >= 0 && i < input.length) acc += (input[i] ?? 0) * (table[row + k] ?? 0);
      }
    } else {
      const frac = t - base;
      for (let k = 0; k < taps; k++) {
        const i = base - half + k;
        if (i >= 0 && i < input.length) acc += (input[i] ?? 0) * kernel(k - half - frac);
      }
    }
    out[n] = acc;
  }
  return out;
}

export interface WavWriteOptions {
  sampleRate: number;
  channels?: number;
  format?: 'pcm16' | 'float32';
}

/** Encodes interleaved float samples as a WAV file (tests and benchmarks make their inputs with it). */
export function encodeWav(samples: Float32Array, options: WavWriteOptions): Uint8Array {
  const channels = options.channels ?? 1;
  const float = options.format === 'float32';
  const width = float ? 4 : 2;
  const dataBytes = samples.length * width;
  const bytes = new Uint8Array(44 + dataBytes);
  const view = new DataView(bytes.buffer);
  const ascii = (at: number, s: string): void => {
    for (let i = 0; i < 4; i++) view.setUint8(at + i, s.charCodeAt(i));
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, float ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM, true);
  view.setUint16(22, channels, true);
  view.setUint32(24, options.sampleRate, true);
  view.setUint32(28, options.sampleRate * channels * width, true);
  view.setUint16(32, channels * width, true);
  view.setUint16(34, width * 8, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i] ?? 0));
    if (float) view.setFloat32(44 + i * 4, v, true);
    else view.setInt16(44 + i * 2, Math.round(v * 32767), true);
  }
  return bytes;
}
