/**
 * @module The origin's entry point (`npm run origin`, `npm start`, the Docker image): reads the environment,
 * opens the model store, preloads the models, and serves the app on PORT (default 8788) with @hono/node-server.
 * Prints one JSON line `{"msg":"origin listening","port":…}` once it accepts connections (tests read it).
 */
import { serve, type ServerType } from '@hono/node-server';
import { ModelRegistry } from '../src/storage/registry.js';
import { createOriginApp } from './app.js';
import { readOriginServerConfig, type OriginServerConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { ModelPool } from './models.js';
import { runtimeInfo } from './runtime.js';
import { LocalModelBucket, S3ModelBucket } from './store.js';

export interface RunningOrigin {
  port: number;
  close(): Promise<void>;
}

export async function startOrigin(config: OriginServerConfig): Promise<RunningOrigin> {
  const bucket =
    config.store.kind === 'local' ? new LocalModelBucket(config.store.dir) : new S3ModelBucket(config.store);
  const registry = new ModelRegistry(bucket, config.manifestTtlMs);
  const metrics = createMetrics();
  const pool = new ModelPool(registry, config.runtime, config.batching, metrics, config.generation);
  let ready = !config.preload;
  const app = createOriginApp({ config, pool, metrics, isReady: () => ready });

  if (config.preload) {
    // Load every model before saying ready: first requests then pay no session creation, and a broken model shows now.
    void (async () => {
      for (const manifest of await registry.list()) {
        try {
          await pool.get(manifest);
        } catch (err) {
          console.error(
            JSON.stringify({ msg: 'preload failed', model: `${manifest.id}@${manifest.version}`, err: String(err) }),
          );
        }
      }
      ready = true;
    })().catch((err: unknown) => {
      console.error(JSON.stringify({ msg: 'preload failed', err: String(err) }));
      ready = true;
    });
  }

  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => {
      resolve(s);
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      }),
  };
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const config = readOriginServerConfig(process.env);
  if (config.generatedSecret) {
    console.warn(
      JSON.stringify({ msg: 'ORIGIN_SECRET is not set; using a random one for this run', secret: config.secret }),
    );
  }
  const origin = await startOrigin(config);
  const runtime = runtimeInfo(config.runtime);
  console.log(
    JSON.stringify({
      msg: 'origin listening',
      host: config.host,
      port: origin.port,
      store: config.store.kind === 'local' ? config.store.dir : `s3:${config.store.bucket}`,
      batching: config.batching,
      provider: config.runtime.provider,
      available_providers: runtime.available_providers,
    }),
  );
  const stop = (): void => {
    void origin.close().then(() => process.exit(0));
    // Keep-alive connections can hold close() open; do not wait for them forever.
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
