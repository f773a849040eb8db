/**
 * @module Hugging Face image processors (ViT, DeiT, DETR…) as transformers.js runs them in Node, for models published
 * from a Hugging Face folder (`preprocess.kind: 'hf-image-processor'`): 8-bit RGB, resized through sharp's `affine`
 * (libvips), centre-cropped, then rescaled and normalised in float32 into CHW `pixel_values`.
 *
 * The resampling follows libvips 8.17's affine semantics (corner-aligned sampling at x / scale, a black border outside
 * the image, 12-bit fixed-point bilinear, 64-step tabulated Catmull-Rom bicubic). It is written here because no
 * pure-JavaScript library reproduces them and workerd cannot run sharp; test/node/hf-vision.test.ts holds it to sharp's
 * own output byte for byte. It is not Pillow's antialiased resize, which Python's processors use: a shrink samples
 * points, as transformers.js's does. Kept apart from image-ops.ts so the models built from that file keep their cache.
 */
import { z } from 'zod';
import type { RgbaImage } from '../../codecs/image.js';

/** 8-bit pixels, interleaved (HWC), `channels` per pixel. */
export interface Pixels {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

/** Pillow's resampling filters by the names `preprocessor_config.json`'s `resample` codes stand for (0, 2, 3). */
export type Resample = 'nearest' | 'bilinear' | 'bicubic';

/** RGB of an RGBA image, alpha dropped (transformers.js's `RawImage.rgb()`: no compositing). */
export function rgbPixels(img: RgbaImage): Pixels {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = img.data[i * 4] ?? 0;
    out[i * 3 + 1] = img.data[i * 4 + 1] ?? 0;
    out[i * 3 + 2] = img.data[i * 4 + 2] ?? 0;
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

const FIXED_SHIFT = 12;
const FIXED_ONE = 1 << FIXED_SHIFT;
const FIXED_HALF = FIXED_ONE >> 1;
/** Bicubic coefficients are tabulated at this many fractional steps per pixel. */
const CUBIC_STEPS = 64;

/** Catmull-Rom weights for taps at −1, 0, +1, +2 around a point at fraction `t` (libvips's operation order). */
function catmullRom(t: number): number[] {
  const u = 1 - t;
  const half = -0.5 * t;
  const uh = u * half;
  const w0 = u * uh;
  const w3 = t * uh;
  const d = w3 - w0;
  return [w0, u - w0 + d, t - w3 - d, w3];
}

const CUBIC_TABLE: readonly Int32Array[] = Array.from({ length: CUBIC_STEPS + 1 }, (_, i) =>
  Int32Array.from(catmullRom(i / CUBIC_STEPS), (w) => Math.trunc(w * FIXED_ONE)),
);

function cubicWeights(position: number): Int32Array {
  // Round the fraction to the nearest table step (the table has both ends, 0 and 1).
  const step = ((Math.trunc(position * CUBIC_STEPS * 2) & (CUBIC_STEPS * 2 - 1)) + 1) >> 1;
  return CUBIC_TABLE[step] ?? (CUBIC_TABLE[0] as Int32Array);
}

/**
 * Resizes to `outW`×`outH` as sharp's `affine([outW / w, 0, 0, outH / h])` does. Positions are kept in libvips's
 * padded coordinates (the image shifted right/down by the interpolator's border) and stepped by accumulation along a
 * row, so the fixed-point fractions, and hence every output byte, come out as libvips computes them.
 */
export function affineResize(src: Pixels, outW: number, outH: number, resample: Resample): Pixels {
  const { width: w, height: h, channels: ch, data } = src;
  if (outW === w && outH === h) return { width: w, height: h, channels: ch, data: data.slice() };
  const a = outW / w;
  const d = outH / h;
  const inverse = 1 / (a * d);
  const stepX = inverse * d;
  const stepY = inverse * a;
  const reach = resample === 'bicubic' ? 1 : 0;
  const border = reach + 1;
  const xs = new Float64Array(outW);
  let px = 1 + reach;
  for (let x = 0; x < outW; x++) {
    xs[x] = px;
    px += stepX;
  }
  const ys = Float64Array.from({ length: outH }, (_, y) => stepY * y + 1 + reach);
  const at = (x: number, y: number, c: number): number =>
    x < 0 || y < 0 || x >= w || y >= h ? 0 : (data[(y * w + x) * ch + c] ?? 0);
  const out = new Uint8Array(outW * outH * ch);

  if (resample === 'nearest') {
    for (let y = 0; y < outH; y++) {
      const sy = Math.trunc(ys[y] ?? 0) - border;
      for (let x = 0; x < outW; x++) {
        const sx = Math.trunc(xs[x] ?? 0) - border;
        for (let c = 0; c < ch; c++) out[(y * outW + x) * ch + c] = at(sx, sy, c);
      }
    }
  } else if (resample === 'bilinear') {
    for (let y = 0; y < outH; y++) {
      const py = ys[y] ?? 0;
      const iy = Math.trunc(py);
      const fy = Math.trunc((py - iy) * FIXED_ONE);
      const gy = FIXED_ONE - fy;
      const sy = iy - border;
      for (let x = 0; x < outW; x++) {
        const pxx = xs[x] ?? 0;
        const ix = Math.trunc(pxx);
        const fx = Math.trunc((pxx - ix) * FIXED_ONE);
        // The four weights as libvips derives them: two products truncated, the others by difference (sum = 1).
        const wBR = (fy * fx) >> FIXED_SHIFT;
        const wTR = (gy * fx) >> FIXED_SHIFT;
        const wBL = fy - wBR;
        const wTL = gy - wTR;
        const sx = ix - border;
        for (let c = 0; c < ch; c++) {
          const v =
            wTL * at(sx, sy, c) + wTR * at(sx + 1, sy, c) + wBL * at(sx, sy + 1, c) + wBR * at(sx + 1, sy + 1, c);
          out[(y * outW + x) * ch + c] = (v + FIXED_HALF) >> FIXED_SHIFT;
        }
      }
    }
  } else {
    // libvips rounds each of the four horizontal sums before the vertical one, so a horizontal pass over every source
    // row, kept in integers, gives the same bytes at a quarter of the work.
    const rows = new Int32Array(h * outW * ch);
    for (let x = 0; x < outW; x++) {
      const pxx = xs[x] ?? 0;
      const wx = cubicWeights(pxx);
      const sx = Math.trunc(pxx) - 1 - border;
      for (let y = 0; y < h; y++) {
        for (let c = 0; c < ch; c++) {
          let v = 0;
          for (let k = 0; k < 4; k++) v += (wx[k] ?? 0) * at(sx + k, y, c);
          rows[(y * outW + x) * ch + c] = (v + FIXED_HALF) >> FIXED_SHIFT;
        }
      }
    }
    for (let y = 0; y < outH; y++) {
      const py = ys[y] ?? 0;
      const wy = cubicWeights(py);
      const sy = Math.trunc(py) - 1 - border;
      for (let x = 0; x < outW; x++) {
        for (let c = 0; c < ch; c++) {
          let v = 0;
          for (let k = 0; k < 4; k++) {
            const r = sy + k;
            if (r >= 0 && r < h) v += (wy[k] ?? 0) * (rows[(r * outW + x) * ch + c] ?? 0);
          }
          out[(y * outW + x) * ch + c] = Math.min(255, Math.max(0, (v + FIXED_HALF) >> FIXED_SHIFT));
        }
      }
    }
  }
  return { width: outW, height: outH, channels: ch, data: out };
}

/**
 * A `cropW`×`cropH` window around the centre (offsets rounded down), padded with black where the image is smaller:
 * transformers.js's `center_crop`.
 */
export function centerCrop(src: Pixels, cropW: number, cropH: number): Pixels {
  const { width: w, height: h, channels: ch, data } = src;
  if (cropW === w && cropH === h) return { width: w, height: h, channels: ch, data: data.slice() };
  // Per axis: a larger image is cut at floor(offset), a smaller one placed at floor(-offset).
  const offset = (full: number, crop: number): number => {
    const o = (full - crop) / 2;
    return o >= 0 ? Math.floor(o) : -Math.floor(-o);
  };
  const ox = offset(w, cropW);
  const oy = offset(h, cropH);
  const out = new Uint8Array(cropW * cropH * ch);
  for (let y = 0; y < cropH; y++) {
    const sy = y + oy;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < cropW; x++) {
      const sx = x + ox;
      if (sx < 0 || sx >= w) continue;
      for (let c = 0; c < ch; c++) out[(y * cropW + x) * ch + c] = data[(sy * w + sx) * ch + c] ?? 0;
    }
  }
  return { width: cropW, height: cropH, channels: ch, data: out };
}

/** How an image processor sizes its input: an exact size, or edges that keep the aspect ratio. */
export type ProcessorSize = { height: number; width: number } | { shortest_edge?: number; longest_edge?: number };

/**
 * The resized (width, height) for `size`, as transformers.js's `get_resize_output_image_size` computes it: scale so the
 * shortest edge reaches `shortest_edge`, then down so the longest stays within `longest_edge`, each result rounded to
 * two decimals and floored. (Python's processors round these sizes slightly differently, by up to a pixel.)
 */
export function resizedSize(width: number, height: number, size: ProcessorSize): [number, number] {
  if ('height' in size) return [size.width, size.height];
  const up = size.shortest_edge === undefined ? 1 : Math.max(size.shortest_edge / width, size.shortest_edge / height);
  const w = width * up;
  const h = height * up;
  const down = size.longest_edge === undefined ? 1 : Math.min(size.longest_edge / w, size.longest_edge / h);
  return [Math.floor(Number((w * down).toFixed(2))), Math.floor(Number((h * down).toFixed(2)))];
}

export interface ProcessorOptions {
  size?: ProcessorSize;
  resample: Resample;
  crop?: { height: number; width: number };
  /** Multiplies the 8-bit values (1/255 in most configs); absent: no rescaling. */
  rescaleFactor?: number;
  /** Per channel, (x − mean) / std after rescaling; absent: no normalisation. */
  mean?: readonly number[];
  std?: readonly number[];
}

/** The 8-bit image a processor hands to its float steps: RGB, resized, centre-cropped. */
export function processorPixels(img: RgbaImage, o: ProcessorOptions): Pixels {
  let px = rgbPixels(img);
  if (o.size !== undefined) {
    const [w, h] = resizedSize(px.width, px.height, o.size);
    px = affineResize(px, w, h, o.resample);
  }
  if (o.crop !== undefined) px = centerCrop(px, o.crop.width, o.crop.height);
  return px;
}

/**
 * `pixel_values` for one image (CHW float32): each step rounded to float32 as transformers.js's Float32Array does, so
 * the tensor equals its processor's bit for bit.
 */
export function processorTensor(px: Pixels, o: ProcessorOptions): Float32Array {
  const { width: w, height: h, channels: ch, data } = px;
  const plane = w * h;
  const out = new Float32Array(ch * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < ch; c++) {
      let v = Math.fround(data[i * ch + c] ?? 0);
      if (o.rescaleFactor !== undefined) v = Math.fround(o.rescaleFactor * v);
      if (o.mean !== undefined && o.std !== undefined) v = Math.fround((v - (o.mean[c] ?? 0)) / (o.std[c] ?? 1));
      out[c * plane + i] = v;
    }
  }
  return out;
}

