/**
 * @module The local miniflare state `wrangler dev` serves from, opened through wrangler's platform proxy with the
 * repo's own wrangler.toml: the one way scripts (start, seed, publish, dev and bench keys, `keys bootstrap`) reach the
 * local R2 and KV, whatever folder they are run from.
 */
import { join } from 'node:path';
import { getPlatformProxy, type PlatformProxy } from 'wrangler';

const REPO_ROOT = join(import.meta.dirname, '..');

/** `wrangler dev`'s default `--persist-to`. */
export const DEFAULT_STATE_DIR = join(REPO_ROOT, '.wrangler', 'state');

/**
 * The bindings of the local state under `stateDir` (as `wrangler dev --persist-to` takes it; the proxy's own path is
 * `<stateDir>/v3`), or at exactly `path` when given; dispose it after use.
 */
export function localProxy<E extends Record<string, unknown>>(
  where: { stateDir?: string | undefined; path?: string | undefined } = {},
): Promise<PlatformProxy<E>> {
  const path = where.path ?? join(where.stateDir ?? DEFAULT_STATE_DIR, 'v3');
  return getPlatformProxy<E>({ configPath: join(REPO_ROOT, 'wrangler.toml'), persist: { path } });
}
