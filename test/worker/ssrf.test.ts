/**
 * @module The webhook SSRF guard judged by its decisions, inside workerd so that workerd's own URL parser is the one
 * turning `2130706433`, `0x7f.1` and friends into dotted quads; `isPublicAddress` on its own; `dohResolver` against a
 * fake fetch.
 */
import { describe, expect, it } from 'vitest';
import { checkWebhookUrl, dohResolver, isPublicAddress, type Resolver } from '../../src/webhooks/ssrf.js';

const PUBLIC_V4 = '93.184.216.34';
const PUBLIC_V6 = '2606:2800:220:1:248:1893:25c8:1946';

// DNS for public names cannot exist on this machine (the tests run offline), so the resolver is the one thing
// replaced: an in-memory map of name → A and AAAA addresses. No test here sends traffic anywhere.
const DNS = new Map<string, string[]>([
  ['public.example', [PUBLIC_V4]],
  ['v6.example', [PUBLIC_V6]],
  ['both.example', [PUBLIC_V4, PUBLIC_V6]],
  ['intranet.example', ['10.0.0.7']],
  ['mixed.example', [PUBLIC_V4, '10.0.0.7']],
  ['mixed6.example', [PUBLIC_V6, 'fd12:3456::1']],
  ['mapped.example', ['::ffff:127.0.0.1']],
  ['metadata.example', ['169.254.169.254']],
  ['garbage.example', ['not-an-address']],
]);

/** The fake resolver, plus the names it was asked, to show which decisions need no lookup. */
function fakeDns(): { resolve: Resolver; asked: string[] } {
  const asked: string[] = [];
  const resolve: Resolver = (name) => {
    asked.push(name);
    return Promise.resolve(DNS.get(name) ?? []);
  };
  return { resolve, asked };
}

const failingDns: Resolver = () => Promise.reject(new Error('SERVFAIL'));

interface Case {
  url: string;
  ok: boolean;
  /** For refusals: the address or rule the reason must name. */
  reason?: RegExp;
  allowLoopback?: boolean;
  resolve?: Resolver;
}

const allowed = (url: string, extra: Partial<Case> = {}): Case => ({ url, ok: true, ...extra });
const refused = (url: string, reason: RegExp, extra: Partial<Case> = {}): Case => ({
  url,
  ok: false,
  reason,
  ...extra,
});

const LOOPBACK_V4 = /127\.0\.0\.1 is a loopback address/;
const MAPPED_LOOPBACK = /::ffff:7f00:1 is a loopback address/;