const Side = z.number().int().positive().max(8192);

/**
 * The manifest's `preprocess` for a Hugging Face image processor, as `scripts/hf-vision.ts` writes it from
 * `preprocessor_config.json`.
 */
export const HfImageProcessorSchema = z
  .object({
    kind: z.literal('hf-image-processor'),
    /** `image_processor_type` (or the legacy `feature_extractor_type`) of the folder, for cards and messages. */
    processor: z.string(),
    /** Absent: no resizing (`do_resize: false`). */
    resize: z
      .union([
        z.object({ height: Side, width: Side }).strict(),
        z
          .object({ shortest_edge: Side.optional(), longest_edge: Side.optional() })
          .strict()
          .refine((s) => s.shortest_edge !== undefined || s.longest_edge !== undefined, 'needs an edge'),
      ])
      .optional(),
    resample: z.enum(['nearest', 'bilinear', 'bicubic']).default('bilinear'),
    /** Absent: no centre crop. */
    crop: z.object({ height: Side, width: Side }).strict().optional(),
    /** Absent: no rescaling (`do_rescale: false`). */
    rescale_factor: z.number().positive().optional(),
    /** Both or neither (`do_normalize`). */
    image_mean: z.array(z.number()).length(3).optional(),
    image_std: z.array(z.number().positive()).length(3).optional(),
    max_pixels: z.number().int().positive().optional(),
  })
  .strict()
  .refine((p) => (p.image_mean === undefined) === (p.image_std === undefined), 'image_mean and image_std go together');
