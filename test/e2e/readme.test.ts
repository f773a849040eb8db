/**
 * @module Every command the README shows, run as written against the `npm start` stack: each `curl`, `npx edge-infer`
 * and `npm run models -- publish` line from its `sh` blocks (continuation lines joined), with the README's
 * `localhost:8787` pointed at the stack and `$EDGE_INFER_KEY` set to its dev key. The files the examples name
 * (speech.wav, seven.png, line.jpg, my-model.onnx, my-bert/) are made here by espeak-ng, ImageMagick and the repo's
 * own recipes; astronaut.png is scikit-image's, from Debian (test/support/faces.ts finds it). curl runs with
 * `--fail-with-body`, so an HTTP error fails the line, and each example's output must fit the `# →` answer the README
 * shows under it (test/support/readme-answers.ts: shapes, labels, and values where they are deterministic; `…`
 * elides), so the README cannot drift from the service. Not run: the deployment block (it needs a Cloudflare account)
 * and `keys bootstrap --remote`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeTinyBert } from '../../models/hf-tiny/bert.js';
import { REPO_ROOT } from '../../origin/config.js';
import { BUILD_DIR } from '../../scripts/model-store.js';
import { synthesiseAudio } from '../support/audio.js';
import { skimageDataDir } from '../support/faces.js';
import { answerMismatches } from '../support/readme-answers.js';
import { renderDigitPng } from '../support/vision.js';

const { edge, key, stateDir } = inject('stack');
const work = mkdtempSync(join(tmpdir(), 'readme-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Whether a shell text leaves a quote open (a quoted string may span lines, as the README's JSON bodies do). */
function quoteOpen(text: string): boolean {
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote === undefined) {
      if (ch === '\\') i++;
      else if (ch === "'" || ch === '"') quote = ch;
    } else if (quote === '"' && ch === '\\') i++;
    else if (ch === quote) quote = undefined;
  }
  return quote !== undefined;
}

/** One README example: the command, and the answer its `# →` lines show (continuation lines joined), if any. */
interface Example {
  command: string;
  answer?: string;
}

/**
 * The README's shell commands, continuation lines and quoted newlines joined, in order, each with the `# → …` answer
 * written under it. An answer goes on over the comment lines indented after it (`#    …`); two spaces join them, which
 * both pattern forms read as a separator.
 */
