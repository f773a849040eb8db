/**
 * @module A tiny GPT-2 (2 layers, 4 heads, width 32, seeded random weights) in the folder `optimum-cli export onnx
 * --task text-generation-with-past` writes: `model.onnx` with Optimum's KV-cache inputs and outputs, `config.json`,
 * `generation_config.json` and GPT-2's tokenizer files (a real byte-level BPE learned in models/hf-tiny/bpe.ts). It
 * feeds the service's text-generation tests, with transformers.js's pipeline on the same folder as the oracle.
 *
 * The graph follows the convention in the header of {@link writeTinyGpt2Folder}; models/hf-tiny/llama.ts builds on the
 * helpers exported here (the builder, the attention mask, the attention core).
 *
 * Not a `recipe.ts` that `models:build` serves: random weights answer nothing useful.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  attr,
  encode,
  graph,
  model,
  node,
  tensor,
  valueInfo,
  type AttrValue,
  type INodeProto,
  type ITensorProto,
  type IValueInfoProto,
} from '../lib/onnx-builder.js';
import { mulberry32 } from '../lib/train.js';
import { bytesToUnicode, GPT2_EOS, gpt2TokenizerFiles, gpt2Vocabulary, writeTextFiles } from './bpe.js';

export const GPT2_LAYERS = 2;
export const GPT2_HEADS = 4;
export const GPT2_WIDTH = 32;
export const GPT2_HEAD_DIM = GPT2_WIDTH / GPT2_HEADS;
export const GPT2_POSITIONS = 128;
const GPT2_INNER = 4 * GPT2_WIDTH;
const GPT2_LN_EPS = 1e-5;
const GPT2_SEED = 20_260_101;
/**
 * Init scales. With tied embeddings a random GPT-2 keeps predicting the token it was just fed (its input embedding is
 * its output direction); attention and MLP outputs well above the embedding's size, sharper attention and larger
 * position embeddings make greedy output move on instead of repeating one token.
 */
const WPE_STD = 1;
const QK_GAIN = 2;
const OUT_GAIN = 4;
/** Rare tokens' embedding scale (see gpt2RareTokens). */
export const RARE_SCALE = 0.25;

/** Symbolic dimension names, as Optimum writes them for decoders with past. */
export const DIM = {
  batch: 'batch_size',
  sequence: 'sequence_length',
  past: 'past_sequence_length',
  total: 'past_sequence_length + sequence_length',
} as const;

/** Appends nodes and initializers; every weight comes from one seeded stream, so the bytes are stable. */
export class GraphBuilder {
  readonly nodes: INodeProto[] = [];
  readonly inits: ITensorProto[] = [];
  private readonly constants = new Map<string, string>();

  constructor(private readonly rand: () => number) {}

  /** One node with one output named `out` (also the node's name); returns `out`. */
  op(type: string, inputs: readonly string[], out: string, attrs: Readonly<Record<string, AttrValue>> = {}): string {
    this.nodes.push(node(type, inputs, [out], attrs, { name: out }));
    return out;
  }

  /**
   * A float initializer of roughly normal values with standard deviation `std` (a sum of three uniforms, rescaled:
   * bounded, so no outlier weight decides an argmax alone).
   */
  weight(name: string, dims: readonly number[], std: number, scaleAt?: (flatIndex: number) => number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = Float32Array.from(
      { length: n },
      (_, i) => (this.rand() + this.rand() + this.rand() - 1.5) * 2 * std * (scaleAt === undefined ? 1 : scaleAt(i)),
    );
    this.inits.push(tensor(name, values, dims));
    return name;
  }

  fill(name: string, dims: readonly number[], value: number): string {
    const n = dims.reduce((a, b) => a * b, 1);
    this.inits.push(tensor(name, new Float32Array(n).fill(value), dims));
    return name;
  }

