/**
 * @module A small convolutional network for 28×28 digits, trained in TypeScript with seeded Adam, and its ONNX export:
 * Conv5×5(8) → ReLU → MaxPool2 → Conv3×3(16) → ReLU → MaxPool2 → Flatten → Gemm(64) → ReLU → Gemm(10) → Softmax.
 * Hand-written forward and backward passes in Float32Array loops: about 0.26 M multiply-adds per digit forward, so a
 * few epochs over 7,200 digits fit in a couple of minutes on one core.
 */
import { attr, encode, graph, model, node, tensor, valueInfo } from '../lib/onnx-builder.js';
import { mulberry32, shuffled } from '../lib/train.js';

export const SIDE = 28;
const K1 = 5;
const C1 = 8;
const S1 = SIDE - K1 + 1; // 24
const P1 = S1 / 2; // 12
const K2 = 3;
const C2 = 16;
const S2 = P1 - K2 + 1; // 10
const P2 = S2 / 2; // 5
const FLAT = C2 * P2 * P2; // 400
const HIDDEN = 64;
export const CLASSES = 10;

export const INPUT = 'image';
export const LOGITS = 'logits';
export const PROBABILITIES = 'probabilities';

/** Parameters in ONNX layouts: conv weights [out, in, k, k]; Gemm weights [in, out] (transB = 0). */
export interface CnnParams {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
  w3: Float32Array;
  b3: Float32Array;
  w4: Float32Array;
  b4: Float32Array;
}
type Key = keyof CnnParams;
const KEYS: readonly Key[] = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3', 'w4', 'b4'];

export function initCnn(seed: number): CnnParams {
  const rand = mulberry32(seed);
  // He-uniform: keeps ReLU activations' variance steady through the layers.
  const he = (n: number, fanIn: number): Float32Array =>
    Float32Array.from({ length: n }, () => (rand() * 2 - 1) * Math.sqrt(6 / fanIn));
  return {
    w1: he(C1 * K1 * K1, K1 * K1),
    b1: new Float32Array(C1),
    w2: he(C2 * C1 * K2 * K2, C1 * K2 * K2),
    b2: new Float32Array(C2),
    w3: he(FLAT * HIDDEN, FLAT),
    b3: new Float32Array(HIDDEN),
    w4: he(HIDDEN * CLASSES, HIDDEN),
    b4: new Float32Array(CLASSES),
  };
}

function zerosLike(p: CnnParams): CnnParams {
  return {
    w1: new Float32Array(p.w1.length),
    b1: new Float32Array(p.b1.length),
    w2: new Float32Array(p.w2.length),
    b2: new Float32Array(p.b2.length),
    w3: new Float32Array(p.w3.length),
    b3: new Float32Array(p.b3.length),
    w4: new Float32Array(p.w4.length),
    b4: new Float32Array(p.b4.length),
  };
}

export function cloneCnn(p: CnnParams): CnnParams {
  return {
    w1: p.w1.slice(),
    b1: p.b1.slice(),
    w2: p.w2.slice(),
    b2: p.b2.slice(),
    w3: p.w3.slice(),
    b3: p.b3.slice(),
    w4: p.w4.slice(),
    b4: p.b4.slice(),
  };
}

/** Activations kept for the backward pass. */
interface Trace {
  r1: Float32Array; // C1×S1×S1 after ReLU
  p1: Float32Array; // C1×P1×P1
  m1: Int32Array; // argmax index into r1 per pooled cell
  r2: Float32Array; // C2×S2×S2
  f: Float32Array; // FLAT (pooled conv2)
  m2: Int32Array;
  h: Float32Array; // HIDDEN after ReLU
  logits: Float32Array;
}

function newTrace(): Trace {
  return {
    r1: new Float32Array(C1 * S1 * S1),
    p1: new Float32Array(C1 * P1 * P1),
    m1: new Int32Array(C1 * P1 * P1),
    r2: new Float32Array(C2 * S2 * S2),
    f: new Float32Array(FLAT),
    m2: new Int32Array(FLAT),
    h: new Float32Array(HIDDEN),
    logits: new Float32Array(CLASSES),
  };
}

