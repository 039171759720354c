/**
 * A Gateway listener port of `weft gateway`: HTTP/1 and HTTP/2 from clients outside the mesh, in
 * plaintext (HTTP listeners) or over TLS the gateway terminates (HTTPS listeners), routed per request
 * by the Gateway's view and forwarded like the sidecar's outbound requests.
 *
 *   accept -> detect: the port's listeners are HTTP  -> http1 / http2 (prior knowledge)
 *                     the port has TLS (Passthrough) listeners and the ClientHello's SNI selects one
 *                         (core routeGatewayPassthrough via PolicyHook.gateway.passthrough): the
 *                         TLSRoute's backend by weight, its picker, an opaque connection (mTLS
 *                         weft/opaque when meshed), the ClientHello and everything after piped unread;
 *                         no route or an unresolved backend: closed
 *                     the port's listeners are HTTPS (or the SNI's is) -> TLS: the tls.Server of the port
 *                         SNICallback: the listener the SNI selects (core selectTlsListener: exact
 *                         before wildcard), its SecureContext; no SNI: the listener without hostname
 *                         (the server's default context), none: the handshake fails
 *                         ALPN (server preference http/1.1, then h2): HTTP/1 for clients that speak
 *                         it, HTTP/2 for those offering only h2 (gRPC); none -> HTTP/1
 *                     anything else (TLS on an HTTP port, plaintext on an HTTPS one) -> closed
 *          -> per request: PolicyHook.gateway.route(port, req, listener the SNI chose) (core routeGateway:
 *             a Host of another listener is 421, of none 404)
 *          -> a plan (planOfAction, as outbound) -> the Service port's picker
 *          -> pooled peer connection, mTLS with the gateway's own identity when the endpoint is meshed
 *
 * Certificates and listeners change with the view (setView): each HTTPS listener's SecureContext is
 * rebuilt only when its PEM changed and swapped in place, so new handshakes take it while established
 * connections keep theirs; the port stays bound.
 *
 * Balancers (one per Service port, fed by the Discovery stream) are shared by every port of the
 * gateway: the server (./server.ts) hands each listener the same `Balancers`.
 */
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import type { SecureContext, Server as TlsServer, TLSSocket } from 'node:tls';
import { selectTlsListener, type PortView } from '../../core/gateway/view.js';
import { pipeBoth, setContext } from '../connection.js';
import type { Balancers, ProxyDeps } from '../deps.js';
import { detect } from '../detect.js';
import type { ServicePort } from '../io.js';
import { ListenerBase } from '../listener-base.js';
import { BalancedPicker, MAX_ATTEMPTS, whenPickable, type EndpointPicker, type Pick } from '../picker.js';
import type { EndpointState } from '../balancer.js';
import { clientSideDirection, planOfAction } from '../plan.js';
import type { Direction, Plan } from '../plan.js';
import type { ExchangeObserver, HookRequest } from '../policy-hook.js';
import type { Reason } from '../../core/reasons.js';

interface GatewayConnection {
  /** The listener port the client connected to. */
  readonly port: number;
  /** HTTPS: the listener the connection's TLS SNI selected. */
  readonly tlsListener?: string;
}

/**
 * The ALPN protocols an HTTPS listener offers, the server's preference first: a client offering both
 * (browsers, curl) is served HTTP/1.1, clients offering only h2 (gRPC, h2load) get HTTP/2. Either
 * reaches the backend in the backend's version (core/gateway/upstream-protocol.ts): HTTP/2 only for
 * gRPC and h2c ports, HTTP/1.1 otherwise, translated when the client spoke HTTP/2.
 */
export const GATEWAY_ALPN: readonly string[] = ['http/1.1', 'h2'];

interface ListenerContext {
  /** The PEM the context was built from: rebuilt only when it changes. */
  readonly pem: string;
  readonly context: SecureContext;
}

export class GatewayListener extends ListenerBase<GatewayConnection> {
  protected readonly direction: Direction<GatewayConnection>;
  private readonly tls: TlsServer;
  private portView: PortView | undefined;
  /** HTTPS listener name -> its context. */
  private contexts = new Map<string, ListenerContext>();
  /** The PEM of the server's default context (the listener without hostname), '' for none. */
  private defaultPem = '';

