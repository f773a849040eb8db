/**
 * @module Real byte-pair-encoding tokenizers for the tiny decoder folders (models/hf-tiny/gpt2.ts, llama.ts), learned
 * here from the sentiment package's review texts (sentiment@5.0.2 fixtures, as models/hf-tiny/bert.ts reads them) and
 * written in Hugging Face's formats: GPT-2's byte-level BPE (`tokenizer.json`, `vocab.json`, `merges.txt`) and the
 * SentencePiece-converted BPE of Llama-2 / TinyLlama (`▁` word marks, `<0xNN>` byte fallback, `<s>` template).
 *
 * The merge learner is written here because no JavaScript library trains BPE tokenizers (@huggingface/tokenizers and
 * transformers.js only load them). It is the classic algorithm (Sennrich et al.): count adjacent symbol pairs over the
 * corpus's words, merge the most frequent pair (ties broken by the pair's text, so the result is byte-stable), repeat.
 * Any merge list whose results are all in the vocabulary is a valid BPE model, so the loaders apply these exactly as
 * they apply GPT-2's or Llama's own.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** GPT-2's one special token: beginning and end of text, and its unknown token. */
export const GPT2_EOS = '<|endoftext|>';
/** Llama's specials, at ids 0, 1, 2 as in Llama-2 / TinyLlama. */
export const LLAMA_UNK = '<unk>';
export const LLAMA_BOS = '<s>';
export const LLAMA_EOS = '</s>';
/** SentencePiece's word mark (U+2581), which stands for a space. */
export const METASPACE = '\u2581';

/** Merges per tokenizer: enough for common English words to be one or two tokens, small enough to learn in ~1 s. */
export const DEFAULT_MERGES = 500;

/** A learned vocabulary: tokens in id order (specials included) and the merges in rank order. */
export interface BpeVocabulary {
  tokens: string[];
  merges: [string, string][];
}

/** The review texts of sentiment@5.0.2's fixtures, one per line, in file order. */
export function corpusLines(): string[] {
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('sentiment/package.json')), 'test', 'fixtures');
  const lines: string[] = [];
  for (const f of ['amazon.json', 'imdb.json', 'yelp.json']) {
    const rows = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { text?: string }[];
    for (const r of rows) for (const line of (r.text ?? '').split('\n')) if (line.trim() !== '') lines.push(line);
  }
  return lines;
}

/**
 * Learns up to `numMerges` merges over words given with their counts; every word's characters must be in
 * `alphabet`. Incremental: only the words that hold the merged pair are recounted, so 500 merges take well under a
 * second on this corpus.
 */