function readmeExamples(): Example[] {
  const text = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const out: Example[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let current = '';
    let answering: Example | undefined;
    for (const raw of (block[1] ?? '').split('\n')) {
      if (current === '') {
        const starts = /^# → (.*)$/.exec(raw);
        const goesOn = /^#\s{2,}(\S.*)$/.exec(raw);
        const last = out.at(-1);
        if (starts !== null && last !== undefined) {
          last.answer = starts[1] ?? '';
          answering = last;
          continue;
        }
        if (goesOn !== null && answering !== undefined) {
          answering.answer = `${answering.answer ?? ''}  ${goesOn[1] ?? ''}`;
          continue;
        }
        answering = undefined;
      }
      const line = current === '' ? raw.replace(/\s+#.*$/, '') : raw;
      if (current === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
      current += current === '' ? line : `\n${line}`;
      if (/(\\|\||&&)$/.test(current.trimEnd()) || quoteOpen(current)) continue;
      out.push({ command: current });
      current = '';
    }
  }
  return out;
}

/** A plain read (curl GET, no body, no method): safe to run again while the state it shows settles. */
const isRead = (command: string): boolean => /^curl /.test(command) && !/\s(-X|-d|--data\S*|-T)\s/.test(command);

/** What runs, and how: the README line adjusted only where it names this machine, its state or a placeholder. */
function adjust(command: string, ids: Map<string, string>): string | undefined {
  if (/^npm (install|start|test)|^npx wrangler|^npm run (models:|deploy)|bootstrap .*--remote/.test(command))
    return undefined;
  const host = new URL(edge).host;
  let c = command.replaceAll('localhost:8787', host).replaceAll('http://127.0.0.1:8787', edge);
  for (const [placeholder, id] of ids) c = c.replaceAll(placeholder, id);
  // The stack keeps its own state directory; the README's default is `.wrangler/state`.
  if (c.startsWith('npm run models -- publish') || / models publish /.test(c))
    c += ` --persist ${join(stateDir, 'v3')}`;
  c = c.replace(/(^|\|\s*)curl /g, '$1curl --fail-with-body ');
  // The same programs the npm script and the bin run, so the examples' relative paths resolve in the work folder.
  c = c.replace(
    /^npm run models -- /,
    `node ${join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs')} ${join(REPO_ROOT, 'scripts', 'models.ts')} `,
  );
  return c.replace(/^npx edge-infer /, `node ${join(REPO_ROOT, 'bin', 'edge-infer.mjs')} `);
}

/** A `# →` answer adjusted as its command is: this stack's address, and the ids made for the placeholders. */
function adjustAnswer(answer: string, ids: Map<string, string>): string {
  const host = new URL(edge).host;
  let a = answer.replaceAll('localhost:8787', host);
  for (const [placeholder, id] of ids) a = a.replaceAll(placeholder, id);
  return a;
}

function run(command: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', command], {
    cwd: work,
    encoding: 'utf8',
    timeout: 120_000,
    env: {
      ...process.env,
      EDGE_INFER_KEY: key,
      EDGE_INFER_BASE_URL: edge,
      PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env['PATH'] ?? ''}`,
    },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  // The clip the README's answer describes: espeak-ng's "The quick brown fox…" between 0.8 s and 1 s of quiet, at
  // espeak's own 22.05 kHz (the VAD tests' first clip), so its `# →` segments are this file's.
  const speech = synthesiseAudio().clips[0];
  if (speech === undefined) throw new Error('no synthesised speech clip');
  writeFileSync(join(work, 'speech.wav'), Buffer.from(speech.wav, 'base64'));
  writeFileSync(join(work, 'seven.png'), renderDigitPng('7', 26));
  copyFileSync(join(skimageDataDir(), 'astronaut.png'), join(work, 'astronaut.png'));
  execFileSync('/usr/bin/convert', [
    '-size',
    '320x48',
    'xc:white',
    '-fill',
    'black',
    '-font',
    'DejaVu-Sans',
    '-pointsize',
    '26',
    '-gravity',
    'center',
    '-annotate',
    '0',
    'Hello world, upside down',
    '-rotate',
    '180',
    join(work, 'line.jpg'),
  ]);
  // The README's own models: an iris tree as "my-model.onnx" (three classes, a,b,c), tiny-bert as "my-bert/",
  // and a float model to quantize.
  const iris = readFileSync(join(BUILD_DIR, 'iris-tree', 'latest'), 'utf8').trim();
  copyFileSync(join(BUILD_DIR, 'iris-tree', iris, 'model.onnx'), join(work, 'my-model.onnx'));
  writeTinyBert(join(work, 'my-bert'));
  const digits = readFileSync(join(BUILD_DIR, 'digits-mnist', 'latest'), 'utf8').trim();
  copyFileSync(join(BUILD_DIR, 'digits-mnist', digits, 'model.fp32.onnx'), join(work, 'model.onnx'));
}, 120_000);

describe('the README', () => {
  it('every curl, CLI and publish command it shows works against the running stack, answering as its # → line says', () => {
    const examples = readmeExamples();
    expect(examples.length).toBeGreaterThan(25);
    expect(examples.filter((e) => e.answer !== undefined).length).toBeGreaterThan(30);
    const ids = new Map<string, string>();
    const ran: string[] = [];
    const checked: string[] = [];
    for (const { command, answer } of examples) {
      const c = adjust(command, ids);
      if (c === undefined) continue;
      let r = run(c);
      expect(r.status, `${command}\nstdout: ${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 800)}`).toBe(0);
      // Every example prints its answer, but for those that save it to a file.
      if (!/ -o \S/.test(command)) expect(r.stdout.length, command).toBeGreaterThan(0);
      if (answer !== undefined) {
        // The answer as this stack prints it: its address, and the ids earlier examples made for its placeholders.
        const expected = adjustAnswer(answer, ids);
        let wrong = answerMismatches(expected, r.stdout);
        // A job read right after its submit may still be queued: a plain read is asked again until it settles.
        for (let tries = 0; wrong.length > 0 && isRead(command) && tries < 60; tries++) {
          execFileSync('sleep', ['0.5']);
          r = run(c);
          wrong = answerMismatches(expected, r.stdout);
        }
        expect(wrong, `${command}\n# → ${answer}\nprinted: ${r.stdout.slice(0, 1500)}`).toEqual([]);
        checked.push(command);
      }
      // A key made by one example is the `key_…` a later example revokes.
      const made =
        /"id":"(key_[A-Za-z0-9_-]+)"/.exec(r.stdout)?.[1] ?? /^id\s+(key_[A-Za-z0-9_-]+)/m.exec(r.stdout)?.[1];
      if (made !== undefined && /keys create|\/v1\/keys[\s\S]*-d /.test(command)) ids.set('key_…', made);
      // Likewise the job the submit example makes is the `job_…` the examples after it read.
      const job = /"id":"(job_[0-9a-f]{32})"/.exec(r.stdout)?.[1];
      if (job !== undefined && /\/v1\/jobs /.test(command)) ids.set('job_…', job);
      ran.push(command);
    }
    expect(ran.filter((c) => c.startsWith('curl')).length).toBeGreaterThan(15);
    expect(ran.some((c) => c.startsWith('npx edge-infer'))).toBe(true);
    // Every answer the README shows was compared (none skipped with its command).
    expect(checked).toHaveLength(
      examples.filter((e) => e.answer !== undefined && adjust(e.command, ids) !== undefined).length,
    );
  }, 600_000);
});
