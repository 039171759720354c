/**
 * The echo client: sends N requests (HTTP/1.1 or gRPC) one after the other and prints, per request, a
 * block of `[i] Key=value` lines: StatusCode, one ResponseHeader per response header value, then the
 * server's lines. Never follows redirects. The output format is a contract (README.md) and
 * `parseClientOutput` reads it back.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { EchoClient, type EchoResponse } from './gen/weft/echo/v1/echo.js';
import { canonicalHeaderPairs, echoLines } from './format.js';
import type { ClientFlags } from './flags.js';

/** One request's result: a response (any status) or a failure to get one. */
export type Outcome =
  | { kind: 'response'; statusCode: number; responseHeaders: Array<[string, string]>; lines: string[] }
  | { kind: 'failure'; error: string };

export interface ClientOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

function httpRequest(url: URL, flags: ClientFlags): Promise<Outcome> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of flags.headers) {
    const key = name.toLowerCase();
    const prev = headers[key];
    headers[key] = prev === undefined ? value : key === 'host' ? value : [...(Array.isArray(prev) ? prev : [prev]), value];
  }
  return new Promise((resolve) => {
    let settled = false;
    const settle = (o: Outcome): void => {
      if (!settled) {
        settled = true;
        clearTimeout(timer);
        resolve(o);
      }
    };
    // A fresh connection per request (agent: false), like the upstream client: without a mesh,
    // kube-proxy then spreads requests over pods.
    const req = http.request(
      { protocol: 'http:', hostname: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || 80, path: `${url.pathname}${url.search}`, method: flags.method, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => settle({ kind: 'failure', error: `reading response: ${e.message}` }));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          settle({
            kind: 'response',
            statusCode: res.statusCode ?? 0,
            responseHeaders: canonicalHeaderPairs(res.rawHeaders),
            lines: body.split('\n').filter((l) => l !== ''),
          });
        });
      },
    );
    const timer = setTimeout(() => {
      settle({ kind: 'failure', error: `timeout after ${flags.timeoutMs}ms` });
      req.destroy();
    }, flags.timeoutMs);
    req.on('error', (e) => settle({ kind: 'failure', error: e.message }));
    req.end();
  });
}

function grpcLines(r: EchoResponse): string[] {
  return [
    ...echoLines({
      serviceVersion: r.serviceVersion,
      servicePort: r.servicePort,
      host: r.host,
      url: r.url,
      cluster: r.cluster,
      method: r.method,
      proto: r.proto,
      ip: r.ip,
      alpn: '',
      requestHeaders: r.requestHeaders.map((h) => [h.name, h.value] as const),
      hostname: r.hostname,
    }),
    ...(r.message === '' ? [] : [`Echo=${r.message}`]),
  ];
}

/** Connection-level failures: nothing answered. A status some server or proxy sent is a response. */
function isConnectionFailure(err: ServiceError, gotHeaders: boolean): boolean {
  if (err.code === GrpcStatus.DEADLINE_EXCEEDED) return true;
  return err.code === GrpcStatus.UNAVAILABLE && !gotHeaders && /connect|No connection established|ECONNREFUSED|resolution|socket/i.test(err.details);
}

function grpcCall(client: EchoClient, flags: ClientFlags, i: number): Promise<Outcome> {
  const md = new Metadata();
  for (const [name, value] of flags.headers) if (name.toLowerCase() !== 'host') md.add(name.toLowerCase(), value);
  return new Promise((resolve) => {
    let responseHeaders: Array<[string, string]> = [];
    let gotHeaders = false;
    const call = client.echo({ message: `request ${i}` }, md, { deadline: Date.now() + flags.timeoutMs }, (err, res) => {
      if (err) {
        if (isConnectionFailure(err, gotHeaders)) resolve({ kind: 'failure', error: `${GrpcStatus[err.code]}: ${err.details}` });
        else resolve({ kind: 'response', statusCode: err.code, responseHeaders, lines: err.details === '' ? [] : [`GrpcMessage=${err.details}`] });
        return;
      }
      resolve({ kind: 'response', statusCode: 200, responseHeaders, lines: grpcLines(res) });
    });
    call.on('metadata', (m: Metadata) => {
      gotHeaders = true;
      const raw: string[] = [];
      for (const [name, values] of Object.entries(m.toJSON())) for (const v of values) raw.push(name, typeof v === 'string' ? v : Buffer.from(v).toString('base64'));
      responseHeaders = canonicalHeaderPairs(raw);
    });
  });
}

