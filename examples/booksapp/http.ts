/**
 * What every booksapp server shares: a node:http server with a graceful close, JSON and text replies,
 * bounded JSON request bodies, probe paths, and calls to an upstream service that turn every failure
 * into an HTTP status the caller can pass on (the upstream's own 5xx, 502 unreachable, 504 too slow).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Log = (line: string) => void;

/** Probe paths: answered 200 by every app except the error injector, never failed or delayed on purpose. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/ready', '/live']);

/** A request body larger than this is refused (413): the apps keep everything in memory. */
const MAX_BODY_BYTES = 64 * 1024;

/** How long close() lets requests in progress finish before cutting their connections. */
const CLOSE_GRACE_MS = 5000;

export interface RunningServer {
  readonly port: number;
  /** Stops accepting, lets requests in progress finish (up to a grace period), then resolves. */
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => Promise<void>;

/** An error with the HTTP status it should be answered with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function startServer(app: string, port: number, handler: Handler, log: Log): Promise<RunningServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    const started = Date.now();
    res.on('finish', () => {
      if (!PROBE_PATHS.has(url.pathname)) log(`${req.method ?? '?'} ${url.pathname}${url.search} -> ${res.statusCode} (${Date.now() - started} ms)`);
    });
    handler(req, res, url).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof HttpError)) log(`error: ${req.method ?? '?'} ${url.pathname}: ${message}`);
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      const bound = (server.address() as AddressInfo).port;
      log(`${app} listening on :${bound}`);
      resolve({
        port: bound,
        close: () =>
          new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
            force.unref();
            server.close(() => {
              clearTimeout(force);
              done();
            });
            server.closeIdleConnections();
          }),
      });
    });
  });
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: http.ServerResponse, status: number, text: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Answers the probe paths; returns whether it did. */
export function answerProbe(res: http.ServerResponse, url: URL): boolean {
  if (!PROBE_PATHS.has(url.pathname)) return false;
  sendText(res, 200, 'ok\n');
  return true;
}

/** Reads a JSON object body; 400 when it is not one, 413 when too large. */
export async function readJsonObject(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'body is not a JSON object');
  return value as Record<string, unknown>;
}

/** A string field of a JSON body: 400 when required and missing, or not a non-empty string. */
export function stringField(body: Record<string, unknown>, name: string, required: boolean): string | undefined {
  const v = body[name];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.trim() === '') throw new HttpError(400, `"${name}" must be a non-empty string`);
  return v.trim();
}

/** `/things/7` -> 7; undefined for anything else under the prefix. */
export function idAfter(prefix: string, pathname: string): number | undefined {
  if (!pathname.startsWith(`${prefix}/`)) return undefined;
  const rest = pathname.slice(prefix.length + 1);
  return /^[1-9][0-9]{0,8}$/.test(rest) ? Number(rest) : undefined;
}

export interface UpstreamReply {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Calls an upstream service. Answers with status < 500 come back as values (a 404 is information);
 * a 5xx answer, an unreachable upstream or one slower than `timeoutMs` throws an HttpError carrying the
 * status to answer with, so a failure deep in the call chain reaches the user with its cause.
 */
export async function callUpstream(name: string, baseUrl: string, method: string, path: string, timeoutMs: number, body?: unknown): Promise<UpstreamReply> {
  const init: RequestInit = { method, signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { accept: 'application/json', 'content-type': 'application/json' };
  }
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${baseUrl}${path}`, init);
    text = await res.text();
  } catch (err) {
    const e = err as Error;
    if (e.name === 'TimeoutError') throw new HttpError(504, `${name}: no answer to ${method} ${path} within ${timeoutMs} ms`);
    const cause = (e.cause as Error | undefined)?.message ?? e.message;
    throw new HttpError(502, `${name}: ${method} ${path} failed: ${cause}`);
  }
  if (res.status >= 500) throw new HttpError(res.status, `${name} answered ${res.status} to ${method} ${path}`);
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new HttpError(502, `${name}: ${method} ${path}: answer is not JSON`);
    }
  }
  return { status: res.status, body: parsed };
}

/** A logger that prefixes each line with the time and the app's name. */
export function consoleLog(app: string): Log {
  return (line) => console.log(`${new Date().toISOString()} ${app}: ${line}`);
}
