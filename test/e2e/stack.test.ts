/**
 * @module The stack as `npm start` runs it, over real HTTP: the dev key works and is required, small batches stay on
 * the edge and big ones reach the origin with the shared secret start.ts handed to both, the static pages are served,
 * and the OpenAPI document passes an independent OpenAPI 3.1 validator.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, inject, it } from 'vitest';

const { edge, origin, originSecret, key } = inject('stack');

const predict = (inputs: string[], headers: Record<string, string> = {}): Promise<Response> =>
  fetch(`${edge}/v1/models/sentiment-en/predict`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      authorization: `Bearer ${key}`,
      ...headers,
    },
    body: JSON.stringify({ inputs }),
  });

describe('npm start: edge on wrangler dev + origin', () => {
  it('serves a small batch on the edge and a batch over the edge max_batch on the origin', async () => {
    const small = await predict(['I love it', 'I hate it']);
    expect(small.status).toBe(200);
    expect(small.headers.get('X-Placement')).toBe('edge');
    const big = await predict(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? `wonderful, I love it ${i}` : `awful, I hate it ${i}`)),
    );
    expect(big.status).toBe(200);
    expect(`${big.headers.get('X-Placement') ?? ''}: ${big.headers.get('X-Placement-Reason') ?? ''}`).toBe(
      'origin: over the edge limits (batch 24 > max_batch 16)',
    );
    const out = (await big.json()) as { label: string }[][];
    expect(out.map((o) => o[0]?.label)).toEqual(
      Array.from({ length: 24 }, (_, i) => (i % 2 === 0 ? 'positive' : 'negative')),
    );
  });

  it('needs the key: no key is 401 with WWW-Authenticate, open routes stay open', async () => {
    const res = await predict(['hello'], { authorization: '' });
    expect(res.status).toBe(401);
    expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await fetch(`${edge}/v2/health/ready`)).status).toBe(200);
  });

  it('keeps the origin closed to callers without the secret', async () => {
    expect((await fetch(`${origin}/v2/models/sentiment-en`)).status).toBe(401);
  });

  it('serves the playground and the API reference as static assets, with Swagger UI from its own origin', async () => {
    const page = await fetch(`${edge}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const docs = await fetch(`${edge}/docs/`);
    expect(docs.status).toBe(200);
    const html = await docs.text();
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    expect(sources.length).toBeGreaterThan(1);
    for (const src of sources) expect(src.startsWith('/') || src.startsWith('data:')).toBe(true);
    expect((await fetch(`${edge}/vendor/swagger-ui/swagger-ui-bundle.js`)).status).toBe(200);
  });

  it('publishes an OpenAPI 3.1 document that a real validator accepts', async () => {
    // Once in a full run (2 cores, every project at once) this GET got no answer for 120 s; alone it takes
    // milliseconds. A deadline turns a stall into a clear failure, and a stalled request is asked once more.
    const get = (): Promise<Response> => fetch(`${edge}/openapi.json`, { signal: AbortSignal.timeout(30_000) });
    const res = await get().catch(get);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("publishes the origin's own OpenAPI document, behind its secret, that the validator accepts", async () => {
    expect((await fetch(`${origin}/openapi.json`)).status).toBe(401);
    const res = await fetch(`${origin}/openapi.json`, { headers: { authorization: `Bearer ${originSecret}` } });
    expect(res.status).toBe(200);
    const result = await new Validator().validate((await res.json()) as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});
