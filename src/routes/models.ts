/** @module The catalogue: `GET /v1/models` and `GET /v1/models/{id}` (ModelCards). */
import { Hono } from 'hono';
import type { Manifest } from '../storage/manifest.js';
import { parseModelRef } from '../storage/registry.js';
import { services, type AppEnv } from './services.js';

const numberMetric = (m: Manifest, key: string): number | null => {
  const v = m.metrics[key];
  return typeof v === 'number' ? v : null;
};

/** What a caller may see of a manifest: everything but file plumbing and preprocessing internals. */
export function modelCard(m: Manifest): Record<string, unknown> {
  return {
    id: m.id,
    object: 'model',
    version: m.version,
    task: m.task,
    description: m.description,
    license: m.license,
    source: m.source,
    size_bytes: m.files.reduce((n, f) => n + f.bytes, 0),
    // The two figures a caller compares models by, lifted out of `metrics` (null when the build measured none).
    accuracy: numberMetric(m, 'accuracy'),
    edge_latency_ms_p50: numberMetric(m, 'edge_latency_ms_p50'),
    quantization: m.quantization,
    labels: m.labels,
    inputs: m.inputs,
    outputs: m.outputs,
    placement: m.placement,
    edge_limits: m.edge_limits,
    metrics: m.metrics,
    created_at: m.created_at,
  };
}

export const modelsRouter = new Hono<AppEnv>()
  .get('/', async (c) => {
    const list = await services(c).registry.list();
    return c.json({ object: 'list', data: list.map(modelCard) });
  })
  .get('/:ref', async (c) => {
    const manifest = await services(c).registry.resolve(parseModelRef(c.req.param('ref')));
    return c.json(modelCard(manifest));
  });
