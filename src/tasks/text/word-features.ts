/**
 * @module Per-word hashed features for token classification (the pos-en tagger): how free text splits into
 * Brown-style words, and the sparse feature row of each word in its sentence. Shared by training (Node) and serving
 * (workerd, Node), so it uses nothing but the language.
 */
import { z } from 'zod';

/**
 * Feature templates, each a family of hashed strings "<code>\u0001<value>" about the word at position i of its
 * sentence (sentence boundaries inside a word list are explained at `wordFeatureRows`); the codes are in brackets:
 * - `word` [w]: the word lowercased;
 * - `prefix` [p] / `suffix` [s]: its first / last 1..affix_max characters (code points), lowercased;
 * - `shape` [h]: letters as X/x, digits as d, other characters kept, runs collapsed ("Xx", "d,d", "X.X.", "x-x");
 * - `position`: "first\u0001cap" or "first\u0001lower" on a sentence's first word (so "The" at the start and
 *   "Smith" mid-sentence differ) and "last" on its last;
 * - `window_words` [w-1, w+1, w-2, w+2 …]: the words at i−window…i+window lowercased, `<s>`/`</s>` past the ends;
 * - `window_suffixes` [s1-1, s2-1, s3-1, s1+1, s2+1, s3+1, s3-2, s3+2]: suffixes of the neighbours;
 * - `window_shapes` [h-1, h+1]: the shapes of the words at i±1;
 * - `bigrams` [b-1, b+1, b-1+1, b-2-1, b+1+2]: the pairs (w[i−1], w[i]), (w[i], w[i+1]), (w[i−1], w[i+1]),
 *   (w[i−2], w[i−1]), (w[i+1], w[i+2]) joined by U+0002, conjunctions a linear layer cannot form by itself.
 */
export const WORD_FEATURE_TEMPLATES = [
  'word',
  'prefix',
  'suffix',
  'shape',
  'position',
  'window_words',
  'window_suffixes',
  'window_shapes',
  'bigrams',
] as const;
export type WordFeatureTemplate = (typeof WORD_FEATURE_TEMPLATES)[number];

/** How words become sparse rows; stored verbatim in the manifest's `preprocess`, so serving uses what training did. */
export interface WordFeatureConfig {
  kind: 'word-features';
  version: 1;
  /** Hash buckets (the model's input width); a power of two so a bucket is a bit mask. */
  buckets: number;
  hash: 'fnv1a32-utf8';
  /** Templates in use, from WORD_FEATURE_TEMPLATES. */
  features: WordFeatureTemplate[];
  /** Longest prefix and suffix of the word itself. */
  affix_max: number;
  /** Context words on each side for `window_words`. */
  window: number;
  /**
   * Words that keep their period as one token ("Mr." "etc." "Calif."), without the period: Brown's abbreviations,
   * listed by the recipe from its training documents. Case-sensitive.
   */
  abbreviations: string[];
  /**
   * The most words a request tags at the edge (a manifest repeats it as `edge_limits.max_tokens`, so placement sends
   * longer requests to the origin). Splitting never truncates.
   */
  max_words: number;
}

export const WordFeatureConfigSchema: z.ZodType<WordFeatureConfig> = z
  .object({
    kind: z.literal('word-features'),
    version: z.literal(1),
    buckets: z
      .number()
      .int()
      .min(2)
      .max(1 << 24)
      .refine((n) => (n & (n - 1)) === 0, 'buckets must be a power of two'),
    hash: z.literal('fnv1a32-utf8'),
    features: z.array(z.enum(WORD_FEATURE_TEMPLATES)).min(1),
    affix_max: z.number().int().min(1).max(8),
    window: z.number().int().min(0).max(4),
    abbreviations: z.array(z.string().regex(/^\p{L}+$/u, 'abbreviations are letters only')).max(2000),
    max_words: z.number().int().positive(),
  })
  // Not strict: a manifest's `preprocess` may carry keys for other consumers; unknown keys are dropped on parse.
  .strip();

/** One word of the input: `text.slice(start, end) === word` (UTF-16 offsets into the original text). */
export interface WordSpan {
  word: string;
  start: number;
  end: number;
}

const L = '\\p{L}\\p{M}\\p{N}';

