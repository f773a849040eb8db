/**
 * @module Image decoding for task code, the same on the edge (workerd) and the origin (Node): PNG through fast-png
 * and JPEG through jpeg-js, both pure JavaScript. workerd forbids compiling WASM from bytes, and pure-JS codecs need
 * no per-runtime initialisation, so this module has no wiring to inject. Dimensions are read from the file header
 * and checked against the pixel limit before any pixel is decoded; every failure is an ServiceError (413/415/422).
 */
import { ServiceError } from '../lib/errors.js';
import { convertIndexedToRgb, decode as decodePng } from 'fast-png';
import * as jpeg from 'jpeg-js';

export type ImageFormat = 'png' | 'jpeg';

/** 8-bit RGBA pixels, row-major, alpha not premultiplied. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Service default when a manifest sets no `preprocess.max_pixels`: a phone photo fits, a poster does not. */
export const DEFAULT_MAX_PIXELS = 4_000_000;

export const IMAGE_MEDIA_TYPES: Readonly<Record<string, ImageFormat>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/pjpeg': 'jpeg',
};

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format the bytes say they are (magic numbers), whatever the client called them. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Well-formed images of formats this service does not decode: a 415 says so, rather than calling them corrupt. */
function otherFormat(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
  if (ascii(0, 4) === 'GIF8') return 'GIF';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'WebP';
  if (ascii(0, 2) === 'BM') return 'BMP';
  if (ascii(4, 8) === 'ftyp') return 'HEIF/AVIF';
  if ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a) || (b[0] === 0x4d && b[1] === 0x4d && b[3] === 0x2a))
    return 'TIFF';
  return undefined;
}

const u16 = (b: Uint8Array, i: number): number => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const u32 = (b: Uint8Array, i: number): number =>
  (((b[i] ?? 0) << 24) >>> 0) + ((b[i + 1] ?? 0) << 16) + ((b[i + 2] ?? 0) << 8) + (b[i + 3] ?? 0);

/** Start-of-frame markers carry the dimensions: C0–CF except DHT (C4), JPG (C8) and DAC (CC). */
const isSof = (m: number): boolean => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;

/**
 * Width and height from the header alone (PNG IHDR, JPEG SOFn), so an oversized image is refused before its pixels
 * are inflated. Not a decoder: the codecs below validate everything else.
 */
export function readImageSize(bytes: Uint8Array, format: ImageFormat): { width: number; height: number } | undefined {
  if (format === 'png') {
    // Signature (8) + IHDR length (4) + "IHDR" (4), then width and height.
    if (bytes.length < 24 || u32(bytes, 12) !== 0x49484452) return undefined;
    return { width: u32(bytes, 16), height: u32(bytes, 20) };
  }
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) return undefined;
    const marker = bytes[i + 1] ?? 0;
    // Fill bytes and standalone markers (TEM, RSTn) have no length field.
    if (marker === 0xff) {
      i += 1;
      continue;
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end of image / scan data before any frame header
    const length = u16(bytes, i + 2);
    if (length < 2) return undefined;
    if (isSof(marker)) {
      if (i + 9 > bytes.length) return undefined;
      return { height: u16(bytes, i + 5), width: u16(bytes, i + 7) };
    }
    i += 2 + length;
  }
  return undefined;
}

export interface DecodeOptions {
  /** Where the image came from, for messages: `body`, `inputs`, `inputs[2]`. */
  where: string;
  maxPixels: number;
}

