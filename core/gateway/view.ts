/**
 * What a gateway proxy serves, and how it picks a listener and a rule for a request. Pure.
 *
 *   GatewayEvaluation (./evaluate.ts) + the attached routes compiled (core/routes/compile.ts)
 *     -> GatewayView: per port, its valid listeners, most specific hostname first
 *        per listener: its certificates and, per hostname its routes serve, a presorted route table
 *
 *   request (port, SNI, Host, method, path, headers)
 *     -> listener: on the port, the most specific listener hostname matching the SNI (TLS) or the
 *        Host (HTTP); none: 404 (HTTP) / no TLS handshake
 *     -> rule: the tables of the listener whose hostname matches Host, most specific hostname first;
 *        the first table with a matching rule decides (Gateway API: rules of a route with a more
 *        specific matching hostname take precedence over any path or header match)
 *
 * Invariant: only valid listeners (accepted, references resolved) appear; a route appears under a
 * listener only when attachment accepted it there (hostname intersection included).
 */
import type { RequestInfo } from '../request.js';
import type { CompiledRoute, RuleSelection } from '../routes/types.js';
import { buildRouteTable, selectInTable, type RouteTable } from '../routes/match.js';
import { allListeners, type GatewayEvaluation } from './evaluate.js';
import { hostnameMatches, hostnameSpecificity } from './hostname.js';
import type { BackendTlsDecision } from './backend-tls.js';
import type { TlsRouteCompiled, TlsRouteView } from './tls-route.js';

export interface HostTable {
  /** A listener or route hostname, exact or wildcard; '' for any host. */
  readonly hostname: string;
  readonly specificity: number;
  readonly routes: readonly CompiledRoute[];
  readonly table: RouteTable;
}

export interface ListenerView {
  readonly name: string;
  readonly port: number;
  readonly protocol: 'HTTP' | 'HTTPS' | 'TLS';
  /** The listener's hostname; '' for any. */
  readonly hostname: string;
  readonly specificity: number;
  /**
   * PEM pairs (certificate chain, key) to terminate TLS with (HTTPS), one per certificateRef; the
   * gateway proxy loads them all into the listener's context (one per key type is what TLS can choose from).
   */
  readonly certificates: readonly { readonly certPem: string; readonly keyPem: string }[];
  /** Most specific first. */
  readonly hosts: readonly HostTable[];
  /** TLS (Passthrough): the TLSRoutes attached (./tls-route.ts); empty for the other protocols. */
  readonly tlsRoutes: readonly TlsRouteView[];
}

export interface PortView {
  readonly port: number;
  /** Most specific hostname first. */
  readonly listeners: readonly ListenerView[];
}

export interface GatewayView {
  readonly namespace: string;
  readonly name: string;
  readonly ports: readonly PortView[];
  /** BackendTLSPolicy decisions per backendPortKey (./backend-tls.ts) for the Service ports the routes send to; absent: none. */
  readonly backendTls?: ReadonlyMap<string, BackendTlsDecision>;
  /** The Gateway's spec.tls.backend.clientCertificateRef, resolved: presented on backend TLS connections. */
  readonly backendClientCertificate?: { readonly certPem: string; readonly keyPem: string };
}

const hostOf = (h: string | undefined) => (h ?? '').toLowerCase();

/**
 * Builds the view from a Gateway's evaluation and its routes compiled by key (`Kind/ns/name`, as
 * evaluate.routeKey writes it); routes missing from `compiled` (they failed to compile) serve nothing.
 */
