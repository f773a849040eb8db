/**
 * @module `npm start`: seed the local R2 with every model already built (idempotent) and the development API key (kept
 * in `.dev.vars`), run the Worker on :8787 (wrangler dev, local mode) and the origin on :8788, print a ready line with
 * a working curl example, and build the models whose cached build is stale in the background, cheapest first
 * (scripts/build-queue.ts): each is seeded and served as soon as it is built, and answers 503 "still building" until
 * then. `npm start -- --build-first` (or EDGE_INFER_BUILD_FIRST=1) builds them all before starting anything, as a test
 * stack wants. Every printed line fits the terminal; the servers' full output goes to build/logs/{worker,origin}.log.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { format } from 'node:util';
import { z } from 'zod';
import { DEFAULT_STATE_DIR, localProxy } from './local-state.js';
import type { KeyKv } from '../src/auth/keys.js';
import { BuildQueue, displayPath, fitLine, formatSeconds, LOG_DIR } from './build-queue.js';
import { DEV_KEY_VAR, DEV_VARS, ensureDevKey } from './dev-key.js';
import type { BuildPlan } from './models.js';
import { putStatus, seedBucket, type SeedBucket } from './seed.js';

const started = Date.now();
const WORKER_PORT = Number(process.env['PORT'] ?? 8787);
const ORIGIN_PORT = Number(process.env['ORIGIN_PORT'] ?? 8788);
// The edge and the origin share one secret; without one set, a fresh random one per run (never a default in git).
const ORIGIN_SECRET = process.env['ORIGIN_SECRET'] || randomBytes(24).toString('base64url');
const hasOrigin = existsSync('origin/server.ts');
// Where local R2/KV state lives (default .wrangler/state, as plain `wrangler dev`) and which file holds the dev key;
// tests point both at temporary places so they never touch a developer's own stack.
const STATE_DIR = process.env['EDGE_INFER_STATE_DIR'] || DEFAULT_STATE_DIR;
const DEV_VARS_FILE = process.env['EDGE_INFER_DEV_VARS'] || DEV_VARS;
const BUILD_FIRST = process.argv.includes('--build-first') || process.env['EDGE_INFER_BUILD_FIRST'] === '1';
// The Worker finds the origin through vars (the secret as a var only here, locally; in production it is a secret).
const originVars = hasOrigin
  ? ['--var', `ORIGIN_URL:http://127.0.0.1:${ORIGIN_PORT}`, '--var', `ORIGIN_SECRET:${ORIGIN_SECRET}`]
  : ['--var', 'ORIGIN_URL:'];

/**
 * Every line this process prints through `console` cut to the terminal: its own, and what the platform proxy's
 * workerd and wrangler's logger print here (miniflare relays workerd's output line by line through `console`).
 */
for (const method of ['log', 'info', 'warn', 'error'] as const) {
  const write = console[method].bind(console);
  console[method] = (...args: unknown[]): void =>
    write(
      format(...args)
        .split('\n')
        .map((l) => fitLine(l))
        .join('\n'),
    );
}
const print = (line: string): void => console.log(line);
const since = (): string => formatSeconds((Date.now() - started) / 1000);
const LOGS = displayPath(LOG_DIR);

const PlanSchema = z.array(
  z.object({
    id: z.string(),
    version: z.string(),
    fresh: z.boolean(),
    built: z.boolean(),
    seconds: z.number().optional(),
  }),
);

/**
 * Which recipes are up to date, from `models.ts plan` in a child process: it imports every recipe (and their
 * onnxruntime and dataset packages), which this long-lived process has no reason to keep in memory.
 */
function planBuilds(): BuildPlan[] {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join('scripts', 'models.ts'), 'plan', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return PlanSchema.parse(JSON.parse(out)).map((p) => {
    const { seconds, ...rest } = p;
    return seconds === undefined ? rest : { ...rest, seconds };
  });
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

/** onnxruntime-node's warnings as the origin loads models ("Removing initializer …"): noise on a terminal. */
const ORT_WARNING = /\[W:onnxruntime:/;

/**
 * A server's output: every line in full into its log file, and on screen cut to the terminal's width, less
 * onnxruntime's warnings.
 */
function relay(child: ChildProcess, name: string): void {
  mkdirSync(LOG_DIR, { recursive: true });
  const log = createWriteStream(join(LOG_DIR, `${name}.log`));
  const pipe = (stream: Readable | null, write: (line: string) => void): void => {
    if (stream === null) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      log.write(`${line}\n`);
      if (!ORT_WARNING.test(line)) write(line);
    });
  };
  pipe(child.stdout, (l) => console.log(l));
  pipe(child.stderr, (l) => console.error(l));
  child.once('exit', () => log.end());
}

/**
 * Runs fn with wrangler's logger at errors only: the proxy runs no Worker, so wrangler's warning that its Durable
 * Objects "will not work in local development" is true of the proxy and says nothing about the stack. The level is
 * put back before any server starts (they inherit this environment).
 */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const level = process.env['WRANGLER_LOG'];
  process.env['WRANGLER_LOG'] = 'error';
  try {
    return await fn();
  } finally {
    if (level === undefined) delete process.env['WRANGLER_LOG'];
    else process.env['WRANGLER_LOG'] = level;
  }
}

