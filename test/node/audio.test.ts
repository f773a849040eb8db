/** @module WAV decoding, the windowed-sinc resampler and the VAD hysteresis, in Node (no model needed). */
import { describe, expect, it } from 'vitest';
import { speechSegments, type VadParameters } from '../../src/tasks/audio/voice-activity-detection.js';
import { decodeMono, encodeWav, readWavHeader, resample, WavError } from '../../src/codecs/wav.js';

const tone = (hz: number, rate: number, seconds: number, amp = 0.5): Float32Array =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / rate));

/** RMS over the middle half, away from the filter's edge effects. */
function rms(x: Float32Array): number {
  const lo = Math.floor(x.length / 4);
  const hi = Math.floor((3 * x.length) / 4);
  let s = 0;
  for (let i = lo; i < hi; i++) s += (x[i] ?? 0) ** 2;
  return Math.sqrt(s / (hi - lo));
}

describe('WAV decoding', () => {
  it('round-trips PCM16 and float32, and averages stereo into mono', () => {
    const x = tone(440, 16_000, 0.1);
    for (const format of ['pcm16', 'float32'] as const) {
      const bytes = encodeWav(x, { sampleRate: 16_000, format });
      const h = readWavHeader(bytes);
      expect(h).toMatchObject({
        sampleRate: 16_000,
        channels: 1,
        frames: x.length,
        format: format === 'pcm16' ? 'pcm' : 'float',
      });
      const y = decodeMono(bytes, h);
      for (let i = 0; i < x.length; i += 97) expect(y[i]).toBeCloseTo(x[i] ?? 0, format === 'pcm16' ? 3 : 6);
    }
    const stereo = Float32Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? 0.5 : -0.25));
    const bytes = encodeWav(stereo, { sampleRate: 8000, channels: 2, format: 'float32' });
    expect([...decodeMono(bytes, readWavHeader(bytes))]).toEqual([0.125, 0.125, 0.125, 0.125]);
  });

  it('skips unknown chunks and refuses broken files with a reason', () => {
    const base = encodeWav(tone(440, 8000, 0.05), { sampleRate: 8000 });
    // A LIST chunk (odd size, padded) between fmt and data.
    const list = new Uint8Array([...new TextEncoder().encode('LIST'), 3, 0, 0, 0, 1, 2, 3, 0]);
    const withList = new Uint8Array(base.length + list.length);
    withList.set(base.subarray(0, 36));
    withList.set(list, 36);
    withList.set(base.subarray(36), 36 + list.length);
    expect(readWavHeader(withList).frames).toBe(400);
    expect(() => readWavHeader(base.subarray(0, 100))).toThrow(/truncated/);
    expect(() => readWavHeader(new Uint8Array(40))).toThrow(WavError);
    const alaw = base.slice();
    new DataView(alaw.buffer).setUint16(20, 6, true);
    expect(() => readWavHeader(alaw)).toThrow(/format tag 0x6/);
  });
});

describe('resampling', () => {
  it('keeps in-band tones and removes what would alias', () => {
    for (const from of [44_100, 48_000, 22_050, 8000]) {
      const y = resample(tone(1000, from, 0.5), from, 16_000);
      expect(y.length).toBe(Math.floor(0.5 * 16_000));
      expect(rms(y) / (0.5 / Math.SQRT2)).toBeCloseTo(1, 1);
    }
    // 12 kHz at 48 kHz folds to 4 kHz at 16 kHz unless filtered: at least 40 dB down.
    expect(rms(resample(tone(12_000, 48_000, 0.5), 48_000, 16_000)) / (0.5 / Math.SQRT2)).toBeLessThan(0.01);
  });
});

describe('speech segments (hysteresis, durations, padding)', () => {
  const p: VadParameters = {
    threshold: 0.5,
    neg_threshold: 0.35,
    min_speech_duration_ms: 250,
    min_silence_duration_ms: 100,
    speech_pad_ms: 30,
  };
  const W = 512;
  const R = 16_000;
  const probs = (pattern: [number, number][]): number[] => pattern.flatMap(([v, n]) => Array<number>(n).fill(v));

  it('opens at threshold, stays open above neg_threshold, closes after the minimum silence, pads', () => {
    // 10 windows silence, 20 speech, 5 at 0.4 (between thresholds: still speech), 10 speech, 20 silence.
    const pr = probs([
      [0.1, 10],
      [0.9, 20],
      [0.4, 5],
      [0.9, 10],
      [0.1, 20],
    ]);
    const segs = speechSegments(pr, pr.length * W, R, W, p);
    expect(segs).toEqual([{ start: 10 * W - 480, end: 45 * W + 480 }]);
  });

  it('drops speech shorter than the minimum and bridges pauses shorter than the minimum silence', () => {
    expect(
      speechSegments(
        probs([
          [0.1, 10],
          [0.9, 5],
          [0.1, 20],
        ]),
        35 * W,
        R,
        W,
        p,
      ),
    ).toEqual([]);
    // A 2-window (64 ms) dip under neg_threshold is shorter than 100 ms: one segment.
    expect(
      speechSegments(
        probs([
          [0.9, 20],
          [0.1, 2],
          [0.9, 20],
          [0.1, 20],
        ]),
        62 * W,
        R,
        W,
        p,
      ),
    ).toHaveLength(1);
    // A 10-window (320 ms) pause splits it.
    expect(
      speechSegments(
        probs([
          [0.9, 20],
          [0.1, 10],
          [0.9, 20],
          [0.1, 20],
        ]),
        70 * W,
        R,
        W,
        p,
      ),
    ).toHaveLength(2);
  });

  it('closes a segment still open at the end of the clip', () => {
    expect(
      speechSegments(
        probs([
          [0.1, 5],
          [0.9, 20],
        ]),
        25 * W,
        R,
        W,
        p,
      ),
    ).toEqual([{ start: 5 * W - 480, end: 25 * W }]);
  });
});
