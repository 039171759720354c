/**
 * The echo server: HTTP/1.1 and cleartext HTTP/2 on every HTTP port, HTTPS (HTTP/1.1 and HTTP/2 by
 * ALPN) on TLS ports, gRPC on gRPC ports, raw byte echo on TCP ports. Every HTTP request and gRPC call is
 * answered with what the server saw (format.ts), so tests can tell which pod answered and what the mesh
 * changed.
 *
 * Query parameters of HTTP requests: `delay=<duration>` waits first, `codes=<status>[:weight],...`
 * picks the status, `headers=<name>:<value>` (repeatable) adds a response header. Without `codes`,
 * the server's own status list applies (`--codes`, changed at run time on the control port).
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Duplex } from 'node:stream';
import { Server as GrpcServer, ServerCredentials, type Metadata } from '@grpc/grpc-js';
import { EchoService, type EchoServer as EchoServiceImpl } from './gen/weft/echo/v1/echo.js';
import { canonicalHeaderPairs, echoLines, parseDuration, pickStatus, plainAddress, type EchoFields } from './format.js';
import { startControl, type EchoControlState } from './control.js';

export { pickStatus };
import type { ServerFlags } from './flags.js';

export interface EchoServerOptions extends ServerFlags {
  /** Defaults to os.hostname() (the pod name). */
  hostname?: string;
  log?: (line: string) => void;
}

export interface BoundPorts {
  http: number[];
  tls: number[];
  grpc: number[];
  tcp: number[];
}

export interface RunningEchoServer {
  ports: BoundPorts;
  /** The control port when `controlPort` asked for one (control.ts). */
  control?: number;
  close(): Promise<void>;
}

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** The part of the HTTP/1.1 and HTTP/2 compatibility responses the handler uses. */
interface AnyResponse {
  readonly headersSent: boolean;
  setHeader(name: string, value: string | string[]): unknown;
  writeHead(statusCode: number, headers?: Record<string, string>): unknown;
  end(): unknown;
  end(body: string): unknown;
}

/** The Go HTTP server answers a request with Host in req.Host, not in its headers; so does this echo. */
const SKIPPED_REQUEST_HEADERS: ReadonlySet<string> = new Set(['host']);

/** Client address of cleartext HTTP/2 sessions, whose socket is a replaying Duplex (see replayingDuplex). */
const h2cPeers = new WeakMap<http2.Http2Session, string>();

function isHttp2(req: AnyRequest): req is http2.Http2ServerRequest {
  return req.httpVersionMajor === 2;
}

/** The verified client certificate's subject alternative names on a TLS port that asked for one. */
function clientCertOf(socket: net.Socket): string {
  const tls = socket as net.Socket & { authorized?: boolean; getPeerCertificate?: () => { subjectaltname?: string } };
  if (tls.authorized !== true || tls.getPeerCertificate === undefined) return '';
  return tls.getPeerCertificate().subjectaltname ?? '';
}

function requestFields(req: AnyRequest, servicePort: number, opts: Required<Pick<EchoServerOptions, 'version' | 'cluster' | 'hostname'>>): EchoFields {
  const socket = req.socket as net.Socket & { alpnProtocol?: string | false };
  const host = isHttp2(req) ? req.authority : (req.headers.host ?? '');
  return {
    serviceVersion: opts.version,
    servicePort,
    host,
    url: req.url ?? '',
    cluster: opts.cluster,
    method: req.method ?? '',
    proto: `HTTP/${req.httpVersionMajor}.${req.httpVersionMinor}`,
    ip: (isHttp2(req) && req.stream.session !== undefined ? h2cPeers.get(req.stream.session) : undefined) ?? plainAddress(socket.remoteAddress),
    alpn: typeof socket.alpnProtocol === 'string' ? socket.alpnProtocol : '',
    clientCert: clientCertOf(socket),
    requestHeaders: canonicalHeaderPairs(req.rawHeaders, SKIPPED_REQUEST_HEADERS),
    hostname: opts.hostname,
  };
}

