/**
 * What `weft gateway` serves today, in one place for every reader of the gateway decision: the
 * controller's status writer and views (policy-controller/status/gateway-writer.ts) and the CLI's
 * `weft routes|explain|stat gateway/NAME`, which re-run the same decision (core/gateway/status.ts)
 * and must narrow it the same way to show what the gateway serves.
 *
 *   protocols    listener protocols accepted; others are Accepted=False UnsupportedProtocol
 *   route kinds  route kinds a listener admits; others do not attach (NotAllowedByListeners)
 */

/** The listener protocols the gateway proxy serves (TLS in Passthrough mode only: evaluate.ts refuses Terminate). */
export const GATEWAY_SERVED_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTPS', 'TLS']);

/** The route kinds `weft gateway` serves (GRPCRoutes over HTTP/2: h2c with prior knowledge, or h2 on HTTPS). */
export const GATEWAY_SERVED_ROUTE_KINDS: ReadonlySet<string> = new Set(['HTTPRoute', 'GRPCRoute', 'TLSRoute']);
