/**
 * @module Chat messages → one prompt, with the model's own Jinja chat template (tokenizer_config.json's
 * `chat_template`, rendered by @huggingface/jinja as transformers.js's `apply_chat_template` does) or, for a model
 * without one, the documented default below. Templates are parsed once per template text.
 */
import { Template } from '@huggingface/jinja';
import { LRUCache } from 'lru-cache';
import { invalidInput } from '../../lib/errors.js';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/**
 * The default for models that ship no template (base models such as brown-gpt-en): each turn as `Role: text` on its
 * own paragraph, then `Assistant:` for the model to continue. Plain text, so a base model trained on prose reads it.
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{% for message in messages %}{{ message.role | capitalize }}: {{ message.content }}\n\n{% endfor %}' +
  '{% if add_generation_prompt %}Assistant:{% endif %}';

const parsed = new LRUCache<string, Template>({ max: 16 });

/** The special tokens a template may name (`bos_token`, `eos_token`), as text. */
export interface TemplateTokens {
  bos_token?: string | undefined;
  eos_token?: string | undefined;
}

export function renderChat(
  messages: readonly ChatMessage[],
  template: string | undefined,
  tokens: TemplateTokens,
): string {
  const source = template ?? DEFAULT_CHAT_TEMPLATE;
  let compiled = parsed.get(source);
  if (compiled === undefined) {
    compiled = new Template(source);
    parsed.set(source, compiled);
  }
  try {
    return compiled.render({
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      add_generation_prompt: true,
      bos_token: tokens.bos_token ?? '',
      eos_token: tokens.eos_token ?? '',
    });
  } catch (err) {
    // Templates raise on conversations they do not support (e.g. "roles must alternate user/assistant").
    throw invalidInput(
      `messages: the model's chat template refused them: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
