/**
 * A running gateway proxy (`weft gateway`): one GatewayListener per port of its Gateway's view, the
 * admin server, one mTLS identity (the gateway's ServiceAccount) and one set of pools and balancers.
 * The same building blocks as the sidecar (proxy/proxy.ts), without the inbound and outbound listeners.
 *
 *   view (GatewayPolicy.Watch) -> ports to serve: new ports are bound, ports gone are drained and closed;
 *                                 every served port gets its part of the view (HTTPS certificates
 *                                 swapped in place, the port stays bound)
 *   readiness: the certificate, the control plane's answers, a view received and every port bound
 *
 * The data ports open only once the proxy has its certificate (as the sidecar's). A port that cannot be
 * bound (in use, not permitted) is logged and tried again on the next view; the gateway is not ready
 * meanwhile.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GatewayView } from '../../core/gateway/view.js';
import { closeAdmin, createAdminServer } from '../admin.js';
import type { ProxyLimits } from '../config.js';
import { Balancers, type ProxyDeps } from '../deps.js';
import type { CertificateProvider, Endpoints, ReadinessSource, ServicePort } from '../io.js';
import { createRegistry, ProxyStats, type RouteMetrics } from '../metrics.js';
import { MeshTls } from '../mtls.js';
import type { BalancedPicker } from '../picker.js';
import type { PolicyHook } from '../policy-hook.js';
import { UpstreamPools } from '../pool.js';
import type { ListenAddress } from '../proxy.js';
import { SelfAddresses } from '../self-guard.js';
import { drainListeners } from '../listener-base.js';
import { ExternalNameEndpoints, type NameResolver } from '../external-name.js';
import { GatewayListener } from './listener.js';
import { BackendTlsEndpoints } from './backend-tls.js';
import type { OriginateTls } from '../backend-tls.js';

/** The Gateway's view as the control plane keeps it. */
export interface GatewayViewSource {
  current(): GatewayView | undefined;
  /** Whether the controller has answered at all (a `served: false` answer included). */
  answered(): boolean;
  onChange(listener: () => void): () => void;
}

export interface GatewayOptions {
  readonly limits: ProxyLimits;
  readonly podIp: string;
  readonly endpoints: Endpoints;
  /** Must implement `gateway` (proxy/policy/hook.ts with a `gateway` view). */
  readonly policy: PolicyHook;
  readonly certificates: CertificateProvider;
  readonly readiness: readonly ReadinessSource[];
  readonly view: GatewayViewSource;
  /** The address listener ports are bound on. */
  readonly host: string;
  /** Test seam: the port to bind for a view port (tests bind 0); default the view port itself. */
  readonly bindPort?: (port: number) => number;
  readonly admin?: ListenAddress;
  readonly configDump?: () => unknown;
  readonly routeMetrics?: RouteMetrics;
  readonly log?: (line: string) => void;
  /** Test seam: how ExternalName backends' DNS names are resolved (proxy/external-name.ts); default DNS. */
  readonly resolveName?: NameResolver;
}

export interface RunningGateway {
  readonly stats: ProxyStats;
  readonly mesh: MeshTls;
  readonly adminPort: number | undefined;
  /** View port -> the port bound for it, for the ports served now. */
  ports(): ReadonlyMap<number, number>;
  isReady(): boolean;
  /** Resolves once the listeners match the current view (tests). */
  settled(): Promise<void>;
  shutdown(graceMs: number): Promise<void>;
}

const refuse = (): never => {
  throw new Error('a gateway resolves no original destinations');
};

