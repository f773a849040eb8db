/** @module The Worker: the Hono app with every router, JSON errors everywhere, and no stack traces to clients. */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { requestId } from 'hono/request-id';
import { ApiError } from './lib/errors.js';
import { embeddingsRouter } from './routes/embeddings.js';
import { kserveRouter } from './routes/kserve.js';
import { modelsRouter } from './routes/models.js';
import { predictRouter } from './routes/predict.js';
import type { AppEnv } from './routes/services.js';
import { InputError } from './tasks/task.js';

export const app = new Hono<AppEnv>();

app.use('*', requestId());
app.route('/v1/models', modelsRouter);
app.route('/v1/models', predictRouter);
app.route('/v1/embeddings', embeddingsRouter);
app.route('/v2', kserveRouter);

app.notFound((c) =>
  c.json({ error: { code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` } }, 404),
);

app.onError((err, c) => {
  if (err instanceof ApiError) return c.json(err.body(), err.status, err.headers);
  if (err instanceof InputError) return c.json({ error: { code: err.code, message: err.message } }, err.status);
  if (err instanceof HTTPException && err.status < 500) {
    return c.json({ error: { code: 'invalid_input', message: err.message || 'Bad request.' } }, err.status);
  }
  // Unknown failures are ours: log the detail with the request id, tell the client only that it happened.
  console.error(
    JSON.stringify({
      msg: 'unhandled error',
      requestId: c.get('requestId'),
      err: err instanceof Error ? (err.stack ?? err.message) : String(err),
    }),
  );
  return c.json({ error: { code: 'internal', message: 'Something went wrong on our side; it has been logged.' } }, 500);
});

export default app;
