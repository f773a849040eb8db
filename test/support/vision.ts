/**
 * @module Real image inputs for the zoo tests, made in Node: held-out MNIST digits encoded as PNG (fast-png) and JPEG
 * (jpeg-js) in both polarities, the ImageMagick-rendered text lines of the text-orientation build, iris rows, and
 * broken or unsupported files for the error paths.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import * as jpeg from 'jpeg-js';
import { digitImage, loadDigits, splitDigits, LABELS as DIGIT_LABELS } from '../../models/digits-mnist/data.js';
import { loadIris } from '../../models/iris-tree/recipe.js';
import type { RenderedLine } from '../../models/text-orientation/render.js';
import { CONVERT } from '../../models/text-orientation/render.js';
import { readBuiltModels } from '../../scripts/model-store.js';
import type { RgbaImage } from '../../src/codecs/image.js';
import { resizePlane } from '../../src/tasks/vision/image-ops.js';
import type { VisionFixtures } from './provided.js';

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

export function pngBytes(img: RgbaImage): Uint8Array {
  return encodePng({ width: img.width, height: img.height, data: img.data, channels: 4, depth: 8 });
}

export function jpegBytes(img: RgbaImage, quality = 90): Uint8Array {
  return new Uint8Array(jpeg.encode({ width: img.width, height: img.height, data: img.data }, quality).data);
}

/** A digit as a bigger photo-like picture: scaled ×`scale` (bilinear) with a margin, the way a user's upload looks. */
function enlarged(img: RgbaImage, scale: number, margin: number): RgbaImage {
  const grey = Float32Array.from({ length: img.width * img.height }, (_, i) => (img.data[i * 4] ?? 0) / 255);
  const w = img.width * scale;
  const big = resizePlane(grey, img.width, img.height, w, w, 'bilinear');
  const side = w + 2 * margin;
  const bg = img.data[0] ?? 0; // the corner is background in MNIST digits
  const data = new Uint8Array(side * side * 4).fill(255);
  for (let i = 0; i < side * side; i++) data[i * 4] = data[i * 4 + 1] = data[i * 4 + 2] = bg;
  for (let y = 0; y < w; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.round((big[y * w + x] ?? 0) * 255);
      const at = ((y + margin) * side + x + margin) * 4;
      data[at] = data[at + 1] = data[at + 2] = v;
    }
  }
  return { width: side, height: side, data };
}

/** `count` held-out digits spread evenly over the split (all ten classes). */
function heldoutDigits(
  count: number,
): { label: string; png: string; pngInverted: string; jpeg: string; jpegInverted: string }[] {
  const heldout = splitDigits(loadDigits()).heldout;
  const step = heldout.length / count;
  return Array.from({ length: count }, (_, k) => {
    const d = heldout[Math.floor(k * step)];
    if (d === undefined) throw new Error('held-out digit missing');
    return {
      label: DIGIT_LABELS[d.label] ?? String(d.label),
      png: b64(pngBytes(digitImage(d))),
      pngInverted: b64(pngBytes(digitImage(d, true))),
      jpeg: b64(jpegBytes(enlarged(digitImage(d), 3, 16))),
      jpegInverted: b64(jpegBytes(enlarged(digitImage(d, true), 3, 16))),
    };
  });
}

function textLines(): VisionFixtures['lines'] {
  const built = readBuiltModels().find((m) => m.id === 'text-orientation');
  if (built === undefined) throw new Error('text-orientation is not built');
  const lines = JSON.parse(readFileSync(join(built.dir, 'eval.json'), 'utf8')) as RenderedLine[];
  return lines.map((l) => ({
    label: l.label,
    text: l.text,
    png: b64(new Uint8Array(readFileSync(join(built.dir, 'eval', l.file)))),
  }));
}

/**
 * A digit drawn white on black at MNIST's 28×28 by ImageMagick (DejaVu Sans Bold): an input nothing of the code under
 * test made.
 */
export function renderDigitPng(digit: string, pointsize = 24): Buffer {
  return execFileSync(CONVERT, [
    '-size',
    '28x28',
    'xc:black',
    '-fill',
    'white',
    '-font',
    'DejaVu-Sans-Bold',
    '-pointsize',
    String(pointsize),
    '-gravity',
    'center',
    '-annotate',
    '0',
    digit,
    'png:-',
  ]);
}

export function visionFixtures(digitCount = 200): VisionFixtures {
  const valid = pngBytes(digitImage({ pixels: new Uint8Array(784).fill(0), label: 0 }));
  const goodJpeg = jpegBytes(enlarged(digitImage({ pixels: new Uint8Array(784).fill(128), label: 0 }), 2, 4));
  // Flip bytes inside IDAT (CRC then fails) and cut a JPEG off inside its scan data.
  const corruptPng = valid.slice();
  corruptPng[corruptPng.length - 20] = (corruptPng[corruptPng.length - 20] ?? 0) ^ 0xff;
  const corruptJpeg = goodJpeg.slice(0, Math.floor(goodJpeg.length * 0.6));
  // 2,100 × 2,000 = 4.2 megapixels of black: a tiny file whose header is over the 4,000,000-pixel limit.
  const huge = encodePng({ width: 2100, height: 2000, data: new Uint8Array(2100 * 2000), channels: 1, depth: 8 });
  const gif = new Uint8Array(execFileSync(CONVERT, ['-size', '8x8', 'xc:white', 'gif:-']));
  const iris = loadIris();
  const irisRows = [0, 25, 50, 75, 100, 125, 149].map((i) => ({
    row: iris.x[i] ?? [],
    label: iris.labels[iris.y[i] ?? 0] ?? '',
  }));
  return {
    digits: heldoutDigits(digitCount),
    lines: textLines(),
    iris: irisRows,
    broken: {
      corruptPng: b64(corruptPng),
      corruptJpeg: b64(corruptJpeg),
      hugePng: b64(huge),
      gif: b64(gif),
      validPng: b64(valid),
    },
  };
}
