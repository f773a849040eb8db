/**
 * @module The jobs benchmark (issue 8): job accept inside workerd (the product app in-process in the bench Worker:
 * validation, the job's Durable Object, the queue send), and against the product Worker under wrangler dev with its
 * local Queues: job → `completed` webhook at a real loopback receiver for one sentiment-en input, and a 10,000-sentence
 * job's throughput against the sync API's at the same batch size (the job's chunk size), one client each.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localKey } from '../scripts/dev-key.js';
import { readBuiltModels } from '../scripts/model-store.js';
import { seedLocal } from '../scripts/seed.js';
import { ManifestSchema } from '../src/lib/manifest.js';
import { startReceiver } from '../test/support/receiver.js';
import type { Delivery } from '../test/support/provided.js';
import { seedInProcess, timeInProcess } from './edge.js';
import { startWrangler, summarize, table, type Summary } from './harness.js';

const WEBHOOK_RUNS = Number(process.env['BENCH_WEBHOOK_RUNS'] ?? 20);
const BIG = Number(process.env['BENCH_JOB_ITEMS'] ?? 10_000);

interface JobJson {
  id: string;
  status: string;
  created_at: string;
  started_at?: string;
  completed_at?: string;
}

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function benchJobs(): Promise<unknown> {
  const built = readBuiltModels().find((m) => m.id === 'sentiment-en');
  if (built === undefined) throw new Error('run npm run models:build first');
  const manifest = ManifestSchema.parse(JSON.parse(built.manifestText));
  const heldout = JSON.parse(readFileSync(join(built.dir, 'heldout.json'), 'utf8')) as { text: string }[];
  const sentence = (i: number): string => `${heldout[i % heldout.length]?.text ?? ''} (${i})`;
  const chunk = Math.min(64, manifest.edge_limits.max_batch ?? 64);
  const raw: Record<string, unknown> = {};

  // 1. Accept, in-process: the bench Worker binds the job objects and queues, with no consumer.
  const benchWorker = await startWrangler('bench/wrangler.toml', '/info');
  let accept: Summary;
  let acceptList: Summary;
  let replay: Summary;
  let predict: Summary;
  try {
    const apiKey = await seedInProcess(benchWorker.url, built.dir, manifest);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
    const text = heldout[0]?.text ?? '';
    accept = await timeInProcess(benchWorker.url, {
      path: '/v1/jobs',
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'sentiment-en', inputs: text }),
      status: 202,
      iterations: 200,
    });
    // The same Idempotency-Key every time: after the first, each call answers the existing job, so the difference to
    // the row above is what storing a new job and sending its queue message cost.
    replay = await timeInProcess(benchWorker.url, {
      path: '/v1/jobs',
      method: 'POST',
      headers: { ...headers, 'idempotency-key': `bench-${Date.now()}` },
      body: JSON.stringify({ model: 'sentiment-en', inputs: text }),
      status: 202,
      iterations: 200,
    });
    acceptList = await timeInProcess(benchWorker.url, {
      path: '/v1/jobs',
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'sentiment-en', inputs: Array.from({ length: 1000 }, (_, i) => sentence(i)) }),
      status: 202,
      iterations: 50,
    });
    predict = await timeInProcess(benchWorker.url, {
      path: '/v1/models/sentiment-en/predict',
      method: 'POST',
      headers: { ...headers, 'cache-control': 'no-store' },
      body: JSON.stringify({ inputs: text }),
      iterations: 200,
    });
  } finally {
    await benchWorker.stop();
  }
  raw['accept'] = { single: accept, replayed: replay, list1000: acceptList, predictNoStore: predict };

  // 2 and 3: the product Worker under wrangler dev, its local queues running the consumer.
  await seedLocal();
  const key = await localKey('high');
  const receiver = await startReceiver();
  const app = await startWrangler('wrangler.toml', '/v2/health/live', [
    '--var',
    'WEBHOOK_ALLOW_LOOPBACK:true',
    '--var',
    'ORIGIN_URL:',
  ]);
  const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown, extra: Record<string, string> = {}): Promise<Response> =>
    fetch(`${app.url}${path}`, { method: 'POST', headers: { ...auth, ...extra }, body: JSON.stringify(body) });
  let webhook: Summary;
  let accepted: Summary;
  let queued: Summary;
  let job: { seconds: number; perSecond: number; queueMs: number };
  let sync: { seconds: number; perSecond: number };
  try {
    // Warm: the model loaded, the queue consumer started.
    const warm = (await (await post('/v1/jobs', { model: 'sentiment-en', inputs: 'warm up' })).json()) as JobJson;
    await until(
      async () => (await (await fetch(`${app.url}/v1/jobs/${warm.id}`, { headers: auth })).json()) as JobJson,
      (j) => j.status === 'succeeded',
      60_000,
    );
    const toWebhook: number[] = [];
    const toAccept: number[] = [];
    const toStart: number[] = [];
    for (let i = 0; i < WEBHOOK_RUNS; i++) {
      const name = `bench-${Date.now()}-${i}`;
      const t0 = Date.now();
      const res = await post('/v1/jobs', {
        model: 'sentiment-en',
        inputs: `${sentence(i)} webhook run ${Date.now()}`,
        webhook: `${receiver.url}/hook/${name}`,
      });
      toAccept.push(Date.now() - t0);
      const submitted = (await res.json()) as JobJson;
      const [d] = await until(
        async () => (await (await fetch(`${receiver.url}/log/${name}`)).json()) as Delivery[],
        (x) => x.length > 0,
        60_000,
      );
      toWebhook.push((d?.at ?? NaN) - t0);
      const done = (await (await fetch(`${app.url}/v1/jobs/${submitted.id}`, { headers: auth })).json()) as JobJson;
      toStart.push(Date.parse(done.started_at ?? '') - Date.parse(done.created_at));
    }
    webhook = summarize(toWebhook);
    accepted = summarize(toAccept);
    queued = summarize(toStart);

    const inputs = Array.from({ length: BIG }, (_, i) => `${sentence(i)} #${Date.now()}`);
    const t0 = Date.now();
    const res = await post('/v1/jobs', { model: 'sentiment-en', inputs });
    const big = (await res.json()) as JobJson;
    const done = await until(
      async () => (await (await fetch(`${app.url}/v1/jobs/${big.id}`, { headers: auth })).json()) as JobJson,
      (j) => j.status === 'succeeded' || j.status === 'failed',
      600_000,
    );
    if (done.status !== 'succeeded') throw new Error(`the ${BIG}-item job ${done.status}`);
    const wall = (Date.now() - t0) / 1000;
    job = {
      seconds: wall,
      perSecond: BIG / wall,
      queueMs: Date.parse(done.started_at ?? '') - Date.parse(done.created_at),
    };

    const t1 = Date.now();
    for (let i = 0; i < BIG; i += chunk) {
      const r = await post(
        '/v1/models/sentiment-en/predict',
        { inputs: inputs.slice(i, i + chunk) },
        {
          'cache-control': 'no-store',
        },
      );
      if (!r.ok) throw new Error(`sync predict: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
    const syncWall = (Date.now() - t1) / 1000;
    sync = { seconds: syncWall, perSecond: BIG / syncWall };
  } finally {
    await app.stop();
    await receiver.close();
  }
  raw['webhook'] = { toWebhook: webhook, accept: accepted, createdToStarted: queued };
  raw['throughput'] = { items: BIG, chunk, job, sync };

  const acceptTable = table(
    'job accept inside workerd (the app in-process, real local Durable Objects and Queues; no consumer), ms (block means)',
    ['request', 'p50', 'p99', 'goal'],
    [
      ['POST /v1/jobs, one sentence (a new job in its key shard)', accept.p50, accept.p99, '≤ 5 ms'],
      ['the same, replayed by Idempotency-Key (read only: no new job)', replay.p50, replay.p99, ''],
      ['POST /v1/jobs, 1,000 sentences (validated, cut into chunks, stored)', acceptList.p50, acceptList.p99, ''],
      ['for scale: POST predict, one sentence, no-store', predict.p50, predict.p99, ''],
    ],
  );
  const webhookTable = table(
    `one sentiment-en input, job → completed webhook at a loopback receiver, under wrangler dev (${WEBHOOK_RUNS} runs), ms`,
    ['step', 'p50', 'p99'],
    [
      ['POST /v1/jobs answered (HTTP)', accepted.p50, accepted.p99],
      ['created_at → started_at (queue delivery to the consumer)', queued.p50, queued.p99],
      ['submit → webhook received', webhook.p50, webhook.p99],
    ],
  );
  const throughputTable = table(
    `${BIG} sentences through sentiment-en, batch ${chunk} (one client, wrangler dev)`,
    ['path', 'seconds', 'sentences/s', 'ratio to sync'],
    [
      ['job (queue consumer, chunks of the sync batch)', job.seconds, job.perSecond, job.perSecond / sync.perSecond],
      ['sync API, sequential calls of the same batch, no-store', sync.seconds, sync.perSecond, 1],
    ],
  );
  return { tables: [acceptTable, webhookTable, throughputTable], raw };
}
