/**
 * @module Pixel operations the image tasks share with the model builds: greyscale, separable resizing (area when
 * shrinking, bilinear otherwise), MNIST-style digit fitting and PaddleOCR-style text-line tensors. Float planes in,
 * float planes out; no codec and no runtime dependency, so the edge, the origin and the training code agree bit for bit.
 */
import type { RgbaImage } from '../../codecs/image.js';

/** One float plane per channel, channel-major (CHW), values in [0, 1]. */
export interface Planes {
  width: number;
  height: number;
  channels: number;
  data: Float32Array;
}

export type ResizeFilter = 'area' | 'bilinear';

/** Rec. 601 luma in [0, 1]. Transparent pixels are laid over `background` (0 black … 1 white). */
export function toGrey(img: RgbaImage, background = 1): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const d = img.data;
    const luma = (0.299 * (d[i * 4] ?? 0) + 0.587 * (d[i * 4 + 1] ?? 0) + 0.114 * (d[i * 4 + 2] ?? 0)) / 255;
    const a = (d[i * 4 + 3] ?? 255) / 255;
    out[i] = luma * a + background * (1 - a);
  }
  return out;
}

/** RGB planes in [0, 1], transparent pixels laid over white (what a viewer shows). */
export function toRgbPlanes(img: RgbaImage): Planes {
  const n = img.width * img.height;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    const a = (img.data[i * 4 + 3] ?? 255) / 255;
    for (let c = 0; c < 3; c++) out[c * n + i] = ((img.data[i * 4 + c] ?? 0) / 255) * a + (1 - a);
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/** Mean luma of the transparent-free pixels weighted by alpha, or undefined when the image is fully opaque. */
function opaqueInkLuma(img: RgbaImage): number | undefined {
  let sum = 0;
  let weight = 0;
  let transparent = false;
  for (let i = 0; i < img.width * img.height; i++) {
    const a = (img.data[i * 4 + 3] ?? 255) / 255;
    if (a < 1) transparent = true;
    sum +=
      a * (0.299 * (img.data[i * 4] ?? 0) + 0.587 * (img.data[i * 4 + 1] ?? 0) + 0.114 * (img.data[i * 4 + 2] ?? 0));
    weight += a;
  }
  return transparent && weight > 0 ? sum / weight / 255 : undefined;
}

/**
 * Per-axis resampling weights: output index → (source index, weight) pairs summing to 1. `area` integrates the
 * source over each output pixel's footprint (anti-aliased shrinking); `bilinear` samples at pixel centres with
 * clamped edges (OpenCV's INTER_LINEAR convention). Area on an enlarging axis degenerates to bilinear.
 */
function axisWeights(
  src: number,
  dst: number,
  filter: ResizeFilter,
): { index: Int32Array; weight: Float32Array; start: Int32Array } {
  const scale = src / dst;
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(dst + 1);
  for (let o = 0; o < dst; o++) {
    start[o] = index.length;
    if (filter === 'area' && scale > 1) {
      const lo = o * scale;
      const hi = lo + scale;
      for (let s = Math.floor(lo); s < Math.min(src, Math.ceil(hi)); s++) {
        const w = Math.min(hi, s + 1) - Math.max(lo, s);
        if (w > 1e-9) {
          index.push(s);
          weight.push(w / scale);
        }
      }
    } else {
      const x = Math.min(src - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const x0 = Math.floor(x);
      const x1 = Math.min(src - 1, x0 + 1);
      const f = x - x0;
      index.push(x0);
      weight.push(1 - f);
      if (f > 0 && x1 !== x0) {
        index.push(x1);
        weight.push(f);
      }
    }
  }
  start[dst] = index.length;
  return { index: Int32Array.from(index), weight: Float32Array.from(weight), start };
}

/** Resizes one plane (row-major, `w`×`h`) to `outW`×`outH`: horizontal pass, then vertical. */
export function resizePlane(
  src: Float32Array,
  w: number,
  h: number,
  outW: number,
  outH: number,
  filter: ResizeFilter,
): Float32Array {
  const xs = axisWeights(w, outW, filter);
  const ys = axisWeights(h, outH, filter);
  const tmp = new Float32Array(outW * h);
  for (let y = 0; y < h; y++) {
    for (let o = 0; o < outW; o++) {
      let acc = 0;
      for (let k = xs.start[o] ?? 0; k < (xs.start[o + 1] ?? 0); k++)
        acc += (src[y * w + (xs.index[k] ?? 0)] ?? 0) * (xs.weight[k] ?? 0);
      tmp[y * outW + o] = acc;
    }
  }
  const out = new Float32Array(outW * outH);
  for (let o = 0; o < outH; o++) {
    for (let k = ys.start[o] ?? 0; k < (ys.start[o + 1] ?? 0); k++) {
      const row = (ys.index[k] ?? 0) * outW;
      const wk = ys.weight[k] ?? 0;
      for (let x = 0; x < outW; x++) out[o * outW + x] = (out[o * outW + x] ?? 0) + (tmp[row + x] ?? 0) * wk;
    }
  }
  return out;
}

export interface DigitFitOptions {
  /** Output side (MNIST: 28). */
  size: number;
  /** The digit's bounding box is scaled to fit this square (MNIST: 20), aspect ratio kept. */
  box: number;
  /** Pixels at or above this (after background removal) define the bounding box. */
  threshold: number;
}

export const MNIST_FIT: DigitFitOptions = { size: 28, box: 20, threshold: 0.2 };

/** Median of the outermost ring of pixels: the background level of a digit photo or drawing. */
function borderMedian(g: Float32Array, w: number, h: number): number {
  const ring: number[] = [];
  for (let x = 0; x < w; x++) ring.push(g[x] ?? 0, g[(h - 1) * w + x] ?? 0);
  for (let y = 1; y < h - 1; y++) ring.push(g[y * w] ?? 0, g[y * w + w - 1] ?? 0);
  ring.sort((a, b) => a - b);
  return ring[Math.floor(ring.length / 2)] ?? 0;
}

/**
 * Fits a digit image the way MNIST was made: ink white on black (a light background is detected from the border and
 * inverted), background removed and contrast stretched, the ink's bounding box scaled (area filter, aspect kept) to
 * fit `box`×`box`, then placed in `size`×`size` with its centre of mass at the centre. Returns size² values in [0, 1].
 */
export function fitDigit(img: RgbaImage, options: DigitFitOptions = MNIST_FIT): Float32Array {
  const { width: w, height: h } = img;
  // Transparent drawings: lay them on the background opposite to their ink, so the strokes survive either way.
  const inkLuma = opaqueInkLuma(img);
  const grey = toGrey(img, inkLuma === undefined ? 1 : inkLuma > 0.5 ? 0 : 1);
  let bg = borderMedian(grey, w, h);
  if (bg > 0.5) {
    for (let i = 0; i < grey.length; i++) grey[i] = 1 - (grey[i] ?? 0);
    bg = 1 - bg;
  }
  let max = 0;
  for (const v of grey) max = Math.max(max, v);
  const out = new Float32Array(options.size * options.size);
  if (max - bg < 0.05) return out; // blank: nothing to centre
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.min(1, Math.max(0, ((grey[y * w + x] ?? 0) - bg) / (max - bg)));
      grey[y * w + x] = v;
      if (v >= options.threshold) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  const cw = x1 - x0 + 1;
  const ch = y1 - y0 + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) crop.set(grey.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + cw), y * cw);
  const scale = options.box / Math.max(cw, ch);
  const rw = Math.max(1, Math.round(cw * scale));
  const rh = Math.max(1, Math.round(ch * scale));
  const digit = resizePlane(crop, cw, ch, rw, rh, 'area');
  let mass = 0;
  let mx = 0;
  let my = 0;
  for (let y = 0; y < rh; y++) {
    for (let x = 0; x < rw; x++) {
      const v = digit[y * rw + x] ?? 0;
      mass += v;
      mx += v * x;
      my += v * y;
    }
  }
  const cx = mass > 0 ? mx / mass : (rw - 1) / 2;
  const cy = mass > 0 ? my / mass : (rh - 1) / 2;
  const ox = Math.round(options.size / 2 - cx);
  const oy = Math.round(options.size / 2 - cy);
  for (let y = 0; y < rh; y++) {
    const ty = y + oy;
    if (ty < 0 || ty >= options.size) continue;
    for (let x = 0; x < rw; x++) {
      const tx = x + ox;
      if (tx >= 0 && tx < options.size) out[ty * options.size + tx] = Math.min(1, Math.max(0, digit[y * rw + x] ?? 0));
    }
  }
  return out;
}

