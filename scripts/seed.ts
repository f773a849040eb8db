/**
 * @module `npm run models:seed`: copies build/models into the local R2 bucket that `wrangler dev` uses
 * (miniflare state under .wrangler/state), through wrangler's own platform proxy. Idempotent: files whose
 * sha256 already matches are left alone. `--remote` seeds the real bucket through `wrangler r2 object put`.
 * `npm start` seeds one model at a time through the same functions as its background builds finish, and writes
 * their build status (putStatus) beside them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { localProxy } from './local-state.js';
import { ManifestSchema, r2Keys } from '../src/lib/manifest.js';
import { statusKey, type ModelStatus } from '../src/storage/model-status.js';
import { builtModel, builtModelIds, type BuiltModel } from './model-store.js';

export interface SeedBucket {
  head(key: string): Promise<{ customMetadata?: Record<string, string> } | null>;
  put(
    key: string,
    value: Uint8Array | string,
    options?: { customMetadata?: Record<string, string>; httpMetadata?: { contentType?: string } },
  ): Promise<unknown>;
}

const sha256 = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

/** Puts one object unless an object with the same sha256 is already there; returns whether it wrote. */
async function putIfChanged(
  bucket: SeedBucket,
  key: string,
  bytes: Uint8Array | string,
  contentType: string,
): Promise<boolean> {
  const digest = sha256(bytes);
  const head = await bucket.head(key);
  if (head?.customMetadata?.['sha256'] === digest) return false;
  await bucket.put(key, bytes, { customMetadata: { sha256: digest }, httpMetadata: { contentType } });
  return true;
}

/** Copies one built model into a bucket (files, manifest, then `latest`), skipping what is already there. */
export async function seedModel(bucket: SeedBucket, model: BuiltModel): Promise<{ written: number; skipped: number }> {
  let written = 0;
  let skipped = 0;
  const manifest = ManifestSchema.parse(JSON.parse(model.manifestText));
  // Files first, manifest next, `latest` last: a reader never sees a pointer to something half-written.
  for (const file of manifest.files) {
    // A plain Uint8Array: the platform proxy's serialiser refuses Node's Buffer subclass.
    const bytes = new Uint8Array(readFileSync(join(model.dir, file.name)));
    if (
      await putIfChanged(
        bucket,
        r2Keys.file(manifest.id, manifest.version, file.name),
        bytes,
        'application/octet-stream',
      )
    )
      written++;
    else skipped++;
  }
  if (
    await putIfChanged(bucket, r2Keys.manifest(manifest.id, manifest.version), model.manifestText, 'application/json')
  )
    written++;
  else skipped++;
  if (await putIfChanged(bucket, r2Keys.latest(manifest.id), manifest.version, 'text/plain')) written++;
  else skipped++;
  return { written, skipped };
}

/** Copies every built model (or the `only` ones that are built) into a bucket, skipping what is already there. */
export async function seedBucket(
  bucket: SeedBucket,
  only?: readonly string[],
): Promise<{ written: number; skipped: number; models: string[] }> {
  let written = 0;
  let skipped = 0;
  const models: string[] = [];
  for (const id of builtModelIds()) {
    if (only !== undefined && !only.includes(id)) continue;
    const model = builtModel(id);
    if (model === undefined) continue;
    const n = await seedModel(bucket, model);
    written += n.written;
    skipped += n.skipped;
    models.push(id);
  }
  return { written, skipped, models };
}

/**
 * Writes a model's build status (src/storage/model-status.ts) beside its versions: only `npm start`'s local bucket
 * ever holds one, never the real bucket (`--remote` seeds built models only).
 */
export async function putStatus(
  bucket: SeedBucket,
  id: string,
  status: Omit<ModelStatus, 'updated_at'>,
): Promise<void> {
  const body: ModelStatus = { ...status, updated_at: new Date().toISOString() };
  await bucket.put(statusKey(id), JSON.stringify(body), { httpMetadata: { contentType: 'application/json' } });
}

/** The local bucket `wrangler dev` serves from (miniflare state under .wrangler/state), through wrangler's proxy. */
export async function seedLocal(): Promise<{ written: number; skipped: number }> {
  const proxy = await localProxy<{ MODELS: SeedBucket }>();
  try {
    return await seedBucket(proxy.env.MODELS);
  } finally {
    await proxy.dispose();
  }
}

/** The real bucket, through wrangler (which holds the account's credentials). */
export function seedRemote(bucketName: string): void {
  for (const id of builtModelIds()) {
    const model = builtModel(id);
    if (model === undefined) continue;
    const manifest = ManifestSchema.parse(JSON.parse(model.manifestText));
    const put = (key: string, file: string, type: string): void => {
      execFileSync(
        'npx',
        ['wrangler', 'r2', 'object', 'put', `${bucketName}/${key}`, '--file', file, '--content-type', type, '--remote'],
        { stdio: 'inherit' },
      );
    };
    for (const file of manifest.files)
      put(
        r2Keys.file(manifest.id, manifest.version, file.name),
        join(model.dir, file.name),
        'application/octet-stream',
      );
    put(r2Keys.manifest(manifest.id, manifest.version), join(model.dir, 'manifest.json'), 'application/json');
    put(r2Keys.latest(manifest.id), join(model.dir, '..', 'latest'), 'text/plain');
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const { values } = parseArgs({
    options: {
      remote: { type: 'boolean', default: false },
      bucket: { type: 'string', default: 'edge-inference-models' },
    },
  });
  if (values.remote) seedRemote(values.bucket);
  else {
    const { written, skipped } = await seedLocal();
    console.log(`seeded local R2: ${written} written, ${skipped} unchanged`);
  }
}
