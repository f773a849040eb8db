/**
 * @module `npm start`: build the models (cached), seed the local R2 (idempotent) and the development API key (kept in
 * `.dev.vars`), then run the Worker on :8787 (wrangler dev, local mode) and the origin on :8788, and print one
 * working curl example with that key.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DEFAULT_STATE_DIR, localProxy } from './local-state.js';
import type { KeyKv } from '../src/auth/keys.js';
import { DEV_KEY_VAR, DEV_VARS, ensureDevKey } from './dev-key.js';
import { seedBucket, type SeedBucket } from './seed.js';

const WORKER_PORT = Number(process.env['PORT'] ?? 8787);
const ORIGIN_PORT = Number(process.env['ORIGIN_PORT'] ?? 8788);
// The edge and the origin share one secret; without one set, a fresh random one per run (never a default in git).
const ORIGIN_SECRET = process.env['ORIGIN_SECRET'] || randomBytes(24).toString('base64url');
const hasOrigin = existsSync('origin/server.ts');
// Where local R2/KV state lives (default .wrangler/state, as plain `wrangler dev`) and which file holds the dev key;
// tests point both at temporary places so they never touch a developer's own stack.
const STATE_DIR = process.env['EDGE_INFER_STATE_DIR'] || DEFAULT_STATE_DIR;
const DEV_VARS_FILE = process.env['EDGE_INFER_DEV_VARS'] || DEV_VARS;
// The Worker finds the origin through vars (the secret as a var only here, locally; in production it is a secret).
const originVars = hasOrigin
  ? ['--var', `ORIGIN_URL:http://127.0.0.1:${ORIGIN_PORT}`, '--var', `ORIGIN_SECRET:${ORIGIN_SECRET}`]
  : ['--var', 'ORIGIN_URL:'];

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

async function waitFor(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

run(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'scripts/models.ts', 'build']);
// One platform proxy over the same local state `wrangler dev` will read: models into R2, the dev key into KV.
const proxy = await localProxy<{ MODELS: SeedBucket; AUTH: KeyKv }>({ stateDir: STATE_DIR });
const seeded = await seedBucket(proxy.env.MODELS);
const devKey = await ensureDevKey(proxy.env.AUTH, DEV_VARS_FILE);
await proxy.dispose();
console.log(`local R2 seeded: ${seeded.written} written, ${seeded.skipped} unchanged`);

const children: ChildProcess[] = [];
// Local mode needs no network: skip miniflare's fetch of the `Request.cf` object (it would only log an error offline).
const worker = spawn(
  'npx',
  [
    'wrangler',
    'dev',
    '--port',
    String(WORKER_PORT),
    '--ip',
    '127.0.0.1',
    '--show-interactive-dev-session=false',
    '--persist-to',
    STATE_DIR,
    ...originVars,
    // Local development only: webhooks may call http://127.0.0.1 (a receiver on this machine). Never in wrangler.toml.
    '--var',
    'WEBHOOK_ALLOW_LOOPBACK:true',
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
  },
);
children.push(worker);
if (hasOrigin) {
  children.push(
    spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'origin/server.ts'], {
      stdio: 'inherit',
      env: { ...process.env, PORT: String(ORIGIN_PORT), ORIGIN_SECRET },
    }),
  );
}

const stop = (): void => {
  for (const c of children) c.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
for (const c of children)
  c.on('exit', (code) => {
    stop();
    process.exitCode = code ?? 0;
  });

/** The dev key's webhook signing secret (made on first use and kept in the local Durable Object state). */
async function webhookSecret(base: string, key: string): Promise<string> {
  try {
    const res = await fetch(`${base}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${key}` } });
    return res.ok ? ((await res.json()) as { secret: string }).secret : `(unavailable: HTTP ${res.status})`;
  } catch (err) {
    return `(unavailable: ${String(err)})`;
  }
}

if (await waitFor(`http://127.0.0.1:${WORKER_PORT}/v2/health/live`, worker, 120_000)) {
  const base = `http://127.0.0.1:${WORKER_PORT}`;
  const whsec = await webhookSecret(base, devKey.secret);
  console.log(
    [
      '',
      `development API key (admin, every model; also in ${DEV_VARS_FILE} as ${DEV_KEY_VAR}): ${devKey.secret}`,
      `development webhook secret (verifies the webhooks of the dev key's jobs): ${whsec}`,
      `playground: ${base}/   API reference: ${base}/docs`,
      `ready: curl -s ${base}/v1/models/sentiment-en/predict -H 'authorization: Bearer ${devKey.secret}' -H 'content-type: application/json' -d '{"inputs":"What a wonderful little phone, I love it."}'`,
      '',
    ].join('\n'),
  );
}
