/** @module Test projects: `worker` runs inside workerd (real miniflare R2/KV, real onnxruntime-web), `node` runs build and origin tests. */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Models first (built and provided), then the origin that serves them for the edge → origin tests.
    globalSetup: ['./test/global-setup.ts', './test/origin-setup.ts'],
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // Small, explicit limits so the limit tests stay cheap; the rest is wrangler.toml.
              // No origin by default, so edge tests stay on the edge; origin tests pass their own ORIGIN_URL.
              bindings: { MAX_BODY_BYTES: '1048576', MAX_BATCH: '64', MAX_TEXT_CHARS: '2000', ORIGIN_URL: '' },
            },
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
