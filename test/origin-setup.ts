/**
 * @module Global setup for the workerd tests' edge → origin paths: starts one real origin process on loopback
 * (after test/global-setup.ts has built the models) and hands its URL and secret over through `provide`.
 * miniflare's outbound fetch reaches 127.0.0.1, so workerd-side tests call it for real.
 *
 * The origin reads a temporary copy of the model store with one extra version of sentiment-en whose edge
 * `max_batch` is 2, so a small infer request (the reference's few rows) is "over the edge limit" on both sides.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { spawnOrigin, waitReady } from '../origin/spawn.js';
import { BUILD_DIR } from '../scripts/model-store.js';
import './support/provided.js';

export const TIGHT_SUFFIX = '-tight';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const store = mkdtempSync(join(tmpdir(), 'origin-store-'));
  cpSync(BUILD_DIR, store, { recursive: true });
  const version = readFileSync(join(store, 'sentiment-en', 'latest'), 'utf8').trim();
  const tightVersion = `${version}${TIGHT_SUFFIX}`;
  const manifest = JSON.parse(readFileSync(join(store, 'sentiment-en', version, 'manifest.json'), 'utf8')) as {
    version: string;
    edge_limits: Record<string, number>;
  };
  manifest.version = tightVersion;
  manifest.edge_limits = { ...manifest.edge_limits, max_batch: 2 };
  const manifestText = JSON.stringify(manifest, null, 2);
  cpSync(join(store, 'sentiment-en', version), join(store, 'sentiment-en', tightVersion), { recursive: true });
  writeFileSync(join(store, 'sentiment-en', tightVersion, 'manifest.json'), manifestText);

  const origin = await spawnOrigin({ env: { MODEL_STORE: store } });
  await waitReady(origin);
  // For the Service Binding declared in vitest.config.ts, which runs in this process.
  process.env['EDGE_TEST_ORIGIN_URL'] = origin.url;
  project.provide('origin', {
    url: origin.url,
    secret: origin.secret,
    tight: { id: 'sentiment-en', version: tightVersion, manifestText },
  });
  return async () => {
    await origin.stop();
    rmSync(store, { recursive: true, force: true });
  };
}
