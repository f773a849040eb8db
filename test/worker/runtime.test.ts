/** @module onnxruntime-web wiring in workerd, the session cache, and the R2 registry (manifests, sha256, versions). */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSession, runtimeInfo } from '../../src/runtime/ort.js';
import { SessionCache } from '../../src/runtime/sessions.js';
import { r2Keys } from '../../src/lib/manifest.js';
import { ModelRegistry } from '../../src/storage/registry.js';
import { call, json, postJson, type ErrorJson } from './client.js';
import { base64Bytes, builtManifest, feedsOf, seedModels } from './seed.js';
import { inject } from 'vitest';

const sentiment = (): { manifest: Record<string, unknown>; bytes: Uint8Array } => {
  const m = inject('models').find((x) => x.id === 'sentiment-en');
  if (m === undefined) throw new Error('sentiment-en not built');
  const manifest = JSON.parse(m.manifestText) as Record<string, unknown> & { model_file: string };
  return { manifest, bytes: base64Bytes(m.files[manifest.model_file] ?? '') };
};

beforeAll(seedModels);

describe('onnxruntime-web in workerd', () => {
  it('runs the imported SIMD module with one thread, and leaves no hook behind', async () => {
    const { bytes } = sentiment();
    const session = await createSession(bytes);
    const ref = inject('references').sentiment;
    const out = await session.run(feedsOf(ref.inputs));
    const logits = out['logits'] ?? Object.values(out)[0];
    expect(logits?.dims).toEqual(ref.outputs['logits']?.dims ?? Object.values(ref.outputs)[0]?.dims);
    const info = runtimeInfo();
    expect(info.ortVersion).toBe('1.30.0');
    expect(info.wasmFile).toBe('ort-wasm-simd-threaded.wasm');
    expect(info.wasmExports).toBeGreaterThan(10);
    expect(info.simd).toBe(true);
    expect(info.threads).toBe(1);
    expect(info.heapBytes).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(Object.prototype).not.toHaveProperty('instantiateWasm');
    await session.release();
  });

  it('creates sessions concurrently once ORT is up', async () => {
    const { bytes } = sentiment();
    const sessions = await Promise.all([createSession(bytes), createSession(bytes), createSession(bytes)]);
    for (const s of sessions) expect(s.outputNames).toEqual(['logits', 'probabilities']);
    await Promise.all(sessions.map((s) => s.release()));
  });
});

describe('session cache', () => {
  it('dedupes concurrent loads, evicts least recently used past its byte budget, and serialises runs', async () => {
    const { bytes } = sentiment();
    let loads = 0;
    const cache = new SessionCache(bytes.byteLength * 2, createSession);
    const load = (): Promise<Uint8Array> => {
      loads += 1;
      return Promise.resolve(bytes);
    };
    const same = await Promise.all(Array.from({ length: 5 }, () => cache.get('a', bytes.byteLength, load)));
    expect(loads).toBe(1);
    expect(new Set(same).size).toBe(1);
    await cache.get('b', bytes.byteLength, load);
    await cache.get('a', bytes.byteLength, load); // a is now most recent
    await cache.get('c', bytes.byteLength, load); // evicts b
    expect(loads).toBe(3);
    expect(cache.has('a')).toBe(true);
    expect(cache.has('b')).toBe(false);
    expect(cache.has('c')).toBe(true);
    expect(cache.stats()).toMatchObject({ usedBytes: bytes.byteLength * 2, evictions: 1 });

    const ref = inject('references').sentiment;
    const session = await cache.get('a', bytes.byteLength, load);
    const feeds = feedsOf(ref.inputs);
    const runs = await Promise.all(Array.from({ length: 8 }, () => session.run(feeds)));
    const first = JSON.stringify(Array.from(runs[0]?.['logits']?.data as Float32Array));
    for (const r of runs) expect(JSON.stringify(Array.from(r['logits']?.data as Float32Array))).toBe(first);
    await expect(cache.get('huge', bytes.byteLength * 3, load)).rejects.toThrow(/budget/);
  });
});