/** Decodes PNG or JPEG bytes to RGBA after checking the header's size against the pixel limit. */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions): RgbaImage {
  const { where, maxPixels } = options;
  const format = sniffFormat(bytes);
  if (format === undefined) {
    const other = otherFormat(bytes);
    if (other !== undefined)
      throw new ServiceError(
        415,
        'unsupported_media_type',
        `${where}: ${other} images are not supported; send PNG or JPEG.`,
      );
    throw new ServiceError(422, 'invalid_input', `${where}: not a PNG or JPEG file (unrecognised signature).`);
  }
  const size = readImageSize(bytes, format);
  if (size === undefined)
    throw new ServiceError(
      422,
      'invalid_input',
      `${where}: corrupt ${format.toUpperCase()} (no readable image header).`,
    );
  if (size.width === 0 || size.height === 0)
    throw new ServiceError(422, 'invalid_input', `${where}: the image is empty (${size.width}×${size.height}).`);
  const pixels = size.width * size.height;
  if (pixels > maxPixels) {
    throw new ServiceError(
      413,
      'payload_too_large',
      `${where}: ${size.width}×${size.height} is ${pixels} pixels, over the limit of ${maxPixels}.`,
    );
  }
  let image: RgbaImage;
  try {
    image = format === 'png' ? pngToRgba(bytes) : jpegToRgba(bytes, maxPixels);
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    const detail = err instanceof Error ? err.message : String(err);
    throw new ServiceError(422, 'invalid_input', `${where}: corrupt ${format.toUpperCase()} (${detail}).`);
  }
  if (image.width !== size.width || image.height !== size.height || image.data.length !== pixels * 4) {
    throw new ServiceError(
      422,
      'invalid_input',
      `${where}: corrupt ${format.toUpperCase()} (decoded size does not match its header).`,
    );
  }
  return image;
}

function jpegToRgba(bytes: Uint8Array, maxPixels: number): RgbaImage {
  const out = jpeg.decode(bytes, {
    useTArray: true, // Uint8Array rather than Buffer: workerd has no Buffer without nodejs_compat
    formatAsRGBA: true,
    tolerantDecoding: false,
    maxResolutionInMP: Math.max(1, Math.ceil(maxPixels / 1e6)),
    maxMemoryUsageInMB: 256,
  });
  return { width: out.width, height: out.height, data: out.data };
}

function pngToRgba(bytes: Uint8Array): RgbaImage {
  // CRCs are checked: a flipped bit in a chunk is a corrupt file, not a slightly different picture.
  const png = decodePng(bytes, { checkCrc: true });
  const { width, height } = png;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  if (png.palette !== undefined) {
    const rgb = convertIndexedToRgb(png);
    const ch = png.palette[0]?.length ?? 3;
    for (let i = 0; i < n; i++) {
      out[i * 4] = rgb[i * ch] ?? 0;
      out[i * 4 + 1] = rgb[i * ch + 1] ?? 0;
      out[i * 4 + 2] = rgb[i * ch + 2] ?? 0;
      out[i * 4 + 3] = ch === 4 ? (rgb[i * ch + 3] ?? 255) : 255;
    }
    return { width, height, data: out };
  }
  const ch = png.channels;
  const samples = png.depth < 8 ? unpackSubByte(png.data, width, height, png.depth) : png.data;
  // 16-bit samples keep their high byte; sub-byte grey levels are stretched to 0–255.
  const scale = png.depth === 16 ? 1 / 257 : png.depth < 8 ? 255 / ((1 << png.depth) - 1) : 1;
  const at = (i: number): number => Math.round((samples[i] ?? 0) * scale);
  for (let i = 0; i < n; i++) {
    const s = i * ch;
    const grey = ch <= 2;
    const r = at(s);
    out[i * 4] = r;
    out[i * 4 + 1] = grey ? r : at(s + 1);
    out[i * 4 + 2] = grey ? r : at(s + 2);
    out[i * 4 + 3] = ch === 2 ? at(s + 1) : ch === 4 ? at(s + 3) : 255;
  }
  return { width, height, data: out };
}

/** Greyscale PNGs of depth 1/2/4 keep their samples packed, each row starting on a byte boundary. */
function unpackSubByte(data: ArrayLike<number>, width: number, height: number, depth: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const rowBytes = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = data[y * rowBytes + (bit >> 3)] ?? 0;
      out[y * width + x] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}
