/**
 * @module Hugging Face model folders for `publish`: reads what `optimum-cli export onnx` (or transformers.js's
 * layout, `onnx/model.onnx`) writes — `config.json`, the tokenizer files, `preprocessor_config.json`,
 * sentence-transformers' pooling — picks the task from the config's architecture, checks the files agree with each
 * other and with the graph, and returns the manifest parts for the task. Every refusal names the file at fault.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import type { EdgeLimitsSchema, TaskName } from '../src/lib/manifest.js';
import { FeatureExtractionConfigSchema } from '../src/tasks/text/feature-extraction.js';
import {
  assemble,
  encodeWithOffsets,
  HfTokenizerConfigSchema,
  prepareTokenizer,
  type Assembled,
  type LoadedTokenizer,
} from '../src/tasks/text/hf-tokenizer.js';
import { readJsonObject } from '../models/lib/json-file.js';

/** The fields of `config.json` the service reads; everything else is kept as written. */
export const HfConfigSchema = z.looseObject({
  model_type: z.string().min(1),
  architectures: z.array(z.string()).optional(),
  id2label: z.record(z.string(), z.string()).optional(),
  label2id: z.record(z.string(), z.number().int()).optional(),
  problem_type: z
    .enum(['single_label_classification', 'multi_label_classification', 'regression'])
    .nullable()
    .optional(),
  max_position_embeddings: z.number().int().positive().optional(),
  vocab_size: z.number().int().positive().optional(),
});
export type HfConfig = z.infer<typeof HfConfigSchema>;

export interface HfFolder {
  dir: string;
  config: HfConfig;
  /** The raw `config.json` object (vision parts read fields the schema does not name). */
  rawConfig: Record<string, unknown>;
  /** The ONNX graph to serve: `model.onnx`, else `onnx/model.onnx`. */
  modelPath: string;
  has(name: string): boolean;
  /** A JSON file of the folder as an object; throws naming the file when it is missing or not a JSON object. */
  json(name: string): Record<string, unknown>;
}

/** Text tasks and the heads that serve them; anything else a folder may hold is served as raw tensors (KServe). */
const TEXT_TASKS = [
  'text-classification',
  'token-classification',
  'zero-shot-classification',
  'question-answering',
  'feature-extraction',
] as const;
export type HfTextTask = (typeof TEXT_TASKS)[number];

export function isHfTextTask(task: TaskName): task is HfTextTask {
  return (TEXT_TASKS as readonly string[]).includes(task);
}

/** A directory with a `config.json`: read as a Hugging Face folder. */
export function isHfFolder(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, 'config.json'));
}

export function readHfFolder(dir: string): HfFolder {
  const rawConfig = readJsonObject(dir, 'config.json');
  const parsed = HfConfigSchema.safeParse(rawConfig);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`config.json: ${issue?.path.join('.') || 'the file'}: ${issue?.message ?? 'invalid'}`);
  }
  // Decoders exported with their cache branch merged are named for it (Optimum's older layout).
  const candidates = ['model.onnx', join('onnx', 'model.onnx'), 'decoder_model_merged.onnx'].concat(
    join('onnx', 'decoder_model_merged.onnx'),
  );
  const modelPath = candidates.map((c) => join(dir, c)).find((p) => existsSync(p));
  if (modelPath === undefined) {
    const onnx = readdirSync(dir).filter((n) => n.endsWith('.onnx'));
    throw new Error(
      `${dir}: no model.onnx (or onnx/model.onnx, decoder_model_merged.onnx) beside config.json` +
        (onnx.length > 0 ? ` (found ${onnx.join(', ')}; rename the one to serve)` : ''),
    );
  }
  return {
    dir,
    config: parsed.data,
    rawConfig,
    modelPath,
    has: (name) => existsSync(join(dir, name)),
    json: (name) => readJsonObject(dir, name),
  };
}

