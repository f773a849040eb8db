/**
 * @module Hugging Face text folders and their oracle: tiny BERTs with each head (models/hf-tiny/bert.ts) written in
 * Optimum's layout, prepared by the publish CLI's own code (no --task: the architecture picks it), and the answers of
 * transformers.js's pipelines run offline on a copy of the same folders (its layout: `onnx/model.onnx`). Runs once in
 * Node in the global setup; workerd gets the prepared models and the oracle's answers.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vocabulary, writeTinyBertFolder, type TinyBertFolderOptions } from '../../models/hf-tiny/bert.js';
import { preparePublish } from '../../scripts/publish.js';
import { CLASSIFY_TEXTS, NER_TEXTS, QA, ZERO_SHOT } from './hf-text-inputs.js';
import type { GroupRef, HfTextReferences, LabelScoreRef, StoredModel, TokenRef } from './provided.js';

export const HF_TEXT_VERSION = '1.0.0';

/** The folders: id → generator options. */
export const HF_TEXT_MODELS = {
  'tiny-bert-sst': { head: 'sequence-classification', labels: ['negative', 'positive'] },
  'tiny-bert-toxic': {
    head: 'sequence-classification',
    labels: ['toxic', 'insult', 'threat'],
    problemType: 'multi_label_classification',
  },
  'tiny-bert-ner': {
    head: 'token-classification',
    labels: ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG'],
  },
  'tiny-bert-nli': { head: 'sequence-classification', labels: ['contradiction', 'neutral', 'entailment'] },
  'tiny-bert-squad': { head: 'question-answering' },
  'tiny-bert-cls': { head: 'base', pooling: 'cls' },
} satisfies Record<string, TinyBertFolderOptions>;

type Pipe = (...args: unknown[]) => Promise<unknown>;

/** Words of the tiny vocabulary that are one token each and plain letters: a long context whose windows align with words. */
function singleTokenWords(): string[] {
  return vocabulary()
    .filter((w) => /^[a-z]{3,}$/.test(w))
    .slice(0, 400);
}

export async function computeHfText(): Promise<HfTextReferences> {
  const root = mkdtempSync(join(tmpdir(), 'hf-text-'));
  const oracleRoot = join(root, 'oracle');
  try {
    const models: StoredModel[] = [];
    for (const [id, options] of Object.entries(HF_TEXT_MODELS)) {
      const dir = writeTinyBertFolder(join(root, id), options);
      const prepared = await preparePublish(dir, {
        id,
        version: HF_TEXT_VERSION,
        placement: 'edge',
        log: () => undefined,
      });
      const files: Record<string, string> = {};
      for (const f of prepared.files) files[f.name] = Buffer.from(f.bytes).toString('base64');
      models.push({ id, version: HF_TEXT_VERSION, dir, manifestText: prepared.manifestText, files });
      // transformers.js reads the same folder with the graph under onnx/.
      const copy = writeTinyBertFolder(join(oracleRoot, id), options);
      mkdirSync(join(copy, 'onnx'), { recursive: true });
      copyFileSync(join(copy, 'model.onnx'), join(copy, 'onnx', 'model.onnx'));
    }
    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false;
    t.env.localModelPath = `${oracleRoot}/`;
    const pipe = async (task: string, id: string): Promise<Pipe> =>
      (await t.pipeline(task as 'text-classification', id, { dtype: 'fp32' })) as unknown as Pipe;

    const sstPipe = await pipe('text-classification', 'tiny-bert-sst');
    const toxicPipe = await pipe('text-classification', 'tiny-bert-toxic');
    const sst: LabelScoreRef[][] = [];
    const toxic: LabelScoreRef[][] = [];
    for (const text of CLASSIFY_TEXTS) {
      sst.push((await sstPipe(text, { top_k: 2 })) as LabelScoreRef[]);
      toxic.push((await toxicPipe(text, { top_k: 3 })) as LabelScoreRef[]);
    }

    const nerPipe = await pipe('token-classification', 'tiny-bert-ner');
    const nerTokens: TokenRef[][] = [];
    const nerSimple: GroupRef[][] = [];
    for (const text of NER_TEXTS) {
      nerTokens.push((await nerPipe(text, { ignore_labels: [] })) as TokenRef[]);
      nerSimple.push((await nerPipe(text, { ignore_labels: [], aggregation_strategy: 'simple' })) as GroupRef[]);
    }

    const nliPipe = await pipe('zero-shot-classification', 'tiny-bert-nli');
    const zeroShot = (await nliPipe(ZERO_SHOT.text, ZERO_SHOT.labels)) as HfTextReferences['zeroShot'];
    const zeroShotMulti = (await nliPipe(ZERO_SHOT.text, ZERO_SHOT.labels, {
      multi_label: true,
    })) as HfTextReferences['zeroShotMulti'];

    const qaPipe = await pipe('question-answering', 'tiny-bert-squad');
    const qa = (await qaPipe(QA.question, QA.context, { top_k: 3 })) as { answer: string; score: number }[];

    // Long context: 120 single-token words; the service cuts windows of `room` tokens, each next one starting
    // `room - stride` tokens on (room = max_seq_len − question tokens − 3 specials). Each window is asked of
    // transformers.js as its own context, and the best three over all windows are the expected answers.
    const words = singleTokenWords();
    const contextWords = Array.from({ length: 120 }, (_, i) => words[(i * 37) % words.length] ?? 'the');
    // Words that are one token each in the tiny vocabulary (checked below), so windows count words.
    const question = 'what is the best';
    const maxSeqLen = 48;
    const docStride = 16;
    const questionTokens = question.split(' ').length;
    const vocab = new Set(vocabulary());
    for (const w of question.split(' ')) if (!vocab.has(w)) throw new Error(`${w} is not a single-token word`);
    const room = maxSeqLen - questionTokens - 3;
    const longAnswers: { answer: string; score: number }[] = [];
    for (let from = 0; ; from += room - docStride) {
      const window = contextWords.slice(from, from + room).join(' ');
      longAnswers.push(...((await qaPipe(question, window, { top_k: 3 })) as { answer: string; score: number }[]));
      if (from + room >= contextWords.length) break;
    }
    longAnswers.sort((a, b) => b.score - a.score);

    const clsPipe = await pipe('feature-extraction', 'tiny-bert-cls');
    const clsEmbeddings: number[][] = [];
    for (const text of CLASSIFY_TEXTS) {
      const out = (await clsPipe(text, { pooling: 'cls', normalize: true })) as { tolist(): number[][] };
      clsEmbeddings.push(out.tolist()[0] ?? []);
    }

    return {
      models,
      sst,
      toxic,
      nerTokens,
      nerSimple,
      zeroShot,
      zeroShotMulti,
      qa,
      long: { question, context: contextWords.join(' '), maxSeqLen, docStride, answers: longAnswers.slice(0, 3) },
      clsEmbeddings,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
