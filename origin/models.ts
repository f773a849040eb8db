/**
 * @module The origin's loaded models: one onnxruntime-node session and one dynamic batcher per `id@version`,
 * loaded once (concurrent first requests share the load) from sha256-checked bytes of the shared registry.
 */
import { ServiceError, modelUnavailable } from '../src/lib/errors.js';
import type { Manifest, TensorSpec } from '../src/lib/manifest.js';
import type { ModelRegistry } from '../src/storage/registry.js';
import { DynamicBatcher } from './batcher.js';
import { GenerationScheduler } from './generation-scheduler.js';
import type { OriginMetrics } from './metrics.js';
import { createOriginSession, type OriginSession, type RuntimeOptions } from './runtime.js';

/** Used when neither the operator nor the manifest says otherwise. */
export const BATCHING_DEFAULTS = { maxBatchSize: 64, maxQueueDelayMs: 2, maxQueueSize: 256 } as const;

/**
 * The operator's batching settings. Values set here override every manifest's `batching` (the operator knows the
 * hardware the origin runs on); unset ones fall back to the manifest, then to BATCHING_DEFAULTS.
 */
export interface BatchingSettings {
  /** false: every request is its own model run (the benchmark's baseline). */
  enabled: boolean;
  maxBatchSize?: number | undefined;
  maxQueueDelayMs?: number | undefined;
  maxQueueSize?: number | undefined;
}

/** Generation on the origin: continuous batching's width and the token budget (origin/generation-scheduler.ts). */
export interface GenerationSettings {
  maxBatch: number;
  tokenBudget: number;
}

export interface LoadedModel {
  manifest: Manifest;
  session: OriginSession;
  batcher: DynamicBatcher;
  /** text-generation models: the continuous batcher their generations share. */
  scheduler?: GenerationScheduler;
}

const dynamicFirst = (s: TensorSpec): boolean => {
  const d = s.shape[0];
  return d !== undefined && (typeof d === 'string' || d < 0);
};

/** Stacking along dim 0 is only sound when every input and output carries the batch there. */
export function isStackable(manifest: Manifest): boolean {
  return manifest.inputs.every(dynamicFirst) && manifest.outputs.every(dynamicFirst);
}

export class ModelPool {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(
    readonly registry: ModelRegistry,
    private readonly runtime: RuntimeOptions,
    private readonly batching: BatchingSettings,
    private readonly metrics: OriginMetrics,
    private readonly generation: GenerationSettings = { maxBatch: 16, tokenBudget: 65_536 },
  ) {}

  /** The loaded model for a manifest; a failed load is forgotten so the next request tries again. */
  get(manifest: Manifest): Promise<LoadedModel> {
    const key = `${manifest.id}@${manifest.version}`;
    let entry = this.loaded.get(key);
    if (entry === undefined) {
      entry = this.load(manifest, key);
      this.loaded.set(key, entry);
      entry.catch(() => this.loaded.delete(key));
    }
    return entry;
  }

  isLoaded(manifest: Manifest): boolean {
    return this.loaded.has(`${manifest.id}@${manifest.version}`);
  }

  private async load(manifest: Manifest, key: string): Promise<LoadedModel> {
    const bytes = await this.registry.loadModelBytes(manifest);
    let session: OriginSession;
    try {
      session = await createOriginSession(bytes, this.runtime);
    } catch (err) {
      if (err instanceof ServiceError) throw err;
      console.error(JSON.stringify({ msg: 'session creation failed', model: key, err: String(err) }));
      throw modelUnavailable(`Model '${key}' is unavailable right now.`);
    }
    const m = this.metrics;
    const labels = { model: key };
    const cfg = manifest.batching;
    const b = this.batching;
    const batcher = new DynamicBatcher({
      maxBatchSize: b.enabled ? (b.maxBatchSize ?? cfg?.max_batch_size ?? BATCHING_DEFAULTS.maxBatchSize) : 1,
      maxQueueDelayMs: b.enabled
        ? (b.maxQueueDelayMs ?? cfg?.max_queue_delay_ms ?? BATCHING_DEFAULTS.maxQueueDelayMs)
        : 0,
      maxQueueSize: b.maxQueueSize ?? cfg?.max_queue_size ?? BATCHING_DEFAULTS.maxQueueSize,
      stackable: isStackable(manifest),
      padInputs: cfg?.pad_inputs ?? [],
      run: async (feeds, outputNames) => {
        const end = m.runSeconds.startTimer(labels);
        try {
          return await session.run(feeds, outputNames);
        } finally {
          end();
        }
      },
      onBatch: (rows, requests) => {
        m.runs.inc(labels);
        m.batchRows.observe(labels, rows);
        m.batchRequests.observe(labels, requests);
      },
      onQueueDepth: (depth) => m.queueDepth.set(labels, depth),
    });
    if (manifest.task !== 'text-generation') return { manifest, session, batcher };
    // Generations step through the session directly: their caches differ in length, which the batcher cannot stack.
    const scheduler = new GenerationScheduler(
      {
        run: async (feeds, outputNames) => {
          const end = m.runSeconds.startTimer(labels);
          try {
            return await session.run(feeds, outputNames);
          } finally {
            end();
          }
        },
      },
      manifest,
      {
        maxBatch: this.generation.maxBatch,
        tokenBudget: this.generation.tokenBudget,
        onStep: (rows) => {
          m.runs.inc(labels);
          m.batchRows.observe(labels, rows);
        },
      },
    );
    return { manifest, session, batcher, scheduler };
  }
}