/** A folder with a tokenizer but no config.json: read with an empty config (nothing to check the tokenizer against). */
export function tokenizerFolder(dir: string, modelPath: string): HfFolder {
  return {
    dir,
    config: { model_type: 'unspecified' },
    rawConfig: {},
    modelPath,
    has: (name) => existsSync(join(dir, name)),
    json: (name) => readJsonObject(dir, name),
  };
}

/**
 * The task a folder's architecture serves, as Hugging Face's pipelines map them: `…ForSequenceClassification`
 * (zero-shot when the labels name entailment, as NLI models' do), `…ForTokenClassification`,
 * `…ForQuestionAnswering`, `…ForImageClassification`, `…ForObjectDetection`, decoders (`…ForCausalLM`,
 * `…LMHeadModel`) text generation; a bare encoder (`BertModel`) or no
 * architecture is feature extraction.
 */
export function inferTask(folder: HfFolder): TaskName {
  const arch = folder.config.architectures?.[0] ?? '';
  if (arch.endsWith('ForSequenceClassification'))
    return entailmentId(folder.config) === undefined ? 'text-classification' : 'zero-shot-classification';
  if (arch.endsWith('ForTokenClassification')) return 'token-classification';
  if (arch.endsWith('ForQuestionAnswering')) return 'question-answering';
  if (arch.endsWith('ForImageClassification')) return 'image-classification';
  if (arch.endsWith('ForObjectDetection')) return 'object-detection';
  // Before the bare-encoder rule: GPT2LMHeadModel also ends in "Model".
  if (arch.endsWith('ForCausalLM') || arch.endsWith('LMHeadModel')) return 'text-generation';
  if (arch === '' || arch.endsWith('Model')) return 'feature-extraction';
  throw new Error(
    `config.json: architecture ${arch} does not name a task this service serves; pass --task to choose one`,
  );
}

/** Hugging Face's rule: the first label2id entry whose name starts with "entail" (any case). */
export function entailmentId(config: HfConfig): number | undefined {
  for (const [label, id] of Object.entries(config.label2id ?? {}))
    if (label.toLowerCase().startsWith('entail')) return id;
  return undefined;
}

/** `id2label` in id order; checks the ids run 0…n-1 and that `label2id`, when given, says the same. */
export function labelsOf(config: HfConfig): string[] | undefined {
  const id2label = config.id2label;
  if (id2label === undefined) return undefined;
  const n = Object.keys(id2label).length;
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = id2label[String(i)];
    if (label === undefined) throw new Error(`config.json: id2label must number its labels 0…${n - 1} (no ${i})`);
    labels.push(label);
  }
  if (config.label2id !== undefined) {
    for (const [label, id] of Object.entries(config.label2id))
      if (labels[id] !== label)
        throw new Error(
          `config.json: label2id says ${label} is ${id}, id2label says ${id} is ${labels[id] ?? 'nothing'}`,
        );
  }
  return labels;
}

/** A run of the graph for the publish checks: feeds by name, outputs' dims by name. */
export type CheckRun = (
  feeds: Record<string, { data: BigInt64Array; dims: number[] }>,
) => Promise<Record<string, { type: string; dims: readonly number[] }>>;

export interface TextTaskParts {
  preprocess: Record<string, unknown>;
  postprocess: Record<string, unknown>;
  labels?: string[];
  /** Companion files to ship beside model.onnx (names in the folder). */
  files: string[];
  edge_limits: z.input<typeof EdgeLimitsSchema>;
}

/** A Hugging Face export's pad token id (the tokenizer's `padding.pad_id`, the config's, BERT's [PAD]…), else 0. */
export function padTokenId(tokenizerJson: Record<string, unknown>, tokenizer: Tokenizer, config?: HfConfig): number {
  const padding = tokenizerJson['padding'];
  if (padding !== null && typeof padding === 'object' && 'pad_id' in padding && typeof padding.pad_id === 'number')
    return padding.pad_id;
  const fromConfig = config?.['pad_token_id'];
  if (typeof fromConfig === 'number' && fromConfig >= 0) return fromConfig;
  for (const t of ['[PAD]', '<pad>', '<|pad|>']) {
    const id = tokenizer.token_to_id(t);
    if (id !== undefined) return id;
  }
  return 0;
}