function maxPool(src: Float32Array, channels: number, side: number, out: Float32Array, arg: Int32Array): void {
  const half = side / 2;
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < half; y++) {
      for (let x = 0; x < half; x++) {
        let bi = c * side * side + 2 * y * side + 2 * x;
        let bv = src[bi] ?? 0;
        for (const d of [1, side, side + 1]) {
          const i = c * side * side + 2 * y * side + 2 * x + d;
          if ((src[i] ?? 0) > bv) {
            bv = src[i] ?? 0;
            bi = i;
          }
        }
        out[c * half * half + y * half + x] = bv;
        arg[c * half * half + y * half + x] = bi;
      }
    }
  }
}

function forward(p: CnnParams, x: Float32Array, t: Trace): void {
  for (let c = 0; c < C1; c++) {
    for (let y = 0; y < S1; y++) {
      for (let xx = 0; xx < S1; xx++) {
        let a = p.b1[c] ?? 0;
        for (let ky = 0; ky < K1; ky++) {
          const row = (y + ky) * SIDE + xx;
          const wr = c * K1 * K1 + ky * K1;
          for (let kx = 0; kx < K1; kx++) a += (p.w1[wr + kx] ?? 0) * (x[row + kx] ?? 0);
        }
        t.r1[c * S1 * S1 + y * S1 + xx] = a > 0 ? a : 0;
      }
    }
  }
  maxPool(t.r1, C1, S1, t.p1, t.m1);
  for (let o = 0; o < C2; o++) {
    const acc = new Float32Array(S2 * S2).fill(p.b2[o] ?? 0);
    for (let i = 0; i < C1; i++) {
      for (let ky = 0; ky < K2; ky++) {
        for (let kx = 0; kx < K2; kx++) {
          const w = p.w2[((o * C1 + i) * K2 + ky) * K2 + kx] ?? 0;
          for (let y = 0; y < S2; y++) {
            const src = i * P1 * P1 + (y + ky) * P1 + kx;
            for (let xx = 0; xx < S2; xx++) acc[y * S2 + xx] = (acc[y * S2 + xx] ?? 0) + w * (t.p1[src + xx] ?? 0);
          }
        }
      }
    }
    for (let k = 0; k < S2 * S2; k++) t.r2[o * S2 * S2 + k] = Math.max(0, acc[k] ?? 0);
  }
  maxPool(t.r2, C2, S2, t.f, t.m2);
  t.h.set(p.b3);
  for (let i = 0; i < FLAT; i++) {
    const v = t.f[i] ?? 0;
    if (v === 0) continue;
    const row = i * HIDDEN;
    for (let j = 0; j < HIDDEN; j++) t.h[j] = (t.h[j] ?? 0) + v * (p.w3[row + j] ?? 0);
  }
  for (let j = 0; j < HIDDEN; j++) t.h[j] = Math.max(0, t.h[j] ?? 0);
  t.logits.set(p.b4);
  for (let i = 0; i < HIDDEN; i++) {
    const v = t.h[i] ?? 0;
    if (v === 0) continue;
    for (let j = 0; j < CLASSES; j++) t.logits[j] = (t.logits[j] ?? 0) + v * (p.w4[i * CLASSES + j] ?? 0);
  }
}

function softmaxInPlace(z: Float32Array): void {
  let max = -Infinity;
  for (const v of z) max = Math.max(max, v);
  let sum = 0;
  for (let i = 0; i < z.length; i++) {
    const e = Math.exp((z[i] ?? 0) - max);
    z[i] = e;
    sum += e;
  }
  for (let i = 0; i < z.length; i++) z[i] = (z[i] ?? 0) / sum;
}

