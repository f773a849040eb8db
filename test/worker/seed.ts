/** @module Seeds the test's miniflare R2 bucket with the built models handed over by the global setup. */
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import { r2Keys } from '../../src/lib/manifest.js';
import { base64ToBytes } from '../../src/codecs/base64.js';
import type { Feeds } from '../../src/tasks/tensor.js';
import type { KserveTensor } from '../support/provided.js';

export function base64Bytes(b64: string): Uint8Array {
  return base64ToBytes(b64, 'fixture');
}

/** Puts every built model (files, manifest, `latest`) into env.MODELS, as `npm run models:seed` does locally. */
export async function seedModels(): Promise<void> {
  for (const m of inject('models')) {
    for (const [name, b64] of Object.entries(m.files))
      await env.MODELS.put(r2Keys.file(m.id, m.version, name), base64Bytes(b64));
    await env.MODELS.put(r2Keys.manifest(m.id, m.version), m.manifestText);
    await env.MODELS.put(r2Keys.latest(m.id), m.version);
  }
}

/** The built manifest of one model, as JSON. */
export function builtManifest(id: string): Record<string, unknown> {
  const m = inject('models').find((x) => x.id === id);
  if (m === undefined) throw new Error(`model ${id} was not built`);
  return JSON.parse(m.manifestText) as Record<string, unknown>;
}

/** Runtime-neutral feeds from reference request tensors (for calling a session directly). */
export function feedsOf(inputs: readonly KserveTensor[]): Feeds {
  const feeds: Feeds = {};
  for (const t of inputs) {
    feeds[t.name] =
      t.datatype === 'INT64'
        ? { type: 'int64', dims: t.shape, data: BigInt64Array.from(t.data, (v) => BigInt(v)) }
        : { type: 'float32', dims: t.shape, data: Float32Array.from(t.data) };
  }
  return feeds;
}