const CHECK_TEXT = 'Publishing checks that this model runs.';
const CHECK_PAIR = 'Does it run?';

function int64Feeds(
  row: Assembled,
  inputNames: readonly string[],
): Record<string, { data: BigInt64Array; dims: number[] }> {
  const n = row.ids.length;
  const t = (xs: number[]): { data: BigInt64Array; dims: number[] } => ({
    data: BigInt64Array.from(xs, (x) => BigInt(x)),
    dims: [1, n],
  });
  const all: Record<string, { data: BigInt64Array; dims: number[] }> = {
    input_ids: t(row.ids),
    attention_mask: t(row.ids.map(() => 1)),
    token_type_ids: t(row.typeIds),
  };
  const feeds: Record<string, { data: BigInt64Array; dims: number[] }> = {};
  for (const name of inputNames) {
    const feed = all[name];
    if (feed === undefined)
      throw new Error(`model.onnx takes input ${name}; text models take input_ids, attention_mask, token_type_ids`);
    feeds[name] = feed;
  }
  for (const need of ['input_ids', 'attention_mask'])
    if (!inputNames.includes(need))
      throw new Error(`model.onnx: text models take ${need} (inputs: ${inputNames.join(', ')})`);
  return feeds;
}

function expectOutput(
  outputs: Record<string, { type: string; dims: readonly number[] }>,
  name: string,
  rank: number,
  task: string,
): readonly number[] {
  const out = outputs[name];
  if (out === undefined)
    throw new Error(`model.onnx: ${task} models answer ${name} (outputs: ${Object.keys(outputs).join(', ')})`);
  if (out.type !== 'float32' || out.dims.length !== rank)
    throw new Error(`model.onnx: ${name} must be float32 of rank ${rank} (got ${out.type} [${out.dims.join(', ')}])`);
  return out.dims;
}

/**
 * Manifest parts of a text task: tokenizer files checked (present, parseable, agreeing with the config's vocabulary
 * and the model's inputs), one trial run through the graph to check output names and widths against the labels.
 */
