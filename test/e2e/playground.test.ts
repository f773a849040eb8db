/**
 * @module The playground (GET /) in a real browser: Debian's Chromium driven by playwright-core against the `npm start`
 * stack. Pastes the key, loads the live catalogue, runs sentiment-en (bars checked against a direct API call, cache
 * MISS → HIT, a keyboard submit with a visible focus ring, explanations), uploads an ImageMagick-rendered digit to
 * digits-mnist, scikit-image's astronaut photo to blazeface (the face box drawn on a canvas), an espeak-ng WAV to
 * vad-silero, sends iris-tree a row, shows the API's own error messages, and saves full-page screenshots to
 * test/artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { speechWav } from '../support/audio.js';
import { facePhotos } from '../support/faces.js';
import { renderDigitPng } from '../support/vision.js';

const { edge, key } = inject('stack');

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const SENTENCE = 'What a wonderful, brilliant little phone. I love it, the best purchase ever!';
const WRONG_KEY = `ei_live_${'x'.repeat(32)}`;

interface LabelScore {
  label: string;
  score: number;
}
interface ApiError {
  error: { code: string; message: string };
}
interface ShownScore {
  label: string;
  value: string;
}

/** The predict call the page makes, made directly (the independent check of what the page shows). */
async function predictDirect(model: string, body: BodyInit, contentType: string): Promise<Response> {
  return fetch(`${edge}/v1/models/${model}/predict`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': contentType, 'cache-control': 'no-store' },
    body,
  });
}

const text = async (page: Page, selector: string): Promise<string> =>
  ((await page.locator(selector).textContent()) ?? '').trim();

/** The bars as shown: label and percentage text, best first. */
const shownScores = (page: Page): Promise<ShownScore[]> =>
  page.$$eval('#result .score', (items) =>
    items.map((li) => ({
      label: li.querySelector('.score-label')?.textContent ?? '',
      value: li.querySelector('.score-value')?.textContent ?? '',
    })),
  );

/** A shown percentage ("97.3 %") as a 0–1 score. */
const parsePercent = (value: string): number => Number(value.replace('%', '').trim()) / 100;

/** Runs `submit` and waits for the page to show the answer (every API answer carries a fresh X-Request-Id). */
async function submitAndWait(page: Page, submit: () => Promise<void>): Promise<void> {
  const before = await text(page, '#meta-request-id');
  await submit();
  await page.waitForFunction(
    (previous) =>
      (document.getElementById('meta-request-id')?.textContent ?? '') !== previous &&
      document.getElementById('run')?.getAttribute('aria-disabled') !== 'true',
    before,
    { timeout: 30_000 },
  );
}

const clickRun = (page: Page) => () => page.click('#run');

