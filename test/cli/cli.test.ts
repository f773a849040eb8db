/**
 * @module Unit tests of the `edge-infer` CLI's pieces, in process and without a server: request bodies from the
 * command line, key and URL resolution, error lines and exit codes, and the human formatting.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLoopback, resolveTarget } from '../../cli/client.js';
import { shortHint } from '../../cli/commands/keys.js';
import { parseParams, predictBody } from '../../cli/commands/predict.js';
import { apiError, CliError, networkError } from '../../cli/errors.js';
import { bar, labelRows, prediction, table } from '../../cli/format.js';
import type { Io } from '../../cli/io.js';
import { runCli } from '../../cli/main.js';
import { freePort } from '../../origin/spawn.js';

const dir = mkdtempSync(join(tmpdir(), 'edge-cli-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, content: string | Uint8Array): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

/** An Io that keeps what a command printed. */
function captured(env: Record<string, string> = {}): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), env, progress: false };
}

const exitOf = (fn: () => unknown): number | undefined => {
  try {
    fn();
  } catch (err) {
    if (err instanceof CliError) return err.exitCode;
    throw err;
  }
  return undefined;
};

describe('predict bodies', () => {
  const none = { file: undefined, inputs: undefined, param: [] };

  it('parses --param values as JSON when they are, else as strings', () => {
    expect(parseParams(['top_k=3', 'explain=true', 'name=abc', 'list=[1,2]', 'eq=a=b'])).toEqual({
      top_k: 3,
      explain: true,
      name: 'abc',
      list: [1, 2],
      eq: 'a=b',
    });
    expect(exitOf(() => parseParams(['oops']))).toBe(2);
    expect(exitOf(() => parseParams(['=1']))).toBe(2);
  });

  it('takes exactly one of TEXT, --file and --inputs', () => {
    expect(predictBody('hi', { ...none, param: ['top_k=1'] })).toEqual({
      kind: 'json',
      json: { inputs: 'hi', parameters: { top_k: 1 } },
    });
    expect(predictBody(undefined, { ...none, inputs: '[5.1, 3.5, 1.4, 0.2]' })).toEqual({
      kind: 'json',
      json: { inputs: [5.1, 3.5, 1.4, 0.2] },
    });
    expect(exitOf(() => predictBody(undefined, none))).toBe(2);
    expect(exitOf(() => predictBody('hi', { ...none, inputs: '1' }))).toBe(2);
    expect(exitOf(() => predictBody(undefined, { ...none, inputs: '{nope' }))).toBe(2);
  });

  it('reads .json as the request (or as the inputs), .txt as text, images and WAV as raw bodies', () => {
    const request = file('req.json', JSON.stringify({ inputs: ['a', 'b'], parameters: { top_k: 1, explain: true } }));
    expect(predictBody(undefined, { ...none, file: request, param: ['top_k=2'] })).toEqual({
      kind: 'json',
      json: { inputs: ['a', 'b'], parameters: { top_k: 2, explain: true } },
    });
    expect(predictBody(undefined, { ...none, file: file('rows.json', '[[1, 2]]') })).toEqual({
      kind: 'json',
      json: { inputs: [[1, 2]] },
    });
    expect(predictBody(undefined, { ...none, file: file('t.txt', 'hello there\n') })).toEqual({
      kind: 'json',
      json: { inputs: 'hello there' },
    });
    const png = file('x.PNG', new Uint8Array([137, 80, 78, 71]));
    expect(predictBody(undefined, { ...none, file: png })).toEqual({
      kind: 'raw',
      bytes: new Uint8Array([137, 80, 78, 71]),
      contentType: 'image/png',
    });
    expect(predictBody(undefined, { ...none, file: file('a.wav', 'RIFF') })).toMatchObject({
      contentType: 'audio/wav',
    });
    // With parameters, the file goes base64 inside JSON (a raw body has nowhere to carry them).
    expect(predictBody(undefined, { ...none, file: png, param: ['top_k=1'] })).toEqual({
      kind: 'json',
      json: { inputs: 'iVBORw==', parameters: { top_k: 1 } },
    });
    expect(exitOf(() => predictBody(undefined, { ...none, file: file('x.gif', 'GIF8') }))).toBe(2);
    expect(exitOf(() => predictBody(undefined, { ...none, file: join(dir, 'missing.png') }))).toBe(1);
  });
});

