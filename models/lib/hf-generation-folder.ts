/**
 * @module Decoder-only Hugging Face folders (GPT-2- and Llama-style `…LMHeadModel` / `…ForCausalLM` exports) for
 * `publish` and the recipes that write one: reads the cache layout from `config.json` (n_layer/n_head/n_embd, or
 * num_hidden_layers/num_key_value_heads/head_dim), EOS and sampling defaults from `generation_config.json`, BOS and
 * the chat template from `tokenizer_config.json`, checks them against the graph's inputs (and, given a run, one
 * prefill's output shapes), and returns the text-generation manifest parts. Every refusal names the file at fault.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest, TensorSpec } from '../../src/lib/manifest.js';
import { prepareTokenizer } from '../../src/tasks/text/hf-tokenizer.js';
import {
  DecoderConfigSchema,
  emptyBatch,
  stepFeeds,
  type DecoderConfig,
  type KvBatch,
} from '../../src/tasks/generation/kv-cache.js';
import type { Feeds, TensorData } from '../../src/tasks/tensor.js';
import { readJsonObject } from './json-file.js';

/**
 * The edge's CPU per generation request: a Worker isolate runs one request's JavaScript at a time, so a long decode
 * loop delays every other request on it. Tokens beyond what fits at the measured onnxruntime-web step time (workerd ran
 * about 1.3× that in `npm run bench -- generation`) go to the origin.
 */
export const EDGE_CPU_BUDGET_MS = 50;
/**
 * Of an isolate's 128 MB, what one decoder may hold: its bytes twice (the fetched file and the session's weights in
 * the WASM heap) and one sequence's KV cache four times over (past in, present out, each in JS and in the heap).
 */
export const EDGE_MEMORY_BUDGET_BYTES = 64 * 1024 * 1024;

/**
 * `edge_limits` from a decoder's measured step time and its size: `max_tokens` (prompt + new tokens, summed over a
 * task-API request's prompts, which decode one after another at the edge) is what both budgets allow;
 * `max_model_bytes` keeps a decoder too big for the memory budget off the edge altogether (a hard limit).
 */
export function decoderEdgeLimits(config: DecoderConfig, modelBytes: number, stepMs: number): Manifest['edge_limits'] {
  const kvBytesPerToken = config.layers * 2 * config.kv_heads * config.head_dim * 4;
  const memoryTokens = Math.floor((EDGE_MEMORY_BUDGET_BYTES - 2 * modelBytes) / (4 * kvBytesPerToken));
  const cpuTokens = Math.floor(EDGE_CPU_BUDGET_MS / Math.max(stepMs, 1e-3));
  return {
    max_model_bytes: Math.floor(EDGE_MEMORY_BUDGET_BYTES / 2),
    max_tokens: Math.max(1, Math.min(cpuTokens, memoryTokens)),
  };
}

/** One decode step after `past` cached tokens, batch 1 (the shape generation runs most): for step-time figures. */
export function decodeStepFeeds(config: DecoderConfig, past = Math.min(64, config.context_length - 1)): Feeds {
  const kv = Float32Array.from({ length: config.kv_heads * past * config.head_dim }, (_, j) => Math.sin(j) * 0.1);
  const cached: KvBatch = {
    rows: 1,
    length: past,
    tensors: Array.from({ length: config.layers * 2 }, () => kv),
    masks: [new Uint8Array(past).fill(1)],
    positions: [past],
  };
  return stepFeeds(config, cached, [[1]]);
}

/** Files a text-generation manifest ships beside model.onnx, when the folder has them. */
const COMPANIONS = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'config.json',
  'generation_config.json',
];

