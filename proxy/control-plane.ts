/**
 * The boundary between the proxy and the control plane: it turns the api/ gRPC contracts and the
 * identity client into the ports the transport depends on.
 *
 *   identity  IdentityClient (Certify over TLS, renewal at 70%) -> CertificateProvider
 *   outbound  OutboundPolicy.Follow(pod, ip, port), one stream per original destination, cached:
 *             service -> Destination 'service', pod -> 'endpoint', unknown -> 'unknown',
 *             unsupported or no answer in time -> 'refused' (fail closed)
 *   discovery Discovery.Follow(service port) -> the ready endpoints
 *   policy    outbound: the same DestinationPolicy stream's ServicePolicy (routes for this pod's
 *             namespace) -> PolicyStore; inbound: InboundPolicy.Watch(pod, port), one stream per app port
 *             (the configured ones at start, others on first traffic) -> PolicyStore; the hook
 *             (proxy/policy/hook.ts) reads the store per request. Wire -> domain: proxy/policy/wire.ts.
 *   gateway   (`weft gateway` only) GatewayPolicy.Watch(gateway) -> the Gateway's view, replaced per
 *             snapshot; the hook's `gateway.route` reads it per request
 *
 * The gRPC channel runs over mTLS with the proxy's own certificate and checks the controller's SPIFFE
 * ID; a new certificate replaces the channel and every watch re-subscribes on the new one, keeping its
 * last answer meanwhile (the last good config survives a controller outage). Watches retry with
 * backoff. Wire types stay in this module.
 *
 * Per-destination streams are Follows, ended by a half-close that the controller answers with OK:
 * cancelling them (RST_STREAM) at the rate an app can dial new destinations trips the HTTP/2 server's
 * rapid-reset guard (Node.js: a burst of 1,000, then 33 a second), whose GOAWAY fails every stream of
 * the connection. A controller without Follow (UNIMPLEMENTED) gets Watches, cancelled as before.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { credentials, Metadata } from '@grpc/grpc-js';
import type { ChannelCredentials, ClientDuplexStream, ClientReadableStream } from '@grpc/grpc-js';
import { controllerDnsNames, spiffeId } from '../core/contract.js';
import { DiscoveryClient } from '../api/gen/weft/discovery/v1/discovery.js';
import type { Endpoint as WireEndpoint, Endpoints as WireEndpoints } from '../api/gen/weft/discovery/v1/discovery.js';
import { OutboundPolicyClient } from '../api/gen/weft/outbound/v1/outbound.js';
import type { DestinationPolicy } from '../api/gen/weft/outbound/v1/outbound.js';
import { InboundPolicyClient } from '../api/gen/weft/inbound/v1/inbound.js';
import { GatewayPolicyClient } from '../api/gen/weft/gateway/v1/gateway.js';
import type { GatewayView as WireGatewayView } from '../api/gen/weft/gateway/v1/gateway.js';
import type { GatewayView } from '../core/gateway/view.js';
import type { GatewayViewSource } from './gateway/server.js';
import type { PortPolicy } from '../api/gen/weft/inbound/v1/inbound.js';
import type { ProtocolHint as WireProtocolHint } from '../api/gen/weft/common/v1/common.js';
import { checkSpiffeServerIdentity, GrpcCertifier } from '../identity/certifier-grpc.js';
import { IdentityClient } from '../identity/client.js';
import { CertificateProvider as IdentityProvider } from '../identity/provider.js';
import type { CertifiedKey } from '../identity/provider.js';
import { controllerSpiffeId } from '../identity/spiffe.js';
import type { ProxyConfig } from './config.js';
import { RouteMetrics } from './metrics.js';
import { createPolicyHook, PolicyStore } from './policy/hook.js';
import { gatewayViewOf, portPolicyOf, servicePortPolicyOf } from './policy/wire.js';
import { StreamHealth } from './stream-health.js';
import type { Certificate, CertificateProvider, Destination, Destinations, Endpoint, Endpoints, ProtocolHint, ReadinessSource, ServicePort } from './io.js';
import type { PolicyHook } from './policy-hook.js';

export interface ControlPlane {
  readonly destinations: Destinations;
  readonly endpoints: Endpoints;
  readonly policy: PolicyHook;
  /** The per-route series `policy` records into (pass to startProxy as `routeMetrics`). */
  readonly routeMetrics: RouteMetrics;
  readonly certificates: CertificateProvider;
  readonly readiness: readonly ReadinessSource[];
  /** `weft gateway`: its Gateway's view (with ControlPlaneOptions.gateway only). */
  readonly gatewayView?: GatewayViewSource;
  close(): void;
}

