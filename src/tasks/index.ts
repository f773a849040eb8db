/** @module The task modules by name: what the edge and the origin look up from a manifest's `task`. */
import type { TaskName } from '../lib/manifest.js';
import { faceDetection } from './vision/face-detection.js';
import { featureExtraction } from './text/feature-extraction.js';
import { imageClassification } from './vision/image-classification.js';
import { objectDetection } from './vision/object-detection.js';
import { questionAnswering } from './text/question-answering.js';
import { tabularClassification } from './tabular/tabular-classification.js';
import type { TaskModule } from './task.js';
import { textClassification } from './text/text-classification.js';
import { textGeneration } from './generation/text-generation.js';
import { tokenClassification } from './text/token-classification.js';
import { voiceActivityDetection } from './audio/voice-activity-detection.js';
import { zeroShotClassification } from './text/zero-shot-classification.js';

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