export function buildGatewayView(
  gateway: { readonly namespace: string; readonly name: string },
  evaluation: GatewayEvaluation,
  compiled: ReadonlyMap<string, CompiledRoute>,
  tlsCompiled: ReadonlyMap<string, TlsRouteCompiled & { readonly namespace: string; readonly name: string }> = new Map(),
): GatewayView {
  const byListener = new Map<string, Map<string, CompiledRoute[]>>();
  const tlsByListener = new Map<string, TlsRouteView[]>();
  for (const [key, parents] of evaluation.routes) {
    const tls = tlsCompiled.get(key);
    if (tls !== undefined) {
      for (const p of parents) {
        if (!p.accepted) continue;
        for (const a of p.listeners) {
          const list = tlsByListener.get(a.listener) ?? [];
          tlsByListener.set(a.listener, list);
          if (list.some((r) => r.namespace === tls.namespace && r.name === tls.name)) continue;
          list.push({
            namespace: tls.namespace, name: tls.name, hostnames: a.hostnames.any ? [''] : a.hostnames.hostnames,
            ...(a.origins !== undefined ? { origins: a.origins } : {}), backends: tls.backends,
          });
        }
      }
      continue;
    }
    const route = compiled.get(key);
    if (route === undefined) continue;
    for (const p of parents) {
      if (!p.accepted) continue;
      for (const a of p.listeners) {
        const hosts = byListener.get(a.listener) ?? new Map<string, CompiledRoute[]>();
        byListener.set(a.listener, hosts);
        const names = a.hostnames.any ? [''] : a.hostnames.hostnames;
        names.forEach((h, i) => {
          // One table per (hostname, the route's own hostname it comes from): see hostTables.
          const k = `${h}\n${a.origins?.[i] ?? h}`;
          const list = hosts.get(k) ?? [];
          if (!list.includes(route)) list.push(route);
          hosts.set(k, list);
        });
      }
    }
  }
  const ports: ListenerSpec[] = [];
  // The Gateway's listeners and its attached ListenerSets' (named by key: `<ns>/<set>/<name>`).
  for (const e of allListeners(evaluation)) {
    if (!e.valid) continue;
    const l = e.listener;
    ports.push({
      name: e.key, port: l.port, protocol: l.protocol as ListenerView['protocol'], hostname: hostOf(l.hostname),
      certificates: e.certificates.map((c) => ({ certPem: c.certPem, keyPem: c.keyPem })),
      hosts: hostTables(byListener.get(e.key)),
      tlsRoutes: tlsByListener.get(e.key) ?? [],
    });
  }
  const view = assembleGatewayView(gateway, ports);
  return evaluation.backendClientCertificate === undefined ? view : { ...view, backendClientCertificate: evaluation.backendClientCertificate };
}

/**
 * A listener's host tables from its routes keyed `hostname\norigin`: most specific hostname first and,
 * for one hostname, the routes whose own hostname is more specific first (an exact `abc.example.com`
 * before a `*.example.com` or no hostname narrowed to it by the listener: Gateway API
 * GatewayRouteHostnameIntersectionPrecedence). Tables of one hostname keep this order through
 * assembleGatewayView (a stable sort), so the proxy, rebuilding the view from the wire, tries them in
 * the order the controller sent.
 */
function hostTables(byKey: ReadonlyMap<string, CompiledRoute[]> | undefined): { hostname: string; routes: CompiledRoute[] }[] {
  return [...(byKey ?? new Map<string, CompiledRoute[]>())]
    .map(([k, routes]) => {
      const [hostname = '', origin = ''] = k.split('\n');
      return { hostname, origin, routes };
    })
    .sort((a, b) => specificityOf(b.hostname) - specificityOf(a.hostname) || (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0)
      || specificityOf(b.origin) - specificityOf(a.origin))
    .map(({ hostname, routes }) => ({ hostname, routes }));
}

/** A listener as the controller sends it (and as buildGatewayView collects it): no tables, any order. */
export interface ListenerSpec {
  readonly name: string;
  readonly port: number;
  readonly protocol: ListenerView['protocol'];
  readonly hostname: string;
  readonly certificates: ListenerView['certificates'];
  readonly hosts: readonly { readonly hostname: string; readonly routes: readonly CompiledRoute[] }[];
  /** TLS listeners: their TLSRoutes; absent: none. */
  readonly tlsRoutes?: readonly TlsRouteView[];
}

