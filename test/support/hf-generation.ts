/**
 * @module Tiny decoder folders for the text-generation task and their oracle: a GPT-2 (`model.onnx`) and a Llama
 * (`decoder_model_merged.onnx` with `use_cache_branch`) from models/hf-tiny, written in Optimum's layout, and what
 * transformers.js's `text-generation` pipeline answers on them, offline and greedy: per prompt the prompt's token ids
 * (the tokenizer's own encode as the pipeline calls it, `<s>` first for Llama), the generated token ids and the
 * generated text. The service's greedy output on the same folders must equal these ids.
 *
 * transformers.js reads the folders as Optimum writes them (`subfolder: ''`: the graph beside config.json, no `onnx/`
 * copy). Runs in Node (the lead wires it into the global setup).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyGpt2Folder } from '../../models/hf-tiny/gpt2.js';
import { LLAMA_MODEL_FILE, writeTinyLlamaFolder } from '../../models/hf-tiny/llama.js';
import { HF_GENERATION_CHAT, HF_GENERATION_PROMPTS, type ChatMessage } from './hf-generation-inputs.js';

export { HF_GENERATION_CHAT, HF_GENERATION_PROMPTS, type ChatMessage };

export const HF_GENERATION_VERSION = '1.0.0';

/** New tokens per prompt (greedy stops earlier only at the end-of-sequence token). */
export const HF_GENERATION_MAX_NEW_TOKENS = 16;

/** The folders: id → writer and the graph's file name without `.onnx` (transformers.js's `model_file_name`). */
export const HF_GENERATION_MODELS = {
  'tiny-gpt2': { write: writeTinyGpt2Folder, modelFile: 'model' },
  'tiny-llama': { write: writeTinyLlamaFolder, modelFile: LLAMA_MODEL_FILE },
} as const satisfies Record<string, { write: (dir: string) => string; modelFile: string }>;

export type HfGenerationModelId = keyof typeof HF_GENERATION_MODELS;

/** One greedy generation, as the pipeline ran it. */
export interface GenerationCaseRef {
  /** The text given to the tokenizer (for a chat: the rendered template). */
  prompt: string;
  /** The prompt's token ids as the pipeline encodes them (Llama: `<s>` first; GPT-2: none added). */
  promptIds: number[];
  /** The new tokens only, in order; the end-of-sequence id is the last one when greedy produced it. */
  generatedIds: number[];
  /** The pipeline's `generated_text` with `return_full_text: false` (special tokens skipped). */
  generatedText: string;
  /** The pipeline's `generated_text` by default (`return_full_text: true`); for a chat, prompt + reply decoded. */
  fullText: string;
}

export interface HfGenerationModelRef {
  id: HfGenerationModelId;
  /** Graph file name without `.onnx`. */
  modelFile: string;
  bosTokenId: number;
  eosTokenId: number;
  /** Whether the pipeline's encode adds special tokens (tokenizer_config's add_bos_token || add_eos_token). */
  addSpecialTokens: boolean;
  /** One per HF_GENERATION_PROMPTS entry, in order. */
  cases: GenerationCaseRef[];
  /** HF_GENERATION_CHAT through the chat template (Llama only): fullText is the assistant's reply's text. */
  chat?: GenerationCaseRef & { messages: ChatMessage[] };
}

export interface HfGenerationReferences {
  version: string;
  maxNewTokens: number;
  models: HfGenerationModelRef[];
}

// The slice of transformers.js's API used here (its types are JSDoc-generated and loose).
interface TjsTensor {
  dims: number[];
  tolist(): unknown;
}
interface TjsTokenizer {
  (text: string, options: { add_special_tokens: boolean }): Record<string, TjsTensor>;
  decode(ids: number[], options: { skip_special_tokens: boolean }): string;
  apply_chat_template(messages: ChatMessage[], options: { tokenize: false; add_generation_prompt: true }): string;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  bos_token_id?: number;
  eos_token_id?: number;
}
interface TjsGenerator {
  (input: string | ChatMessage[], options: Record<string, unknown>): Promise<unknown>;
  tokenizer: TjsTokenizer;
  model: { generate(inputs: Record<string, unknown>): Promise<TjsTensor> };
}

const GREEDY = { max_new_tokens: HF_GENERATION_MAX_NEW_TOKENS, do_sample: false } as const;

function firstRow(t: TjsTensor): number[] {
  const rows = t.tolist() as (number | bigint)[][];
  return (rows[0] ?? []).map(Number);
}

function generatedText(out: unknown): string | ChatMessage[] {
  const first = (out as { generated_text: string | ChatMessage[] }[])[0];
  if (first === undefined) throw new Error('text-generation pipeline returned nothing');
  return first.generated_text;
}