  /** `port`: the Gateway listener port this socket serves (the one bound, unless a test binds 0). */
  constructor(
    private readonly deps: ProxyDeps,
    private readonly port: number,
    private readonly balancers: Balancers,
    private readonly pickers: WeakMap<ServicePort, BalancedPicker>,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    super(deps, deps.stats.outbound, { allowHalfOpen: false, noDelay: true });
    this.direction = clientSideDirection<GatewayConnection>(deps, {
      draining: this.isDraining,
      resumeHttp1: (s) => this.resumeHttp1(s),
      plan: (conn, req) => this.plan(conn, req),
      followsBackendHttpVersion: true,
    });
    this.tls = createTlsServer({
      ALPNProtocols: [...GATEWAY_ALPN],
      handshakeTimeout: deps.limits.headersTimeoutMs,
      SNICallback: (servername, cb) => {
        const l = this.portView === undefined ? undefined : selectTlsListener(this.portView, servername);
        const c = l === undefined ? undefined : this.contexts.get(l.name);
        if (c === undefined) cb(new Error(`no HTTPS listener on port ${this.port} serves ${servername}`), undefined);
        else cb(null, c.context);
      },
    });
    this.tls.on('secureConnection', (s: TLSSocket) => this.onSecure(s));
    this.tls.on('tlsClientError', (_err, s: TLSSocket) => s.destroy());
  }

  /**
   * The port's part of the Gateway's view (undefined: none any more). HTTPS listeners' contexts are
   * built for new or changed certificates and kept for the others; a listener whose certificates
   * node cannot load is logged and serves no handshake.
   */
  setView(port: PortView | undefined): void {
    this.portView = port;
    const next = new Map<string, ListenerContext>();
    for (const l of port?.listeners ?? []) {
      if (l.protocol !== 'HTTPS' || l.certificates.length === 0) continue;
      const pem = l.certificates.map((c) => `${c.certPem}\u0000${c.keyPem}`).join('\u0000');
      const old = this.contexts.get(l.name);
      if (old !== undefined && old.pem === pem) {
        next.set(l.name, old);
        continue;
      }
      try {
        const context = createSecureContext({ cert: l.certificates.map((c) => c.certPem), key: l.certificates.map((c) => c.keyPem) });
        next.set(l.name, { pem, context });
      } catch (err) {
        this.log(`port ${this.port}: listener ${l.name}: its certificates cannot be loaded (${(err as Error).message}); it serves no TLS handshake`);
      }
    }
    this.contexts = next;
    // Without SNI node does not call SNICallback: the server's default context is the listener
    // without hostname's; none: a context without certificate, so such a handshake fails.
    const catchAll = port === undefined ? undefined : selectTlsListener(port, undefined);
    const fallback = catchAll === undefined ? undefined : next.get(catchAll.name);
    const pem = fallback?.pem ?? '';
    if (pem !== this.defaultPem) {
      this.defaultPem = pem;
      const certs = catchAll?.certificates ?? [];
      this.tls.setSecureContext(fallback === undefined ? {} : { cert: certs.map((c) => c.certPem), key: certs.map((c) => c.keyPem) });
    }
  }

  private get terminatesTls(): boolean {
    return (this.portView?.listeners ?? []).some((l) => l.protocol === 'HTTPS');
  }

  private get passesTlsThrough(): boolean {
    return (this.portView?.listeners ?? []).some((l) => l.protocol === 'TLS');
  }

