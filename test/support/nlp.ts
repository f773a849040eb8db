/**
 * @module References for the models trained here on corpora (spam-en, topics-en): a few real inputs and onnxruntime-node's
 * answers on the built files, with the features computed in Node, for the workerd tests to compare the Worker with.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { loadDocuments } from '../../models/topics-en/data.js';
import { readBuiltModels, type StoredModel } from '../../scripts/model-store.js';
import { ManifestSchema, type Manifest } from '../../src/lib/manifest.js';
import { bagConfig, bagOf } from '../../src/tasks/text/bag-of-words.js';
import { padSparse, sparseBatch, TextFeatureConfigSchema } from '../../src/tasks/text/text-features.js';
import type { NlpReferences } from './provided.js';

/** Worker tests run with MAX_TEXT_CHARS 2000 (vitest.config.ts): inputs stay under it. */
const MAX_CHARS = 1900;

function built(id: string): { model: StoredModel; manifest: Manifest } {
  const model = readBuiltModels().find((m) => m.id === id);
  if (model === undefined) throw new Error(`${id} is not built`);
  return { model, manifest: ManifestSchema.parse(JSON.parse(model.manifestText)) };
}

async function session(model: StoredModel, manifest: Manifest): Promise<ortNode.InferenceSession> {
  return ortNode.InferenceSession.create(join(model.dir, manifest.model_file), { intraOpNumThreads: 1 });
}

function rows(data: Float32Array, n: number): number[][] {
  const width = data.length / n;
  return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
}

async function spamReferences(): Promise<NlpReferences['spam']> {
  const { model, manifest } = built('spam-en');
  const heldout = JSON.parse(readFileSync(join(model.dir, 'heldout.json'), 'utf8')) as {
    text: string;
    label: string;
  }[];
  const short = heldout.filter((m) => m.text.length <= MAX_CHARS);
  // Real held-out messages as a mail server stores them (headers, MIME), both kinds, plus two pasted bodies.
  const messages = [
    ...short.filter((m) => m.label === 'spam').slice(0, 3),
    ...short.filter((m) => m.label === 'ham').slice(0, 3),
    { text: 'Congratulations! You have been selected to receive a FREE vacation. Click here now to claim.', label: '' },
    { text: 'Hi Bob, the patch for the build script is attached; can you review it before Monday?', label: '' },
  ];
  const config = TextFeatureConfigSchema.parse(manifest.preprocess);
  const bag = sparseBatch(
    messages.map((m) => m.text),
    config,
  );
  const dims = [messages.length, bag.width];
  const s = await session(model, manifest);
  try {
    const out = await s.run({
      indices: new ortNode.Tensor('int64', bag.indices, dims),
      values: new ortNode.Tensor('float32', bag.values, dims),
    });
    const probs = out['probabilities']?.data;
    if (!(probs instanceof Float32Array)) throw new Error('spam-en answered no probabilities');
    return { messages, labels: manifest.labels ?? [], probabilities: rows(probs, messages.length) };
  } finally {
    await s.release();
  }
}

/** The first words of a text up to about `chars` characters, cut at a space. */
function cut(text: string, chars: number): string {
  if (text.length <= chars) return text;
  return text.slice(0, text.lastIndexOf(' ', chars));
}

async function topicsReferences(): Promise<NlpReferences['topics']> {
  const { model, manifest } = built('topics-en');
  const cfg = bagConfig(manifest);
  const vocabulary = JSON.parse(readFileSync(join(model.dir, cfg.vocabulary_file), 'utf8')) as string[];
  const index = new Map(vocabulary.map((t, i) => [t, i]));
  const { heldout } = JSON.parse(readFileSync(join(model.dir, 'split.json'), 'utf8')) as { heldout: string[] };
  const docs = loadDocuments();
  const passages = heldout.slice(0, 2).map((id) => cut(docs.find((d) => d.id === id)?.text ?? '', 1500));
  const texts = [
    ...passages,
    'The senate passed the tax bill after the president spoke to congress.',
    'The pitcher threw the ball and the team won the baseball game.',
    'Xylophone quokka zzz',
  ];
  const bags = texts.map((t) => bagOf(t, index, cfg.max_tokens));
  const b = padSparse(bags);
  const dims = [texts.length, b.width];
  const s = await session(model, manifest);
  try {
    const out = await s.run({
      indices: new ortNode.Tensor('int64', b.indices, dims),
      values: new ortNode.Tensor('float32', b.values, dims),
    });
    const data = out['embedding']?.data;
    if (!(data instanceof Float32Array)) throw new Error('topics-en answered no embedding');
    const raw = rows(data, texts.length);
    const normalized = raw.map((v) => {
      const n = Math.hypot(...v);
      return n > 0 ? v.map((x) => x / n) : v;
    });
    return { texts, tokens: bags.map((x) => x.tokens), raw, normalized };
  } finally {
    await s.release();
  }
}

export async function computeNlpReferences(): Promise<NlpReferences> {
  return { spam: await spamReferences(), topics: await topicsReferences() };
}
