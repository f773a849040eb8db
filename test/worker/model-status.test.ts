/**
 * @module Models that are not ready (src/storage/model-status.ts), as `npm start`'s background builder leaves them in
 * the local R2: a building model answers 503 `model_unavailable` with Retry-After and says it is building, the
 * catalogue lists it apart with its progress (a failed one with its reason), KServe readiness is false, and it serves
 * once its build is seeded.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { r2Keys } from '../../src/lib/manifest.js';
import { statusKey, type ModelStatus } from '../../src/storage/model-status.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes } from './seed.js';

const BUILDING = 'status-building';
const FAILED = 'status-failed';
const REBUILDING = 'status-rebuilding';

interface Catalogue {
  data: { id: string; state?: string }[];
  not_ready?: {
    id: string;
    object: string;
    state: string;
    version?: string;
    progress?: number;
    eta_seconds?: number;
    reason?: string;
  }[];
}

function putStatus(id: string, status: Omit<ModelStatus, 'updated_at'>, updatedAt = new Date()): Promise<unknown> {
  return env.MODELS.put(statusKey(id), JSON.stringify({ ...status, updated_at: updatedAt.toISOString() }));
}

/** iris-tree's build under another id (the smallest model), as the builder seeds one: files, manifest, latest. */
async function seedAs(id: string): Promise<void> {
  const iris = inject('models').find((m) => m.id === 'iris-tree');
  if (iris === undefined) throw new Error('iris-tree was not built');
  for (const [name, b64] of Object.entries(iris.files))
    await env.MODELS.put(r2Keys.file(id, iris.version, name), base64Bytes(b64));
  const manifest = JSON.parse(iris.manifestText) as Record<string, unknown>;
  await env.MODELS.put(r2Keys.manifest(id, iris.version), JSON.stringify({ ...manifest, id }));
  await env.MODELS.put(r2Keys.latest(id), iris.version);
}

beforeAll(async () => {
  await seedAs('iris-tree');
  await putStatus(BUILDING, {
    state: 'building',
    version: '1.0.0',
    progress: 0.4,
    eta_seconds: 120,
    started_at: new Date().toISOString(),
  });
  await putStatus(FAILED, { state: 'failed', version: '1.0.0', reason: 'Error: out of memory while training' });
  // A model being rebuilt keeps serving its previous build.
  await seedAs(REBUILDING);
  await putStatus(REBUILDING, {
    state: 'building',
    version: '1.0.0',
    progress: 0.1,
    started_at: new Date().toISOString(),
  });
});

describe('a model still building', () => {
  it('answers 503 model_unavailable with Retry-After and a message that says it is building', async () => {
    const res = await postJson(`/v1/models/${BUILDING}/predict`, { inputs: [[5.1, 3.5, 1.4, 0.2]] });
    expect(res.status).toBe(503);
    const retry = Number(res.headers.get('retry-after'));
    // 120 s left as written a moment ago: the header counts down from the estimate.
    expect(retry).toBeGreaterThan(100);
    expect(retry).toBeLessThanOrEqual(120);
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe('model_unavailable');
    expect(body.error.message).toMatch(/status-building@1\.0\.0' is still building \(40%, about 2 minutes left\)/);
  });

  it('answers its card request and KServe calls the same way', async () => {
    for (const res of [
      await call(`/v1/models/${BUILDING}`),
      await call(`/v2/models/${BUILDING}`),
      await postJson(`/v2/models/${BUILDING}/infer`, {
        inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4] }],
      }),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect((await json<ErrorJson>(res)).error.message).toMatch(/still building/);
    }
  });

  it('is not ready for KServe: 503 with ready false, its state and progress', async () => {
    const res = await call(`/v2/models/${BUILDING}/ready`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(await res.json()).toEqual({
      name: BUILDING,
      version: '1.0.0',
      ready: false,
      state: 'building',
      progress: 0.4,
    });
    const pinned = await call(`/v2/models/${BUILDING}/versions/1.0.0/ready`);
    expect(pinned.status).toBe(503);
  });

  it('is absent under a pinned version other than the one being built', async () => {
    const res = await call(`/v1/models/${BUILDING}@2.0.0`);
    expect(res.status).toBe(404);
    expect((await json<ErrorJson>(res)).error.code).toBe('model_not_found');
  });

  it('says it is queued, with no progress yet, before its build starts', async () => {
    const id = 'status-queued';
    await putStatus(id, { state: 'building', version: '1.0.0', progress: 0, eta_seconds: 600 });
    const res = await call(`/v1/models/${id}`);
    expect(res.status).toBe(503);
    expect((await json<ErrorJson>(res)).error.message).toMatch(/queued to build, about 10 minutes left/);
  });
});

