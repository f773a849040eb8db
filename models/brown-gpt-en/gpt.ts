/**
 * @module brown-gpt-en's network as ONNX graphs: a GPT-2-style decoder (token + learned position embeddings, pre-LN
 * blocks of causal multi-head self-attention and a GELU MLP, final LayerNorm, untied lm_head; no biases in the linear
 * layers) in two forms built from one parameter list:
 *
 * - the training graph: weights are graph INPUTS, a batch of token windows and their targets go in, and the mean
 *   cross-entropy, the logits and the gradient of every weight come out. The backward pass is written by hand as ONNX
 *   ops (onnxruntime-node has no training API), so one `session.run` per step does forward and backward in ORT's
 *   multi-threaded kernels and only the Adam update runs in JS (train.ts).
 * - the inference graph, in Optimum's decoder-with-past layout (input_ids, attention_mask, position_ids,
 *   past_key_values.{i}.key|value → logits, present.{i}.key|value), with the trained weights as initializers.
 */
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

export interface GptConfig {
  vocabSize: number;
  /** Longest context (rows of the position table). */
  nPositions: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
}

export interface ParamSpec {
  name: string;
  dims: number[];
  init: 'normal' | 'ones' | 'zeros';
  /** Standard deviation of a normal init. */
  std: number;
  /** AdamW weight decay applies (matrices and embeddings, not LayerNorm parameters). */
  decay: boolean;
}

export const LN_EPS = 1e-5;
/** Masked attention scores: exp(-1e9 - max) is exactly 0 in float32, and fully masked rows stay finite. */
const MASKED = -1e9;