export interface ControlPlaneOptions {
  /** How long a new destination waits for the controller's first answer before it is refused. */
  readonly lookupTimeoutMs?: number;
  /** `weft gateway`: the Gateway whose view to watch (GatewayPolicy.Watch). */
  readonly gateway?: { readonly namespace: string; readonly name: string };
  /** Backoff of re-subscriptions. */
  readonly retryMs?: { readonly initial: number; readonly max: number };
  readonly log?: (line: string) => void;
}

function toCertificate(k: CertifiedKey): Certificate {
  return { keyPem: k.keyPem, certChainPem: [k.certPem, ...k.chainPem].join(''), trustAnchorsPem: k.anchorsPem, identity: k.spiffeId };
}

function protocolOf(p: WireProtocolHint): ProtocolHint {
  switch (p) {
    case 'PROTOCOL_HINT_HTTP1': return 'http1';
    case 'PROTOCOL_HINT_HTTP2':
    case 'PROTOCOL_HINT_GRPC': return 'http2';
    case 'PROTOCOL_HINT_OPAQUE': return 'opaque';
    default: return 'detect';
  }
}

function endpointOf(e: WireEndpoint): Endpoint {
  const protocol = protocolOf(e.protocol);
  return { ip: e.ip, port: e.port, meshed: e.meshed, ...(e.meshed && e.identity !== '' ? { identity: e.identity } : {}), ...(protocol !== 'detect' ? { protocol } : {}) };
}

/** The domain view of one DestinationPolicy message (wire types stop here). */
export function destinationOf(m: DestinationPolicy): Destination {
  const d = m.destination;
  switch (d?.$case) {
    case 'service': {
      const s = d.value.service;
      if (s === undefined) return { kind: 'refused', reason: 'the controller sent a Service policy without its Service' };
      return { kind: 'service', service: { namespace: s.namespace, name: s.name, port: s.port }, protocolHint: protocolOf(d.value.protocol) };
    }
    case 'pod':
      return { kind: 'endpoint', meshed: d.value.meshed, ...(d.value.meshed && d.value.identity !== '' ? { identity: d.value.identity } : {}), protocolHint: protocolOf(d.value.protocol) };
    case 'unknown':
      return { kind: 'unknown' };
    default:
      return { kind: 'refused', reason: 'the controller cannot describe this destination' };
  }
}

/** The ready endpoints of one Endpoints message. */
export function readyEndpointsOf(m: WireEndpoints): Endpoint[] {
  return m.endpoints.filter((e) => e.ready && !e.terminating).map(endpointOf);
}

interface Clients {
  readonly outbound: OutboundPolicyClient;
  readonly inbound: InboundPolicyClient;
  readonly discovery: DiscoveryClient;
  readonly gateway: GatewayPolicyClient;
}

/** How long a half-closed Follow may take to end before it is cancelled. */
const FOLLOW_END_GRACE_MS = 10_000;

/** A stream a Watch reads, and how it is ended once no longer needed. */
interface Opened<T> {
  readonly stream: ClientReadableStream<T>;
  /** A Follow: ended by a half-close (the controller answers OK) instead of a cancel. */
  readonly follow?: { readonly unimplemented: () => void };
}

/** Opens a Follow: the target is its one message. */
function follow<Req, T>(call: ClientDuplexStream<Req, T>, target: Req, unimplemented: () => void): Opened<T> {
  call.write(target);
  return { stream: call, follow: { unimplemented } };
}

/** Ends a stream no longer read: a Follow is half-closed (cancelled if it lingers), a Watch cancelled. */
function endStream<T>(o: Opened<T>): void {
  if (o.follow === undefined) {
    o.stream.cancel();
    return;
  }
  const s = o.stream as ClientDuplexStream<unknown, T>;
  const timer = setTimeout(() => s.cancel(), FOLLOW_END_GRACE_MS);
  timer.unref();
  s.once('status', () => clearTimeout(timer));
  s.end();
}

