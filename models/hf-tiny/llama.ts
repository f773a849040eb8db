/**
 * @module A tiny Llama (2 layers, 4 query heads sharing 2 key/value heads, width 32, seeded random weights) in the
 * folder Optimum writes for a merged decoder: `decoder_model_merged.onnx` with the KV-cache inputs and outputs plus
 * `use_cache_branch`, `config.json`, `generation_config.json` and Llama-2 / TinyLlama's tokenizer files (a real
 * SentencePiece-style BPE with byte fallback, learned in models/hf-tiny/bpe.ts, and a chat template).
 *
 * `use_cache_branch` is honest: an ONNX `If` picks the past each layer attends over — the fed past (true) or an empty
 * one cut from it (false), so with false whatever past was fed is ignored, as in Optimum's merged graphs, whose two
 * branches are the with-past and without-past decoders. transformers.js feeds the flag itself when the input exists
 * (false on the prefill, with zero-length past tensors; true after).
 *
 * Not a `recipe.ts` that `models:build` serves: random weights answer nothing useful.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attr, encode, graph, model, node, tensor, valueInfo, type INodeProto } from '../lib/onnx-builder.js';
import { mulberry32 } from '../lib/train.js';
import {
  LLAMA_BOS,
  LLAMA_EOS,
  LLAMA_UNK,
  llamaTokenizerFiles,
  llamaVocabulary,
  writeTextFiles,
  type LlamaTokenizerForm,
} from './bpe.js';
import {
  attend,
  attentionAllowed,
  decoderIo,
  DIM,
  GraphBuilder,
  mergeHeads,
  RARE_SCALE,
  splitHeads,
  writeJson,
} from './gpt2.js';

export const LLAMA_LAYERS = 2;
export const LLAMA_HEADS = 4;
export const LLAMA_KV_HEADS = 2;
export const LLAMA_HEAD_DIM = 8;
export const LLAMA_WIDTH = LLAMA_HEADS * LLAMA_HEAD_DIM;
export const LLAMA_INTERMEDIATE = 64;
export const LLAMA_POSITIONS = 128;
export const LLAMA_ROPE_THETA = 10_000;
const LLAMA_RMS_EPS = 1e-6;
const LLAMA_SEED = 20_260_202;
/** The file name Optimum gives a merged decoder; transformers.js loads it with `model_file_name`. */
export const LLAMA_MODEL_FILE = 'decoder_model_merged';

/** RMSNorm as Hugging Face's LlamaRMSNorm: x / √(mean(x²) + ε) · weight. */
function rmsNorm(g: GraphBuilder, x: string, prefix: string): string {
  const meanSquare = g.op('ReduceMean', [g.op('Mul', [x, x], `${prefix}.square`)], `${prefix}.mean_square`, {
    axes: attr.ints([-1]),
    keepdims: attr.int(1),
  });
  const rms = g.op('Sqrt', [g.op('Add', [meanSquare, g.f32(LLAMA_RMS_EPS)], `${prefix}.plus_eps`)], `${prefix}.rms`);
  const normed = g.op('Div', [x, rms], `${prefix}.normed`);
  return g.op('Mul', [normed, g.fill(`${prefix}.weight`, [LLAMA_WIDTH], 1)], prefix);
}

/** Hugging Face's rotate_half on the last axis: (x1, x2) → (−x2, x1). */
function rotateHalf(g: GraphBuilder, x: string, prefix: string): string {
  const half = LLAMA_HEAD_DIM / 2;
  const axis = g.i64([3]);
  const x1 = g.op('Slice', [x, g.i64([0]), g.i64([half]), axis], `${prefix}.x1`);
  const x2 = g.op('Slice', [x, g.i64([half]), g.i64([LLAMA_HEAD_DIM]), axis], `${prefix}.x2`);
  return g.op('Concat', [g.op('Neg', [x2], `${prefix}.neg_x2`), x1], `${prefix}.rotated`, { axis: attr.int(3) });
}