describe('model registry on R2', () => {
  it('serves latest by default and id@version on request', async () => {
    const manifest = builtManifest('sentiment-en');
    const version = String(manifest['version']);
    const old = { ...manifest, version: '0.0.1-old' };
    const m = inject('models').find((x) => x.id === 'sentiment-en');
    for (const [name, b64] of Object.entries(m?.files ?? {}))
      await env.MODELS.put(r2Keys.file('sentiment-en', '0.0.1-old', name), base64Bytes(b64));
    await env.MODELS.put(r2Keys.manifest('sentiment-en', '0.0.1-old'), JSON.stringify(old));

    const latest = await postJson('/v1/models/sentiment-en/predict', { inputs: 'great' });
    expect(latest.headers.get('X-Model')).toBe(`sentiment-en@${version}`);
    const pinned = await postJson('/v1/models/sentiment-en@0.0.1-old/predict', { inputs: 'great' });
    expect(pinned.status).toBe(200);
    expect(pinned.headers.get('X-Model')).toBe('sentiment-en@0.0.1-old');
    const card = await json<{ version: string }>(await call('/v1/models/sentiment-en@0.0.1-old'));
    expect(card.version).toBe('0.0.1-old');
    const missing = await call('/v1/models/sentiment-en@9.9.9');
    expect(missing.status).toBe(404);
    expect((await json<ErrorJson>(missing)).error.code).toBe('model_not_found');
  });

  it('refuses an invalid manifest with 503 and leaves it out of the catalogue', async () => {
    await env.MODELS.put(r2Keys.latest('broken-manifest'), '1.0.0');
    await env.MODELS.put(
      r2Keys.manifest('broken-manifest', '1.0.0'),
      JSON.stringify({ id: 'broken-manifest', version: '1.0.0', task: 'no-such-task' }),
    );
    const res = await call('/v1/models/broken-manifest');
    expect(res.status).toBe(503);
    expect((await json<ErrorJson>(res)).error.code).toBe('model_unavailable');
    const list = await json<{ data: { id: string }[] }>(await call('/v1/models'));
    expect(list.data.map((d) => d.id)).toContain('sentiment-en');
    expect(list.data.map((d) => d.id)).not.toContain('broken-manifest');
  });

  it('answers 503 on a sha256 mismatch, never caches the bad bytes, and serves once the file is fixed', async () => {
    const { manifest, bytes } = sentiment();
    const id = 'tampered-model';
    const file = String(manifest['model_file']);
    await env.MODELS.put(r2Keys.latest(id), '1.0.0');
    await env.MODELS.put(r2Keys.manifest(id, '1.0.0'), JSON.stringify({ ...manifest, id, version: '1.0.0' }));
    const bad = bytes.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0xff;
    await env.MODELS.put(r2Keys.file(id, '1.0.0', file), bad);
    for (let i = 0; i < 2; i++) {
      const res = await postJson(`/v1/models/${id}/predict`, { inputs: 'fine' }, { 'cache-control': 'no-store' });
      expect(res.status).toBe(503);
      expect((await json<ErrorJson>(res)).error).toEqual({
        code: 'model_unavailable',
        message: `Model '${id}@1.0.0' is unavailable right now.`,
      });
      expect(res.headers.get('Retry-After')).not.toBeNull();
    }
    await env.MODELS.put(r2Keys.file(id, '1.0.0', file), bytes);
    const fixed = await postJson(`/v1/models/${id}/predict`, { inputs: 'fine' }, { 'cache-control': 'no-store' });
    expect(fixed.status).toBe(200);
  });

  it('validates manifests with zod (id/version must match the key)', async () => {
    const registry = new ModelRegistry(env.MODELS, 0);
    const manifest = builtManifest('sentiment-en');
    await env.MODELS.put(r2Keys.latest('mismatch'), '1.0.0');
    await env.MODELS.put(r2Keys.manifest('mismatch', '1.0.0'), JSON.stringify({ ...manifest, version: '1.0.0' }));
    await expect(registry.resolve({ id: 'mismatch' })).rejects.toMatchObject({
      status: 503,
      code: 'model_unavailable',
    });
    await expect(registry.resolve({ id: 'sentiment-en' })).resolves.toMatchObject({
      id: 'sentiment-en',
      task: 'text-classification',
    });
  });
});
