/**
 * @module vad-silero through HTTP inside workerd: espeak-ng speech padded with known silence (made in the Node
 * global setup) in several encodings, silence only, and the 413/415/422 refusals.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeWav } from '../../src/codecs/wav.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes, seedModels } from './seed.js';

interface VadOutput {
  duration: number;
  segments: { start: number; end: number }[];
}

const PREDICT = '/v1/models/vad-silero/predict';
/** How far a segment boundary may sit from the true speech boundary. */
const TOLERANCE_S = 0.15;

beforeAll(seedModels);

function postWav(bytes: Uint8Array, contentType = 'audio/wav'): Promise<Response> {
  return call(PREDICT, {
    method: 'POST',
    headers: { 'content-type': contentType, 'cache-control': 'no-store' },
    body: bytes,
  });
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** Seeded faint noise, as a quiet room records. */
function noise(seconds: number, rate: number, rms = 0.0015): Float32Array {
  let a = 7;
  const out = new Float32Array(Math.round(seconds * rate));
  for (let i = 0; i < out.length; i++) {
    a = (a * 1103515245 + 12345) >>> 0;
    out[i] = rms * Math.sqrt(3) * ((a / 4294967296) * 2 - 1);
  }
  return out;
}

describe('vad-silero on synthesised speech', () => {
  const clips = inject('audio').clips;

  it.each(clips.map((c) => [c.name, c] as const))(
    '%s: segments start and end within 150 ms of the true speech',
    async (_name, clip) => {
      const res = await postWav(base64Bytes(clip.wav), clip.contentType);
      expect(res.status).toBe(200);
      expect(res.headers.get('X-Model')).toMatch(/^vad-silero@/);
      const out = await json<VadOutput>(res);
      expect(out.duration).toBeCloseTo(clip.seconds, 2);
      expect(out.segments.length).toBeGreaterThan(0);
      const first = clip.speech[0];
      const last = clip.speech[clip.speech.length - 1];
      if (first === undefined || last === undefined) throw new Error('clip without speech');
      expect(Math.abs((out.segments[0]?.start ?? -1) - first.start)).toBeLessThanOrEqual(TOLERANCE_S);
      expect(Math.abs((out.segments[out.segments.length - 1]?.end ?? -1) - last.end)).toBeLessThanOrEqual(TOLERANCE_S);
      // Every segment lies over speech (give or take the tolerance), and every true span is covered at both ends.
      for (const s of out.segments) {
        expect(s.end).toBeGreaterThan(s.start);
        expect(clip.speech.some((sp) => s.start >= sp.start - TOLERANCE_S && s.end <= sp.end + TOLERANCE_S)).toBe(true);
      }
      for (const sp of clip.speech) {
        expect(out.segments.some((s) => Math.abs(s.start - sp.start) <= TOLERANCE_S)).toBe(true);
        expect(out.segments.some((s) => Math.abs(s.end - sp.end) <= TOLERANCE_S)).toBe(true);
      }
    },
  );

  it('answers the same for base64 in JSON as for the raw body, and caches it', async () => {
    const clip = clips[0];
    if (clip === undefined) throw new Error('no clips');
    const raw = await json<VadOutput>(await postWav(base64Bytes(clip.wav)));
    const first = await postJson(PREDICT, { inputs: clip.wav });
    expect(first.status).toBe(200);
    expect(await json<VadOutput>(first)).toEqual(raw);
    const again = await postJson(PREDICT, { inputs: `data:audio/wav;base64,${clip.wav}` });
    expect(again.headers.get('X-Cache')).toBe('HIT');
    expect(await json<VadOutput>(again)).toEqual(raw);
  });

  it('finds no speech in silence', async () => {
    const res = await postWav(encodeWav(noise(3, 16_000), { sampleRate: 16_000 }));
    expect(res.status).toBe(200);
    expect(await json<VadOutput>(res)).toEqual({ duration: 3, segments: [] });
  });

  it('honours parameters: a stricter minimum speech duration drops short speech', async () => {
    const clip = clips.find((c) => c.speech.length === 2);
    if (clip === undefined) throw new Error('no two-phrase clip');
    const res = await postJson(PREDICT, { inputs: clip.wav, parameters: { min_speech_duration_ms: 5000 } });
    expect(res.status).toBe(200);
    expect((await json<VadOutput>(res)).segments).toEqual([]);
  });
});

describe('vad-silero refusals', () => {
  it('415 for a body that is not WAV', async () => {
    for (const [bytes, type] of [
      [new TextEncoder().encode('ID3\u0003 not really an mp3'), 'audio/mpeg'],
      [new TextEncoder().encode('just some text that is long enough'), 'audio/wav'],
    ] as const) {
      const res = await postWav(bytes, type);
      expect(res.status).toBe(415);
      expect((await json<ErrorJson>(res)).error.code).toBe('unsupported_media_type');
    }
    const b64 = await postJson(PREDICT, { inputs: toBase64(new TextEncoder().encode('%PDF-1.4 not audio at all')) });
    expect(b64.status).toBe(415);
  });

  it('413 for a clip over the model duration limit', async () => {
    // 61 s at 8 kHz PCM16 is under the test body limit (1 MiB) but over the manifest's max_seconds (60).
    const res = await postWav(encodeWav(new Float32Array(61 * 8000), { sampleRate: 8000 }));
    expect(res.status).toBe(413);
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe('payload_too_large');
    expect(body.error.message).toMatch(/61\.00 s/);
  });

  it('422 with a message for corrupt WAV files, never a 500', async () => {
    const good = encodeWav(noise(1, 16_000), { sampleRate: 16_000 });
    const truncated = good.slice(0, 20_000);
    const badBits = good.slice();
    new DataView(badBits.buffer).setUint16(34, 12, true);
    const noData = good.slice(0, 36);
    const hugeFmt = good.slice();
    new DataView(hugeFmt.buffer).setUint32(16, 1_000_000, true);
    for (const [bytes, pattern] of [
      [truncated, /data chunk is truncated/],
      [badBits, /12-bit/],
      [noData, /no data chunk/],
      [hugeFmt, /fmt chunk is truncated/],
    ] as const) {
      const res = await postWav(bytes);
      expect(res.status).toBe(422);
      const body = await json<ErrorJson>(res);
      expect(body.error.code).toBe('invalid_input');
      expect(body.error.message).toMatch(pattern);
    }
  });

  it('422 for bad parameters and for a list of clips', async () => {
    const wav = toBase64(encodeWav(noise(0.5, 16_000), { sampleRate: 16_000 }));
    const bad = await postJson(PREDICT, { inputs: wav, parameters: { threshold: 2 } });
    expect(bad.status).toBe(422);
    expect((await json<ErrorJson>(bad)).error.message).toMatch(/parameters\.threshold/);
    const inverted = await postJson(PREDICT, { inputs: wav, parameters: { threshold: 0.3, neg_threshold: 0.6 } });
    expect(inverted.status).toBe(422);
    const list = await postJson(PREDICT, { inputs: [wav, wav] });
    expect(list.status).toBe(422);
  });

  it('is in the catalogue with its source package and the reason for its quantization', async () => {
    const card = await json<{
      task: string;
      source: { package: string; path: string };
      quantization: { type: string; reason: string };
    }>(await call('/v1/models/vad-silero'));
    expect(card.task).toBe('voice-activity-detection');
    expect(card.source.package).toBe('@ricky0123/vad-web');
    expect(card.source.path).toMatch(/16 kHz branch inlined/);
    // Whichever way the build decided, the manifest says why in terms of the measured int8 variants.
    expect(card.quantization.reason).toMatch(/onnxruntime-web/);
  });
});