  protected onConnection(socket: Socket): void {
    const acceptedAt = Date.now();
    const t0 = performance.now();
    this.connections.add(socket);
    socket.on('error', () => socket.destroy());
    void detect(socket, this.deps.limits.detectTimeoutMs).then((d) => {
      if (d.protocol === 'closed' || socket.destroyed) return;
      if (this.terminatesTls || this.passesTlsThrough) {
        if (d.protocol !== 'tls') {
          socket.destroy();
          return;
        }
        if (this.passesTlsThrough) {
          const sni = d.hello.kind === 'hello' ? d.hello.sni : undefined;
          const a = this.deps.policy.gateway?.passthrough?.(this.port, sni);
          if (a?.kind === 'error') {
            this.deps.stats.outbound.error(a.code);
            a.observe?.({ status: 0, grpcStatus: undefined, error: a.code, durationMs: performance.now() - t0 });
            socket.destroy();
            return;
          }
          if (a?.kind === 'forward') {
            this.passThrough(socket, this.pickerFor(a.backend), a.observe, t0);
            return;
          }
          if (!this.terminatesTls) {
            socket.destroy();
            return;
          }
        }
        setContext<GatewayConnection>(socket, { port: this.port });
        this.tls.emit('connection', socket);
        return;
      }
      setContext<GatewayConnection>(socket, { port: this.port });
      if (d.protocol === 'http1') this.handHttp1(socket, acceptedAt);
      else if (d.protocol === 'http2') this.downstream.http2.emit('connection', socket);
      else socket.destroy();
    });
  }

  /** A completed handshake: the listener its SNI selects (as SNICallback chose), then HTTP by ALPN. */
  private onSecure(tls: TLSSocket): void {
    tls.on('error', () => tls.destroy());
    const sni = typeof tls.servername === 'string' && tls.servername !== '' ? tls.servername : undefined;
    const l = this.portView === undefined ? undefined : selectTlsListener(this.portView, sni);
    if (l === undefined) {
      tls.destroy();
      return;
    }
    setContext<GatewayConnection>(tls, { port: this.port, tlsListener: l.name });
    if (tls.alpnProtocol === 'h2') this.downstream.http2.emit('connection', tls);
    else this.handHttp1(tls, Date.now());
  }

  /** TLS passthrough: the client's bytes (ClientHello included) to one endpoint, unread; another endpoint when a connect fails. */
  private passThrough(socket: Socket, picker: EndpointPicker, observe: ExchangeObserver | undefined, t0: number): void {
    socket.pause();
    // One count per connection on the route's series: its lifetime, or the reason it was not forwarded.
    const report = (error: Reason | undefined) => observe?.({ status: 0, grpcStatus: undefined, error, durationMs: performance.now() - t0 });
    whenPickable(picker, (pick) => void this.dialOpaque(socket, picker, pick, report), () => !socket.destroyed);
  }

  private async dialOpaque(socket: Socket, picker: EndpointPicker, pick: Pick, report: (error: Reason | undefined) => void): Promise<void> {
    let tried: Set<EndpointState> | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const st = pick(tried);
      if (st === undefined || socket.destroyed) break;
      try {
        // Passthrough: the client's TLS goes through as is, never under a BackendTLSPolicy's origination.
        const { tls: _tls, tlsKey: _key, ...endpoint } = st.endpoint;
        const up = await this.deps.pools.opaque(endpoint);
        socket.once('close', () => report(undefined));
        pipeBoth(socket, up);
        return;
      } catch {
        if (picker.maxAttempts === 1) break;
        st.fail();
        (tried ??= new Set()).add(st);
        this.deps.stats.outbound.retries++;
      }
    }
    const code = socket.destroyed ? 'UPSTREAM_RESET' : picker.emptyReason?.() ?? 'CONNECT_FAILED';
    this.deps.stats.outbound.error(code);
    report(code);
    socket.destroy();
  }

  private plan(conn: GatewayConnection, req: HookRequest): Plan | undefined {
    const hook = this.deps.policy.gateway;
    if (hook === undefined) return undefined;
    try {
      return planOfAction(hook.route(conn.port, req, conn.tlsListener), (sp) => this.pickerFor(sp));
    } catch {
      return undefined;
    }
  }

  private pickerFor(backend: ServicePort): BalancedPicker {
    let p = this.pickers.get(backend);
    if (p === undefined) this.pickers.set(backend, (p = new BalancedPicker(this.balancers, backend, this.deps.limits.connectTimeoutMs)));
    return p;
  }
}
