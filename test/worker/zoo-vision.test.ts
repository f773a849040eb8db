/**
 * @module The vision and tabular zoo through HTTP inside workerd: digits-mnist on held-out MNIST digits as PNG and
 * JPEG in both polarities, text-orientation on ImageMagick-rendered lines, iris-tree rows, the catalogue, and the
 * image error paths (415, 413, 422).
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes, seedModels } from './seed.js';

interface LabelScore {
  label: string;
  score: number;
}

const vision = inject('vision');
const DIGITS = '/v1/models/digits-mnist/predict';
const LINES = '/v1/models/text-orientation/predict';
const IRIS = '/v1/models/iris-tree/predict';

beforeAll(seedModels);

function raw(path: string, bytes: Uint8Array, contentType: string): Promise<Response> {
  return call(path, {
    method: 'POST',
    headers: { 'content-type': contentType, 'cache-control': 'no-store' },
    body: bytes,
  });
}

/** Top labels for a list of base64 images, sent as JSON batches. */
async function classify(path: string, images: string[], batch = 50): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < images.length; i += batch) {
    const res = await postJson(path, { inputs: images.slice(i, i + batch) }, { 'cache-control': 'no-store' });
    expect(res.status).toBe(200);
    const body = await json<LabelScore[][]>(res);
    out.push(...body.map((r) => r[0]?.label ?? ''));
  }
  return out;
}

const accuracy = (predicted: string[], labels: string[]): number =>
  predicted.filter((p, i) => p === labels[i]).length / labels.length;

describe('catalogue', () => {
  it('lists the zoo models with licence, source package, size, quantization, accuracy and edge latency', async () => {
    const body = await json<{ data: Record<string, unknown>[] }>(await call('/v1/models'));
    for (const id of ['digits-mnist', 'iris-tree', 'text-orientation']) {
      const card = body.data.find((d) => d['id'] === id);
      expect(card, id).toBeDefined();
      const metrics = card?.['metrics'] as Record<string, unknown>;
      const source = card?.['source'] as Record<string, unknown>;
      expect(typeof card?.['license']).toBe('string');
      expect(typeof source['package']).toBe('string');
      expect(typeof source['package_version']).toBe('string');
      expect(card?.['size_bytes']).toBeGreaterThan(0);
      expect(['int8', 'fp32']).toContain((card?.['quantization'] as { type: string }).type);
      expect(typeof metrics['accuracy']).toBe('number');
      expect(typeof metrics['edge_latency_ms_p50']).toBe('number');
    }
  });
});

describe('digits-mnist', () => {
  const labels = vision.digits.map((d) => d.label);

  it('reads held-out digits as PNG, white on black and black on white, with ≥ 0.95 accuracy', async () => {
    const plain = accuracy(
      await classify(
        DIGITS,
        vision.digits.map((d) => d.png),
      ),
      labels,
    );
    const inverted = accuracy(
      await classify(
        DIGITS,
        vision.digits.map((d) => d.pngInverted),
      ),
      labels,
    );
    expect(plain).toBeGreaterThanOrEqual(0.95);
    expect(inverted).toBeGreaterThanOrEqual(0.95);
  });

  it('reads enlarged held-out digits as JPEG in both polarities with ≥ 0.95 accuracy', async () => {
    const plain = accuracy(
      await classify(
        DIGITS,
        vision.digits.map((d) => d.jpeg),
      ),
      labels,
    );
    const inverted = accuracy(
      await classify(
        DIGITS,
        vision.digits.map((d) => d.jpegInverted),
      ),
      labels,
    );
    expect(plain).toBeGreaterThanOrEqual(0.95);
    expect(inverted).toBeGreaterThanOrEqual(0.95);
  });

  it('takes a raw image/png or image/jpeg body and answers one ranked list', async () => {
    const d = vision.digits[0];
    if (d === undefined) throw new Error('no digits');
    for (const [bytes, type] of [
      [d.png, 'image/png'],
      [d.jpegInverted, 'image/jpeg'],
    ] as const) {
      const res = await raw(DIGITS, base64Bytes(bytes), type);
      expect(res.status).toBe(200);
      const out = await json<LabelScore[]>(res);
      expect(out).toHaveLength(10);
      expect(out[0]?.label).toBe(d.label);
      expect(out.reduce((n, o) => n + o.score, 0)).toBeCloseTo(1, 4);
      expect(res.headers.get('X-Model')).toMatch(/^digits-mnist@/);
    }
  });

  it('accepts a data URL and honours top_k', async () => {
    const d = vision.digits[1];
    const res = await postJson(DIGITS, { inputs: `data:image/png;base64,${d?.png ?? ''}`, parameters: { top_k: 2 } });
    expect(res.status).toBe(200);
    expect(await json<LabelScore[]>(res)).toHaveLength(2);
  });
});

