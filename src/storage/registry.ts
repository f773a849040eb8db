/**
 * @module The model registry on R2: `latest` pointers, versioned manifests (zod-validated, cached in the
 * isolate with a short TTL) and model files whose sha256 is checked on every load. A model that does not resolve
 * but has a build status (src/storage/model-status.ts: still building under `npm start`, or failed) is reported as
 * not ready rather than absent.
 */
import { ServiceError, modelNotFound, modelUnavailable } from '../lib/errors.js';
import { sha256Hex } from '../lib/sha256.js';
import { ManifestSchema, ModelIdSchema, VersionSchema, r2Keys, type Manifest } from '../lib/manifest.js';
import {
  isNotReady,
  ModelNotReadyError,
  parseModelStatus,
  statusKey,
  type ModelStatus,
  type NotReadyStatus,
} from './model-status.js';

export interface ModelRef {
  id: string;
  version?: string;
}

/** `id` or `id@version`, as in `/v1/models/sentiment-en@1.0.0/predict`. */
export function parseModelRef(ref: string): ModelRef {
  const at = ref.indexOf('@');
  const id = at === -1 ? ref : ref.slice(0, at);
  const version = at === -1 ? undefined : ref.slice(at + 1);
  if (!ModelIdSchema.safeParse(id).success || (version !== undefined && !VersionSchema.safeParse(version).success)) {
    throw modelNotFound(ref);
  }
  return version === undefined ? { id } : { id, version };
}

/**
 * The slice of an R2 bucket the registry reads. An R2Bucket satisfies it as is; the origin passes a local
 * directory or R2's S3 API behind the same shape, so both sides share one manifest and sha256 path.
 */
export interface ModelObject {
  text(): Promise<string>;
  json<T>(): Promise<T>;
  arrayBuffer(): Promise<ArrayBuffer>;
}
export interface ModelBucket {
  get(key: string): Promise<ModelObject | null>;
  list(options: {
    prefix: string;
    delimiter: string;
    cursor?: string;
  }): Promise<{ delimitedPrefixes: string[]; truncated: boolean; cursor?: string }>;
}

/** A model the catalogue lists without a card: it has a build status but no manifest yet. */
export interface NotReadyModel {
  id: string;
  status: NotReadyStatus;
}

interface CachedManifest {
  manifest: Manifest;
  expires: number;
}

export class ModelRegistry {
  private readonly manifests = new Map<string, CachedManifest>();
  private readonly latest = new Map<string, { version: string; expires: number }>();

  constructor(
    private readonly bucket: ModelBucket,
    private readonly ttlMs: number,
  ) {}

  /**
   * The manifest a reference names; 404 when absent, 503 when present but invalid, 503 (ModelNotReadyError) when
   * absent but building or failed to build. The status is read only on the way to a 404, so a ready model pays
   * nothing for it, and it is never cached: it changes while the build runs, and the manifest appears when done.
   */
  async resolve(ref: ModelRef): Promise<Manifest> {
    try {
      return await this.resolveManifest(ref);
    } catch (err) {
      if (!(err instanceof ServiceError) || err.code !== 'model_not_found') throw err;
      const status = await this.buildStatus(ref.id);
      // A pinned version other than the one being built is simply absent.
      if (status === undefined || !isNotReady(status) || (ref.version !== undefined && status.version !== ref.version))
        throw err;
      throw new ModelNotReadyError(ref.id, status);
    }
  }

  /** A model's build status (`models/{id}/status.json`), or undefined when it has none or it does not parse. */
  async buildStatus(id: string): Promise<ModelStatus | undefined> {
    if (!ModelIdSchema.safeParse(id).success) return undefined;
    const object = await this.bucket.get(statusKey(id));
    if (object === null) return undefined;
    try {
      return parseModelStatus(await object.json());
    } catch {
      return undefined;
    }
  }

