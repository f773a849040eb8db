/**
 * @module The Hugging Face image processors in Node, against the code transformers.js itself runs: the resampler
 * against sharp's `affine` (libvips, what transformers.js resizes with in Node) byte for byte, the centre crop against
 * transformers.js's `RawImage.center_crop`, whole `pixel_values` against its `ViTImageProcessor` / `DeiTImageProcessor`
 * / `DetrImageProcessor` bit for bit (from the service's own PNG decoding of ImageMagick's pictures), and
 * `visionParts` reading the generated folders and refusing broken `preprocessor_config.json` files by name.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeiTImageProcessor, DetrImageProcessor, RawImage, ViTImageProcessor } from '@huggingface/transformers';
import type Sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { DETR_LABELS, writeTinyDetrFolder } from '../../models/hf-tiny/detr.js';
import { VIT_LABELS, writeTinyVitFolder } from '../../models/hf-tiny/vit.js';
import { visionParts, type VisionTask } from '../../scripts/hf-vision.js';
import {
  affineResize,
  centerCrop,
  HfImageProcessorSchema,
  processImage,
  type Pixels,
  type Resample,
} from '../../src/tasks/vision/hf-image-processor.js';
import { decodeImage, DEFAULT_MAX_PIXELS } from '../../src/codecs/image.js';
import { hfPictures } from '../support/hf-vision.js';

/** The sharp transformers.js itself loads (its own pinned copy, with its libvips), not whichever is hoisted. */
const sharp = createRequire(createRequire(import.meta.url).resolve('@huggingface/transformers'))(
  'sharp',
) as typeof Sharp;

const root = mkdtempSync(join(tmpdir(), 'hf-vision-node-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const pictures = hfPictures();
const folders = {
  vit: writeTinyVitFolder(join(root, 'vit'), 'vit'),
  deit: writeTinyVitFolder(join(root, 'deit'), 'deit'),
  detr: writeTinyDetrFolder(join(root, 'detr')),
};

/** ImageMagick's RGB pixels of a picture (alpha dropped), as the resampler takes them. */
function rgbOf(image: RawImage): Pixels {
  const rgb = image.clone().rgb();
  return { width: rgb.width, height: rgb.height, channels: 3, data: new Uint8Array(rgb.data) };
}

describe('resampling, against sharp (libvips) affine', () => {
  // Shrinks and enlargements, integer and awkward ratios, one axis unchanged.
  const sizes: [number, number][] = [
    [32, 32],
    [40, 40],
    [85, 64],
    [96, 63],
    [13, 7],
    [333, 200],
    [1000, 750],
    [640, 100],
  ];

  for (const resample of ['nearest', 'bilinear', 'bicubic'] as Resample[]) {
    it(`${resample}: every byte equal`, async () => {
      let compared = 0;
      for (const p of pictures.slice(0, 4)) {
        const src = rgbOf(p.image);
        for (const [w, h] of sizes) {
          const { data, info } = await sharp(src.data, { raw: { width: src.width, height: src.height, channels: 3 } })
            .affine([w / src.width, 0, 0, h / src.height], { interpolator: resample })
            .raw()
            .toBuffer({ resolveWithObject: true });
          expect([info.width, info.height]).toEqual([w, h]);
          const mine = affineResize(src, w, h, resample);
          const differing = mine.data.reduce((n, v, i) => n + (v === data[i] ? 0 : 1), 0);
          expect(differing, `${p.name} → ${w}×${h}`).toBe(0);
          compared += data.length;
        }
      }
      expect(compared).toBeGreaterThan(1_000_000);
    });
  }
});

describe('centre crop, against transformers.js RawImage.center_crop', () => {
  it('cuts larger images and pads smaller ones with black, as transformers.js does', async () => {
    for (const p of pictures.slice(0, 4)) {
      const rgb = p.image.clone().rgb();
      // Crops inside the image, and crops larger than it on both axes (padding).
      for (const [w, h] of [
        [31, 17],
        [rgb.width - 1, rgb.height - 3],
        [rgb.width + 7, rgb.height + 10],
      ] as [number, number][]) {
        const theirs = (await rgb.center_crop(w, h)) as RawImage;
        const mine = centerCrop(rgbOf(p.image), w, h);
        expect([mine.width, mine.height]).toEqual([theirs.width, theirs.height]);
        expect(Buffer.from(mine.data).equals(Buffer.from(theirs.data)), `${p.name} ${w}×${h}`).toBe(true);
      }
    }
  });
});

describe('pixel_values, against transformers.js image processors', () => {
  const processors = {
    vit: ViTImageProcessor,
    deit: DeiTImageProcessor,
    detr: DetrImageProcessor,
  } as const;
  const tasks: Record<keyof typeof folders, VisionTask> = {
    vit: 'image-classification',
    deit: 'image-classification',
    detr: 'object-detection',
  };

  for (const name of Object.keys(folders) as (keyof typeof folders)[]) {
    it(`${name}: bit-identical tensors from the service's own PNG decoding`, async () => {
      const dir = folders[name];
      const config = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
      const theirs = new processors[name](config);
      const pre = HfImageProcessorSchema.parse(
        visionParts(
          tasks[name],
          dir,
          JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
        ).preprocess,
      );
      for (const p of pictures) {
        const { pixel_values } = (await theirs(p.image)) as { pixel_values: { dims: number[]; data: Float32Array } };
        const mine = processImage(decodeImage(p.png, { where: p.name, maxPixels: DEFAULT_MAX_PIXELS }), pre);
        expect([1, ...mine.dims], p.name).toEqual(pixel_values.dims);
        let worst = 0;
        mine.tensor.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (pixel_values.data[i] ?? NaN)))));
        expect(worst, p.name).toBe(0);
      }
    });
  }
});

