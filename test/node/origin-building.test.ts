/**
 * @module The origin's local model store while `npm start` builds in the background: a model built after the origin
 * started is found on its next request (nothing is listed once and kept), and one whose build is under way answers
 * the registry's 503 "still building" from the status the build writes beside it, not 404.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalModelBucket } from '../../origin/store.js';
import { BUILD_DIR } from '../../scripts/model-store.js';
import { ServiceError } from '../../src/lib/errors.js';
import { ModelNotReadyError } from '../../src/storage/model-status.js';
import { ModelRegistry } from '../../src/storage/registry.js';

const root = mkdtempSync(join(tmpdir(), 'origin-building-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('the local store under a background build', () => {
  it('goes from absent to building to served without a restart', async () => {
    const registry = new ModelRegistry(new LocalModelBucket(root), 60_000);
    const absent = await failure(registry.resolve({ id: 'iris-tree' }));
    expect(absent).toBeInstanceOf(ServiceError);
    expect((absent as ServiceError).code).toBe('model_not_found');

    // What models.ts build writes as it starts: build/models/<id>/status.json.
    mkdirSync(join(root, 'iris-tree'), { recursive: true });
    writeFileSync(
      join(root, 'iris-tree', 'status.json'),
      JSON.stringify({
        state: 'building',
        version: '1.0.0',
        progress: 0,
        started_at: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      }),
    );
    const building = await failure(registry.resolve({ id: 'iris-tree' }));
    expect(building).toBeInstanceOf(ModelNotReadyError);
    expect((building as ModelNotReadyError).status).toBe(503);
    expect((building as ModelNotReadyError).message).toMatch(/still building/);
    expect(await registry.catalogue()).toMatchObject({ ready: [], notReady: [{ id: 'iris-tree' }] });

    // The build finishes: its version directory and `latest` appear; the same registry serves it.
    cpSync(join(BUILD_DIR, 'iris-tree', '1.0.0'), join(root, 'iris-tree', '1.0.0'), { recursive: true });
    writeFileSync(join(root, 'iris-tree', 'latest'), '1.0.0\n');
    const manifest = await registry.resolve({ id: 'iris-tree' });
    expect(manifest.id).toBe('iris-tree');
    expect((await registry.loadModelBytes(manifest)).byteLength).toBeGreaterThan(0);
    expect((await registry.catalogue()).notReady).toEqual([]);
  });
});
