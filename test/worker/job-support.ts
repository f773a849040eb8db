/** @module Helpers the job, webhook and hook tests share: submit, wait for a state, read the receiver's log. */
import { inject } from 'vitest';
import type { JobView } from '../../src/jobs/model.js';
import type { Delivery } from '../support/provided.js';
import { call, json, postJson, type CallOptions } from './client.js';

/** Polls `read` until `done` holds (or the time is up, and the last value is returned for the assertion). */
export async function until<T>(read: () => Promise<T>, done: (v: T) => boolean, ms = 45_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 40));
  }
}

export async function submit(
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
  options: CallOptions = {},
): Promise<JobView> {
  const res = await postJson('/v1/jobs', body, headers, undefined, options);
  if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  return json<JobView>(res);
}

export async function getJob(id: string, options: CallOptions = {}): Promise<JobView> {
  return json<JobView>(await call(`/v1/jobs/${id}`, {}, undefined, options));
}

const FINISHED = ['succeeded', 'failed', 'canceled'];

/** Waits until the job has finished (and, when it has a webhook, its latest delivery settled if `delivered`). */
export function finished(id: string, options: CallOptions = {}): Promise<JobView> {
  return until(
    () => getJob(id, options),
    (j) => FINISHED.includes(j.status),
  );
}

/** The loopback receiver's URL for one test's path, with its behaviour in the query. */
export function receiverUrl(name: string, query = ''): string {
  return `${inject('receiver')}/hook/${name}${query === '' ? '' : `?${query}`}`;
}

/** What the receiver has recorded for one path. */
export async function deliveries(name: string): Promise<Delivery[]> {
  const res = await fetch(`${inject('receiver')}/log/${name}`);
  return res.json<Delivery[]>();
}

/** The sync API's answer for `inputs`, computed fresh (no cache), in requests of at most `batch` items. */
export async function syncOutputs(
  model: string,
  inputs: unknown[],
  batch: number,
  parameters: Record<string, unknown> = {},
  options: CallOptions = {},
): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < inputs.length; i += batch) {
    const res = await postJson(
      `/v1/models/${model}/predict`,
      { inputs: inputs.slice(i, i + batch), parameters },
      { 'cache-control': 'no-store' },
      undefined,
      options,
    );
    if (res.status !== 200) throw new Error(`sync predict answered ${res.status}: ${await res.text()}`);
    out.push(...(await json<unknown[]>(res)));
  }
  return out;
}
