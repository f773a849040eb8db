/** @module The request-log middleware on its own: one JSON line per request with the route pattern, never the body. */
import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { describe, expect, it } from 'vitest';
import { requestLog, type RequestLine } from '../../src/middleware/request-log.js';
import { errorHandler } from '../../src/http/router.js';

describe('requestLog', () => {
  it('writes one line per request with pattern, status, headers it reads and the key id, and no payload', async () => {
    const lines: RequestLine[] = [];
    const app = new Hono<{ Variables: { requestId: string; apiKey: { id: string } } }>();
    app.use('*', requestId());
    app.use('*', requestLog({ write: (l) => lines.push(l) }));
    app.use('*', async (c, next) => {
      c.set('apiKey', { id: 'key_abc' });
      await next();
    });
    app.post('/things/:id', async (c) => {
      await c.req.text();
      c.header('X-Model', 'm@1');
      c.header('X-Cache', 'MISS');
      c.header('X-Placement', 'edge');
      return c.json({ ok: true });
    });
    app.get('/boom', () => {
      throw new Error('kaput');
    });
    app.onError(errorHandler);
    const secretPayload = `payload-${crypto.randomUUID()}`;
    await app.request('/things/42', { method: 'POST', body: secretPayload, headers: { 'x-request-id': 'trace-1' } });
    const boom = await app.request('/boom');
    expect(boom.status).toBe(500);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      msg: 'request',
      request_id: 'trace-1',
      method: 'POST',
      route: '/things/:id',
      status: 200,
      model: 'm@1',
      cache: 'MISS',
      placement: 'edge',
      key_id: 'key_abc',
    });
    expect(typeof lines[0]?.duration_ms).toBe('number');
    expect(lines[1]).toMatchObject({ route: '/boom', status: 500 });
    expect(JSON.stringify(lines)).not.toContain(secretPayload);
    expect(JSON.stringify(lines)).not.toContain('/things/42');
  });
});
