/** @module Open Inference Protocol (KServe v2) REST on the edge: health, metadata, readiness, `infer` on raw tensors. */
import { Hono } from 'hono';
import { edgeSession } from '../inference/edge.js';
import { runtimeInfo } from '../inference/runtime.js';
import { ApiError } from '../lib/errors.js';
import { parseModelRef, type ModelRef } from '../storage/registry.js';
import { inferCacheInput, inferResponse, modelMetadata, parseInferRequest, runInfer } from '../tasks/kserve.js';
import { limitBody, readJson } from './body.js';
import { servePlaced } from './placed.js';
import { services, type AppEnv } from './services.js';

/** Tensor elements per infer request: bounds the memory a request can claim inside a 128 MB isolate. */
const MAX_INFER_ELEMENTS = 4 * 1024 * 1024;

function ref(id: string, version: string | undefined): ModelRef {
  const parsed = parseModelRef(id);
  return version === undefined ? parsed : { id: parsed.id, version };
}

export const kserveRouter = new Hono<AppEnv>()
  .get('/', (c) =>
    c.json({
      name: 'edge-inference',
      version: '0.1.0',
      extensions: ['model_repository_metadata'],
      runtime: runtimeInfo(),
    }),
  )
  .get('/health/live', (c) => c.json({ live: true }))
  .get('/health/ready', async (c) => {
    // Ready means the registry answers; models load lazily on first use.
    await services(c).registry.list();
    return c.json({ ready: true });
  });

for (const base of ['/models/:id', '/models/:id/versions/:version']) {
  kserveRouter
    .get(base, async (c) => {
      const manifest = await services(c).registry.resolve(ref(c.req.param('id') ?? '', c.req.param('version')));
      return c.json(modelMetadata(manifest));
    })
    .get(`${base}/ready`, async (c) => {
      const { registry } = services(c);
      const manifest = await registry.resolve(ref(c.req.param('id') ?? '', c.req.param('version')));
      // Loading the session is the honest readiness check (sha256 and ORT both pass) and warms the isolate.
      await edgeSession(manifest, registry);
      return c.json({ name: manifest.id, version: manifest.version, ready: true });
    })
    .post(`${base}/infer`, limitBody, async (c) => {
      const { registry } = services(c);
      const manifest = await registry.resolve(ref(c.req.param('id') ?? '', c.req.param('version')));
      const body = await readJson(c);
      const parsed = parseInferRequest(body, manifest, MAX_INFER_ELEMENTS);
      const max = manifest.edge_limits.max_batch;
      const result = await servePlaced(c, manifest, {
        size: { batch: parsed.batch },
        surface: 'infer',
        cacheInput: inferCacheInput(parsed),
        admit: (decision) => {
          // Pinned to the edge, so the edge's limit is the model's limit (under auto, bigger batches go to the origin).
          if (decision.target === 'edge' && manifest.placement === 'edge' && max !== undefined && parsed.batch > max) {
            throw new ApiError(
              422,
              'invalid_input',
              `inputs: at most ${max} rows per request for '${manifest.id}' (got ${parsed.batch}).`,
            );
          }
        },
        edge: async (t) => {
          const stages: { fetch?: number } = {};
          const session = await edgeSession(manifest, registry, stages);
          const started = performance.now();
          const outputs = await runInfer(session, parsed);
          Object.assign(t, stages, { inference: performance.now() - started });
          return inferResponse(manifest, parsed, outputs);
        },
        origin: (origin) =>
          origin.post(
            `/v2/models/${manifest.id}/versions/${manifest.version}/infer`,
            JSON.stringify(body),
            'application/json',
          ),
      });
      return c.json(result.output as object);
    });
}
