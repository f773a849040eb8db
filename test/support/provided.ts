/** @module What the Node-side global setup hands the workerd tests (`provide`/`inject`): plain, JSON-friendly data. */
import type { HfGenerationReferences, PublishedGeneration } from './hf-generation.js';

export interface StoredModel {
  id: string;
  version: string;
  dir: string;
  manifestText: string;
  /** File name → base64 of its bytes. */
  files: Record<string, string>;
}

export interface TensorRef {
  dims: number[];
  data: number[];
}

/** A KServe v2 request tensor, ready to send. */
export interface KserveTensor {
  name: string;
  shape: number[];
  datatype: 'FP32' | 'INT64';
  data: number[];
}

export interface References {
  sentiment: {
    /** Held-out examples of the build's fixed split (the same the accuracy metric used). */
    heldout: { text: string; label: string }[];
    /** A few held-out texts, the model's input tensors for them (indices + values) and onnxruntime-node's outputs. */
    texts: string[];
    inputs: KserveTensor[];
    outputs: Record<string, TensorRef>;
  };
}

/** Rows [start, start + rows) of batch-major request tensors (every input shares dim 0). */
export function sliceRows(inputs: readonly KserveTensor[], start: number, rows: number): KserveTensor[] {
  return inputs.map((t) => {
    const width = t.shape.slice(1).reduce((a, b) => a * b, 1);
    return { ...t, shape: [rows, ...t.shape.slice(1)], data: t.data.slice(start * width, (start + rows) * width) };
  });
}

declare module 'vitest' {
  export interface ProvidedContext {
    models: StoredModel[];
    references: References;
  }
}

/** A real origin process the global setup started on loopback, for edge → origin tests inside workerd. */
export interface OriginUnderTest {
  url: string;
  secret: string;
  /** An extra version of a built model, in the origin's store, with a small edge max_batch (seed it at the edge too). */
  tight: { id: string; version: string; manifestText: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    origin: OriginUnderTest;
  }
}

/** One synthesised speech clip (test/support/audio.ts), encoded as a WAV file. */
export interface AudioClip {
  name: string;
  /** base64 of the WAV bytes. */
  wav: string;
  contentType: string;
  seconds: number;
  /** True speech spans in seconds, from the samples' energy before padding. */
  speech: { start: number; end: number }[];
}

export interface AudioReferences {
  clips: AudioClip[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    audio: AudioReferences;
  }
}

/** Image, text-line and tabular inputs for the vision/tabular zoo tests (test/support/vision.ts); images are base64. */
export interface VisionFixtures {
  /** Held-out MNIST digits: 28×28 PNGs in both polarities and enlarged JPEGs in both polarities. */
  digits: { label: string; png: string; pngInverted: string; jpeg: string; jpegInverted: string }[];
  /** The text-orientation build's ImageMagick-rendered lines, upright (`0`) and rotated (`180`). */
  lines: { label: string; text: string; png: string }[];
  iris: { row: number[]; label: string }[];
  broken: { corruptPng: string; corruptJpeg: string; hugePng: string; gif: string; validPng: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    vision: VisionFixtures;
  }
}

/** A model published through the models CLI (tiny-bert, generated here) and onnxruntime-node's answers for it. */
export interface ByoReferences {
  /** What `publish` prepared, in the layout the R2 seeding takes. */
  model: StoredModel;
  texts: string[];
  /** Tokens per text with the special tokens (what `usage` counts). */
  tokens: number[];
  /** Mean-pooled last_hidden_state per text from onnxruntime-node, before and after L2 normalisation. */
  pooled: number[][];
  normalized: number[][];
}

declare module 'vitest' {
  export interface ProvidedContext {
    byo: ByoReferences;
  }
}

/** One request the loopback webhook receiver recorded. */
export interface Delivery {
  headers: Record<string, string>;
  body: string;
  /** The status the receiver answered. */
  answered: number;
  at: number;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the loopback webhook receiver and test DNS (test/support/receiver.ts). */
    receiver: string;
  }
}

/** A face box in pixels of its photo, located by hand (test/support/faces.ts says how). */
export interface HandBox {
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
}

/** One photo for the face-detection tests: bytes as base64, and the faces a person sees in it (none: faceless). */
export interface FacePhoto {
  name: string;
  image: string;
  contentType: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
  faces: HandBox[];
  /** Hand-marked eyes, nose tip and mouth of `faces[0]` in pixels, by keypoint name, where they were marked. */
  keypoints?: Record<string, [number, number]>;
}