function httpHandler(servicePort: () => number, opts: Required<Pick<EchoServerOptions, 'version' | 'cluster' | 'hostname'>>, state: EchoControlState) {
  return (req: AnyRequest, res: AnyResponse): void => {
    state.requests++;
    void answer(req, res, servicePort(), opts, state.codes).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

async function answer(req: AnyRequest, res: AnyResponse, servicePort: number, opts: Required<Pick<EchoServerOptions, 'version' | 'cluster' | 'hostname'>>, defaultCodes: string): Promise<void> {
  const query = new URL(req.url ?? '/', 'http://echo.invalid').searchParams;
  const problems: string[] = [];
  const delay = query.get('delay');
  if (delay !== null) {
    const ms = parseDuration(delay);
    if (ms === undefined) problems.push(`bad delay ${JSON.stringify(delay)}`);
    else await sleep(ms);
  }
  let statusCode = 200;
  const codes = query.get('codes') ?? (defaultCodes === '' ? null : defaultCodes);
  if (codes !== null) {
    const picked = pickStatus(codes);
    if (picked === undefined) problems.push(`bad codes ${JSON.stringify(codes)}`);
    else statusCode = picked;
  }
  const extra = new Map<string, string[]>();
  for (const h of query.getAll('headers')) {
    const colon = h.indexOf(':');
    if (colon <= 0) {
      problems.push(`bad headers ${JSON.stringify(h)}`);
      continue;
    }
    const name = h.slice(0, colon);
    extra.set(name, [...(extra.get(name) ?? []), h.slice(colon + 1)]);
  }
  if (problems.length > 0) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`${problems.join('\n')}\n`);
    return;
  }
  const body = `${echoLines(requestFields(req, servicePort, opts)).join('\n')}\n`;
  res.setHeader('content-type', 'text/plain');
  for (const [name, values] of extra) res.setHeader(name, values);
  res.writeHead(statusCode);
  if (req.method === 'HEAD') res.end();
  else res.end(body);
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Hands a socket whose first bytes were already read to the HTTP/2 server. node:http2 reads a net.Socket
 * through its native handle, which would miss bytes put back with unshift(), so the session gets a JS
 * Duplex that replays `first` and then relays the socket (with the socket's addresses copied on it).
 */
function replayingDuplex(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => {
      socket.resume();
    },
    write: (chunk: Buffer, _encoding, callback) => {
      socket.write(chunk, (err) => callback(err ?? null));
    },
    final: (callback) => {
      socket.end();
      callback();
    },
    destroy: (err, callback) => {
      socket.destroy();
      callback(err);
    },
  });
  Object.assign(duplex, {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    remoteFamily: socket.remoteFamily,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
  });
  duplex.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  return duplex;
}

/**
 * A cleartext port serving HTTP/1.1 and HTTP/2 with prior knowledge (h2c): the first bytes pick the
 * protocol, as proxies forward either.
 */
function cleartextHttpServer(handler: ReturnType<typeof httpHandler>): { server: net.Server; closeAll(): void } {
  const h1 = http.createServer({ keepAlive: true }, handler);
  const h2 = http2.createServer({}, handler);
  const sockets = new Set<net.Socket>();
  // 'session' is emitted synchronously inside emit('connection'), so `connecting` names its socket.
  let connecting: net.Socket | undefined;
  h2.on('session', (session) => {
    if (connecting !== undefined) h2cPeers.set(session, plainAddress(connecting.remoteAddress));
  });
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      const n = Math.min(chunk.length, H2_PREFACE.length);
      if (chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
        connecting = socket;
        h2.emit('connection', replayingDuplex(socket, chunk));
        connecting = undefined;
      } else {
        socket.unshift(chunk);
        h1.emit('connection', socket);
      }
      socket.resume();
    });
  });
  return { server, closeAll: () => sockets.forEach((s) => s.destroy()) };
}

function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function grpcPeerAddress(peer: string): string {
  // grpc-js reports "1.2.3.4:5678", "[::1]:5678", sometimes with an "ipv4:"/"ipv6:" scheme.
  const bare = peer.replace(/^ipv[46]:/, '');
  const m = /^(\[[^\]]*\]|[^:]+):\d+$/.exec(bare);
  return plainAddress(m ? m[1] : bare);
}

/**
 * One (name, value) per header field, as Istio's echo prints gRPC metadata. grpc-js hands over Node's
 * http2 header object, in which repeated fields of one name arrive joined by ", " (and it keeps that
 * string as one value), so the join is undone here for text keys, as grpc-js itself splits `-bin` keys
 * on ",": a request carrying `x-a: 1` and `x-a: 2` prints two lines. Only a single field whose value
 * itself contains ", " is printed split.
 */
export function metadataPairs(md: Metadata): Array<[string, string]> {
  const raw: string[] = [];
  for (const [name, values] of Object.entries(md.toJSON())) {
    for (const v of values) {
      if (typeof v !== 'string') raw.push(name, Buffer.from(v).toString('base64'));
      else for (const part of v.split(', ')) raw.push(name, part);
    }
  }
  return canonicalHeaderPairs(raw);
}

