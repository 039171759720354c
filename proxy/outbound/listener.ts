/**
 * The outbound listener (PROXY_OUTBOUND_ADDRESS:PROXY_OUTBOUND_PORT): everything the app sends is redirected here.
 *
 *   accept -> SO_ORIGINAL_DST -> Destinations.resolve
 *     unknown                         -> plaintext TCP pipe to the original destination (no detection)
 *     service/endpoint, opaque hint   -> opaque: one connection to an endpoint (mTLS weft/opaque if meshed)
 *     otherwise detect:  http1 -> per request: route (PolicyHook) -> balancer -> pooled peer connection
 *                        http2 -> per stream: the same over one multiplexed session per peer
 *                        tls / unknown bytes -> opaque
 *
 * A ClusterIP destination is load-balanced over the Service port's endpoints; a pod IP destination
 * goes to that pod only (unrouted), still over mTLS when the pod is meshed.
 */
import type { Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { EndpointState } from '../balancer.js';
import { getContext, pipeBoth, redirectedTo, setContext } from '../connection.js';
import { relayUpgrade } from '../upgrade.js';
import { ListenerBase } from '../listener-base.js';
import { Balancers } from '../deps.js';
import type { ProxyDeps } from '../deps.js';
import { detect } from '../detect.js';
import { forwardH2Stream, h2RequestHeaders } from '../h2-exchange.js';
import { constants as h2constants } from 'node:http2';
import type { Dispatcher } from 'undici';
import { ERROR_TABLE } from '../errors.js';
import { applyFlatHeaderOps, applyResponseHeaderOps, checkH2Fields, forwardRequestHeaders, h2FlatHeaders, hasSafeFraming, isBodilessGet, isSafeHeaderValue, originForm, setHost } from '../headers.js';
import type { DirectionStats } from '../metrics.js';
import { Http1Exchange } from '../http1-exchange.js';
import type { Upstream } from '../http1-exchange.js';
import { isRetired } from '../pool.js';
import type { H2Upstream } from '../h2-exchange.js';
import type { Destination, Endpoint, ExchangeObserver, HeaderOps, HookRequest, MirrorTarget, OutboundDecision, ServicePort } from '../ports.js';
import { isGrpc, rawHttp1Answer, rawHttp1Error, rejectH2Stream, writeH2Decision, writeH2Error, writeHttp1Decision, writeHttp1Error } from '../respond.js';

interface OutboundConnection {
  /** The pooled upstream of an 'endpoint' connection, made on its first request. */
  upstream?: Upstream;
  readonly dest: Destination;
  /** For kind 'endpoint': the pod itself. */
  readonly endpoint: Endpoint | undefined;
  readonly target: ServicePort | undefined;
}

/** Up to this many endpoints are tried for one request whose attempts never reached an app. */
const MAX_ATTEMPTS = 3;

export class OutboundListener extends ListenerBase {
  private readonly balancers: Balancers;
  /** The pooled HTTP/1 upstream of each endpoint, so a request builds no pool key. */
  private readonly upstreams = new WeakMap<EndpointState, Upstream>();

  constructor(private readonly deps: ProxyDeps) {
    super(deps, deps.stats.outbound, { allowHalfOpen: false, noDelay: true });
    this.balancers = new Balancers(deps.endpoints, deps.limits.destinationIdleTimeoutMs, deps.limits.maxDestinations);
  }

  protected onConnection(socket: Socket): void {
    const acceptedAt = Date.now();
    this.connections.add(socket);
    socket.on('error', () => socket.destroy());
    const orig = redirectedTo(socket, this.deps.originalDestination);
    if (orig === undefined) {
      // Not redirected: nothing says where it was going.
      socket.destroy();
      return;
    }
    if (this.deps.self.isSelf(orig.address, orig.port)) {
      // The app dialled this proxy's own listener (pod IP or loopback): never forwarded to itself (W2).
      this.deps.stats.outbound.error('LOOP');
      socket.destroy();
      return;
    }
    let resolved: Promise<Destination> | Destination;
    try {
      resolved = this.deps.destinations.resolve(orig.address, orig.port);
      // The connection holds the destination until it closes (then it may be forgotten when idle).
      socket.once('close', () => this.deps.destinations.release?.(orig.address, orig.port));
    } catch (err) {
      resolved = { kind: 'refused', reason: String(err) };
    }
    void Promise.resolve(resolved).catch((err: unknown): Destination => ({ kind: 'refused', reason: String(err) })).then(async (dest) => {
      if (socket.destroyed) return;
      if (dest.kind === 'refused') {
        this.deps.stats.outbound.error('NOT_READY');
        socket.destroy();
        return;
      }
      const endpoint: Endpoint | undefined = dest.kind === 'endpoint'
        ? { ip: orig.address, port: orig.port, meshed: dest.meshed, ...(dest.identity !== undefined ? { identity: dest.identity } : {}) }
        : dest.kind === 'unknown' ? { ip: orig.address, port: orig.port, meshed: false } : undefined;
      const conn: OutboundConnection = { dest, endpoint, target: dest.kind === 'service' ? dest.service : undefined };
      if (dest.kind === 'unknown' || dest.protocolHint === 'opaque' || this.deps.opaquePorts.has(orig.port)) {
        await this.opaque(socket, conn);
        return;
      }
      const d = await detect(socket, this.deps.limits.detectTimeoutMs);
      if (d.protocol === 'closed') return;
      setContext(socket, conn);
      if (d.protocol === 'http1') {
        this.handHttp1(socket, acceptedAt);
      } else if (d.protocol === 'http2') {
        this.downstream.http2.emit('connection', socket);
      } else {
        await this.opaque(socket, conn);
      }
    });
  }

  // --- HTTP/1.1 -------------------------------------------------------------------------------------

  protected onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = getContext<OutboundConnection>(req.socket);
    const stats = this.deps.stats.outbound;
    if (conn === undefined) {
      writeHttp1Error(res, 'INTERNAL');
      return;
    }
    if (this.draining) res.shouldKeepAlive = false;
    const fwd = forwardRequestHeaders(req.rawHeaders);
    const headers = fwd.headers;
    const path = originForm(req.url ?? '/', fwd);
    if (path === undefined || !hasSafeFraming(fwd)) {
      stats.error('BAD_REQUEST');
      res.shouldKeepAlive = false;
      writeHttp1Error(res, 'BAD_REQUEST');
      return;
    }
    let pick: (tried: ReadonlySet<EndpointState> | undefined) => Upstream | undefined;
    let maxAttempts = MAX_ATTEMPTS;
    let retryPeerErrors = true;
    let target = path;
    let extra: RouteExtras = NO_EXTRAS;
    if (conn.target !== undefined) {
      const decision = this.route(conn.target, req, path, 'http1', undefined, headers);
      if (decision === undefined) {
        writeHttp1Error(res, 'POLICY_FAILED');
        return;
      }
      if (decision.kind === 'respond') {
        writeHttp1Decision(res, decision.status, decision.headers, decision.body);
        stats.response(decision.status);
        decision.observe?.({ status: decision.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
        return;
      }
      if (decision.kind === 'error') {
        stats.error(decision.code);
        writeHttp1Error(res, decision.code);
        stats.response(res.statusCode);
        decision.observe?.({ status: res.statusCode, grpcStatus: undefined, error: decision.code, durationMs: 0 });
        return;
      }
      if (decision.requestHeaders !== undefined) applyFlatHeaderOps(headers, opsList(decision.requestHeaders));
      if (decision.authority !== undefined && isSafeHeaderValue(decision.authority)) setHost(headers, decision.authority);
      if (decision.path !== undefined) target = decision.path;
      extra = { timeoutMs: decision.timeoutMs, responseHeaders: decision.responseHeaders, observe: decision.observe, mirrors: decision.mirrors };
      const backend = decision.backend;
      const bal = this.balancers.get(backend);
      if (!bal.known) {
        const routed = extra;
        void this.balancers.whenKnown(backend, this.deps.limits.connectTimeoutMs).then(() => {
          if (!res.writableEnded && !res.destroyed) this.onRequestRouted(req, res, target, headers, fwd.contentLength, fwd.chunked, (t) => this.pickHttp1(backend, t), MAX_ATTEMPTS, true, routed);
        });
        return;
      }
      pick = (tried) => this.pickHttp1(backend, tried);
    } else {
      if (conn.upstream === undefined || isRetired(conn.upstream)) {
        const ep = conn.endpoint!;
        conn.upstream = { dispatcher: this.deps.pools.http1(ep), state: undefined, fresh: () => this.deps.pools.oneShot(ep) };
      }
      const up: Upstream = conn.upstream;
      pick = () => up;
      maxAttempts = 1;
      retryPeerErrors = false;
    }
    this.onRequestRouted(req, res, target, headers, fwd.contentLength, fwd.chunked, pick, maxAttempts, retryPeerErrors, extra);
  }

  private pickHttp1(backend: ServicePort, tried: ReadonlySet<EndpointState> | undefined): Upstream | undefined {
    const st = this.balancers.get(backend).pick(tried);
    if (st === undefined) return undefined;
    let up = this.upstreams.get(st);
    // A pool the idle sweep closed is replaced (UpstreamPools.sweep).
    if (up === undefined || isRetired(up)) this.upstreams.set(st, (up = { dispatcher: this.deps.pools.http1(st.endpoint), state: st, fresh: () => this.deps.pools.oneShot(st.endpoint) }));
    return up;
  }

  private onRequestRouted(
    req: IncomingMessage, res: ServerResponse, path: string, headers: string[], contentLength: number, chunked: boolean,
    pick: (tried: ReadonlySet<EndpointState> | undefined) => Upstream | undefined, maxAttempts: number, retryPeerErrors: boolean,
    extra: RouteExtras,
  ): void {
    const method = req.method ?? 'GET';
    const base = {
      method, path, headers, pick, connectError: 'CONNECT_FAILED' as const, retryPeerErrors, maxAttempts, timeoutMs: extra.timeoutMs,
      stats: this.deps.stats.outbound, draining: this.isDraining, responseHeaders: extra.responseHeaders, observe: extra.observe,
    };
    // Mirrors get a copy after the main request is under way; they never delay or change it.
    const mirrors = extra.mirrors;
    if (!chunked && contentLength <= 0) {
      new Http1Exchange(req, res, { ...base, body: null }).start();
      if (mirrors !== undefined) this.mirrorHttp1(mirrors, method, path, headers, null);
      return;
    }
    if (!chunked && contentLength <= this.deps.limits.maxRetryBodyBytes) {
      // Small bodies are buffered so a connect failure can be retried elsewhere (bounded: case 34).
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('end', () => {
        const body = Buffer.concat(chunks);
        new Http1Exchange(req, res, { ...base, body }).start();
        if (mirrors !== undefined) this.mirrorHttp1(mirrors, method, path, headers, body);
      });
      return;
    }
    // Larger or streamed bodies are not mirrored: a mirror never holds more than MIRROR_BODY_LIMIT.
    if (mirrors !== undefined) this.deps.stats.outbound.mirrorsSkipped += mirrors.length;
    new Http1Exchange(req, res, { ...base, body: req }).start();
  }

  /** Fire and forget: one copy per mirror backend; the answer is read and dropped, failures only counted. */
  private mirrorHttp1(mirrors: readonly MirrorTarget[], method: string, path: string, headers: readonly string[], body: Buffer | null): void {
    const stats = this.deps.stats.outbound;
    if (body !== null && body.length > MIRROR_BODY_LIMIT) {
      stats.mirrorsSkipped += mirrors.length;
      return;
    }
    for (const m of mirrors) {
      const send = () => {
        const up = this.pickHttp1(m.backend, undefined);
        if (up === undefined) {
          stats.mirrorsFailed++;
          return;
        }
        stats.mirrorsSent++;
        up.dispatcher.dispatch({ path, method, headers: [...headers], body, idempotent: false, reset: false } as unknown as Dispatcher.DispatchOptions, new MirrorHandler(stats, this.deps.limits.connectTimeoutMs * 10));
      };
      if (this.balancers.get(m.backend).known) send();
      else void this.balancers.whenKnown(m.backend, this.deps.limits.connectTimeoutMs).then(send);
    }
  }

  private route(target: ServicePort, req: IncomingMessage | null, path: string, protocol: HookRequest['protocol'], h2?: IncomingHttpHeaders, rawHeaders?: readonly string[]): OutboundDecision | undefined {
    const hookReq: HookRequest = h2 !== undefined
      ? { method: String(h2[':method']), authority: String(h2[':authority'] ?? ''), path, protocol, header: (n) => h2[n], ...(rawHeaders !== undefined ? { rawHeaders } : {}) }
      : { method: req?.method ?? 'GET', authority: req?.headers.host ?? '', path, protocol, header: (n) => req?.headers[n], ...(rawHeaders !== undefined ? { rawHeaders } : {}) };
    try {
      return this.deps.policy.outbound.route({ target }, hookReq);
    } catch {
      return undefined;
    }
  }

  // --- WebSocket upgrades ---------------------------------------------------------------------------

  protected onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = getContext<OutboundConnection>(req.socket);
    socket.on('error', () => socket.destroy());
    if (conn === undefined) {
      socket.destroy();
      return;
    }
    const stats = this.deps.stats.outbound;
    const fwd = forwardRequestHeaders(req.rawHeaders);
    const target = originForm(req.url ?? '/', fwd);
    // A WebSocket handshake is a bodiless GET (RFC 6455 4.1): anything else is refused (security-cases W1).
    if (target === undefined || !hasSafeFraming(fwd) || !isBodilessGet(req.method, fwd)) {
      stats.error('BAD_REQUEST');
      socket.end(rawHttp1Error('BAD_REQUEST'), () => socket.destroy());
      return;
    }
    const headers = fwd.headers;
    const go = (ep: Endpoint | undefined, path: string, extra: RouteExtras): void => {
      if (socket.destroyed) return;
      if (ep === undefined) {
        stats.error('NO_ENDPOINTS');
        socket.end(rawHttp1Error('NO_ENDPOINTS'), () => socket.destroy());
        extra.observe?.({ status: ERROR_TABLE.NO_ENDPOINTS.http, grpcStatus: undefined, error: 'NO_ENDPOINTS', durationMs: 0 });
        return;
      }
      // Bytes are piped only after the upstream's 101; any other answer is relayed and the connection
      // is parsed again, so every later request on it is routed like any other.
      relayUpgrade({
        req, socket, head, path, headers, protocol: 'websocket',
        connect: () => this.deps.pools.upgrade(ep), connectError: 'CONNECT_FAILED',
        responseHeaders: extra.responseHeaders, answerTimeoutMs: extra.timeoutMs ?? this.deps.limits.idleTimeoutMs,
        resume: (s) => this.resumeHttp1(s),
        done: (o) => {
          if (o.error !== undefined) stats.error(o.error);
          else if (o.status > 0) stats.response(o.status);
          if (o.status > 0) extra.observe?.({ status: o.status, grpcStatus: undefined, error: o.error, durationMs: o.durationMs });
        },
      });
    };
    if (conn.target === undefined) {
      go(conn.endpoint, target, NO_EXTRAS);
      return;
    }
    const decision = this.route(conn.target, req, target, 'http1', undefined, headers);
    if (decision === undefined) {
      stats.error('POLICY_FAILED');
      socket.end(rawHttp1Error('POLICY_FAILED'), () => socket.destroy());
      return;
    }
    if (decision.kind === 'respond') {
      socket.end(rawHttp1Answer(decision.status, decision.headers ?? []), () => socket.destroy());
      decision.observe?.({ status: decision.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
      return;
    }
    if (decision.kind === 'error') {
      stats.error(decision.code);
      socket.end(rawHttp1Error(decision.code), () => socket.destroy());
      decision.observe?.({ status: ERROR_TABLE[decision.code].http, grpcStatus: undefined, error: decision.code, durationMs: 0 });
      return;
    }
    // The route's rewrite and header changes apply to the upgrade request like to any other.
    if (decision.requestHeaders !== undefined) applyFlatHeaderOps(headers, opsList(decision.requestHeaders));
    if (decision.authority !== undefined && isSafeHeaderValue(decision.authority)) setHost(headers, decision.authority);
    const path = decision.path ?? target;
    const extra: RouteExtras = { timeoutMs: decision.timeoutMs, responseHeaders: decision.responseHeaders, observe: decision.observe };
    const pickAndGo = (): void => go(this.balancers.get(decision.backend).pick()?.endpoint, path, extra);
    if (this.balancers.get(decision.backend).known) pickAndGo();
    else void this.balancers.whenKnown(decision.backend, this.deps.limits.connectTimeoutMs).then(pickAndGo);
  }

  // --- HTTP/2 ---------------------------------------------------------------------------------------

  protected onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const conn = getContext<OutboundConnection>(stream.session?.socket);
    const grpc = isGrpc(headers['content-type']);
    stream.on('error', () => undefined);
    if (conn === undefined) {
      writeH2Error(stream, 'INTERNAL', grpc);
      return;
    }
    if (headers[':method'] === 'CONNECT') {
      // CONNECT (RFC 9113 8.5) names no path a route could match: refused, as core/path.ts says.
      this.deps.stats.outbound.error('BAD_REQUEST');
      writeH2Error(stream, 'BAD_REQUEST', grpc);
      return;
    }
    const check = checkH2Fields(headers, this.deps.limits.h2MaxHeaderListBytes);
    if (check !== 'ok') {
      rejectH2Stream(stream, check, grpc);
      return;
    }
    const out = h2RequestHeaders(headers);
    let pick: (tried: ReadonlySet<EndpointState> | undefined) => H2Upstream | undefined;
    let maxAttempts = MAX_ATTEMPTS;
    let extra: RouteExtras = NO_EXTRAS;
    if (conn.target !== undefined) {
      const decision = this.route(conn.target, null, String(headers[':path'] ?? '/'), grpc ? 'grpc' : 'http2', headers, h2FlatHeaders(out));
      if (decision === undefined) {
        writeH2Error(stream, 'POLICY_FAILED', grpc);
        return;
      }
      if (decision.kind === 'respond') {
        writeH2Decision(stream, decision.status, decision.headers, decision.body);
        decision.observe?.({ status: decision.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
        return;
      }
      if (decision.kind === 'error') {
        this.deps.stats.outbound.error(decision.code);
        writeH2Error(stream, decision.code, grpc);
        const m = ERROR_TABLE[decision.code];
        decision.observe?.({ status: grpc ? 200 : m.http, grpcStatus: grpc ? m.grpc : undefined, error: decision.code, durationMs: 0 });
        return;
      }
      if (decision.requestHeaders !== undefined) applyResponseHeaderOps(out, opsList(decision.requestHeaders));
      if (decision.path !== undefined) out[':path'] = decision.path;
      if (decision.authority !== undefined && isSafeHeaderValue(decision.authority)) out[':authority'] = decision.authority;
      extra = { timeoutMs: decision.timeoutMs, responseHeaders: decision.responseHeaders, observe: decision.observe, mirrors: decision.mirrors };
      const bal = this.balancers.get(decision.backend);
      pick = (tried) => {
        const st = bal.pick(tried);
        return st === undefined ? undefined : { session: this.deps.pools.http2(st.endpoint), state: st };
      };
      if (extra.mirrors !== undefined) this.mirrorH2(stream, extra.mirrors, out);
      if (!bal.known) {
        const routed = extra;
        void this.balancers.whenKnown(decision.backend, this.deps.limits.connectTimeoutMs).then(() => {
          if (!stream.closed) this.forwardStream(stream, out, grpc, pick, MAX_ATTEMPTS, routed);
        });
        return;
      }
    } else {
      const ep = conn.endpoint!;
      pick = () => ({ session: this.deps.pools.http2(ep), state: undefined });
      maxAttempts = 1;
    }
    this.forwardStream(stream, out, grpc, pick, maxAttempts, extra);
  }

  /**
   * Mirrors an HTTP/2 stream: the request body is copied while it stays within MIRROR_BODY_LIMIT and
   * the copy is sent once the client has finished sending; a larger body is not mirrored.
   */
  private mirrorH2(down: ServerHttp2Stream, mirrors: readonly MirrorTarget[], headers: Record<string, string | string[]>): void {
    const stats = this.deps.stats.outbound;
    const copy = { ...headers };
    let chunks: Buffer[] | null = [];
    let size = 0;
    down.on('data', (c: Buffer) => {
      if (chunks === null) return;
      size += c.length;
      if (size > MIRROR_BODY_LIMIT) chunks = null;
      else chunks.push(c);
    });
    const send = () => {
      if (chunks === null) {
        stats.mirrorsSkipped += mirrors.length;
        return;
      }
      const body = Buffer.concat(chunks);
      for (const m of mirrors) {
        const go = () => {
          const st = this.balancers.get(m.backend).pick();
          if (st === undefined) {
            stats.mirrorsFailed++;
            return;
          }
          stats.mirrorsSent++;
          try {
            const s = this.deps.pools.http2(st.endpoint).request(copy, { endStream: body.length === 0 });
            s.on('error', () => stats.mirrorsFailed++);
            s.resume();
            s.setTimeout(this.deps.limits.connectTimeoutMs * 10, () => s.close(h2constants.NGHTTP2_CANCEL));
            if (body.length > 0) s.end(body);
          } catch {
            stats.mirrorsFailed++;
          }
        };
        if (this.balancers.get(m.backend).known) go();
        else void this.balancers.whenKnown(m.backend, this.deps.limits.connectTimeoutMs).then(go);
      }
    };
    if (down.readableEnded) send();
    else down.once('end', send);
  }

  private forwardStream(stream: ServerHttp2Stream, headers: Record<string, string | string[]>, grpc: boolean,
    pick: (tried: ReadonlySet<EndpointState> | undefined) => H2Upstream | undefined, maxAttempts: number, extra: RouteExtras): void {
    forwardH2Stream(stream, {
      headers, grpc, pick, connectError: 'CONNECT_FAILED', retryPeerErrors: maxAttempts > 1, maxAttempts,
      maxReplayBytes: this.deps.limits.maxRetryBodyBytes, stats: this.deps.stats.outbound, timeoutMs: extra.timeoutMs,
      responseHeaders: extra.responseHeaders, observe: extra.observe,
    });
  }

  // --- opaque ---------------------------------------------------------------------------------------

  private async opaque(socket: Socket, conn: OutboundConnection): Promise<void> {
    socket.pause();
    let tried: Set<EndpointState> | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let ep = conn.endpoint;
      let st: EndpointState | undefined;
      if (conn.target !== undefined) {
        await this.balancers.whenKnown(conn.target, this.deps.limits.connectTimeoutMs);
        st = this.balancers.get(conn.target).pick(tried);
        ep = st?.endpoint;
      }
      if (ep === undefined || socket.destroyed) break;
      try {
        const up = await this.deps.pools.opaque(ep);
        pipeBoth(socket, up);
        return;
      } catch {
        if (st === undefined) break;
        st.fail();
        (tried ??= new Set()).add(st);
        this.deps.stats.outbound.retries++;
      }
    }
    this.deps.stats.outbound.error('CONNECT_FAILED');
    socket.destroy();
  }

  // --- lifecycle ------------------------------------------------------------------------------------

  /** Forgets balancers (and their discovery watches) no request used for the idle time; returns how many are left. */
  sweep(now: number): number {
    return this.balancers.sweep(now);
  }

  /** Service ports with a balancer (and a discovery watch) now. */
  get balancerCount(): number {
    return this.balancers.size;
  }

  override destroy(): void {
    super.destroy();
    this.balancers.close();
  }
}

/** What a route decision adds to a forwarded exchange. */
interface RouteExtras {
  readonly timeoutMs?: number | undefined;
  readonly responseHeaders?: readonly HeaderOps[] | undefined;
  readonly observe?: ExchangeObserver | undefined;
  readonly mirrors?: readonly MirrorTarget[] | undefined;
}

const NO_EXTRAS: RouteExtras = Object.freeze({});

/** A mirror's body is at most this (Linkerd's retry-buffer bound, security case 34). */
const MIRROR_BODY_LIMIT = 64 * 1024;

function opsList(ops: HeaderOps | readonly HeaderOps[]): readonly HeaderOps[] {
  return Array.isArray(ops) ? (ops as readonly HeaderOps[]) : [ops as HeaderOps];
}

/** Reads a mirror's answer and drops it; gives up after `timeoutMs`. */
class MirrorHandler implements Dispatcher.DispatchHandler {
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly stats: DirectionStats, private readonly timeoutMs: number) {}
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.timer = setTimeout(() => controller.abort(new Error('mirror timed out')), this.timeoutMs);
    this.timer.unref();
  }
  onResponseStart(): void {}
  onResponseData(): void {}
  onResponseEnd(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
  onResponseError(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.stats.mirrorsFailed++;
  }
}
