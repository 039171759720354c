/**
 * The HTTP version a gateway sends a request to its backend in. A client picks its own version with
 * the gateway (ALPN on HTTPS, prior knowledge on HTTP); the backend's is a property of the backend,
 * which the Service port's appProtocol states (GEP-1911): `kubernetes.io/h2c` (or `h2c`, `http2`,
 * `grpc`) is HTTP/2 over cleartext, anything else HTTP/1.1. gRPC needs HTTP/2 end to end whatever the
 * port says. So an HTTP/2 request to an HTTP/1.1 backend is translated to HTTP/1.1 instead of failing
 * with 502 (upstream's HTTPRouteHTTPSListenerDetectMisdirectedRequests sends h2 only).
 *
 * The sidecar does not use this: there the application chose its protocol for its destination, and
 * the proxy keeps it.
 */

/** What the controller says of a backend port (core/outbound/policy.ts protocolHint, as the proxy receives it). */
export type BackendProtocolHint = 'detect' | 'http1' | 'http2' | 'opaque';

export type UpstreamHttpVersion = 'http1' | 'http2';

/** The version an HTTP/2 request (gRPC or not) reaches a backend in. */
export function upstreamVersionOfH2(grpc: boolean, hint: BackendProtocolHint | undefined): UpstreamHttpVersion {
  if (grpc || hint === 'http2') return 'http2';
  return 'http1';
}