const CASES: Case[] = [
  // Public hosts over https.
  allowed(`https://${PUBLIC_V4}/hook`),
  allowed(`https://[${PUBLIC_V6}]/hook`),
  allowed('https://public.example/hook'),
  allowed('https://public.example./hook'),
  allowed('https://public.example../hook'),
  allowed('https://v6.example/hook'),
  allowed('https://both.example:8443/hook?x=1'),
  allowed('https://[::ffff:93.184.216.34]/'),
  // Scheme, userinfo, length, parse.
  refused(`http://${PUBLIC_V4}/hook`, /must be an https URL/),
  refused(`ftp://${PUBLIC_V4}/hook`, /must be an https URL/),
  refused('javascript:alert(1)', /must be an https URL/),
  refused('data:text/plain,hello', /must be an https URL/),
  refused('file:///etc/passwd', /must be an https URL/),
  refused('not a url', /not a valid URL/),
  refused('https://', /not a valid URL/),
  refused(`https://user:secret@${PUBLIC_V4}/`, /username or password/),
  refused('https://user@public.example/', /username or password/),
  refused(`https://${PUBLIC_V4}@127.0.0.1/`, /username or password/),
  refused(`https://public.example/${'a'.repeat(2048)}`, /longer than 2048/),
  // Every spelling of 127.0.0.1, as workerd's URL parser normalises it.
  refused('https://127.0.0.1/', LOOPBACK_V4),
  refused('https://127.1/', LOOPBACK_V4),
  refused('https://2130706433/', LOOPBACK_V4),
  refused('https://0x7f000001/', LOOPBACK_V4),
  refused('https://0x7f.1/', LOOPBACK_V4),
  refused('https://0177.0.0.1/', LOOPBACK_V4),
  refused('https://017700000001/', LOOPBACK_V4),
  refused('https://127.0.0.1./', LOOPBACK_V4),
  refused('https://127.1../', LOOPBACK_V4),
  refused('https://%31%32%37.0.0.1/', LOOPBACK_V4),
  refused('https://127.0.0.2:8080/', /127\.0\.0\.2 is a loopback address/),
  refused('https://localhost/', /localhost is a local name/),
  refused('https://LOCALHOST./', /localhost is a local name/),
  refused('https://foo.localhost/', /foo\.localhost is a local name/),
  refused('https://[::1]/', /::1 is a loopback address/),
  refused('https://[::ffff:127.0.0.1]/', MAPPED_LOOPBACK),
  refused('https://[::ffff:7f00:1]/', MAPPED_LOOPBACK),
  refused('https://[0:0:0:0:0:ffff:127.0.0.1]/', MAPPED_LOOPBACK),
  refused('https://[::127.0.0.1]/', /::7f00:1 is an IPv4-compatible address/),
  // Unspecified, private, link-local, unique-local, CGNAT, multicast, broadcast.
  refused('https://0.0.0.0/', /0\.0\.0\.0 is an unspecified address/),
  refused('https://0/', /0\.0\.0\.0 is an unspecified address/),
  refused('https://[::]/', /:: is an unspecified address/),
  refused('https://10.0.0.1/', /10\.0\.0\.1 is a private address/),
  refused('https://172.16.5.4/', /172\.16\.5\.4 is a private address/),
  refused('https://192.168.1.1/', /192\.168\.1\.1 is a private address/),
  refused('https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/),
  refused('https://[fe80::1]/', /fe80::1 is a link-local address/),
  refused('https://[fd00:ec2::254]/', /fd00:ec2::254 is a unique-local address/),
  refused('https://metadata.google.internal/computeMetadata/v1/', /metadata\.google\.internal is a local name/),
  refused('https://100.64.0.1/', /100\.64\.0\.1 is a carrier-grade NAT address/),
  refused('https://100.100.100.200/', /100\.100\.100\.200 is a carrier-grade NAT address/),
  refused('https://224.0.0.1/', /224\.0\.0\.1 is a multicast address/),
  refused('https://[ff02::1]/', /ff02::1 is a multicast address/),
  refused('https://255.255.255.255/', /255\.255\.255\.255 is a broadcast address/),
  refused('https://198.18.0.1/', /198\.18\.0\.1 is a reserved address/),
  refused('https://240.0.0.1/', /240\.0\.0\.1 is a reserved address/),
  // IPv6 forms that carry an IPv4 address, and Teredo.
  refused('https://[64:ff9b::a00:1]/', /NAT64 address of 10\.0\.0\.1, a private address/),
  refused('https://[2002:a00:1::]/', /6to4 address of 10\.0\.0\.1, a private address/),
  refused('https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', /Teredo/),
  // Local names, refused without a lookup.
  refused('https://printer.local/', /printer\.local is a local name/),
  refused('https://nas.home.arpa/', /nas\.home\.arpa is a local name/),
  refused('https://db.internal/', /db\.internal is a local name/),
  refused('https://intranet/', /intranet is a single-label name/),
  // Names, judged by every address they resolve to.
  refused('https://intranet.example/', /intranet\.example resolves to 10\.0\.0\.7, a private address/),
  refused('https://mixed.example/', /mixed\.example resolves to 10\.0\.0\.7/),
  refused('https://mixed6.example/', /resolves to fd12:3456::1, a unique-local address/),
  refused('https://mapped.example/', /resolves to ::ffff:127\.0\.0\.1, a loopback address/),
  refused('https://metadata.example/', /resolves to 169\.254\.169\.254/),
  refused('https://garbage.example/', /resolves to not-an-address, not an IP address/),
  refused('https://nowhere.example/', /could not resolve nowhere\.example/),
  refused('https://public.example/', /could not resolve public\.example/, { resolve: failingDns }),
  // Development: literal loopback only, over http or https; everything else as usual.
  allowed('http://127.0.0.1:9/x', { allowLoopback: true }),
  allowed('http://[::1]:9/', { allowLoopback: true }),
  allowed('http://localhost:9/', { allowLoopback: true, resolve: failingDns }),
  allowed('http://LOCALHOST.:9/', { allowLoopback: true, resolve: failingDns }),
  allowed('https://127.0.0.1/', { allowLoopback: true }),
  allowed('https://localhost:8787/', { allowLoopback: true, resolve: failingDns }),
  allowed('http://2130706433:9/', { allowLoopback: true }),
  allowed('https://public.example/', { allowLoopback: true }),
  refused('http://10.0.0.1/', /must be an https URL/, { allowLoopback: true }),
  refused('https://10.0.0.1/', /10\.0\.0\.1 is a private address/, { allowLoopback: true }),
  refused('http://example.com/', /must be an https URL/, { allowLoopback: true }),
  refused('http://127.0.0.2/', /must be an https URL/, { allowLoopback: true }),
  refused('https://127.0.0.2/', /127\.0\.0\.2 is a loopback address/, { allowLoopback: true }),
  refused('https://[::ffff:127.0.0.1]/', MAPPED_LOOPBACK, { allowLoopback: true }),
  refused('https://foo.localhost/', /foo\.localhost is a local name/, { allowLoopback: true }),
  refused('ftp://127.0.0.1/', /must be an https URL/, { allowLoopback: true }),
  refused('http://user:pw@127.0.0.1:9/', /username or password/, { allowLoopback: true }),
];

describe('checkWebhookUrl', () => {
  it.each(CASES)('$url (allowLoopback: $allowLoopback) → ok: $ok', async (c) => {
    const dns = fakeDns();
    const verdict = await checkWebhookUrl(c.url, {
      allowLoopback: c.allowLoopback ?? false,
      resolve: c.resolve ?? dns.resolve,
    });
    expect(verdict.ok).toBe(c.ok);
    if (!verdict.ok) {
      expect(verdict.reason).toMatch(/^webhook: /);
      expect(verdict.reason).toMatch(c.reason ?? /^$/);
    }
  });

  it('returns the parsed URL with the host lowercased and its trailing dots removed', async () => {
    const dns = fakeDns();
    const verdict = await checkWebhookUrl('https://Public.EXAMPLE../hook?x=1#f', { allowLoopback: false, ...dns });
    expect(verdict.ok && verdict.url.href).toBe('https://public.example/hook?x=1#f');
    expect(dns.asked).toEqual(['public.example']);
  });

  it('returns IP literals in the form the parser normalised them to', async () => {
    const options = { allowLoopback: true, resolve: failingDns };
    const v4 = await checkWebhookUrl('http://0x7f.1:9/x', options);
    expect(v4.ok && v4.url.href).toBe('http://127.0.0.1:9/x');
    const v6 = await checkWebhookUrl(`https://[${PUBLIC_V6.toUpperCase()}]/`, options);
    expect(v6.ok && v6.url.hostname).toBe(`[${PUBLIC_V6}]`);
  });

  // A resolver that calls everything public: local names, single labels and IP literals must still be decided alone.
  it.each([
    'https://localhost/',
    'https://foo.localhost/',
    'https://metadata.google.internal/',
    'https://printer.local/',
    'https://nas.home.arpa/',
    'https://intranet/',
    'https://10.0.0.1/',
    'https://[fd00:ec2::254]/',
  ])('refuses %s without asking DNS', async (url) => {
    const asked: string[] = [];
    const resolve: Resolver = (name) => {
      asked.push(name);
      return Promise.resolve([PUBLIC_V4]);
    };
    const verdict = await checkWebhookUrl(url, { allowLoopback: false, resolve });
    expect(verdict.ok).toBe(false);
    expect(asked).toEqual([]);
  });
});

describe('isPublicAddress', () => {
  it.each([
    // Public unicast, and the range edges just outside the blocked ones.
    [PUBLIC_V4, true],
    ['1.1.1.1', true],
    ['8.8.8.8', true],
    ['172.15.255.255', true],
    ['172.32.0.0', true],
    ['100.63.255.255', true],
    ['100.128.0.0', true],
    ['198.17.255.255', true],
    ['198.20.0.0', true],
    ['223.255.255.255', true],
    [PUBLIC_V6, true],
    ['2606:4700:4700::1111', true],
    ['::ffff:93.184.216.34', true],
    ['64:ff9b::5db8:d822', true],
    ['2002:5db8:d822::1', true],
    // IPv4 special ranges.
    ['0.0.0.0', false],
    ['0.1.2.3', false],
    ['127.0.0.1', false],
    ['127.255.255.254', false],
    ['10.0.0.1', false],
    ['172.16.0.1', false],
    ['172.31.255.255', false],
    ['192.168.0.1', false],
    ['169.254.169.254', false],
    ['100.64.0.1', false],
    ['100.100.100.200', false],
    ['100.127.255.255', false],
    ['192.0.0.1', false],
    ['192.0.0.170', false],
    ['192.0.2.1', false],
    ['198.18.0.1', false],
    ['198.19.255.255', false],
    ['198.51.100.1', false],
    ['203.0.113.1', false],
    ['224.0.0.1', false],
    ['239.255.255.255', false],
    ['240.0.0.1', false],
    ['255.255.255.255', false],
    // Spellings ipaddr.js parses on its own.
    ['2130706433', false],
    ['0x7f.1', false],
    // IPv6 special ranges, and forms that carry an IPv4 address.
    ['::', false],
    ['::1', false],
    ['fe80::1', false],
    ['fc00::1', false],
    ['fd00:ec2::254', false],
    ['fec0::1', false],
    ['ff02::1', false],
    ['::ffff:10.0.0.1', false],
    ['::ffff:7f00:1', false],
    ['::ffff:169.254.169.254', false],
    ['::7f00:1', false],
    ['::8.8.8.8', false],
    ['::127.0.0.1', false],
    ['::ffff:8.8.8.8', true],
    ['64:ff9b::a00:1', false],
    ['64:ff9b::7f00:1', false],
    ['64:ff9b:1::a00:1', false],
    ['2002:a00:1::', false],
    ['2002:7f00:1::', false],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', false],
    ['2001:db8::1', false],
    ['3fff::1', false],
    ['100::1', false],
    ['4000::1', false],
    // Not addresses at all.
    ['', false],
    ['example.com', false],
    ['1.2.3.4.5', false],
    ['[::1]', false],
  ])('%s → %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });
});

describe('dohResolver', () => {
  const ENDPOINT = 'https://cloudflare-dns.com/dns-query';

  interface Asked {
    url: string;
    accept: string | null;
    signal: unknown;
  }

  /** A fetch that answers each query from `reply` and records what it was asked; nothing leaves the isolate. */
  function fakeFetch(reply: (type: string, name: string) => Response): { fetcher: typeof fetch; asked: Asked[] } {
    const asked: Asked[] = [];
    const fetcher = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      asked.push({ url: url.toString(), accept: new Headers(init?.headers).get('accept'), signal: init?.signal });
      return Promise.resolve(reply(url.searchParams.get('type') ?? '', url.searchParams.get('name') ?? ''));
    };
    return { fetcher, asked };
  }

  const dnsJson = (body: object, status = 200): Response =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/dns-json' } });

  it('asks A and AAAA with the DNS JSON accept header and merges the answers, skipping CNAMEs', async () => {
    const { fetcher, asked } = fakeFetch((type, name) =>
      dnsJson({
        Status: 0,
        Answer: [
          { name, type: 5, TTL: 300, data: 'edge.example.net.' },
          type === 'A'
            ? { name: 'edge.example.net', type: 1, TTL: 300, data: PUBLIC_V4 }
            : { name: 'edge.example.net', type: 28, TTL: 300, data: PUBLIC_V6 },
        ],
      }),
    );
    const addresses = await dohResolver(ENDPOINT, fetcher)('www.example.com');
    expect(addresses).toEqual([PUBLIC_V4, PUBLIC_V6]);
    expect(asked.map((a) => a.url).sort()).toEqual([
      `${ENDPOINT}?name=www.example.com&type=A`,
      `${ENDPOINT}?name=www.example.com&type=AAAA`,
    ]);
    for (const a of asked) {
      expect(a.accept).toBe('application/dns-json');
      expect(a.signal).toBeInstanceOf(AbortSignal);
    }
  });

  it('answers an empty list for NXDOMAIN and for a name with no records, which the guard refuses', async () => {
    const nx = fakeFetch(() => dnsJson({ Status: 3, Authority: [{ name: 'example', type: 6, data: 'a.iana' }] }));
    expect(await dohResolver(ENDPOINT, nx.fetcher)('nowhere.example')).toEqual([]);
    const empty = fakeFetch(() => dnsJson({ Status: 0 }));
    expect(await dohResolver(ENDPOINT, empty.fetcher)('bare.example')).toEqual([]);
    const verdict = await checkWebhookUrl('https://nowhere.example/', {
      allowLoopback: false,
      resolve: dohResolver(ENDPOINT, nx.fetcher),
    });
    expect(verdict).toEqual({ ok: false, reason: 'webhook: could not resolve nowhere.example' });
  });

  it('throws on SERVFAIL and on HTTP 500, which the guard refuses', async () => {
    const servfail = fakeFetch(() => dnsJson({ Status: 2 }));
    await expect(dohResolver(ENDPOINT, servfail.fetcher)('broken.example')).rejects.toThrow(/status 2/);
    const http500 = fakeFetch(() => new Response('oops', { status: 500 }));
    await expect(dohResolver(ENDPOINT, http500.fetcher)('broken.example')).rejects.toThrow(/HTTP 500/);
    const verdict = await checkWebhookUrl('https://broken.example/', {
      allowLoopback: false,
      resolve: dohResolver(ENDPOINT, http500.fetcher),
    });
    expect(verdict).toEqual({ ok: false, reason: 'webhook: could not resolve broken.example' });
  });

  it('feeds the guard: a name whose AAAA answer is private is refused', async () => {
    const { fetcher } = fakeFetch((type, name) =>
      dnsJson({
        Status: 0,
        Answer: [type === 'A' ? { name, type: 1, data: PUBLIC_V4 } : { name, type: 28, data: 'fd00:ec2::254' }],
      }),
    );
    const verdict = await checkWebhookUrl('https://sneaky.example/', {
      allowLoopback: false,
      resolve: dohResolver(ENDPOINT, fetcher),
    });
    expect(verdict).toEqual({
      ok: false,
      reason: 'webhook: sneaky.example resolves to fd00:ec2::254, a unique-local address',
    });
  });
});