/** Accumulates ∂(cross-entropy)/∂params for one example into g, scaled by `scale`. */
function backward(p: CnnParams, x: Float32Array, y: number, t: Trace, g: CnnParams, scale: number): void {
  const d4 = t.logits.slice();
  softmaxInPlace(d4);
  d4[y] = (d4[y] ?? 0) - 1;
  for (let j = 0; j < CLASSES; j++) d4[j] = (d4[j] ?? 0) * scale;
  const dh = new Float32Array(HIDDEN);
  for (let i = 0; i < HIDDEN; i++) {
    const hv = t.h[i] ?? 0;
    let s = 0;
    for (let j = 0; j < CLASSES; j++) {
      g.w4[i * CLASSES + j] = (g.w4[i * CLASSES + j] ?? 0) + hv * (d4[j] ?? 0);
      s += (p.w4[i * CLASSES + j] ?? 0) * (d4[j] ?? 0);
    }
    dh[i] = hv > 0 ? s : 0;
  }
  for (let j = 0; j < CLASSES; j++) g.b4[j] = (g.b4[j] ?? 0) + (d4[j] ?? 0);
  const df = new Float32Array(FLAT);
  for (let i = 0; i < FLAT; i++) {
    const fv = t.f[i] ?? 0;
    const row = i * HIDDEN;
    let s = 0;
    for (let j = 0; j < HIDDEN; j++) {
      const d = dh[j] ?? 0;
      if (fv !== 0) g.w3[row + j] = (g.w3[row + j] ?? 0) + fv * d;
      s += (p.w3[row + j] ?? 0) * d;
    }
    df[i] = s;
  }
  for (let j = 0; j < HIDDEN; j++) g.b3[j] = (g.b3[j] ?? 0) + (dh[j] ?? 0);
  // Through pool 2 and ReLU 2: the gradient lands on each pool window's argmax, where the activation was positive.
  const da2 = new Float32Array(C2 * S2 * S2);
  for (let i = 0; i < FLAT; i++) {
    const at = t.m2[i] ?? 0;
    if ((t.r2[at] ?? 0) > 0) da2[at] = df[i] ?? 0;
  }
  const dp1 = new Float32Array(C1 * P1 * P1);
  for (let o = 0; o < C2; o++) {
    let bsum = 0;
    for (let k = 0; k < S2 * S2; k++) bsum += da2[o * S2 * S2 + k] ?? 0;
    g.b2[o] = (g.b2[o] ?? 0) + bsum;
    for (let i = 0; i < C1; i++) {
      for (let ky = 0; ky < K2; ky++) {
        for (let kx = 0; kx < K2; kx++) {
          const wi = ((o * C1 + i) * K2 + ky) * K2 + kx;
          const w = p.w2[wi] ?? 0;
          let gw = 0;
          for (let yy = 0; yy < S2; yy++) {
            const src = i * P1 * P1 + (yy + ky) * P1 + kx;
            const dst = o * S2 * S2 + yy * S2;
            for (let xx = 0; xx < S2; xx++) {
              const d = da2[dst + xx] ?? 0;
              if (d === 0) continue;
              gw += d * (t.p1[src + xx] ?? 0);
              dp1[src + xx] = (dp1[src + xx] ?? 0) + d * w;
            }
          }
          g.w2[wi] = (g.w2[wi] ?? 0) + gw;
        }
      }
    }
  }
  const da1 = new Float32Array(C1 * S1 * S1);
  for (let i = 0; i < C1 * P1 * P1; i++) {
    const at = t.m1[i] ?? 0;
    if ((t.r1[at] ?? 0) > 0) da1[at] = dp1[i] ?? 0;
  }
  for (let c = 0; c < C1; c++) {
    let bsum = 0;
    for (let y = 0; y < S1; y++) {
      for (let xx = 0; xx < S1; xx++) {
        const d = da1[c * S1 * S1 + y * S1 + xx] ?? 0;
        if (d === 0) continue;
        bsum += d;
        for (let ky = 0; ky < K1; ky++) {
          const row = (y + ky) * SIDE + xx;
          const wr = c * K1 * K1 + ky * K1;
          for (let kx = 0; kx < K1; kx++) g.w1[wr + kx] = (g.w1[wr + kx] ?? 0) + d * (x[row + kx] ?? 0);
        }
      }
    }
    g.b1[c] = (g.b1[c] ?? 0) + bsum;
  }
}

export interface CnnTrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Learning rate multiplier applied after each epoch. */
  decay: number;
  seed: number;
  onEpoch?: (epoch: number, params: CnnParams) => void;
}