describe('a model whose build failed', () => {
  it('answers 503 with the reason and no Retry-After (waiting will not fix it)', async () => {
    const res = await postJson(`/v1/models/${FAILED}/predict`, { inputs: [[5.1, 3.5, 1.4, 0.2]] });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeNull();
    const body = await json<ErrorJson>(res);
    expect(body.error.code).toBe('model_unavailable');
    expect(body.error.message).toBe(
      "Model 'status-failed@1.0.0' failed to build: Error: out of memory while training.",
    );
  });

  it('is not ready for KServe, with the reason', async () => {
    const res = await call(`/v2/models/${FAILED}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      name: FAILED,
      version: '1.0.0',
      ready: false,
      state: 'failed',
      reason: 'Error: out of memory while training',
    });
  });
});

describe('the catalogue', () => {
  it('lists ready models as cards with state ready, and the rest apart with progress or reason', async () => {
    const body = await json<Catalogue>(await call('/v1/models'));
    const iris = body.data.find((d) => d.id === 'iris-tree');
    expect(iris?.state).toBe('ready');
    expect(body.data.map((d) => d.id)).not.toContain(BUILDING);
    expect(body.data.map((d) => d.id)).not.toContain(FAILED);
    const building = body.not_ready?.find((m) => m.id === BUILDING);
    expect(building).toMatchObject({ object: 'model', state: 'building', version: '1.0.0', progress: 0.4 });
    expect(building?.eta_seconds).toBeGreaterThan(100);
    expect(body.not_ready?.find((m) => m.id === FAILED)).toMatchObject({
      state: 'failed',
      reason: 'Error: out of memory while training',
    });
  });

  it("lists a rebuilding model's previous build as ready, and it serves", async () => {
    const body = await json<Catalogue>(await call('/v1/models'));
    expect(body.data.find((d) => d.id === REBUILDING)?.state).toBe('ready');
    expect(body.not_ready?.map((m) => m.id)).not.toContain(REBUILDING);
    expect((await call(`/v2/models/${REBUILDING}/ready`)).status).toBe(200);
  });

  it('shows a key only the not-ready models its scope covers', async () => {
    const body = await json<Catalogue>(await call('/v1/models', {}, env, { key: 'sentimentOnly' }));
    expect(body.not_ready).toBeUndefined();
    expect(body.data.every((d) => d.id.startsWith('sentiment-'))).toBe(true);
  });
});

describe('once the build is seeded', () => {
  it('serves: the card, readiness true, and it leaves not_ready', async () => {
    const id = 'status-late';
    await putStatus(id, {
      state: 'building',
      version: '1.0.0',
      progress: 0.9,
      eta_seconds: 5,
      started_at: new Date().toISOString(),
    });
    expect((await call(`/v1/models/${id}`)).status).toBe(503);
    await seedAs(id);
    await putStatus(id, { state: 'ready', version: '1.0.0' });
    const card = await call(`/v1/models/${id}`);
    expect(card.status).toBe(200);
    expect(await card.json()).toMatchObject({ id, state: 'ready', task: 'tabular-classification' });
    const ready = await call(`/v2/models/${id}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ name: id, ready: true });
    const body = await json<Catalogue>(await call('/v1/models'));
    expect(body.not_ready?.map((m) => m.id)).not.toContain(id);
  });

  it('still answers 404 for a model with neither a manifest nor a status', async () => {
    const res = await call('/v1/models/status-nobody');
    expect(res.status).toBe(404);
    expect((await json<ErrorJson>(res)).error.code).toBe('model_not_found');
  });
});
