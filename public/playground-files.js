/**
 * @module Playground file inputs: a drop zone around a normal file input (so choosing works with the keyboard too), a
 * preview, and the media type a file is sent with (sniffed from its first bytes when the browser does not know it).
 */

/**
 * Wires a drop zone: dropping a file on it, or choosing one with its file input, calls `onFile`.
 * @param {HTMLElement} zone
 * @param {HTMLInputElement} input
 * @param {(file: File | undefined) => void} onFile
 */
export function setupDropZone(zone, input, onFile) {
  input.addEventListener('change', () => onFile(input.files?.[0]));
  zone.addEventListener('dragenter', (event) => {
    event.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy';
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', (event) => {
    if (!(event.relatedTarget instanceof Node) || !zone.contains(event.relatedTarget)) {
      zone.classList.remove('dragging');
    }
  });
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('dragging');
    const files = event.dataTransfer?.files;
    const file = files?.[0];
    if (file === undefined) return;
    // Keep the file input in step, so the chosen file is what the form shows and sends.
    try {
      if (files) input.files = files;
    } catch {
      // Older browsers cannot assign FileLists; the callback still has the file.
    }
    onFile(file);
  });
}

/** Stops a file dropped beside a zone from navigating the page away. */
export function guardPageDrops() {
  for (const type of ['dragover', 'drop']) {
    window.addEventListener(type, (event) => {
      if (!(event.target instanceof Element) || event.target.closest('.drop-zone') === null) event.preventDefault();
    });
  }
}

const startsWith = (bytes, ...prefix) => prefix.every((b, i) => bytes[i] === b);

/**
 * The media type to send a file with: the browser's own when it is one the API takes, else sniffed from the file's
 * first bytes, else what the browser said (the API then answers which types it takes).
 * @param {File} file
 * @param {'image' | 'audio'} kind
 * @returns {Promise<string>}
 */
export async function mediaTypeOf(file, kind) {
  const declared = file.type.toLowerCase();
  if (kind === 'image' && (declared === 'image/png' || declared === 'image/jpeg')) return declared;
  if (kind === 'audio' && ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'].includes(declared)) {
    return 'audio/wav';
  }
  const bytes = new Uint8Array(await file.slice(0, 12).arrayBuffer());
  if (startsWith(bytes, 0x89, 0x50, 0x4e, 0x47)) return 'image/png';
  if (startsWith(bytes, 0xff, 0xd8, 0xff)) return 'image/jpeg';
  if (startsWith(bytes, 0x52, 0x49, 0x46, 0x46) && startsWith(bytes.subarray(8), 0x57, 0x41, 0x56, 0x45)) {
    return 'audio/wav';
  }
  return declared || 'application/octet-stream';
}

/** Human file size. */
export const fileSize = (bytes) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
      ? `${(bytes / 1024).toFixed(1)} KiB`
      : `${(bytes / 1048576).toFixed(1)} MiB`;
