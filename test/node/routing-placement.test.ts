/** @module The edge's routing pieces without I/O: the placement policy, the circuit breaker, and the origin client's error mapping. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ServiceError } from '../../src/lib/errors.js';
import { dispatch } from '../../src/serving/dispatch.js';
import { OriginClient, OriginUnavailableError, readOriginConfig } from '../../src/routing/origin-client.js';
import { decidePlacement, type PlacementInput } from '../../src/routing/placement.js';

const files = [{ name: 'm.onnx', bytes: 1000, sha256: '0'.repeat(64) }];
const manifest = (
  placement: 'edge' | 'origin' | 'auto',
  edge_limits: PlacementInput['manifest']['edge_limits'] = { max_batch: 16 },
): PlacementInput['manifest'] => ({
  placement,
  edge_limits,
  files,
  model_file: 'm.onnx',
});

describe('placement policy', () => {
  it('auto: under the limits stays on the edge, over them goes to the origin, with the numbers in the reason', () => {
    const under = decidePlacement({ manifest: manifest('auto'), size: { batch: 16 }, originConfigured: true });
    expect(under).toMatchObject({ target: 'edge', reason: 'within the edge limits', edgeFallback: true, exceeded: [] });
    const over = decidePlacement({ manifest: manifest('auto'), size: { batch: 17 }, originConfigured: true });
    expect(over.target).toBe('origin');
    expect(over.reason).toBe('over the edge limits (batch 17 > max_batch 16)');
    expect(over.edgeFallback).toBe(true);
  });

  it('checks every limit; model bytes, pixels and seconds are hard (no edge fallback)', () => {
    const m = manifest('auto', {
      max_batch: 8,
      max_pixels: 100,
      max_input_bytes: 10,
      max_tokens: 5,
      max_seconds: 2,
      max_model_bytes: 999,
    });
    const d = decidePlacement({
      manifest: m,
      size: { batch: 9, pixels: 101, inputBytes: 11, tokens: 6, seconds: 3 },
      originConfigured: true,
    });
    expect(d.exceeded).toEqual([
      'batch 9 > max_batch 8',
      'pixels 101 > max_pixels 100',
      'input bytes 11 > max_input_bytes 10',
      'tokens 6 > max_tokens 5',
      'seconds 3 > max_seconds 2',
      'model bytes 1000 > max_model_bytes 999',
    ]);
    expect(d.edgeFallback).toBe(false);
    const soft = decidePlacement({ manifest: m, size: { batch: 9, tokens: 6, pixels: 1 }, originConfigured: true });
    expect(soft.edgeFallback).toBe(false); // the model itself is over max_model_bytes
    const softOnly = decidePlacement({
      manifest: manifest('auto', { max_batch: 8, max_tokens: 5 }),
      size: { batch: 9, tokens: 6 },
      originConfigured: true,
    });
    expect(softOnly).toMatchObject({ target: 'origin', edgeFallback: true });
  });

  it('honours an allowed X-Placement hint and refuses others with a reason', () => {
    const toOrigin = decidePlacement({
      manifest: manifest('auto'),
      size: { batch: 1 },
      hint: 'Origin',
      originConfigured: true,
    });
    expect(toOrigin).toMatchObject({
      target: 'origin',
      reason: 'hint honoured',
      hint: { requested: 'origin', honoured: true },
    });
    const toEdgeOk = decidePlacement({
      manifest: manifest('auto'),
      size: { batch: 1 },
      hint: 'edge',
      originConfigured: true,
    });
    expect(toEdgeOk).toMatchObject({
      target: 'edge',
      reason: 'hint honoured',
      hint: { requested: 'edge', honoured: true },
    });
    const toEdgeTooBig = decidePlacement({
      manifest: manifest('auto'),
      size: { batch: 40 },
      hint: 'edge',
      originConfigured: true,
    });
    expect(toEdgeTooBig).toMatchObject({ target: 'origin', hint: { requested: 'edge', honoured: false } });
    expect(toEdgeTooBig.reason).toMatch(/^hint refused: over the edge limits \(batch 40 > max_batch 16\)$/);
    const pinned = decidePlacement({
      manifest: manifest('edge'),
      size: { batch: 1 },
      hint: 'origin',
      originConfigured: true,
    });
    expect(pinned).toMatchObject({
      target: 'edge',
      reason: 'hint refused: the model is pinned to the edge',
      hint: { honoured: false },
    });
    const originOnly = decidePlacement({
      manifest: manifest('origin'),
      size: { batch: 1 },
      hint: 'edge',
      originConfigured: true,
    });
    expect(originOnly).toMatchObject({
      target: 'origin',
      edgeFallback: false,
      reason: 'hint refused: the model is served by the origin only',
    });
    const noOrigin = decidePlacement({
      manifest: manifest('auto'),
      size: { batch: 1 },
      hint: 'origin',
      originConfigured: false,
    });
    expect(noOrigin).toMatchObject({ target: 'edge', reason: 'hint refused: no origin is configured' });
    expect(
      decidePlacement({ manifest: manifest('auto'), size: { batch: 1 }, hint: 'gpu', originConfigured: true }).hint,
    ).toBeUndefined();
  });

  it('without an origin, soft overruns stay on the edge and hard ones still name the origin', () => {
    expect(decidePlacement({ manifest: manifest('auto'), size: { batch: 40 }, originConfigured: false })).toMatchObject(
      { target: 'edge' },
    );
    const hard = decidePlacement({
      manifest: manifest('auto', { max_pixels: 10 }),
      size: { batch: 1, pixels: 11 },
      originConfigured: false,
    });
    expect(hard).toMatchObject({ target: 'origin', edgeFallback: false });
  });
});

function clientWith(
  answer: (req: Request) => Promise<Response>,
  breaker: { failureThreshold: number; cooldownMs: number } = { failureThreshold: 2, cooldownMs: 60_000 },
): OriginClient {
  return new OriginClient({
    baseUrl: 'http://origin.test',
    secret: 's',
    timeoutMs: 50,
    ...breaker,
    binding: { fetch: answer },
  });
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  Promise.resolve(
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } }),
  );

/** What a call ends in: `ok`, or the unavailable error's `why` and Retry-After. */
const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof OriginUnavailableError ? `${e.why} ${e.retryAfterS}` : String(e)),
  );

