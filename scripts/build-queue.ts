/**
 * @module `npm start`'s background model builds: the recipes whose cached build is stale, cheapest first, one at a
 * time (this is a 2-core machine and the Worker and the origin need CPU too), each as its own niced child process
 * (`models.ts build --only <id>`, so a crash or an out-of-memory kill ends one build, not the stack) writing every line
 * it prints to `build/logs/<id>.log`. As each finishes it is seeded into the local R2 and its status flipped to ready
 * (or failed, with the log's last error line); while it runs, its status says how far along it is. The terminal gets
 * one line per model.
 *
 * The statuses and models go into R2 through a second wrangler platform proxy on the same `--persist-to` directory
 * while `wrangler dev` runs: miniflare keeps R2 as SQLite plus blob files, SQLite serialises the two processes'
 * transactions, and the Worker never writes the MODELS bucket, so there is one writer. It is what `npm run models --
 * publish` against a running stack has always done (the README's e2e test does it), and it needs no route in the
 * Worker that could write to R2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join, relative } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import type { BuildPlan } from './models.js';
import { builtModel } from './model-store.js';
import { putStatus, seedModel, type SeedBucket } from './seed.js';
import type { ModelStatus } from '../src/storage/model-status.js';

const REPO_ROOT = join(import.meta.dirname, '..');
/** Where build logs (and `npm start`'s server logs) go; tests point it at their own scratch folder. */
export const LOG_DIR = process.env['EDGE_INFER_LOG_DIR'] || join(REPO_ROOT, 'build', 'logs');

/**
 * Build times (the recipe alone) measured on a 2-core machine while `npm start` served beside them, for ordering a
 * build that has no recorded time yet (a fresh clone). A build records its own time in build/models/<id>/.build.json,
 * which wins from then on.
 */
export const ESTIMATED_SECONDS: Readonly<Record<string, number>> = {
  'iris-tree': 1,
  blazeface: 1,
  'vad-silero': 4,
  'text-orientation': 4,
  'blazeface-back': 7,
  'sentiment-en': 8,
  'topics-en': 12,
  'pos-en': 35,
  'spam-en': 70,
  'digits-mnist': 73,
  'brown-gpt-en': 220,
};
/** A recipe added since the table was written: assume it is neither cheap nor the dearest. */
const UNKNOWN_SECONDS = 60;
/** What starting a build costs before the recipe runs (node, tsx, the recipe's imports). */
const STARTUP_SECONDS = 3;

/** How long a build is expected to take: its last recorded time, else the table's estimate. */
export function expectedSeconds(plan: Pick<BuildPlan, 'id' | 'seconds'>): number {
  return (plan.seconds ?? ESTIMATED_SECONDS[plan.id] ?? UNKNOWN_SECONDS) + STARTUP_SECONDS;
}

/** The builds to run, cheapest first (ties by id, so the order is the same on every machine). */
export function buildOrder(plans: readonly BuildPlan[]): BuildPlan[] {
  return plans
    .filter((p) => !p.fresh)
    .sort((a, b) => expectedSeconds(a) - expectedSeconds(b) || a.id.localeCompare(b.id));
}

/** The terminal's width, or 120 columns when output is not a terminal. */
export function terminalColumns(): number {
  const c = process.stdout.isTTY ? process.stdout.columns : undefined;
  return c !== undefined && c > 0 ? c : 120;
}

/** A line cut to the width a terminal shows (escape codes dropped from a cut line, so none is left open). */
export function fitLine(line: string, columns = terminalColumns()): string {
  const plain = stripVTControlCharacters(line);
  if (plain.length <= columns) return line;
  return `${plain.slice(0, Math.max(1, columns - 1))}…`;
}

/** The last line of a build log that says what went wrong: not a stack frame, not blank. */
export function lastErrorLine(log: string): string | undefined {
  const lines = log
    .split('\n')
    .map((l) => stripVTControlCharacters(l).trim())
    .filter((l) => l !== '' && !/^at\s/.test(l) && !/^Node\.js v\d/.test(l) && l !== '}' && l !== '^');
  const errorish = lines.findLast((l) => /error|fail|cannot|not found|exception|killed|abort/i.test(l));
  const line = errorish ?? lines.at(-1);
  return line === undefined ? undefined : line.slice(0, 300);
}

