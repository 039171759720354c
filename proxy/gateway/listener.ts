/**
 * A Gateway listener port of `weft gateway`: plaintext HTTP/1 and HTTP/2 (prior knowledge) from
 * clients outside the mesh, routed per request by the Gateway's view and forwarded like the sidecar's
 * outbound requests.
 *
 *   accept -> detect: http1 / http2 -> per request: PolicyHook.gateway.route(port) (core routeGateway)
 *                                   -> a plan (planOfAction, as outbound) -> the Service port's picker
 *                                   -> pooled peer connection, mTLS with the gateway's own identity
 *                                      when the endpoint is meshed (proxy/pool.ts)
 *                     anything else (TLS, unknown bytes) -> closed: only HTTP listeners are served
 *
 * Balancers (one per Service port, fed by the Discovery stream) are shared by every port of the
 * gateway: the server (./server.ts) hands each listener the same `Balancers`.
 */
import type { Socket } from 'node:net';
import { setContext } from '../connection.js';
import type { Balancers, ProxyDeps } from '../deps.js';
import { detect } from '../detect.js';
import type { ServicePort } from '../io.js';
import { ListenerBase } from '../listener-base.js';
import { BalancedPicker } from '../picker.js';
import { clientSideDirection, planOfAction } from '../plan.js';
import type { Direction, Plan } from '../plan.js';
import type { HookRequest } from '../policy-hook.js';

interface GatewayConnection {
  /** The listener port the client connected to. */
  readonly port: number;
}

export class GatewayListener extends ListenerBase<GatewayConnection> {
  protected readonly direction: Direction<GatewayConnection>;

  /** `port`: the Gateway listener port this socket serves (the one bound, unless a test binds 0). */
  constructor(
    private readonly deps: ProxyDeps,
    private readonly port: number,
    private readonly balancers: Balancers,
    private readonly pickers: WeakMap<ServicePort, BalancedPicker>,
  ) {
    super(deps, deps.stats.outbound, { allowHalfOpen: false, noDelay: true });
    this.direction = clientSideDirection<GatewayConnection>(deps, {
      draining: this.isDraining,
      resumeHttp1: (s) => this.resumeHttp1(s),
      plan: (conn, req) => this.plan(conn, req),
    });
  }

  protected onConnection(socket: Socket): void {
    const acceptedAt = Date.now();
    this.connections.add(socket);
    socket.on('error', () => socket.destroy());
    void detect(socket, this.deps.limits.detectTimeoutMs).then((d) => {
      if (d.protocol === 'closed' || socket.destroyed) return;
      setContext<GatewayConnection>(socket, { port: this.port });
      if (d.protocol === 'http1') this.handHttp1(socket, acceptedAt);
      else if (d.protocol === 'http2') this.downstream.http2.emit('connection', socket);
      else socket.destroy();
    });
  }

  private plan(conn: GatewayConnection, req: HookRequest): Plan | undefined {
    const hook = this.deps.policy.gateway;
    if (hook === undefined) return undefined;
    try {
      return planOfAction(hook.route(conn.port, req), (sp) => this.pickerFor(sp));
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
