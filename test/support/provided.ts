/** @module What the Node-side global setup hands the workerd tests (`provide`/`inject`): plain, JSON-friendly data. */

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
