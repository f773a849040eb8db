/**
 * @module Playground detections (face-detection, object-detection): the uploaded picture on a canvas at its own size
 * with every returned box, its label and score, and its keypoints drawn over it in the picture's pixels (the API's
 * coordinates), plus the same detections as a list for screen readers and copying.
 */
import { h, percent } from './playground-render.js';

/** Box colour (magenta, rare in photos), drawn over a darker outline so it shows on light and dark pictures alike. */
export const BOX_RGB = [255, 45, 149];
const KEYPOINT_RGB = [0, 229, 255];
const rgb = ([r, g, b]) => `rgb(${r}, ${g}, ${b})`;

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isBox = (b) => isObject(b) && ['xmin', 'ymin', 'xmax', 'ymax'].every((k) => typeof b[k] === 'number');
const isDetection = (d) => isObject(d) && typeof d.label === 'string' && typeof d.score === 'number' && isBox(d.box);

/** Whether an answer is a list of detections (`[{ label, score, box, keypoints? }]`). */
export const isDetections = (v) => Array.isArray(v) && v.every(isDetection);

const px = (v) => v.toFixed(0);

/** One detection in words: what, how sure, where (and how many keypoints). */
function describe(d) {
  const { xmin, ymin, xmax, ymax } = d.box;
  const points = Array.isArray(d.keypoints) ? `, ${d.keypoints.length} keypoints` : '';
  return `${d.label} ${percent(d.score)} at (${px(xmin)}, ${px(ymin)})–(${px(xmax)}, ${px(ymax)})${points}`;
}

/**
 * The picture with the detections drawn on it.
 * @param {{ label: string, score: number, box: { xmin: number, ymin: number, xmax: number, ymax: number },
 *   keypoints?: { name: string, x: number, y: number }[] }[]} detections
 * @param {Blob} picture the uploaded file the detections are for
 * @returns {Promise<{ node: HTMLElement, summary: string }>}
 */
export async function detectionsView(detections, picture) {
  const n = detections.length;
  let bitmap;
  try {
    bitmap = await createImageBitmap(picture);
  } catch {
    bitmap = undefined; // a picture the server decodes but this browser cannot: the list alone
  }
  const noun = n > 0 && detections.every((d) => d.label === 'face') ? 'face' : 'detection';
  const summary = n === 0 ? `no ${noun}s found` : `${n} ${noun}${n === 1 ? '' : 's'} found`;
  const canvas = h('canvas', {
    class: 'detections',
    role: 'img',
    'aria-label': `The picture with ${summary}${n > 0 ? `: ${detections.map(describe).join('; ')}` : ''}`,
    'data-count': String(n),
  });
  const list =
    n === 0
      ? h('p', { text: `No ${noun}s found.` })
      : h(
          'ol',
          { class: 'detections-list' },
          detections.map((d) =>
            h('li', { title: (d.keypoints ?? []).map((k) => `${k.name} (${px(k.x)}, ${px(k.y)})`).join(', ') }, [
              describe(d),
            ]),
          ),
        );
  if (bitmap === undefined || !(canvas instanceof HTMLCanvasElement)) {
    return { node: h('div', { class: 'detection-view' }, [list]), summary };
  }
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('no 2D canvas context');
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  // Lines scale with the picture, so a phone photo and a thumbnail both show them; at least 4 px wide.
  const line = Math.max(4, Math.round(Math.max(canvas.width, canvas.height) / 150));
  const font = Math.max(12, line * 3);
  ctx.font = `600 ${font}px system-ui, sans-serif`;
  ctx.textBaseline = 'top';
  for (const d of detections) {
    const { xmin, ymin, xmax, ymax } = d.box;
    ctx.lineWidth = line + 2;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.55)';
    ctx.strokeRect(xmin, ymin, xmax - xmin, ymax - ymin);
    ctx.lineWidth = line;
    ctx.strokeStyle = rgb(BOX_RGB);
    ctx.strokeRect(xmin, ymin, xmax - xmin, ymax - ymin);
    // The tag sits above the box, or just inside its top when the box touches the picture's top.
    const tag = `${d.label} ${percent(d.score)}`;
    const width = ctx.measureText(tag).width + line * 2;
    const top = ymin - font - line >= 0 ? ymin - font - line : ymin + line;
    ctx.fillStyle = rgb(BOX_RGB);
    ctx.fillRect(xmin - line / 2, top, width, font + line / 2);
    ctx.fillStyle = '#000';
    ctx.fillText(tag, xmin - line / 2 + line, top + line / 4);
    for (const k of Array.isArray(d.keypoints) ? d.keypoints : []) {
      ctx.beginPath();
      ctx.arc(k.x, k.y, Math.max(2.5, line * 0.8), 0, 2 * Math.PI);
      ctx.fillStyle = rgb(KEYPOINT_RGB);
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = '#000';
      ctx.stroke();
    }
  }
  return { node: h('div', { class: 'detection-view' }, [canvas, list]), summary };
}
