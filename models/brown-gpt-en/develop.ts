/**
 * @module The development runs behind brown-gpt-en's MODEL and TRAIN choices: a candidate trained on the inner-train
 * files and scored (bits per character, evaluate.ts) on the inner-validation files; held-out files are never read.
 * Not part of the build (minutes of CPU): `npx tsx models/brown-gpt-en/develop.ts '<json overrides>'`.
 */
import { fileText, loadTexts, splitTexts } from './data.js';
import { decoderBits } from './evaluate.js';
import { inferenceGraph, parameterCount, type GptConfig } from './gpt.js';
import { bitsPerChar, fitKneserNey3 } from './ngram.js';
import { MODEL, TRAIN } from './recipe.js';
import { buildVocab, concatStreams, encoder, textStreams } from './tokenizer.js';
import { trainGpt, type TrainOptions } from './train.js';

async function main(): Promise<void> {
  const overrides = JSON.parse(process.argv[2] ?? '{}') as Partial<GptConfig & TrainOptions>;
  const splits = splitTexts(loadTexts());
  const vocab = buildVocab(splits.innerTrain.map(fileText));
  const enc = encoder(vocab);
  const train = textStreams(splits.innerTrain.map(fileText), enc);
  const val = textStreams(splits.innerVal.map(fileText), enc);
  const c: GptConfig = {
    ...MODEL,
    vocabSize: vocab.tokens.length,
    ...pick(overrides, ['nLayer', 'nHead', 'nEmbd', 'nPositions']),
  };
  const o: TrainOptions = {
    ...TRAIN,
    ...pick(overrides, [
      'batch',
      'seq',
      'steps',
      'warmupSteps',
      'learningRate',
      'finalLrRatio',
      'weightDecay',
      'beta1',
      'beta2',
      'gradClip',
      'seed',
    ]),
    log: (m) => console.log(m),
    logEvery: 50,
  };
  console.log(
    `config ${JSON.stringify(c)} params ${parameterCount(c)}; train ${JSON.stringify({ ...o, log: undefined })}`,
  );
  const kn = fitKneserNey3(train, vocab.tokens.length);
  console.log(`KN 3-gram inner-val bpc ${bitsPerChar(kn, val).bpc.toFixed(4)}`);
  const r = await trainGpt(c, concatStreams(train), o);
  const t0 = performance.now();
  const bits = await decoderBits(inferenceGraph(c, r.params, 'develop'), c, val, o.seq);
  console.log(
    `inner-val bpc ${bits.bpc.toFixed(4)} (${bits.chars} chars, eval ${((performance.now() - t0) / 1000).toFixed(1)} s); train ${r.seconds.toFixed(1)} s, ${r.tokensSeen} tokens, final loss ${(r.finalLoss / Math.LN2).toFixed(4)} bits`,
  );
}

function pick<T extends object>(o: T, keys: readonly string[]): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k))) as Partial<T>;
}

await main();