/** x·cos + rotate_half(x)·sin, with cos/sin [b, 1, s, d] broadcast over heads. */
function applyRope(g: GraphBuilder, x: string, cos: string, sin: string, prefix: string): string {
  return g.op(
    'Add',
    [g.op('Mul', [x, cos], `${prefix}.cos_part`), g.op('Mul', [rotateHalf(g, x, prefix), sin], `${prefix}.sin_part`)],
    prefix,
  );
}

/** Grouped-query attention's repeat_kv: [b, kv, t, d] → [b, kv·groups, t, d], query head h reading kv head h / groups. */
function repeatKv(g: GraphBuilder, x: string, prefix: string): string {
  const groups = LLAMA_HEADS / LLAMA_KV_HEADS;
  const expanded = g.op(
    'Expand',
    [g.op('Unsqueeze', [x, g.i64([2])], `${prefix}.unsqueezed`), g.i64([1, 1, groups, 1, 1])],
    `${prefix}.expanded`,
  );
  return g.op('Reshape', [expanded, g.i64([0, LLAMA_HEADS, -1, LLAMA_HEAD_DIM])], prefix);
}

/**
 * The `If` on `use_cache_branch`: one output per past tensor, the fed past (then) or an empty slice of it (else),
 * named `cache.{i}.key|value`.
 */
function cacheBranch(g: GraphBuilder): void {
  const names: string[] = [];
  for (let i = 0; i < LLAMA_LAYERS; i++) for (const kind of ['key', 'value']) names.push(`${i}.${kind}`);
  const pastShape = [DIM.batch, LLAMA_KV_HEADS, DIM.past, LLAMA_HEAD_DIM];
  const thenNodes: INodeProto[] = names.map((n) => node('Identity', [`past_key_values.${n}`], [`then.past.${n}`]));
  // Outer-scope constants (initializers of the main graph) are visible inside the branches.
  const [zero, axis] = [g.i64([0]), g.i64([2])];
  const elseNodes: INodeProto[] = names.map((n) =>
    node('Slice', [`past_key_values.${n}`, zero, zero, axis], [`else.past.${n}`]),
  );
  const thenBranch = graph({
    name: 'use_cache_branch_true',
    nodes: thenNodes,
    inputs: [],
    outputs: names.map((n) => valueInfo(`then.past.${n}`, 'float32', pastShape)),
  });
  const elseBranch = graph({
    name: 'use_cache_branch_false',
    nodes: elseNodes,
    inputs: [],
    outputs: names.map((n) => valueInfo(`else.past.${n}`, 'float32', [DIM.batch, LLAMA_KV_HEADS, 0, LLAMA_HEAD_DIM])),
  });
  g.nodes.push(
    node(
      'If',
      ['use_cache_branch'],
      names.map((n) => `cache.${n}`),
      { then_branch: attr.graph(thenBranch), else_branch: attr.graph(elseBranch) },
      { name: 'use_cache_branch.if' },
    ),
  );
}

/**
 * The Llama graph: token embeddings, per layer RMSNorm → GQA attention with rotary position embeddings from
 * `position_ids` (keys cached after rotation, as Hugging Face caches them) → residual → RMSNorm → SwiGLU MLP →
 * residual; final RMSNorm and an untied lm_head. Scales are far above Llama's 0.02 init so greedy argmax has clear
 * margins between runtimes.
 */
