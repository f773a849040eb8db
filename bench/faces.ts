/**
 * @module Face-detection benchmark (`npm run bench -- faces`): both BlazeFace models on scikit-image's astronaut
 * photo (Debian python3-skimage, as the tests use it). `session.run` at batch 1 inside workerd (the bench Worker, the
 * product's runtime module) against onnxruntime-node (1 intra-op thread) and onnxruntime-web in Node; then the whole
 * task — JPEG decode, letterbox, run, anchors, weighted NMS — through the app in workerd against the same task code
 * on onnxruntime-node. Edge ÷ native is the figure to watch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createOriginSession } from '../origin/runtime.js';
import { readBuiltModels } from '../scripts/model-store.js';
import { ManifestSchema, type Manifest } from '../src/lib/manifest.js';
import { faceDetection, facePreprocess, letterboxTensor } from '../src/tasks/vision/face-detection.js';
import { decodeImage } from '../src/codecs/image.js';
import { runTask } from '../src/tasks/task.js';
import { facePhotos } from '../test/support/faces.js';
import { seedInProcess, timeInProcess } from './edge.js';
import { startWrangler, table, timeBlocks, timeNodeRun, timeWebRun, timeWorkerdRun, type Summary } from './harness.js';

const ITER = Number(process.env['BENCH_ITER'] ?? 100);
const WARMUP = 20;
const MODELS = ['blazeface', 'blazeface-back'] as const;

interface Case {
  manifest: Manifest;
  dir: string;
  input: string;
  dims: number[];
  data: Float32Array;
}

function timeWorkerd(url: string, c: Case): Promise<Summary> {
  return timeWorkerdRun(
    url,
    readFileSync(join(c.dir, c.manifest.model_file)),
    [{ name: c.input, type: 'float32', dims: c.dims, data: Array.from(c.data) }],
    ITER,
    WARMUP,
  );
}

/** The task's whole path in Node on onnxruntime-node (what the origin runs): parse (decode + letterbox) → run → decode. */
async function timeTaskNode(c: Case, jpeg: Uint8Array): Promise<Summary> {
  const session = await createOriginSession(readFileSync(join(c.dir, c.manifest.model_file)), {
    provider: 'cpu',
    intraOpNumThreads: 1,
  });
  const body = { kind: 'binary' as const, bytes: jpeg, contentType: 'image/jpeg', parameters: {} };
  const limits = { maxBatch: 1, maxTextChars: 1 };
  const out = await timeBlocks(
    async () => runTask(faceDetection, await faceDetection.parse(body, c.manifest, limits), session, c.manifest),
    ITER,
    WARMUP,
  );
  await session.release();
  return out;
}

export async function benchFaces(): Promise<unknown> {
  const built = new Map(readBuiltModels().map((m) => [m.id, m]));
  const astronaut = facePhotos()['astronaut'];
  if (astronaut === undefined) throw new Error('astronaut photo missing');
  const jpeg = new Uint8Array(Buffer.from(astronaut.image, 'base64'));
  const img = decodeImage(jpeg, { where: 'astronaut', maxPixels: 4_000_000 });
  const rows: (string | number)[][] = [];
  const raw: Record<string, unknown> = {};
  for (const id of MODELS) {
    const m = built.get(id);
    if (m === undefined) throw new Error(`${id} is not built: npm run models:build`);
    const manifest = ManifestSchema.parse(JSON.parse(m.manifestText));
    const c: Case = {
      manifest,
      dir: m.dir,
      input: manifest.inputs[0]?.name ?? '',
      dims: manifest.inputs[0]?.shape.map(Number) ?? [],
      data: letterboxTensor(img, facePreprocess(manifest)).data,
    };
    // A fresh bench Worker per model, so neither model's session warms or crowds the other's.
    const worker = await startWrangler('bench/wrangler.toml', '/info');
    try {
      const edge = await timeWorkerd(worker.url, c);
      const run = {
        file: join(c.dir, c.manifest.model_file),
        input: c.input,
        dims: c.dims,
        data: c.data,
        iterations: ITER,
        warmup: WARMUP,
      };
      const node = await timeNodeRun(run);
      const web = await timeWebRun(run);
      const apiKey = await seedInProcess(worker.url, m.dir, manifest);
      const taskEdge = await timeInProcess(worker.url, {
        path: `/v1/models/${id}/predict`,
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'cache-control': 'no-store',
        },
        body: JSON.stringify({ inputs: astronaut.image }),
        iterations: ITER,
      });
      const taskNode = await timeTaskNode(c, jpeg);
      raw[id] = { edge, node, web, taskEdge, taskNode };
      const size = `${c.dims[1] ?? 0}²`;
      rows.push([id, `session.run ${size}`, edge.p50, edge.p99, node.p50, web.p50, edge.p50 / node.p50]);
      rows.push([id, 'predict, 512² JPEG', taskEdge.p50, taskEdge.p99, taskNode.p50, '', taskEdge.p50 / taskNode.p50]);
    } finally {
      await worker.stop();
    }
  }
  const runTable = table(
    `BlazeFace at batch 1 on astronaut.png, ms (block means, ${ITER} runs each, 1 thread); predict = JSON base64 JPEG → faces (workerd: the app in-process, no cache; node: the same task code on onnxruntime-node)`,
    ['model', 'what', 'workerd p50', 'workerd p99', 'node p50', 'web-in-node p50', 'workerd ÷ node'],
    rows,
  );
  return { tables: [runTable], raw };
}
