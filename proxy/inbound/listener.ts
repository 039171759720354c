/**
 * The inbound listener (PROXY_INBOUND_PORT): connections to the pod's app ports are redirected here.
 *
 *   accept -> per-client connection cap -> SO_ORIGINAL_DST (the app port)
 *     -> detect: TLS offering a mesh ALPN -> terminate mTLS, peer identity from its certificate
 *                    weft/http1.1 -> HTTP/1.1, weft/h2 -> HTTP/2, weft/opaque -> opaque
 *                other TLS (the app's own)  -> opaque passthrough
 *                http1 / http2 (plaintext)  -> HTTP, no identity
 *                anything else              -> opaque
 *     -> plan (per request, proxy/plan.ts): PolicyHook.inbound.authorize -> a denial's answer, or forward
 *        with the Server route rule's timeouts and retry (one retry budget for the app) (opaque:
 *        authorize per connection)
 *     -> strip client weft-* headers, set weft-client-id from the verified certificate only
 *     -> the shared protocol adapters (proxy/adapters/) send it to the app on the POD IP (never 127.0.0.1), keeping the protocol, pooled per app port; over IPv4
 *        from 127.0.0.6, which proxy-init lets through (its own calls to the pod IP come back here)
 *
 * When the app cannot be reached the answer carries `weft-proxy-error: app-unreachable`, which tells
 * the client proxy the request never reached an app and may be retried elsewhere.
 */
import { isIPv4 } from 'node:net';
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { HEADER_CLIENT_ID, MESH_ALPN, PROXY_INBOUND_SOURCE_V4 } from '../../core/contract.js';
import { RetryBudget } from '../../core/retry-budget.js';
import { getContext, pipeBoth, redirectedTo, setContext } from '../connection.js';
import { ListenerBase } from '../listener-base.js';
import type { ProxyDeps } from '../deps.js';
import { detect } from '../detect.js';
import { isSafeHeaderValue } from '../headers.js';
import type { Endpoint } from '../io.js';
import { MESH_ALPNS } from '../mtls.js';
import { FixedPicker } from '../picker.js';
import { createDirection } from '../plan.js';
import type { Direction, Plan } from '../plan.js';
import type { HookRequest, InboundAction, InboundContext } from '../policy-hook.js';
import { safeHeaders } from '../respond.js';

interface InboundConnection {
  readonly ctx: InboundContext;
  readonly app: Endpoint;
  /** Every request of the connection goes to the app (one attempt). */
  readonly picker: FixedPicker;
  /** The weft-client-id header from the verified certificate, checked once (case 10); empty without one. */
  readonly clientId: readonly (readonly [string, string])[];
}

/** Only the verified certificate sets the identity header: a route's header filter cannot. */
const DROP_CLIENT_ID = { remove: [HEADER_CLIENT_ID] };

/** How long an opaque port waits for a mesh ClientHello before passing bytes through: a client proxy
 * sends it right after connecting, while a server-first protocol's client waits for the server. */
const OPAQUE_PEEK_MS = 300;

export class InboundListener extends ListenerBase<InboundConnection> {
  private readonly tls: TlsServer;
  private readonly perClient = new Map<string, number>();
  /** Bounds the retries of Server routes (HTTPRoute `retry`) to this pod's app: the default budget, one for all ports. */
  private readonly retryBudget = new RetryBudget();

  protected readonly direction: Direction<InboundConnection>;

  constructor(private readonly deps: ProxyDeps) {
    super(deps, deps.stats.inbound, { noDelay: true });
    this.tls = deps.mesh.createServer(deps.limits.connectTimeoutMs, (s, id) => this.onSecure(s, id));
    this.direction = createDirection<InboundConnection>({
      stats: deps.stats.inbound, deps, connectError: 'APP_UNREACHABLE', replayBytes: 0, underscores: deps.limits.headersWithUnderscores, connectBeforeFieldCheck: false,
      countRefusals: false, closeOnBadRequest: true, draining: this.isDraining,
      resumeHttp1: (s) => this.resumeHttp1(s),
      plan: (conn, req) => this.plan(conn, req),
    });
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
      const plain: InboundConnection = { ctx: { tls: false, clientIp, port }, app, picker: new FixedPicker(app, this.retryBudget), clientId: [] };
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
      picker: base.picker,
      clientId: clientId !== undefined ? [[HEADER_CLIENT_ID, clientId]] : [],
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

  private authorize(conn: InboundConnection, req: HookRequest | null): InboundAction {
    let d: InboundAction;
    try {
      d = this.deps.policy.inbound.authorize(conn.ctx, req);
    } catch {
      d = { kind: 'deny', code: 'FORBIDDEN' }; // fail closed
    }
    // A request refused by an inbound limit was authorized first: it counts as allowed here.
    if (d.kind !== 'deny' || d.code === 'RATE_LIMITED' || d.code === 'CONCURRENCY_LIMITED') this.deps.stats.inbound.authzAllow++;
    else this.deps.stats.inbound.authzDeny++;
    return d;
  }

  // --- the plan: what the shared protocol adapters do with each request ----------------------------

  /**
   * The plan of a request: the app, as the authorization allowed it, with client weft-* headers a
   * route filter added removed and weft-client-id set from the verified certificate only; or the
   * answer of a denial or of a Server route's redirect.
   */
  private plan(conn: InboundConnection, req: HookRequest): Plan {
    const d = this.authorize(conn, req);
    switch (d.kind) {
      case 'deny':
        return { kind: 'answer', answer: { kind: 'reason', code: d.code ?? 'FORBIDDEN', headers: d.headers }, observe: d.observe };
      case 'respond':
        return { kind: 'answer', answer: { kind: 'respond', status: d.status, headers: d.headers }, observe: d.observe };
      case 'allow':
        return {
          kind: 'forward',
          picker: conn.picker,
          path: d.path,
          authority: d.authority,
          requestHeaders: d.requestHeaders === undefined ? undefined : [...d.requestHeaders, DROP_CLIENT_ID],
          extraHeaders: d.setHeaders === undefined ? conn.clientId : [...conn.clientId, ...Object.entries(safeHeaders(d.setHeaders))],
          responseHeaders: d.responseHeaders,
          timeoutMs: d.timeoutMs,
          attemptTimeoutMs: d.attemptTimeoutMs,
          retry: d.retry,
          observe: d.observe,
          onClose: d.release,
        };
    }
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
