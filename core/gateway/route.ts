/**
 * The gateway proxy's per-request decision, pure: which listener of the port serves the Host, which
 * rule of its routes matches, then exactly the mesh's rule decision (core/outbound/route.ts decideRule:
 * filters including a FaultInjection's abort or delay, backend by weight, unresolved and not-permitted
 * backends). `weft gateway` calls it per request (proxy/policy/hook.ts, gateway.route).
 *
 *   port without listeners, no listener for the Host, no matching rule -> ROUTE_NOT_FOUND (404)
 *   backend in another namespace without a ReferenceGrant           -> NOT_PERMITTED (500)
 */
import type { RequestInfo } from '../request.js';
import { decideRule, type AbortDecision, type ForwardDecision, type RedirectDecision, type ErrorDecision, type RouteOptions } from '../outbound/route.js';
import { selectGatewayRule, selectListener, type GatewayView, type ListenerView } from './view.js';

export type GatewayDecision = (ForwardDecision | AbortDecision | RedirectDecision | ErrorDecision) & { readonly listener?: string };

const HTTP_LISTENERS: ReadonlySet<ListenerView['protocol']> = new Set(['HTTP']);

/** Decides what happens to one plaintext HTTP request that arrived on `port` of the gateway. Never throws. */
export function routeGateway(view: GatewayView, port: number, req: RequestInfo, rand: () => number, options: RouteOptions = {}): GatewayDecision {
  const gw = `Gateway ${view.namespace}/${view.name}`;
  const portView = view.ports.find((p) => p.port === port);
  if (portView === undefined) return { kind: 'error', code: 'ROUTE_NOT_FOUND', message: `${gw} has no valid listener on port ${port}` };
  const listener = selectListener(portView, req.host, HTTP_LISTENERS);
  if (listener === undefined) return { kind: 'error', code: 'ROUTE_NOT_FOUND', message: `no HTTP listener of ${gw} on port ${port} serves host ${req.host}` };
  const sel = selectGatewayRule(listener, req);
  if (sel === undefined) return { kind: 'error', code: 'ROUTE_NOT_FOUND', listener: listener.name, message: `no route rule of listener ${listener.name} of ${gw} matches the request` };
  return { ...decideRule(sel, req, rand, { fallbackHost: req.host, listenerPort: port }, options), listener: listener.name };
}
