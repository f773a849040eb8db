/**
 * @module An API key's webhook signing secrets, in a Durable Object per key (SQLite storage): the current secret,
 * and after a rotation the previous one with the time it stops signing. Strongly consistent, so a rotation is seen
 * by the very next delivery from any isolate.
 */
import { DurableObject } from 'cloudflare:workers';
import { generateWebhookSecret } from './signing.js';

export interface SigningSecrets {
  secret: string;
  created_at: string;
  /** After a rotation: the old secret, which keeps signing beside the new one until `previous_expires_at`. */
  previous?: { secret: string; expires_at: string };
}

export class WebhookSecretsObject extends DurableObject<Env> {
  /** The key's secrets, made on first use. */
  async current(): Promise<SigningSecrets> {
    const stored = await this.ctx.storage.get<SigningSecrets>('secrets');
    if (stored !== undefined) return this.prune(stored);
    const fresh: SigningSecrets = { secret: generateWebhookSecret(), created_at: new Date().toISOString() };
    await this.ctx.storage.put('secrets', fresh);
    return fresh;
  }

  /** Every secret that signs now: the current one, and the previous one within its grace period. */
  async signing(): Promise<string[]> {
    const s = await this.current();
    return s.previous === undefined ? [s.secret] : [s.secret, s.previous.secret];
  }

  /** A new current secret; the old one signs beside it for `graceMs`. */
  async rotate(graceMs: number): Promise<SigningSecrets> {
    const old = await this.current();
    const next: SigningSecrets = { secret: generateWebhookSecret(), created_at: new Date().toISOString() };
    if (graceMs > 0) next.previous = { secret: old.secret, expires_at: new Date(Date.now() + graceMs).toISOString() };
    await this.ctx.storage.put('secrets', next);
    return next;
  }

  private prune(s: SigningSecrets): SigningSecrets {
    if (s.previous !== undefined && Date.parse(s.previous.expires_at) <= Date.now()) {
      return { secret: s.secret, created_at: s.created_at };
    }
    return s;
  }
}
