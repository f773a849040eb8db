/**
 * @module wrangler.toml as wrangler itself reads it (`unstable_readConfig`): the rate-limit tiers the Worker mirrors
 * agree with the `[[ratelimits]]` bindings that enforce them, the production config carries no key or secret, and
 * the operations settings the service relies on (observability, assets, CORS off) are there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { unstable_readConfig } from 'wrangler';
import { REPO_ROOT } from '../../origin/config.js';
import { DEFAULT_TIERS, parseTiers, readConfig as readVars } from '../../src/lib/config.js';

/** The part of wrangler's normalised config read here (its published type does not resolve under this tsconfig). */
interface ConfigView {
  vars: Record<string, unknown>;
  ratelimits: { name: string; namespace_id: string; simple: { limit: number; period: number } }[];
  kv_namespaces: { binding: string }[];
  observability?: { enabled?: boolean };
  assets?: { directory?: string };
  queues: {
    producers?: { binding: string; queue: string }[];
    consumers?: { queue: string; max_retries?: number; dead_letter_queue?: string }[];
  };
  durable_objects: { bindings: { name: string; class_name: string }[] };
  migrations: { tag: string; new_sqlite_classes?: string[] }[];
}

const readConfig = unstable_readConfig as unknown as (args: { config: string }) => ConfigView;
const config = readConfig({ config: join(REPO_ROOT, 'wrangler.toml') });
const vars = config.vars;
const ratelimits = config.ratelimits;
const kvNamespaces = config.kv_namespaces;

describe('wrangler.toml', () => {
  it('declares a Rate Limiting binding for every tier, with the numbers RATE_LIMIT_TIERS mirrors', () => {
    const tiers = parseTiers(String(vars['RATE_LIMIT_TIERS']));
    expect(Object.keys(tiers).sort()).toEqual(['default', 'high', 'ip']);
    // The code's defaults (used when the var is unset or broken) are the same tiers.
    expect(tiers).toEqual(DEFAULT_TIERS);
    for (const [name, tier] of Object.entries(tiers)) {
      const binding = ratelimits.find((r) => r.name === tier.binding);
      expect(binding, `tier ${name}`).toBeDefined();
      expect(binding?.simple).toEqual({ limit: tier.limit, period: tier.period });
    }
    const ids = ratelimits.map((r) => r.namespace_id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('builds in no API key and no secret; the dev key file is git-ignored', () => {
    const text = JSON.stringify(vars);
    expect(text).not.toMatch(/ei_(live|dev)_/);
    expect(Object.keys(vars)).not.toContain('ORIGIN_SECRET');
    expect(Object.keys(vars)).not.toContain('EDGE_INFER_KEY');
    // `git check-ignore` exits 0 when the path is ignored.
    expect(() => execFileSync('git', ['check-ignore', '-q', '.dev.vars'], { cwd: REPO_ROOT })).not.toThrow();
  });

  it('binds the key store and turns on Workers Logs; serves public/ as assets; CORS is off', () => {
    expect(kvNamespaces.map((k) => k.binding).sort()).toEqual(['AUTH', 'CACHE']);
    expect(config.observability?.enabled).toBe(true);
    expect(config.assets?.directory).toBe('./public');
    expect(existsSync(join(REPO_ROOT, 'public', 'index.html'))).toBe(true);
    expect(vars['CORS_ORIGINS']).toBe('');
  });

  it('never lets a deployed Worker call loopback webhooks; npm start alone turns that on', () => {
    expect(vars['WEBHOOK_ALLOW_LOOPBACK']).toBe('');
    const deployed = readVars(vars);
    expect(deployed.webhooks.allowLoopback).toBe(false);
    expect(deployed.webhooks.dohUrl).toMatch(/^https:\/\//);
    expect(deployed.webhooks.timeoutMs).toBeLessThanOrEqual(10_000);
  });

  it('declares the job and delivery queues, both consumed here, dead-lettering into a consumed DLQ', () => {
    const producers = Object.fromEntries((config.queues.producers ?? []).map((p) => [p.binding, p.queue]));
    expect(producers).toEqual({ JOBS: 'edge-inference-jobs', DELIVERIES: 'edge-inference-webhooks' });
    const consumers = new Map((config.queues.consumers ?? []).map((c) => [c.queue, c]));
    for (const queue of Object.values(producers)) {
      expect(consumers.get(queue)?.dead_letter_queue).toBe('edge-inference-dlq');
    }
    // The delivery consumer counts attempts itself; the queue's retries must never end them first.
    const attempts = Number(vars['WEBHOOK_MAX_ATTEMPTS']);
    expect(consumers.get('edge-inference-webhooks')?.max_retries ?? 3).toBeGreaterThan(attempts);
    // The handler tells the dead-letter queue apart by its suffix (src/jobs/consumer.ts).
    expect(consumers.has('edge-inference-dlq')).toBe(true);
  });

  it('binds the three SQLite Durable Object classes', () => {
    const classes = config.durable_objects.bindings.map((b) => b.class_name).sort();
    expect(classes).toEqual(['HookObject', 'JobObject', 'WebhookSecretsObject']);
    expect(config.migrations.flatMap((m) => m.new_sqlite_classes ?? []).sort()).toEqual(classes);
  });
});
