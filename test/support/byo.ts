/**
 * @module Bring-your-own-model references: tiny-bert generated into a temporary directory, prepared by the publish
 * CLI's own code (ORT-web validation, manifest), and embeddings computed independently with onnxruntime-node, the
 * same tokenizer.json and a plain mean pooling written here.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ortNode from 'onnxruntime-node';
import { MAX_POSITIONS, writeTinyBert } from '../../models/hf-tiny/bert.js';
import { preparePublish } from '../../scripts/publish.js';
import type { ByoReferences } from './provided.js';

export const BYO_ID = 'tiny-bert';
export const BYO_VERSION = '1.0.0';

const TEXTS = [
  'The food was great and the service was friendly.',
  'Terrible phone, it broke after two days!',
  'ok',
  'Wonderfully acted, though the plot drags in the middle and the ending felt rushed to me.',
];

export async function computeByo(): Promise<ByoReferences> {
  const root = mkdtempSync(join(tmpdir(), 'byo-'));
  try {
    const src = writeTinyBert(join(root, 'export'));
    const prepared = await preparePublish(src, {
      id: BYO_ID,
      task: 'feature-extraction',
      version: BYO_VERSION,
      placement: 'edge',
      maxLength: MAX_POSITIONS,
      log: () => undefined,
    });
    const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(src, 'tokenizer.json'), 'utf8')) as object, {});
    const session = await ortNode.InferenceSession.create(join(src, 'model.onnx'), { intraOpNumThreads: 1 });
    const pooled: number[][] = [];
    const tokens: number[] = [];
    // One text per run: no padding, so the reference does not depend on the service's padding at all.
    for (const text of TEXTS) {
      const e = tokenizer.encode(text);
      const n = e.ids.length;
      const t = (xs: number[]): ortNode.Tensor =>
        new ortNode.Tensor(
          'int64',
          BigInt64Array.from(xs, (x) => BigInt(x)),
          [1, n],
        );
      const out = await session.run({
        input_ids: t(e.ids),
        attention_mask: t(e.attention_mask),
        token_type_ids: t(new Array<number>(n).fill(0)),
      });
      const h = out['last_hidden_state'];
      if (h === undefined) throw new Error('tiny-bert answered no last_hidden_state');
      const data = h.data as Float32Array;
      const width = Number(h.dims[2]);
      const mean = Array.from({ length: width }, (_, j) => {
        let s = 0;
        for (let i = 0; i < n; i++) s += data[i * width + j] ?? 0;
        return s / n;
      });
      pooled.push(mean);
      tokens.push(n);
    }
    await session.release();
    const normalized = pooled.map((v) => {
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
    const files: Record<string, string> = {};
    for (const f of prepared.files) files[f.name] = Buffer.from(f.bytes).toString('base64');
    return {
      model: { id: BYO_ID, version: BYO_VERSION, dir: src, manifestText: prepared.manifestText, files },
      texts: TEXTS,
      tokens,
      pooled,
      normalized,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
