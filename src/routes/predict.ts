/** @module `POST /v1/models/{id}/predict`: the task API (Hugging Face task JSON). */
import { Hono } from 'hono';
import { ApiError } from '../lib/errors.js';
import { parseModelRef } from '../storage/registry.js';
import { taskModule } from '../tasks/index.js';
import { limitBody, readPredictBody } from './body.js';
import { servePlaced, taskContext, taskWays } from './placed.js';
import { services, type AppEnv } from './services.js';

export const predictRouter = new Hono<AppEnv>().post('/:ref/predict', limitBody, async (c) => {
  const { registry, config } = services(c);
  const manifest = await registry.resolve(parseModelRef(c.req.param('ref')));
  const task = taskModule(manifest.task);
  if (task === undefined) {
    throw new ApiError(
      422,
      'invalid_input',
      `Model '${manifest.id}' (${manifest.task}) is served through POST /v2/models/${manifest.id}/infer only.`,
    );
  }
  const body = await readPredictBody(c);
  const parsed = await task.parse(
    body,
    manifest,
    { maxBatch: config.maxBatch, maxTextChars: config.maxTextChars },
    taskContext(registry, manifest),
  );
  const ways = taskWays(registry, manifest, task, parsed, () =>
    body.kind === 'json'
      ? { body: JSON.stringify({ inputs: body.inputs, parameters: body.parameters }), contentType: 'application/json' }
      : { body: body.bytes, contentType: body.contentType },
  );
  const result = await servePlaced(c, manifest, {
    ...ways,
    size: task.size(parsed),
    surface: 'predict',
    cacheInput: task.cacheKeyInput(parsed),
  });
  return c.json(result.output as object);
});
