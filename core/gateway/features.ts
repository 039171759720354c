/**
 * The Gateway API features (upstream's names, v1.7.0) Weft's gateway implements: what an accepted
 * GatewayClass of Weft's lists in status.supportedFeatures, and what the conformance run declares
 * (test/conformance/upstream-suite.ts). One list, so the two cannot disagree; docs/gateway.md says
 * what each covers, and the committed conformance report says how each fares.
 */

/** The route and object kinds served (each profile's core features). */
export const GATEWAY_CORE_FEATURES = ['Gateway', 'GRPCRoute', 'HTTPRoute', 'ReferenceGrant', 'TLSRoute'] as const;

/**
 * Extended features: HTTP listeners on any port and one per hostname, the mesh's HTTPRoute and GRPCRoute
 * matches, filters, timeouts and retries (the same rule decision, core/outbound/route.ts), CORS,
 * infrastructure labels and annotations, BackendTLSPolicy (CA, hostname, subjectAltNames) with the
 * Gateway's backend client certificate, TLS passthrough beside HTTPS on one port, ListenerSets, and
 * an IPAddress entry without a value in spec.addresses, a route's own hostname deciding precedence
 * among routes narrowed to one host, and parentRef ports (HTTPRouteDestinationPortMatching, as
 * HTTPRouteParentRefPort). Not declared: static addresses, frontend client certificates, address routability, listener
 * filters, the backend URL rewrite, TLSRoute termination.
 */
export const GATEWAY_EXTENDED_FEATURES = [
  'BackendTLSPolicy',
  'BackendTLSPolicySANValidation',
  'GRPCRouteNamedRouteRule',
  'GatewayAddressEmpty',
  'GatewayBackendClientCertificate',
  'GatewayHTTPSListenerDetectMisdirectedRequests',
  'GRPCRouteRequestHeaderModifier',
  'GatewayHTTPListenerIsolation',
  'GatewayInfrastructure',
  'GatewayPort8080',
  'GatewayRouteHostnameIntersectionPrecedence',
  'HTTPRoute303RedirectStatusCode',
  'HTTPRoute307RedirectStatusCode',
  'HTTPRoute308RedirectStatusCode',
  'HTTPRouteBackendProtocolH2C',
  'HTTPRouteBackendProtocolWebSocket',
  'HTTPRouteBackendRequestHeaderModification',
  'HTTPRouteBackendTimeout',
  'HTTPRouteCORS',
  'HTTPRouteDestinationPortMatching',
  'HTTPRouteHostRewrite',
  'HTTPRouteMethodMatching',
  'HTTPRouteNamedRouteRule',
  'HTTPRouteParentRefPort',
  'HTTPRoutePathRedirect',
  'HTTPRoutePathRewrite',
  'HTTPRoutePortRedirect',
  'HTTPRouteQueryParamMatching',
  'HTTPRouteRequestMirror',
  'HTTPRouteRequestMultipleMirrors',
  'HTTPRouteRequestPercentageMirror',
  'HTTPRouteRequestTimeout',
  'HTTPRouteResponseHeaderModification',
  'HTTPRouteRetryCodes',
  'HTTPRouteRetryConnectionError',
  'HTTPRouteSchemeRedirect',
  'ListenerSet',
  'TLSRouteModeMixed',
] as const;

/** status.supportedFeatures of an accepted Weft GatewayClass: every feature, sorted by name. */
export function gatewayClassSupportedFeatures(): { readonly name: string }[] {
  return [...GATEWAY_CORE_FEATURES, ...GATEWAY_EXTENDED_FEATURES].sort().map((name) => ({ name }));
}