export interface GenerationParts {
  preprocess: Record<string, unknown>;
  postprocess: DecoderConfig;
  /** Companion files present in the folder. */
  files: string[];
  /** The graph's I/O in the convention, for builds that write a manifest without loading the graph. */
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** A run of the graph for the publish checks: outputs' dims by name. */
export type DecoderCheckRun = (
  feeds: Record<string, TensorData>,
) => Promise<Record<string, { dims: readonly number[] }>>;

const int = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
const ids = (v: unknown): number[] => (Array.isArray(v) ? v : [v]).map(int).filter((x): x is number => x !== undefined);

/** The cache layout config.json states: GPT-2's names, else Llama's (Mistral, Qwen2, Phi-3 and others use them). */
function layout(config: Record<string, unknown>): {
  layers: number;
  kvHeads: number;
  headDim: number;
  context: number;
} {
  const layers = int(config['n_layer']) ?? int(config['num_hidden_layers']);
  const heads = int(config['n_head']) ?? int(config['num_attention_heads']);
  const hidden = int(config['n_embd']) ?? int(config['hidden_size']);
  const kvHeads = int(config['num_key_value_heads']) ?? heads;
  const headDim = int(config['head_dim']) ?? (hidden !== undefined && heads ? hidden / heads : undefined);
  const context = int(config['n_positions']) ?? int(config['max_position_embeddings']) ?? int(config['n_ctx']);
  if (layers === undefined || kvHeads === undefined || headDim === undefined || !Number.isInteger(headDim))
    throw new Error(
      'config.json: a decoder needs n_layer/n_head/n_embd (GPT-2) or num_hidden_layers/num_attention_heads/hidden_size',
    );
  if (context === undefined) throw new Error('config.json: no n_positions or max_position_embeddings (context length)');
  return { layers, kvHeads, headDim, context };
}

function chatTemplate(tokenizerConfig: Record<string, unknown>): string | undefined {
  const t = tokenizerConfig['chat_template'];
  if (typeof t === 'string') return t;
  // Newer exports list named templates; the default one serves chat.
  if (Array.isArray(t)) {
    const named = t.find(
      (x): x is { name: string; template: string } =>
        x !== null && typeof x === 'object' && (x as { name?: unknown }).name === 'default',
    );
    return typeof named?.template === 'string' ? named.template : undefined;
  }
  return undefined;
}

/** The symbolic I/O of the convention (publish reads the real I/O from the session instead). */
function conventionIo(layers: number): { inputs: TensorSpec[]; outputs: TensorSpec[] } {
  const past = ['batch_size', 'num_heads', 'past_sequence_length', 'head_dim'];
  const present = ['batch_size', 'num_heads', 'total_sequence_length', 'head_dim'];
  const inputs: TensorSpec[] = [
    { name: 'input_ids', dtype: 'int64', shape: ['batch_size', 'sequence_length'] },
    { name: 'attention_mask', dtype: 'int64', shape: ['batch_size', 'total_sequence_length'] },
    { name: 'position_ids', dtype: 'int64', shape: ['batch_size', 'sequence_length'] },
  ];
  const outputs: TensorSpec[] = [
    { name: 'logits', dtype: 'float32', shape: ['batch_size', 'sequence_length', 'vocab_size'] },
  ];
  for (let l = 0; l < layers; l++) {
    for (const part of ['key', 'value']) {
      inputs.push({ name: `past_key_values.${l}.${part}`, dtype: 'float32', shape: past });
      outputs.push({ name: `present.${l}.${part}`, dtype: 'float32', shape: present });
    }
  }
  return { inputs, outputs };
}

/**
 * Reads a decoder folder. `inputNames` are the graph's (publish passes the session's; a recipe passes none and gets
 * the convention's); `run`, when given, checks one prefill's logits and present shapes.
 */
export async function generationParts(
  dir: string,
  inputNames?: readonly string[],
  run?: DecoderCheckRun,
): Promise<GenerationParts> {
  const config = readJsonObject(dir, 'config.json');
  const generation = readJsonObject(dir, 'generation_config.json', { optional: true });
  const tokenizerJson = readJsonObject(dir, 'tokenizer.json');
  const tokenizerConfig = readJsonObject(dir, 'tokenizer_config.json', { optional: true });
  const { layers, kvHeads, headDim, context } = layout(config);
  const vocab = int(config['vocab_size']);
  if (vocab === undefined) throw new Error('config.json: vocab_size is missing');
  const tokenizer = prepareTokenizer(tokenizerJson, tokenizerConfig);
  const size = tokenizer.tokenizer.get_vocab(true).size;
  if (size > vocab) throw new Error(`tokenizer.json holds ${size} tokens, more than config.json's vocab_size ${vocab}`);

  const io = conventionIo(layers);
  const names = inputNames ?? io.inputs.map((i) => i.name);
  for (const required of ['input_ids', 'attention_mask', 'past_key_values.0.key', 'past_key_values.0.value'])
    if (!names.includes(required))
      throw new Error(
        `model.onnx has no ${required} input: export the decoder with its KV cache (Optimum's "-with-past")`,
      );
  const lastLayer = `past_key_values.${layers - 1}.key`;
  if (!names.includes(lastLayer) || names.includes(`past_key_values.${layers}.key`))
    throw new Error(`config.json says ${layers} layers; model.onnx's past_key_values inputs disagree`);

  const eos = ids(generation['eos_token_id'] ?? config['eos_token_id']);
  const bosId = int(generation['bos_token_id']) ?? int(config['bos_token_id']);
  // BOS is prepended by the service only when the tokenizer wants it and its own post-processor does not add it.
  const probe = tokenizer.tokenizer.encode('a', { add_special_tokens: true }).ids;
  const addBos = tokenizerConfig['add_bos_token'] === true && bosId !== undefined && probe[0] !== bosId;
  const maxNew = int(generation['max_new_tokens']);
  const defaults: DecoderConfig['defaults'] = {};
  if (typeof generation['do_sample'] === 'boolean') defaults.do_sample = generation['do_sample'];
  for (const key of ['temperature', 'top_p', 'repetition_penalty'] as const) {
    const v = generation[key];
    if (typeof v === 'number' && v > 0) defaults[key] = v;
  }
  const topK = int(generation['top_k']);
  if (topK !== undefined) defaults.top_k = topK;
  const template = chatTemplate(tokenizerConfig);
  const postprocess = DecoderConfigSchema.parse({
    kind: 'decoder',
    layers,
    kv_heads: kvHeads,
    head_dim: headDim,
    vocab_size: vocab,
    context_length: context,
    position_ids: names.includes('position_ids'),
    use_cache_branch: names.includes('use_cache_branch'),
    eos_token_ids: eos,
    ...(bosId === undefined ? {} : { bos_token_id: bosId }),
    add_bos_token: addBos,
    default_max_tokens: Math.min(maxNew ?? 256, Math.max(1, Math.floor(context / 2))),
    ...(template === undefined ? {} : { chat_template: template }),
    defaults,
  });
  if (run !== undefined) await checkPrefill(postprocess, run);
  const files = COMPANIONS.filter((f) => existsSync(join(dir, f)));
  return {
    preprocess: {
      kind: 'hf-tokenizer',
      tokenizer_file: 'tokenizer.json',
      ...(files.includes('tokenizer_config.json') ? { tokenizer_config_file: 'tokenizer_config.json' } : {}),
      max_length: context,
      pad_token_id: eos[0] ?? 0,
    },
    postprocess,
    files,
    inputs: io.inputs.filter((i) => names.includes(i.name)),
    outputs: io.outputs,
  };
}

/** One prefill of three tokens with an empty cache: logits [1, 3, vocab] and each present [1, kv_heads, 3, head_dim]. */
async function checkPrefill(config: DecoderConfig, run: DecoderCheckRun): Promise<void> {
  const feeds = stepFeeds(config, emptyBatch(config), [[0, 1, 2].map((i) => i % config.vocab_size)]);
  const out = await run(feeds);
  const logits = out['logits']?.dims;
  if (logits === undefined || logits.join() !== `1,3,${config.vocab_size}`)
    throw new Error(
      `model.onnx: logits are [${logits?.join(', ') ?? 'missing'}] for 3 tokens; config.json's vocab_size is ${config.vocab_size}`,
    );
  for (let l = 0; l < config.layers; l++) {
    const dims = out[`present.${l}.key`]?.dims;
    if (dims === undefined || dims.join() !== `1,${config.kv_heads},3,${config.head_dim}`)
      throw new Error(
        `model.onnx: present.${l}.key is [${dims?.join(', ') ?? 'missing'}]; config.json implies ` +
          `[1, ${config.kv_heads}, 3, ${config.head_dim}]`,
      );
  }
}