const specificityOf = (hostname: string) => hostnameSpecificity(hostname) + hostname.length / 1000;

/**
 * The view from its listeners: ports ascending, listeners and host tables most specific first, one
 * route table per host. The controller's view and the proxy's (rebuilt from the wire) go through here.
 */
export function assembleGatewayView(gateway: { readonly namespace: string; readonly name: string }, listeners: readonly ListenerSpec[]): GatewayView {
  const ports = new Map<number, ListenerView[]>();
  for (const l of listeners) {
    const hosts = l.hosts
      .map((h): HostTable => ({ hostname: h.hostname.toLowerCase(), specificity: specificityOf(h.hostname), routes: h.routes, table: buildRouteTable(h.routes) }))
      // Stable: tables of one hostname keep the given order (hostTables).
      .sort((a, b) => b.specificity - a.specificity || (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
    const hostname = l.hostname.toLowerCase();
    const view: ListenerView = {
      name: l.name, port: l.port, protocol: l.protocol, hostname, specificity: specificityOf(hostname), certificates: l.certificates, hosts,
      tlsRoutes: (l.tlsRoutes ?? []).map((r) => ({ ...r, hostnames: r.hostnames.map((h) => h.toLowerCase()), ...(r.origins !== undefined ? { origins: r.origins.map((h) => h.toLowerCase()) } : {}) })),
    };
    ports.set(l.port, [...(ports.get(l.port) ?? []), view]);
  }
  return {
    namespace: gateway.namespace, name: gateway.name,
    ports: [...ports].sort(([a], [b]) => a - b).map(([port, ls]) => ({ port, listeners: ls.sort((a, b) => b.specificity - a.specificity) })),
  };
}

const matchesHost = (pattern: string, host: string) => pattern === '' || hostnameMatches(pattern, host);

/** The listener of a port that serves `host` (the SNI, or the Host header without its port). */
export function selectListener(port: PortView, host: string, protocols?: ReadonlySet<ListenerView['protocol']>): ListenerView | undefined {
  const h = host.toLowerCase();
  return port.listeners.find((l) => (protocols === undefined || protocols.has(l.protocol)) && matchesHost(l.hostname, h));
}

/**
 * The listener of a port a TLS ClientHello selects: the most specific hostname matching the SNI (exact
 * before wildcard); without SNI, only a listener without hostname (none: the handshake is refused).
 * By default among HTTPS listeners (TLS terminated); the gateway first looks among HTTPS and TLS
 * (Passthrough) ones to tell which of the two the connection is for (ANY_TLS).
 */
export function selectTlsListener(port: PortView, sni: string | undefined, protocols: ReadonlySet<ListenerView['protocol']> = TLS_TERMINATED): ListenerView | undefined {
  return selectListener(port, sni ?? '', protocols);
}

const TLS_TERMINATED: ReadonlySet<ListenerView['protocol']> = new Set(['HTTPS']);
export const ANY_TLS: ReadonlySet<ListenerView['protocol']> = new Set(['HTTPS', 'TLS']);

/** The rule a request selects on a listener: the most specific hostname (of those matching req.host) whose table has a match. */
export function selectGatewayRule(listener: ListenerView, req: RequestInfo): RuleSelection | undefined {
  const h = req.host;
  for (const t of listener.hosts) {
    if (!matchesHost(t.hostname, h)) continue;
    const s = selectInTable(t.table, req);
    if (s !== undefined) return s;
  }
  return undefined;
}


/** Every route a view serves, once each. */
export function viewRoutes(view: GatewayView): CompiledRoute[] {
  const out = new Set<CompiledRoute>();
  for (const p of view.ports) for (const l of p.listeners) for (const h of l.hosts) for (const r of h.routes) out.add(r);
  return [...out];
}
