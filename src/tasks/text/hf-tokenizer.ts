/**
 * @module Hugging Face tokenizers for the task modules: a model version's `tokenizer.json` parsed once (with
 * @huggingface/tokenizers, pure JS), encodings with character offsets into the caller's text, and sequences and pairs
 * assembled with the tokenizer's own post-processor template (`[CLS] A [SEP] B [SEP]`, `<s> A </s></s> B </s>`).
 *
 * Written here, not taken from the library: @huggingface/tokenizers returns ids and tokens but no offset mapping,
 * and it cannot build a pair from a window of a longer text (question answering's strided contexts). Offsets come
 * from aligning each token's surface form with the text normalised character by character, which is exact for
 * WordPiece (BERT, DistilBERT, ELECTRA), Metaspace (SentencePiece) and byte-level BPE (RoBERTa, GPT-2) vocabularies.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import type { Manifest } from '../../lib/manifest.js';
import { loadJsonObject, versionCache } from '../model-files.js';
import type { TaskContext } from '../task.js';

/** Manifest `preprocess` of transformer text models (written by the publish CLI from the Hugging Face folder). */
export const HfTokenizerConfigSchema = z.object({
  kind: z.literal('hf-tokenizer'),
  tokenizer_file: z.string().default('tokenizer.json'),
  tokenizer_config_file: z.string().optional(),
  /** Longest token sequence fed to the model, special tokens included (config's max_position_embeddings, capped). */
  max_length: z.number().int().min(4).default(512),
  pad_token_id: z.number().int().nonnegative().default(0),
});
export type HfTokenizerConfig = z.infer<typeof HfTokenizerConfigSchema>;

/** One token of one text: its id, its vocabulary form and where it came from in the text (UTF-16, end exclusive). */
export interface TokenSpan {
  id: number;
  token: string;
  start: number;
  end: number;
}

/** A model input row built from one or two sequences. */
export interface Assembled {
  ids: number[];
  typeIds: number[];
  /** Per position: which sequence it belongs to (0, 1) or null for a special token the template added. */
  sequence: (0 | 1 | null)[];
  /** Per position: the index into that sequence's spans, or -1 for a special token. */
  spanIndex: number[];
}

type Piece = { special: number[]; typeId: number } | { sequence: 0 | 1; typeId: number };

/** The parsed tokenizer of one model version, with what offsets and pair assembly need from its JSON. */
export interface LoadedTokenizer {
  tokenizer: Tokenizer;
  /** Template pieces for a single sequence and for a pair. */
  single: Piece[];
  pair: Piece[];
  /** How a token's surface form is read back: strip a WordPiece prefix, map byte-level characters, or metaspace. */
  surface: (token: string) => string;
  specialIds: ReadonlySet<number>;
  unkId: number | undefined;
  /** WordPiece's continuing-subword prefix (`##`), undefined for vocabularies that mark word starts instead. */
  continuingPrefix: string | undefined;
}

const tokenizers = versionCache<LoadedTokenizer>();

export function hfTokenizerConfig(manifest: Manifest): HfTokenizerConfig {
  return HfTokenizerConfigSchema.parse(manifest.preprocess);
}

/**
 * The model's tokenizer, parsed once per isolate (or origin process) and file digest. `files` names them (the
 * manifest's own `preprocess` by default; feature-extraction manifests name them without a kind).
 */
export function loadTokenizer(
  manifest: Manifest,
  context: TaskContext,
  files: { tokenizer_file: string; tokenizer_config_file?: string | undefined } = hfTokenizerConfig(manifest),
): Promise<LoadedTokenizer> {
  return tokenizers(manifest, [files.tokenizer_file, files.tokenizer_config_file], async () => {
    const json = await loadJsonObject(context, files.tokenizer_file);
    const extra =
      files.tokenizer_config_file === undefined ? {} : await loadJsonObject(context, files.tokenizer_config_file);
    return prepareTokenizer(json, extra);
  });
}

