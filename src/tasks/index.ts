/** @module The task modules by name: what the edge and the origin look up from a manifest's `task`. */
import type { TaskName } from '../storage/manifest.js';
import { faceDetection } from './face-detection.js';
import { featureExtraction } from './feature-extraction.js';
import { imageClassification } from './image-classification.js';
import { objectDetection } from './object-detection.js';
import { questionAnswering } from './question-answering.js';
import { tabularClassification } from './tabular-classification.js';
import type { TaskModule } from './task.js';
import { textClassification } from './text-classification.js';
import { textGeneration } from './text-generation.js';
import { tokenClassification } from './token-classification.js';
import { voiceActivityDetection } from './voice-activity-detection.js';
import { zeroShotClassification } from './zero-shot-classification.js';

const TASK_MODULES: Partial<Record<TaskName, TaskModule<unknown, unknown>>> = {
  'text-classification': textClassification,
  'token-classification': tokenClassification,
  'zero-shot-classification': zeroShotClassification,
  'question-answering': questionAnswering,
  'image-classification': imageClassification,
  'object-detection': objectDetection,
  'face-detection': faceDetection,
  'tabular-classification': tabularClassification,
  'voice-activity-detection': voiceActivityDetection,
  'feature-extraction': featureExtraction,
  'text-generation': textGeneration,
};

/** The module for a task, or undefined when this build serves it only through raw KServe tensors. */
export function taskModule(task: TaskName): TaskModule<unknown, unknown> | undefined {
  return TASK_MODULES[task];
}