export function tinyLlamaOnnx(vocabSize: number, rareTokenIds: ReadonlySet<number> = new Set()): Uint8Array {
  const g = new GraphBuilder(mulberry32(LLAMA_SEED));
  const E = LLAMA_WIDTH;
  const kvWidth = LLAMA_KV_HEADS * LLAMA_HEAD_DIM;
  cacheBranch(g);
  const embed = g.weight('model.embed_tokens.weight', [vocabSize, E], 1);
  let x = g.op('Gather', [embed, 'input_ids'], 'model.embed', { axis: attr.int(0) });

  // Rotary tables, shared by the layers: angle[b, s, j] = position · θ^(−2j/d), duplicated over both halves.
  const half = LLAMA_HEAD_DIM / 2;
  const invFreq = Float32Array.from({ length: half }, (_, j) => 1 / LLAMA_ROPE_THETA ** ((2 * j) / LLAMA_HEAD_DIM));
  g.inits.push(tensor('rope.inv_freq', invFreq, [half]));
  const positions = g.op(
    'Unsqueeze',
    [g.op('Cast', ['position_ids'], 'rope.positions_f', { to: attr.int(1) }), g.i64([2])],
    'rope.positions',
  );
  const freqs = g.op('Mul', [positions, 'rope.inv_freq'], 'rope.freqs');
  const angles = g.op('Concat', [freqs, freqs], 'rope.angles', { axis: attr.int(-1) });
  const heads = g.i64([1]);
  const cos = g.op('Unsqueeze', [g.op('Cos', [angles], 'rope.cos_bsd'), heads], 'rope.cos');
  const sin = g.op('Unsqueeze', [g.op('Sin', [angles], 'rope.sin_bsd'), heads], 'rope.sin');

  let allowed: string | undefined;
  for (let i = 0; i < LLAMA_LAYERS; i++) {
    const p = `model.layers.${i}`;
    const h = rmsNorm(g, x, `${p}.input_layernorm`);
    const q = splitHeads(g, g.linear(h, `${p}.self_attn.q_proj`, E, E, 1.5), LLAMA_HEADS, LLAMA_HEAD_DIM, `${p}.q`);
    const k = splitHeads(
      g,
      g.linear(h, `${p}.self_attn.k_proj`, E, kvWidth, 1.5),
      LLAMA_KV_HEADS,
      LLAMA_HEAD_DIM,
      `${p}.k`,
    );
    const v = splitHeads(
      g,
      g.linear(h, `${p}.self_attn.v_proj`, E, kvWidth, 1),
      LLAMA_KV_HEADS,
      LLAMA_HEAD_DIM,
      `${p}.v`,
    );
    const qRot = applyRope(g, q, cos, sin, `${p}.q_rope`);
    const kRot = applyRope(g, k, cos, sin, `${p}.k_rope`);
    const presentK = g.op('Concat', [`cache.${i}.key`, kRot], `present.${i}.key`, { axis: attr.int(2) });
    const presentV = g.op('Concat', [`cache.${i}.value`, v], `present.${i}.value`, { axis: attr.int(2) });
    allowed ??= attentionAllowed(g, presentK);
    const ctx = attend(
      g,
      `${p}.self_attn`,
      qRot,
      repeatKv(g, presentK, `${p}.k_repeated`),
      repeatKv(g, presentV, `${p}.v_repeated`),
      allowed,
      LLAMA_HEAD_DIM,
    );
    const attnOut = g.linear(mergeHeads(g, ctx, E, `${p}.self_attn.merged`), `${p}.self_attn.o_proj`, E, E, 1);
    x = g.op('Add', [x, attnOut], `${p}.attn_residual`);
    const m = rmsNorm(g, x, `${p}.post_attention_layernorm`);
    const gate = g.linear(m, `${p}.mlp.gate_proj`, E, LLAMA_INTERMEDIATE, 1.5);
    const up = g.linear(m, `${p}.mlp.up_proj`, E, LLAMA_INTERMEDIATE, 1.5);
    const silu = g.op('Mul', [gate, g.op('Sigmoid', [gate], `${p}.mlp.sigmoid`)], `${p}.mlp.silu`);
    const down = g.linear(g.op('Mul', [silu, up], `${p}.mlp.gated`), `${p}.mlp.down_proj`, LLAMA_INTERMEDIATE, E, 1);
    x = g.op('Add', [x, down], `${p}.mlp_residual`);
  }
  const final = rmsNorm(g, x, 'model.norm');
  // lm_head [E, vocab]: column j scores token j; rare tokens' columns are scaled down (see llamaRareTokens).
  const head = g.weight('lm_head.weight', [E, vocabSize], 10 / Math.sqrt(E), (i) =>
    rareTokenIds.has(i % vocabSize) ? RARE_SCALE : 1,
  );
  g.op('MatMul', [final, head], 'logits');
  const io = decoderIo(LLAMA_LAYERS, LLAMA_KV_HEADS, LLAMA_HEAD_DIM, vocabSize);
  return encode(
    model({
      docString:
        'tiny-llama: a Llama-shaped merged decoder (GQA, RoPE, SwiGLU, use_cache_branch) with seeded random weights (not trained).',
      graph: graph({
        name: 'tiny_llama',
        nodes: g.nodes,
        initializers: g.inits,
        inputs: [...io.inputs, valueInfo('use_cache_branch', 'bool', [1])],
        outputs: io.outputs,
      }),
    }),
  );
}

