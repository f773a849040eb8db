/**
 * @module The origin's production path that has no local twin: models read from R2 through its S3 API. (The edge
 * reaching the origin through a Service Binding is tested in workerd: test/worker/origin.test.ts.)
 *
 * R2's S3 endpoint is a remote third party, so it is the one thing stood in for here: a loopback server that speaks
 * the two S3 calls the store makes (GetObject, ListObjectsV2 with continuation) over the real build/models files, and
 * records each request's SigV4 headers. Everything above it (aws4fetch signing, the registry's zod and sha256 checks)
 * is the real code.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ModelBucket } from '../../origin/store.js';
import { BUILD_DIR, readBuiltModels } from '../../scripts/model-store.js';
import { ModelRegistry } from '../../src/storage/registry.js';

const BUCKET = 'edge-inference-models';
const AKID = 'AKIDTESTONLY';

interface Seen {
  method: string;
  url: string;
  authorization: string;
  amzDate: string;
  contentSha: string;
}

/** Key → bytes for every built model, laid out as R2 holds them. */
function objects(tamper: (key: string, bytes: Buffer) => Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const m of readBuiltModels()) {
    out.set(`models/${m.id}/latest`, Buffer.from(m.version));
    out.set(`models/${m.id}/${m.version}/manifest.json`, Buffer.from(m.manifestText));
    for (const name of Object.keys(m.files)) {
      const key = `models/${m.id}/${m.version}/${name}`;
      out.set(key, tamper(key, readFileSync(join(BUILD_DIR, m.id, m.version, name))));
    }
  }
  return out;
}

function stubS3(store: Map<string, Buffer>, seen: Seen[]): Promise<{ server: Server; endpoint: string }> {
  const server = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    seen.push({
      method: req.method ?? '',
      url: url.pathname + url.search,
      authorization: req.headers['authorization'] ?? '',
      amzDate: String(req.headers['x-amz-date'] ?? ''),
      contentSha: String(req.headers['x-amz-content-sha256'] ?? ''),
    });
    const path = decodeURIComponent(url.pathname).replace(/^\/+/, '');
    if (!path.startsWith(BUCKET)) return void res.writeHead(404).end();
    const key = path.slice(BUCKET.length + 1);
    if (key === '' && url.searchParams.get('list-type') === '2') {
      // Two pages, one prefix each, to exercise the continuation token.
      const prefix = url.searchParams.get('prefix') ?? '';
      const ids = [
        ...new Set(
          [...store.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length).split('/')[0] ?? ''),
        ),
      ].sort();
      const start = Number(url.searchParams.get('continuation-token') ?? 0);
      const page = ids.slice(start, start + 1);
      const more = start + 1 < ids.length;
      const xml = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${BUCKET}</Name>${page
        .map((id) => `<CommonPrefixes><Prefix>${prefix}${id}/</Prefix></CommonPrefixes>`)
        .join(
          '',
        )}<IsTruncated>${more}</IsTruncated>${more ? `<NextContinuationToken>${start + 1}</NextContinuationToken>` : ''}</ListBucketResult>`;
      return void res.writeHead(200, { 'content-type': 'application/xml' }).end(xml);
    }
    const body = store.get(key);
    if (body === undefined)
      return void res
        .writeHead(404, { 'content-type': 'application/xml' })
        .end('<Error><Code>NoSuchKey</Code></Error>');
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({ server, endpoint: `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}` });
    }),
  );
}

describe('models from R2 through its S3 API', () => {
  const seen: Seen[] = [];
  let good: { server: Server; endpoint: string };
  let bad: { server: Server; endpoint: string };
  beforeAll(async () => {
    good = await stubS3(
      objects((_k, b) => b),
      seen,
    );
    // The same store with one byte of the served sentiment file flipped.
    bad = await stubS3(
      objects((k, b) =>
        k.includes('sentiment-en') && k.endsWith('.onnx')
          ? Buffer.concat([b.subarray(0, -1), Buffer.from([(b.at(-1) ?? 0) ^ 0xff])])
          : b,
      ),
      [],
    );
  });
  afterAll(() => {
    good.server.close();
    bad.server.close();
  });

  const bucket = (endpoint: string): S3ModelBucket =>
    new S3ModelBucket({ endpoint, bucket: BUCKET, accessKeyId: AKID, secretAccessKey: 'test-secret' });

  it('lists every model across pages, resolves manifests and loads sha256-checked bytes, every call SigV4-signed', async () => {
    const registry = new ModelRegistry(bucket(good.endpoint), 0);
    const ids = (await registry.list()).map((m) => m.id);
    expect(ids).toEqual(
      readBuiltModels()
        .map((m) => m.id)
        .sort(),
    );
    const manifest = await registry.resolve({ id: 'sentiment-en' });
    const bytes = await registry.loadModelBytes(manifest);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      manifest.files.find((f) => f.name === manifest.model_file)?.sha256,
    );
    expect(seen.some((s) => s.url.includes('continuation-token=1'))).toBe(true);
    for (const s of seen) {
      expect(s.method).toBe('GET');
      expect(s.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${AKID}/\\d{8}/auto/s3/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$`,
        ),
      );
      expect(s.amzDate).toMatch(/^\d{8}T\d{6}Z$/);
      expect(s.contentSha).toMatch(/^([0-9a-f]{64}|UNSIGNED-PAYLOAD)$/);
    }
  });

  it('refuses a file whose bytes do not match the manifest sha256 (503 model_unavailable), and a missing model is 404', async () => {
    const registry = new ModelRegistry(bucket(bad.endpoint), 0);
    const manifest = await registry.resolve({ id: 'sentiment-en' });
    await expect(registry.loadModelBytes(manifest)).rejects.toMatchObject({ status: 503, code: 'model_unavailable' });
    await expect(registry.resolve({ id: 'no-such-model' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
  });
});