describe('circuit breaker', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens after N consecutive failures, fails fast without a call, lets one trial through after the cool-down, and closes on success', async () => {
    // Only Date is faked: the breaker reads the clock from it, and the client's own timeouts stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    let calls = 0;
    let answer: () => Promise<Response> = () => Promise.reject(new TypeError('fetch failed'));
    const client = clientWith(
      () => {
        calls++;
        return answer();
      },
      { failureThreshold: 3, cooldownMs: 10_000 },
    );
    const post = (): Promise<string> => outcome(client.post('/x', '{}', 'application/json'));
    const down = answer;
    const up = (): Promise<Response> => json(200, { ok: true });

    expect(await post()).toBe('network 5');
    expect(await post()).toBe('network 5');
    answer = up;
    expect(await post()).toBe('ok'); // not consecutive any more
    answer = down;
    expect(await post()).toBe('network 5');
    expect(await post()).toBe('network 5');
    expect(client.breakerState).toBe('closed');
    expect(await post()).toBe('network 5');
    expect(client.breakerState).toBe('open');
    expect(calls).toBe(6);
    expect(await post()).toBe('breaker_open 10');
    vi.setSystemTime(9_999);
    expect(await post()).toBe('breaker_open 1');
    expect(calls).toBe(6); // refused without a call

    vi.setSystemTime(10_000);
    expect(client.breakerState).toBe('half-open');
    let release: (res: Response) => void = () => undefined;
    answer = () => new Promise((resolve) => (release = resolve));
    const trial = post();
    expect(client.breakerState).toBe('half-open');
    expect(await post()).toBe('breaker_open 1'); // only one trial at a time; the others fail fast
    expect(calls).toBe(7);
    release(new Response('down', { status: 502 }));
    expect(await trial).toBe('server_error 5'); // the trial failed: open again, for a full cool-down
    expect(client.breakerState).toBe('open');
    expect(await post()).toBe('breaker_open 10');

    vi.setSystemTime(20_000);
    answer = up;
    expect(await post()).toBe('ok');
    expect(client.breakerState).toBe('closed');
    expect(await post()).toBe('ok');
    expect(calls).toBe(9);
  });
});

