/**
 * @module Held-out Brown sentences with their gold tags, for pos-en through the Worker: the corpus's own annotation
 * (human tagging, 1964–79) is the reference, not anything the model or the service computed.
 */
import { baseTag, loadCorpus, splitDocuments } from '../../models/pos-en/data.js';
import type { PosSentence } from './provided.js';

/** The first sentence of at least 8 tokens of every held-out document, words joined by single spaces. */
export function posSentences(): PosSentence[] {
  const out: PosSentence[] = [];
  for (const doc of splitDocuments(loadCorpus()).heldout) {
    const sentence = doc.sentences.find((s) => s.length >= 8 && s.length <= 40);
    if (sentence === undefined) continue;
    out.push({ words: sentence.map((t) => t.word), tags: sentence.map((t) => baseTag(t.tag)) });
  }
  return out;
}
