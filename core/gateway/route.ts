/**
 * The gateway proxy's per-request decision, pure: which listener of the port serves the Host, which
 * rule of its routes matches, then exactly the mesh's rule decision (core/outbound/route.ts decideRule:
 * filters including a FaultInjection's abort or delay, backend by weight, unresolved and not-permitted
 * backends). `weft gateway` calls it per request (proxy/policy/hook.ts, gateway.route).
 *
 *   port without listeners, no listener for the Host, no matching rule -> ROUTE_NOT_FOUND (404)
 *   backend in another namespace without a ReferenceGrant           -> NOT_PERMITTED (500)
 *
 * HTTPS (the connection's TLS SNI chose `tls.listener`, proxy/gateway/listener.ts): the Host must be
 * served by that same listener. Gateway API (Listener.hostname, "To detect misdirected requests"):
 * the most specific HTTPS listener of the port matching the Host is another one -> MISDIRECTED (421,
 * the client connects again with that Host as SNI); no HTTPS listener of the port matches the Host ->
 * ROUTE_NOT_FOUND (404). The listener the SNI chose has left the view since the handshake -> MISDIRECTED.
 */
import type { RequestInfo } from '../request.js';
import { decideRule, type AbortDecision, type ForwardDecision, type RedirectDecision, type PreflightDecision, type ErrorDecision, type OutboundReason, type RouteOptions } from '../outbound/route.js';
import { decideTlsBackend, selectTlsRoute, type TlsPassthroughDecision } from './tls-route.js';
import { ANY_TLS, selectGatewayRule, selectListener, selectTlsListener, type GatewayView, type ListenerView } from './view.js';

/** Why the gateway does not forward a request: the mesh's reasons, and MISDIRECTED (HTTPS, Host of another listener). */
export type GatewayReason = OutboundReason | 'MISDIRECTED';

export type GatewayErrorDecision = Omit<ErrorDecision, 'code'> & { readonly code: GatewayReason };

export type GatewayDecision = (ForwardDecision | AbortDecision | RedirectDecision | PreflightDecision | GatewayErrorDecision) & { readonly listener?: string };

const HTTP_LISTENERS: ReadonlySet<ListenerView['protocol']> = new Set(['HTTP']);
export const HTTPS_LISTENERS: ReadonlySet<ListenerView['protocol']> = new Set(['HTTPS']);

/** How the request's connection arrived: plaintext, or TLS terminated for the listener its SNI selected. */
export interface GatewayConnectionInfo {
  readonly tls?: { readonly listener: string };
}

/** Decides what happens to one HTTP request that arrived on `port` of the gateway. Never throws. */
export function routeGateway(
  view: GatewayView, port: number, req: RequestInfo, rand: () => number, options: RouteOptions = {}, conn: GatewayConnectionInfo = {},
): GatewayDecision {
  const gw = `Gateway ${view.namespace}/${view.name}`;
  const portView = view.ports.find((p) => p.port === port);
  if (portView === undefined) return { kind: 'error', code: 'ROUTE_NOT_FOUND', message: `${gw} has no valid listener on port ${port}` };
  let listener: ListenerView | undefined;
  if (conn.tls !== undefined) {
    const chosen = conn.tls.listener;
    const bySni = portView.listeners.find((l) => l.name === chosen && l.protocol === 'HTTPS');
    if (bySni === undefined) return { kind: 'error', code: 'MISDIRECTED', message: `listener ${chosen} of ${gw}, which this connection's TLS handshake selected, is no longer on port ${port}; connect again` };
    const byHost = selectListener(portView, req.host, HTTPS_LISTENERS);
    if (byHost === undefined) return { kind: 'error', code: 'ROUTE_NOT_FOUND', message: `no HTTPS listener of ${gw} on port ${port} serves host ${req.host}` };
    if (byHost !== bySni) {
      return { kind: 'error', code: 'MISDIRECTED', message: `host ${req.host} is served by listener ${byHost.name} of ${gw}, not by ${chosen} which the TLS SNI selected; connect again with SNI ${req.host}` };
    }
    listener = bySni;
  } else {
    listener = selectListener(portView, req.host, HTTP_LISTENERS);
    if (listener === undefined) return { kind: 'error', code: 'ROUTE_NOT_FOUND', message: `no HTTP listener of ${gw} on port ${port} serves host ${req.host}` };
  }
  const sel = selectGatewayRule(listener, req);
  if (sel === undefined) return { kind: 'error', code: 'ROUTE_NOT_FOUND', listener: listener.name, message: `no route rule of listener ${listener.name} of ${gw} matches the request` };
  // A redirect keeps the scheme the client used (https on an HTTPS listener) unless its filter sets one.
  const opts = conn.tls !== undefined && options.scheme === undefined ? { ...options, scheme: 'https' } : options;
  return { ...decideRule(sel, req, rand, { fallbackHost: req.host, listenerPort: port }, opts), listener: listener.name };
}

/**
 * Decides a TLS connection on `port` whose ClientHello names `sni` when its listener is a TLS
 * (Passthrough) one: the TLSRoute and backend (./tls-route.ts). Undefined when the SNI's listener is
 * not a TLS one (an HTTPS listener terminates it, or none serves it). Never throws.
 */
export function routeGatewayPassthrough(view: GatewayView, port: number, sni: string | undefined, rand: () => number): TlsPassthroughDecision | undefined {
  const portView = view.ports.find((p) => p.port === port);
  const listener = portView === undefined ? undefined : selectTlsListener(portView, sni, ANY_TLS);
  if (listener === undefined || listener.protocol !== 'TLS') return undefined;
  const route = selectTlsRoute(listener.tlsRoutes, sni);
  if (route === undefined) {
    return { kind: 'error', code: 'ROUTE_NOT_FOUND', listener: listener.name, message: `no TLSRoute of listener ${listener.name} of Gateway ${view.namespace}/${view.name} serves SNI ${sni ?? '(none)'}` };
  }
  return decideTlsBackend(listener.name, route, rand);
}
