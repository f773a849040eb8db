/**
 * @module E-mail messages → the text a reader sees: the decoded Subject, a newline, then the decoded text parts (MIME
 * multipart walked, base64 and quoted-printable undone, HTML reduced to its text). Shared by the spam-en build (which
 * reads the SpamAssassin corpus's raw RFC 5322 messages) and serving (text-features' `input: 'email'`), so a message
 * sent to the Worker gets exactly the features its kind was trained on. Written here because no installed package
 * parses mail, and the mail parsers on npm are larger than the handful of rules the features need; pure string code,
 * the same in workerd and Node. Input that does not start with a header block is taken as a body as it stands.
 */

/** Header names that mark a header block as a mail message's (one must be present). */
const KNOWN_HEADERS = new Set([
  'from',
  'to',
  'subject',
  'date',
  'received',
  'return-path',
  'message-id',
  'mime-version',
  'content-type',
  'reply-to',
  'delivered-to',
]);
const HEADER_LINE = /^([!-9;-~]+):/;
/** Nested multiparts deeper than this are not walked (real mail nests 2–3 deep; this bounds hostile input). */
const MAX_DEPTH = 8;

interface Entity {
  headers: Map<string, string>;
  body: string;
}

/**
 * The header block at the start of `text` (unfolded, names lowercased, first occurrence kept) and the rest, or
 * undefined when `text` does not start with one. An mbox "From " separator line before the headers is skipped.
 */
function splitHeaders(text: string, requireKnown: boolean): Entity | undefined {
  let start = 0;
  // Only a whole message starts with the mbox line; a MIME part's first line "From …" is its text.
  if (requireKnown && text.startsWith('From ')) start = text.indexOf('\n') + 1 || text.length;
  const headers = new Map<string, string>();
  let name: string | undefined;
  let pos = start;
  let known = false;
  while (pos < text.length) {
    const nl = text.indexOf('\n', pos);
    const end = nl === -1 ? text.length : nl;
    const line = text.slice(pos, end);
    pos = end + 1;
    if (line.trim() === '')
      return known || !requireKnown ? { headers, body: text.slice(Math.min(pos, text.length)) } : undefined;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      // A folded line continues the header before it (ignored when that one was a repeat).
      if (name !== undefined) headers.set(name, `${headers.get(name) ?? ''} ${line.trim()}`);
      continue;
    }
    const m = HEADER_LINE.exec(line);
    if (m === null) return undefined;
    const key = (m[1] ?? '').toLowerCase();
    if (KNOWN_HEADERS.has(key)) known = true;
    // Only the first occurrence counts (Received repeats; a second Subject is an anomaly).
    if (headers.has(key)) {
      name = undefined;
      continue;
    }
    name = key;
    headers.set(key, line.slice(m[0].length).trim());
  }
  // Headers with no body at all.
  return known || !requireKnown ? { headers, body: '' } : undefined;
}

/** `type/subtype` lowercased and the parameters of a Content-Type value. */
function contentType(value: string | undefined): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (value === undefined) return { type: 'text/plain', params };
  const [head = '', ...rest] = value.split(';');
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq === -1) continue;
    const key = p.slice(0, eq).trim().toLowerCase();
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"')) v = v.slice(1, v.indexOf('"', 1) === -1 ? undefined : v.indexOf('"', 1));
    if (key !== '' && !params.has(key)) params.set(key, v);
  }
  return { type: head.trim().toLowerCase() || 'text/plain', params };
}

const utf8 = new TextEncoder();

/** The string's characters as bytes: code units < 256 as they are, anything above as its UTF-8 bytes. */
function latin1Bytes(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 256) out.push(c);
    else out.push(...utf8.encode(ch));
  }
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Lenient base64 (mail bodies wrap lines and sometimes carry junk): characters outside the alphabet are skipped. */
function base64Bytes(text: string): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    if (ch === '=') break;
    const v = B64.indexOf(ch);
    if (v === -1) continue;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return out;
}

/** Quoted-printable: soft line breaks removed, `=XX` to a byte; `underscore` for RFC 2047's Q encoding. */
function quotedPrintableBytes(text: string, underscore = false): number[] {
  const src = text.replace(/=[ \t]*\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const ch = src[i] ?? '';
    const hex = ch === '=' ? src.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (underscore && ch === '_') out.push(0x20);
    else out.push(...latin1Bytes(ch));
  }
  return out;
}