const record = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Builds the loaded form from a parsed `tokenizer.json` (+ `tokenizer_config.json`); the publish CLI checks with it. */
export function prepareTokenizer(json: Record<string, unknown>, extra: object): LoadedTokenizer {
  const tokenizer = new Tokenizer(json, extra);
  const specialIds = new Set<number>();
  for (const [id, t] of tokenizer.get_added_tokens_decoder()) if (t.special) specialIds.add(id);
  const model = record(json['model']);
  const unkToken = typeof model['unk_token'] === 'string' ? model['unk_token'] : undefined;
  const { single, pair } = templates(record(json['post_processor']), tokenizer);
  const prefix = model['continuing_subword_prefix'];
  return {
    tokenizer,
    single,
    pair,
    surface: surfaceReader(json),
    specialIds,
    unkId: unkToken === undefined ? undefined : tokenizer.token_to_id(unkToken),
    continuingPrefix: model['type'] === 'WordPiece' ? (typeof prefix === 'string' ? prefix : '##') : undefined,
  };
}

function idOf(tokenizer: Tokenizer, token: string): number {
  const id = tokenizer.token_to_id(token);
  if (id === undefined)
    throw new Error(`tokenizer.json: the post-processor names ${token}, which is not in the vocabulary`);
  return id;
}

/** The post-processor as template pieces (TemplateProcessing, BertProcessing, RobertaProcessing, or none). */
function templates(post: Record<string, unknown>, tokenizer: Tokenizer): { single: Piece[]; pair: Piece[] } {
  const type = post['type'];
  const tokenPair = (v: unknown): number[] => {
    if (Array.isArray(v) && typeof v[0] === 'string') return [idOf(tokenizer, v[0])];
    if (Array.isArray(v) && typeof v[1] === 'number') return [v[1]];
    return [];
  };
  if (type === 'BertProcessing' || type === 'RobertaProcessing') {
    const cls = tokenPair(post['cls']);
    const sep = tokenPair(post['sep']);
    const roberta = type === 'RobertaProcessing';
    return {
      single: [
        { special: cls, typeId: 0 },
        { sequence: 0, typeId: 0 },
        { special: sep, typeId: 0 },
      ],
      pair: [
        { special: cls, typeId: 0 },
        { sequence: 0, typeId: 0 },
        { special: roberta ? [...sep, ...sep] : sep, typeId: 0 },
        { sequence: 1, typeId: roberta ? 0 : 1 },
        { special: sep, typeId: roberta ? 0 : 1 },
      ],
    };
  }
  if (type === 'TemplateProcessing') {
    const specials = record(post['special_tokens']);
    const read = (list: unknown): Piece[] =>
      (Array.isArray(list) ? list : []).map((item): Piece => {
        const r = record(item);
        if ('SpecialToken' in r) {
          const s = record(r['SpecialToken']);
          const name = typeof s['id'] === 'string' ? s['id'] : '';
          const ids = record(specials[name])['ids'];
          return {
            special: Array.isArray(ids) ? ids.filter((x): x is number => typeof x === 'number') : [],
            typeId: typeof s['type_id'] === 'number' ? s['type_id'] : 0,
          };
        }
        const s = record(r['Sequence']);
        return { sequence: s['id'] === 'B' ? 1 : 0, typeId: typeof s['type_id'] === 'number' ? s['type_id'] : 0 };
      });
    return { single: read(post['single']), pair: read(post['pair']) };
  }
  return {
    single: [{ sequence: 0, typeId: 0 }],
    pair: [
      { sequence: 0, typeId: 0 },
      { sequence: 1, typeId: 1 },
    ],
  };
}

/** GPT-2's byte ↔ printable-character table, inverted: byte-level BPE tokens back to bytes. */
function byteDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n);
      n += 1;
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i] ?? b), b]));
}

