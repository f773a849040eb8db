/** @module The origin's configuration from environment variables, with defaults that suit `npm start`. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { S3Settings } from './store.js';
import type { BatchingSettings, GenerationSettings } from './models.js';
import type { RuntimeOptions } from './runtime.js';
import { intVar } from '../src/lib/config.js';

export interface OriginServerConfig {
  port: number;
  host: string;
  secret: string;
  /** True when ORIGIN_SECRET was not set and a random one was made up for this run. */
  generatedSecret: boolean;
  store: { kind: 'local'; dir: string } | ({ kind: 's3' } & S3Settings);
  runtime: RuntimeOptions;
  batching: BatchingSettings;
  generation: GenerationSettings;
  limits: { maxBodyBytes: number; maxBatch: number; maxTextChars: number; maxInferElements: number };
  manifestTtlMs: number;
  preload: boolean;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  return intVar(env[name], fallback, min);
}

/** Set and valid, or undefined (then the manifest decides). */
function optionalInt(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const n = int(env, name, NaN, min);
  return Number.isNaN(n) ? undefined : n;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  return !['0', 'false', 'off', 'no'].includes(raw);
}

export const REPO_ROOT = join(import.meta.dirname, '..');

export function readOriginServerConfig(env: NodeJS.ProcessEnv): OriginServerConfig {
  const secret = env['ORIGIN_SECRET'] ?? '';
  const provider = env['ORIGIN_EXECUTION_PROVIDER'];
  const r2 = env['R2_ENDPOINT'];
  const store: OriginServerConfig['store'] =
    r2 !== undefined && r2 !== ''
      ? {
          kind: 's3',
          endpoint: r2,
          bucket: env['R2_BUCKET'] ?? 'edge-inference-models',
          accessKeyId: env['R2_ACCESS_KEY_ID'] ?? '',
          secretAccessKey: env['R2_SECRET_ACCESS_KEY'] ?? '',
        }
      : { kind: 'local', dir: env['MODEL_STORE'] ?? join(REPO_ROOT, 'build', 'models') };
  return {
    port: int(env, 'PORT', 8788, 0),
    // Loopback unless told otherwise: the origin trusts its secret, not its network, but need not be exposed.
    host: env['HOST'] ?? '127.0.0.1',
    secret: secret === '' ? randomBytes(24).toString('base64url') : secret,
    generatedSecret: secret === '',
    store,
    runtime: {
      provider: provider === 'cpu' || provider === 'cuda' ? provider : 'auto',
      intraOpNumThreads: int(env, 'ORIGIN_INTRA_OP_THREADS', 1, 1),
    },
    batching: {
      enabled: flag(env, 'ORIGIN_BATCHING', true),
      maxBatchSize: optionalInt(env, 'ORIGIN_MAX_BATCH_SIZE', 1),
      maxQueueDelayMs: optionalInt(env, 'ORIGIN_MAX_QUEUE_DELAY_MS', 0),
      maxQueueSize: optionalInt(env, 'ORIGIN_MAX_QUEUE_SIZE', 1),
    },
    generation: {
      // Continuous batching on by default; ORIGIN_GENERATION_MAX_BATCH=1 decodes one sequence at a time.
      maxBatch: int(env, 'ORIGIN_GENERATION_MAX_BATCH', 16, 1),
      tokenBudget: int(env, 'ORIGIN_GENERATION_TOKEN_BUDGET', 65_536, 1),
    },
    limits: {
      maxBodyBytes: int(env, 'MAX_BODY_BYTES', 32 * 1024 * 1024, 1),
      maxBatch: int(env, 'MAX_BATCH', 1024, 1),
      maxTextChars: int(env, 'MAX_TEXT_CHARS', 4096, 1),
      maxInferElements: int(env, 'MAX_INFER_ELEMENTS', 64 * 1024 * 1024, 1),
    },
    manifestTtlMs: int(env, 'MANIFEST_TTL_SECONDS', 30, 0) * 1000,
    preload: flag(env, 'ORIGIN_PRELOAD', true),
  };
}
