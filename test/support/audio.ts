/**
 * @module Real speech for the VAD tests: phrases synthesised with Debian's espeak-ng, their true speech
 * boundaries found from the samples' energy before padding, then padded with known silence (plus faint seeded
 * noise, so "silence" is not digital zero) and re-encoded at other rates, channel counts and sample formats.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMono, encodeWav, readWavHeader, resample, type WavWriteOptions } from '../../src/codecs/wav.js';
import type { AudioClip, AudioReferences } from './provided.js';
import { mulberry32 } from '../../models/lib/train.js';

/** 10 ms frames louder than this fraction of the loudest frame's RMS count as speech (about −34 dB). */
const ENERGY_FRACTION = 0.02;
const NOISE_RMS = 0.0015;

/** One phrase spoken by espeak-ng (US English, 160 words a minute), as the WAV file it writes. */
export function speechWav(text: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'speech-'));
  const file = join(dir, 'speech.wav');
  try {
    execFileSync('espeak-ng', ['-v', 'en-us', '-s', '160', '-w', file, text]);
    return new Uint8Array(readFileSync(file));
  } catch (err) {
    const missing = err instanceof Error && 'code' in err && err.code === 'ENOENT';
    throw new Error(
      missing ? 'espeak-ng is not installed: apt-get install espeak-ng (.ci/run does it)' : 'espeak-ng failed',
      { cause: err },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** espeak-ng's output for one phrase: mono samples and their rate. */
function speak(text: string): { samples: Float32Array; rate: number } {
  const bytes = speechWav(text);
  const header = readWavHeader(bytes);
  return { samples: decodeMono(bytes, header), rate: header.sampleRate };
}

/** First and last sample of the 10 ms frames whose RMS is over ENERGY_FRACTION of the loudest frame's. */
export function energyBounds(samples: Float32Array, rate: number): { start: number; end: number } {
  const frame = Math.round(rate / 100);
  const rms: number[] = [];
  for (let f = 0; f * frame < samples.length; f++) {
    let sum = 0;
    const hi = Math.min(samples.length, (f + 1) * frame);
    for (let i = f * frame; i < hi; i++) sum += (samples[i] ?? 0) ** 2;
    rms.push(Math.sqrt(sum / Math.max(1, hi - f * frame)));
  }
  const max = Math.max(...rms);
  const loud = rms.map((r) => r > max * ENERGY_FRACTION);
  const first = loud.indexOf(true);
  const last = loud.lastIndexOf(true);
  if (first === -1) throw new Error('no speech energy in the synthesised clip');
  return { start: first * frame, end: Math.min(samples.length, (last + 1) * frame) };
}

interface Part {
  text?: string;
  silence?: number;
}

/** Concatenates speech and silences; returns the clip at espeak's rate and the true speech spans in seconds. */
function compose(
  parts: Part[],
  seed: number,
): { samples: Float32Array; rate: number; speech: { start: number; end: number }[] } {
  const chunks: Float32Array[] = [];
  const speech: { start: number; end: number }[] = [];
  let rate = 22_050;
  let length = 0;
  for (const part of parts) {
    if (part.text !== undefined) {
      const s = speak(part.text);
      rate = s.rate;
      // Trim espeak's own leading/trailing quiet so the composed silences are exactly what we say they are.
      const b = energyBounds(s.samples, s.rate);
      const trimmed = s.samples.slice(b.start, b.end);
      speech.push({ start: length / rate, end: (length + trimmed.length) / rate });
      chunks.push(trimmed);
      length += trimmed.length;
    } else {
      const n = Math.round((part.silence ?? 0) * rate);
      chunks.push(new Float32Array(n));
      length += n;
    }
  }
  const samples = new Float32Array(length);
  let at = 0;
  for (const c of chunks) {
    samples.set(c, at);
    at += c.length;
  }
  const rand = mulberry32(seed);
  for (let i = 0; i < samples.length; i++) samples[i] = (samples[i] ?? 0) + NOISE_RMS * Math.sqrt(3) * (2 * rand() - 1);
  return { samples, rate, speech };
}

function clip(
  name: string,
  samples: Float32Array,
  rate: number,
  speech: { start: number; end: number }[],
  contentType: string,
  options: Omit<WavWriteOptions, 'sampleRate'> & { to: number },
): AudioClip {
  const mono = resample(samples, rate, options.to);
  const channels = options.channels ?? 1;
  const interleaved = new Float32Array(mono.length * channels);
  // Stereo: the right channel at 80% so the mono average differs from either channel.
  for (let i = 0; i < mono.length; i++)
    for (let c = 0; c < channels; c++) interleaved[i * channels + c] = (mono[i] ?? 0) * (c === 0 ? 1 : 0.8);
  const wav = encodeWav(interleaved, {
    sampleRate: options.to,
    channels,
    ...(options.format === undefined ? {} : { format: options.format }),
  });
  return { name, wav: Buffer.from(wav).toString('base64'), contentType, seconds: mono.length / options.to, speech };
}

/** The VAD test clips: one phrase in several encodings, and two phrases with a long pause between them. */
export function synthesiseAudio(): AudioReferences {
  const one = compose(
    [{ silence: 0.8 }, { text: 'The quick brown fox jumps over the lazy dog.' }, { silence: 1.0 }],
    1,
  );
  const two = compose(
    [{ silence: 0.6 }, { text: 'Hello there.' }, { silence: 1.5 }, { text: 'How are you today?' }, { silence: 0.7 }],
    2,
  );
  return {
    clips: [
      clip('22.05 kHz mono PCM16 (espeak-ng native)', one.samples, one.rate, one.speech, 'audio/wav', {
        to: one.rate,
      }),
      clip('48 kHz stereo PCM16', one.samples, one.rate, one.speech, 'audio/x-wav', { to: 48_000, channels: 2 }),
      clip('16 kHz mono float32', one.samples, one.rate, one.speech, 'audio/wave', { to: 16_000, format: 'float32' }),
      clip('8 kHz mono PCM16', one.samples, one.rate, one.speech, 'audio/wav', { to: 8_000 }),
      clip('two phrases, 16 kHz mono PCM16', two.samples, two.rate, two.speech, 'audio/wav', { to: 16_000 }),
    ],
  };
}
