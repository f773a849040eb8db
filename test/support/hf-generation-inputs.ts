/** @module The prompts and conversation the tiny decoders are asked (plain data: workerd tests import it too). */

/** Prompts for both models: plain, longer, non-ASCII (accents, a dash, an emoji: byte-level and byte-fallback paths), multi-line. */
export const HF_GENERATION_PROMPTS = [
  'The food was',
  'I bought this phone because the battery',
  'Café crème, naïve façade — 😀 and',
  'First line.\nSecond line:',
] as const;

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** A conversation for the Llama folder's chat template (system + user, generation prompt added). */
export const HF_GENERATION_CHAT: readonly ChatMessage[] = [
  { role: 'system', content: 'You are a terse critic.' },
  { role: 'user', content: 'Was the soup good?' },
];