export function learnMerges(
  wordCounts: ReadonlyMap<string, number>,
  alphabet: readonly string[],
  numMerges: number,
): [string, string][] {
  const symbols: string[] = [...alphabet];
  const symbolIds = new Map(symbols.map((s, i) => [s, i]));
  // Pair keys pack two symbol ids; ids stay far below 2^20, so the product stays an exact double.
  const SHIFT = 1 << 20;
  const key = (a: number, b: number): number => a * SHIFT + b;
  const words: { syms: number[]; count: number }[] = [];
  for (const [word, count] of wordCounts) {
    const syms = Array.from(word, (ch) => {
      const id = symbolIds.get(ch);
      if (id === undefined) throw new Error(`learnMerges: character ${JSON.stringify(ch)} is not in the alphabet`);
      return id;
    });
    words.push({ syms, count });
  }
  const pairCounts = new Map<number, number>();
  // Words that held a pair at some point; stale entries are harmless (the merge finds nothing to do there).
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1): void => {
    const word = words[w];
    if (word === undefined) return;
    for (let i = 0; i + 1 < word.syms.length; i++) {
      const k = key(word.syms[i] ?? 0, word.syms[i + 1] ?? 0);
      const c = (pairCounts.get(k) ?? 0) + sign * word.count;
      if (c === 0) pairCounts.delete(k);
      else pairCounts.set(k, c);
      if (sign === 1) {
        let set = pairWords.get(k);
        if (set === undefined) pairWords.set(k, (set = new Set()));
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const sym = (id: number): string => symbols[id] ?? '';
  const merges: [string, string][] = [];
  while (merges.length < numMerges) {
    let best = -1;
    let bestCount = 1; // a pair seen once is not worth a token
    for (const [k, c] of pairCounts) {
      if (c < bestCount) continue;
      if (c === bestCount && best >= 0) {
        // Tie: the pair whose texts sort first wins, so the order never depends on Map insertion history.
        const [a, b] = [Math.floor(k / SHIFT), k % SHIFT];
        const [ba, bb] = [Math.floor(best / SHIFT), best % SHIFT];
        const cmp = sym(a) < sym(ba) ? -1 : sym(a) > sym(ba) ? 1 : sym(b) < sym(bb) ? -1 : sym(b) > sym(bb) ? 1 : 0;
        if (cmp >= 0) continue;
      }
      best = k;
      bestCount = c;
    }
    if (best < 0) break;
    const a = Math.floor(best / SHIFT);
    const b = best % SHIFT;
    const merged = sym(a) + sym(b);
    let id = symbolIds.get(merged);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(merged);
      symbolIds.set(merged, id);
    }
    merges.push([sym(a), sym(b)]);
    for (const w of [...(pairWords.get(best) ?? [])]) {
      const word = words[w];
      if (word === undefined) continue;
      addPairs(w, -1);
      const out: number[] = [];
      for (let i = 0; i < word.syms.length; i++) {
        if (word.syms[i] === a && word.syms[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(word.syms[i] ?? 0);
      }
      word.syms = out;
      addPairs(w, 1);
    }
    pairWords.delete(best);
  }
  return merges;
}

/** Tokens made by the merges, in merge order, without repeats and without tokens already in `known`. */
function mergedTokens(merges: readonly [string, string][], known: ReadonlySet<string>): string[] {
  const seen = new Set(known);
  const out: string[] = [];
  for (const [a, b] of merges) {
    const t = a + b;
    if (!seen.has(t)) {
      seen.add(t);
      out.push(t);
    }
  }
  return out;
}

function countInto(counts: Map<string, number>, pieces: Iterable<string>): void {
  for (const p of pieces) counts.set(p, (counts.get(p) ?? 0) + 1);
}

// ---------------------------------------------------------------------------------------------------------------
// GPT-2: byte-level BPE

/**
 * GPT-2's `bytes_to_unicode`: byte → printable character, in GPT-2's order (the printable Latin-1 bytes keep their
 * own character, the rest map to U+0100 on). The first 256 vocabulary ids are these characters in this order.
 */
export function bytesToUnicode(): { bytes: number[]; chars: string[] } {
  const bytes: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bytes.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bytes.push(b);
  for (let b = 0xae; b <= 0xff; b++) bytes.push(b);
  const codes = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      codes.push(256 + n);
      n++;
    }
  }
  return { bytes, chars: codes.map((c) => String.fromCharCode(c)) };
}

/** GPT-2's pre-tokenizer pattern (the ByteLevel pre-tokenizer's `use_regex`), as the loaders spell it. */
const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const vocabularies = new Map<string, BpeVocabulary>();

/** GPT-2-style vocabulary: 256 byte symbols, merged tokens, `<|endoftext|>` last (as 50256 is in GPT-2). */
export function gpt2Vocabulary(numMerges = DEFAULT_MERGES): BpeVocabulary {
  const cacheKey = `gpt2:${numMerges}`;
  const cached = vocabularies.get(cacheKey);
  if (cached !== undefined) return cached;
  const { bytes, chars } = bytesToUnicode();
  const byteChar = new Map(bytes.map((b, i) => [b, chars[i] ?? '']));
  const utf8 = new TextEncoder();
  const counts = new Map<string, number>();
  for (const line of corpusLines()) {
    // Lines end in a newline so the learner sees "\n" pieces as the loaders will.
    const pieces = `${line}\n`.match(GPT2_PATTERN) ?? [];
    countInto(
      counts,
      pieces.map((p) => Array.from(utf8.encode(p), (b) => byteChar.get(b) ?? '').join('')),
    );
  }
  const merges = learnMerges(counts, chars, numMerges);
  const vocab: BpeVocabulary = { tokens: [...chars, ...mergedTokens(merges, new Set(chars)), GPT2_EOS], merges };
  vocabularies.set(cacheKey, vocab);
  return vocab;
}

function specialToken(id: number, content: string, normalized: boolean): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized, special: true };
}