/** A server-streaming watch that re-subscribes with backoff whenever its stream ends. */
class Watch<T> {
  private opened: Opened<T> | undefined;
  private stopped = false;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly name: string,
    private readonly open: () => Opened<T> | undefined,
    private readonly onMessage: (m: T) => void,
    private readonly retry: { initial: number; max: number },
    private readonly health: StreamHealth,
  ) {
    this.delay = retry.initial;
    this.start();
  }

  private start(): void {
    if (this.stopped) return;
    const o = this.open();
    if (o === undefined) {
      this.again();
      return;
    }
    this.opened = o;
    const s = o.stream;
    s.on('data', (m: T) => {
      // A stream being ended may still deliver a snapshot: it is no longer this watch's.
      if (this.opened !== o) return;
      this.delay = this.retry.initial;
      this.health.answered(this.name);
      this.onMessage(m);
    });
    s.on('error', (err: Error & { code?: number }) => {
      if (this.opened !== o) return;
      // An older controller without Follow: use Watch from now on.
      if (err.code === 12 && o.follow !== undefined) {
        o.follow.unimplemented();
        return;
      }
      // CANCELLED (1) is our own cancel: a restart on a new channel, or stop().
      if (err.code !== 1) this.health.failed(this.name, err, this.delay);
    });
    // 'status', not 'close': a Follow the controller failed still has its sending side open, and a
    // duplex stream closes only once both sides have.
    s.on('status', () => {
      if (this.opened === o) this.again();
    });
  }

  private again(): void {
    if (this.stopped) return;
    this.opened = undefined;
    // Jittered (half to all of the delay): when the channel drops, every watch fails at once, and
    // without it they would all come back in the same instant, again and again.
    this.timer = setTimeout(() => this.start(), this.delay * (0.5 + Math.random() / 2));
    this.timer.unref();
    this.delay = Math.min(this.retry.max, this.delay * 2);
  }

  /** Re-subscribes now (a new channel). */
  restart(): void {
    const o = this.opened;
    this.opened = undefined;
    if (o !== undefined) endStream(o);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.start();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const o = this.opened;
    this.opened = undefined;
    if (o !== undefined) endStream(o);
  }
}

