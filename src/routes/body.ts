/** @module Request bodies: a byte limit (413), JSON parsing (400), and the predict body's two forms. */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError, invalidInput } from '../lib/errors.js';
import type { RequestBody } from '../tasks/task.js';
import { services, type AppEnv } from './services.js';

/** Refuses bodies over `MAX_BODY_BYTES` before reading them whole (Content-Length or streamed count). */
export const limitBody: MiddlewareHandler<AppEnv> = async (c, next) => {
  const max = services(c).config.maxBodyBytes;
  return bodyLimit({
    maxSize: max,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `The request body is over the limit of ${max} bytes.`);
    },
  })(c, next);
};

function mediaType(c: Context<AppEnv>): string {
  return (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/** Parses a JSON body: 415 for another media type, 400 for malformed JSON. */
export async function readJson(c: Context<AppEnv>): Promise<unknown> {
  const type = mediaType(c);
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new ApiError(415, 'unsupported_media_type', 'Send the body as application/json.');
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ApiError(400, 'invalid_json', 'The request body is not valid JSON.');
  }
}

const BINARY_TYPES = /^(image|audio)\/[a-z0-9.+-]+$|^application\/octet-stream$/;

/** `{ inputs, parameters }` as JSON, or a raw image/audio body with its media type. */
export async function readPredictBody(c: Context<AppEnv>): Promise<RequestBody> {
  const type = mediaType(c);
  if (BINARY_TYPES.test(type)) {
    return { kind: 'binary', bytes: new Uint8Array(await c.req.arrayBuffer()), contentType: type, parameters: {} };
  }
  const body = await readJson(c);
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw invalidInput('body: must be a JSON object with "inputs".');
  const record = body as Record<string, unknown>;
  if (!('inputs' in record) || record['inputs'] === undefined) throw invalidInput('inputs: required.');
  const parameters = record['parameters'] ?? {};
  if (parameters === null || typeof parameters !== 'object' || Array.isArray(parameters))
    throw invalidInput('parameters: must be an object.');
  return { kind: 'json', inputs: record['inputs'], parameters: parameters as Record<string, unknown> };
}