function surfaceReader(json: Record<string, unknown>): (token: string) => string {
  const model = record(json['model']);
  const pre = JSON.stringify(json['pre_tokenizer'] ?? null);
  if (pre.includes('"ByteLevel"')) {
    const table = byteDecoder();
    const utf8 = new TextDecoder();
    // Byte-level vocabularies map each byte to one code point, so splitting by code point is exact here.
    return (token) => utf8.decode(Uint8Array.from(Array.from(token, (c) => table.get(c) ?? 63))).trim();
  }
  if (pre.includes('"Metaspace"') || model['type'] === 'Unigram')
    return (token) => token.replaceAll('\u2581', ' ').trim();
  const prefix = typeof model['continuing_subword_prefix'] === 'string' ? model['continuing_subword_prefix'] : '##';
  return (token) => (token.startsWith(prefix) ? token.slice(prefix.length) : token);
}

/**
 * The text normalised character by character (the tokenizer's own normalizer), with the original index of every
 * normalised character: a token found in the normalised text maps back to its original characters.
 */
function normalisedWithMap(
  loaded: LoadedTokenizer,
  text: string,
): { norm: string; origin: number[]; originEnd: number[] } {
  const normalizer = loaded.tokenizer.normalizer;
  let norm = '';
  const origin: number[] = [];
  const originEnd: number[] = [];
  let i = 0;
  for (const ch of text) {
    const n = normalizer === null ? ch : normalizer.normalize(ch);
    norm += n;
    for (let k = 0; k < n.length; k++) {
      origin.push(i);
      originEnd.push(i + ch.length);
    }
    i += ch.length;
  }
  return { norm, origin, originEnd };
}

/** Tokenises one text without special tokens, each token with its character span in `text`. */
export function encodeWithOffsets(loaded: LoadedTokenizer, text: string): TokenSpan[] {
  const e = loaded.tokenizer.encode(text, { add_special_tokens: false });
  const { norm, origin, originEnd } = normalisedWithMap(loaded, text);
  const lower = norm.toLowerCase();
  const spans: TokenSpan[] = [];
  let cursor = 0;
  const skipSpace = (): void => {
    while (cursor < norm.length && /\s/u.test(norm[cursor] ?? '')) cursor++;
  };
  // Start of the normalised character n, and end of the one before normalised position n (n exclusive).
  const at = (n: number): number => origin[n] ?? text.length;
  const endAt = (n: number): number => (n <= 0 ? 0 : (originEnd[n - 1] ?? text.length));
  e.ids.forEach((id, k) => {
    const token = e.tokens[k] ?? '';
    skipSpace();
    const surface = id === loaded.unkId ? '' : loaded.surface(token);
    let found = surface.length > 0 ? norm.indexOf(surface, cursor) : -1;
    // Case-insensitive vocabularies seen through a case-preserving normaliser, and the odd token the normaliser
    // changed (a stripped accent): look again without case.
    if (found === -1 && surface.length > 0) found = lower.indexOf(surface.toLowerCase(), cursor);
    if (found !== -1 && found - cursor <= 1 + surface.length * 4) {
      spans.push({ id, token, start: at(found), end: endAt(found + surface.length) });
      cursor = found + surface.length;
      return;
    }
    // An unknown token stands for the rest of its pre-token (BERT replaces the whole word with [UNK]).
    const rest = norm.slice(cursor);
    const word = loaded.tokenizer.pre_tokenizer?.pre_tokenize_text(rest)[0] ?? rest.split(/\s/u)[0] ?? '';
    const wordAt = word.length > 0 ? norm.indexOf(word, cursor) : cursor;
    const from = wordAt === -1 ? cursor : wordAt;
    const to = Math.max(from + Math.max(word.length, 1), from);
    spans.push({ id, token, start: at(from), end: endAt(Math.min(to, norm.length)) });
    cursor = Math.min(to, norm.length);
  });
  return spans;
}

/** Builds a model row from one or two token lists with the tokenizer's template. */
export function assemble(loaded: LoadedTokenizer, a: readonly TokenSpan[], b?: readonly TokenSpan[]): Assembled {
  const out: Assembled = { ids: [], typeIds: [], sequence: [], spanIndex: [] };
  for (const piece of b === undefined ? loaded.single : loaded.pair) {
    if ('special' in piece) {
      for (const id of piece.special) {
        out.ids.push(id);
        out.typeIds.push(piece.typeId);
        out.sequence.push(null);
        out.spanIndex.push(-1);
      }
      continue;
    }
    const spans = piece.sequence === 0 ? a : (b ?? []);
    spans.forEach((s, i) => {
      out.ids.push(s.id);
      out.typeIds.push(piece.typeId);
      out.sequence.push(piece.sequence);
      out.spanIndex.push(i);
    });
  }
  return out;
}