/** Bytes in a charset: UTF-8 decoded (malformed bytes → U+FFFD), every other charset read as Latin-1 byte by byte. */
function decodeCharset(bytes: number[], charset: string | undefined): string {
  const cs = (charset ?? '').toLowerCase();
  if (cs === 'utf-8' || cs === 'utf8') return new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x4000) s += String.fromCharCode(...bytes.slice(i, i + 0x4000));
  return s;
}

/** Undoes a part's Content-Transfer-Encoding; 7bit/8bit/binary text is already characters. */
function decodeBody(body: string, encoding: string | undefined, charset: string | undefined): string {
  const cte = (encoding ?? '').trim().toLowerCase();
  if (cte === 'base64') return decodeCharset(base64Bytes(body), charset);
  if (cte === 'quoted-printable') return decodeCharset(quotedPrintableBytes(body), charset);
  return body;
}

/** RFC 2047 encoded words (`=?charset?B|Q?text?=`) in a header value, decoded; whitespace between two of them dropped. */
export function decodeHeader(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_, charset: string, enc: string, text: string) =>
      decodeCharset(
        enc.toLowerCase() === 'b' ? base64Bytes(text) : quotedPrintableBytes(text, true),
        charset.split('*')[0],
      ),
    );
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** The text of an HTML document: comments, scripts and styles dropped, tags to spaces, common entities decoded. */
export function htmlText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
      if (name.startsWith('#')) {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    });
}

/** The text chunks of one MIME entity, in order. */
function entityText(e: Entity, depth: number): string[] {
  const { type, params } = contentType(e.headers.get('content-type'));
  if (type.startsWith('multipart/')) {
    const boundary = params.get('boundary');
    if (boundary === undefined || boundary === '' || depth >= MAX_DEPTH) return [];
    const parts = multipartParts(e.body, boundary)
      .map((p) => splitHeaders(p, false) ?? { headers: new Map<string, string>(), body: p })
      .map((p) => ({ entity: p, type: contentType(p.headers.get('content-type')).type }));
    // Alternatives say one thing twice: read the plain one when there is one, else the first that gives text.
    if (type === 'multipart/alternative') {
      const plain = parts.find((p) => p.type === 'text/plain') ?? parts.find((p) => p.type === 'text/html') ?? parts[0];
      return plain === undefined ? [] : entityText(plain.entity, depth + 1);
    }
    return parts.flatMap((p) => entityText(p.entity, depth + 1));
  }
  if (type === 'message/rfc822') {
    const inner = splitHeaders(e.body, false);
    return inner === undefined ? [e.body] : messageText(inner, depth + 1);
  }
  if (type !== 'text/plain' && type !== 'text/html' && type !== 'text') return [];
  const text = decodeBody(e.body, e.headers.get('content-transfer-encoding'), params.get('charset'));
  return [type === 'text/html' ? htmlText(text) : text];
}

/** The bodies between `--boundary` lines (preamble and epilogue dropped). */
function multipartParts(body: string, boundary: string): string[] {
  const marker = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of body.split('\n')) {
    const t = line.trimEnd();
    if (t === `${marker}--`) {
      if (current !== undefined) parts.push(current.join('\n'));
      return parts;
    }
    if (t === marker) {
      if (current !== undefined) parts.push(current.join('\n'));
      current = [];
    } else current?.push(line);
  }
  if (current !== undefined) parts.push(current.join('\n'));
  return parts;
}

function messageText(e: Entity, depth: number): string[] {
  return [decodeHeader(e.headers.get('subject') ?? ''), ...entityText(e, depth)];
}

/**
 * What the features read of a message: `Subject` line, newline, the text parts joined by newlines. Text without a
 * leading header block (no blank-line-terminated block of `Name: value` lines naming a mail header) is returned as
 * it is, so a pasted body works too.
 *
 * @example
 * emailText('Subject: Hello\nContent-Type: text/html\n\n<p>Cheap &amp; fast</p>') // 'Hello\n Cheap & fast '
 */
export function emailText(raw: string): string {
  const text = raw.replace(/\r\n?/g, '\n');
  const message = splitHeaders(text, true);
  if (message === undefined) return text;
  return messageText(message, 0).join('\n');
}
