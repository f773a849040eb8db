/**
 * @module `edge-infer predict MODEL [TEXT]`: a text, a `--file` (an image or WAV as the raw body, a `.json` request
 * body, a `.txt` text) or `--inputs JSON`, with `--param k=v`, `--no-cache` and `--placement`; prints the labels as
 * rows with bars (or the API's JSON with `--json`) and the model, placement and cache headers on stderr.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { apiClient, authHeaders, resolveTarget, send, type GlobalOptions } from '../client.js';
import { CliError, usageError } from '../errors.js';
import { prediction, predictionFooter } from '../format.js';
import type { Io } from '../io.js';

export interface PredictOptions extends GlobalOptions {
  file?: string | undefined;
  inputs?: string | undefined;
  param: string[];
  /** commander's `--no-cache`: false when given. */
  cache: boolean;
  placement?: 'edge' | 'origin' | undefined;
}

/** The raw media types the predict route takes as a body, by file extension. */
const MEDIA_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.wav': 'audio/wav',
};

type Parameters = Record<string, unknown>;

/** `k=v` pairs into `parameters`: values are JSON when they parse (`top_k=3`, `explain=true`), else strings. */
export function parseParams(pairs: readonly string[]): Parameters {
  const out: Parameters = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`--param ${pair}: expected key=value`);
    const value = pair.slice(at + 1);
    try {
      out[pair.slice(0, at)] = JSON.parse(value) as unknown;
    } catch {
      out[pair.slice(0, at)] = value;
    }
  }
  return out;
}

/** A JSON request body or a raw one; the two take different paths through the client (see `predict`). */
export type PredictBody =
  | { kind: 'json'; json: { inputs: unknown; parameters?: Parameters } }
  | { kind: 'raw'; bytes: Uint8Array; contentType: string };

function readInput(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const withParams = (inputs: unknown, parameters: Parameters): PredictBody => ({
  kind: 'json',
  json: Object.keys(parameters).length === 0 ? { inputs } : { inputs, parameters },
});

/** The request body from the command line: exactly one of TEXT, `--file` and `--inputs`. */
export function predictBody(
  text: string | undefined,
  options: Pick<PredictOptions, 'file' | 'inputs' | 'param'>,
): PredictBody {
  const given = [text, options.file, options.inputs].filter((x) => x !== undefined).length;
  if (given !== 1) throw usageError('give exactly one input: TEXT, --file FILE or --inputs JSON');
  const parameters = parseParams(options.param);
  if (text !== undefined) return withParams(text, parameters);
  if (options.inputs !== undefined) {
    try {
      return withParams(JSON.parse(options.inputs) as unknown, parameters);
    } catch {
      throw usageError(`--inputs: not JSON: ${options.inputs}`);
    }
  }
  const file = options.file ?? '';
  const ext = extname(file).toLowerCase();
  if (ext === '.json') {
    let body: unknown;
    try {
      body = JSON.parse(readInput(file).toString('utf8'));
    } catch (err) {
      throw err instanceof CliError ? err : new CliError(`${file}: not JSON`);
    }
    // A whole request body `{ inputs, parameters }`, or just the inputs (a row of numbers, a list of texts).
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'inputs' in body) {
      const own = 'parameters' in body && typeof body.parameters === 'object' ? body.parameters : {};
      return withParams(body.inputs, { ...own, ...parameters });
    }
    return withParams(body, parameters);
  }
  if (ext === '.txt')
    return withParams(
      readInput(file)
        .toString('utf8')
        .replace(/\r?\n$/, ''),
      parameters,
    );
  const contentType = MEDIA_TYPES[ext];
  if (contentType === undefined) throw usageError(`--file ${file}: use a .png, .jpg, .wav, .json or .txt file`);
  const bytes = new Uint8Array(readInput(file));
  // A raw body carries no parameters, so with --param the file goes base64 in JSON, which the route takes too.
  if (Object.keys(parameters).length > 0) return withParams(Buffer.from(bytes).toString('base64'), parameters);
  return { kind: 'raw', bytes, contentType };
}

export async function predict(io: Io, model: string, text: string | undefined, options: PredictOptions): Promise<void> {
  const body = predictBody(text, options);
  const target = resolveTarget(options, io.env);
  const client = apiClient(target);
  // Sent as request options, not the typed `header` input: the route documents these headers without validating them.
  const headers: Record<string, string> = {
    ...(options.cache ? {} : { 'cache-control': 'no-store' }),
    ...(options.placement === undefined ? {} : { 'x-placement': options.placement }),
  };
  const route = client.v1.models[':model'].predict;
  const res =
    body.kind === 'json'
      ? await send(target, () => route.$post({ param: { model }, json: body.json }, { headers }))
      : // The typed $post only builds JSON (or form) bodies; an image or WAV goes as the raw body with its own
        // Content-Type, to the URL the client builds for the same route.
        await send(target, () =>
          fetch(route.$url({ param: { model } }), {
            method: 'POST',
            headers: { ...authHeaders(target), ...headers, 'content-type': body.contentType },
            body: body.bytes,
          }),
        );
  const footer = predictionFooter(res.headers);
  if (options.json === true) io.out(await res.text());
  else io.out(prediction(await res.json()));
  if (footer !== '') io.err(footer);
}