/** Mini-batch Adam on mean softmax cross-entropy. Deterministic for a given seed and data order. */
export function trainCnn(xs: readonly Float32Array[], ys: readonly number[], opts: CnnTrainOptions): CnnParams {
  const p = initCnn(opts.seed);
  const g = zerosLike(p);
  const m = zerosLike(p);
  const v = zerosLike(p);
  const rand = mulberry32(opts.seed ^ 0x5bd1e995);
  const trace = newTrace();
  const order = xs.map((_, i) => i);
  let step = 0;
  let lr = opts.learningRate;
  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const perm = shuffled(order, rand);
    for (let s = 0; s < perm.length; s += opts.batchSize) {
      const batch = perm.slice(s, s + opts.batchSize);
      for (const k of KEYS) g[k].fill(0);
      for (const i of batch) {
        const x = xs[i];
        if (x === undefined) continue;
        forward(p, x, trace);
        backward(p, x, ys[i] ?? 0, trace, g, 1 / batch.length);
      }
      step++;
      const c1 = 1 - 0.9 ** step;
      const c2 = 1 - 0.999 ** step;
      for (const k of KEYS) {
        const w = p[k];
        const gk = g[k];
        const mk = m[k];
        const vk = v[k];
        for (let i = 0; i < w.length; i++) {
          const gi = gk[i] ?? 0;
          const mi = 0.9 * (mk[i] ?? 0) + 0.1 * gi;
          const vi = 0.999 * (vk[i] ?? 0) + 0.001 * gi * gi;
          mk[i] = mi;
          vk[i] = vi;
          w[i] = (w[i] ?? 0) - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + 1e-8);
        }
      }
    }
    lr *= opts.decay;
    opts.onEpoch?.(epoch, p);
  }
  return p;
}

/** Predicted class per input (the trainer's own forward pass, for validation during training). */
export function predictCnn(p: CnnParams, xs: readonly Float32Array[]): number[] {
  const t = newTrace();
  return xs.map((x) => {
    forward(p, x, t);
    let best = 0;
    for (let j = 1; j < CLASSES; j++) if ((t.logits[j] ?? 0) > (t.logits[best] ?? 0)) best = j;
    return best;
  });
}

/** ONNX: image float32 [batch, 1, 28, 28] in [0, 1] → logits, probabilities [batch, 10]. */
export function exportCnn(p: CnnParams, docString: string): Uint8Array {
  const nodes = [
    node(
      'Conv',
      [INPUT, 'conv1.weight', 'conv1.bias'],
      ['conv1'],
      { kernel_shape: attr.ints([K1, K1]) },
      { name: 'conv1/Conv' },
    ),
    node('Relu', ['conv1'], ['relu1'], {}, { name: 'relu1' }),
    node(
      'MaxPool',
      ['relu1'],
      ['pool1'],
      { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) },
      { name: 'pool1' },
    ),
    node(
      'Conv',
      ['pool1', 'conv2.weight', 'conv2.bias'],
      ['conv2'],
      { kernel_shape: attr.ints([K2, K2]) },
      { name: 'conv2/Conv' },
    ),
    node('Relu', ['conv2'], ['relu2'], {}, { name: 'relu2' }),
    node(
      'MaxPool',
      ['relu2'],
      ['pool2'],
      { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]) },
      { name: 'pool2' },
    ),
    node('Flatten', ['pool2'], ['flat'], { axis: attr.int(1) }, { name: 'flatten' }),
    node('Gemm', ['flat', 'fc1.weight', 'fc1.bias'], ['fc1'], {}, { name: 'fc1/Gemm' }),
    node('Relu', ['fc1'], ['relu3'], {}, { name: 'relu3' }),
    node('Gemm', ['relu3', 'fc2.weight', 'fc2.bias'], [LOGITS], {}, { name: 'fc2/Gemm' }),
    node('Softmax', [LOGITS], [PROBABILITIES], { axis: attr.int(-1) }, { name: 'softmax' }),
  ];
  const initializers = [
    tensor('conv1.weight', p.w1, [C1, 1, K1, K1]),
    tensor('conv1.bias', p.b1, [C1]),
    tensor('conv2.weight', p.w2, [C2, C1, K2, K2]),
    tensor('conv2.bias', p.b2, [C2]),
    tensor('fc1.weight', p.w3, [FLAT, HIDDEN]),
    tensor('fc1.bias', p.b3, [HIDDEN]),
    tensor('fc2.weight', p.w4, [HIDDEN, CLASSES]),
    tensor('fc2.bias', p.b4, [CLASSES]),
  ];
  return encode(
    model({
      docString,
      graph: graph({
        name: 'digits_mnist',
        nodes,
        inputs: [valueInfo(INPUT, 'float32', ['batch', 1, SIDE, SIDE])],
        outputs: [
          valueInfo(LOGITS, 'float32', ['batch', CLASSES]),
          valueInfo(PROBABILITIES, 'float32', ['batch', CLASSES]),
        ],
        initializers,
      }),
    }),
  );
}