/** A BlazeFace model's input tensor for one photo and onnxruntime-node's outputs; float32 data as base64. */
export interface FaceReference {
  model: string;
  photo: string;
  input: { name: string; dims: number[]; data: string };
  outputs: Record<string, { dims: number[]; data: string }>;
}

export interface FaceFixtures {
  photos: Record<string, FacePhoto>;
  references: FaceReference[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    faces: FaceFixtures;
  }
}

/** One label and its score, as transformers.js's image-classification pipeline answers. */
export interface HfLabelScore {
  label: string;
  score: number;
}

/** One detection, as transformers.js's object-detection pipeline answers. */
export interface HfDetection {
  label: string;
  score: number;
  box: { xmin: number; ymin: number; xmax: number; ymax: number };
}

/** Hugging Face vision folders as publish prepared them and transformers.js's answers (test/support/hf-vision.ts). */
export interface HfVisionReferences {
  /** hf-tiny-vit, hf-tiny-deit (image-classification) and hf-tiny-detr (object-detection). */
  models: StoredModel[];
  /** The pictures (base64 PNG) every answer below is for, in this order. */
  pictures: { name: string; png: string; width: number; height: number }[];
  /** Per classifier id, per picture: default top_k (5), top_k 2, and top_k null (every label). */
  classification: Record<string, { defaults: HfLabelScore[][]; top2: HfLabelScore[][]; all: HfLabelScore[][] }>;
  /** Per picture: the default threshold (0.9), threshold 0.5, and threshold 0.5 with `percentage: true`. */
  detection: { defaults: HfDetection[][]; low: HfDetection[][]; percentage: HfDetection[][] };
}

declare module 'vitest' {
  export interface ProvidedContext {
    hfVision: HfVisionReferences;
  }
}

/** Hugging Face text folders as publish prepared them, and transformers.js's answers (test/support/hf-text.ts). */
export interface LabelScoreRef {
  label: string;
  score: number;
}
export interface TokenRef {
  entity: string;
  score: number;
  index: number;
  word: string;
}
export interface GroupRef {
  entity_group: string;
  score: number;
  word: string;
}

export interface HfTextReferences {
  models: StoredModel[];
  /** All labels of each CLASSIFY_TEXTS text, best first (transformers.js, top_k = all). */
  sst: LabelScoreRef[][];
  toxic: LabelScoreRef[][];
  /** Per NER text, every token (ignore_labels: []) and the simple groups. */
  nerTokens: TokenRef[][];
  nerSimple: GroupRef[][];
  zeroShot: { labels: string[]; scores: number[] };
  zeroShotMulti: { labels: string[]; scores: number[] };
  /** Top 3 answers, no length limit. */
  qa: { answer: string; score: number }[];
  /** A long context of single-token words, and the top 3 over its windows (each window asked of transformers.js). */
  long: {
    question: string;
    context: string;
    maxSeqLen: number;
    docStride: number;
    answers: { answer: string; score: number }[];
  };
  /** CLS-pooled, normalised vectors of CLASSIFY_TEXTS. */
  clsEmbeddings: number[][];
}

declare module 'vitest' {
  export interface ProvidedContext {
    hfText: HfTextReferences;
    /** The tiny decoders published by the CLI and transformers.js's greedy answers (test/support/hf-generation.ts). */
    hfGeneration: { references: HfGenerationReferences; models: PublishedGeneration[] };
  }
}

/** spam-en and topics-en inputs with onnxruntime-node's answers on the built files (test/support/nlp.ts). */
export interface NlpReferences {
  spam: {
    /** Held-out raw messages (label `spam`/`ham`) and two pasted bodies (label ''), each under 2,000 characters. */
    messages: { text: string; label: string }[];
    labels: string[];
    /** Per message, the probability of each label in `labels` order. */
    probabilities: number[][];
  };
  topics: {
    texts: string[];
    /** Word tokens per text (what `usage` counts). */
    tokens: number[];
    /** The graph's vectors, and the same L2-normalised (the default answer). */
    raw: number[][];
    normalized: number[][];
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    nlp: NlpReferences;
  }
}

/** A held-out Brown sentence: its tokens and their gold base tags (test/support/pos.ts). */
export interface PosSentence {
  words: string[];
  tags: string[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    posSentences: PosSentence[];
  }
}
