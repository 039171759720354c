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
import type { GatewayEvaluation } from './evaluate.js';
import { hostnameMatches, hostnameSpecificity } from './hostname.js';

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
  /** PEM pairs to terminate TLS with (HTTPS); the first whose certificate names the SNI is used. */
  readonly certificates: readonly { readonly certPem: string; readonly keyPem: string }[];
  /** Most specific first. */
  readonly hosts: readonly HostTable[];
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
): GatewayView {
  const byListener = new Map<string, Map<string, CompiledRoute[]>>();
  for (const [key, parents] of evaluation.routes) {
    const route = compiled.get(key);
    if (route === undefined) continue;
    for (const p of parents) {
      if (!p.accepted) continue;
      for (const a of p.listeners) {
        const hosts = byListener.get(a.listener) ?? new Map<string, CompiledRoute[]>();
        byListener.set(a.listener, hosts);
        for (const h of a.hostnames.any ? [''] : a.hostnames.hostnames) {
          const list = hosts.get(h) ?? [];
          if (!list.includes(route)) list.push(route);
          hosts.set(h, list);
        }
      }
    }
  }
  const ports: ListenerSpec[] = [];
  for (const e of evaluation.listeners) {
    if (!e.valid) continue;
    const l = e.listener;
    ports.push({
      name: l.name, port: l.port, protocol: l.protocol as ListenerView['protocol'], hostname: hostOf(l.hostname),
      certificates: e.certificates.map((c) => ({ certPem: c.certPem, keyPem: c.keyPem })),
      hosts: [...(byListener.get(l.name) ?? new Map<string, CompiledRoute[]>())].map(([hostname, routes]) => ({ hostname, routes })),
    });
  }
  return assembleGatewayView(gateway, ports);
}

/** A listener as the controller sends it (and as buildGatewayView collects it): no tables, any order. */
export interface ListenerSpec {
  readonly name: string;
  readonly port: number;
  readonly protocol: ListenerView['protocol'];
  readonly hostname: string;
  readonly certificates: ListenerView['certificates'];
  readonly hosts: readonly { readonly hostname: string; readonly routes: readonly CompiledRoute[] }[];
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
      .sort((a, b) => b.specificity - a.specificity || (a.hostname < b.hostname ? -1 : 1));
    const hostname = l.hostname.toLowerCase();
    const view: ListenerView = { name: l.name, port: l.port, protocol: l.protocol, hostname, specificity: specificityOf(hostname), certificates: l.certificates, hosts };
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