/** A path as a terminal line shows it: relative to the working directory when under it. */
export function displayPath(path: string): string {
  const r = relative(process.cwd(), path);
  return r === '' || r.startsWith('..') ? path : r;
}

/** "12 s", "3 min 20 s". */
export function formatSeconds(s: number): string {
  const r = Math.max(0, Math.round(s));
  return r < 60 ? `${r} s` : `${Math.floor(r / 60)} min${r % 60 === 0 ? '' : ` ${r % 60} s`}`;
}

/** Runs one model's build with its output in `logFd`; the default is the build CLI in a niced child process. */
export type BuildRunner = (id: string, logFd: number) => ChildProcess;

export const runBuildChild: BuildRunner = (id, logFd) => {
  // tsx as a loader in this very node process (no tsx CLI parent), so the nice value covers the whole build.
  const args = ['--import', 'tsx', join('scripts', 'models.ts'), 'build', '--only', id];
  const posix = process.platform !== 'win32';
  const child = spawn(posix ? 'nice' : process.execPath, posix ? ['-n', '10', process.execPath, ...args] : args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  if (!posix && child.pid !== undefined) {
    try {
      setPriority(child.pid, 10);
    } catch {
      // a build at normal priority is only slower for the servers, not wrong
    }
  }
  return child;
};

export interface BuildQueueOptions {
  /** The local R2 bucket (through the platform proxy) that models and statuses go to. */
  bucket: SeedBucket;
  /** One line per model (already cut to the terminal). */
  print: (line: string) => void;
  logDir?: string;
  run?: BuildRunner;
  /** How often the running build's progress is written (ms). */
  tickMs?: number;
}

export interface BuildResult {
  id: string;
  ok: boolean;
  seconds: number;
  reason?: string;
}

/** The queue of stale models: `announce()` marks them all building, `run()` builds them in order. */
export class BuildQueue {
  readonly order: BuildPlan[];
  readonly results: BuildResult[] = [];
  private current: { plan: BuildPlan; started: number; child: ChildProcess } | undefined;
  private stopped = false;
  private readonly logDir: string;
  private readonly run: BuildRunner;

  constructor(
    plans: readonly BuildPlan[],
    private readonly options: BuildQueueOptions,
  ) {
    this.order = buildOrder(plans);
    this.logDir = options.logDir ?? LOG_DIR;
    this.run = options.run ?? runBuildChild;
  }

  /** Ids not built yet (the running one first), in build order. */
  pending(): string[] {
    const done = new Set(this.results.map((r) => r.id));
    return this.order.filter((p) => !done.has(p.id)).map((p) => p.id);
  }

  /** Seconds until the last queued build is done, by the estimates. */
  secondsLeft(now = Date.now()): number {
    return this.pending().reduce((n, id) => n + this.remaining(id, now), 0);
  }

  logFile(id: string): string {
    return join(this.logDir, `${id}.log`);
  }

  /** Writes every queued model's status (building, not started, its wait estimated); before the Worker starts. */
  async announce(): Promise<void> {
    await this.writeQueued();
  }

  /** Builds every queued model in order; resolves when all are done or the queue was stopped. Never rejects. */
  async runAll(): Promise<BuildResult[]> {
    mkdirSync(this.logDir, { recursive: true });
    for (const plan of this.order) {
      if (this.stopped) break;
      const result = await this.buildOne(plan);
      if (result === undefined) break; // stopped mid-build: its status stays "building" until the next start
      this.results.push(result);
      await this.writeQueued();
      const serving = this.results.filter((r) => r.ok).length;
      this.options.print(
        result.ok
          ? fitLine(`built ${plan.id} in ${formatSeconds(result.seconds)} (${this.progressText(serving)})`)
          : fitLine(
              `${plan.id} failed to build after ${formatSeconds(result.seconds)}: ${result.reason ?? 'see its log'} ` +
                `(${displayPath(this.logFile(plan.id))})`,
            ),
      );
    }
    return this.results;
  }

  /**
   * Stops the running build and the rest of the queue. SIGKILL, because the build process (which imports wrangler,
   * whose signal handlers exit only once the event loop turns) would otherwise train on through a long synchronous
   * loop; nothing is lost: its lock names its pid and is broken once that is gone, and a build without its inputs hash
   * is never taken for a finished one.
   */
  stop(): void {
    this.stopped = true;
    this.current?.child.kill('SIGKILL');
  }

  private progressText(built: number): string {
    const left = this.pending();
    return left.length === 0
      ? `${built} of ${this.order.length} queued models built`
      : `${left.length} to go, about ${formatSeconds(this.secondsLeft())}`;
  }

  /** Estimated seconds until `id` is built: what is left of the running build, or its whole estimate. */
  private remaining(id: string, now: number): number {
    const plan = this.order.find((p) => p.id === id);
    if (plan === undefined) return 0;
    const expected = expectedSeconds(plan);
    if (this.current?.plan.id !== id) return expected;
    // Past its estimate it is "nearly done" rather than overdue: a few seconds, never negative.
    return Math.max(5, expected - (now - this.current.started) / 1000);
  }

  private async writeQueued(now = Date.now()): Promise<void> {
    const pending = new Set(this.pending());
    let wait = 0;
    for (const plan of this.order) {
      if (!pending.has(plan.id)) continue;
      wait += this.remaining(plan.id, now);
      if (this.current?.plan.id === plan.id) continue; // the ticker writes the running one
      await this.put(plan.id, { state: 'building', version: plan.version, progress: 0, eta_seconds: Math.round(wait) });
    }
  }

  private async writeRunning(now = Date.now()): Promise<void> {
    const c = this.current;
    if (c === undefined) return;
    const expected = expectedSeconds(c.plan);
    const elapsed = (now - c.started) / 1000;
    await this.put(c.plan.id, {
      state: 'building',
      version: c.plan.version,
      progress: Math.round(Math.min(0.95, elapsed / expected) * 100) / 100,
      eta_seconds: Math.round(this.remaining(c.plan.id, now)),
      started_at: new Date(c.started).toISOString(),
    });
  }

  private async put(id: string, status: Omit<ModelStatus, 'updated_at'>): Promise<void> {
    try {
      await putStatus(this.options.bucket, id, status);
    } catch {
      // The proxy goes away when the stack stops; a status that could not be written is only a stale estimate.
    }
  }

  /** One build: log file, child, progress ticks, then seed and status. Undefined when the queue was stopped. */
  private async buildOne(plan: BuildPlan): Promise<BuildResult | undefined> {
    const file = this.logFile(plan.id);
    const fd = openSync(file, 'w');
    writeSync(fd, `# ${new Date().toISOString()} models.ts build --only ${plan.id} (npm start, in the background)\n`);
    const started = Date.now();
    let child: ChildProcess;
    try {
      child = this.run(plan.id, fd);
    } finally {
      closeSync(fd); // the child holds its own copy
    }
    this.current = { plan, started, child };
    await this.writeRunning();
    const tick = setInterval(() => void this.writeRunning(), this.options.tickMs ?? 5000);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((done) => {
      child.once('error', (error) => done({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => done({ code, signal }));
    });
    clearInterval(tick);
    this.current = undefined;
    const seconds = (Date.now() - started) / 1000;
    if (this.stopped) return undefined;
    if (exit.code === 0) {
      const model = builtModel(plan.id);
      if (model !== undefined) {
        try {
          await seedModel(this.options.bucket, model);
          await this.put(plan.id, { state: 'ready', version: model.version });
          return { id: plan.id, ok: true, seconds };
        } catch (err) {
          return this.failed(plan, seconds, `seeding the local R2 failed: ${String(err)}`);
        }
      }
      return this.failed(plan, seconds, 'the build finished without a manifest');
    }
    const how =
      exit.error !== undefined
        ? `could not start: ${exit.error.message}`
        : exit.signal !== null
          ? `killed by ${exit.signal}`
          : `exited with ${String(exit.code)}`;
    let log = '';
    try {
      log = readFileSync(file, 'utf8');
    } catch {
      // no log to quote
    }
    return this.failed(plan, seconds, exit.signal === null ? (lastErrorLine(log) ?? how) : how);
  }

  private async failed(plan: BuildPlan, seconds: number, reason: string): Promise<BuildResult> {
    await this.put(plan.id, { state: 'failed', version: plan.version, reason });
    return { id: plan.id, ok: false, seconds, reason };
  }
}