/** Prints one request's block. */
export function formatOutcome(i: number, o: Outcome): string[] {
  if (o.kind === 'failure') return [];
  return [
    `[${i}] StatusCode=${o.statusCode}`,
    ...o.responseHeaders.map(([n, v]) => `[${i}] ResponseHeader=${n}:${v}`),
    ...o.lines.map((l) => `[${i}] ${l}`),
  ];
}

/** Runs the requests; returns the exit code: 0 when every request got a response, 1 otherwise. */
export async function runClient(flags: ClientFlags, output: ClientOutput): Promise<number> {
  let url: URL;
  try {
    url = new URL(flags.url);
  } catch {
    output.err(`error: invalid URL ${JSON.stringify(flags.url)}`);
    return 2;
  }
  let send: (i: number) => Promise<Outcome>;
  let cleanup = (): void => {};
  if (url.protocol === 'http:') {
    send = () => httpRequest(url, flags);
  } else if (url.protocol === 'grpc:') {
    const authority = flags.headers.find(([n]) => n.toLowerCase() === 'host')?.[1];
    const target = `${url.hostname}:${url.port || 80}`;
    const client = new EchoClient(target, credentials.createInsecure(), authority === undefined ? {} : { 'grpc.default_authority': authority });
    send = (i) => grpcCall(client, flags, i);
    cleanup = () => client.close();
  } else {
    output.err(`error: unsupported scheme ${url.protocol} (use http:// or grpc://)`);
    return 2;
  }
  let failures = 0;
  const intervalMs = flags.qps > 0 ? 1000 / flags.qps : 0;
  const start = Date.now();
  try {
    for (let i = 0; i < flags.count; i++) {
      if (intervalMs > 0) {
        const wait = start + i * intervalMs - Date.now();
        if (wait > 0) await sleep(wait);
      }
      const o = await send(i);
      if (o.kind === 'failure') {
        failures++;
        output.err(`[${i}] error: ${flags.url}: ${o.error}`);
      } else {
        for (const line of formatOutcome(i, o)) output.out(line);
        // A blank line ends each response, as Istio's echo client does: upstream's conformance harness
        // splits `--count` output into responses at blank lines.
        output.out('');
      }
    }
  } finally {
    cleanup();
  }
  if (failures > 0) {
    output.err(`error: ${failures} of ${flags.count} requests got no response`);
    return 1;
  }
  return 0;
}

/** One request as read back from the client's output. */
export interface ParsedResponse {
  index: number;
  statusCode: number;
  responseHeaders: Array<[string, string]>;
  /** The server's Key=value lines, in order (RequestHeader lines included). */
  fields: Array<[string, string]>;
}

/** Reads the client's stdout back into one entry per answered request. */
export function parseClientOutput(text: string): ParsedResponse[] {
  const byIndex = new Map<number, ParsedResponse>();
  for (const line of text.split('\n')) {
    const m = /^\[(\d+)\] ([^=]+)=(.*)$/.exec(line);
    if (!m) continue;
    const index = Number(m[1]);
    const key = m[2] as string;
    const value = m[3] as string;
    let entry = byIndex.get(index);
    if (entry === undefined) {
      entry = { index, statusCode: 0, responseHeaders: [], fields: [] };
      byIndex.set(index, entry);
    }
    if (key === 'StatusCode') entry.statusCode = Number(value);
    else if (key === 'ResponseHeader') {
      const colon = value.indexOf(':');
      entry.responseHeaders.push([value.slice(0, colon), value.slice(colon + 1)]);
    } else entry.fields.push([key, value]);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
