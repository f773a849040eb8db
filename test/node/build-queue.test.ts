/**
 * @module `npm start`'s background builds (scripts/build-queue.ts) with stand-in build processes: the order (recorded
 * time, else the table, cheapest first), the log file per model, the statuses written as it goes (queued with their
 * wait, running, ready once seeded, failed with the log's error line) and one terminal line per model.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BuildQueue,
  buildOrder,
  expectedSeconds,
  fitLine,
  lastErrorLine,
  type BuildRunner,
} from '../../scripts/build-queue.js';
import type { BuildPlan } from '../../scripts/models.js';
import type { SeedBucket } from '../../scripts/seed.js';
import { r2Keys } from '../../src/lib/manifest.js';
import { parseModelStatus, statusKey, type ModelStatus } from '../../src/storage/model-status.js';

const plan = (id: string, fresh = false, seconds?: number): BuildPlan => ({
  id,
  version: '1.0.0',
  fresh,
  built: fresh,
  ...(seconds === undefined ? {} : { seconds }),
});

/** An in-memory bucket that keeps every status it was given, in order. */
function memoryBucket() {
  const objects = new Map<string, string | Uint8Array>();
  const statuses: { id: string; status: ModelStatus }[] = [];
  const bucket: SeedBucket = {
    head: (key) => Promise.resolve(objects.has(key) ? { customMetadata: {} } : null),
    put: (key, value) => {
      objects.set(key, value);
      const m = /^models\/([^/]+)\/status\.json$/.exec(key);
      const status =
        m?.[1] !== undefined && typeof value === 'string' ? parseModelStatus(JSON.parse(value)) : undefined;
      if (m?.[1] !== undefined && status !== undefined) statuses.push({ id: m[1], status });
      return Promise.resolve(null);
    },
  };
  return { bucket, objects, statuses };
}

/** Builds that print a few lines and exit with the code the table gives (0 for the rest). */
const fakeRunner =
  (exitCodes: Record<string, number> = {}): BuildRunner =>
  (id, fd) =>
    spawn(
      process.execPath,
      [
        '-e',
        `console.log('${id}: building'); console.log('  quantized a weight'); ` +
          `console.error('[W:onnxruntime] noise'); ` +
          `if (${exitCodes[id] ?? 0}) { console.error('Error: the dataset is missing'); ` +
          `console.error('    at build (/x/recipe.ts:1:1)'); } process.exitCode = ${exitCodes[id] ?? 0};`,
      ],
      { stdio: ['ignore', fd, fd] },
    );

