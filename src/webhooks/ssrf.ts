/** @module SSRF guard for webhook URLs: https only, no userinfo, no local names, and every address the host is or resolves to public unicast. */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import type { WebhookConfig } from '../lib/config.js';

/** The A and AAAA addresses of a name. */
export type Resolver = (hostname: string) => Promise<string[]>;

export interface GuardOptions {
  /** Development only: allows http:// and https:// to 127.0.0.1, ::1 and `localhost` (literal loopback only). */
  allowLoopback: boolean;
  resolve: Resolver;
}

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/** Longer URLs are refused: no real callback needs more, and it bounds what is stored and logged per job. */
const MAX_URL_LENGTH = 2048;

/** Hosts `allowLoopback` lets through; literal spellings only, so no DNS answer can turn into loopback access. */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Names that are local by definition (RFC 6761 `localhost`, RFC 6762 `.local`, RFC 8375 `.home.arpa`, the
 * `.internal` TLD reserved for private use, home of `metadata.google.internal`). Refused before any lookup: their
 * answers come from whatever resolver the network behind the fetch uses, not from public DNS.
 */
const LOCAL_SUFFIXES = ['localhost', 'local', 'internal', 'home.arpa'];

/** How a refused range reads in a reason; ipaddr.js names missing here are shown as they are. */
const RANGE_WORDS: Record<string, string> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local',
  loopback: 'loopback',
  carrierGradeNat: 'carrier-grade NAT',
  private: 'private',
  reserved: 'reserved',
  as112: 'AS112 anycast',
  amt: 'AMT relay',
  uniqueLocal: 'unique-local',
  rfc6145: 'IPv4-translated',
  rfc6052: 'local-use NAT64',
  teredo: 'Teredo',
  benchmarking: 'benchmarking',
  deprecatedSiteLocal: 'site-local',
  discard: 'discard-only',
  as112v6: 'AS112 anycast',
  deprecatedOrchid: 'ORCHID',
  orchid2: 'ORCHID',
  droneRemoteIdProtocolEntityTags: 'DRIP',
  segmentRouting: 'segment-routing',
  compatible: 'IPv4-compatible',
  unallocated: 'unallocated',
};

/*
 * Ranges the brief asks to refuse explicitly — 0.0.0.0/8, 192.0.0.0/24, 198.18.0.0/15, 192.0.2.0/24,
 * 198.51.100.0/24, 203.0.113.0/24, 240.0.0.0/4 — are all non-unicast in ipaddr.js 2.5.0 (0/8 is `unspecified`, the
 * rest `reserved`), so no IPv4 list is added by hand; test/worker/ssrf.test.ts pins each one, so an upgrade that
 * dropped one fails there. The gaps are on the IPv6 side, filled below: ipaddr.js calls everything outside its named
 * ranges `unicast`, including the deprecated IPv4-compatible ::/96 (`::7f00:1`, which some stacks route to
 * 127.0.0.1) and all the IETF-reserved space outside 2000::/3, and it labels NAT64 and 6to4 without looking at the
 * IPv4 address they carry.
 */

/** The only IPv6 block IANA allocates for global unicast; anything else is reserved, local or special. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');
/** Deprecated IPv4-compatible addresses (RFC 4291 §2.5.5.1); `::` and `::1` match their own ranges first. */
const COMPATIBLE_V6 = ipaddr.IPv6.parseCIDR('::/96');
/** Well-known NAT64 prefix (RFC 6052): the translator forwards to the IPv4 address in the last 32 bits. */
const NAT64_V6 = ipaddr.IPv6.parseCIDR('64:ff9b::/96');
/** 6to4 (RFC 3056): bits 16–47 are the IPv4 address of the tunnel's far end. */
const SIX_TO_FOUR_V6 = ipaddr.IPv6.parseCIDR('2002::/16');

function phrase(range: string): string {
  const words = RANGE_WORDS[range] ?? range;
  // `an unspecified`, `an IPv4-compatible`, but `a unique-local`.
  return `${/^(?!uni)[aeiou]/i.test(words) ? 'an' : 'a'} ${words} address`;
}