describe('visionParts', () => {
  const config = (dir: string): Record<string, unknown> =>
    JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;

  it('reads the generated folders: labels in id order, the processor, the defaults Hugging Face pipelines use', () => {
    const vit = visionParts('image-classification', folders.vit, config(folders.vit));
    expect(vit.labels).toEqual([...VIT_LABELS]);
    expect(vit.files).toEqual(['preprocessor_config.json']);
    expect(vit.preprocess).toEqual({
      kind: 'hf-image-processor',
      processor: 'ViTImageProcessor',
      resize: { height: 32, width: 32 },
      resample: 'bilinear',
      rescale_factor: 1 / 255,
      image_mean: [0.5, 0.5, 0.5],
      image_std: [0.5, 0.5, 0.5],
    });
    expect(vit.postprocess).toEqual({ scores_output: 'logits', softmax: true, top_k: 5 });
    const deit = visionParts('image-classification', folders.deit, config(folders.deit));
    expect(deit.preprocess).toMatchObject({ resample: 'bicubic', crop: { height: 32, width: 32 } });
    const detr = visionParts('object-detection', folders.detr, config(folders.detr));
    expect(detr.labels).toEqual([...DETR_LABELS]);
    expect(detr.preprocess).toMatchObject({ resize: { shortest_edge: 64, longest_edge: 96 } });
    expect(detr.postprocess).toEqual({ logits_output: 'logits', boxes_output: 'pred_boxes', threshold: 0.9 });
  });

  it('takes the legacy integer size as Python does: square for ViT, shortest edge (max_size) for DETR', () => {
    const dir = join(root, 'legacy');
    writeTinyVitFolder(dir, 'vit');
    const write = (cfg: Record<string, unknown>): void =>
      writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(cfg));
    write({ feature_extractor_type: 'ViTFeatureExtractor', do_resize: true, size: 224, do_normalize: false });
    expect(visionParts('image-classification', dir, config(dir)).preprocess).toMatchObject({
      processor: 'ViTFeatureExtractor',
      resize: { height: 224, width: 224 },
    });
    write({ image_processor_type: 'DetrImageProcessor', size: 800, max_size: 1333, do_normalize: false });
    expect(visionParts('object-detection', dir, config(dir)).preprocess).toMatchObject({
      resize: { shortest_edge: 800, longest_edge: 1333 },
    });
  });

  it('refuses a missing or inconsistent preprocessor_config.json, naming the file and the field', () => {
    const dir = join(root, 'broken');
    writeTinyVitFolder(dir, 'vit');
    const good = JSON.parse(readFileSync(join(dir, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
    rmSync(join(dir, 'preprocessor_config.json'));
    expect(() => visionParts('image-classification', dir, config(dir))).toThrow(/preprocessor_config\.json is missing/);

    const cases: [VisionTask, Record<string, unknown> | string, RegExp][] = [
      ['image-classification', '{ not json', /preprocessor_config\.json: not valid JSON/],
      ['image-classification', { ...good, image_processor_type: undefined }, /image_processor_type is missing/],
      ['image-classification', { ...good, resample: 1 }, /resample 1 \(lanczos\) is not supported/],
      ['image-classification', { ...good, do_normalize: undefined }, /do_normalize is missing/],
      ['image-classification', { ...good, image_mean: [0.5, 0.5] }, /image_mean must be three numbers/],
      ['image-classification', { ...good, image_std: [0.5, 0, 0.5] }, /image_std must be positive/],
      ['image-classification', { ...good, size: { height: 32 } }, /size must be \{"height", "width"\}/],
      ['image-classification', { ...good, size: { shortest_edge: 32 } }, /takes one input size/],
      ['image-classification', { ...good, do_center_crop: true }, /crop_size must be/],
      ['image-classification', { ...good, crop_pct: 0.875 }, /crop_pct 0\.875 is not supported/],
      ['image-classification', { ...good, rescale_factor: -1 }, /rescale_factor must be a positive number/],
      [
        'object-detection',
        { ...good, do_center_crop: true, crop_size: { height: 8, width: 8 } },
        /do_center_crop must be false for object-detection/,
      ],
    ];
    for (const [task, cfg, pattern] of cases) {
      writeFileSync(join(dir, 'preprocessor_config.json'), typeof cfg === 'string' ? cfg : JSON.stringify(cfg));
      expect(() => visionParts(task, dir, config(dir)), JSON.stringify(cfg)).toThrow(/preprocessor_config\.json/);
      expect(() => visionParts(task, dir, config(dir)), JSON.stringify(cfg)).toThrow(pattern);
    }
    writeFileSync(join(dir, 'preprocessor_config.json'), JSON.stringify(good));
    expect(() => visionParts('image-classification', dir, { id2label: { 0: 'a', 2: 'c' } })).toThrow(
      /config\.json: id2label has no string label for id 1/,
    );
  });
});
