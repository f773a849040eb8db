/**
 * @module Face-detection fixtures, made in Node: scikit-image's sample photos as Debian's python3-skimage ships them
 * (two with a face, five without), variants of the face photo made by ImageMagick (mirrored, halved, cropped wide
 * and tall, small on a large canvas), the face boxes and keypoints located by hand (handed to the workerd tests with
 * the photos), and onnxruntime-node's raw BlazeFace outputs on the astronaut photo as the reference for the edge
 * runtime.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { CONVERT } from '../../models/text-orientation/render.js';
import { readBuiltModels } from '../../scripts/model-store.js';
import { ManifestSchema } from '../../src/lib/manifest.js';
import { facePreprocess, letterboxTensor } from '../../src/tasks/vision/face-detection.js';
import { decodeImage } from '../../src/codecs/image.js';
import type { FaceFixtures, FacePhoto, FaceReference, HandBox } from './provided.js';

export type { FaceFixtures, FacePhoto, HandBox };

/** Where python3-skimage puts its sample data when installed, and where `.ci/run` unpacks the package otherwise. */
const SKIMAGE_DATA = [
  '/usr/lib/python3/dist-packages/skimage/data',
  join(
    import.meta.dirname,
    '..',
    '..',
    'build',
    'debian',
    'python3-skimage',
    'usr',
    'lib',
    'python3',
    'dist-packages',
    'skimage',
    'data',
  ),
];

/** The files the coordinates below were read from (python3-skimage 0.19.3-8, Debian 12); another copy is refused. */
const SHA256: Record<string, string> = {
  'astronaut.png': '88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5',
  'camera.png': 'b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a',
  'coffee.png': 'cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7',
  'chelsea.png': '596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb',
  'rocket.jpg': 'c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c',
  'motorcycle_left.png': 'db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179',
};

export function skimageDataDir(): string {
  const dir = SKIMAGE_DATA.find((d) => existsSync(join(d, 'astronaut.png')));
  if (dir === undefined)
    throw new Error(
      "scikit-image's sample photos are missing: install Debian's python3-skimage, or unpack it as .ci/run does " +
        '(apt-get download python3-skimage && dpkg-deb -x python3-skimage_*.deb build/debian/python3-skimage)',
    );
  return dir;
}

function photoFile(name: string): string {
  const path = join(skimageDataDir(), name);
  const digest = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (digest !== SHA256[name])
    throw new Error(`${path} is not the copy the hand-checked coordinates were read from (sha256 ${digest})`);
  return path;
}

/**
 * Eileen Collins's face in astronaut.png (512×512), read off a 3× enlargement with a 20-pixel grid drawn over it:
 * brow line at y ≈ 82, chin at y ≈ 172, cheek edges at x ≈ 182 and 268. Her right eye is on the image's left.
 */
export const ASTRONAUT_FACE: HandBox = { xmin: 182, ymin: 82, xmax: 268, ymax: 172 };
/** Pupils, nose tip and the middle of the closed lips on the same enlargement. */
export const ASTRONAUT_KEYPOINTS: Record<string, [number, number]> = {
  right_eye: [203, 100],
  left_eye: [247, 103],
  nose_tip: [225, 127],
  mouth_center: [223, 147],
};
/**
 * The photographer in camera.png (512×512, grey), in profile facing right, read off a 4× enlargement with a grid:
 * ear at x ≈ 182, nose tip at x ≈ 255; hairline over the brow at y ≈ 120, chin at y ≈ 200.
 */
export const CAMERA_FACE: HandBox = { xmin: 180, ymin: 120, xmax: 258, ymax: 202 };

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const magick = (args: string[]): Uint8Array => new Uint8Array(execFileSync(CONVERT, args));
const mirror = (b: HandBox, width: number): HandBox => ({
  xmin: width - b.xmax,
  ymin: b.ymin,
  xmax: width - b.xmin,
  ymax: b.ymax,
});

/**
 * Keypoints of a mirror image: x reflected, and "right"/"left" trade places, since the person's right eye shows on the
 * picture's left again (a model that kept the names with their old sides would be wrong).
 */
export function mirrorKeypoints(
  k: Readonly<Record<string, [number, number]>>,
  width: number,
): Record<string, [number, number]> {
  const swap = (n: string): string =>
    n.replace(/^(right|left)_/, (_, side: string) => (side === 'right' ? 'left_' : 'right_'));
  return Object.fromEntries(Object.entries(k).map(([n, [x, y]]) => [swap(n), [width - x, y]]));
}

function photo(
  name: string,
  bytes: Uint8Array,
  faces: HandBox[],
  contentType: FacePhoto['contentType'],
  keypoints?: Record<string, [number, number]>,
): FacePhoto {
  const img = decodeImage(bytes, { where: name, maxPixels: 4_000_000 });
  return {
    name,
    image: b64(bytes),
    contentType,
    width: img.width,
    height: img.height,
    faces,
    ...(keypoints === undefined ? {} : { keypoints }),
  };
}