let plans: BuildPlan[];
try {
  plans = planBuilds();
} catch (err) {
  console.error(`could not read the model recipes: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

// One platform proxy over the same local state `wrangler dev` will read: models into R2, the dev key into KV. It stays
// open while the background builds run, to seed each model and write its status as it goes.
const proxy = await quietly(() => localProxy<{ MODELS: SeedBucket; AUTH: KeyKv }>({ stateDir: STATE_DIR }));
let disposed = false;
const dispose = async (): Promise<void> => {
  if (disposed) return;
  disposed = true;
  await proxy.dispose().catch(() => undefined);
};
// Every model with a finished build serves now, including the previous build of one whose recipe changed since.
const seeded = await seedBucket(proxy.env.MODELS);
for (const id of seeded.models)
  if (plans.find((p) => p.id === id)?.fresh === true) await putStatus(proxy.env.MODELS, id, { state: 'ready' });
const devKey = await ensureDevKey(proxy.env.AUTH, DEV_VARS_FILE);
const queue = new BuildQueue(plans, { bucket: proxy.env.MODELS, print });
await queue.announce();
const total = plans.length;
print(
  queue.order.length === 0
    ? `models: all ${total} up to date (local R2: ${seeded.written} objects written, ${seeded.skipped} unchanged)`
    : `models: ${total - queue.order.length} of ${total} up to date, ${queue.order.length} to build ` +
        `(${BUILD_FIRST ? 'now' : 'in the background'}, cheapest first, about ${formatSeconds(queue.secondsLeft())}; ` +
        `logs in ${LOGS})`,
);
if (BUILD_FIRST) {
  await queue.runAll();
  if (queue.results.some((r) => !r.ok)) print('some models failed to build; they answer 503 until rebuilt');
}

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
    stdio: ['inherit', 'pipe', 'pipe'],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
  },
);
relay(worker, 'worker');
children.push(worker);
if (hasOrigin) {
  const origin = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'origin/server.ts'], {
    stdio: ['inherit', 'pipe', 'pipe'],
    env: { ...process.env, PORT: String(ORIGIN_PORT), ORIGIN_SECRET },
  });
  relay(origin, 'origin');
  children.push(origin);
}

const stop = (): void => {
  queue.stop();
  for (const c of children) c.kill('SIGTERM');
  void dispose();
};
// Ahead of wrangler's own handlers (its module, imported for the platform proxy, exits the process on these signals),
// and on any exit: a background build is never left running without the stack it builds for.
process.prependListener('SIGINT', stop);
process.prependListener('SIGTERM', stop);
process.once('exit', () => queue.stop());
for (const c of children)
  c.on('exit', (code) => {
    stop();
    process.exitCode = code ?? 0;
  });

// The background builds, one at a time, niced below the servers; the proxy goes once they are done.
const building = BUILD_FIRST
  ? Promise.resolve()
  : queue.runAll().then((results) => {
      if (results.length === queue.order.length && results.length > 0) {
        const failed = results.filter((r) => !r.ok).map((r) => r.id);
        print(
          failed.length === 0
            ? `all ${total} models built and serving (${since()} after start)`
            : `background builds done (${since()} after start); failed: ${failed.join(', ')} (see ${LOGS})`,
        );
      }
    });
void building
  .catch((err: unknown) => print(`background builds stopped: ${err instanceof Error ? err.message : String(err)}`))
  .then(dispose);

/** The dev key's webhook signing secret (made on first use and kept in the local Durable Object state). */
async function webhookSecret(base: string, key: string): Promise<string> {
  try {
    const res = await fetch(`${base}/v1/webhooks/secret`, { headers: { authorization: `Bearer ${key}` } });
    return res.ok ? ((await res.json()) as { secret: string }).secret : `(unavailable: HTTP ${res.status})`;
  } catch (err) {
    return `(unavailable: ${String(err)})`;
  }
}

/** What the ready line says about the models: how many serve, which are still building. */
function modelsLine(): string[] {
  const pending = queue.pending();
  const serving = new Set([...seeded.models, ...queue.results.filter((r) => r.ok).map((r) => r.id)]);
  const failed = queue.results.filter((r) => !r.ok).map((r) => r.id);
  if (pending.length === 0 && failed.length === 0) return [`ready in ${since()}: all ${serving.size} models serve`];
  const lines = [
    `ready in ${since()}: ${serving.size} of ${total} models serve; ` +
      (pending.length === 0
        ? `failed to build: ${failed.join(', ')}`
        : `${pending.length} still building in the background (about ${formatSeconds(queue.secondsLeft())})`),
  ];
  if (pending.length > 0) {
    // A model being rebuilt serves its previous build meanwhile.
    const names = pending.map((id) => (serving.has(id) ? `${id} (previous build serves meanwhile)` : id));
    lines.push(`  building, in order: ${names.join(', ')}`);
    lines.push(`  each serves once built (503 until then); GET /v1/models shows progress, ${LOGS}/<id>.log the rest`);
  }
  return lines;
}

if (await waitFor(`http://127.0.0.1:${WORKER_PORT}/v2/health/live`, worker, 120_000)) {
  const base = `http://127.0.0.1:${WORKER_PORT}`;
  const whsec = await webhookSecret(base, devKey.secret);
  // Secrets and the curl example are on lines of their own, short enough for an 80-column terminal.
  for (const line of [
    '',
    ...modelsLine(),
    `development API key (admin, every model; also in ${DEV_VARS_FILE} as ${DEV_KEY_VAR}):`,
    `  ${devKey.secret}`,
    `development webhook secret (signs the dev key's webhooks): ${whsec}`,
    `playground: ${base}/   API reference: ${base}/docs`,
    `try: curl -s ${base}/v1/models/sentiment-en/predict \\`,
    `       -H 'authorization: Bearer ${devKey.secret}' \\`,
    `       -H 'content-type: application/json' \\`,
    `       -d '{"inputs":"What a wonderful little phone, I love it."}'`,
    '',
  ])
    print(line);
}