describe('origin client', () => {
  it('sends the secret and answers the JSON body', async () => {
    let auth: string | null = null;
    const client = clientWith((req) => {
      auth = req.headers.get('authorization');
      return json(200, { ok: true });
    });
    const answer = await client.post('/v2/models/m/infer', '{}', 'application/json');
    expect(answer.body).toEqual({ ok: true });
    expect(auth).toBe('Bearer s');
  });

  it('passes client errors through, maps 429/5xx/network/timeouts to "unavailable", and opens on failures only', async () => {
    let answer: (req: Request) => Promise<Response> = () =>
      json(422, { error: { code: 'invalid_input', message: 'inputs: bad.' } });
    const client = clientWith((req) => answer(req));
    await expect(client.post('/x', '{}', 'application/json')).rejects.toMatchObject({
      status: 422,
      code: 'invalid_input',
      message: 'inputs: bad.',
    });
    answer = () => json(429, { error: { code: 'rate_limited', message: 'full' } }, { 'retry-after': '2' });
    await expect(client.post('/x', '{}', 'application/json')).rejects.toMatchObject({
      why: 'overloaded',
      retryAfterS: 2,
    });
    expect(client.breakerState).toBe('closed');
    answer = (req) =>
      new Promise((_resolve, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason as Error)));
    await expect(client.post('/x', '{}', 'application/json')).rejects.toMatchObject({ why: 'timeout' });
    answer = () => Promise.reject(new TypeError('fetch failed'));
    await expect(client.post('/x', '{}', 'application/json')).rejects.toMatchObject({ why: 'network' });
    expect(client.breakerState).toBe('open');
    const err = await client.post('/x', '{}', 'application/json').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OriginUnavailableError);
    expect((err as OriginUnavailableError).why).toBe('breaker_open');
    const api = (err as OriginUnavailableError).toServiceError();
    expect(api).toBeInstanceOf(ServiceError);
    expect(api.body().error.code).toBe('origin_unavailable');
    expect(Number(api.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
  });

  it('reads its configuration from vars, none without a URL or binding', () => {
    expect(readOriginConfig({ ORIGIN_URL: '' })).toBeUndefined();
    expect(readOriginConfig({ ORIGIN_URL: 'http://o:1', ORIGIN_SECRET: 'x', ORIGIN_TIMEOUT_MS: 'nope' })).toMatchObject(
      { baseUrl: 'http://o:1', timeoutMs: 10_000, failureThreshold: 3 },
    );
  });
});

describe('dispatch', () => {
  const edge = (): Promise<unknown> => Promise.resolve('edge answer');
  const unavailable = (): Promise<never> => Promise.reject(new OriginUnavailableError('network', 'down', 5));
  const decision = (edgeFallback: boolean) => ({ target: 'origin' as const, reason: 'r', edgeFallback, exceeded: [] });

  it('falls back to the edge when allowed, else answers 503 origin_unavailable', async () => {
    const client = clientWith(() => json(200, {}));
    await expect(dispatch(decision(true), client, { edge, origin: unavailable }, {})).resolves.toEqual({
      output: 'edge answer',
      placement: 'edge-fallback',
      reason: 'r; origin unavailable (network), ran at the edge',
    });
    await expect(dispatch(decision(false), client, { edge, origin: unavailable }, {})).rejects.toMatchObject({
      status: 503,
      code: 'origin_unavailable',
    });
    await expect(dispatch(decision(false), undefined, { edge, origin: unavailable }, {})).rejects.toMatchObject({
      status: 503,
    });
  });
});