/** Starts every listener the flags ask for; TLS ports whose files are missing are skipped with a log line. */
export async function startEchoServer(options: EchoServerOptions): Promise<RunningEchoServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  const fieldOpts = { version: options.version, cluster: options.cluster, hostname: options.hostname ?? os.hostname() };
  const closers: Array<() => Promise<void>> = [];
  const ports: BoundPorts = { http: [], tls: [], grpc: [], tcp: [] };
  const state: EchoControlState = { codes: options.codes, requests: 0 };
  let control: number | undefined;
  const close = async (): Promise<void> => {
    await Promise.all(closers.map((c) => c()));
  };
  try {
    const tlsPorts = new Set(options.tlsPorts);
    const tlsFilesPresent = options.crt !== '' && options.key !== '' && existsSync(options.crt) && existsSync(options.key);
    for (const p of options.tlsPorts) {
      if (!tlsFilesPresent) {
        log(`echo: skipping TLS port ${p}: certificate ${JSON.stringify(options.crt)} or key ${JSON.stringify(options.key)} not found`);
        continue;
      }
      let bound = p;
      const server = http2.createSecureServer(
        {
          cert: readFileSync(options.crt), key: readFileSync(options.key), allowHTTP1: true,
          // --client-ca: a client without a certificate from these CAs fails the handshake.
          ...(options.clientCa !== '' ? { ca: readFileSync(options.clientCa), requestCert: true, rejectUnauthorized: true } : {}),
        },
        httpHandler(() => bound, fieldOpts, state),
      );
      const sessions = new Set<http2.ServerHttp2Session>();
      server.on('session', (s) => {
        sessions.add(s);
        s.on('close', () => sessions.delete(s));
      });
      const sockets = new Set<net.Socket>();
      server.on('secureConnection', (s: net.Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      bound = await listen(server, p);
      closers.push(() => {
        sessions.forEach((s) => s.destroy());
        sockets.forEach((s) => s.destroy());
        return closeServer(server);
      });
      ports.tls.push(bound);
      log(`echo: HTTPS (HTTP/1.1, HTTP/2) on port ${bound}`);
    }
    for (const p of options.httpPorts) {
      if (tlsPorts.has(p)) continue; // a port also named by --tls serves TLS only (or nothing)
      let bound = p;
      const { server, closeAll } = cleartextHttpServer(httpHandler(() => bound, fieldOpts, state));
      bound = await listen(server, p);
      closers.push(() => {
        closeAll();
        return closeServer(server);
      });
      ports.http.push(bound);
      log(`echo: HTTP (HTTP/1.1, h2c) on port ${bound}`);
    }
    for (const p of options.tcpPorts) {
      const sockets = new Set<net.Socket>();
      const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => socket.destroy());
        socket.pipe(socket);
      });
      const bound = await listen(server, p);
      closers.push(() => {
        sockets.forEach((s) => s.destroy());
        return closeServer(server);
      });
      ports.tcp.push(bound);
      log(`echo: TCP echo on port ${bound}`);
    }
    for (const p of options.grpcPorts) {
      const server = new GrpcServer();
      let bound = p;
      const impl: EchoServiceImpl = {
        echo: (call, callback) => {
          const fields: EchoFields = {
            serviceVersion: fieldOpts.version,
            servicePort: bound,
            host: call.getHost(),
            url: EchoService.echo.path,
            cluster: fieldOpts.cluster,
            method: 'POST',
            proto: 'GRPC',
            ip: grpcPeerAddress(call.getPeer()),
            alpn: '',
            requestHeaders: metadataPairs(call.metadata),
            hostname: fieldOpts.hostname,
          };
          callback(null, {
            message: call.request.message,
            serviceVersion: fields.serviceVersion,
            servicePort: fields.servicePort,
            host: fields.host,
            url: fields.url,
            cluster: fields.cluster,
            method: fields.method,
            proto: fields.proto,
            ip: fields.ip,
            requestHeaders: fields.requestHeaders.map(([name, value]) => ({ name, value })),
            hostname: fields.hostname,
          });
        },
      };
      server.addService(EchoService, impl);
      bound = await new Promise<number>((resolve, reject) => {
        server.bindAsync(`0.0.0.0:${p}`, ServerCredentials.createInsecure(), (err, actual) => (err ? reject(err) : resolve(actual)));
      });
      closers.push(async () => {
        server.forceShutdown();
      });
      ports.grpc.push(bound);
      log(`echo: gRPC (${EchoService.echo.path}) on port ${bound}`);
    }
    if (options.controlPort !== undefined) {
      const c = await startControl(state, options.controlPort);
      closers.push(c.close);
      control = c.port;
      log(`echo: control on port ${c.port}`);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { ports, close, ...(control !== undefined ? { control } : {}) };
}