export type HfImageProcessor = z.infer<typeof HfImageProcessorSchema>;

function options(pre: HfImageProcessor): ProcessorOptions {
  return {
    ...(pre.resize === undefined ? {} : { size: pre.resize }),
    resample: pre.resample,
    ...(pre.crop === undefined ? {} : { crop: pre.crop }),
    ...(pre.rescale_factor === undefined ? {} : { rescaleFactor: pre.rescale_factor }),
    ...(pre.image_mean === undefined || pre.image_std === undefined
      ? {}
      : { mean: pre.image_mean, std: pre.image_std }),
  };
}

/** One image as the model sees it: `pixel_values` (CHW), with the 8-bit pixels they came from for the cache key. */
export interface ProcessedImage {
  tensor: Float32Array;
  /** [3, height, width] of the tensor. */
  dims: [number, number, number];
  pixels: Uint8Array;
  /** The uploaded image's size (boxes are answered in it). */
  original: { width: number; height: number };
}

export function processImage(img: RgbaImage, pre: HfImageProcessor): ProcessedImage {
  const o = options(pre);
  const px = processorPixels(img, o);
  return {
    tensor: processorTensor(px, o),
    dims: [px.channels, px.height, px.width],
    pixels: px.data,
    original: { width: img.width, height: img.height },
  };
}

/** Images grouped by tensor size (a batch must be one size; each image keeps its own, unpadded): index lists. */
export function groupBySize(images: readonly { dims: readonly number[] }[]): number[][] {
  const groups = new Map<string, number[]>();
  images.forEach((im, i) => {
    const key = im.dims.join('x');
    const list = groups.get(key) ?? [];
    list.push(i);
    groups.set(key, list);
  });
  return [...groups.values()];
}

/** The images at `indices` stacked into one batch tensor. */
export function stack(images: readonly { tensor: Float32Array }[], indices: readonly number[]): Float32Array {
  const per = images[indices[0] ?? 0]?.tensor.length ?? 0;
  const out = new Float32Array(per * indices.length);
  indices.forEach((idx, k) => {
    const t = images[idx]?.tensor;
    if (t !== undefined) out.set(t, k * per);
  });
  return out;
}
