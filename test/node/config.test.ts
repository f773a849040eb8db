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
import { DEFAULT_TIERS, parseTiers } from '../../src/lib/config.js';

/** The part of wrangler's normalised config read here (its published type does not resolve under this tsconfig). */
interface ConfigView {
  vars: Record<string, unknown>;
  ratelimits: { name: string; namespace_id: string; simple: { limit: number; period: number } }[];
  kv_namespaces: { binding: string }[];
  observability?: { enabled?: boolean };
  assets?: { directory?: string };
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
});
