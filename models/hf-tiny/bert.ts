/**
 * @module Tiny BERTs with every head Hugging Face exports (base, sequence classification, token classification,
 * question answering), generated here (no hub) to exercise bring-your-own-model end to end: the folder
 * `optimum-cli export onnx` writes — `model.onnx` (input_ids/attention_mask/token_type_ids int64 [batch, seq]),
 * `config.json`, `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json`, `vocab.txt` — with seeded
 * random weights, so the files are byte-stable and a test can run Hugging Face's own pipelines (transformers.js) on them.
 *
 * Deliberately not a `recipe.ts` that `models:build` serves: random weights answer nothing useful. Tests, benchmarks and
 * `npm run models -- tiny HEAD DIR` write a folder and publish it through the CLI, as a user would.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  attr,
  encode,
  graph,
  model,
  node,
  tensor,
  valueInfo,
  type INodeProto,
  type ITensorProto,
} from '../lib/onnx-builder.js';
import { mulberry32 } from '../lib/train.js';

export const HIDDEN = 32;
const FFN = 64;
export const MAX_POSITIONS = 128;
const SEED = 20_240_501;
const VOCAB_WORDS = 1500;
export const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** Words of the sentiment corpus (sentiment@5.0.2 fixtures), most frequent first, ties alphabetical. */
function corpusWords(): string[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('sentiment/package.json')), 'test', 'fixtures');
  const counts = new Map<string, number>();
  for (const f of ['amazon.json', 'imdb.json', 'yelp.json']) {
    const rows = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { text?: string }[];
    for (const r of rows)
      for (const w of (r.text ?? '').toLowerCase().match(/[a-z]+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([w]) => w);
}

/** WordPiece vocabulary: specials, single characters (so nothing but exotic characters is [UNK]), ## pieces, words. */
export function vocabulary(): string[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
  const punct = '.,!?;:\'"()-/&$%*+=@#'.split('');
  const suffixes = [
    's',
    'es',
    'ed',
    'ing',
    'ly',
    'er',
    'est',
    'ness',
    'ful',
    'less',
    'able',
    'ment',
    'tion',
    'ion',
    'al',
    'y',
    'en',
    'ish',
  ];
  const vocab: string[] = [
    ...SPECIAL,
    ...letters,
    ...punct,
    ...letters.map((l) => `##${l}`),
    ...suffixes.map((s) => `##${s}`),
  ];
  const seen = new Set(vocab);
  for (const w of corpusWords()) {
    if (vocab.length >= VOCAB_WORDS + SPECIAL.length) break;
    if (!seen.has(w)) {
      seen.add(w);
      vocab.push(w);
    }
  }
  return vocab;
}

/** A BERT tokenizer.json (BertNormalizer lowercase, BertPreTokenizer, WordPiece, [CLS] A [SEP] template). */
export function tokenizerJson(vocab: readonly string[]): Record<string, unknown> {
  const id = (t: string): number => vocab.indexOf(t);
  const special = (t: string): Record<string, unknown> => ({
    id: id(t),
    content: t,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map(special),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}

/** Gaussian-ish seeded weights (sum of uniforms), scaled. */
function weights(rand: () => number, n: number, scale: number): Float32Array {
  return Float32Array.from({ length: n }, () => (rand() + rand() + rand() - 1.5) * scale);
}

/**
 * Embeddings (word + position + token type) → LayerNorm → one single-head self-attention block with the padding
 * mask → residual + LayerNorm → Tanh feed-forward → residual + LayerNorm = last_hidden_state.
 */
export type BertHead = 'base' | 'sequence-classification' | 'token-classification' | 'question-answering';

export function tinyBertOnnx(vocabSize: number, head: BertHead = 'base', numLabels = 2): Uint8Array {
  const rand = mulberry32(SEED);
  const H = HIDDEN;
  const inits: ITensorProto[] = [];
  const nodes: INodeProto[] = [];
  const w = (name: string, dims: number[], scale: number): string => {
    inits.push(
      tensor(
        name,
        weights(
          rand,
          dims.reduce((a, b) => a * b, 1),
          scale,
        ),
        dims,
      ),
    );
    return name;
  };
  const ones = (name: string, n: number, v: number): string => {
    inits.push(tensor(name, new Float32Array(n).fill(v), [n]));
    return name;
  };
  const i64 = (name: string, values: number[], dims: number[]): string => {
    inits.push(tensor(name, BigInt64Array.from(values.map(BigInt)), dims));
    return name;
  };
  const f32 = (name: string, v: number): string => {
    inits.push(tensor(name, new Float32Array([v]), []));
    return name;
  };
  const op = (type: string, ins: string[], out: string, attrs: Parameters<typeof node>[3] = {}): string => {
    nodes.push(node(type, ins, [out], attrs, { name: out }));
    return out;
  };
  const layerNorm = (x: string, prefix: string): string =>
    op('LayerNormalization', [x, ones(`${prefix}.gamma`, H, 1), ones(`${prefix}.beta`, H, 0)], `${prefix}.out`, {
      axis: attr.int(-1),
      epsilon: attr.float(1e-12),
    });
  // `gain` > 1 on the heads: random heads with unit gain answer near-uniform scores, which tell two implementations
  // apart less sharply than confident ones.
  const dense = (x: string, prefix: string, inDim: number, outDim: number, gain = 1): string =>
    op(
      'Add',
      [
        op('MatMul', [x, w(`${prefix}.weight`, [inDim, outDim], gain / Math.sqrt(inDim))], `${prefix}.matmul`),
        w(`${prefix}.bias`, [outDim], 0.02),
      ],
      `${prefix}.out`,
    );

  // Embeddings; position ids are 0..seq-1 from the input's own shape.
  const word = op('Gather', [w('embeddings.word', [vocabSize, H], 0.5), 'input_ids'], 'embeddings.word_out', {
    axis: attr.int(0),
  });
  const seqLen = op('Gather', [op('Shape', ['input_ids'], 'input_shape'), i64('one_index', [1], [])], 'seq_len', {
    axis: attr.int(0),
  });
  const positions = op('Range', [i64('zero', [0], []), seqLen, i64('one', [1], [])], 'position_ids');
  const pos = op('Gather', [w('embeddings.position', [MAX_POSITIONS, H], 0.5), positions], 'embeddings.position_out', {
    axis: attr.int(0),
  });
  const type = op('Gather', [w('embeddings.token_type', [2, H], 0.5), 'token_type_ids'], 'embeddings.type_out', {
    axis: attr.int(0),
  });
  const emb = op('Add', [op('Add', [word, pos], 'embeddings.sum1'), type], 'embeddings.sum');
  const x = layerNorm(emb, 'embeddings.norm');

  // Attention: scores [b, s, s] + (1 - mask) × -10000 over keys.
  const q = dense(x, 'attention.query', H, H);
  const k = dense(x, 'attention.key', H, H);
  const v = dense(x, 'attention.value', H, H);
  const kT = op('Transpose', [k], 'attention.key_t', { perm: attr.ints([0, 2, 1]) });
  const scores = op(
    'Mul',
    [op('MatMul', [q, kT], 'attention.qk'), f32('attention.scale', 1 / Math.sqrt(H))],
    'attention.scores',
  );
  const maskF = op('Cast', ['attention_mask'], 'attention.mask_f', { to: attr.int(1) });
  const maskBias = op(
    'Mul',
    [op('Sub', [f32('one_f', 1), maskF], 'attention.mask_inv'), f32('attention.mask_value', -10_000)],
    'attention.mask_bias',
  );
  const maskB = op('Unsqueeze', [maskBias, i64('axis_1', [1], [1])], 'attention.mask_b');
  const probs = op('Softmax', [op('Add', [scores, maskB], 'attention.masked')], 'attention.probs', {
    axis: attr.int(-1),
  });
  const ctx = op('MatMul', [probs, v], 'attention.context');
  const attnOut = dense(ctx, 'attention.output', H, H);
  const x2 = layerNorm(op('Add', [x, attnOut], 'attention.residual'), 'attention.norm');

  // Feed-forward with Tanh.
  const hidden = op('Tanh', [dense(x2, 'ffn.in', H, FFN)], 'ffn.tanh');
  const ffnOut = dense(hidden, 'ffn.out', FFN, H);
  const x3 = layerNorm(op('Add', [x2, ffnOut], 'ffn.residual'), 'ffn.norm');
  const outputs = headNodes(head, x3, numLabels, { op, dense, i64 });

  return encode(
    model({
      docString: `tiny-bert (${head}): a BERT-shaped test model with seeded random weights (not trained).`,
      graph: graph({
        name: 'tiny_bert',
        nodes,
        inputs: [
          valueInfo('input_ids', 'int64', ['batch', 'sequence']),
          valueInfo('attention_mask', 'int64', ['batch', 'sequence']),
          valueInfo('token_type_ids', 'int64', ['batch', 'sequence']),
        ],
        outputs,
        initializers: inits,
      }),
    }),
  );
}

interface Ops {
  op: (type: string, ins: string[], out: string, attrs?: Parameters<typeof node>[3]) => string;
  dense: (x: string, prefix: string, inDim: number, outDim: number, gain?: number) => string;
  i64: (name: string, values: number[], dims: number[]) => string;
}

/** The head on top of the encoder, named as Hugging Face's ONNX exports name their outputs. */
function headNodes(head: BertHead, hidden: string, numLabels: number, { op, dense, i64 }: Ops) {
  if (head === 'base') {
    op('Identity', [hidden], 'last_hidden_state');
    return [valueInfo('last_hidden_state', 'float32', ['batch', 'sequence', HIDDEN])];
  }
  if (head === 'sequence-classification') {
    // BertPooler: the [CLS] position through Dense + Tanh, then the classifier.
    const cls = op('Gather', [hidden, i64('cls_index', [0], [])], 'pooler.cls', { axis: attr.int(1) });
    const pooled = op('Tanh', [dense(cls, 'pooler.dense', HIDDEN, HIDDEN)], 'pooler.out');
    op('Identity', [dense(pooled, 'classifier', HIDDEN, numLabels, HEAD_GAIN)], 'logits');
    return [valueInfo('logits', 'float32', ['batch', numLabels])];
  }
  if (head === 'token-classification') {
    op('Identity', [dense(hidden, 'classifier', HIDDEN, numLabels, HEAD_GAIN)], 'logits');
    return [valueInfo('logits', 'float32', ['batch', 'sequence', numLabels])];
  }
  const qa = dense(hidden, 'qa_outputs', HIDDEN, 2, HEAD_GAIN);
  op('Gather', [qa, i64('start_index', [0], [])], 'start_logits', { axis: attr.int(2) });
  op('Gather', [qa, i64('end_index', [1], [])], 'end_logits', { axis: attr.int(2) });
  return [
    valueInfo('start_logits', 'float32', ['batch', 'sequence']),
    valueInfo('end_logits', 'float32', ['batch', 'sequence']),
  ];
}

const HEAD_GAIN = 4;

const ARCHITECTURES: Record<BertHead, string> = {
  base: 'BertModel',
  'sequence-classification': 'BertForSequenceClassification',
  'token-classification': 'BertForTokenClassification',
  'question-answering': 'BertForQuestionAnswering',
};

export interface TinyBertFolderOptions {
  head: BertHead;
  /** id2label in id order (classification heads). */
  labels?: string[];
  problemType?: 'single_label_classification' | 'multi_label_classification';
  /** Writes sentence-transformers' `modules.json` + `1_Pooling/config.json` with this pooling (base head). */
  pooling?: 'cls' | 'mean';
}

/**
 * Writes a whole Optimum-style folder for one head; returns the dir. `config.json` carries what Hugging Face's
 * `BertConfig` writes that the service and transformers.js read (`model_type`, `architectures`, labels, sizes).
 */
export function writeTinyBertFolder(dir: string, options: TinyBertFolderOptions): string {
  mkdirSync(dir, { recursive: true });
  const vocab = vocabulary();
  const labels = options.labels ?? (options.head === 'question-answering' ? [] : ['LABEL_0', 'LABEL_1']);
  writeFileSync(join(dir, 'model.onnx'), tinyBertOnnx(vocab.length, options.head, labels.length));
  writeFileSync(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerJson(vocab))}\n`);
  const json = (name: string, value: unknown): void =>
    writeFileSync(join(dir, name), `${JSON.stringify(value, null, 2)}\n`);
  json('config.json', {
    _name_or_path: `tiny-bert-${options.head}`,
    architectures: [ARCHITECTURES[options.head]],
    model_type: 'bert',
    hidden_size: HIDDEN,
    intermediate_size: FFN,
    num_attention_heads: 1,
    num_hidden_layers: 1,
    max_position_embeddings: MAX_POSITIONS,
    type_vocab_size: 2,
    vocab_size: vocab.length,
    pad_token_id: 0,
    hidden_act: 'gelu',
    layer_norm_eps: 1e-12,
    ...(labels.length === 0
      ? {}
      : {
          id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
          label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
        }),
    ...(options.problemType === undefined ? {} : { problem_type: options.problemType }),
    transformers_version: '4.46.0',
  });
  const specials = {
    cls_token: '[CLS]',
    mask_token: '[MASK]',
    pad_token: '[PAD]',
    sep_token: '[SEP]',
    unk_token: '[UNK]',
  };
  json('tokenizer_config.json', {
    ...specials,
    clean_up_tokenization_spaces: true,
    do_lower_case: true,
    model_max_length: MAX_POSITIONS,
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: 'BertTokenizer',
  });
  json('special_tokens_map.json', specials);
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  if (options.pooling !== undefined) {
    json('modules.json', [
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
    ]);
    mkdirSync(join(dir, '1_Pooling'), { recursive: true });
    json(join('1_Pooling', 'config.json'), {
      word_embedding_dimension: HIDDEN,
      pooling_mode_cls_token: options.pooling === 'cls',
      pooling_mode_mean_tokens: options.pooling === 'mean',
      pooling_mode_max_tokens: false,
      pooling_mode_mean_sqrt_len_tokens: false,
    });
  }
  return dir;
}

/** Writes `model.onnx` and `tokenizer.json` into dir (a Hugging Face export's layout); returns the dir. */
export function writeTinyBert(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const vocab = vocabulary();
  writeFileSync(join(dir, 'model.onnx'), tinyBertOnnx(vocab.length));
  writeFileSync(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizerJson(vocab))}\n`);
  return dir;
}