/** Every parameter, in a fixed order (the order of the training graph's inputs and gradient outputs). */
export function paramSpecs(c: GptConfig): ParamSpec[] {
  const d = c.nEmbd;
  // GPT-2's init: N(0, 0.02), and the projections that write into the residual stream scaled by 1/√(2·layers).
  const std = 0.02;
  const resid = std / Math.sqrt(2 * c.nLayer);
  const out: ParamSpec[] = [
    { name: 'wte', dims: [c.vocabSize, d], init: 'normal', std, decay: true },
    { name: 'wpe', dims: [c.nPositions, d], init: 'normal', std: 0.01, decay: true },
  ];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}`;
    out.push(
      { name: `${p}.ln_1.weight`, dims: [d], init: 'ones', std: 0, decay: false },
      { name: `${p}.ln_1.bias`, dims: [d], init: 'zeros', std: 0, decay: false },
      { name: `${p}.attn.c_attn.weight`, dims: [d, 3 * d], init: 'normal', std, decay: true },
      { name: `${p}.attn.c_proj.weight`, dims: [d, d], init: 'normal', std: resid, decay: true },
      { name: `${p}.ln_2.weight`, dims: [d], init: 'ones', std: 0, decay: false },
      { name: `${p}.ln_2.bias`, dims: [d], init: 'zeros', std: 0, decay: false },
      { name: `${p}.mlp.c_fc.weight`, dims: [d, 4 * d], init: 'normal', std, decay: true },
      { name: `${p}.mlp.c_proj.weight`, dims: [4 * d, d], init: 'normal', std: resid, decay: true },
    );
  }
  out.push(
    { name: 'ln_f.weight', dims: [d], init: 'ones', std: 0, decay: false },
    { name: 'ln_f.bias', dims: [d], init: 'zeros', std: 0, decay: false },
    { name: 'lm_head.weight', dims: [d, c.vocabSize], init: 'normal', std, decay: true },
  );
  return out;
}

export type Params = Map<string, Float32Array>;

export const sizeOf = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

export function parameterCount(c: GptConfig): number {
  return paramSpecs(c).reduce((n, p) => n + sizeOf(p.dims), 0);
}

/** Seeded initial weights (Box–Muller normals from mulberry32). */
export function initParams(c: GptConfig, seed: number): Params {
  const rand = mulberry32(seed);
  const normal = (): number => {
    const u = 1 - rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const out: Params = new Map();
  for (const p of paramSpecs(c)) {
    const n = sizeOf(p.dims);
    const v = new Float32Array(n);
    if (p.init === 'ones') v.fill(1);
    else if (p.init === 'normal') for (let i = 0; i < n; i++) v[i] = normal() * p.std;
    out.set(p.name, v);
  }
  return out;
}

export function param(p: Params, name: string): Float32Array {
  const v = p.get(name);
  if (v === undefined) throw new Error(`parameter ${name} missing`);
  return v;
}

/** Node list + constants with generated names, so graph code reads like the math. */
class Kit {
  readonly nodes: INodeProto[] = [];
  readonly inits: ITensorProto[] = [];
  private counter = 0;
  private readonly consts = new Map<string, string>();

  ops(type: string, inputs: readonly string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const base = `${type.toLowerCase()}_${this.counter++}`;
    const outs = Array.from({ length: outputs }, (_, i) => (i === 0 ? base : `${base}_${i}`));
    this.nodes.push(node(type, inputs, outs, attrs, { name: base }));
    return outs;
  }

  op(type: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}): string {
    return this.ops(type, inputs, 1, attrs)[0] ?? '';
  }

  /** A node whose single output gets a chosen name (graph outputs). */
  named(type: string, inputs: readonly string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push(node(type, inputs, [output], attrs, { name: output }));
    return output;
  }

  i64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `i64:${values.join(',')}:${dims.join(',')}`;
    const hit = this.consts.get(key);
    if (hit !== undefined) return hit;
    const name = `const_${this.consts.size}`;
    this.inits.push(tensor(name, BigInt64Array.from(values.map(BigInt)), dims));
    this.consts.set(key, name);
    return name;
  }

  f32(value: number): string {
    const key = `f32:${value}`;
    const hit = this.consts.get(key);
    if (hit !== undefined) return hit;
    const name = `const_${this.consts.size}`;
    this.inits.push(tensor(name, new Float32Array([value]), []));
    this.consts.set(key, name);
    return name;
  }

  init(name: string, values: Float32Array, dims: readonly number[]): string {
    this.inits.push(tensor(name, values, dims));
    return name;
  }

  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }
  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }
  transpose(x: string, perm: readonly number[]): string {
    return this.op('Transpose', [x], { perm: attr.ints(perm) });
  }
  reshape(x: string, shape: readonly number[]): string {
    return this.op('Reshape', [x, this.i64(shape)]);
  }
  /** Gemm without bias: op(a) · op(b), for 2-D weight gradients without a separate Transpose. */
  gemm(a: string, b: string, transA: boolean, transB: boolean): string {
    return this.op('Gemm', [a, b], { transA: attr.int(transA ? 1 : 0), transB: attr.int(transB ? 1 : 0) });
  }
  sum(x: string, axes: readonly number[], keepdims: boolean): string {
    return this.op('ReduceSum', [x, this.i64(axes)], { keepdims: attr.int(keepdims ? 1 : 0) });
  }
  mean(x: string, axes: readonly number[]): string {
    return this.op('ReduceMean', [x], { axes: attr.ints(axes), keepdims: attr.int(1) });
  }
}

/** GELU with erf (GPT-2 uses the tanh approximation; erf is what ORT computes exactly): also returns Φ(u) for the backward. */
function gelu(k: Kit, u: string): { out: string; cdf: string } {
  const cdf = k.mul(k.add(k.op('Erf', [k.mul(u, k.f32(Math.SQRT1_2))]), k.f32(1)), k.f32(0.5));
  return { out: k.mul(u, cdf), cdf };
}

/** d/du [u·Φ(u)] = Φ(u) + u·φ(u). */
function geluBackward(k: Kit, dOut: string, u: string, cdf: string): string {
  const pdf = k.mul(k.op('Exp', [k.mul(k.mul(u, u), k.f32(-0.5))]), k.f32(1 / Math.sqrt(2 * Math.PI)));
  return k.mul(dOut, k.add(cdf, k.mul(u, pdf)));
}

interface LnSaved {
  xhat: string;
  rstd: string;
  gamma: string;
}

/** LayerNormalization over the last axis, keeping x̂ and 1/σ for the backward pass. */
function layerNormTrain(k: Kit, x: string, gamma: string, beta: string): { y: string; saved: LnSaved } {
  const [y = '', mean = '', rstd = ''] = k.ops('LayerNormalization', [x, gamma, beta], 3, {
    axis: attr.int(-1),
    epsilon: attr.float(LN_EPS),
  });
  const xhat = k.mul(k.sub(x, mean), rstd);
  return { y, saved: { xhat, rstd, gamma } };
}

/** dx = (1/σ)·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with ĝ = dy·γ; dγ = Σ dy·x̂, dβ = Σ dy over rows (x is [N, d]). */
function layerNormBackward(k: Kit, dy: string, s: LnSaved): { dx: string; dGamma: string; dBeta: string } {
  const g = k.mul(dy, s.gamma);
  const dx = k.mul(k.sub(k.sub(g, k.mean(g, [-1])), k.mul(s.xhat, k.mean(k.mul(g, s.xhat), [-1]))), s.rstd);
  return { dx, dGamma: k.sum(k.mul(dy, s.xhat), [0], false), dBeta: k.sum(dy, [0], false) };
}

/** Names of the training graph's inputs and outputs. */
export const TRAIN_IO = { inputIds: 'input_ids', targets: 'targets', loss: 'loss', logits: 'logits' } as const;
export const gradName = (param: string): string => `grad.${param}`;

/**
 * The training graph for batches of `batch` windows of `seq` tokens (fixed shapes: reshapes are constants). Loss is
 * the mean cross-entropy over all batch × seq targets; every `grad.<name>` is its gradient.
 */
export function trainingGraph(c: GptConfig, batch: number, seq: number): Uint8Array {
  const k = new Kit();
  const d = c.nEmbd;
  const H = c.nHead;
  const hd = d / H;
  const N = batch * seq;
  const V = c.vocabSize;
  if (!Number.isInteger(hd)) throw new Error('nEmbd must be a multiple of nHead');
  if (seq > c.nPositions) throw new Error('seq exceeds nPositions');
  const specs = paramSpecs(c);
  const w = (name: string): string => name;
  const grads = new Map<string, string>();

  // Forward. Activations of the linear layers stay 2-D [N, d]; attention reshapes to [B, H, T, hd].
  const ids = k.reshape(TRAIN_IO.inputIds, [N]);
  const pos = k.op('Slice', [w('wpe'), k.i64([0]), k.i64([seq]), k.i64([0])]);
  const tokEmb = k.op('Gather', [w('wte'), ids], { axis: attr.int(0) });
  let x = k.reshape(k.add(k.reshape(tokEmb, [batch, seq, d]), pos), [N, d]);
  const causal = new Float32Array(seq * seq);
  for (let t = 0; t < seq; t++) for (let j = t + 1; j < seq; j++) causal[t * seq + j] = MASKED;
  const maskBias = k.init('causal_mask_bias', causal, [seq, seq]);
  // c_attn's q columns scaled by 1/√hd: folding the scale into the [d, 3d] weight costs far less than scaling q or
  // the scores, and the weight's gradient picks up the same factor.
  const qkvScale = k.init(
    'qkv_scale',
    Float32Array.from({ length: 3 * d }, (_, j) => (j < d ? 1 / Math.sqrt(hd) : 1)),
    [3 * d],
  );
  const toHeads = (t2d: string): string => k.transpose(k.reshape(t2d, [batch, seq, H, hd]), [0, 2, 1, 3]);
  const fromHeads = (t4d: string): string => k.reshape(k.transpose(t4d, [0, 2, 1, 3]), [N, d]);

  interface LayerSaved {
    ln1: LnSaved;
    a: string;
    wScaled: string;
    q: string;
    kk: string;
    v: string;
    p: string;
    o2: string;
    ln2: LnSaved;
    m: string;
    u: string;
    cdf: string;
    g: string;
  }
  const saved: LayerSaved[] = [];
  for (let i = 0; i < c.nLayer; i++) {
    const p = `h.${i}`;
    const ln1 = layerNormTrain(k, x, w(`${p}.ln_1.weight`), w(`${p}.ln_1.bias`));
    const wScaled = k.mul(w(`${p}.attn.c_attn.weight`), qkvScale);
    const qkv = k.matmul(ln1.y, wScaled);
    const [q2 = '', k2 = '', v2 = ''] = k.ops('Split', [qkv, k.i64([d, d, d])], 3, { axis: attr.int(1) });
    const q = toHeads(q2);
    const kk = toHeads(k2);
    const v = toHeads(v2);
    const scores = k.add(k.matmul(q, k.transpose(kk, [0, 1, 3, 2])), maskBias);
    const probs = k.op('Softmax', [scores], { axis: attr.int(-1) });
    const o2 = fromHeads(k.matmul(probs, v));
    x = k.add(x, k.matmul(o2, w(`${p}.attn.c_proj.weight`)));
    const ln2 = layerNormTrain(k, x, w(`${p}.ln_2.weight`), w(`${p}.ln_2.bias`));
    const u = k.matmul(ln2.y, w(`${p}.mlp.c_fc.weight`));
    const act = gelu(k, u);
    x = k.add(x, k.matmul(act.out, w(`${p}.mlp.c_proj.weight`)));
    saved.push({
      ln1: ln1.saved,
      a: ln1.y,
      wScaled,
      q,
      kk,
      v,
      p: probs,
      o2,
      ln2: ln2.saved,
      m: ln2.y,
      u,
      cdf: act.cdf,
      g: act.out,
    });
  }
  const lnf = layerNormTrain(k, x, w('ln_f.weight'), w('ln_f.bias'));
  const logits2d = k.matmul(lnf.y, w('lm_head.weight'));
  k.named('Reshape', [logits2d, k.i64([batch, seq, V])], TRAIN_IO.logits);
  const logp = k.op('LogSoftmax', [logits2d], { axis: attr.int(1) });
  const offOn = k.init('onehot_values', new Float32Array([0, 1]), [2]);
  const depth = k.i64([V], []);
  const onehot = k.op('OneHot', [k.reshape(TRAIN_IO.targets, [N]), depth, offOn], { axis: attr.int(-1) });
  k.named('Mul', [k.sum(k.mul(logp, onehot), [0, 1], false), k.f32(-1 / N)], TRAIN_IO.loss);

  // Backward.
  const dLogits = k.mul(k.sub(k.op('Exp', [logp]), onehot), k.f32(1 / N));
  grads.set('lm_head.weight', k.gemm(lnf.y, dLogits, true, false));
  const dlnf = layerNormBackward(k, k.gemm(dLogits, w('lm_head.weight'), false, true), lnf.saved);
  grads.set('ln_f.weight', dlnf.dGamma);
  grads.set('ln_f.bias', dlnf.dBeta);
  let dx = dlnf.dx;
  for (let i = c.nLayer - 1; i >= 0; i--) {
    const p = `h.${i}`;
    const s = saved[i];
    if (s === undefined) throw new Error('layer missing');
    // MLP.
    grads.set(`${p}.mlp.c_proj.weight`, k.gemm(s.g, dx, true, false));
    const dg = k.gemm(dx, w(`${p}.mlp.c_proj.weight`), false, true);
    const du = geluBackward(k, dg, s.u, s.cdf);
    grads.set(`${p}.mlp.c_fc.weight`, k.gemm(s.m, du, true, false));
    const dln2 = layerNormBackward(k, k.gemm(du, w(`${p}.mlp.c_fc.weight`), false, true), s.ln2);
    grads.set(`${p}.ln_2.weight`, dln2.dGamma);
    grads.set(`${p}.ln_2.bias`, dln2.dBeta);
    dx = k.add(dx, dln2.dx);
    // Attention.
    grads.set(`${p}.attn.c_proj.weight`, k.gemm(s.o2, dx, true, false));
    const dO = toHeads(k.gemm(dx, w(`${p}.attn.c_proj.weight`), false, true));
    const dP = k.matmul(dO, k.transpose(s.v, [0, 1, 3, 2]));
    const dv = k.matmul(k.transpose(s.p, [0, 1, 3, 2]), dO);
    const dS = k.mul(s.p, k.sub(dP, k.sum(k.mul(dP, s.p), [-1], true)));
    const dq = k.matmul(dS, s.kk);
    const dk = k.matmul(k.transpose(dS, [0, 1, 3, 2]), s.q);
    const dqkv = k.op('Concat', [fromHeads(dq), fromHeads(dk), fromHeads(dv)], { axis: attr.int(1) });
    grads.set(`${p}.attn.c_attn.weight`, k.mul(k.gemm(s.a, dqkv, true, false), qkvScale));
    const dln1 = layerNormBackward(k, k.gemm(dqkv, s.wScaled, false, true), s.ln1);
    grads.set(`${p}.ln_1.weight`, dln1.dGamma);
    grads.set(`${p}.ln_1.bias`, dln1.dBeta);
    dx = k.add(dx, dln1.dx);
  }
  // Embeddings: the token table's gradient is a scatter-add, written as onehot(ids)ᵀ · dx (deterministic, and V is small).
  const idsOnehot = k.op('OneHot', [ids, depth, offOn], { axis: attr.int(-1) });
  grads.set('wte', k.gemm(idsOnehot, dx, true, false));
  const dPos = k.sum(k.reshape(dx, [batch, seq, d]), [0], false);
  // Rows of wpe past `seq` get no gradient: pad with zeros to the table's shape.
  grads.set('wpe', seq === c.nPositions ? dPos : k.op('Pad', [dPos, k.i64([0, 0, c.nPositions - seq, 0])]));

  const inputs: IValueInfoProto[] = [
    valueInfo(TRAIN_IO.inputIds, 'int64', [batch, seq]),
    valueInfo(TRAIN_IO.targets, 'int64', [batch, seq]),
    ...specs.map((p) => valueInfo(p.name, 'float32', p.dims)),
  ];
  for (const p of specs) {
    const g = grads.get(p.name);
    if (g === undefined) throw new Error(`no gradient for ${p.name}`);
    k.named('Identity', [g], gradName(p.name));
  }
  const outputs: IValueInfoProto[] = [
    valueInfo(TRAIN_IO.loss, 'float32', []),
    valueInfo(TRAIN_IO.logits, 'float32', [batch, seq, V]),
    ...specs.map((p) => valueInfo(gradName(p.name), 'float32', p.dims)),
  ];
  return encode(
    model({
      graph: graph({ name: 'brown_gpt_train', nodes: k.nodes, inputs, outputs, initializers: k.inits }),
    }),
  );
}

/** Input/output names of the exported decoder (Optimum's decoder-with-past layout). */
export const IO = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  logits: 'logits',
  pastKey: (i: number): string => `past_key_values.${i}.key`,
  pastValue: (i: number): string => `past_key_values.${i}.value`,
  presentKey: (i: number): string => `present.${i}.key`,
  presentValue: (i: number): string => `present.${i}.value`,
} as const;

/** Symbolic dims as Optimum writes them. */
export const DIMS = {
  batch: 'batch_size',
  seq: 'sequence_length',
  past: 'past_sequence_length',
  total: 'past_sequence_length + sequence_length',
} as const;

/**
 * The inference graph with KV cache. Key j is visible to query t iff attention_mask[j] = 1 and j ≤ past + t. Position
 * ids are clamped to the table (a caller running past n_positions gets the last row instead of an out-of-range
 * error; the service keeps prompts + new tokens within n_positions).
 */
export function inferenceGraph(c: GptConfig, p: Params, docString: string): Uint8Array {
  const k = new Kit();
  const d = c.nEmbd;
  const H = c.nHead;
  const hd = d / H;
  for (const s of paramSpecs(c)) k.init(s.name, param(p, s.name), s.dims);

  const seqLen = k.op('Gather', [k.op('Shape', [IO.inputIds]), k.i64([1], [])], { axis: attr.int(0) });
  const total = k.op('Gather', [k.op('Shape', [IO.attentionMask]), k.i64([1], [])], { axis: attr.int(0) });
  const past = k.sub(total, seqLen);
  const keyPos = k.op('Range', [k.i64([0], []), total, k.i64([1], [])]);
  const queryPos = k.add(k.op('Range', [k.i64([0], []), seqLen, k.i64([1], [])]), past);
  const causal = k.op('LessOrEqual', [
    k.op('Unsqueeze', [keyPos, k.i64([0])]),
    k.op('Unsqueeze', [queryPos, k.i64([1])]),
  ]);
  const keep = k.op('Cast', [IO.attentionMask], { to: attr.int(9) });
  // [b, 1, 1, total] & [s, total] → [b, 1, s, total]
  const allowed = k.op('And', [k.op('Unsqueeze', [keep, k.i64([1, 2])]), causal]);
  const masked = k.f32(MASKED);

  const positions = k.op('Clip', [IO.positionIds, k.i64([0], []), k.i64([c.nPositions - 1], [])]);
  let x = k.add(
    k.op('Gather', ['wte', IO.inputIds], { axis: attr.int(0) }),
    k.op('Gather', ['wpe', positions], { axis: attr.int(0) }),
  );
  const scale = k.f32(1 / Math.sqrt(hd));
  const ln = (t: string, name: string): string =>
    k.op('LayerNormalization', [t, `${name}.weight`, `${name}.bias`], {
      axis: attr.int(-1),
      epsilon: attr.float(LN_EPS),
    });
  const toHeads = (t: string): string => k.transpose(k.reshape(t, [0, 0, H, hd]), [0, 2, 1, 3]);
  for (let i = 0; i < c.nLayer; i++) {
    const pre = `h.${i}`;
    const qkv = k.matmul(ln(x, `${pre}.ln_1`), `${pre}.attn.c_attn.weight`);
    const [q2 = '', k2 = '', v2 = ''] = k.ops('Split', [qkv, k.i64([d, d, d])], 3, { axis: attr.int(2) });
    const q = k.mul(toHeads(q2), scale);
    const keys = k.named('Concat', [IO.pastKey(i), toHeads(k2)], IO.presentKey(i), { axis: attr.int(2) });
    const values = k.named('Concat', [IO.pastValue(i), toHeads(v2)], IO.presentValue(i), { axis: attr.int(2) });
    const scores = k.op('Where', [allowed, k.matmul(q, k.transpose(keys, [0, 1, 3, 2])), masked]);
    const probs = k.op('Softmax', [scores], { axis: attr.int(-1) });
    const o = k.reshape(k.transpose(k.matmul(probs, values), [0, 2, 1, 3]), [0, 0, d]);
    x = k.add(x, k.matmul(o, `${pre}.attn.c_proj.weight`));
    const u = k.matmul(ln(x, `${pre}.ln_2`), `${pre}.mlp.c_fc.weight`);
    x = k.add(x, k.matmul(gelu(k, u).out, `${pre}.mlp.c_proj.weight`));
  }
  k.named('MatMul', [ln(x, 'ln_f'), 'lm_head.weight'], IO.logits);

  const kv = (name: string, len: string): IValueInfoProto => valueInfo(name, 'float32', [DIMS.batch, H, len, hd]);
  const inputs: IValueInfoProto[] = [
    valueInfo(IO.inputIds, 'int64', [DIMS.batch, DIMS.seq]),
    valueInfo(IO.attentionMask, 'int64', [DIMS.batch, DIMS.total]),
    valueInfo(IO.positionIds, 'int64', [DIMS.batch, DIMS.seq]),
  ];
  const outputs: IValueInfoProto[] = [valueInfo(IO.logits, 'float32', [DIMS.batch, DIMS.seq, c.vocabSize])];
  for (let i = 0; i < c.nLayer; i++) {
    inputs.push(kv(IO.pastKey(i), DIMS.past), kv(IO.pastValue(i), DIMS.past));
    outputs.push(kv(IO.presentKey(i), DIMS.total), kv(IO.presentValue(i), DIMS.total));
  }
  return encode(
    model({
      graph: graph({ name: 'brown_gpt', nodes: k.nodes, inputs, outputs, initializers: k.inits }),
      docString,
    }),
  );
}
