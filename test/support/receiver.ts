/**
 * @module A real webhook receiver on loopback for the tests (and the bench): records every delivery's raw body and
 * headers per path, answers as the path asks (`/hook/<name>?fail=2` fails twice with 500 then accepts, `fail=always`
 * never accepts, `status=410` picks the failing status, `delay=ms` answers late), and serves the records at
 * `GET /log/<name>`. It also answers DNS-over-HTTPS JSON queries (`/dns-query`) from a fixed table: DNS for public
 * names cannot exist on this machine, and the SSRF guard's resolver is the one part that needs it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Delivery } from './provided.js';

/** Names the test DNS answers, for the guard's submit-time decisions (nothing is ever sent to them). */
export const TEST_DNS: Record<string, { A?: string[]; AAAA?: string[] }> = {
  'intranet.example.test': { A: ['10.1.2.3'] },
  'metadata.example.test': { A: ['169.254.169.254'] },
  'rebind.example.test': { A: ['93.184.216.34', '127.0.0.1'] },
  'v6-private.example.test': { AAAA: ['fd00::1'] },
};

export interface Receiver {
  url: string;
  server: Server;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startReceiver(): Promise<Receiver> {
  const log = new Map<string, Delivery[]>();
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const [, kind, name = ''] = url.pathname.split('/');
      if (req.method === 'GET' && kind === 'log') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(log.get(name) ?? []));
        return;
      }
      if (req.method === 'GET' && kind === 'dns-query') {
        const host = (url.searchParams.get('name') ?? '').replace(/\.$/, '');
        const type = url.searchParams.get('type') === 'AAAA' ? 'AAAA' : 'A';
        const entry = TEST_DNS[host];
        const answers = entry?.[type] ?? [];
        res.writeHead(200, { 'content-type': 'application/dns-json' }).end(
          JSON.stringify({
            Status: entry === undefined ? 3 : 0,
            Answer: answers.map((data) => ({ name: host, type: type === 'A' ? 1 : 28, TTL: 60, data })),
          }),
        );
        return;
      }
      if (req.method === 'POST' && kind === 'hook') {
        const body = await readBody(req);
        const seen = log.get(name) ?? [];
        log.set(name, seen);
        const fail = url.searchParams.get('fail');
        const failing = fail === 'always' || seen.length < Number(fail ?? 0);
        const answered = failing ? Number(url.searchParams.get('status') ?? 500) : 200;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        seen.push({ headers, body, answered, at: Date.now() });
        const delay = Number(url.searchParams.get('delay') ?? 0);
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        res.writeHead(answered, { 'content-type': 'text/plain' }).end(failing ? 'not now' : 'ok');
        return;
      }
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