/** Runs one prompt (text, or a chat rendered by the template) the way the pipeline does, and checks they agree. */
async function runCase(
  pipe: TjsGenerator,
  addSpecialTokens: boolean,
  input: string | ChatMessage[],
): Promise<GenerationCaseRef> {
  const isChat = typeof input !== 'string';
  const prompt = isChat
    ? pipe.tokenizer.apply_chat_template(input, { tokenize: false, add_generation_prompt: true })
    : input;
  // The pipeline's own encode: chat templates carry their special tokens, so none are added to a chat.
  const encoded = pipe.tokenizer(prompt, { add_special_tokens: isChat ? false : addSpecialTokens });
  const inputIds = encoded['input_ids'];
  if (inputIds === undefined) throw new Error('tokenizer returned no input_ids');
  const promptIds = firstRow(inputIds);
  const sequence = firstRow(await pipe.model.generate({ ...encoded, ...GREEDY }));
  const generatedIds = sequence.slice(promptIds.length);

  let generated: string;
  let fullText: string;
  if (isChat) {
    const chat = generatedText(await pipe(input, GREEDY));
    const reply = Array.isArray(chat) ? chat.at(-1)?.content : undefined;
    if (reply === undefined) throw new Error('chat generation returned no assistant message');
    generated = reply;
    fullText = pipe.tokenizer.decode(sequence, { skip_special_tokens: true });
  } else {
    const full = generatedText(await pipe(input, GREEDY));
    const part = generatedText(await pipe(input, { ...GREEDY, return_full_text: false }));
    if (typeof full !== 'string' || typeof part !== 'string') throw new Error('text generation returned a chat');
    generated = part;
    fullText = full;
    // The ids must be the pipeline's: its text is the decode of prompt + generated ids.
    const decoded = pipe.tokenizer.decode(sequence, { skip_special_tokens: true });
    if (decoded !== full) throw new Error(`pipeline text ${JSON.stringify(full)} ≠ decode ${JSON.stringify(decoded)}`);
  }
  return { prompt, promptIds, generatedIds, generatedText: generated, fullText };
}

export async function computeHfGeneration(): Promise<HfGenerationReferences> {
  const root = mkdtempSync(join(tmpdir(), 'hf-generation-'));
  try {
    const t = await import('@huggingface/transformers');
    t.env.allowRemoteModels = false;
    t.env.localModelPath = `${root}/`;
    const models: HfGenerationModelRef[] = [];
    for (const [id, spec] of Object.entries(HF_GENERATION_MODELS) as [
      HfGenerationModelId,
      { write: (dir: string) => string; modelFile: string },
    ][]) {
      spec.write(join(root, id));
      const pipe = (await t.pipeline('text-generation', id, {
        dtype: 'fp32',
        subfolder: '',
        model_file_name: spec.modelFile,
      })) as unknown as TjsGenerator;
      // The pipeline's rule: add special tokens when the tokenizer config asks for BOS or EOS.
      const addSpecialTokens = (pipe.tokenizer.add_bos_token ?? false) || (pipe.tokenizer.add_eos_token ?? false);
      const cases: GenerationCaseRef[] = [];
      for (const prompt of HF_GENERATION_PROMPTS) cases.push(await runCase(pipe, addSpecialTokens, prompt));
      const ref: HfGenerationModelRef = {
        id,
        modelFile: spec.modelFile,
        bosTokenId: pipe.tokenizer.bos_token_id ?? -1,
        eosTokenId: pipe.tokenizer.eos_token_id ?? -1,
        addSpecialTokens,
        cases,
      };
      if (id === 'tiny-llama') {
        const messages = HF_GENERATION_CHAT.map((m) => ({ ...m }));
        ref.chat = { ...(await runCase(pipe, addSpecialTokens, messages)), messages };
      }
      models.push(ref);
    }
    return { version: HF_GENERATION_VERSION, maxNewTokens: HF_GENERATION_MAX_NEW_TOKENS, models };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A published tiny decoder: the manifest and files the publish CLI prepares (workerd seeds them into R2). */
export interface PublishedGeneration {
  id: HfGenerationModelId;
  version: string;
  dir: string;
  manifestText: string;
  /** File name → base64 of its bytes. */
  files: Record<string, string>;
}

/** Writes the tiny folders under `root` and prepares them with the CLI's own publish code (no --task). */
export async function publishHfGeneration(root: string): Promise<PublishedGeneration[]> {
  const { preparePublish } = await import('../../scripts/publish.js');
  const out: PublishedGeneration[] = [];
  for (const [id, spec] of Object.entries(HF_GENERATION_MODELS) as [
    HfGenerationModelId,
    { write: (dir: string) => string },
  ][]) {
    const dir = spec.write(join(root, id));
    const prepared = await preparePublish(dir, {
      id,
      version: HF_GENERATION_VERSION,
      placement: 'auto',
      log: () => undefined,
    });
    const files: Record<string, string> = {};
    for (const f of prepared.files) files[f.name] = Buffer.from(f.bytes).toString('base64');
    out.push({ id, version: HF_GENERATION_VERSION, dir, manifestText: prepared.manifestText, files });
  }
  return out;
}
