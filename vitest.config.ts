/** @module Test projects: `worker` runs inside workerd (real miniflare R2/KV, real onnxruntime-web), `node` runs build and origin tests. */
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Every request writes a JSON log line; show captured output only for tests that fail.
    silent: 'passed-only',
    // Models first (built and provided), then the origin that serves them for the edge → origin tests.
    globalSetup: ['./test/global-setup.ts', './test/origin-setup.ts', './test/receiver-setup.ts'],
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              // Small, explicit limits so the limit tests stay cheap; the rest is wrangler.toml.
              // No origin by default, so edge tests stay on the edge; origin tests pass their own ORIGIN_URL.
              bindings: {
                MAX_BODY_BYTES: '1048576',
                MAX_BATCH: '64',
                MAX_TEXT_CHARS: '2000',
                ORIGIN_URL: '',
                // Jobs and webhooks on a test clock: retries at once, few attempts, small chunks per message (so a
                // few hundred items already span several messages), and deliveries to the loopback receiver.
                JOB_RETRY_DELAY_SECONDS: '0',
                JOB_CHUNKS_PER_MESSAGE: '4',
                WEBHOOK_RETRY_BASE_SECONDS: '0',
                WEBHOOK_MAX_ATTEMPTS: '3',
                WEBHOOK_TIMEOUT_MS: '500',
                WEBHOOK_ALLOW_LOOPBACK: 'true',
                // Nothing answers here: a test that needs names resolved passes the loopback test DNS itself, and
                // no test can make the guard ask a real resolver.
                WEBHOOK_DOH_URL: 'http://127.0.0.1:9/dns-query',
                // wrangler.toml's tiers plus two for tests: `bulk` for files that send hundreds of requests with one
                // key, `tight` (3 per 10 s) for the 429-and-recovery test. Same shape as production's.
                RATE_LIMIT_TIERS: JSON.stringify({
                  default: { binding: 'RATE_LIMIT_DEFAULT', limit: 600, period: 60 },
                  high: { binding: 'RATE_LIMIT_HIGH', limit: 6000, period: 60 },
                  ip: { binding: 'RATE_LIMIT_IP', limit: 120, period: 60 },
                  bulk: { binding: 'RATE_LIMIT_TEST_BULK', limit: 100000, period: 60 },
                  tight: { binding: 'RATE_LIMIT_TEST_TIGHT', limit: 3, period: 10 },
                }),
              },
              // A real miniflare Service Binding to the origin process test/origin-setup.ts starts (its URL is known only
              // then, so the binding reads it per call). Named apart from ORIGIN so edge-only tests keep no origin;
              // test/worker/origin.test.ts binds it as ORIGIN.
              serviceBindings: {
                ORIGIN_SERVICE_TEST: async (request: Request) => {
                  const base = process.env['EDGE_TEST_ORIGIN_URL'];
                  if (base === undefined) return new Response('origin not started', { status: 503 });
                  const url = new URL(request.url);
                  return fetch(new Request(`${base}${url.pathname}${url.search}`, request));
                },
              },
              ratelimits: {
                RATE_LIMIT_TEST_BULK: { simple: { limit: 100000, period: 60 } },
                RATE_LIMIT_TEST_TIGHT: { simple: { limit: 3, period: 10 } },
              },
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
          // The stack as `npm start` runs it (wrangler dev + origin), started once for these files.
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['./test/e2e/stack-setup.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        // The CLI's own helpers (no server): argument handling, key resolution, formatting.
        test: { name: 'cli', include: ['test/cli/**/*.test.ts'], environment: 'node' },
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
