/**
 * The inbound listener (PROXY_INBOUND_PORT): connections to the pod's app ports are redirected here.
 *
 *   accept -> per-client connection cap -> SO_ORIGINAL_DST (the app port)
 *     -> detect: TLS offering a mesh ALPN -> terminate mTLS, peer identity from its certificate
 *                    weft/http1.1 -> HTTP/1.1, weft/h2 -> HTTP/2, weft/opaque -> opaque
 *                other TLS (the app's own)  -> opaque passthrough
 *                http1 / http2 (plaintext)  -> HTTP, no identity
 *                anything else              -> opaque
 *     -> PolicyHook.inbound.authorize (per request; per connection for opaque)
 *     -> strip client weft-* headers, set weft-client-id from the verified certificate only
 *     -> the app on the POD IP (never 127.0.0.1), keeping the protocol, pooled per app port; over IPv4
 *        from 127.0.0.6, which proxy-init lets through (its own calls to the pod IP come back here)
 *
 * When the app cannot be reached the answer carries `weft-proxy-error: app-unreachable`, which tells
 * the client proxy the request never reached an app and may be retried elsewhere.
 */
import { isIPv4 } from 'node:net';
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { HEADER_CLIENT_ID, MESH_ALPN, PROXY_INBOUND_SOURCE_V4 } from '../../core/contract.js';
import { ERROR_TABLE } from '../errors.js';
import { getContext, pipeBoth, redirectedTo, setContext } from '../connection.js';
import { relayUpgrade } from '../upgrade.js';
import { ListenerBase } from '../listener-base.js';
import type { ProxyDeps } from '../deps.js';
import { detect } from '../detect.js';
import { forwardH2Stream, h2RequestHeaders } from '../h2-exchange.js';
import { applyFlatHeaderOps, applyResponseHeaderOps, applyUnderscoreRule, applyUnderscoreRuleH2, checkH2Fields, forwardRequestHeaders, h2FlatHeaders, hasSafeFraming, isBodilessGet, isSafeHeaderValue, originForm, setHost } from '../headers.js';
import { Http1Exchange } from '../http1-exchange.js';
import type { Upstream } from '../http1-exchange.js';
import { isRetired } from '../pool.js';
import { MESH_ALPNS } from '../mtls.js';
import type { Endpoint, HookRequest, InboundContext, InboundDecision } from '../ports.js';
import { isGrpc, rawHttp1Answer, rawHttp1Error, rejectH2Stream, safeHeaders, writeH2Decision, writeH2Error, writeHttp1Decision, writeHttp1Error } from '../respond.js';

interface InboundConnection {
  /** The app's pooled HTTP/1 upstream, made on the connection's first request. */
  upstream?: Upstream;
  readonly ctx: InboundContext;
  readonly app: Endpoint;
  /** The weft-client-id value, checked once (case 10). */
  readonly clientId: string | undefined;
}

/** Only the verified certificate sets the identity header: a route's header filter cannot. */
const DROP_CLIENT_ID = { remove: [HEADER_CLIENT_ID] };

/** How long an opaque port waits for a mesh ClientHello before passing bytes through: a client proxy
 * sends it right after connecting, while a server-first protocol's client waits for the server. */
const OPAQUE_PEEK_MS = 300;

export class InboundListener extends ListenerBase {
  private readonly tls: TlsServer;
  private readonly perClient = new Map<string, number>();

  constructor(private readonly deps: ProxyDeps) {
    super(deps, deps.stats.inbound, { noDelay: true });
    this.tls = deps.mesh.createServer(deps.limits.connectTimeoutMs, (s, id) => this.onSecure(s, id));
  }

