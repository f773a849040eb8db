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

export interface References {
  sentiment: {
    /** Held-out examples of the build's fixed split (the same the accuracy metric used). */
    heldout: { text: string; label: string }[];
    /** A few held-out texts, their feature rows and onnxruntime-node's outputs for them. */
    texts: string[];
    features: TensorRef;
    outputs: Record<string, TensorRef>;
  };
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
