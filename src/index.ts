/**
 * @module The Worker's entry: the edge app (src/app.ts) as the fetch handler, the queue consumer that runs jobs and
 * delivers webhooks through that same app, and the Durable Object classes wrangler.toml binds.
 */
import { app } from './app.js';
import { queueHandler } from './jobs/consumer.js';
import type { JobMessage } from './jobs/model.js';

export { app, type AppType } from './app.js';
export { JobObject } from './jobs/job-object.js';
export { HookObject } from './webhooks/hook-object.js';
export { WebhookSecretsObject } from './webhooks/secrets-object.js';

export default {
  fetch: app.fetch,
  queue: queueHandler((request, env, ctx) => app.fetch(request, env, ctx)),
} satisfies ExportedHandler<Env, JobMessage>;
