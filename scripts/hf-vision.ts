/**
 * @module The vision parts of publishing a Hugging Face folder: `preprocessor_config.json` (a `ViTImageProcessor`,
 * `DeiTImageProcessor`, `DetrImageProcessor`… as Hugging Face saves it) and `config.json`'s `id2label` turned into the
 * manifest's labels, `preprocess` (`kind: 'hf-image-processor'`, checked by the task's own schema) and `postprocess`.
 * Settings the service cannot reproduce are refused with the file and field named, rather than served differently.
 *
 * @example
 * const parts = visionParts('object-detection', dir, JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')));
 * // parts.preprocess → { kind: 'hf-image-processor', resize: { shortest_edge: 800, longest_edge: 1333 }, … }
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HfImageProcessorSchema, type HfImageProcessor } from '../src/tasks/vision/hf-image-processor.js';

export interface HfVisionParts {
  /** `id2label` in id order. */
  labels: string[];
  preprocess: Record<string, unknown>;
  postprocess: Record<string, unknown>;
  /** Companion files to ship beside the model. */
  files: string[];
}

export type VisionTask = 'image-classification' | 'object-detection';

const PROCESSOR_FILE = 'preprocessor_config.json';

/** Pillow's resampling codes; transformers.js in Node has exact counterparts for these three only. */
const RESAMPLE: Record<number, HfImageProcessor['resample']> = { 0: 'nearest', 2: 'bilinear', 3: 'bicubic' };
const PILLOW_NAMES: Record<number, string> = { 1: 'lanczos', 4: 'box', 5: 'hamming' };

/** Processor settings that change the pixels in ways the service does not reproduce: refused when set. */
const UNSUPPORTED: readonly string[] = [
  'do_thumbnail',
  'do_crop_margin',
  'do_flip_channel_order',
  'do_convert_grayscale',
  'keep_aspect_ratio',
  'ensure_multiple_of',
  'size_divisibility',
  'size_divisor',
  'crop_pct',
  'pad_size',
];

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Labels in id order from `id2label`, whose keys must be exactly 0…n−1. */
function labelsOf(config: Json): string[] {
  const map = config['id2label'];
  if (!isObject(map) || Object.keys(map).length === 0)
    throw new Error('config.json: id2label is missing (a vision model names its classes there)');
  const n = Object.keys(map).length;
  return Array.from({ length: n }, (_, i) => {
    const label = map[String(i)];
    if (typeof label !== 'string')
      throw new Error(`config.json: id2label has no string label for id ${i} (its ids must be 0…${n - 1})`);
    return label;
  });
}

function flag(cfg: Json, name: string, fallback: boolean | undefined, where: string): boolean {
  const v = cfg[name];
  if (v === undefined || v === null) {
    if (fallback === undefined)
      throw new Error(`${where}: ${name} is missing (Hugging Face writes it; set it to true or false)`);
    return fallback;
  }
  if (typeof v !== 'boolean') throw new Error(`${where}: ${name} must be true or false (got ${JSON.stringify(v)})`);
  return v;
}

function triple(cfg: Json, name: string, where: string): number[] {
  const v = cfg[name];
  // A single number stands for every channel, as the processors take it.
  const values = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(values) || values.length !== 3 || !values.every((x) => typeof x === 'number' && isFinite(x)))
    throw new Error(`${where}: ${name} must be three numbers, one per RGB channel (got ${JSON.stringify(v)})`);
  return values as number[];
}

function hw(v: unknown, name: string, where: string): { height: number; width: number } {
  if (isPositiveInt(v)) return { height: v, width: v };
  if (isObject(v) && isPositiveInt(v['height']) && isPositiveInt(v['width']))
    return { height: v['height'], width: v['width'] };
  throw new Error(`${where}: ${name} must be {"height", "width"} in pixels (got ${JSON.stringify(v)})`);
}

/** `size` as the processor reads it; a bare number is the legacy form (DETR-style: shortest edge; others: square). */
function resizeOf(cfg: Json, processor: string, where: string): HfImageProcessor['resize'] {
  const size = cfg['size'];
  if (isPositiveInt(size)) {
    const maxSize = cfg['max_size'];
    if (/detr|yolos/i.test(processor) || maxSize !== undefined)
      return { shortest_edge: size, longest_edge: isPositiveInt(maxSize) ? maxSize : 1333 };
    return { height: size, width: size };
  }
  if (!isObject(size)) throw new Error(`${where}: do_resize is true but size is missing or not an object`);
  if (size['height'] !== undefined || size['width'] !== undefined) return hw(size, 'size', where);
  const shortest = size['shortest_edge'];
  const longest = size['longest_edge'];
  if ((shortest !== undefined && !isPositiveInt(shortest)) || (longest !== undefined && !isPositiveInt(longest)))
    throw new Error(`${where}: size edges must be positive integers (got ${JSON.stringify(size)})`);
  if (shortest === undefined && longest === undefined)
    throw new Error(
      `${where}: size needs height and width, or shortest_edge / longest_edge (got ${JSON.stringify(size)})`,
    );
  return {
    ...(shortest === undefined ? {} : { shortest_edge: shortest }),
    ...(longest === undefined ? {} : { longest_edge: longest }),
  };
}