function v4FromParts(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function whyNotPublicV4(address: ipaddr.IPv4): string | undefined {
  const range = address.range();
  return range === 'unicast' ? undefined : phrase(range);
}

function whyNotPublicV6(address: ipaddr.IPv6): string | undefined {
  // IPv4-mapped (::ffff:a.b.c.d, however spelled) reaches the IPv4 host on dual-stack sockets: judge that host.
  if (address.isIPv4MappedAddress()) return whyNotPublicV4(address.toIPv4Address());
  // Translated and tunnelled forms reach their embedded IPv4 host, so they are exactly as public as it is.
  const [, p1 = 0, p2 = 0, , , , p6 = 0, p7 = 0] = address.parts;
  if (address.match(NAT64_V6)) {
    const why = whyNotPublicV4(v4FromParts(p6, p7));
    return why === undefined ? undefined : `a NAT64 address of ${v4FromParts(p6, p7).toString()}, ${why}`;
  }
  if (address.match(SIX_TO_FOUR_V6)) {
    const why = whyNotPublicV4(v4FromParts(p1, p2));
    return why === undefined ? undefined : `a 6to4 address of ${v4FromParts(p1, p2).toString()}, ${why}`;
  }
  // Named ranges first (teredo, uniqueLocal, linkLocal, …: none of them public), then ipaddr.js's gaps.
  const range = address.range();
  if (range !== 'unicast') return phrase(range);
  if (address.match(COMPATIBLE_V6)) return phrase('compatible');
  if (!address.match(GLOBAL_UNICAST_V6)) return phrase('unallocated');
  return undefined;
}

/** Why an address literal is not public, as a phrase ("a private address"); undefined when it is public unicast. */
function whyNotPublic(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  // ipaddr.js reads `::a.b.c.d` as IPv4-mapped `::ffff:a.b.c.d`; RFC 4291 and the URL parser the fetch goes through
  // read it as IPv4-compatible (`[::127.0.0.1]` becomes `[::7f00:1]`), which is never public.
  if (/^::\d+\.\d+\.\d+\.\d+(%.*)?$/.test(address)) return phrase('compatible');
  const parsed = ipaddr.parse(address);
  return parsed instanceof ipaddr.IPv4 ? whyNotPublicV4(parsed) : whyNotPublicV6(parsed);
}

/** Pure: whether one IP address literal (v4 or v6, as ipaddr.js parses) is a public unicast address. */
export function isPublicAddress(address: string): boolean {
  return whyNotPublic(address) === undefined;
}

function isLocalName(host: string): boolean {
  return LOCAL_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`));
}

const refuse = (reason: string): UrlVerdict => ({ ok: false, reason: `webhook: ${reason}` });

/**
 * Whether a webhook URL may be called. The URL is parsed as WHATWG does (as workerd's fetch will), so the host judged
 * is the host fetched: decimal, octal and hex IPv4 spellings arrive here as dotted quads. Names are resolved and
 * every address must be public. A name can still resolve differently at fetch time (DNS rebinding): this check
 * closes the static cases, so it is worth repeating right before each delivery.
 */
export async function checkWebhookUrl(raw: string, options: GuardOptions): Promise<UrlVerdict> {
  if (raw.length > MAX_URL_LENGTH) return refuse(`URL is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('not a valid URL');
  }
  // Parsing can lengthen (percent-encoding), and the parsed form is what gets stored and fetched.
  if (url.href.length > MAX_URL_LENGTH) return refuse(`URL is longer than ${MAX_URL_LENGTH} characters`);
  if (url.protocol !== 'https:' && !(options.allowLoopback && url.protocol === 'http:')) {
    return refuse('must be an https URL');
  }
  // Credentials in a URL end up in logs and job records, and `user@host` spellings are a classic filter bypass.
  if (url.username !== '' || url.password !== '') return refuse('URL must not contain a username or password');

  let host: string;
  if (url.hostname.startsWith('[')) {
    host = url.hostname.slice(1, -1);
  } else {
    // `example.com.` is the same name as `example.com`, and must not dodge the suffix checks below.
    host = url.hostname.replace(/\.+$/, '').toLowerCase();
    if (host === '') return refuse('URL has no host');
    // The setter reruns the host parser, so a name that was an IPv4 spelling once its dots went (`127.1..`)
    // comes back as the dotted quad it is; a host the setter refuses keeps its dot and is refused.
    if (host !== url.hostname) url.hostname = host;
    if (url.hostname.endsWith('.')) return refuse(`${url.hostname} is not a valid host`);
    host = url.hostname;
  }

  if (options.allowLoopback && LOOPBACK_HOSTS.has(host)) return { ok: true, url };
  // http was let through above only for the loopback case just handled.
  if (url.protocol !== 'https:') return refuse('must be an https URL');

  if (ipaddr.isValid(host)) {
    const why = whyNotPublic(host);
    return why === undefined ? { ok: true, url } : refuse(`${host} is ${why}`);
  }
  if (isLocalName(host)) return refuse(`${host} is a local name`);
  // Single-label names (`intranet`, `router`) only mean something on a search domain of some private network.
  if (!host.includes('.')) return refuse(`${host} is a single-label name`);

  let addresses: string[];
  try {
    addresses = await options.resolve(host);
  } catch {
    return refuse(`could not resolve ${host}`);
  }
  if (addresses.length === 0) return refuse(`could not resolve ${host}`);
  // Every address, not just one: the fetch may connect to any of them.
  for (const address of addresses) {
    const why = whyNotPublic(address);
    if (why !== undefined) return refuse(`${host} resolves to ${address}, ${why}`);
  }
  return { ok: true, url };
}