export function connectControlPlane(config: ProxyConfig, o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = o.log ?? (() => undefined);
  const retry = o.retryMs ?? { initial: 500, max: 30_000 };
  const lookupTimeoutMs = o.lookupTimeoutMs ?? 5_000;
  const self = spiffeId(config.trustDomain, config.podNamespace, config.serviceAccount);
  const controllerId = controllerSpiffeId(config.trustDomain);

  const provider = new IdentityProvider();
  const certifier = new GrpcCertifier({ address: config.controllerAddr, anchorsPem: config.trustAnchorsPem, serverSpiffeId: controllerId });
  const identity = new IdentityClient({
    spiffeId: self,
    anchorsPem: config.trustAnchorsPem,
    certifier,
    readToken: () => readFile(config.identityTokenFile, 'utf8'),
    provider,
  });
  identity.on('failed', (e) => log(`identity: certify attempt ${e.attempt} failed (${String(e.error)}); retry in ${e.retryInMs} ms`));
  identity.start().catch(() => undefined);

  const certificates: CertificateProvider = {
    current: () => {
      const k = provider.current();
      return k === undefined ? undefined : toCertificate(k);
    },
    onChange: (l) => {
      const f = (k: CertifiedKey) => l(toCertificate(k));
      provider.on('change', f);
      return () => provider.off('change', f);
    },
  };

  // --- the mTLS channel to the controller, replaced on every new certificate ------------------------
  let clients: Clients | undefined;
  const watches = new Set<Watch<unknown>>();
  let answered = false;
  const host = config.controllerAddr.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  const channelOptions = isIP(host) !== 0 ? { 'grpc.ssl_target_name_override': controllerDnsNames()[0] ?? host } : {};
  const connect = (k: CertifiedKey) => {
    const creds: ChannelCredentials = credentials.createSsl(
      Buffer.from(k.anchorsPem), Buffer.from(k.keyPem), Buffer.from([k.certPem, ...k.chainPem].join('')),
      { checkServerIdentity: checkSpiffeServerIdentity(controllerId) },
    );
    const old = clients;
    clients = {
      outbound: new OutboundPolicyClient(config.controllerAddr, creds, channelOptions),
      inbound: new InboundPolicyClient(config.controllerAddr, creds, channelOptions),
      discovery: new DiscoveryClient(config.controllerAddr, creds, channelOptions),
      gateway: new GatewayPolicyClient(config.controllerAddr, creds, channelOptions),
    };
    for (const w of watches) w.restart();
    old?.outbound.close();
    old?.inbound.close();
    old?.discovery.close();
    old?.gateway.close();
  };
  provider.on('change', connect);
  const health = new StreamHealth(log);
  /** Whether the controller serves Follow (true until it answers UNIMPLEMENTED). */
  const following = { outbound: true, discovery: true };
  const noFollow = (which: keyof typeof following): void => {
    if (!following[which]) return;
    following[which] = false;
    log(`control plane: the controller does not serve ${which} Follow; using Watch (an older controller)`);
  };
  const watch = <T>(name: string, open: (c: Clients) => Opened<T>, onMessage: (m: T) => void): Watch<T> => {
    const w = new Watch<T>(name, () => (clients === undefined ? undefined : open(clients)), (m) => {
      answered = true;
      onMessage(m);
    }, retry, health);
    watches.add(w as Watch<unknown>);
    return w;
  };

  // --- policy ---------------------------------------------------------------------------------------
  const store = new PolicyStore();
  const routeMetrics = new RouteMetrics();
  const pod = { namespace: config.podNamespace, name: config.podName };
  const watchPort = (port: number) => {
    watch(`inbound policy of port ${port}`, (c) => ({ stream: c.inbound.watch({ namespace: config.podNamespace, pod: config.podName, port }, new Metadata()) }), (m: PortPolicy) => {
      store.setInbound(port, portPolicyOf(m, pod, port, config.trustDomain));
    });
  };
  store.onUnknownPort = watchPort;
  store.watching(config.inboundPorts);
  for (const port of config.inboundPorts) watchPort(port);
  // --- gateway (`weft gateway`) ---------------------------------------------------------------------
  let gatewayView: GatewayView | undefined;
  let gatewayAnswered = false;
  const gatewayListeners = new Set<() => void>();
  const gw = o.gateway;
  if (gw !== undefined) {
    watch(`gateway policy of ${gw.namespace}/${gw.name}`, (c) => ({ stream: c.gateway.watch({ namespace: gw.namespace, name: gw.name }, new Metadata()) }), (m: WireGatewayView) => {
      gatewayView = gatewayViewOf(m);
      gatewayAnswered = true;
      for (const l of gatewayListeners) l();
    });
  }
  const policy = createPolicyHook({ store, metrics: routeMetrics, ...(gw !== undefined ? { gateway: () => gatewayView } : {}) });

  // --- outbound destinations ------------------------------------------------------------------------
  // One policy watch per original destination, held by the connections that resolved it and forgotten
  // once none has for destinationIdleTimeoutMs (the watch ends, so does the controller's side of it).
  interface Entry {
    dest: Destination | undefined;
    waiters: ((d: Destination) => void)[];
    watch: Watch<unknown> | undefined;
    users: number;
    idleSince: number;
    /** The Service port whose routes this destination's watch keeps in the store. */
    service: ServicePort | undefined;
    /** Over the cache's bound with every entry in use: answered once, its watch ended, gone when released. */
    transient: boolean;
  }
  const dests = new Map<string, Entry>();
  /** Destinations per Service port (a Service's routes leave the store with the last of them). */
  const serviceUsers = new Map<string, number>();
  const spKeyOf = (sp: ServicePort): string => `${sp.namespace}/${sp.name}:${sp.port}`;
  const destinations: Destinations = {
    resolve(ip, port) {
      const key = `${ip}|${port}`;
      let e = dests.get(key);
      if (e !== undefined) {
        e.users++;
        // Most recently used last: the map's order is the eviction order.
        dests.delete(key);
        dests.set(key, e);
      }
      if (e?.dest !== undefined) return e.dest;
      if (e === undefined) {
        if (dests.size >= config.limits.maxDestinations) forget(0, dests.size - config.limits.maxDestinations + 1);
        const entry: Entry = {
          dest: undefined, waiters: [], watch: undefined, users: 1, idleSince: 0, service: undefined,
          transient: dests.size >= config.limits.maxDestinations,
        };
        e = entry;
        dests.set(key, entry);
        entry.watch = watch(`outbound policy of ${ip.includes(':') ? `[${ip}]` : ip}:${port}`, (c) => {
          const target = { namespace: config.podNamespace, pod: config.podName, ip, port };
          return following.outbound ? follow(c.outbound.follow(new Metadata()), target, () => noFollow('outbound')) : { stream: c.outbound.watch(target, new Metadata()) };
        }, (m: DestinationPolicy) => {
          // The routes first, so the first request after the destination resolves sees them.
          if (m.destination?.$case === 'service') {
            const sp = servicePortPolicyOf(m.destination.value, config.podNamespace);
            const svc = m.destination.value.service;
            if (svc !== undefined) {
              const target = { namespace: svc.namespace, name: svc.name, port: svc.port };
              if (entry.service === undefined) {
                entry.service = target;
                serviceUsers.set(spKeyOf(target), (serviceUsers.get(spKeyOf(target)) ?? 0) + 1);
              }
              store.setOutbound(target, sp);
            }
          }
          entry.dest = destinationOf(m);
          for (const w of entry.waiters.splice(0)) w(entry.dest);
          if (entry.transient) endWatch(entry);
        }) as Watch<unknown>;
      }
      const entry = e;
      return new Promise<Destination>((resolve) => {
        const waiter = (d: Destination): void => {
          clearTimeout(timer);
          resolve(d);
        };
        // A lookup the controller has not answered in time is refused and stops waiting: a waiter left
        // behind would pin its entry (and its watch) past the cache's bound for as long as the
        // controller stays silent.
        const timer = setTimeout(() => {
          const i = entry.waiters.indexOf(waiter);
          if (i >= 0) entry.waiters.splice(i, 1);
          resolve({ kind: 'refused', reason: `no answer from the controller about ${ip}:${port}` });
        }, lookupTimeoutMs);
        entry.waiters.push(waiter);
      });
    },
    release(ip, port) {
      const key = `${ip}|${port}`;
      const e = dests.get(key);
      if (e === undefined || e.users <= 0) return;
      if (--e.users > 0) return;
      e.idleSince = Date.now();
      if (e.transient && e.waiters.length === 0) drop(key, e);
    },
    size: () => dests.size,
  };
  const endWatch = (e: Entry): void => {
    if (e.watch === undefined) return;
    e.watch.stop();
    watches.delete(e.watch);
    e.watch = undefined;
  };
  const drop = (key: string, e: Entry): void => {
    dests.delete(key);
    endWatch(e);
    if (e.service !== undefined) {
      const k = spKeyOf(e.service);
      const left = (serviceUsers.get(k) ?? 1) - 1;
      if (left > 0) serviceUsers.set(k, left);
      else {
        serviceUsers.delete(k);
        store.setOutbound(e.service, undefined);
        routeMetrics.forgetService(e.service.namespace, e.service.name, e.service.port);
      }
    }
  };
  /** Forgets up to `limit` entries no connection holds, idle for at least `idleMs`, least recently used first. */
  const forget = (idleMs: number, limit = Number.POSITIVE_INFINITY): void => {
    const cutoff = Date.now() - idleMs;
    let n = 0;
    for (const [key, e] of dests) {
      if (n >= limit) break;
      if (e.users > 0 || e.waiters.length > 0 || e.idleSince > cutoff) continue;
      drop(key, e);
      n++;
    }
  };
  const forgetIdle = (): void => forget(config.limits.destinationIdleTimeoutMs);
  const sweeper = setInterval(forgetIdle, Math.max(250, Math.floor(config.limits.destinationIdleTimeoutMs / 4)));
  sweeper.unref();

  // --- discovery ------------------------------------------------------------------------------------
  const endpoints: Endpoints = {
    watch(sp: ServicePort, onUpdate) {
      const w = watch(`endpoints of ${sp.namespace}/${sp.name}:${sp.port}`, (c) => {
        const target = { namespace: sp.namespace, name: sp.name, port: sp.port };
        return following.discovery ? follow(c.discovery.follow(new Metadata()), target, () => noFollow('discovery')) : { stream: c.discovery.watch(target, new Metadata()) };
      }, (m: WireEndpoints) => onUpdate(readyEndpointsOf(m)));
      return () => {
        w.stop();
        watches.delete(w as Watch<unknown>);
      };
    },
  };

  return Promise.resolve({
    destinations,
    endpoints,
    policy,
    routeMetrics,
    certificates,
    // Policy and discovery count as there once the controller has answered any watch over mTLS (or
    // before any was needed: a pod that dials nothing must still become ready), and every configured
    // app port has its inbound policy (until then that port is not served).
    readiness: [
      { isReady: () => answered || (clients !== undefined && watches.size === 0) },
      { isReady: () => config.inboundPorts.every((p) => store.hasInbound(p)) },
    ],
    close: () => {
      clearInterval(sweeper);
      identity.stop();
      certifier.close();
      for (const w of watches) w.stop();
      clients?.outbound.close();
      clients?.inbound.close();
      clients?.discovery.close();
      clients?.gateway.close();
    },
    ...(gw !== undefined ? {
      gatewayView: {
        current: () => gatewayView,
        answered: () => gatewayAnswered,
        onChange: (l: () => void) => {
          gatewayListeners.add(l);
          return () => gatewayListeners.delete(l);
        },
      },
    } : {}),
  });
}
