/**
 * @module `GET /openapi.json`: the OpenAPI 3.1 document, generated from the same route definitions and zod schemas
 * that validate requests; the security scheme; the document's front matter. `GET /docs` is a static page
 * (public/docs/) that renders it with Swagger UI served from this Worker's own assets.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, Env as HonoEnv } from 'hono';
import { API_KEY_SCHEME } from './router.js';

const KEY_DESCRIPTION =
  'An API key: `Authorization: Bearer ei_live_…`. Keys are scoped to models (and `admin` for /v1/keys) and ' +
  'rate limited by tier. Under `npm start` a development key is printed on the ready line.';

/** Declares the bearer security scheme on an app's document (the edge's API keys, or the origin's secret). */
export function registerSecurity<E extends HonoEnv>(app: OpenAPIHono<E>, description = KEY_DESCRIPTION): void {
  app.openAPIRegistry.registerComponent('securitySchemes', API_KEY_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description,
  });
}

const EDGE_DESCRIPTION = `Machine-learning models as an HTTP API on Cloudflare's network: quantized ONNX models on
onnxruntime-web (WASM SIMD) at the edge, heavy requests on a KServe v2 origin.

Every error is \`{ "error": { "code", "message" } }\`. Predictions carry \`X-Cache\`, \`X-Placement\`, \`X-Model\` and
\`Server-Timing\`; keyed answers carry \`RateLimit-Limit\` and \`RateLimit-Policy\`, and a 429 carries \`Retry-After\`.
Results are cached per API key (a model may opt into a shared cache for public inputs).`;

const ORIGIN_DESCRIPTION = `The origin: the same task API and KServe v2 routes as the edge, on onnxruntime-node
with dynamic batching. It takes only calls that carry the shared origin secret.`;

/** The front matter of a deployment's document; `servers` is the origin the document was asked from. */
export function documentConfig(kind: 'edge' | 'origin') {
  return (c: Context) => ({
    openapi: '3.1.0',
    info: {
      title: kind === 'edge' ? 'edge-inference API' : 'edge-inference origin',
      version: '0.1.0',
      description: kind === 'edge' ? EDGE_DESCRIPTION : ORIGIN_DESCRIPTION,
    },
    servers: [{ url: new URL(c.req.url).origin }],
    tags: [
      { name: 'Models', description: 'The catalogue.' },
      { name: 'Predictions', description: 'The task API (Hugging Face task JSON).' },
      { name: 'KServe v2', description: 'Open Inference Protocol REST on raw tensors.' },
      ...(kind === 'edge'
        ? [
            { name: 'OpenAI-compatible', description: 'OpenAI API shapes, for the official clients.' },
            { name: 'API keys', description: 'Key management (admin keys).' },
          ]
        : []),
    ],
  });
}
