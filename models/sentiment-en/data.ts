/** @module The sentiment-en data: UCI Sentiment Labelled Sentences as shipped by sentiment@5.0.2, split reproducibly. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { stratifiedSplit } from '../lib/train.js';

export const SOURCES = ['amazon', 'imdb', 'yelp'] as const;
export type Source = (typeof SOURCES)[number];
export const LABELS = ['negative', 'positive'] as const;

export interface Example {
  text: string;
  /** 0 = negative, 1 = positive */
  label: number;
  source: Source;
}

/** Seeds of the held-out split and of the inner (model selection) split: changing either changes the recipe. */
export const HELDOUT_SEED = 20_240_601;
export const HELDOUT_SHARE = 0.2;
export const INNER_SEED = 7;
export const INNER_SHARE = 0.2;

/** Absolute paths of the fixture files (resolved through the installed package, not a hard-coded node_modules path). */
export function dataFiles(): string[] {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('sentiment/package.json'));
  return SOURCES.map((s) => join(root, 'test', 'fixtures', `${s}.json`));
}

function isRecord(v: unknown): v is { text?: unknown; class?: unknown } {
  return typeof v === 'object' && v !== null;
}

/** All labelled sentences, in file order (amazon, imdb, yelp); the trailing empty record of each file is dropped. */
export function loadExamples(): Example[] {
  const out: Example[] = [];
  dataFiles().forEach((file, k) => {
    const source = SOURCES[k] ?? 'amazon';
    const rows: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (!Array.isArray(rows)) throw new Error(`${file}: expected an array`);
    for (const r of rows) {
      if (!isRecord(r) || typeof r.text !== 'string' || r.text.trim() === '') continue;
      if (r.class !== 0 && r.class !== 1) throw new Error(`${file}: unexpected class ${String(r.class)}`);
      out.push({ text: r.text, label: r.class, source });
    }
  });
  return out;
}

export interface Splits {
  train: Example[];
  heldout: Example[];
  /** Inner split of `train` for model selection (the held-out set is never looked at while choosing). */
  innerTrain: Example[];
  innerVal: Example[];
}

const pick = (xs: readonly Example[], idx: readonly number[]): Example[] => idx.flatMap((i) => xs[i] ?? []);

/** 80/20 held-out split stratified by source × label, then an 80/20 inner split of the training part. */
export function splitExamples(all: readonly Example[]): Splits {
  const outer = stratifiedSplit(
    all.map((e) => e.label),
    HELDOUT_SHARE,
    HELDOUT_SEED,
    all.map((e) => e.source),
  );
  const train = pick(all, outer.first);
  const heldout = pick(all, outer.second);
  const inner = stratifiedSplit(
    train.map((e) => e.label),
    INNER_SHARE,
    INNER_SEED,
    train.map((e) => e.source),
  );
  return { train, heldout, innerTrain: pick(train, inner.first), innerVal: pick(train, inner.second) };
}
