/**
 * @module The development runs behind pos-en's choices (recipe.ts MODEL, tagger.ts FEATURES): each candidate
 * trained on the inner-train documents and scored on the inner-val ones after every epoch; held-out documents are
 * never read. Not part of the build (minutes of CPU): `npx tsx models/pos-en/develop.ts [name…]`.
 */
import { parseArgs } from 'node:util';
import { predictSparse, rowCount, trainSparse } from '../lib/train-sparse.js';
import { buildTagset, loadCorpus, splitDocuments } from './data.js';
import { featureConfig, mostFrequentTag, scoreTagging, taggedRows } from './tagger.js';

interface Candidate {
  name: string;
  buckets: number;
  hidden: number;
  epochs: number;
  learningRate: number;
  decay: 'none' | 'linear';
  batchSize: number;
}

const CANDIDATES: Candidate[] = [
  { name: 'logistic-2^18', buckets: 1 << 18, hidden: 0, epochs: 3, learningRate: 0.01, decay: 'none', batchSize: 64 },
  {
    name: 'mlp-32-2^18-const',
    buckets: 1 << 18,
    hidden: 32,
    epochs: 3,
    learningRate: 0.003,
    decay: 'none',
    batchSize: 64,
  },
  {
    name: 'mlp-64-2^18-const',
    buckets: 1 << 18,
    hidden: 64,
    epochs: 1,
    learningRate: 0.003,
    decay: 'none',
    batchSize: 64,
  },
  {
    name: 'mlp-32-2^18-0.006',
    buckets: 1 << 18,
    hidden: 32,
    epochs: 1,
    learningRate: 0.006,
    decay: 'linear',
    batchSize: 64,
  },
  {
    name: 'mlp-32-2^18-0.006x2',
    buckets: 1 << 18,
    hidden: 32,
    epochs: 2,
    learningRate: 0.006,
    decay: 'linear',
    batchSize: 64,
  },
  {
    name: 'mlp-32-2^18-0.01',
    buckets: 1 << 18,
    hidden: 32,
    epochs: 1,
    learningRate: 0.01,
    decay: 'linear',
    batchSize: 64,
  },
  {
    name: 'mlp-32-2^18-0.015',
    buckets: 1 << 18,
    hidden: 32,
    epochs: 1,
    learningRate: 0.015,
    decay: 'linear',
    batchSize: 64,
  },
  {
    name: 'mlp-32-2^17-0.01',
    buckets: 1 << 17,
    hidden: 32,
    epochs: 1,
    learningRate: 0.01,
    decay: 'linear',
    batchSize: 64,
  },
];

const { positionals } = parseArgs({ allowPositionals: true });
const chosen = positionals.length === 0 ? CANDIDATES : CANDIDATES.filter((c) => positionals.includes(c.name));
const splits = splitDocuments(loadCorpus());
const tagset = buildTagset(splits.innerTrain);

for (const c of chosen) {
  // The shipped templates (tagger.ts FEATURES); only the bucket count varies between candidates.
  const features = { ...featureConfig(splits.innerTrain), buckets: c.buckets };
  const train = taggedRows(splits.innerTrain, tagset, features);
  const val = taggedRows(splits.innerVal, tagset, features);
  const known = new Set(train.words);
  const isKnown = (w: string): boolean => known.has(w);
  const baseline = scoreTagging(val, val.words.map(mostFrequentTag(train, tagset.labels)), isKnown);
  console.log(`${c.name}: ${rowCount(train.x)} inner-train tokens, inner-val baseline ${baseline.accuracy.toFixed(4)}`);
  const t0 = performance.now();
  let scoring = 0;
  trainSparse(
    train.x,
    train.y,
    Array.from({ length: rowCount(train.x) }, (_, i) => i),
    { inputs: c.buckets, hidden: c.hidden, classes: tagset.labels.length },
    {
      ...c,
      l2: 0,
      seed: 5,
      onEpoch: (epoch, p) => {
        const t = performance.now();
        const s = scoreTagging(val, predictSparse(p, val.x), isKnown);
        scoring += performance.now() - t;
        const trained = ((performance.now() - t0 - scoring) / 1000).toFixed(1);
        console.log(
          `  epoch ${epoch} (${trained} s of training): inner-val accuracy ${s.accuracy.toFixed(4)}, unknown words ${s.unknown_word_accuracy.toFixed(4)}`,
        );
      },
    },
  );
}