/** Record types in DNS JSON answers (RFC 1035, RFC 3596). */
const TYPE_CODES = { A: 1, AAAA: 28 } as const;
const NXDOMAIN = 3;
const DOH_TIMEOUT_MS = 5000;

/** The parts of a DNS JSON answer the guard reads; anything else in it is ignored. */
const DnsJsonSchema = z.object({
  Status: z.number(),
  // No Answer (or one that is not a list) is no records, as before: the guard then finds nothing to allow.
  Answer: z.array(z.unknown()).catch([]),
});
/** One record of `Answer`; records of other shapes are skipped. */
const DnsRecordSchema = z.object({ type: z.number(), data: z.string() });

async function dohQuery(
  endpoint: string,
  name: string,
  type: keyof typeof TYPE_CODES,
  fetcher: typeof fetch,
): Promise<string[]> {
  const url = new URL(endpoint);
  url.searchParams.set('name', name);
  url.searchParams.set('type', type);
  const response = await fetcher(url.toString(), {
    headers: { accept: 'application/dns-json' },
    signal: AbortSignal.timeout(DOH_TIMEOUT_MS),
  });
  if (response.status !== 200) {
    // Unread bodies hold the connection open in workerd until they are garbage-collected.
    await response.body?.cancel();
    throw new Error(`DNS-over-HTTPS ${type} ${name}: HTTP ${response.status}`);
  }
  const body = DnsJsonSchema.safeParse(await response.json());
  if (!body.success) throw new Error(`DNS-over-HTTPS ${type} ${name}: not a DNS JSON answer (no Status)`);
  const status = body.data.Status;
  if (status === NXDOMAIN) return [];
  if (status !== 0) throw new Error(`DNS-over-HTTPS ${type} ${name}: status ${status}`);
  // CNAMEs are skipped, not followed: the resolver already chased them, and put the final A/AAAA records in this list.
  return body.data.Answer.flatMap((answer) => {
    const a = DnsRecordSchema.safeParse(answer);
    return a.success && (a.data.type === TYPE_CODES.A || a.data.type === TYPE_CODES.AAAA) ? [a.data.data] : [];
  });
}

/**
 * A Resolver over DNS-over-HTTPS JSON (RFC 8484 JSON flavour, as cloudflare-dns.com/dns-query answers with
 * `accept: application/dns-json`), asking A and AAAA; uses the given fetch. NXDOMAIN is an empty list; any other
 * failure throws, so the guard refuses rather than guesses.
 */
export function dohResolver(endpoint: string, fetcher: typeof fetch = fetch): Resolver {
  return async (hostname) => {
    const [a, aaaa] = await Promise.all([
      dohQuery(endpoint, hostname, 'A', fetcher),
      dohQuery(endpoint, hostname, 'AAAA', fetcher),
    ]);
    return [...a, ...aaaa];
  };
}

/** The guard as a deployment configures it: its loopback setting, and its DNS-over-HTTPS resolver. */
export function checkConfiguredUrl(
  raw: string,
  webhooks: Pick<WebhookConfig, 'allowLoopback' | 'dohUrl'>,
): Promise<UrlVerdict> {
  return checkWebhookUrl(raw, { allowLoopback: webhooks.allowLoopback, resolve: dohResolver(webhooks.dohUrl) });
}
