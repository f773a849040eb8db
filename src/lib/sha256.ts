/** @module SHA-256 as lowercase hex through WebCrypto: the same in workerd and Node (model files, cache keys, API keys). */

export async function sha256Hex(bytes: Uint8Array | string): Promise<string> {
  // Node's WebCrypto typings take only ArrayBuffer-backed views: re-view the same memory (no copy) when it is one.
  const data =
    typeof bytes === 'string'
      ? new TextEncoder().encode(bytes)
      : bytes.buffer instanceof ArrayBuffer
        ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        : new Uint8Array(bytes);
  const digest = await crypto.subtle.digest('SHA-256', data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
