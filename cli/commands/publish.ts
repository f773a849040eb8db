/**
 * @module `edge-infer models publish <file.onnx|dir> --id ID [--task TASK] …`: scripts/models.ts's publish (validate in
 * onnxruntime-web, write the manifest, upload to the local R2 or `--remote`), the same checks and code as
 * `npm run models -- publish`; the upload bar is scripts/publish.ts's.
 */
import type { GlobalOptions } from '../client.js';
import { usageError } from '../errors.js';
import type { Io } from '../io.js';

export interface PublishCliOptions extends GlobalOptions {
  id: string;
  task?: string | undefined;
  labels?: string | undefined;
  version?: string | undefined;
  description?: string | undefined;
  license?: string | undefined;
  placement?: string | undefined;
  maxLength?: string | undefined;
  remote?: boolean | undefined;
  bucket?: string | undefined;
  persist?: string | undefined;
  out?: string | undefined;
}

export async function publish(io: Io, path: string, o: PublishCliOptions): Promise<void> {
  // Loaded here: wrangler and onnxruntime-web take a while to import, and only this command needs them.
  const { publishModel, publishRequest, publishSummary, USAGE_MISSING } = await import('../../scripts/models.js');
  const request = publishRequest(path, {
    id: o.id,
    task: o.task,
    labels: o.labels,
    version: o.version,
    description: o.description,
    license: o.license,
    placement: o.placement,
    'max-length': o.maxLength,
    remote: o.remote,
    bucket: o.bucket,
    persist: o.persist,
    out: o.out,
  });
  if ('usage' in request)
    throw usageError(
      request.usage === USAGE_MISSING
        ? 'publish needs <path>, --id and --task (unless <path> is a Hugging Face folder)'
        : request.usage,
    );
  const outcome = await publishModel(request, { log: (m) => io.err(m), progress: io.progress });
  io.out(o.json === true ? JSON.stringify(outcome.manifest) : publishSummary(outcome));
}