const vocabObject = (tokens: readonly string[]): Record<string, number> =>
  Object.fromEntries(tokens.map((t, i) => [t, i]));

/** GPT-2's tokenizer.json: ByteLevel pre-tokenizer / post-processor / decoder around the BPE model. */
export function gpt2TokenizerJson(vocab: BpeVocabulary): Record<string, unknown> {
  const eosId = vocab.tokens.indexOf(GPT2_EOS);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [specialToken(eosId, GPT2_EOS, true)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObject(vocab.tokens),
      merges: vocab.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** File name → content of GPT-2's tokenizer files (tokenizer.json, vocab.json, merges.txt, configs). */
export function gpt2TokenizerFiles(vocab: BpeVocabulary, modelMaxLength: number): Record<string, string> {
  const eosId = vocab.tokens.indexOf(GPT2_EOS);
  const specials = { bos_token: GPT2_EOS, eos_token: GPT2_EOS, unk_token: GPT2_EOS };
  return {
    'tokenizer.json': `${JSON.stringify(gpt2TokenizerJson(vocab))}\n`,
    'vocab.json': `${JSON.stringify(vocabObject(vocab.tokens))}\n`,
    'merges.txt': `#version: 0.2\n${vocab.merges.map(([a, b]) => `${a} ${b}\n`).join('')}`,
    'tokenizer_config.json': pretty({
      add_bos_token: false,
      add_prefix_space: false,
      added_tokens_decoder: { [String(eosId)]: specialToken(eosId, GPT2_EOS, true) },
      ...specials,
      // false (GPT-2 on the hub says true): the clean-up rewrites " ." as "." and so breaks decode(encode(x)) == x.
      clean_up_tokenization_spaces: false,
      errors: 'replace',
      model_max_length: modelMaxLength,
      pad_token: null,
      tokenizer_class: 'GPT2Tokenizer',
    }),
    'special_tokens_map.json': pretty(specials),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Llama: SentencePiece-converted BPE with byte fallback

const LLAMA_SPECIALS = [LLAMA_UNK, LLAMA_BOS, LLAMA_EOS] as const;

/** The `<0xNN>` byte-fallback tokens, ids 3..258 as in Llama-2. */
export function byteTokens(): string[] {
  return Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
}

/**
 * SentencePiece-like pieces of one line: spaces become `▁`, one leads the line (the Prepend normalizer), and a piece
 * is a run of letters, one digit (Llama splits digits) or a run of other characters, each with its leading `▁`.
 */
function llamaPieces(line: string): string[] {
  const text = METASPACE + line.replaceAll(' ', METASPACE);
  return text.match(/▁?\p{L}+|▁?\p{N}|▁?[^\p{L}\p{N}▁]+|▁+/gu) ?? [];
}

/** Llama-style vocabulary: `<unk>` `<s>` `</s>`, the 256 byte tokens, merged pieces, then single characters. */
export function llamaVocabulary(numMerges = DEFAULT_MERGES): BpeVocabulary {
  const cacheKey = `llama:${numMerges}`;
  const cached = vocabularies.get(cacheKey);
  if (cached !== undefined) return cached;
  const counts = new Map<string, number>();
  for (const line of corpusLines()) countInto(counts, llamaPieces(line));
  // The alphabet: every character of the corpus, most frequent first (SentencePiece lists characters by score too).
  const charCounts = new Map<string, number>();
  for (const [piece, c] of counts) for (const ch of piece) charCounts.set(ch, (charCounts.get(ch) ?? 0) + c);
  const alphabet = [...charCounts]
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .map(([ch]) => ch);
  const merges = learnMerges(counts, alphabet, numMerges);
  const head = [...LLAMA_SPECIALS, ...byteTokens()];
  const merged = mergedTokens(merges, new Set([...head, ...alphabet]));
  const vocab: BpeVocabulary = { tokens: [...head, ...merged, ...alphabet], merges };
  vocabularies.set(cacheKey, vocab);
  return vocab;
}

/**
 * How the SentencePiece conversion marks word starts. `legacy` is Llama-2 / TinyLlama's tokenizer.json: normalizer
 * Prepend("▁") then Replace(" " → "▁"), no pre-tokenizer (the `▁` is prepended to every section between special
 * tokens). `metaspace` is what transformers ≥ 4.41 writes with `legacy: false`: no normalizer, pre-tokenizer
 * Metaspace(prepend_scheme "first", split false), so only the text's first section gets the `▁`.
 */
export type LlamaTokenizerForm = 'legacy' | 'metaspace';

/**
 * A Llama tokenizer.json: the word-start form above, BPE with byte fallback, the `<s> A` template, and a decoder that
 * turns `▁` back into spaces, joins byte tokens into UTF-8, and drops the one space the prefix `▁` became.
 */
export function llamaTokenizerJson(vocab: BpeVocabulary, form: LlamaTokenizerForm = 'legacy'): Record<string, unknown> {
  const id = (t: string): number => vocab.tokens.indexOf(t);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: LLAMA_SPECIALS.map((t) => specialToken(id(t), t, false)),
    normalizer:
      form === 'legacy'
        ? {
            type: 'Sequence',
            normalizers: [
              { type: 'Prepend', prepend: METASPACE },
              { type: 'Replace', pattern: { String: ' ' }, content: METASPACE },
            ],
          }
        : null,
    pre_tokenizer:
      form === 'legacy' ? null : { type: 'Metaspace', replacement: METASPACE, prepend_scheme: 'first', split: false },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: LLAMA_BOS, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: LLAMA_BOS, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: LLAMA_BOS, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [LLAMA_BOS]: { id: LLAMA_BOS, ids: [id(LLAMA_BOS)], tokens: [LLAMA_BOS] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: METASPACE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: LLAMA_UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: vocabObject(vocab.tokens),
      merges: vocab.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * A Zephyr / TinyLlama-chat-like template: `<s>` once, then per message `<|role|>\n` + content + `</s>\n`, and
 * `<|assistant|>\n` to prompt the reply. Unknown roles raise, as Llama-2's template does.
 */
export const LLAMA_CHAT_TEMPLATE =
  '{{ bos_token }}' +
  '{% for message in messages %}' +
  "{% if message['role'] not in ['system', 'user', 'assistant'] %}" +
  "{{ raise_exception('Conversation roles must be system, user or assistant') }}" +
  '{% endif %}' +
  "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}" +
  '{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

/** File name → content of Llama's tokenizer files (tokenizer.json, tokenizer_config.json, special_tokens_map.json). */
export function llamaTokenizerFiles(
  vocab: BpeVocabulary,
  modelMaxLength: number,
  form: LlamaTokenizerForm = 'legacy',
): Record<string, string> {
  const id = (t: string): number => vocab.tokens.indexOf(t);
  const specials = { bos_token: LLAMA_BOS, eos_token: LLAMA_EOS, unk_token: LLAMA_UNK };
  return {
    'tokenizer.json': `${JSON.stringify(llamaTokenizerJson(vocab, form))}\n`,
    'tokenizer_config.json': pretty({
      add_bos_token: true,
      add_eos_token: false,
      added_tokens_decoder: Object.fromEntries(
        LLAMA_SPECIALS.map((t) => [String(id(t)), specialToken(id(t), t, false)]),
      ),
      ...specials,
      chat_template: LLAMA_CHAT_TEMPLATE,
      clean_up_tokenization_spaces: false,
      legacy: form === 'legacy',
      model_max_length: modelMaxLength,
      pad_token: null,
      padding_side: 'left',
      sp_model_kwargs: {},
      tokenizer_class: 'LlamaTokenizer',
      use_default_system_prompt: false,
    }),
    'special_tokens_map.json': pretty(specials),
  };
}

function pretty(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Writes file name → content into dir (created); returns the dir. */
export function writeTextFiles(dir: string, files: Readonly<Record<string, string>>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}
