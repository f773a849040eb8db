/**
 * @module Where the origin reads models from, behind the registry's bucket interface: the local model store
 * (`build/models`, what `npm start` and the tests use) or R2 through its S3-compatible API (production), signed
 * with aws4fetch. The registry on top does the manifest validation and sha256 checks, exactly as on the edge.
 */
import { readdir, readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { AwsClient } from 'aws4fetch';
import { r2Keys } from '../src/lib/manifest.js';
import type { ModelBucket, ModelObject } from '../src/storage/registry.js';

function bytesObject(bytes: Uint8Array): ModelObject {
  return {
    text: () => Promise.resolve(new TextDecoder().decode(bytes)),
    json: <T>() => Promise.resolve(JSON.parse(new TextDecoder().decode(bytes)) as T),
    arrayBuffer: () =>
      Promise.resolve(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer),
  };
}

/**
 * The build layout `build/models/<id>/latest` and `build/models/<id>/<version>/<file>` is R2's layout without the
 * `models/` prefix, so a key maps to a path by dropping it.
 */
export class LocalModelBucket implements ModelBucket {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private path(key: string): string | undefined {
    if (!key.startsWith(r2Keys.prefix)) return undefined;
    const p = resolve(this.root, key.slice(r2Keys.prefix.length));
    // Keys are built from validated ids, but a path outside the store is never read whatever the key says.
    return p.startsWith(this.root + sep) ? p : undefined;
  }

  async get(key: string): Promise<ModelObject | null> {
    const p = this.path(key);
    if (p === undefined) return null;
    try {
      return bytesObject(new Uint8Array(await readFile(p)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR')
        return null;
      throw err;
    }
  }

  async list(options: {
    prefix: string;
    delimiter: string;
  }): Promise<{ delimitedPrefixes: string[]; truncated: boolean }> {
    if (options.prefix !== r2Keys.prefix) return { delimitedPrefixes: [], truncated: false };
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return {
        delimitedPrefixes: entries.filter((e) => e.isDirectory()).map((e) => `${r2Keys.prefix}${e.name}/`),
        truncated: false,
      };
    } catch {
      return { delimitedPrefixes: [], truncated: false };
    }
  }
}

export interface S3Settings {
  /** e.g. `https://<account id>.r2.cloudflarestorage.com` */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
}

function xmlText(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}

/** R2 (or any S3 API) with path-style URLs: GetObject and ListObjectsV2 are all the registry needs. */
export class S3ModelBucket implements ModelBucket {
  private readonly client: AwsClient;

  constructor(private readonly settings: S3Settings) {
    this.client = new AwsClient({
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
      service: 's3',
      region: settings.region ?? 'auto',
    });
  }

  private url(key = ''): URL {
    const base = this.settings.endpoint.replace(/\/+$/, '');
    return new URL(
      `${base}/${encodeURIComponent(this.settings.bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`,
    );
  }

  async get(key: string): Promise<ModelObject | null> {
    const res = await this.client.fetch(this.url(key));
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`S3 GET ${key}: ${res.status}`);
    return bytesObject(new Uint8Array(await res.arrayBuffer()));
  }

  async list(options: {
    prefix: string;
    delimiter: string;
    cursor?: string;
  }): Promise<{ delimitedPrefixes: string[]; truncated: boolean; cursor?: string }> {
    const url = this.url();
    url.searchParams.set('list-type', '2');
    url.searchParams.set('prefix', options.prefix);
    url.searchParams.set('delimiter', options.delimiter);
    if (options.cursor !== undefined) url.searchParams.set('continuation-token', options.cursor);
    const res = await this.client.fetch(url);
    if (!res.ok) throw new Error(`S3 ListObjectsV2: ${res.status}`);
    const xml = await res.text();
    const delimitedPrefixes = [...xml.matchAll(/<CommonPrefixes>\s*<Prefix>([^<]*)<\/Prefix>/g)].map((m) =>
      xmlText(m[1] ?? ''),
    );
    const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
    const token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
    return truncated && token !== undefined
      ? { delimitedPrefixes, truncated, cursor: xmlText(token) }
      : { delimitedPrefixes, truncated: false };
  }
}