  private async resolveManifest(ref: ModelRef): Promise<Manifest> {
    const version = ref.version ?? (await this.latestVersion(ref.id));
    const key = r2Keys.manifest(ref.id, version);
    const now = Date.now();
    const cached = this.manifests.get(key);
    if (cached && cached.expires > now) return cached.manifest;
    const object = await this.bucket.get(key);
    if (object === null) throw modelNotFound(`${ref.id}@${version}`);
    let raw: unknown;
    try {
      raw = await object.json();
    } catch {
      throw this.broken(ref.id, version, 'manifest is not JSON');
    }
    const parsed = ManifestSchema.safeParse(raw);
    if (!parsed.success)
      throw this.broken(
        ref.id,
        version,
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    if (parsed.data.id !== ref.id || parsed.data.version !== version)
      throw this.broken(ref.id, version, 'manifest id/version do not match its key');
    if (!parsed.data.files.some((f) => f.name === parsed.data.model_file))
      throw this.broken(ref.id, version, 'model_file is not listed in files');
    this.manifests.set(key, { manifest: parsed.data, expires: now + this.ttlMs });
    return parsed.data;
  }

  /** Every model's default version, for the catalogue. Broken ones are logged and left out. */
  async list(): Promise<Manifest[]> {
    return (await this.catalogue()).ready;
  }

  /**
   * The catalogue: every ready model's default version, and the models still building or failed to build (those
   * with a status but no manifest). Broken ones are logged and left out of both.
   */
  async catalogue(): Promise<{ ready: Manifest[]; notReady: NotReadyModel[] }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix: r2Keys.prefix, delimiter: '/', ...(cursor ? { cursor } : {}) });
      for (const p of page.delimitedPrefixes) ids.push(p.slice(r2Keys.prefix.length, -1));
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor !== undefined);
    const ready: Manifest[] = [];
    const waiting: NotReadyModel[] = [];
    for (const id of ids.sort()) {
      try {
        ready.push(await this.resolve({ id }));
      } catch (err) {
        if (err instanceof ModelNotReadyError) waiting.push({ id, status: err.buildStatus });
        else if (!(err instanceof ServiceError)) throw err;
        // A model without a `latest` pointer or with a bad manifest is not served; say so in the logs only.
      }
    }
    return { ready, notReady: waiting };
  }

  /** The model file's bytes, refused unless size and sha256 match the manifest. */
  async loadModelBytes(manifest: Manifest, fileName = manifest.model_file): Promise<Uint8Array> {
    const file = manifest.files.find((f) => f.name === fileName);
    if (file === undefined) throw this.broken(manifest.id, manifest.version, `file ${fileName} is not in the manifest`);
    const object = await this.bucket.get(r2Keys.file(manifest.id, manifest.version, fileName));
    if (object === null) throw this.broken(manifest.id, manifest.version, `file ${fileName} is missing from R2`);
    const bytes = new Uint8Array(await object.arrayBuffer());
    if (bytes.byteLength !== file.bytes) {
      throw this.broken(
        manifest.id,
        manifest.version,
        `file ${fileName} has ${bytes.byteLength} bytes, manifest says ${file.bytes}`,
      );
    }
    const digest = await sha256Hex(bytes);
    if (digest !== file.sha256)
      throw this.broken(manifest.id, manifest.version, `file ${fileName} sha256 ${digest} does not match the manifest`);
    return bytes;
  }

  private async latestVersion(id: string): Promise<string> {
    const now = Date.now();
    const cached = this.latest.get(id);
    if (cached && cached.expires > now) return cached.version;
    const object = await this.bucket.get(r2Keys.latest(id));
    if (object === null) throw modelNotFound(id);
    const version = (await object.text()).trim();
    if (!VersionSchema.safeParse(version).success) throw this.broken(id, version, 'latest pointer is not a version');
    this.latest.set(id, { version, expires: now + this.ttlMs });
    return version;
  }

  private broken(id: string, version: string, why: string): ServiceError {
    // Operators need the reason; clients get a stable sentence without internals.
    console.error(JSON.stringify({ msg: 'model unavailable', model: `${id}@${version}`, why }));
    return modelUnavailable(`Model '${id}@${version}' is unavailable right now.`);
  }
}
