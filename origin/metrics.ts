/**
 * @module The origin's Prometheus metrics (prom-client): batch sizes, queue depth, model runs and process defaults.
 * HTTP request counts and latency come from @hono/prometheus on the same registry (origin/app.ts).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface OriginMetrics {
  registry: Registry;
  batchRows: Histogram<'model'>;
  batchRequests: Histogram<'model'>;
  queueDepth: Gauge<'model'>;
  runs: Counter<'model'>;
  runSeconds: Histogram<'model'>;
  rejected: Counter<'model'>;
}

/** One registry per server instance (not prom-client's global one), so tests and benchmarks can run several. */
export function createMetrics(): OriginMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'origin_' });
  const sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256];
  return {
    registry,
    batchRows: new Histogram({
      name: 'origin_batch_rows',
      help: 'Rows (dim 0) per model run.',
      labelNames: ['model'],
      buckets: sizes,
      registers: [registry],
    }),
    batchRequests: new Histogram({
      name: 'origin_batch_requests',
      help: 'Requests stacked into one model run.',
      labelNames: ['model'],
      buckets: sizes,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'origin_queue_depth',
      help: 'Requests waiting in the batch queue.',
      labelNames: ['model'],
      registers: [registry],
    }),
    runs: new Counter({
      name: 'origin_model_runs_total',
      help: 'Model runs (one per batch).',
      labelNames: ['model'],
      registers: [registry],
    }),
    runSeconds: new Histogram({
      name: 'origin_model_run_duration_seconds',
      help: 'Model run latency.',
      labelNames: ['model'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'origin_queue_rejected_total',
      help: 'Requests refused with 429 because the queue was full.',
      labelNames: ['model'],
      registers: [registry],
    }),
  };
}