/** The photos by name; ImageMagick makes the variants and re-encodes large PNGs as JPEG so JSON bodies stay small. */
export function facePhotos(): Record<string, FacePhoto> {
  const astronaut = photoFile('astronaut.png');
  const jpeg = (src: string, ...ops: string[]): Uint8Array => magick([src, ...ops, '-quality', '92', 'jpg:-']);
  const shift = (b: HandBox, dx: number): HandBox => ({ ...b, xmin: b.xmin + dx, xmax: b.xmax + dx });
  const half: HandBox = {
    xmin: ASTRONAUT_FACE.xmin / 2,
    ymin: ASTRONAUT_FACE.ymin / 2,
    xmax: ASTRONAUT_FACE.xmax / 2,
    ymax: ASTRONAUT_FACE.ymax / 2,
  };
  const list: FacePhoto[] = [
    photo('astronaut', jpeg(astronaut), [ASTRONAUT_FACE], 'image/jpeg', ASTRONAUT_KEYPOINTS),
    photo(
      'astronaut-mirrored',
      jpeg(astronaut, '-flop'),
      [mirror(ASTRONAUT_FACE, 512)],
      'image/jpeg',
      mirrorKeypoints(ASTRONAUT_KEYPOINTS, 512),
    ),
    photo('astronaut-half', jpeg(astronaut, '-resize', '256x256'), [half], 'image/jpeg'),
    // Landscape (padded above and below in the model input) and portrait (padded left and right) crops.
    photo('astronaut-wide', jpeg(astronaut, '-crop', '512x300+0+0', '+repage'), [ASTRONAUT_FACE], 'image/jpeg'),
    photo(
      'astronaut-tall',
      jpeg(astronaut, '-crop', '300x512+100+0', '+repage'),
      [shift(ASTRONAUT_FACE, -100)],
      'image/jpeg',
    ),
    // Halved and placed at (300, 250) on a 640×640 grey canvas: a face 43 px wide, far from the camera.
    photo(
      'astronaut-far',
      magick([
        '-size',
        '640x640',
        'xc:gray60',
        '(',
        astronaut,
        '-resize',
        '256x256',
        ')',
        '-geometry',
        '+300+250',
        '-composite',
        '-quality',
        '92',
        'jpg:-',
      ]),
      [shift({ ...half, ymin: half.ymin + 250, ymax: half.ymax + 250 }, 300)],
      'image/jpeg',
    ),
    photo('camera', new Uint8Array(readFileSync(photoFile('camera.png'))), [CAMERA_FACE], 'image/png'),
    photo('coffee', jpeg(photoFile('coffee.png')), [], 'image/jpeg'),
    photo('chelsea', jpeg(photoFile('chelsea.png')), [], 'image/jpeg'),
    photo('rocket', new Uint8Array(readFileSync(photoFile('rocket.jpg'))), [], 'image/jpeg'),
    photo('motorcycle', jpeg(photoFile('motorcycle_left.png')), [], 'image/jpeg'),
    // ImageMagick's built-in 70×46 photo of a rose.
    photo('rose', magick(['rose:', 'PNG24:-']), [], 'image/png'),
  ];
  return Object.fromEntries(list.map((p) => [p.name, p]));
}

const f32b64 = (data: Float32Array): string => b64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));

/** Each built BlazeFace model's input for one photo, and every output onnxruntime-node (1 thread) gives for it. */
async function references(p: FacePhoto): Promise<FaceReference[]> {
  const out: FaceReference[] = [];
  for (const m of readBuiltModels().filter((x) => x.id === 'blazeface' || x.id === 'blazeface-back')) {
    const manifest = ManifestSchema.parse(JSON.parse(m.manifestText));
    const img = decodeImage(Buffer.from(p.image, 'base64'), { where: p.name, maxPixels: 4_000_000 });
    const { data } = letterboxTensor(img, facePreprocess(manifest));
    const dims = [...(manifest.inputs[0]?.shape ?? [])].map(Number);
    const session = await ortNode.InferenceSession.create(join(m.dir, manifest.model_file), {
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // The graph carries unused constants ORT warns about on every load; errors still show.
      logSeverityLevel: 3,
    });
    try {
      const result = await session.run({ [manifest.inputs[0]?.name ?? '']: new ortNode.Tensor('float32', data, dims) });
      const outputs: FaceReference['outputs'] = {};
      for (const [name, t] of Object.entries(result))
        outputs[name] = { dims: [...t.dims], data: f32b64(t.data as Float32Array) };
      out.push({
        model: m.id,
        photo: p.name,
        input: { name: manifest.inputs[0]?.name ?? '', dims, data: f32b64(data) },
        outputs,
      });
    } finally {
      await session.release();
    }
  }
  if (out.length !== 2) throw new Error('blazeface and blazeface-back must both be built');
  return out;
}

export async function faceFixtures(): Promise<FaceFixtures> {
  const photos = facePhotos();
  const astronaut = photos['astronaut'];
  if (astronaut === undefined) throw new Error('astronaut photo missing');
  return { photos, references: await references(astronaut) };
}

/** Intersection over union of two boxes (for assertions; written apart from the task's own). */
export function boxIou(a: HandBox, b: HandBox): number {
  const w = Math.max(0, Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin));
  const h = Math.max(0, Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin));
  const area = (x: HandBox): number => (x.xmax - x.xmin) * (x.ymax - x.ymin);
  return (w * h) / (area(a) + area(b) - w * h);
}

export { mirror as mirrorBox };