export async function textTaskParts(
  task: HfTextTask,
  folder: HfFolder,
  inputNames: readonly string[],
  run: CheckRun,
  options: { maxLength?: number } = {},
): Promise<TextTaskParts> {
  if (!folder.has('tokenizer.json'))
    throw new Error(`tokenizer.json is missing from ${folder.dir} (${task} models need the fast tokenizer's file)`);
  const tokJson = folder.json('tokenizer.json');
  const hasTokConfig = folder.has('tokenizer_config.json');
  const tokConfig = hasTokConfig ? folder.json('tokenizer_config.json') : {};
  if (folder.has('special_tokens_map.json')) folder.json('special_tokens_map.json');
  let loaded: LoadedTokenizer;
  try {
    loaded = prepareTokenizer(tokJson, tokConfig);
  } catch (err) {
    throw new Error(`tokenizer.json cannot be loaded: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  const vocabSize = loaded.tokenizer.get_vocab().size;
  if (folder.config.vocab_size !== undefined && vocabSize > folder.config.vocab_size)
    throw new Error(
      `tokenizer.json has ${vocabSize} tokens but config.json's vocab_size is ${folder.config.vocab_size}: not this model's tokenizer`,
    );
  const modelMax = tokConfig['model_max_length'];
  const limits = [
    folder.config.max_position_embeddings,
    typeof modelMax === 'number' && modelMax < 1e6 ? modelMax : undefined,
    512,
  ].filter((x): x is number => x !== undefined);
  const maxLength = options.maxLength ?? Math.min(...limits);
  const pad = padTokenId(tokJson, loaded.tokenizer, folder.config);
  const pair = task === 'zero-shot-classification' || task === 'question-answering';
  const row = pair
    ? assemble(loaded, encodeWithOffsets(loaded, CHECK_PAIR), encodeWithOffsets(loaded, CHECK_TEXT))
    : assemble(loaded, encodeWithOffsets(loaded, CHECK_TEXT));
  const outputs = await run(int64Feeds(row, inputNames));
  const files = [
    'tokenizer.json',
    ...(hasTokConfig ? ['tokenizer_config.json'] : []),
    ...(folder.has('config.json') ? ['config.json'] : []),
  ];
  const tokenizerPre = {
    tokenizer_file: 'tokenizer.json',
    ...(hasTokConfig ? { tokenizer_config_file: 'tokenizer_config.json' } : {}),
    max_length: maxLength,
    pad_token_id: pad,
  };
  const edge_limits = { max_tokens: 4096, max_batch: 64 };

  if (task === 'feature-extraction') {
    const first = Object.values(outputs)[0];
    if (first === undefined || first.type !== 'float32' || !(first.dims.length === 3 || first.dims.length === 2))
      throw new Error(
        `model.onnx: feature-extraction models answer float32 [batch, seq, hidden] (got ${first?.type ?? 'nothing'} [${first?.dims.join(', ') ?? ''}])`,
      );
    return {
      preprocess: FeatureExtractionConfigSchema.parse({
        ...tokenizerPre,
        pooling: sentenceTransformersPooling(folder),
      }),
      postprocess: {},
      files,
      edge_limits,
    };
  }
  const preprocess = HfTokenizerConfigSchema.parse({ kind: 'hf-tokenizer', ...tokenizerPre });
  if (task === 'question-answering') {
    const start = expectOutput(outputs, 'start_logits', 2, task);
    const end = expectOutput(outputs, 'end_logits', 2, task);
    if (start[1] !== row.ids.length || end[1] !== row.ids.length)
      throw new Error('model.onnx: start_logits and end_logits must have one score per token');
    return { preprocess, postprocess: {}, files, edge_limits };
  }
  const labels = labelsOf(folder.config);
  if (labels === undefined) throw new Error(`config.json: ${task} models need id2label`);
  const entailment = entailmentId(folder.config);
  if (task === 'zero-shot-classification' && entailment === undefined)
    throw new Error('config.json: zero-shot-classification needs an NLI model whose label2id names "entailment"');
  const logits = expectOutput(outputs, 'logits', task === 'token-classification' ? 3 : 2, task);
  const width = logits[logits.length - 1];
  if (width !== labels.length)
    throw new Error(`config.json: id2label has ${labels.length} labels but model.onnx's logits have ${width} columns`);
  if (task === 'zero-shot-classification' && entailment !== undefined) {
    // Hugging Face's rule: contradiction is label 0, unless entailment is (then the last).
    const contradiction = entailment === 0 ? labels.length - 1 : 0;
    return {
      preprocess,
      postprocess: { entailment_id: entailment, contradiction_id: contradiction },
      labels,
      files,
      edge_limits,
    };
  }
  const multiLabel = folder.config.problem_type === 'multi_label_classification';
  return {
    preprocess,
    postprocess: task === 'text-classification' ? { function: multiLabel ? 'sigmoid' : 'softmax' } : {},
    labels,
    files,
    edge_limits,
  };
}

/** sentence-transformers' pooling (`modules.json` → the Pooling module's `config.json`): cls or mean. */
function sentenceTransformersPooling(folder: HfFolder): 'cls' | 'mean' {
  if (!folder.has('modules.json')) return 'mean';
  const raw: unknown = JSON.parse(readFileSync(join(folder.dir, 'modules.json'), 'utf8'));
  const modules = z.array(z.object({ type: z.string(), path: z.string() })).safeParse(raw);
  if (!modules.success) throw new Error('modules.json must list modules with type and path');
  const pooling = modules.data.find((m) => m.type.endsWith('.Pooling'));
  if (pooling === undefined) return 'mean';
  const name = join(pooling.path, 'config.json');
  const cfg = folder.json(name);
  if (cfg['pooling_mode_cls_token'] === true) return 'cls';
  if (cfg['pooling_mode_mean_tokens'] === true) return 'mean';
  throw new Error(
    `${name}: only CLS and mean pooling are served (set pooling_mode_cls_token or pooling_mode_mean_tokens)`,
  );
}