/**
 * Brown's tokenisation, approximated on free text: punctuation is split off one character at a time except Brown's
 * multi-character tokens (`` and '' quotes, -- dashes, ... ellipses); words keep inner apostrophes and hyphens
 * (Brown tags "don't", "I'll", "John's" and "well-known" as one token each: do*, ppss+md, np$, jj), a plural
 * possessive's trailing apostrophe ("boys'"), and numbers keep their $, %, separators and suffixes ("$1,000",
 * "3.5", "9:30", "1960's"). The configured abbreviations, letter-period runs ("U.S.", "p.m.") and initials before a
 * capitalised word ("John F. Kennedy") keep their period.
 */
function wordPattern(abbreviations: readonly string[]): RegExp {
  // Longest first, so that an abbreviation that begins another ("Sen", "Sept") never hides it.
  const abbr = [...abbreviations].sort((a, b) => b.length - a.length || (a < b ? -1 : 1)).join('|');
  return new RegExp(
    [
      "``|''|-{2,}|\\.{3,}",
      ...(abbr === '' ? [] : [`(?<![${L}])(?:${abbr})\\.(?![${L}])`]),
      `(?<![${L}])(?:\\p{L}\\.){2,}(?![${L}])`,
      `(?<![${L}])\\p{Lu}\\.(?=\\s+\\p{Lu})`,
      `(?:\\$(?=\\p{N}))?[${L}]+(?:(?:['\u2019-]|(?<=\\p{N})[.,:/](?=\\p{N}))[${L}]+)*(?:(?<=\\p{N})%|(?<=s)['\u2019](?![${L}'\u2019]))?`,
      '\\S',
    ].join('|'),
    'gu',
  );
}

/** Compiled patterns by abbreviation list (a server holds one or two configs; the regex is built once for each). */
const patterns = new Map<string, RegExp>();
function patternFor(config: WordFeatureConfig): RegExp {
  const key = config.abbreviations.join('\u0000');
  let p = patterns.get(key);
  if (p === undefined) {
    if (patterns.size > 16) patterns.clear();
    p = wordPattern(config.abbreviations);
    patterns.set(key, p);
  }
  return p;
}

/**
 * Splits raw text into words the way the model was trained (Brown-style tokens). Whitespace separates; nothing is
 * dropped but whitespace, and nothing is truncated (callers enforce `max_words`).
 *
 * @example splitWords('I can\'t go, Mr. Smith.', config).map((w) => w.word)
 * // ['I', "can't", 'go', ',', 'Mr.', 'Smith', '.']
 */
export function splitWords(text: string, config: WordFeatureConfig): WordSpan[] {
  const out: WordSpan[] = [];
  for (const m of text.matchAll(patternFor(config)))
    out.push({ word: m[0], start: m.index, end: m.index + m[0].length });
  return out;
}

const SENTENCE_END = new Set(['.', '?', '!']);
/** Closing quotes and brackets after a sentence's final punctuation still belong to that sentence. */
const CLOSERS = new Set(["''", "'", ')', ']', '}']);

const NON_ASCII = /[\u0080-\uffff]/;
/**
 * Free text's typography in Brown's conventions: curly quotes become `` and '' (Brown's quote tokens), dashes --,
 * the ellipsis ..., curly apostrophes inside words '. A straight double quote opens or closes by its parity among
 * the double quotes before it in the word list (there is no other evidence in a list of words).
 */
function canonical(words: readonly string[]): string[] {
  let quotes = 0;
  return words.map((raw) => {
    if (raw === '"') return quotes++ % 2 === 0 ? '``' : "''";
    if (!NON_ASCII.test(raw)) return raw;
    switch (raw) {
      case '\u201c':
      case '\u201e':
      case '\u00ab':
        return '``';
      case '\u201d':
      case '\u00bb':
        return "''";
      case '\u2018':
        return '`';
      case '\u2019':
        return "'";
      case '\u2014':
      case '\u2013':
        return '--';
      case '\u2026':
        return '...';
      default:
        return raw.normalize('NFKC').replace(/[\u2018\u2019\u02bc]/g, "'");
    }
  });
}