  /** A shared int64 constant (dims [] for a scalar), created once per distinct value. */
  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = `const.i64.[${dims.join(',')}].${values.join('_')}`;
    if (!this.constants.has(name)) {
      this.inits.push(tensor(name, BigInt64Array.from(values.map(BigInt)), dims));
      this.constants.set(name, name);
    }
    return name;
  }

  /** A shared float scalar constant. */
  f32(value: number): string {
    const name = `const.f32.${value}`;
    if (!this.constants.has(name)) {
      this.inits.push(tensor(name, new Float32Array([value]), []));
      this.constants.set(name, name);
    }
    return name;
  }

  /** x · W + b with W [inDim, outDim] of std gain/√inDim; no bias when biasStd is undefined (Llama). */
  linear(x: string, prefix: string, inDim: number, outDim: number, gain: number, biasStd?: number): string {
    const y = this.op('MatMul', [x, this.weight(`${prefix}.weight`, [inDim, outDim], gain / Math.sqrt(inDim))], prefix);
    if (biasStd === undefined) return y;
    return this.op('Add', [y, this.weight(`${prefix}.bias`, [outDim], biasStd)], `${prefix}.out`);
  }

  /** Dimension `axis` of x's shape as an int64 scalar. */
  dim(x: string, axis: number, out: string): string {
    return this.op('Gather', [this.op('Shape', [x], `${out}.shape`), this.i64([axis], [])], out, {
      axis: attr.int(0),
    });
  }
}

/** [b, s, heads·d] → [b, heads, s, d]. */
export function splitHeads(g: GraphBuilder, x: string, heads: number, headDim: number, out: string): string {
  const r = g.op('Reshape', [x, g.i64([0, 0, heads, headDim])], `${out}.reshape`);
  return g.op('Transpose', [r], out, { perm: attr.ints([0, 2, 1, 3]) });
}

/** [b, heads, s, d] → [b, s, heads·d]. */
export function mergeHeads(g: GraphBuilder, x: string, width: number, out: string): string {
  const t = g.op('Transpose', [x], `${out}.transpose`, { perm: attr.ints([0, 2, 1, 3]) });
  return g.op('Reshape', [t, g.i64([0, 0, width])], out);
}

/**
 * Which keys each new token may attend to, bool [b, 1, s, total]: key j is visible to query t iff
 * attention_mask[j] == 1 and j ≤ past + t, where total = past + s comes from a present key (the effective past,
 * which for Llama's merged graph may be 0 whatever was fed). The mask's last `total` columns are used, so a mask
 * that also covers an ignored past still lines up with the keys.
 */
export function attentionAllowed(g: GraphBuilder, presentKey: string): string {
  const total = g.dim(presentKey, 2, 'mask.total');
  const seq = g.dim('input_ids', 1, 'mask.sequence');
  const past = g.op('Sub', [total, seq], 'mask.past');
  const negTotal = g.op('Neg', [g.op('Unsqueeze', [total, g.i64([0])], 'mask.total_1d')], 'mask.neg_total');
  const mask = g.op('Slice', ['attention_mask', negTotal, g.i64([Number.MAX_SAFE_INTEGER]), g.i64([1])], 'mask.last');
  const padOk = g.op(
    'Unsqueeze',
    [g.op('Equal', [mask, g.i64([1], [])], 'mask.is_token'), g.i64([1, 2])],
    'mask.pad_ok', // [b, 1, 1, total]
  );
  const one = g.i64([1], []);
  const queryPos = g.op(
    'Unsqueeze',
    [g.op('Range', [past, total, one], 'mask.query_positions'), g.i64([1])],
    'mask.query_col', // [s, 1]
  );
  const keyPos = g.op('Range', [g.i64([0], []), total, one], 'mask.key_positions'); // [total]
  const causal = g.op('LessOrEqual', [keyPos, queryPos], 'mask.causal'); // [s, total]
  return g.op('And', [causal, padOk], 'mask.allowed');
}

/**
 * Scaled dot-product attention: q [b, h, s, d] over k, v [b, h, total, d]; disallowed scores are replaced (not
 * offset) by a large negative number, so a fully masked row (a padded query) stays finite instead of NaN.
 */
export function attend(
  g: GraphBuilder,
  prefix: string,
  q: string,
  k: string,
  v: string,
  allowed: string,
  headDim: number,
): string {
  const kT = g.op('Transpose', [k], `${prefix}.key_t`, { perm: attr.ints([0, 1, 3, 2]) });
  const scores = g.op(
    'Mul',
    [g.op('MatMul', [q, kT], `${prefix}.qk`), g.f32(1 / Math.sqrt(headDim))],
    `${prefix}.scores`,
  );
  const masked = g.op('Where', [allowed, scores, g.f32(-1e9)], `${prefix}.masked`);
  const probs = g.op('Softmax', [masked], `${prefix}.probs`, { axis: attr.int(-1) });
  return g.op('MatMul', [probs, v], `${prefix}.context`);
}