const scratch = mkdtempSync(join(tmpdir(), 'build-queue-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the build order', () => {
  it('builds only stale recipes, cheapest first: the recorded time, else the table, else a middling guess', () => {
    const order = buildOrder([
      plan('brown-gpt-en'),
      plan('iris-tree', true),
      plan('digits-mnist', false, 0.5),
      plan('sentiment-en'),
      plan('new-model'),
      plan('blazeface'),
    ]);
    expect(order.map((p) => p.id)).toEqual(['digits-mnist', 'blazeface', 'sentiment-en', 'new-model', 'brown-gpt-en']);
    expect(expectedSeconds(plan('digits-mnist', false, 0.5))).toBeLessThan(expectedSeconds(plan('blazeface')));
  });
});

describe('terminal lines and log lines', () => {
  it('cuts a line to the terminal, escape codes and all', () => {
    expect(fitLine('x'.repeat(200), 120)).toHaveLength(120);
    expect(fitLine('short', 120)).toBe('short');
    expect(fitLine(`\u001b[33m${'y'.repeat(130)}\u001b[0m`, 80)).toBe(`${'y'.repeat(79)}…`);
  });

  it("takes a failed build's reason from its log: the error line, not the stack", () => {
    const log =
      'a: building\n  step 1/10\nError: cannot read corpus\n    at load (/r.ts:3:9)\n    at main (/m.ts:1:1)\n';
    expect(lastErrorLine(log)).toBe('Error: cannot read corpus');
    expect(lastErrorLine('just one line\n')).toBe('just one line');
    expect(lastErrorLine('')).toBeUndefined();
  });
});

describe('the queue', () => {
  it('logs each build to its own file, writes statuses as it goes, seeds what it built, one line per model', async () => {
    const { bucket, objects, statuses } = memoryBucket();
    const printed: string[] = [];
    const logDir = join(scratch, 'logs');
    // iris-tree is really built (the global setup builds every model), so its files can be seeded.
    const queue = new BuildQueue([plan('iris-tree'), plan('broken-model', false, 0.5), plan('fresh-model', true)], {
      bucket,
      print: (l) => printed.push(l),
      logDir,
      run: fakeRunner({ 'broken-model': 1 }),
      tickMs: 50,
    });
    expect(queue.order.map((p) => p.id)).toEqual(['broken-model', 'iris-tree']);
    await queue.announce();
    // Queued: no progress, and the second waits for the first.
    const queued = new Map(statuses.map((s) => [s.id, s.status]));
    expect(queued.get('broken-model')).toMatchObject({ state: 'building', progress: 0 });
    expect(queued.get('iris-tree')?.eta_seconds).toBeGreaterThan(queued.get('broken-model')?.eta_seconds ?? 0);
    expect(queued.get('iris-tree')?.started_at).toBeUndefined();

    const results = await queue.runAll();
    expect(results.map((r) => [r.id, r.ok])).toEqual([
      ['broken-model', false],
      ['iris-tree', true],
    ]);
    // Every line the build printed (stdout and stderr) is in its log; none reached the terminal.
    const log = readFileSync(join(logDir, 'iris-tree.log'), 'utf8');
    expect(log).toContain('iris-tree: building');
    expect(log).toContain('quantized a weight');
    expect(log).toContain('[W:onnxruntime] noise');
    expect(printed).toHaveLength(2);
    expect(printed[0]).toMatch(/^broken-model failed to build after \d+ s: Error: the dataset is missing \(.*\)$/);
    expect(printed[1]).toMatch(/^built iris-tree in \d+ s/);
    for (const line of printed) expect(line.length).toBeLessThanOrEqual(120);

    const last = (id: string) => statuses.filter((s) => s.id === id).at(-1)?.status;
    expect(last('broken-model')).toMatchObject({ state: 'failed', reason: 'Error: the dataset is missing' });
    expect(last('iris-tree')).toMatchObject({ state: 'ready', version: '1.0.0' });
    // The running build said it had started before it finished.
    expect(statuses.some((s) => s.id === 'iris-tree' && s.status.started_at !== undefined)).toBe(true);
    expect(statuses.some((s) => s.id === 'fresh-model')).toBe(false);
    // Seeded: files, manifest, then latest.
    expect(objects.get(r2Keys.latest('iris-tree'))).toBe('1.0.0');
    expect(objects.has(r2Keys.manifest('iris-tree', '1.0.0'))).toBe(true);
    expect(objects.has(statusKey('iris-tree'))).toBe(true);
    expect(queue.pending()).toEqual([]);
  });

  it('stops the running build and leaves the rest queued', async () => {
    const { bucket, statuses } = memoryBucket();
    const slow: BuildRunner = (_id, fd) =>
      spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: ['ignore', fd, fd] });
    const queue = new BuildQueue([plan('a-model', false, 1), plan('b-model', false, 2)], {
      bucket,
      print: () => undefined,
      logDir: join(scratch, 'stop'),
      run: slow,
    });
    const done = queue.runAll();
    await new Promise((r) => setTimeout(r, 300));
    queue.stop();
    expect(await done).toEqual([]);
    expect(queue.pending()).toEqual(['a-model', 'b-model']);
    expect(statuses.some((s) => s.status.state === 'failed')).toBe(false);
  });
});