describe('text-orientation', () => {
  it('labels rendered text lines upright (0) or rotated (180) with ≥ 0.90 accuracy', async () => {
    const predicted = await classify(
      LINES,
      vision.lines.map((l) => l.png),
      16,
    );
    expect(
      accuracy(
        predicted,
        vision.lines.map((l) => l.label),
      ),
    ).toBeGreaterThanOrEqual(0.9);
  });
});

describe('iris-tree', () => {
  it('labels one row with one ranked list and many rows with many', async () => {
    const first = vision.iris[0];
    const one = await postJson(IRIS, { inputs: first?.row });
    expect(one.status).toBe(200);
    const single = await json<LabelScore[]>(one);
    expect(single[0]?.label).toBe(first?.label);
    expect(single.map((s) => s.label).sort()).toEqual(['setosa', 'versicolor', 'virginica']);
    const many = await json<LabelScore[][]>(await postJson(IRIS, { inputs: vision.iris.map((r) => r.row) }));
    expect(many.map((r) => r[0]?.label)).toEqual(vision.iris.map((r) => r.label));
  });

  it('refuses a row of the wrong width with 422 naming the field', async () => {
    const res = await postJson(IRIS, {
      inputs: [
        [5.1, 3.5, 1.4, 0.2],
        [5.1, 3.5, 1.4],
      ],
    });
    expect(res.status).toBe(422);
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe('invalid_input');
    expect(body.error.message).toMatch(/^inputs\[1\]: expected 4 numbers/);
    const nan = await postJson(IRIS, { inputs: [5.1, 'wide', 1.4, 0.2] });
    expect((await json<ErrorJson>(nan)).error.message).toMatch(/^inputs\[1\]/);
  });
});

describe('image errors', () => {
  const b = vision.broken;

  it('415 for GIF or text/plain, named as unsupported', async () => {
    const gif = await raw(DIGITS, base64Bytes(b.gif), 'image/gif');
    expect(gif.status).toBe(415);
    expect((await json<ErrorJson>(gif)).error.code).toBe('unsupported_media_type');
    const gifJson = await postJson(DIGITS, { inputs: b.gif });
    expect(gifJson.status).toBe(415);
    const text = await raw(DIGITS, new TextEncoder().encode('hello'), 'text/plain');
    expect(text.status).toBe(415);
  });

  it('413 over the pixel limit, read from the header', async () => {
    const res = await raw(DIGITS, base64Bytes(b.hugePng), 'image/png');
    expect(res.status).toBe(413);
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe('payload_too_large');
    expect(body.error.message).toMatch(/2100×2000/);
  });

  it('422 for a corrupt PNG, a truncated JPEG and bad base64, never a 500', async () => {
    for (const [bytes, type] of [
      [b.corruptPng, 'image/png'],
      [b.corruptJpeg, 'image/jpeg'],
    ] as const) {
      const res = await raw(DIGITS, base64Bytes(bytes), type);
      expect(res.status, type).toBe(422);
      expect((await json<ErrorJson>(res)).error.message).toMatch(/^body: /);
    }
    const bad = await postJson(DIGITS, { inputs: ['not base64 at all!'] });
    expect(bad.status).toBe(422);
    expect((await json<ErrorJson>(bad)).error.message).toBe('inputs[0]: not valid base64.');
    const notImage = await postJson(DIGITS, { inputs: btoa('just some text') });
    expect(notImage.status).toBe(422);
  });
});
