/** @module Base64 in and out for request bodies (images, audio in JSON) and answers, shared by edge and origin. */
import { ServiceError } from '../lib/errors.js';

/** Decodes a base64 string (optionally a `data:…;base64,` URL) to bytes; 422 naming the field when malformed. */
export function base64ToBytes(text: string, where: string): Uint8Array {
  const comma = text.startsWith('data:') ? text.indexOf(',') : -1;
  if (text.startsWith('data:') && (comma === -1 || !text.slice(0, comma).endsWith(';base64'))) {
    throw new ServiceError(422, 'invalid_input', `${where}: a data URL must be base64 (data:<type>;base64,...).`);
  }
  const body = (comma === -1 ? text : text.slice(comma + 1)).replace(/\s+/g, '');
  // Standard or URL-safe alphabet, padding optional; atob alone accepts some malformed strings silently.
  if (body.length === 0 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(body) || body.length % 4 === 1) {
    throw new ServiceError(422, 'invalid_input', `${where}: not valid base64.`);
  }
  const std = body.replace(/-/g, '+').replace(/_/g, '/');
  let bin: string;
  try {
    bin = atob(std.padEnd(Math.ceil(std.length / 4) * 4, '='));
  } catch {
    throw new ServiceError(422, 'invalid_input', `${where}: not valid base64.`);
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Base64 of bytes (cache keys, base64 embeddings); chunked so large arrays do not overflow the argument list. */
export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
