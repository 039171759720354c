/**
 * The outbound listener (PROXY_OUTBOUND_ADDRESS:PROXY_OUTBOUND_PORT): everything the app sends is redirected here.
 *
 *   accept -> SO_ORIGINAL_DST -> Destinations.resolve
 *     unknown                         -> plaintext TCP pipe to the original destination (no detection)
 *     service/endpoint, opaque hint   -> opaque: one connection to an endpoint (mTLS weft/opaque if meshed)
 *     otherwise detect:  http1 -> per request: plan (PolicyHook.outbound.route) -> endpoint picker
 *                                 -> pooled peer connection (the shared adapters, proxy/adapters/)
 *                        http2 -> per stream: the same over one multiplexed session per peer
 *                        tls / unknown bytes -> opaque
 *
 * A ClusterIP destination is load-balanced over the Service port's endpoints; a pod IP destination
 * goes to that pod only (unrouted), still over mTLS when the pod is meshed.
 */
import type { Socket } from 'node:net';
import type { EndpointState } from '../balancer.js';
import { pipeBoth, redirectedTo, setContext } from '../connection.js';
import { ListenerBase } from '../listener-base.js';
import { Balancers } from '../deps.js';
import type { EndpointsDump, ProxyDeps } from '../deps.js';
import { detect } from '../detect.js';
import type { Destination, ServicePort } from '../io.js';
import { BalancedPicker, FixedPicker, MAX_ATTEMPTS, whenPickable } from '../picker.js';
import type { EndpointPicker, Pick } from '../picker.js';
import { clientSideDirection, planOfAction } from '../plan.js';
import type { Direction, Plan } from '../plan.js';
import type { HookRequest, OutboundAction } from '../policy-hook.js';

interface OutboundConnection {
  readonly dest: Destination;
  /** The Service port the app dialled; undefined for a pod IP (or an unknown address): no policy. */
  readonly target: ServicePort | undefined;
  /** Where the connection's requests go without a plan: the Service port's endpoints, or the pod dialled. */
  readonly picker: EndpointPicker;
}

export class OutboundListener extends ListenerBase<OutboundConnection> {
  private readonly balancers: Balancers;
  private readonly pickers = new WeakMap<ServicePort, BalancedPicker>();
  protected readonly direction: Direction<OutboundConnection>;

  constructor(private readonly deps: ProxyDeps) {
    super(deps, deps.stats.outbound, { allowHalfOpen: false, noDelay: true });
    this.balancers = new Balancers(deps.endpoints, deps.limits.destinationIdleTimeoutMs, deps.limits.maxDestinations);
    this.direction = clientSideDirection<OutboundConnection>(deps, {
      draining: this.isDraining,
      resumeHttp1: (s) => this.resumeHttp1(s),
      plan: (conn, req) => this.plan(conn, req),
    });
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
      const picker = dest.kind === 'service'
        ? this.pickerFor(dest.service)
        : new FixedPicker(dest.kind === 'endpoint'
          ? { ip: orig.address, port: orig.port, meshed: dest.meshed, ...(dest.identity !== undefined ? { identity: dest.identity } : {}) }
          : { ip: orig.address, port: orig.port, meshed: false });
      const conn: OutboundConnection = { dest, target: dest.kind === 'service' ? dest.service : undefined, picker };
      if (dest.kind === 'unknown' || dest.protocolHint === 'opaque' || this.deps.opaquePorts.has(orig.port)) {
        this.opaque(socket, picker);
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
        this.opaque(socket, picker);
      }
    });
  }

  // --- the plan: what the shared protocol adapters do with each request ----------------------------

  /**
   * The plan of a request: to the pod the app dialled as it is (no policy), or what the policy hook
   * says for the Service port. Undefined when the hook threw.
   */
  private plan(conn: OutboundConnection, req: HookRequest): Plan | undefined {
    if (conn.target === undefined) return { kind: 'forward', picker: conn.picker };
    let a: OutboundAction;
    try {
      a = this.deps.policy.outbound.route({ target: conn.target }, req);
    } catch {
      return undefined;
    }
    return planOfAction(a, (sp) => this.pickerFor(sp));
  }

  /** One picker per ServicePort object (the policy hook hands back the same objects). */
  private pickerFor(backend: ServicePort): BalancedPicker {
    let p = this.pickers.get(backend);
    if (p === undefined) this.pickers.set(backend, (p = new BalancedPicker(this.balancers, backend, this.deps.limits.connectTimeoutMs)));
    return p;
  }

  // --- opaque ---------------------------------------------------------------------------------------

  private opaque(socket: Socket, picker: EndpointPicker): void {
    socket.pause();
    whenPickable(picker, (pick) => void this.dialOpaque(socket, picker, pick));
  }

  /** Up to the picker's attempts, each to an endpoint not tried yet; then CONNECT_FAILED and close. */
  private async dialOpaque(socket: Socket, picker: EndpointPicker, pick: Pick): Promise<void> {
    let tried: Set<EndpointState> | undefined;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const st = pick(tried);
      if (st === undefined || socket.destroyed) break;
      try {
        const up = await this.deps.pools.opaque(st.endpoint);
        pipeBoth(socket, up);
        return;
      } catch {
        if (picker.maxAttempts === 1) break;
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

  /** Circuit breaking: ejections so far and endpoints ejected now, over every balancer. */
  get accrual(): { readonly ejections: number; readonly ejected: number } {
    return { ejections: this.balancers.counters.ejections, ejected: this.balancers.ejected() };
  }

  /** Every balanced Service port and its endpoints' circuit-breaking state (admin `/endpoints`). */
  endpointsDump(): EndpointsDump[] {
    return this.balancers.dump();
  }

  override destroy(): void {
    super.destroy();
    this.balancers.close();
  }
}
