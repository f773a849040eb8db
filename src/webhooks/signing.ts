/**
 * @module Standard Webhooks signatures through the `standardwebhooks` library: signing outgoing events with every
 * secret a key currently signs with (space-separated `v1,<sig>` entries, so a receiver holding either the old or
 * the new secret during a rotation verifies), verifying inbound ones, and minting `whsec_` secrets.
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/** A fresh signing secret: `whsec_` and 24 random bytes in base64, the format Standard Webhooks libraries take. */
export function generateWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** The three Standard Webhooks headers for one attempt of one message. */
export function signedHeaders(
  secrets: readonly string[],
  webhookId: string,
  body: string,
  at: Date = new Date(),
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const signature = secrets.map((s) => new Webhook(s).sign(webhookId, at, body)).join(' ');
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

export type InboundVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Verifies an inbound Standard Webhooks message against the raw body as received (the library checks the
 * signature and a 5-minute timestamp tolerance). Replays are the caller's to refuse, by `webhook-id`.
 */
export function verifyStandardWebhook(secret: string, rawBody: string, headers: Headers): InboundVerdict {
  const wanted = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;
  const picked: Record<string, string> = {};
  for (const name of wanted) {
    const value = headers.get(name);
    if (value === null) return { ok: false, reason: `The ${name} header is missing.` };
    picked[name] = value;
  }
  try {
    new Webhook(secret).verify(rawBody, picked, { jsonParse: false });
    return { ok: true };
  } catch (err) {
    if (err instanceof WebhookVerificationError) {
      const why = err.message.toLowerCase();
      if (why.includes('timestamp')) return { ok: false, reason: 'The webhook-timestamp is too old or too new.' };
      return { ok: false, reason: 'The webhook-signature does not match the body.' };
    }
    throw err;
  }
}

/**
 * Verifies GitHub's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. WebCrypto's `verify` compares
 * in constant time; no library covers this one header, and it is four WebCrypto calls.
 */
export async function verifyHubSignature(
  secret: string,
  rawBody: Uint8Array,
  header: string | undefined,
): Promise<InboundVerdict> {
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header?.trim() ?? '');
  if (match?.[1] === undefined) return { ok: false, reason: 'The X-Hub-Signature-256 header is missing or malformed.' };
  const hex = match[1];
  const signature = new Uint8Array(32);
  for (let i = 0; i < 32; i++) signature[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const key = await crypto.subtle.importKey(
    'raw',
    new TextEncoder().encode(secret),
    { name: 'HMAC', hash: 'SHA-256' },
    false,
    ['verify'],
  );
  const body = new Uint8Array(rawBody);
  const ok = await crypto.subtle.verify('HMAC', key, signature, body);
  return ok ? { ok: true } : { ok: false, reason: 'The X-Hub-Signature-256 does not match the body.' };
}
