/**
 * A running proxy: the outbound, inbound and admin listeners over one set of pools, one mTLS identity
 * and one stats object. `startProxy` is what `weft proxy` and the in-process tests call; it opens the
 * data ports only once the proxy has its own certificate (nothing is served before, case 40).
 *
 * Shutdown (SIGTERM): stop accepting, drain (HTTP/2 GOAWAY, HTTP/1 `Connection: close` on the next
 * response and idle keep-alive connections closed), then close whatever is left at the grace period.
 */
import { ExternalNameEndpoints, type NameResolver } from './external-name.js';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { closeAdmin, createAdminServer } from './admin.js';
import type { ProxyLimits } from './config.js';
import type { OriginalDestinationFn } from './connection.js';
import type { ProxyDeps } from './deps.js';
import { InboundListener } from './inbound/listener.js';
import { drainListeners } from './listener-base.js';
import { createRegistry, ProxyStats } from './metrics.js';
import type { RouteMetrics } from './metrics.js';
import { MeshTls } from './mtls.js';
import { OutboundListener } from './outbound/listener.js';
import { UpstreamPools } from './pool.js';
import { SelfAddresses } from './self-guard.js';
import type { CertificateProvider, Destinations, Endpoints, ReadinessSource } from './io.js';
import type { PolicyHook } from './policy-hook.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface ProxyOptions {
  readonly limits: ProxyLimits;
  readonly podIp: string;
  readonly opaquePorts: ReadonlySet<number>;
  readonly destinations: Destinations;
  readonly endpoints: Endpoints;
  readonly policy: PolicyHook;
  readonly certificates: CertificateProvider;
  /** Policy and discovery readiness (the certificate is checked here). */
  readonly readiness: readonly ReadinessSource[];
  readonly originalDestination: OriginalDestinationFn;
  readonly outbound: ListenAddress;
  readonly inbound: ListenAddress;
  readonly admin?: ListenAddress;
  /** What /config shows (no secrets). */
  readonly configDump?: () => unknown;
  /** The per-route series the policy hook records into, exposed on /metrics. */
  readonly routeMetrics?: RouteMetrics;
  /** Test seam: how ExternalName backends' DNS names are resolved (proxy/external-name.ts); default DNS. */
  readonly resolveName?: NameResolver;
}

export interface RunningProxy {
  readonly stats: ProxyStats;
  readonly mesh: MeshTls;
  readonly outboundPort: number;
  readonly inboundPort: number;
  readonly adminPort: number | undefined;
  isReady(): boolean;
  /** Drains and closes; resolves when everything is closed (at the latest after `graceMs`). */
  shutdown(graceMs: number): Promise<void>;
}

export async function startProxy(o: ProxyOptions): Promise<RunningProxy> {
  const stats = new ProxyStats();
  const mesh = new MeshTls(o.certificates);
  stats.tlsHandshakesOut = () => mesh.handshakesOut;
  stats.tlsHandshakesIn = () => mesh.handshakesIn;
  const self = new SelfAddresses(o.podIp);
  const pools = new UpstreamPools(mesh, o.limits, self);
  const deps: ProxyDeps = {
    limits: o.limits, podIp: o.podIp, opaquePorts: o.opaquePorts, destinations: o.destinations,
    // ExternalName backends of routes resolve by DNS; every other Service port through discovery.
    endpoints: new ExternalNameEndpoints(o.endpoints, o.resolveName !== undefined ? { resolve: o.resolveName } : {}),
    policy: o.policy, mesh, pools, stats, originalDestination: o.originalDestination, self,
  };
  let draining = false;
  const isReady = () => !draining && mesh.ready && o.readiness.every((r) => r.isReady());

  let admin: Server | undefined;
  let adminPort: number | undefined;
  let endpointsDump: () => unknown = () => [];
  if (o.admin !== undefined) {
    const registry = createRegistry(stats, o.routeMetrics);
    admin = createAdminServer({
      registry, ready: isReady, configDump: () => ({ identity: mesh.identity ?? null, ...(o.configDump?.() as object | undefined) }), endpoints: () => endpointsDump(),
    });
    adminPort = await listen(admin, o.admin);
    self.addPort(adminPort);
  }

  await mesh.whenReady();

  const outbound = new OutboundListener(deps);
  const inbound = new InboundListener(deps);
  // The configured ports are known before binding; port 0 (tests) only once bound.
  for (const p of [o.outbound.port, o.inbound.port]) if (p !== 0) self.addPort(p);
  const outboundPort = (await outbound.listen(o.outbound.port, o.outbound.host)).port;
  self.addPort(outboundPort);
  const inboundPort = (await inbound.listen(o.inbound.port, o.inbound.host)).port;
  self.addPort(inboundPort);

  // Bounded state: what nothing used for the idle time is forgotten (policy lookups in the control-plane
  // adapter, balancers with their discovery watches here, idle upstream pools).
  const idleMs = o.limits.destinationIdleTimeoutMs;
  const sweeper = setInterval(() => {
    const now = Date.now();
    outbound.sweep(now);
    pools.sweep(idleMs, now);
  }, Math.max(250, Math.floor(idleMs / 4)));
  sweeper.unref();
  stats.accrual = () => outbound.accrual;
  endpointsDump = () => outbound.endpointsDump();
  stats.liveDestinations = () => ({
    lookups: o.destinations.size?.() ?? 0,
    balancers: outbound.balancerCount,
    upstream_pools: pools.size.http1 + pools.size.http2,
  });

  let closing: Promise<void> | undefined;
  const shutdown = (graceMs: number): Promise<void> => {
    closing ??= (async () => {
      draining = true;
      clearInterval(sweeper);
      await drainListeners([outbound, inbound], graceMs);
      pools.destroy();
      mesh.close();
      await closeAdmin(admin);
    })();
    return closing;
  };

  return { stats, mesh, outboundPort, inboundPort, adminPort, isReady, shutdown };
}

function listen(server: Server, at: ListenAddress): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.removeListener('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
