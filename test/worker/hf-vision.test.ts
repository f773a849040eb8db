/**
 * @module Hugging Face vision folders served inside workerd: the tiny ViT, DeiT (image-classification) and DETR
 * (object-detection) folders as publish prepared them, seeded into R2, called through `POST /v1/models/{id}/predict`
 * and compared with transformers.js's own pipelines run offline on the same folders in Node (test/support/hf-vision.ts).
 *
 * Tolerances: scores within 1e-4 (float32 inference in WASM vs onnxruntime-node; the pixel_values are bit-identical,
 * test/node/hf-vision.test.ts). Labels, their order and pixel boxes exactly equal: a box is trunc(coordinate × image
 * size), which could only differ if a coordinate fell within about 1e-5 px of an integer between the two runtimes.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { r2Keys } from '../../src/lib/manifest.js';
import { DetectionSchema } from '../../src/tasks/vision/object-detection.js';
import type { HfDetection, HfLabelScore } from '../support/provided.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes } from './seed.js';

const hf = inject('hfVision');
const SCORE_TOLERANCE = 1e-4;
const VIT = 'hf-tiny-vit';
const DEIT = 'hf-tiny-deit';
const DETR = 'hf-tiny-detr';
const predict = (id: string): string => `/v1/models/${id}/predict`;
const pngs = hf.pictures.map((p) => p.png);

beforeAll(async () => {
  for (const m of hf.models) {
    for (const [name, b64] of Object.entries(m.files))
      await env.MODELS.put(r2Keys.file(m.id, m.version, name), base64Bytes(b64));
    await env.MODELS.put(r2Keys.manifest(m.id, m.version), m.manifestText);
    await env.MODELS.put(r2Keys.latest(m.id), m.version);
  }
});

function expectLabels(actual: HfLabelScore[], expected: HfLabelScore[] | undefined, what: string): void {
  expect(expected, what).toBeDefined();
  expect(
    actual.map((r) => r.label),
    what,
  ).toEqual(expected?.map((r) => r.label));
  actual.forEach((r, i) =>
    expect(Math.abs(r.score - (expected?.[i]?.score ?? NaN)), what).toBeLessThan(SCORE_TOLERANCE),
  );
}

function expectDetections(actual: HfDetection[], expected: HfDetection[] | undefined, what: string, boxTol = 0): void {
  expect(expected, what).toBeDefined();
  expect(() => DetectionSchema.array().parse(actual)).not.toThrow();
  expect(
    actual.map((d) => d.label),
    what,
  ).toEqual(expected?.map((d) => d.label));
  actual.forEach((d, i) => {
    const e = expected?.[i];
    expect(Math.abs(d.score - (e?.score ?? NaN)), what).toBeLessThan(SCORE_TOLERANCE);
    if (boxTol === 0) expect(d.box, what).toEqual(e?.box);
    else
      for (const k of ['xmin', 'ymin', 'xmax', 'ymax'] as const)
        expect(Math.abs(d.box[k] - (e?.box[k] ?? NaN)), `${what} ${k}`).toBeLessThan(boxTol);
  });
}

async function ok<T>(res: Response): Promise<T> {
  expect(res.status, await res.clone().text()).toBe(200);
  return json<T>(res);
}

describe('published Hugging Face vision folders', () => {
  it('appear in the catalogue with the task their architecture names and the processor file', async () => {
    const list = await json<{ data: { id: string; task: string; labels?: string[] }[] }>(await call('/v1/models'));
    expect(list.data.find((d) => d.id === VIT)?.task).toBe('image-classification');
    expect(list.data.find((d) => d.id === DEIT)?.task).toBe('image-classification');
    expect(list.data.find((d) => d.id === DETR)?.task).toBe('object-detection');
  });
});

describe('image-classification (ViTImageProcessor: resize 32×32 bilinear; DeiT: resize 40×40 bicubic, crop 32×32)', () => {
  for (const id of [VIT, DEIT]) {
    const oracle = hf.classification[id];

    it(`${id}: each picture equals transformers.js (top 5 by default, top_k 2, top_k null = every label)`, async () => {
      expect(oracle?.defaults).toHaveLength(hf.pictures.length);
      for (const [i, p] of hf.pictures.entries()) {
        const top5 = await ok<HfLabelScore[]>(await postJson(predict(id), { inputs: p.png }));
        expect(top5).toHaveLength(5);
        expectLabels(top5, oracle?.defaults[i], `${id} ${p.name}`);
        const top2 = await ok<HfLabelScore[]>(await postJson(predict(id), { inputs: p.png, parameters: { top_k: 2 } }));
        expectLabels(top2, oracle?.top2[i], `${id} ${p.name} top_k 2`);
        const all = await ok<HfLabelScore[]>(
          await postJson(predict(id), { inputs: p.png, parameters: { top_k: null } }),
        );
        expect(all).toHaveLength(10);
        expectLabels(all, oracle?.all[i], `${id} ${p.name} top_k null`);
      }
    });

    it(`${id}: a batch of pictures of every size answers a list of lists, and a raw PNG body the same`, async () => {
      const batch = await ok<HfLabelScore[][]>(await postJson(predict(id), { inputs: pngs }));
      expect(batch).toHaveLength(pngs.length);
      batch.forEach((r, i) => expectLabels(r, oracle?.defaults[i], `${id} batch[${i}]`));
      const raw = await call(predict(id), {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: base64Bytes(pngs[1] ?? ''),
      });
      expectLabels(await ok<HfLabelScore[]>(raw), oracle?.defaults[1], `${id} raw body`);
    });
  }

  it('refuses bad parameters with 422 naming the field', async () => {
    for (const [parameters, field] of [
      [{ top_k: 0 }, 'parameters.top_k'],
      [{ top_k: 'five' }, 'parameters.top_k'],
      [{ threshold: 0.5 }, 'parameters'],
    ] as const) {
      const res = await postJson(predict(VIT), { inputs: pngs[0], parameters });
      expect(res.status, JSON.stringify(parameters)).toBe(422);
      expect((await json<ErrorJson>(res)).error.message).toContain(field);
    }
  });
});

describe('object-detection (DetrImageProcessor: shortest edge 64, longest 96, bilinear; pixel_mask)', () => {
  const oracle = hf.detection;

  it('each picture equals transformers.js at the default threshold (0.9), 0.5, and with percentage boxes', async () => {
    expect(oracle.defaults).toHaveLength(hf.pictures.length);
    // The model must not be degenerate: something found, something left out, and more found at a lower threshold.
    expect(oracle.defaults.some((d) => d.length > 0)).toBe(true);
    expect(oracle.low.flat().length).toBeGreaterThan(oracle.defaults.flat().length);
    for (const [i, p] of hf.pictures.entries()) {
      const found = await ok<HfDetection[]>(await postJson(predict(DETR), { inputs: p.png }));
      expectDetections(found, oracle.defaults[i], p.name);
      const low = await ok<HfDetection[]>(
        await postJson(predict(DETR), { inputs: p.png, parameters: { threshold: 0.5 } }),
      );
      expectDetections(low, oracle.low[i], `${p.name} threshold 0.5`);
      const fractions = await ok<HfDetection[]>(
        await postJson(predict(DETR), { inputs: p.png, parameters: { threshold: 0.5, percentage: true } }),
      );
      expectDetections(fractions, oracle.percentage[i], `${p.name} percentage`, 1e-5);
    }
  });

  it('answers a batch of differently sized pictures with a list of lists, each as that picture alone', async () => {
    const batch = await ok<HfDetection[][]>(
      await postJson(predict(DETR), { inputs: pngs, parameters: { threshold: 0.5 } }),
    );
    expect(batch).toHaveLength(pngs.length);
    batch.forEach((d, i) => expectDetections(d, oracle.low[i], `batch[${i}]`));
    const raw = await call(predict(DETR), {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: base64Bytes(pngs[2] ?? ''),
    });
    expectDetections(await ok<HfDetection[]>(raw), oracle.defaults[2], 'raw body');
  });

  it('refuses bad parameters and inputs with 422 naming the field', async () => {
    for (const [body, field] of [
      [{ inputs: pngs[0], parameters: { threshold: 1.5 } }, 'parameters.threshold'],
      [{ inputs: pngs[0], parameters: { threshold: 'high' } }, 'parameters.threshold'],
      [{ inputs: pngs[0], parameters: { percentage: 'yes' } }, 'parameters.percentage'],
      [{ inputs: pngs[0], parameters: { top_k: 3 } }, 'parameters'],
      [{ inputs: 42 }, 'inputs'],
      [{ inputs: [pngs[0], 7] }, 'inputs[1]'],
      [{ inputs: 'bm90IGFuIGltYWdl' }, 'inputs'],
    ] as const) {
      const res = await postJson(predict(DETR), body);
      expect(res.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      const err = await json<ErrorJson>(res);
      expect(err.error.code).toBe('invalid_input');
      expect(err.error.message).toContain(field);
    }
  });
});