/**
 * The manifest parts for a vision model folder. Throws an Error naming the file and field when
 * `preprocessor_config.json` is missing, unreadable, inconsistent or asks for something the service does not do.
 */
export function visionParts(task: VisionTask, dir: string, config: Record<string, unknown>): HfVisionParts {
  const path = join(dir, PROCESSOR_FILE);
  if (!existsSync(path))
    throw new Error(`${path} is missing: a ${task} model needs its image processor's settings (${PROCESSOR_FILE})`);
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${PROCESSOR_FILE}: not valid JSON (${err instanceof Error ? err.message : String(err)})`, {
      cause: err,
    });
  }
  if (!isObject(cfg)) throw new Error(`${PROCESSOR_FILE}: expected a JSON object`);
  const where = PROCESSOR_FILE;

  const type = cfg['image_processor_type'] ?? cfg['feature_extractor_type'];
  if (typeof type !== 'string' || type === '')
    throw new Error(`${where}: image_processor_type is missing (which Hugging Face image processor is this?)`);
  for (const name of UNSUPPORTED) {
    const v = cfg[name];
    if (v !== undefined && v !== null && v !== false)
      throw new Error(`${where}: ${name} ${JSON.stringify(v)} is not supported (the service would not match ${type})`);
  }

  const resampleCode = cfg['resample'] ?? 2;
  const resample = typeof resampleCode === 'number' ? RESAMPLE[resampleCode] : undefined;
  if (resample === undefined) {
    const named = typeof resampleCode === 'number' ? PILLOW_NAMES[resampleCode] : undefined;
    throw new Error(
      `${where}: resample ${JSON.stringify(resampleCode)}${named === undefined ? '' : ` (${named})`} is not supported; ` +
        'use 0 (nearest), 2 (bilinear) or 3 (bicubic)',
    );
  }

  const doResize = flag(cfg, 'do_resize', cfg['size'] !== undefined, where);
  const resize = doResize ? resizeOf(cfg, type, where) : undefined;

  const doCrop = flag(cfg, 'do_center_crop', false, where);
  const crop = doCrop ? hw(cfg['crop_size'], 'crop_size', where) : undefined;
  if (crop !== undefined && task === 'object-detection')
    throw new Error(`${where}: do_center_crop must be false for object-detection (boxes map to the whole image)`);

  let rescaleFactor: number | undefined;
  if (flag(cfg, 'do_rescale', true, where)) {
    const f = cfg['rescale_factor'] ?? 1 / 255;
    if (typeof f !== 'number' || !(f > 0))
      throw new Error(`${where}: rescale_factor must be a positive number (got ${JSON.stringify(f)})`);
    rescaleFactor = f;
  }

  let normalize: { image_mean: number[]; image_std: number[] } | undefined;
  if (flag(cfg, 'do_normalize', undefined, where)) {
    const std = triple(cfg, 'image_std', where);
    if (std.some((s) => s <= 0)) throw new Error(`${where}: image_std must be positive (got ${JSON.stringify(std)})`);
    normalize = { image_mean: triple(cfg, 'image_mean', where), image_std: std };
  }

  // Classifiers take one input size (a batch is one tensor): an exact resize or a crop must fix it.
  if (task === 'image-classification' && crop === undefined && (resize === undefined || !('height' in resize)))
    throw new Error(
      `${where}: image-classification takes one input size: do_resize with size {"height", "width"}, or ` +
        'do_center_crop with crop_size',
    );

  const preprocess = HfImageProcessorSchema.parse({
    kind: 'hf-image-processor',
    processor: type,
    ...(resize === undefined ? {} : { resize }),
    resample,
    ...(crop === undefined ? {} : { crop }),
    ...(rescaleFactor === undefined ? {} : { rescale_factor: rescaleFactor }),
    ...(normalize ?? {}),
  });
  const postprocess =
    task === 'image-classification'
      ? { scores_output: 'logits', softmax: true, top_k: 5 }
      : { logits_output: 'logits', boxes_output: 'pred_boxes', threshold: 0.9 };
  return { labels: labelsOf(config), preprocess, postprocess, files: [PROCESSOR_FILE] };
}