describe('the playground in Chromium', () => {
  let browser: Browser | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (see .ci/run)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-gpu',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    context.setDefaultTimeout(30_000);
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    // Chromium logs every 4xx answer as "Failed to load resource"; the error tests cause those on purpose.
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(msg.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('loads the live catalogue with the pasted key, kept in session storage only', async () => {
    await page.goto(`${edge}/`);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.getAttribute('#api-key', 'type')).toBe('password');
    await page.fill('#api-key', key);
    await page.check('#key-show');
    expect(await page.getAttribute('#api-key', 'type')).toBe('text');
    await page.uncheck('#key-show');
    await page.click('#load-models');
    await page.locator('#model option[value="sentiment-en"]').waitFor({ state: 'attached' });
    const options = await page.$$eval('#model option', (os) => os.map((o) => o.textContent ?? ''));
    for (const id of ['sentiment-en', 'digits-mnist', 'vad-silero', 'iris-tree']) {
      expect(options.some((o) => o.startsWith(id))).toBe(true);
    }
    expect(options).toContain('sentiment-en — text-classification');
    const storage = await page.evaluate(() => ({
      session: Object.values(sessionStorage),
      local: Object.values(localStorage),
    }));
    expect(storage.session).toContain(key);
    expect(storage.local).not.toContain(key);
    expect(await page.getAttribute('a[href^="/docs"]', 'href')).toMatch(/^\/docs\/?$/);
  });

  it('sentiment-en: positive first, scores equal to the API, X-Cache MISS then HIT on a keyboard submit', async () => {
    await page.selectOption('#model', 'sentiment-en');
    expect(await text(page, '#model-description')).toContain('text-classification');
    await page.fill('#text-input', SENTENCE);
    await submitAndWait(page, clickRun(page));
    expect(await text(page, '#error')).toBe('');
    expect(await text(page, '#meta-cache')).toBe('MISS');
    const shown = await shownScores(page);
    expect(shown[0]?.label).toBe('positive');
    expect(parsePercent(shown[0]?.value ?? '')).toBeGreaterThan(0.5);
    expect(await text(page, '#meta-model')).toMatch(/^sentiment-en@/);
    expect(await text(page, '#meta-placement')).toMatch(/^(edge|origin)/);
    expect(await text(page, '#meta-latency')).toMatch(/^\d+ ms$/);
    expect(await text(page, '#meta-server-timing')).toMatch(/dur=/);
    expect(await text(page, '#status')).toContain('positive');

    // The independent check: the same request, straight to the API.
    const res = await predictDirect(
      'sentiment-en',
      JSON.stringify({ inputs: SENTENCE, parameters: {} }),
      'application/json',
    );
    expect(res.status).toBe(200);
    const direct = (await res.json()) as LabelScore[];
    expect(shown.map((s) => s.label)).toEqual(direct.map((d) => d.label));
    shown.forEach((s, i) => {
      // One decimal of a percentage: within 0.05 points.
      expect(Math.abs(parsePercent(s.value) - (direct[i]?.score ?? Number.NaN))).toBeLessThanOrEqual(0.0005 + 1e-9);
    });

    // Again, from the keyboard: Tab from the text to the Run button, a visible focus ring, Enter.
    await page.focus('#text-input');
    for (let i = 0; i < 8 && (await page.evaluate(() => document.activeElement?.id)) !== 'run'; i++) {
      await page.keyboard.press('Tab');
    }
    const focus = await page.evaluate(() => {
      const el = document.activeElement;
      if (!(el instanceof HTMLElement)) return { id: '', style: '', width: 0, visible: false };
      const style = getComputedStyle(el);
      return {
        id: el.id,
        style: style.outlineStyle,
        width: parseFloat(style.outlineWidth),
        visible: el.matches(':focus-visible'),
      };
    });
    expect(focus).toMatchObject({ id: 'run', style: 'solid', visible: true });
    expect(focus.width).toBeGreaterThanOrEqual(2);
    await submitAndWait(page, () => page.keyboard.press('Enter'));
    expect(await text(page, '#meta-cache')).toBe('HIT');
    expect(await shownScores(page)).toEqual(shown);
  });

  it('sentiment-en explained: the words shaded by the API weights, with the weight spelled out', async () => {
    await page.check('#explain');
    await submitAndWait(page, clickRun(page));
    expect(await text(page, '#error')).toBe('');
    const tokens = await page.$$eval('#result .tokens .tok', (spans) =>
      spans.map((s) => ({ cls: s.getAttribute('class') ?? '', title: s.getAttribute('title') ?? '' })),
    );
    const res = await predictDirect(
      'sentiment-en',
      JSON.stringify({ inputs: SENTENCE, parameters: { explain: true } }),
      'application/json',
    );
    const direct = (await res.json()) as { labels: LabelScore[]; attributions: { token: string; weight: number }[] };
    expect(direct.attributions.length).toBeGreaterThan(0);
    expect(tokens.length).toBe(direct.attributions.length);
    direct.attributions.forEach((a, i) => {
      const shown = tokens[i];
      expect(shown?.title.startsWith(`${a.token}: `)).toBe(true);
      if (a.weight > 1e-6) expect(shown?.cls).toContain('pos');
      if (a.weight < -1e-6) expect(shown?.cls).toContain('neg');
    });
    expect((await shownScores(page))[0]?.label).toBe(direct.labels[0]?.label);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}playground.png`, fullPage: true });
    await page.uncheck('#explain');
  });

  it('digits-mnist: an uploaded PNG of a 7 is read as 7, X-Cache MISS then HIT', async () => {
    const png = renderDigitPng('7');
    await page.selectOption('#model', 'digits-mnist');
    await page.locator('#image-file').waitFor({ state: 'visible' });
    await page.setInputFiles('#image-file', { name: 'seven.png', mimeType: 'image/png', buffer: png });
    await page.locator('#image-preview').waitFor({ state: 'visible' });
    await submitAndWait(page, clickRun(page));
    expect(await text(page, '#error')).toBe('');
    expect(await text(page, '#meta-cache')).toBe('MISS');
    const shown = await shownScores(page);
    expect(shown[0]?.label).toBe('7');
    const res = await predictDirect('digits-mnist', new Uint8Array(png), 'image/png');
    const direct = (await res.json()) as LabelScore[];
    expect(direct[0]?.label).toBe('7');
    expect(Math.abs(parsePercent(shown[0]?.value ?? '') - (direct[0]?.score ?? Number.NaN))).toBeLessThanOrEqual(
      0.0005 + 1e-9,
    );
    await submitAndWait(page, clickRun(page));
    expect(await text(page, '#meta-cache')).toBe('HIT');
    expect((await shownScores(page))[0]?.label).toBe('7');
  });

  it('blazeface: an uploaded photo is drawn on a canvas with the face box where the API put it', async () => {
    const jpeg = Buffer.from(facePhotos()['astronaut']?.image ?? '', 'base64');
    await page.selectOption('#model', 'blazeface');
    await page.locator('#image-file').waitFor({ state: 'visible' });
    await page.setInputFiles('#image-file', { name: 'astronaut.jpg', mimeType: 'image/jpeg', buffer: jpeg });
    await submitAndWait(page, clickRun(page));
    expect(await text(page, '#error')).toBe('');
    const res = await predictDirect('blazeface', new Uint8Array(jpeg), 'image/jpeg');
    const direct = (await res.json()) as { box: { xmin: number; ymin: number; xmax: number; ymax: number } }[];
    expect(direct).toHaveLength(1);
    const box = direct[0]?.box ?? { xmin: 0, ymin: 0, xmax: 0, ymax: 0 };
    // Pixels read back from the canvas: the bottom edge of the API's box (at a quarter, half and three quarters of
    // its width) has the box colour; the middle of the face does not.
    const drawn = await page.$eval(
      '#result canvas.detections',
      (node, b) => {
        const canvas = node as HTMLCanvasElement;
        const ctx = canvas.getContext('2d');
        const at = (x: number, y: number): number[] =>
          Array.from(ctx?.getImageData(Math.floor(x), Math.floor(y), 1, 1).data.slice(0, 3) ?? []);
        const w = b.xmax - b.xmin;
        return {
          count: canvas.dataset['count'],
          size: [canvas.width, canvas.height],
          visible: canvas.getBoundingClientRect().width > 0,
          edge: [0.25, 0.5, 0.75].map((f) => at(b.xmin + f * w, b.ymax)),
          inside: at(b.xmin + w / 2, (b.ymin + b.ymax) / 2 + 10),
        };
      },
      box,
    );
    expect(drawn).toMatchObject({ count: '1', size: [512, 512], visible: true });
    const MAGENTA = [255, 45, 149];
    for (const px of drawn.edge) px.forEach((v, i) => expect(Math.abs(v - (MAGENTA[i] ?? 0))).toBeLessThanOrEqual(2));
    expect(drawn.inside).not.toEqual(MAGENTA);
    expect(await page.locator('#result .detections-list li').count()).toBe(1);
    expect(await text(page, '#status')).toContain('1 face found');
    await page.screenshot({ path: `${ARTIFACTS}playground-faces.png`, fullPage: true });
  });

  it('iris-tree: comma-separated numbers are sent as one row and answered as the API answers them', async () => {
    await page.selectOption('#model', 'iris-tree');
    await page.fill('#tabular-input', '5.1, 3.5, 1.4, 0.2');
    await submitAndWait(page, clickRun(page));
    expect(await text(page, '#error')).toBe('');
    const res = await predictDirect('iris-tree', JSON.stringify({ inputs: [5.1, 3.5, 1.4, 0.2] }), 'application/json');
    const direct = (await res.json()) as LabelScore[];
    expect(direct[0]?.label).toBe('setosa');
    expect((await shownScores(page)).map((s) => s.label)).toEqual(direct.map((d) => d.label));
  });

  it('vad-silero: a spoken WAV gives the speech segments on a timeline and as a list', async () => {
    const wav = Buffer.from(speechWav('Hello there. How are you today?'));
    await page.selectOption('#model', 'vad-silero');
    await page.setInputFiles('#audio-file', { name: 'hello.wav', mimeType: 'audio/wav', buffer: wav });
    await submitAndWait(page, clickRun(page));
    expect(await text(page, '#error')).toBe('');
    const res = await predictDirect('vad-silero', new Uint8Array(wav), 'audio/wav');
    const direct = (await res.json()) as { duration: number; segments: { start: number; end: number }[] };
    expect(direct.segments.length).toBeGreaterThan(0);
    expect(await page.locator('#result .timeline .segment').count()).toBe(direct.segments.length);
    const listed = await page.$$eval('#result .segments li', (items) => items.map((li) => li.textContent ?? ''));
    expect(listed).toEqual(
      direct.segments.map((g) => `${g.start.toFixed(2)} s – ${g.end.toFixed(2)} s (${(g.end - g.start).toFixed(2)} s)`),
    );
    // The dark scheme too, for a look (not asserted).
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: `${ARTIFACTS}playground-dark.png`, fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it("shows the API's own error messages: a text file for an image model (415) and an unknown key (401)", async () => {
    const note = Buffer.from('not an image\n');
    await page.selectOption('#model', 'digits-mnist');
    await page.setInputFiles('#image-file', { name: 'note.txt', mimeType: 'text/plain', buffer: note });
    await submitAndWait(page, clickRun(page));
    const direct = (await (await predictDirect('digits-mnist', new Uint8Array(note), 'text/plain')).json()) as ApiError;
    expect(direct.error.code).toBe('unsupported_media_type');
    const unsupported = await text(page, '#error');
    expect(unsupported).toContain(direct.error.message);
    expect(unsupported).toContain('unsupported_media_type');
    expect(unsupported).toContain('415');
    expect(await text(page, '#result')).toBe('');

    await page.fill('#api-key', WRONG_KEY);
    await page.selectOption('#model', 'sentiment-en');
    await submitAndWait(page, clickRun(page));
    const unauthorized = await text(page, '#error');
    expect(unauthorized).toContain('The API key is not known.');
    expect(unauthorized).toContain('unauthorized');
    expect(unauthorized).not.toContain('[object Object]');
    expect(await page.getAttribute('#error', 'role')).toBe('alert');
    expect(pageErrors).toEqual([]);
  });
});