export interface TextLineOptions {
  height: number;
  maxWidth: number;
  /** Per channel, applied as (x − mean) / std to values in [0, 1]. */
  mean: readonly number[];
  std: readonly number[];
  channelOrder: 'rgb' | 'bgr';
  filter: ResizeFilter;
}

/**
 * PaddleOCR's text-direction classifier input: height fixed, width = ceil(height × aspect) capped at `maxWidth`,
 * normalised, and padded on the right with zeros (after normalisation, as PaddleOCR does) to `maxWidth`. CHW.
 */
export function textLineTensor(img: RgbaImage, o: TextLineOptions): Float32Array {
  const rgb = toRgbPlanes(img);
  const w = Math.max(1, Math.min(o.maxWidth, Math.ceil((o.height * img.width) / img.height)));
  const plane = o.height * o.maxWidth;
  const out = new Float32Array(3 * plane);
  const n = img.width * img.height;
  for (let c = 0; c < 3; c++) {
    const srcC = o.channelOrder === 'bgr' ? 2 - c : c;
    const resized = resizePlane(
      rgb.data.subarray(srcC * n, (srcC + 1) * n),
      img.width,
      img.height,
      w,
      o.height,
      o.filter,
    );
    const mean = o.mean[c] ?? 0;
    const std = o.std[c] ?? 1;
    for (let y = 0; y < o.height; y++) {
      for (let x = 0; x < w; x++) out[c * plane + y * o.maxWidth + x] = ((resized[y * w + x] ?? 0) - mean) / std;
    }
  }
  return out;
}
