/**
 * @module `npm run models -- tiny TASK DIR`: writes a tiny Hugging Face folder for a task (seeded random weights, the
 * layout Optimum writes), to try `publish` and the task API without a model hub. Nothing it writes is trained.
 */
import { writeTinyBertFolder } from './bert.js';
import { writeTinyDetrFolder } from './detr.js';
import { writeTinyGpt2Folder } from './gpt2.js';
import { writeTinyLlamaFolder } from './llama.js';
import { writeTinyVitFolder } from './vit.js';

/** Folder writers by the task they serve. */
export const TINY_FOLDERS: Record<string, (dir: string) => string> = {
  'text-classification': (dir) =>
    writeTinyBertFolder(dir, { head: 'sequence-classification', labels: ['negative', 'positive'] }),
  'token-classification': (dir) =>
    writeTinyBertFolder(dir, {
      head: 'token-classification',
      labels: ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC', 'B-ORG', 'I-ORG'],
    }),
  'zero-shot-classification': (dir) =>
    writeTinyBertFolder(dir, { head: 'sequence-classification', labels: ['contradiction', 'neutral', 'entailment'] }),
  'question-answering': (dir) => writeTinyBertFolder(dir, { head: 'question-answering' }),
  'feature-extraction': (dir) => writeTinyBertFolder(dir, { head: 'base', pooling: 'cls' }),
  'image-classification': (dir) => writeTinyVitFolder(dir),
  'object-detection': (dir) => writeTinyDetrFolder(dir),
  'text-generation': (dir) => writeTinyGpt2Folder(dir),
  'text-generation-llama': (dir) => writeTinyLlamaFolder(dir),
};
