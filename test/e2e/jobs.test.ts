/**
 * @module Jobs and webhooks on the stack `npm start` runs (wrangler dev's local Queues and Durable Objects): a job
 * with a webhook to a real receiver on loopback, verified in Node with the `standardwebhooks` library and the
 * development secret `npm start` printed, its output equal to the sync API's; and the event stream over real HTTP.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startReceiver, type Receiver } from '../support/receiver.js';
import type { Delivery } from '../support/provided.js';

const stack = inject('stack');
const auth = { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' };
let receiver: Receiver;

beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver.close());

async function poll<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('jobs under npm start', () => {
  it('delivers a signed completed webhook that verifies with the printed development secret', async () => {
    const text = 'The hotel was clean and the breakfast was wonderful.';
    const res = await fetch(`${stack.edge}/v1/jobs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'sentiment-en', inputs: text, webhook: `${receiver.url}/hook/e2e` }),
    });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { id: string };
    const got = await poll(
      async () => (await (await fetch(`${receiver.url}/log/e2e`)).json()) as Delivery[],
      (d) => d.length > 0,
    );
    const [d] = got;
    if (d === undefined) throw new Error('no webhook arrived');
    const event = new Webhook(stack.webhookSecret).verify(d.body, d.headers) as {
      type: string;
      data: { id: string; status: string; output: unknown };
    };
    expect(event.type).toBe('job.completed');
    expect(event.data).toMatchObject({ id: job.id, status: 'succeeded' });
    const sync = await fetch(`${stack.edge}/v1/models/sentiment-en/predict`, {
      method: 'POST',
      headers: { ...auth, 'cache-control': 'no-store' },
      body: JSON.stringify({ inputs: text }),
    });
    expect(event.data.output).toEqual(await sync.json());
  });

  it('streams the events of a list job over HTTP, ending with job.completed', async () => {
    const inputs = Array.from({ length: 40 }, (_, i) => `sentence ${i} is rather pleasant`);
    const res = await fetch(`${stack.edge}/v1/jobs`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ model: 'sentiment-en', inputs }),
    });
    const job = (await res.json()) as { urls: { events: string } };
    const stream = await fetch(job.urls.events, { headers: auth });
    expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const text = await stream.text();
    const types = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types[0]).toBe('job.start');
    expect(types.at(-1)).toBe('job.completed');
    expect(types.filter((t) => t === 'job.output').length).toBeGreaterThan(1);
  });
});