export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const log = o.log ?? (() => undefined);
  const stats = new ProxyStats();
  const mesh = new MeshTls(o.certificates);
  stats.tlsHandshakesOut = () => mesh.handshakesOut;
  stats.tlsHandshakesIn = () => mesh.handshakesIn;
  const self = new SelfAddresses(o.podIp);
  const pools = new UpstreamPools(mesh, o.limits, self);
  // ExternalName backends resolve by DNS (the Host header stays the client's); the rest through discovery.
  // Then the view's BackendTLSPolicy applied to endpoints outside the mesh (./backend-tls.ts).
  const endpoints = new BackendTlsEndpoints(new ExternalNameEndpoints(o.endpoints, { log, ...(o.resolveName !== undefined ? { resolve: o.resolveName } : {}) }));
  const deps: ProxyDeps = {
    limits: o.limits, podIp: o.podIp, opaquePorts: new Set(), endpoints, policy: o.policy, mesh, pools, stats, self,
    // The gateway's connections are not redirected: nothing asks where they were going.
    destinations: { resolve: refuse }, originalDestination: () => null,
  };
  const balancers = new Balancers(endpoints, o.limits.destinationIdleTimeoutMs, o.limits.maxDestinations);
  const pickers = new WeakMap<ServicePort, BalancedPicker>();
  const listeners = new Map<number, { listener: GatewayListener; bound: number }>();
  let unbound = new Set<number>();
  let draining = false;
  const isReady = () => !draining && mesh.ready && o.view.answered() && unbound.size === 0 && o.readiness.every((r) => r.isReady());

  let admin: Server | undefined;
  let adminPort: number | undefined;
  if (o.admin !== undefined) {
    const registry = createRegistry(stats, o.routeMetrics);
    admin = createAdminServer({ registry, ready: isReady, configDump: () => ({ identity: mesh.identity ?? null, ...(o.configDump?.() as object | undefined) }) });
    adminPort = await new Promise<number>((resolve, reject) => {
      admin!.once('error', reject);
      admin!.listen(o.admin!.port, o.admin!.host, () => resolve((admin!.address() as AddressInfo).port));
    });
    self.addPort(adminPort);
  }

  await mesh.whenReady();

  // One reconciliation at a time; a view change during one runs another after it.
  let running: Promise<void> = Promise.resolve();
  const reconcile = (): Promise<void> => {
    running = running.then(async () => {
      if (draining) return;
      const view = o.view.current();
      endpoints.setConfig(originateConfigOf(view));
      const portViews = new Map((view?.ports ?? []).map((p) => [p.port, p]));
      const wanted = new Set(portViews.keys());
      for (const [port, l] of listeners) {
        if (wanted.has(port)) continue;
        listeners.delete(port);
        l.listener.beginDrain();
        void Promise.race([l.listener.whenEmpty(), new Promise((r) => setTimeout(r, 30_000).unref())]).then(() => l.listener.destroy());
        log(`port ${port}: no listener of the Gateway any more; closed`);
      }
      const missing = new Set<number>();
      for (const port of wanted) {
        const served = listeners.get(port);
        if (served !== undefined) {
          served.listener.setView(portViews.get(port));
          continue;
        }
        const listener = new GatewayListener(deps, port, balancers, pickers, log);
        listener.setView(portViews.get(port));
        try {
          const bound = (await listener.listen(o.bindPort?.(port) ?? port, o.host)).port;
          self.addPort(bound);
          listeners.set(port, { listener, bound });
          log(`port ${port}: serving`);
        } catch (err) {
          listener.destroy();
          missing.add(port);
          log(`port ${port}: cannot listen (${(err as Error).message}); trying again on the next view`);
        }
      }
      unbound = missing;
    });
    return running;
  };
  const off = o.view.onChange(() => void reconcile());
  await reconcile();

  const idleMs = o.limits.destinationIdleTimeoutMs;
  const sweeper = setInterval(() => {
    const now = Date.now();
    balancers.sweep(now);
    pools.sweep(idleMs, now);
  }, Math.max(250, Math.floor(idleMs / 4)));
  sweeper.unref();
  stats.accrual = () => ({ ejections: balancers.counters.ejections, ejected: balancers.ejected() });
  stats.liveDestinations = () => ({ lookups: 0, balancers: balancers.size, upstream_pools: pools.size.http1 + pools.size.http2 });

  let closing: Promise<void> | undefined;
  const shutdown = (graceMs: number): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      off();
      clearInterval(sweeper);
      await running;
      await drainListeners([...listeners.values()].map((l) => l.listener), graceMs);
      balancers.close();
      pools.destroy();
      mesh.close();
      await closeAdmin(admin);
    })();
    return closing;
  };

  return {
    stats, mesh, adminPort, isReady, shutdown,
    ports: () => new Map([...listeners].map(([port, l]) => [port, l.bound])),
    settled: () => running,
  };
}

/** The TLS to originate per backendPortKey: the view's BackendTLSPolicy decisions and the Gateway's client certificate. */
export function originateConfigOf(view: GatewayView | undefined): Map<string, OriginateTls> {
  const out = new Map<string, OriginateTls>();
  const clientCert = view?.backendClientCertificate;
  for (const [key, d] of view?.backendTls ?? []) {
    out.set(key, d.ok
      ? { servername: d.config.hostname, ca: d.config.ca, subjectAltNames: d.config.subjectAltNames, clientCert }
      : { servername: '', ca: { kind: 'system' }, subjectAltNames: [], invalid: d.message });
  }
  return out;
}
