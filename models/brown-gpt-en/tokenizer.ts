/**
 * @module brown-gpt-en's character tokenizer: the vocabulary (end-of-text, unknown, then every character seen often
 * enough in the training files), encoding text to ids, and the Hugging Face files that describe it. tokenizer.json is
 * a BPE model whose vocabulary is the characters and which has no merges, no normalizer, no pre-tokenizer and a Fuse
 * decoder: every character is its own token and decoding concatenates them, so spaces, newlines and punctuation
 * round-trip exactly. Both @huggingface/tokenizers (the service) and transformers.js's AutoTokenizer load it the same
 * way (transformers.js bundles the same tokenizer code); test/node/brown-gpt-en.test.ts checks both.
 */

/** GPT-2's name for its one special token; here it is both bos and eos (documents start with it in training). */
export const EOT = '<|endoftext|>';
/** Stands for characters outside the vocabulary (rare in training, or never seen). */
export const UNK = '<|unk|>';
export const EOT_ID = 0;
export const UNK_ID = 1;
/** A character is a token of its own when it occurs at least this often in the training text. */
export const MIN_CHAR_COUNT = 20;

export interface CharVocab {
  /** Token strings by id: EOT, UNK, then characters in code-point order. */
  tokens: string[];
  /** Characters seen in training but too rare for a token of their own (mapped to UNK), with their counts. */
  rare: Record<string, number>;
}

/** The vocabulary of the training text (counted by code point, so a non-BMP character would be one token). */
export function buildVocab(trainingText: Iterable<string>): CharVocab {
  const counts = new Map<string, number>();
  for (const text of trainingText) for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const chars = [...counts.keys()].sort((a, b) => (a.codePointAt(0) ?? 0) - (b.codePointAt(0) ?? 0));
  const kept = chars.filter((c) => (counts.get(c) ?? 0) >= MIN_CHAR_COUNT);
  const rare = Object.fromEntries(chars.filter((c) => !kept.includes(c)).map((c) => [c, counts.get(c) ?? 0]));
  return { tokens: [EOT, UNK, ...kept], rare };
}

/** Encodes text to ids the way tokenizer.json does: one id per code point, UNK for characters not in the vocabulary. */
export function encoder(vocab: CharVocab): (text: string) => Int32Array {
  const index = new Map(vocab.tokens.map((t, i) => [t, i]));
  return (text: string) => {
    const out: number[] = [];
    for (const ch of text) out.push(index.get(ch) ?? UNK_ID);
    return Int32Array.from(out);
  };
}

function addedToken(id: number, content: string): Record<string, unknown> {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

/** tokenizer.json: characters as a merge-free BPE vocabulary, Fuse decoder, no normalizer / pre-tokenizer / template. */
export function tokenizerJson(vocab: CharVocab): Record<string, unknown> {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(EOT_ID, EOT), addedToken(UNK_ID, UNK)],
    normalizer: null,
    pre_tokenizer: null,
    // No template: generation prompts are encoded as given (GPT-2 adds no bos either).
    post_processor: null,
    decoder: { type: 'Fuse' },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: UNK,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab.tokens.map((t, i) => [t, i])),
      merges: [],
    },
  };
}

/**
 * tokenizer_config.json. `clean_up_tokenization_spaces: false` matters: both libraries default it to true, which
 * would delete the space in " ." or " 's" on decode and break the exact round trip of running text.
 */
export function tokenizerConfigJson(maxLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: false,
    add_eos_token: false,
    bos_token: EOT,
    eos_token: EOT,
    unk_token: UNK,
    pad_token: EOT,
    model_max_length: maxLength,
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: {
      [String(EOT_ID)]: addedToken(EOT_ID, EOT),
      [String(UNK_ID)]: addedToken(UNK_ID, UNK),
    },
  };
}

export function specialTokensMapJson(): Record<string, unknown> {
  return { bos_token: EOT, eos_token: EOT, unk_token: UNK, pad_token: EOT };
}

/** One stream per text: the end-of-text token (bos), then the text's ids. */
export function textStreams(texts: readonly string[], encode: (text: string) => Int32Array): Int32Array[] {
  return texts.map((t) => {
    const ids = encode(t);
    const s = new Int32Array(ids.length + 1);
    s[0] = EOT_ID;
    s.set(ids, 1);
    return s;
  });
}

/** Streams back to back: the training stream, where each file's end-of-text also ends the file before it. */
export function concatStreams(streams: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(streams.reduce((n, s) => n + s.length, 0));
  let at = 0;
  for (const s of streams) {
    out.set(s, at);
    at += s.length;
  }
  return out;
}