  protected onConnection(socket: Socket): void {
    const acceptedAt = Date.now();
    socket.on('error', () => socket.destroy());
    const clientIp = socket.remoteAddress ?? '';
    const n = (this.perClient.get(clientIp) ?? 0) + 1;
    if (n > this.deps.limits.maxConnectionsPerPeer) {
      socket.destroy();
      return;
    }
    this.perClient.set(clientIp, n);
    socket.once('close', () => {
      const left = (this.perClient.get(clientIp) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(clientIp);
      else this.perClient.set(clientIp, left);
    });
    this.connections.add(socket);
    const orig = redirectedTo(socket, this.deps.originalDestination);
    // Not redirected means dialled straight at this listener; forwarding it "to the app" on the
    // original port, or on any other port of the proxy's, would come straight back here (W2).
    if (orig === undefined || this.deps.self.isOwnPort(orig.port)) {
      this.deps.stats.inbound.error('LOOP');
      socket.destroy();
      return;
    }
    const port = orig.port;
    // Opaque: the configured ports (annotation) and ports whose Server says proxyProtocol: opaque.
    const opaquePort = this.deps.opaquePorts.has(port) || this.deps.policy.inbound.opaque?.(port) === true;
    void detect(socket, opaquePort ? OPAQUE_PEEK_MS : this.deps.limits.detectTimeoutMs).then((d) => {
      if (d.protocol === 'closed') return;
      const app: Endpoint = { ip: this.deps.podIp, port, meshed: false, ...(isIPv4(this.deps.podIp) ? { source: PROXY_INBOUND_SOURCE_V4 } : {}) };
      const plain: InboundConnection = { ctx: { tls: false, clientIp, port }, app, clientId: undefined };
      if (d.protocol === 'tls' && d.hello.kind === 'hello' && d.hello.alpn.some((p) => MESH_ALPNS.includes(p))) {
        setContext(socket, plain);
        this.tls.emit('connection', socket);
        return;
      }
      setContext(socket, plain);
      if (d.protocol === 'http1' && !opaquePort) {
        this.handHttp1(socket, acceptedAt);
      } else if (d.protocol === 'http2' && !opaquePort) {
        this.downstream.http2.emit('connection', socket);
      } else {
        this.opaque(socket, plain);
      }
    });
  }

  private onSecure(tls: TLSSocket, peerIdentity: string | undefined): void {
    const base = getContext<InboundConnection>(tls);
    if (base === undefined) {
      tls.destroy();
      return;
    }
    tls.on('error', () => tls.destroy());
    const clientId = peerIdentity !== undefined && isSafeHeaderValue(peerIdentity) ? peerIdentity : undefined;
    const conn: InboundConnection = {
      ctx: { ...(clientId !== undefined ? { peerIdentity: clientId } : {}), tls: true, clientIp: base.ctx.clientIp, port: base.ctx.port },
      app: base.app,
      clientId,
    };
    setContext(tls, conn);
    switch (tls.alpnProtocol) {
      case MESH_ALPN.http1:
        this.downstream.http1.emit('connection', tls);
        break;
      case MESH_ALPN.h2:
        this.downstream.http2.emit('connection', tls);
        break;
      case MESH_ALPN.opaque:
        this.opaque(tls, conn);
        break;
      default:
        tls.destroy();
    }
  }

  private authorize(conn: InboundConnection, req: HookRequest | null): InboundDecision {
    let d: InboundDecision;
    try {
      d = this.deps.policy.inbound.authorize(conn.ctx, req);
    } catch {
      d = { kind: 'deny', status: 403 }; // fail closed
    }
    if (d.kind !== 'deny') this.deps.stats.inbound.authzAllow++;
    else this.deps.stats.inbound.authzDeny++;
    return d;
  }

  // --- HTTP/1.1 -------------------------------------------------------------------------------------

  protected onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = getContext<InboundConnection>(req.socket);
    if (conn === undefined) {
      writeHttp1Error(res, 'INTERNAL');
      return;
    }
    if (this.draining) res.shouldKeepAlive = false;
    const fwd = forwardRequestHeaders(req.rawHeaders);
    const path = originForm(req.url ?? '/', fwd);
    if (path === undefined || !hasSafeFraming(fwd)) {
      this.deps.stats.inbound.error('BAD_REQUEST');
      res.shouldKeepAlive = false;
      writeHttp1Error(res, 'BAD_REQUEST');
      return;
    }
    const headers = fwd.headers;
    if (!applyUnderscoreRule(headers, this.deps.limits.headersWithUnderscores)) {
      this.deps.stats.inbound.error('BAD_REQUEST');
      writeHttp1Error(res, 'BAD_REQUEST');
      return;
    }
    const decision = this.authorize(conn, { method: req.method ?? 'GET', authority: req.headers.host ?? '', path, protocol: 'http1', header: (n) => req.headers[n], rawHeaders: headers });
    if (decision.kind === 'deny') {
      const code = decision.code ?? 'FORBIDDEN';
      this.deps.stats.inbound.error(code);
      if (code === 'BAD_REQUEST') res.shouldKeepAlive = false;
      writeHttp1Error(res, code, decision.status);
      decision.observe?.({ status: res.statusCode, grpcStatus: undefined, error: code, durationMs: 0 });
      return;
    }
    if (decision.kind === 'respond') {
      writeHttp1Decision(res, decision.status, decision.headers, undefined);
      this.deps.stats.inbound.response(decision.status);
      decision.observe?.({ status: decision.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
      return;
    }
    if (decision.requestHeaders !== undefined) applyFlatHeaderOps(headers, [...decision.requestHeaders, DROP_CLIENT_ID]);
    if (decision.authority !== undefined && isSafeHeaderValue(decision.authority)) setHost(headers, decision.authority);
    if (conn.clientId !== undefined) headers.push(HEADER_CLIENT_ID, conn.clientId);
    if (decision.setHeaders !== undefined) for (const [k, v] of Object.entries(safeHeaders(decision.setHeaders))) headers.push(k, v);
    if (conn.upstream === undefined || isRetired(conn.upstream)) {
      const app = conn.app;
      conn.upstream = { dispatcher: this.deps.pools.http1(app), state: undefined, fresh: () => this.deps.pools.oneShot(app) };
    }
    const up: Upstream = conn.upstream;
    const hasBody = fwd.chunked || fwd.contentLength > 0;
    new Http1Exchange(req, res, {
      method: req.method ?? 'GET', path: decision.path ?? path, headers, body: hasBody ? req : null, pick: () => up, connectError: 'APP_UNREACHABLE',
      retryPeerErrors: false, maxAttempts: 1, timeoutMs: undefined, stats: this.deps.stats.inbound, draining: this.isDraining,
      responseHeaders: decision.responseHeaders, observe: decision.observe,
    }).start();
  }

  protected onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = getContext<InboundConnection>(req.socket);
    socket.on('error', () => socket.destroy());
    if (conn === undefined) {
      socket.destroy();
      return;
    }
    const stats = this.deps.stats.inbound;
    const fwd = forwardRequestHeaders(req.rawHeaders);
    const path = originForm(req.url ?? '/', fwd);
    // A WebSocket handshake is a bodiless GET (RFC 6455 4.1): anything else is ambiguous about where
    // the request ends and the new protocol begins, so it is refused before any decision.
    if (path === undefined || !hasSafeFraming(fwd) || !isBodilessGet(req.method, fwd)) {
      stats.error('BAD_REQUEST');
      socket.end(rawHttp1Error('BAD_REQUEST'), () => socket.destroy());
      return;
    }
    const headers = fwd.headers;
    if (!applyUnderscoreRule(headers, this.deps.limits.headersWithUnderscores)) {
      stats.error('BAD_REQUEST');
      socket.end(rawHttp1Error('BAD_REQUEST'), () => socket.destroy());
      return;
    }
    const decision = this.authorize(conn, { method: req.method ?? 'GET', authority: req.headers.host ?? '', path, protocol: 'http1', header: (n) => req.headers[n], rawHeaders: headers });
    if (decision.kind === 'deny') {
      const code = decision.code ?? 'FORBIDDEN';
      stats.error(code);
      socket.end(rawHttp1Error(code, decision.status), () => socket.destroy());
      decision.observe?.({ status: decision.status, grpcStatus: undefined, error: code, durationMs: 0 });
      return;
    }
    if (decision.kind === 'respond') {
      socket.end(rawHttp1Answer(decision.status, decision.headers), () => socket.destroy());
      decision.observe?.({ status: decision.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
      return;
    }
    if (decision.requestHeaders !== undefined) applyFlatHeaderOps(headers, [...decision.requestHeaders, DROP_CLIENT_ID]);
    if (decision.authority !== undefined && isSafeHeaderValue(decision.authority)) setHost(headers, decision.authority);
    if (conn.clientId !== undefined) headers.push(HEADER_CLIENT_ID, conn.clientId);
    if (decision.setHeaders !== undefined) for (const [k, v] of Object.entries(safeHeaders(decision.setHeaders))) headers.push(k, v);
    // The app's 101 switches the connection; any other answer is relayed and the connection parsed
    // again, so a later request on it is authorized on its own (security-cases W1).
    relayUpgrade({
      req, socket, head, path: decision.path ?? path, headers, protocol: 'websocket',
      connect: () => this.deps.pools.upgrade(conn.app), connectError: 'APP_UNREACHABLE',
      responseHeaders: decision.responseHeaders, answerTimeoutMs: this.deps.limits.idleTimeoutMs,
      resume: (s) => this.resumeHttp1(s),
      done: (o) => {
        if (o.error !== undefined) stats.error(o.error);
        else if (o.status > 0) stats.response(o.status);
        if (o.status > 0) decision.observe?.({ status: o.status, grpcStatus: undefined, error: o.error, durationMs: o.durationMs });
      },
    });
  }

  // --- HTTP/2 ---------------------------------------------------------------------------------------

  protected onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const conn = getContext<InboundConnection>(stream.session?.socket);
    const grpc = isGrpc(headers['content-type']);
    stream.on('error', () => undefined);
    if (conn === undefined) {
      writeH2Error(stream, 'INTERNAL', grpc);
      return;
    }
    const check = checkH2Fields(headers, this.deps.limits.h2MaxHeaderListBytes);
    if (check !== 'ok') {
      rejectH2Stream(stream, check, grpc);
      return;
    }
    if (headers[':method'] === 'CONNECT') {
      // CONNECT (RFC 9113 8.5) names no path a route or authorization could match: refused (core/path.ts).
      this.deps.stats.inbound.error('BAD_REQUEST');
      writeH2Error(stream, 'BAD_REQUEST', grpc);
      return;
    }
    const path = String(headers[':path'] ?? '/');
    const out = h2RequestHeaders(headers);
    if (!applyUnderscoreRuleH2(out, this.deps.limits.headersWithUnderscores)) {
      this.deps.stats.inbound.error('BAD_REQUEST');
      writeH2Error(stream, 'BAD_REQUEST', grpc);
      return;
    }
    const decision = this.authorize(conn, {
      method: String(headers[':method']), authority: String(headers[':authority'] ?? ''), path, protocol: grpc ? 'grpc' : 'http2', header: (n) => headers[n], rawHeaders: h2FlatHeaders(out),
    });
    if (decision.kind === 'deny') {
      const code = decision.code ?? 'FORBIDDEN';
      this.deps.stats.inbound.error(code);
      writeH2Error(stream, code, grpc, decision.status);
      const m = ERROR_TABLE[code];
      decision.observe?.({ status: grpc ? 200 : decision.status, grpcStatus: grpc ? m.grpc : undefined, error: code, durationMs: 0 });
      return;
    }
    if (decision.kind === 'respond') {
      writeH2Decision(stream, decision.status, decision.headers, undefined);
      decision.observe?.({ status: decision.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
      return;
    }
    if (decision.requestHeaders !== undefined) applyResponseHeaderOps(out, [...decision.requestHeaders, DROP_CLIENT_ID]);
    if (decision.path !== undefined) out[':path'] = decision.path;
    if (decision.authority !== undefined && isSafeHeaderValue(decision.authority)) out[':authority'] = decision.authority;
    if (conn.clientId !== undefined) out[HEADER_CLIENT_ID] = conn.clientId;
    if (decision.setHeaders !== undefined) Object.assign(out, safeHeaders(decision.setHeaders));
    forwardH2Stream(stream, {
      headers: out, grpc, pick: () => ({ session: this.deps.pools.http2(conn.app), state: undefined }), connectError: 'APP_UNREACHABLE',
      retryPeerErrors: false, maxAttempts: 1, maxReplayBytes: 0, stats: this.deps.stats.inbound, responseHeaders: decision.responseHeaders, observe: decision.observe,
    });
  }

  // --- opaque ---------------------------------------------------------------------------------------

  private opaque(socket: Duplex, conn: InboundConnection): void {
    socket.pause();
    if (this.authorize(conn, null).kind === 'deny') {
      // The kernel completed the handshake before the proxy knew the client: accept, then close.
      socket.destroy();
      return;
    }
    this.deps.pools.opaque(conn.app).then((up) => pipeBoth(socket, up), () => {
      this.deps.stats.inbound.error('APP_UNREACHABLE');
      socket.destroy();
    });
  }

  // --- lifecycle ------------------------------------------------------------------------------------

  override destroy(): void {
    super.destroy();
    this.tls.close();
  }
}