describe('base URL and key', () => {
  const devVars = file('dev.vars', 'OTHER=1\nEDGE_INFER_KEY=ei_dev_fromfile\n');

  it('takes --key, then EDGE_INFER_KEY, then the dev-vars file, the last for loopback URLs only', () => {
    const env = { EDGE_INFER_DEV_VARS: devVars };
    expect(resolveTarget({ key: 'flag' }, { ...env, EDGE_INFER_KEY: 'env' })).toMatchObject({
      baseUrl: 'http://127.0.0.1:8787',
      key: 'flag',
    });
    expect(resolveTarget({}, { ...env, EDGE_INFER_KEY: 'env' })).toMatchObject({ key: 'env', keySource: 'env' });
    expect(resolveTarget({}, env)).toMatchObject({ key: 'ei_dev_fromfile', keySource: 'dev-vars' });
    expect(resolveTarget({ baseUrl: 'http://localhost:9000/' }, env)).toMatchObject({
      baseUrl: 'http://localhost:9000',
      key: 'ei_dev_fromfile',
    });
    expect(resolveTarget({ baseUrl: 'https://api.example.com' }, env)).toMatchObject({
      key: undefined,
      keySource: 'none',
    });
    expect(resolveTarget({}, { EDGE_INFER_BASE_URL: 'https://x.example' }).baseUrl).toBe('https://x.example');
    expect(exitOf(() => resolveTarget({ baseUrl: 'not a url' }))).toBe(2);
    expect(exitOf(() => resolveTarget({ baseUrl: 'ftp://127.0.0.1' }))).toBe(2);
  });

  it('knows loopback hosts', () => {
    for (const u of ['http://127.0.0.1:1', 'http://127.8.9.1', 'http://localhost', 'http://[::1]:8787'])
      expect(isLoopback(new URL(u))).toBe(true);
    for (const u of ['http://10.0.0.1', 'https://127.0.0.1.example.com', 'http://example.com'])
      expect(isLoopback(new URL(u))).toBe(false);
  });
});

describe('errors', () => {
  it("words an API error with its message, code and status; anything else with the status and the body's start", async () => {
    const json = new Response(JSON.stringify({ error: { code: 'forbidden', message: 'Not for this key.' } }), {
      status: 403,
    });
    expect((await apiError(json)).message).toBe('Not for this key. (forbidden, HTTP 403)');
    const html = new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' });
    expect((await apiError(html)).message).toBe('HTTP 502 Bad Gateway: <html>bad gateway</html>');
  });

  it('words a refused connection with the hint to start the stack', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }),
    });
    expect(networkError('http://127.0.0.1:8787', refused).message).toBe(
      'cannot reach http://127.0.0.1:8787: is `npm start` running?',
    );
  });
});

describe('runCli', () => {
  it('exits 2 with commander’s message for usage errors, 0 for --help', async () => {
    const io = captured();
    expect(await runCli(['frobnicate'], io)).toBe(2);
    expect(io.stderr.join('\n')).toMatch(/unknown command 'frobnicate'/);
    const missing = captured();
    expect(await runCli(['predict', 'sentiment-en'], missing)).toBe(2);
    expect(missing.stderr).toEqual(['error: give exactly one input: TEXT, --file FILE or --inputs JSON']);
    const choice = captured();
    expect(await runCli(['predict', 'x', 'y', '--placement', 'moon'], choice)).toBe(2);
    const help = captured();
    expect(await runCli(['--help'], help)).toBe(0);
    expect(help.stdout.join('\n')).toMatch(/Usage: edge-infer/);
    expect(help.stderr).toEqual([]);
  });

  it('exits 1 with one line when nothing listens', async () => {
    const port = await freePort();
    const io = captured();
    expect(await runCli(['--base-url', `http://127.0.0.1:${port}`, 'models', 'list'], io)).toBe(1);
    expect(io.stderr).toEqual([`error: cannot reach http://127.0.0.1:${port}: is \`npm start\` running?`]);
    expect(io.stdout).toEqual([]);
  });
});

describe('formatting', () => {
  it('aligns tables and draws bars in eighths', () => {
    expect(
      table([
        ['ID', 'TASK'],
        ['a-long-id', 'x'],
      ]),
    ).toBe('ID         TASK\na-long-id  x');
    expect(bar(1)).toBe('█'.repeat(24));
    expect(bar(0)).toBe('');
    expect(bar(0.5 / 24)).toBe('▌');
    expect(
      labelRows([
        { label: 'positive', score: 0.75 },
        { label: 'no', score: 0.25 },
      ]).split('\n'),
    ).toEqual([`positive  0.7500  ${'█'.repeat(18)}`, `no        0.2500  ${'█'.repeat(6)}`]);
  });

  it('shows a batch under its indices, segments as rows, anything else as JSON', () => {
    const ls = [{ label: 'a', score: 1 }];
    expect(prediction([ls, ls])).toBe(`[0]\n${labelRows(ls)}\n\n[1]\n${labelRows(ls)}`);
    expect(prediction({ duration: 2, segments: [{ start: 0.5, end: 1.25 }] })).toBe(
      '1 speech segment in 2.00 s of audio\n0.50 s  →  1.25 s',
    );
    expect(prediction([0.1, 0.2])).toBe('[0.1,0.2]');
    expect(prediction({ other: true })).toBe('{\n  "other": true\n}');
  });

  it('never shows more of a key than its prefix and four characters', () => {
    expect(shortHint('ei_live_Zm9v')).toBe('ei_live_Zm9v…');
    expect(shortHint(`ei_live_ab_${'c'.repeat(29)}`)).toBe('ei_live_ab_c…');
  });
});
