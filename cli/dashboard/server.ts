/**
 * The dashboard's HTTP server: the bundled page (dist/dashboard, built by scripts/build-dashboard.mjs)
 * and a small JSON API over the collector and the view models.
 *
 *   GET  /                          the page (index.html)
 *   GET  /assets/<file>             the bundle's files (only those present at start)
 *   GET  /api/overview?window=<s>   namespaces, workloads, routes, topology, problems (model.ts overview)
 *   GET  /api/route?key=<ns>/<kind>/<name>&window=<s>   one route's detail (model.ts routeDetail)
 *   POST /api/explain               {namespace, pod | serviceAccount, method, url, headers?} -> the
 *                                   explanation `weft explain` prints, as JSON and as its text
 *
 * Bad input answers 400 with {error} naming the cause. The server listens on loopback by default and
 * only answers Host headers naming its own address (a page elsewhere cannot reach it through DNS
 * rebinding); POST needs a JSON content type, which a cross-site form cannot send.
 */
import { readFile, readdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import type { Explanation } from '../observe/explain.js';
import { renderExplanation } from '../observe/explain.js';
import type { ExplainQuery } from '../observe/explain-command.js';
import { explanationJson } from '../observe/explain-command.js';
import type { Collector } from './collector.js';
import { overview, routeDetail } from './model.js';

export const DEFAULT_WINDOW_SECONDS = 30;
/** The longest window the page may ask for; the collector keeps scrapes this long. */
export const MAX_WINDOW_SECONDS = 600;

export interface DashboardServerDeps {
  readonly collector: Pick<Collector, 'window' | 'history' | 'status' | 'snapshot'>;
  readonly explain: (q: ExplainQuery) => Promise<{ ok: true; explanation: Explanation } | { ok: false; error: string }>;
  /** The folder holding index.html and assets/. */
  readonly assetsDir: string;
  readonly policyOptions?: { readonly trustDomain?: string; readonly clusterNetworks?: readonly string[]; readonly defaultPolicy?: string };
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
};

class BadRequest extends Error {}

function send(res: ServerResponse, status: number, body: string | Buffer, type: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');

/** `window` from the query: whole seconds in [1, MAX_WINDOW_SECONDS]; absent gives the default. */
export function parseWindow(text: string | null): number {
  if (text === null || text === '') return DEFAULT_WINDOW_SECONDS;
  if (!/^\d+$/.test(text)) throw new BadRequest(`window must be whole seconds, not ${JSON.stringify(text)}`);
  const n = Number(text);
  if (n < 1 || n > MAX_WINDOW_SECONDS) throw new BadRequest(`window must be between 1 and ${MAX_WINDOW_SECONDS} seconds, not ${n}`);
  return n;
}

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** The explain form's JSON body, checked field by field. */
export function parseExplainBody(body: unknown): ExplainQuery {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const str = (k: string, required: boolean): string | undefined => {
    const v = b[k];
    if (v === undefined || v === '') {
      if (required) throw new BadRequest(`${k} is required`);
      return undefined;
    }
    if (typeof v !== 'string') throw new BadRequest(`${k} must be a string`);
    return v;
  };
  const namespace = str('namespace', true) ?? '';
  if (!NAME.test(namespace)) throw new BadRequest(`namespace ${JSON.stringify(namespace)} is not a valid name`);
  const pod = str('pod', false);
  const serviceAccount = str('serviceAccount', false);
  if ((pod === undefined) === (serviceAccount === undefined)) throw new BadRequest('give exactly one of pod and serviceAccount');
  for (const [k, v] of [['pod', pod], ['serviceAccount', serviceAccount]] as const) if (v !== undefined && !NAME.test(v)) throw new BadRequest(`${k} ${JSON.stringify(v)} is not a valid name`);
  const method = (str('method', false) ?? 'GET').toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new BadRequest(`method ${JSON.stringify(method)} is not an HTTP method`);
  const url = str('url', true) ?? '';
  const rawHeaders = b['headers'] ?? [];
  if (!Array.isArray(rawHeaders)) throw new BadRequest('headers must be a list of "Name: value" strings');
  const headers = rawHeaders.map((h): [string, string] => {
    const i = typeof h === 'string' ? h.indexOf(':') : -1;
    if (typeof h !== 'string' || i <= 0) throw new BadRequest(`header ${JSON.stringify(h)} is not "Name: value"`);
    return [h.slice(0, i).trim(), h.slice(i + 1).trim()];
  });
  const clientIp = str('clientIp', false);
  return {
    namespace, method, url, headers,
    ...(pod !== undefined ? { pod } : {}),
    ...(serviceAccount !== undefined ? { serviceAccount } : {}),
    ...(clientIp !== undefined ? { clientIp } : {}),
  };
}

/** Host headers this server answers: its own address and port, and localhost when on loopback. */
export function allowedHost(host: string | undefined, address: string, port: number): boolean {
  if (host === undefined) return false;
  if (address === '0.0.0.0' || address === '::') return true;
  const names = [address.includes(':') ? `[${address}]` : address, ...(address.startsWith('127.') || address === '::1' ? ['localhost', '127.0.0.1', '[::1]'] : [])];
  return names.some((n) => host === `${n}:${port}`);
}

const MAX_BODY = 64 * 1024;

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new BadRequest('send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new BadRequest(`the body is larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new BadRequest(`the body is not JSON: ${(err as Error).message}`);
  }
}

export async function createDashboardServer(deps: DashboardServerDeps, address: string, port: number): Promise<{ server: Server; url: string }> {
  const files = new Set(await readdir(join(deps.assetsDir, 'assets')).catch(() => [] as string[]));
  let boundPort = port;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (!allowedHost(req.headers.host, address, boundPort)) return send(res, 403, `host ${JSON.stringify(req.headers.host ?? '')} is not this dashboard's address\n`, 'text/plain; charset=utf-8');
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    try {
      if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
        const page = await readFile(join(deps.assetsDir, 'index.html')).catch(() => undefined);
        if (page === undefined) return send(res, 500, `the dashboard's page is not built (no ${join(deps.assetsDir, 'index.html')}): run npm run build\n`, 'text/plain; charset=utf-8');
        return send(res, 200, page, TYPES['.html'] ?? '');
      }
      if (req.method === 'GET' && path.startsWith('/assets/')) {
        const name = path.slice('/assets/'.length);
        if (!files.has(name)) return send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
        return send(res, 200, await readFile(join(deps.assetsDir, 'assets', name)), TYPES[extname(name)] ?? 'application/octet-stream');
      }
      if (req.method === 'GET' && path === '/api/overview') {
        const seconds = parseWindow(url.searchParams.get('window'));
        const input = await deps.collector.window(seconds);
        const status = deps.collector.status();
        if (input === undefined) return sendJson(res, 200, { ready: false, status, message: `waiting for a second scrape (every ${status.intervalSeconds}s)` });
        return sendJson(res, 200, { ready: true, status, ...overview(input, deps.collector.history) });
      }
      if (req.method === 'GET' && path === '/api/route') {
        const key = url.searchParams.get('key') ?? '';
        if (!/^[^/]+\/(httproute|grpcroute)\/[^/]+$/.test(key)) throw new BadRequest(`key must be <namespace>/<httproute|grpcroute>/<name>, not ${JSON.stringify(key)}`);
        const input = await deps.collector.window(parseWindow(url.searchParams.get('window')));
        if (input === undefined) return sendJson(res, 503, { error: 'no data yet: waiting for a second scrape' });
        const detail = routeDetail(input, key, deps.collector.history, deps.policyOptions ?? {});
        if (detail === undefined) return sendJson(res, 404, { error: `no route ${key}` });
        return sendJson(res, 200, detail);
      }
      if (path === '/api/explain') {
        if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST a JSON body' });
        const q = parseExplainBody(await readJson(req));
        const r = await deps.explain(q);
        if (!r.ok) return sendJson(res, 400, { error: r.error });
        return sendJson(res, 200, { explanation: explanationJson(r.explanation), text: renderExplanation(r.explanation) });
      }
      return sendJson(res, 404, { error: `no such page: ${req.method ?? ''} ${path}` });
    } catch (err) {
      if (err instanceof BadRequest) return sendJson(res, 400, { error: err.message });
      return sendJson(res, 500, { error: (err as Error).message });
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: (err as Error).message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const a = server.address();
  boundPort = typeof a === 'object' && a !== null ? a.port : port;
  const host = address === '0.0.0.0' || address === '::' ? '127.0.0.1' : address.includes(':') ? `[${address}]` : address;
  return { server, url: `http://${host}:${boundPort}/` };
}
