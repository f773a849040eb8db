/**
 * @module Hugging Face vision folders and their oracle, made in Node for the workerd tests: the tiny ViT, DeiT and DETR
 * folders (models/hf-tiny) written to a temporary directory, their manifests prepared by the publish CLI's own code,
 * and transformers.js's own `image-classification` / `object-detection` pipelines run offline on copies
 * of the same folders (the layout it loads: `onnx/model.onnx`) over real pictures: ImageMagick's built-in images in
 * several sizes, aspect ratios and PNG colour types, handed to the pipeline as `RawImage`s of ImageMagick's own pixel
 * dump of each PNG, so neither side's decoder is the other's reference.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env, pipeline, RawImage } from '@huggingface/transformers';
import { writeTinyDetrFolder } from '../../models/hf-tiny/detr.js';
import { writeTinyVitFolder } from '../../models/hf-tiny/vit.js';
import { CONVERT } from '../../models/text-orientation/render.js';
import type { VisionTask } from '../../scripts/hf-vision.js';
import { preparePublish } from '../../scripts/publish.js';
import type { HfDetection, HfLabelScore, HfVisionReferences, StoredModel } from './provided.js';

export const HF_VISION_VERSION = '1.0.0';

/** ImageMagick built-ins as PNG: truecolour, palette, greyscale, and RGBA (transparent where the logo is white). */
const PICTURES: { name: string; args: string[] }[] = [
  { name: 'rose', args: ['rose:', 'PNG24:-'] },
  { name: 'logo', args: ['logo:', 'png:-'] },
  { name: 'wizard', args: ['wizard:', 'PNG24:-'] },
  { name: 'netscape', args: ['netscape:', 'png:-'] },
  { name: 'granite', args: ['granite:', '-colorspace', 'Gray', 'png:-'] },
  { name: 'logo-alpha', args: ['logo:', '-transparent', 'white', 'PNG32:-'] },
];

export interface Picture {
  name: string;
  png: Uint8Array;
  /** ImageMagick's decoding of `png`, as transformers.js takes images. */
  image: RawImage;
}

/** A PNG and ImageMagick's own decoding of it (RGB, or RGBA when the file has alpha). */
function picture(name: string, args: string[]): Picture {
  const png = new Uint8Array(execFileSync(CONVERT, args));
  const [w, h, alpha] = execFileSync(CONVERT, ['png:-', '-format', '%w %h %A', 'info:'], { input: png })
    .toString()
    .split(' ');
  const channels = alpha !== undefined && /true|blend/i.test(alpha) ? 4 : 3;
  const raw = execFileSync(CONVERT, ['png:-', '-depth', '8', channels === 4 ? 'rgba:-' : 'rgb:-'], {
    input: png,
    maxBuffer: 64 << 20,
  });
  return { name, png, image: new RawImage(new Uint8ClampedArray(raw), Number(w), Number(h), channels) };
}

/** The test pictures, made by ImageMagick. */
export function hfPictures(): Picture[] {
  return PICTURES.map((p) => picture(p.name, p.args));
}

/** The publish CLI's own code on the folder (no --task: config.json's architecture picks it). */
async function prepare(id: string, task: VisionTask, dir: string): Promise<StoredModel> {
  const prepared = await preparePublish(dir, {
    id,
    version: HF_VISION_VERSION,
    placement: 'edge',
    log: () => undefined,
  });
  if (prepared.manifest.task !== task) throw new Error(`${id}: publish read ${prepared.manifest.task}, not ${task}`);
  return {
    id,
    version: HF_VISION_VERSION,
    dir,
    manifestText: prepared.manifestText,
    files: Object.fromEntries(prepared.files.map((f) => [f.name, Buffer.from(f.bytes).toString('base64')])),
  };
}

/** transformers.js's folder layout: the same config files, the graph under onnx/. */
function oracleFolder(src: string, dst: string): void {
  mkdirSync(join(dst, 'onnx'), { recursive: true });
  for (const f of ['config.json', 'preprocessor_config.json']) copyFileSync(join(src, f), join(dst, f));
  copyFileSync(join(src, 'model.onnx'), join(dst, 'onnx', 'model.onnx'));
}

type Classifier = ((image: RawImage, options?: { top_k?: number | null }) => Promise<unknown>) & Disposable;
type Detector = ((image: RawImage, options?: { threshold?: number; percentage?: boolean }) => Promise<unknown>) &
  Disposable;
interface Disposable {
  dispose(): Promise<void>;
}

export const HF_VISION_IDS = { vit: 'hf-tiny-vit', deit: 'hf-tiny-deit', detr: 'hf-tiny-detr' } as const;

export async function computeHfVision(): Promise<HfVisionReferences> {
  const root = mkdtempSync(join(tmpdir(), 'hf-vision-'));
  try {
    const vit = writeTinyVitFolder(join(root, 'export', 'vit'), 'vit');
    const deit = writeTinyVitFolder(join(root, 'export', 'deit'), 'deit');
    const detr = writeTinyDetrFolder(join(root, 'export', 'detr'));
    const models = [
      await prepare(HF_VISION_IDS.vit, 'image-classification', vit),
      await prepare(HF_VISION_IDS.deit, 'image-classification', deit),
      await prepare(HF_VISION_IDS.detr, 'object-detection', detr),
    ];
    for (const [name, dir] of [
      ['vit', vit],
      ['deit', deit],
      ['detr', detr],
    ] as const)
      oracleFolder(dir, join(root, 'oracle', name));

    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${join(root, 'oracle')}/`;
    const pictures = hfPictures();

    const classification: HfVisionReferences['classification'] = {};
    for (const name of ['vit', 'deit'] as const) {
      const classify = (await pipeline('image-classification', name, { dtype: 'fp32' })) as unknown as Classifier;
      const run = async (options?: { top_k?: number | null }): Promise<HfLabelScore[][]> => {
        const out: HfLabelScore[][] = [];
        for (const p of pictures) out.push((await classify(p.image, options)) as HfLabelScore[]);
        return out;
      };
      classification[HF_VISION_IDS[name]] = {
        defaults: await run(),
        top2: await run({ top_k: 2 }),
        all: await run({ top_k: null }),
      };
      await classify.dispose();
    }
    const detect = (await pipeline('object-detection', 'detr', { dtype: 'fp32' })) as unknown as Detector;
    const runDetector = async (options?: { threshold?: number; percentage?: boolean }): Promise<HfDetection[][]> => {
      const out: HfDetection[][] = [];
      // One image per call: transformers.js's detection pipeline takes no batch.
      for (const p of pictures) out.push((await detect(p.image, options)) as HfDetection[]);
      return out;
    };
    const detection = {
      defaults: await runDetector(),
      low: await runDetector({ threshold: 0.5 }),
      percentage: await runDetector({ threshold: 0.5, percentage: true }),
    };
    await detect.dispose();
    return {
      models,
      pictures: pictures.map((p) => ({
        name: p.name,
        png: Buffer.from(p.png).toString('base64'),
        width: p.image.width,
        height: p.image.height,
      })),
      classification,
      detection,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