/** The decoder inputs and outputs of the convention, for `layers` layers of `kvHeads` × `headDim` caches. */
export function decoderIo(
  layers: number,
  kvHeads: number,
  headDim: number,
  vocabSize: number,
): { inputs: IValueInfoProto[]; outputs: IValueInfoProto[] } {
  const inputs = [
    valueInfo('input_ids', 'int64', [DIM.batch, DIM.sequence]),
    valueInfo('attention_mask', 'int64', [DIM.batch, DIM.total]),
    valueInfo('position_ids', 'int64', [DIM.batch, DIM.sequence]),
  ];
  const outputs = [valueInfo('logits', 'float32', [DIM.batch, DIM.sequence, vocabSize])];
  for (let i = 0; i < layers; i++)
    for (const kind of ['key', 'value']) {
      inputs.push(valueInfo(`past_key_values.${i}.${kind}`, 'float32', [DIM.batch, kvHeads, DIM.past, headDim]));
      outputs.push(valueInfo(`present.${i}.${kind}`, 'float32', [DIM.batch, kvHeads, DIM.total, headDim]));
    }
  return { inputs, outputs };
}

/** GELU, tanh approximation (`gelu_new`): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). Opset 17 has no Gelu op. */
function geluNew(g: GraphBuilder, x: string, prefix: string): string {
  const x3 = g.op('Mul', [g.op('Mul', [x, x], `${prefix}.x2`), x], `${prefix}.x3`);
  const inner = g.op(
    'Mul',
    [
      g.op('Add', [x, g.op('Mul', [x3, g.f32(0.044715)], `${prefix}.cubic`)], `${prefix}.sum`),
      g.f32(0.7978845608028654),
    ],
    `${prefix}.inner`,
  );
  const onePlus = g.op('Add', [g.op('Tanh', [inner], `${prefix}.tanh`), g.f32(1)], `${prefix}.one_plus`);
  return g.op('Mul', [g.op('Mul', [x, g.f32(0.5)], `${prefix}.half_x`), onePlus], `${prefix}.out`);
}

function layerNorm(g: GraphBuilder, x: string, prefix: string, gain = 1): string {
  return g.op(
    'LayerNormalization',
    [x, g.fill(`${prefix}.weight`, [GPT2_WIDTH], gain), g.fill(`${prefix}.bias`, [GPT2_WIDTH], 0)],
    prefix,
    { axis: attr.int(-1), epsilon: attr.float(GPT2_LN_EPS) },
  );
}

/**
 * The GPT-2 graph: token + learned position embeddings (positions from `position_ids`), pre-LN blocks of causal
 * multi-head attention over past + new and a gelu_new MLP, final LayerNorm, lm_head tied to the token embeddings.
 * Scales are far above GPT-2's 0.02 init so that greedy argmax has clear margins between runtimes.
 */