/** How many special tokens the template adds around one sequence (1) or a pair (2). */
export function specialCount(loaded: LoadedTokenizer, pair: boolean): number {
  return (pair ? loaded.pair : loaded.single).reduce((n, p) => n + ('special' in p ? p.special.length : 0), 0);
}

/**
 * int64 [batch, seq] feeds for assembled rows, padded with the model's pad id; only the inputs the graph declares
 * (DistilBERT and many exports take no token_type_ids).
 */
export function transformerFeeds(
  rows: readonly Assembled[],
  manifest: Manifest,
): Record<string, { type: 'int64'; dims: number[]; data: BigInt64Array }> {
  const cfg = hfTokenizerConfig(manifest);
  const batch = rows.length;
  const seq = Math.max(1, ...rows.map((r) => r.ids.length));
  const ids = new BigInt64Array(batch * seq).fill(BigInt(cfg.pad_token_id));
  const mask = new BigInt64Array(batch * seq);
  const types = new BigInt64Array(batch * seq);
  rows.forEach((r, b) =>
    r.ids.forEach((id, t) => {
      ids[b * seq + t] = BigInt(id);
      mask[b * seq + t] = 1n;
      types[b * seq + t] = BigInt(r.typeIds[t] ?? 0);
    }),
  );
  const dims = [batch, seq];
  const byName = {
    input_ids: { type: 'int64' as const, dims, data: ids },
    attention_mask: { type: 'int64' as const, dims, data: mask },
    token_type_ids: { type: 'int64' as const, dims, data: types },
  };
  const feeds: Record<string, { type: 'int64'; dims: number[]; data: BigInt64Array }> = {};
  for (const input of manifest.inputs) {
    const t = (byName as Record<string, (typeof byName)['input_ids'] | undefined>)[input.name];
    if (t === undefined) throw new Error(`${manifest.id} takes input ${input.name}, which a text task cannot feed`);
    feeds[input.name] = t;
  }
  return feeds;
}

/** Joins tokens back into text with the tokenizer's decoder (Hugging Face's `convert_tokens_to_string`). */
export function tokensToString(loaded: LoadedTokenizer, tokens: readonly string[]): string {
  const decoder = loaded.tokenizer.decoder;
  return decoder === null ? tokens.join(' ') : decoder.decode([...tokens]);
}

/**
 * Whether token k continues the word token k-1 began: WordPiece marks continuations (`##ing`); other vocabularies
 * mark word starts, so there a token continues a word when it touches the previous one with nothing between.
 */
export function continuesWord(loaded: LoadedTokenizer, spans: readonly TokenSpan[], k: number): boolean {
  const span = spans[k];
  const prev = spans[k - 1];
  if (span === undefined || prev === undefined) return false;
  if (loaded.continuingPrefix !== undefined) return span.token.startsWith(loaded.continuingPrefix);
  return prev.end === span.start && /[\p{L}\p{N}]/u.test(span.token.slice(-1));
}

/** Word index of every span (a word: a first token and its continuations). */
export function wordIds(loaded: LoadedTokenizer, spans: readonly TokenSpan[]): number[] {
  const ids: number[] = [];
  let word = -1;
  spans.forEach((_, k) => {
    if (!continuesWord(loaded, spans, k)) word += 1;
    ids.push(word);
  });
  return ids;
}

/** One text as a model row: tokens truncated to fit `maxLength` with the template's special tokens. */
export function encodeSingle(
  loaded: LoadedTokenizer,
  text: string,
  maxLength: number,
): { spans: TokenSpan[]; row: Assembled } {
  const spans = encodeWithOffsets(loaded, text).slice(0, Math.max(0, maxLength - specialCount(loaded, false)));
  return { spans, row: assemble(loaded, spans) };
}
