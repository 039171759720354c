/**
 * What the listeners share: per-connection context carried on the socket, the downstream HTTP servers
 * (never listening: listeners hand them detected sockets), socket piping for opaque streams and
 * WebSocket upgrades, and connection tracking for drain.
 */
import { createServer as createHttpServer } from './node-http.js';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import type { Http2Server, ServerHttp2Session, ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { HEADER_PROXY_ERROR } from '../core/contract.js';
import type { ProxyLimits } from './config.js';
import { ERROR_TABLE } from '../core/reasons.js';
import { h2ServerOptions, guardSession } from './h2-guard.js';
import type { DirectionStats } from './metrics.js';
import type { OriginalDestination } from './original-dst.js';

export type OriginalDestinationFn = (socket: Socket) => OriginalDestination | null;

const CONTEXT = Symbol('weft.connection');

export function setContext<T>(socket: Duplex, ctx: T): void {
  (socket as unknown as Record<symbol, T>)[CONTEXT] = ctx;
}

export function getContext<T>(socket: Duplex | null | undefined): T | undefined {
  if (socket === null || socket === undefined) return undefined;
  const own = (socket as unknown as Record<symbol, T | undefined>)[CONTEXT];
  if (own !== undefined) return own;
  // A TLS socket made by tls.Server over a detected socket: the context sits on its parent.
  const parent = (socket as unknown as { _parent?: Duplex })._parent;
  return parent !== undefined ? (parent as unknown as Record<symbol, T | undefined>)[CONTEXT] : undefined;
}

/** The original destination, or undefined when the connection was not redirected. */
export function redirectedTo(socket: Socket, fn: OriginalDestinationFn): OriginalDestination | undefined {
  let orig: OriginalDestination | null;
  try {
    orig = fn(socket);
  } catch {
    return undefined;
  }
  if (orig === null) return undefined;
  // A dual-stack listener ('::') reports an IPv4 peer's local address as ::ffff:a.b.c.d.
  const local = socket.localAddress?.startsWith('::ffff:') === true ? socket.localAddress.slice(7) : socket.localAddress;
  if (orig.port === socket.localPort && orig.address === local) return undefined;
  return orig;
}

/** Only WebSocket upgrades are tunnelled; `Upgrade: h2c` and others are handled as plain requests
 * with the Upgrade header stripped (case 12). */
function isWebSocketUpgrade(req: IncomingMessage): boolean {
  const u = req.headers.upgrade;
  return typeof u === 'string' && u.toLowerCase() === 'websocket';
}

/** Per-connection HTTP/1.1 bookkeeping: responses not yet written, so a parse error waits for them. */
interface Owed {
  /** Requests emitted whose response has not finished. */
  count: number;
  /** The last request emitted. */
  last: IncomingMessage | undefined;
  /** A response that closes the connection was decided: later pipelined requests are not served. */
  closing: boolean;
  /** A parse error was reported. */
  failed: boolean;
  /** Run once when `count` drops to `idleAt`. */
  onIdle: (() => void) | undefined;
  idleAt: number;
  /** A request (or upgrade) head has been parsed on this connection. */
  started: boolean;
}

const OWED = Symbol('weft.owed');

function owedOf(socket: Duplex): Owed {
  const holder = socket as unknown as Record<symbol, Owed | undefined>;
  return (holder[OWED] ??= { count: 0, last: undefined, closing: false, failed: false, onIdle: undefined, idleAt: 0, started: false });
}

/**
 * Node's header timeout starts when the HTTP server is handed the socket, after detection: a client
 * trickling its first bytes would get the detection time on top (security case 33). This closes a
 * plaintext HTTP/1 connection whose first request head has not been parsed `timeoutMs` after accept.
 */
export function firstRequestDeadline(socket: Duplex, acceptedAt: number, timeoutMs: number, stats: DirectionStats): void {
  const owed = owedOf(socket);
  const left = acceptedAt + timeoutMs - Date.now();
  const timer = setTimeout(() => {
    if (owed.started || socket.destroyed) return;
    stats.error('UPSTREAM_TIMEOUT');
    socket.end('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n', () => socket.destroy());
    setTimeout(() => socket.destroy(), 1_000).unref();
  }, Math.max(0, left));
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

export interface DownstreamServers {
  readonly http1: HttpServer;
  readonly http2: Http2Server;
  readonly h2Sessions: Set<ServerHttp2Session>;
}

export function createDownstreamServers(
  limits: ProxyLimits,
  stats: DirectionStats,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void,
  onStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void,
): DownstreamServers {
  const http1 = createHttpServer({
    maxHeaderSize: limits.maxHeaderBytes,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.upstreamKeepAliveMs + 5_000,
    requireHostHeader: false,
    shouldUpgradeCallback: isWebSocketUpgrade,
    connectionsCheckingInterval: 1_000,
  }, (req, res) => {
    const owed = owedOf(req.socket);
    // A request pipelined after a response that closes the connection (a 400, HTTP/1.0, drain)
    // would never get its answer: it is not forwarded (the client can safely send it again).
    if (owed.closing) return;
    owed.started = true;
    owed.count++;
    owed.last = req;
    // An upgrade request not upgraded (any token but websocket) is served as a plain request, but
    // node's parser reads no further request on that connection: its answer closes the connection
    // rather than leave later requests unanswered (security-cases W1). Its own body is still read.
    const notUpgraded = req.headers.upgrade !== undefined && /(^|,)\s*upgrade\s*(,|$)/i.test(String(req.headers.connection ?? ''));
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      owed.count--;
      if (owed.count <= owed.idleAt) owed.onIdle?.();
    };
    res.once('finish', settle);
    res.once('close', settle);
    if (notUpgraded) res.shouldKeepAlive = false;
    onRequest(req, res);
    if (!res.shouldKeepAlive && !notUpgraded) owed.closing = true;
  });
  http1.timeout = limits.idleTimeoutMs;
  // This server never listens (listeners hand it sockets), but node starts its connection tracking,
  // which enforces headersTimeout/requestTimeout and powers closeIdleConnections, on 'listening'.
  http1.emit('listening');
  http1.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    owedOf(req.socket).started = true;
    onUpgrade(req, socket, head);
  });
  http1.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const owed = owedOf(socket);
    if (owed.failed) return; // node may report the dead parser again for later data
    owed.failed = true;
    const code = err.code === 'HPE_HEADER_OVERFLOW' ? 'HEADERS_TOO_LARGE' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'UPSTREAM_TIMEOUT' : 'BAD_REQUEST';
    const answer = () => {
      // A parse error inside a body (chunk framing, case 8) comes after the request was emitted:
      // answer 400 as long as no response has started, then close (the upstream attempt is aborted).
      const pending = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
      if (!socket.writable || (pending !== undefined && pending !== null && pending.headersSent)) {
        socket.destroy();
        return;
      }
      const m = ERROR_TABLE[code];
      const status = code === 'UPSTREAM_TIMEOUT' ? 408 : m.http;
      stats.error(code);
      socket.end(`HTTP/1.1 ${status} ${code === 'UPSTREAM_TIMEOUT' ? 'Request Timeout' : code === 'HEADERS_TOO_LARGE' ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n${HEADER_PROXY_ERROR}: ${m.header}\r\n\r\n`, () => socket.destroy());
    };
    // Responses still owed to earlier pipelined requests go first: a 400 written now would be read
    // as their answer. The request whose body failed to parse is owed the 400 itself.
    const inBody = owed.last !== undefined && !owed.last.complete && owed.count > 0;
    const before = owed.count - (inBody ? 1 : 0);
    if (before === 0) {
      answer();
      return;
    }
    if (owed.closing) return; // an owed response closes the connection: the bad bytes are ignored
    owed.idleAt = inBody ? 1 : 0;
    owed.onIdle = () => {
      owed.onIdle = undefined;
      // Node's own 'finish' handler ran first: a response that ends the connection has ended it.
      // Otherwise the 400 is next in order (for the request whose body broke, if that is the case).
      if (socket.writable) answer();
    };
  });
  const http2 = createH2Server(h2ServerOptions(limits));
  const h2Sessions = new Set<ServerHttp2Session>();
  http2.on('session', (session: ServerHttp2Session) => {
    h2Sessions.add(session);
    session.once('close', () => h2Sessions.delete(session));
    session.setTimeout(limits.idleTimeoutMs, () => session.close());
    guardSession(session, limits, () => {
      stats.floodsClosed++;
    });
  });
  http2.on('stream', onStream);
  http2.on('sessionError', () => undefined);
  return { http1, http2, h2Sessions };
}

/** Pipes two sockets both ways; either side's error or close tears down both. */
export function pipeBoth(a: Duplex, b: Duplex): void {
  const kill = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', kill);
  b.on('error', kill);
  a.once('close', () => b.destroy());
  b.once('close', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
  a.resume();
}

/** Tracks open downstream connections so drain knows when it is done. */
export class ConnectionSet {
  private readonly sockets = new Set<Socket>();
  private waiters: (() => void)[] = [];
  constructor(private readonly stats: DirectionStats) {}
  add(s: Socket): void {
    this.sockets.add(s);
    this.stats.connections++;
    this.stats.openConnections++;
    s.once('close', () => {
      this.sockets.delete(s);
      this.stats.openConnections--;
      if (this.sockets.size === 0) for (const w of this.waiters.splice(0)) w();
    });
  }
  get size(): number {
    return this.sockets.size;
  }
  empty(): Promise<void> {
    return this.sockets.size === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
  destroyAll(): void {
    for (const s of this.sockets) s.destroy();
  }
}