export function tinyGpt2Onnx(vocabSize: number, rareTokenIds: ReadonlySet<number> = new Set()): Uint8Array {
  const g = new GraphBuilder(mulberry32(GPT2_SEED));
  const E = GPT2_WIDTH;
  const wte = g.weight('transformer.wte.weight', [vocabSize, E], 1, (i) =>
    rareTokenIds.has(Math.floor(i / E)) ? RARE_SCALE : 1,
  );
  const wpe = g.weight('transformer.wpe.weight', [GPT2_POSITIONS, E], WPE_STD);
  let x = g.op(
    'Add',
    [
      g.op('Gather', [wte, 'input_ids'], 'embed.tokens', { axis: attr.int(0) }),
      g.op('Gather', [wpe, 'position_ids'], 'embed.positions', { axis: attr.int(0) }),
    ],
    'embed.sum',
  );
  let allowed: string | undefined;
  for (let i = 0; i < GPT2_LAYERS; i++) {
    const p = `transformer.h.${i}`;
    const h = layerNorm(g, x, `${p}.ln_1`);
    const q = splitHeads(
      g,
      g.linear(h, `${p}.attn.q`, E, E, QK_GAIN, 0.1),
      GPT2_HEADS,
      GPT2_HEAD_DIM,
      `${p}.attn.q_heads`,
    );
    const k = splitHeads(
      g,
      g.linear(h, `${p}.attn.k`, E, E, QK_GAIN, 0.1),
      GPT2_HEADS,
      GPT2_HEAD_DIM,
      `${p}.attn.k_heads`,
    );
    const v = splitHeads(g, g.linear(h, `${p}.attn.v`, E, E, 1, 0.1), GPT2_HEADS, GPT2_HEAD_DIM, `${p}.attn.v_heads`);
    const presentK = g.op('Concat', [`past_key_values.${i}.key`, k], `present.${i}.key`, { axis: attr.int(2) });
    const presentV = g.op('Concat', [`past_key_values.${i}.value`, v], `present.${i}.value`, { axis: attr.int(2) });
    allowed ??= attentionAllowed(g, presentK);
    const ctx = attend(g, `${p}.attn`, q, presentK, presentV, allowed, GPT2_HEAD_DIM);
    const attnOut = g.linear(mergeHeads(g, ctx, E, `${p}.attn.merged`), `${p}.attn.c_proj`, E, E, OUT_GAIN, 0.1);
    x = g.op('Add', [x, attnOut], `${p}.attn.residual`);
    const m = layerNorm(g, x, `${p}.ln_2`);
    const fc = geluNew(g, g.linear(m, `${p}.mlp.c_fc`, E, GPT2_INNER, 1.5, 0.1), `${p}.mlp.gelu`);
    x = g.op('Add', [x, g.linear(fc, `${p}.mlp.c_proj`, GPT2_INNER, E, OUT_GAIN, 0.1)], `${p}.mlp.residual`);
  }
  // ln_f's gain sets the logits' scale (a tied head has no other): ×2 widens greedy margins without changing the argmax.
  const final = layerNorm(g, x, 'transformer.ln_f', 2);
  // Tied head: the same initializer, transposed (ORT folds the Transpose once at load).
  const head = g.op('Transpose', [wte], 'lm_head.weight', { perm: attr.ints([1, 0]) });
  g.op('MatMul', [final, head], 'logits');
  const io = decoderIo(GPT2_LAYERS, GPT2_HEADS, GPT2_HEAD_DIM, vocabSize);
  return encode(
    model({
      docString: 'tiny-gpt2: a GPT-2-shaped decoder with a KV cache and seeded random weights (not trained).',
      graph: graph({ name: 'tiny_gpt2', nodes: g.nodes, initializers: g.inits, ...io }),
    }),
  );
}

/**
 * Ids of byte tokens that are not printable ASCII (or newline) and of `<|endoftext|>`: their embeddings are scaled
 * down, as rare tokens' are in a trained model, so greedy output is mostly whole pieces of text rather than stray
 * UTF-8 continuation bytes (and ends early only by chance).
 */
export function gpt2RareTokens(tokens: readonly string[]): Set<number> {
  const { bytes } = bytesToUnicode();
  const rare = new Set<number>();
  bytes.forEach((b, id) => {
    if (b >= 0x7f || (b < 0x20 && b !== 0x0a)) rare.add(id);
  });
  rare.add(tokens.indexOf(GPT2_EOS));
  return rare;
}

/** Writes `json` pretty-printed as Hugging Face does. */
export function writeJson(dir: string, name: string, value: unknown): void {
  writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Writes the whole folder into dir (created) and returns dir. `model.onnx` follows the decoder convention:
 * inputs `input_ids`, `attention_mask` (past + new, 0 = padding, left padding allowed), `position_ids`,
 * `past_key_values.{i}.key|value` [batch, 4, past, 8]; outputs `logits` [batch, seq, vocab] and
 * `present.{i}.key|value` [batch, 4, past + seq, 8].
 */
export function writeTinyGpt2Folder(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const vocab = gpt2Vocabulary();
  const eosId = vocab.tokens.indexOf(GPT2_EOS);
  writeFileSync(join(dir, 'model.onnx'), tinyGpt2Onnx(vocab.tokens.length, gpt2RareTokens(vocab.tokens)));
  writeTextFiles(dir, gpt2TokenizerFiles(vocab, GPT2_POSITIONS));
  writeJson(dir, 'config.json', {
    _name_or_path: 'tiny-gpt2',
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: 0.1,
    bos_token_id: eosId,
    embd_pdrop: 0.1,
    eos_token_id: eosId,
    initializer_range: 0.02,
    layer_norm_epsilon: GPT2_LN_EPS,
    model_type: 'gpt2',
    n_ctx: GPT2_POSITIONS,
    n_embd: GPT2_WIDTH,
    n_head: GPT2_HEADS,
    n_inner: null,
    n_layer: GPT2_LAYERS,
    n_positions: GPT2_POSITIONS,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    transformers_version: '4.46.0',
    use_cache: true,
    vocab_size: vocab.tokens.length,
  });
  writeJson(dir, 'generation_config.json', {
    _from_model_config: true,
    bos_token_id: eosId,
    eos_token_id: eosId,
    transformers_version: '4.46.0',
  });
  return dir;
}