/**
 * Ids of `<unk>`, `<s>`, `</s>` and the 256 byte-fallback tokens, whose lm_head columns are scaled down so greedy
 * output is mostly text pieces (as in a trained model, where these are rare outputs).
 */
export function llamaRareTokens(tokens: readonly string[]): Set<number> {
  const rare = new Set<number>();
  tokens.forEach((t, id) => {
    if (t === LLAMA_UNK || t === LLAMA_BOS || t === LLAMA_EOS || /^<0x[0-9A-F]{2}>$/.test(t)) rare.add(id);
  });
  return rare;
}

/**
 * Writes the whole folder into dir (created) and returns dir. `decoder_model_merged.onnx` follows the decoder
 * convention with `past_key_values.{i}.key|value` / `present.{i}.key|value` of [batch, 2, ·, 8] (grouped-query
 * attention: 2 key/value heads for 4 query heads) and the extra input `use_cache_branch` bool [1]. The tokenizer is
 * TinyLlama's legacy form unless `options.tokenizer` asks for the Metaspace one (see LlamaTokenizerForm).
 */
export function writeTinyLlamaFolder(dir: string, options: { tokenizer?: LlamaTokenizerForm } = {}): string {
  mkdirSync(dir, { recursive: true });
  const vocab = llamaVocabulary();
  const bosId = vocab.tokens.indexOf(LLAMA_BOS);
  const eosId = vocab.tokens.indexOf(LLAMA_EOS);
  writeFileSync(
    join(dir, `${LLAMA_MODEL_FILE}.onnx`),
    tinyLlamaOnnx(vocab.tokens.length, llamaRareTokens(vocab.tokens)),
  );
  writeTextFiles(dir, llamaTokenizerFiles(vocab, LLAMA_POSITIONS, options.tokenizer ?? 'legacy'));
  writeJson(dir, 'config.json', {
    _name_or_path: 'tiny-llama',
    architectures: ['LlamaForCausalLM'],
    attention_bias: false,
    attention_dropout: 0,
    bos_token_id: bosId,
    eos_token_id: eosId,
    head_dim: LLAMA_HEAD_DIM,
    hidden_act: 'silu',
    hidden_size: LLAMA_WIDTH,
    initializer_range: 0.02,
    intermediate_size: LLAMA_INTERMEDIATE,
    max_position_embeddings: LLAMA_POSITIONS,
    mlp_bias: false,
    model_type: 'llama',
    num_attention_heads: LLAMA_HEADS,
    num_hidden_layers: LLAMA_LAYERS,
    num_key_value_heads: LLAMA_KV_HEADS,
    pretraining_tp: 1,
    rms_norm_eps: LLAMA_RMS_EPS,
    rope_scaling: null,
    rope_theta: LLAMA_ROPE_THETA,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
    transformers_version: '4.46.0',
    use_cache: true,
    vocab_size: vocab.tokens.length,
  });
  writeJson(dir, 'generation_config.json', {
    _from_model_config: true,
    bos_token_id: bosId,
    eos_token_id: eosId,
    transformers_version: '4.46.0',
  });
  return dir;
}