/** Letters as X/x, digits as d, everything else itself; runs of one class collapse ("McKinley" → "XxXx"). */
function shapeOf(word: string): string {
  let out = '';
  let last = '';
  for (const ch of word) {
    const code = ch.charCodeAt(0);
    let c: string;
    // ASCII by code (this runs for every word of the corpus); other scripts by Unicode property.
    if (code < 0x80)
      c = code >= 65 && code <= 90 ? 'X' : code >= 97 && code <= 122 ? 'x' : code >= 48 && code <= 57 ? 'd' : ch;
    else if (/\p{Lu}/u.test(ch)) c = 'X';
    else if (/\p{L}/u.test(ch)) c = 'x';
    else if (/\p{N}/u.test(ch)) c = 'd';
    else c = ch;
    if (c !== last) out += c;
    last = c;
  }
  return out;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a state after the UTF-8 bytes of `s`, continuing from `h`: fnv1a32(a + b) (text-features) is
 * fnvUpdate(fnvUpdate(offset, a), b) >>> 0. Written out because every feature of every word is hashed (tens of
 * millions in a build): continuing from a template's precomputed state avoids building and encoding each feature's
 * string (with ASCII shapes by code, the corpus's features went from 37 s to 4 s) and gives the same bits as
 * fnv1a32 on the concatenation (the test checks).
 * Lone surrogates hash as U+FFFD, as TextEncoder encodes them.
 */
function fnvUpdate(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
        h = Math.imul(h ^ (0xf0 | (cp >> 18)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 12) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | ((cp >> 6) & 0x3f)), FNV_PRIME);
        h = Math.imul(h ^ (0x80 | (cp & 0x3f)), FNV_PRIME);
        continue;
      }
      c = 0xfffd;
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
  }
  return h;
}

/** Hash state after a template's name and the U+0001 separator: every feature of that template continues from it. */
const template = (name: string): number => fnvUpdate(FNV_OFFSET, `${name}\u0001`);
const SEP = '\u0002';
const T = {
  word: template('w'),
  prefix: template('p'),
  suffix: template('s'),
  shape: template('h'),
  firstCap: fnvUpdate(FNV_OFFSET, 'first\u0001cap'),
  firstLower: fnvUpdate(FNV_OFFSET, 'first\u0001lower'),
  last: fnvUpdate(FNV_OFFSET, 'last'),
  before: [1, 2, 3, 4].map((d) => template(`w-${d}`)),
  after: [1, 2, 3, 4].map((d) => template(`w+${d}`)),
  suffixBefore: [1, 2, 3].map((n) => template(`s${n}-1`)),
  suffixAfter: [1, 2, 3].map((n) => template(`s${n}+1`)),
  suffix3Before2: template('s3-2'),
  suffix3After2: template('s3+2'),
  shapeBefore: template('h-1'),
  shapeAfter: template('h+1'),
  bigramBefore: template('b-1'),
  bigramAfter: template('b+1'),
  bigramAround: template('b-1+1'),
  bigramBefore2: template('b-2-1'),
  bigramAfter2: template('b+1+2'),
};

interface WordInfo {
  lower: string;
  shape: string;
  /** Code points of the lowercased word (the word itself when ASCII: one unit per code point), for affixes. */
  chars: string | readonly string[];
  capitalised: boolean;
}

const boundary = (mark: string): WordInfo => ({ lower: mark, shape: mark, chars: [mark], capitalised: false });
const BOUNDARY_BEFORE = boundary('<s>');
const BOUNDARY_AFTER = boundary('</s>');

/** The last n code points (the whole word when shorter; a boundary mark stands for itself). */
const suffix = (w: WordInfo, n: number): string =>
  w.chars.length <= n ? w.lower : typeof w.chars === 'string' ? w.chars.slice(-n) : w.chars.slice(-n).join('');
const prefix = (w: WordInfo, n: number): string =>
  typeof w.chars === 'string' ? w.chars.slice(0, n) : w.chars.slice(0, n).join('');

/** Segment number of each word: a new sentence starts after ". ? !" and any closing quotes/brackets that follow. */
function segments(words: readonly string[]): number[] {
  const seg: number[] = [];
  let s = 0;
  let ended = false;
  for (const w of words) {
    if (ended && !CLOSERS.has(w) && !SENTENCE_END.has(w)) {
      s++;
      ended = false;
    }
    seg.push(s);
    if (SENTENCE_END.has(w)) ended = true;
  }
  return seg;
}

/**
 * Sparse feature rows for a sentence's words, one row per word: distinct hash buckets ascending, each valued by how
 * many features of the word fell into it. A feature is a string "<template>\u0001<value>" (bigram values joined by
 * U+0002) hashed with FNV-1a over UTF-8 and masked to `buckets`; the templates are listed at WORD_FEATURE_TEMPLATES.
 * Context features look at neighbours within the same sentence, where a sentence ends at the list's ends or after a
 * ". ? !" token (and the closing quotes after it), so a whole paragraph may be passed at once and gives the rows its
 * sentences would give one by one.
 *
 * @example wordFeatureRows(['The', 'jury', 'said', '.'], config) // 4 rows of about 30 buckets each
 */
export function wordFeatureRows(
  words: readonly string[],
  config: WordFeatureConfig,
): { indices: number[]; values: number[] }[] {
  const t = new Set(config.features);
  const mask = config.buckets - 1;
  const canon = canonical(words);
  const seg = segments(canon);
  const info: WordInfo[] = canon.map((w) => {
    const lower = w.toLowerCase();
    return {
      lower,
      shape: shapeOf(w),
      chars: NON_ASCII.test(lower) ? Array.from(lower) : lower,
      capitalised: /^\p{Lu}/u.test(w),
    };
  });
  const at = (i: number, from: number): WordInfo => {
    if (i < 0 || i >= info.length || seg[i] !== seg[from]) return i < from ? BOUNDARY_BEFORE : BOUNDARY_AFTER;
    return info[i] ?? BOUNDARY_AFTER;
  };
  const pair = (h: number, a: string, b: string): number => fnvUpdate(fnvUpdate(fnvUpdate(h, a), SEP), b);
  const affixMax = Math.min(config.affix_max, 8);
  const window = Math.min(config.window, 4);
  return info.map((w, i) => {
    const hashes: number[] = [];
    if (t.has('word')) hashes.push(fnvUpdate(T.word, w.lower));
    const n = Math.min(affixMax, w.chars.length);
    if (t.has('prefix')) for (let k = 1; k <= n; k++) hashes.push(fnvUpdate(T.prefix, prefix(w, k)));
    if (t.has('suffix')) for (let k = 1; k <= n; k++) hashes.push(fnvUpdate(T.suffix, suffix(w, k)));
    if (t.has('shape')) hashes.push(fnvUpdate(T.shape, w.shape));
    const prev = at(i - 1, i);
    const next = at(i + 1, i);
    if (t.has('position')) {
      if (prev === BOUNDARY_BEFORE) hashes.push(w.capitalised ? T.firstCap : T.firstLower);
      if (next === BOUNDARY_AFTER) hashes.push(T.last);
    }
    if (t.has('window_words'))
      for (let d = 1; d <= window; d++) {
        hashes.push(fnvUpdate(T.before[d - 1] ?? 0, at(i - d, i).lower));
        hashes.push(fnvUpdate(T.after[d - 1] ?? 0, at(i + d, i).lower));
      }
    const prev2 = at(i - 2, i);
    const next2 = at(i + 2, i);
    if (t.has('window_suffixes')) {
      for (let k = 1; k <= 3; k++) {
        hashes.push(fnvUpdate(T.suffixBefore[k - 1] ?? 0, suffix(prev, k)));
        hashes.push(fnvUpdate(T.suffixAfter[k - 1] ?? 0, suffix(next, k)));
      }
      hashes.push(fnvUpdate(T.suffix3Before2, suffix(prev2, 3)));
      hashes.push(fnvUpdate(T.suffix3After2, suffix(next2, 3)));
    }
    if (t.has('window_shapes')) {
      hashes.push(fnvUpdate(T.shapeBefore, prev.shape));
      hashes.push(fnvUpdate(T.shapeAfter, next.shape));
    }
    if (t.has('bigrams')) {
      hashes.push(pair(T.bigramBefore, prev.lower, w.lower));
      hashes.push(pair(T.bigramAfter, w.lower, next.lower));
      hashes.push(pair(T.bigramAround, prev.lower, next.lower));
      hashes.push(pair(T.bigramBefore2, prev2.lower, prev.lower));
      hashes.push(pair(T.bigramAfter2, next.lower, next2.lower));
    }
    // Distinct buckets ascending, duplicates (hash collisions within a word) counted.
    const buckets = hashes.map((h) => (h >>> 0) & mask).sort((a, b) => a - b);
    const indices: number[] = [];
    const values: number[] = [];
    for (const b of buckets) {
      if (indices[indices.length - 1] === b) values[values.length - 1] = (values[values.length - 1] ?? 0) + 1;
      else {
        indices.push(b);
        values.push(1);
      }
    }
    return { indices, values };
  });
}
