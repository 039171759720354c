/**
 * The one vocabulary of why a request was not forwarded, and the ONE table turning each reason into
 * what a client sees: an HTTP status, a gRPC status and the value of the `weft-proxy-error` response
 * header. Core's decisions (routeOutbound, authorizeInbound) carry a Reason and never a status; the
 * proxy's responders and `weft explain` read the answer here, so they cannot disagree.
 *
 * Reasons are stable: tests, metrics and the client proxy's retry rule match on them, never on text.
 * The `header` value is also the `error` label of the per-route metrics (docs/metrics.md) and is listed
 * in docs/errors.md (a test checks the two agree).
 */

export type Reason =
  | 'NO_ENDPOINTS' // the Service port has no ready endpoint
  | 'DNS_FAILED' // an ExternalName Service's DNS name does not resolve (no address, or the lookup failed)
  | 'CONNECT_FAILED' // no connection to the peer proxy (or plaintext endpoint) could be made
  | 'PEER_IDENTITY' // the peer's certificate is not the identity discovery announced
  | 'BACKEND_TLS' // the gateway's TLS to a backend outside the mesh did not verify (BackendTLSPolicy: CA, hostname, SANs)
  | 'APP_UNREACHABLE' // inbound: the local app refused or dropped the connection before answering
  | 'UPSTREAM_RESET' // the upstream closed or reset the exchange after it began
  | 'UPSTREAM_TIMEOUT' // the upstream did not answer in time
  | 'ROUTE_NOT_FOUND' // routes are attached but none matches
  | 'MISDIRECTED' // gateway HTTPS: the Host belongs to another listener than the one the TLS SNI chose (421: connect again)
  | 'BACKEND_UNRESOLVED' // the chosen backendRef does not resolve (BackendNotFound, InvalidKind) or no backend has weight
  | 'NOT_PERMITTED' // the chosen backendRef is in another namespace without a ReferenceGrant (RefNotPermitted)
  | 'UNSUPPORTED' // the selected rule (or the policy) uses something this proxy does not implement: fail closed
  | 'FORBIDDEN' // the inbound policy denied the request
  | 'BAD_REQUEST' // malformed or ambiguous framing
  | 'HEADERS_TOO_LARGE'
  | 'NOT_READY' // no certificate, policy or discovery yet
  | 'POLICY_FAILED' // the policy hook threw: fail closed
  | 'LOOP' // the destination is one of this proxy's own listeners: refused, it would come straight back
  | 'RATE_LIMITED' // inbound: an InboundLimitPolicy's token bucket is empty (answered with Retry-After)
  | 'CONCURRENCY_LIMITED' // inbound: an InboundLimitPolicy's requests in flight are at their maximum
  | 'INTERNAL';

export interface Answer {
  readonly http: number;
  /** gRPC status code (grpc-status). */
  readonly grpc: number;
  /** The `weft-proxy-error` value: a lower-case token, stable across versions. */
  readonly header: string;
}

/** gRPC status codes used below (grpc/grpc doc/statuscodes.md). */
export const GRPC_STATUS = {
  DEADLINE_EXCEEDED: 4, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14,
} as const;

const G = GRPC_STATUS;

export const ERROR_TABLE: Readonly<Record<Reason, Answer>> = Object.freeze({
  NO_ENDPOINTS: { http: 503, grpc: G.UNAVAILABLE, header: 'no-endpoints' },
  DNS_FAILED: { http: 503, grpc: G.UNAVAILABLE, header: 'dns-failed' },
  CONNECT_FAILED: { http: 502, grpc: G.UNAVAILABLE, header: 'connect-failed' },
  PEER_IDENTITY: { http: 502, grpc: G.UNAVAILABLE, header: 'peer-identity' },
  BACKEND_TLS: { http: 502, grpc: G.UNAVAILABLE, header: 'backend-tls' },
  APP_UNREACHABLE: { http: 502, grpc: G.UNAVAILABLE, header: 'app-unreachable' },
  UPSTREAM_RESET: { http: 502, grpc: G.UNAVAILABLE, header: 'upstream-reset' },
  UPSTREAM_TIMEOUT: { http: 504, grpc: G.DEADLINE_EXCEEDED, header: 'timeout' },
  ROUTE_NOT_FOUND: { http: 404, grpc: G.UNIMPLEMENTED, header: 'no-route' },
  MISDIRECTED: { http: 421, grpc: G.UNAVAILABLE, header: 'misdirected' },
  BACKEND_UNRESOLVED: { http: 500, grpc: G.INTERNAL, header: 'backend-unresolved' },
  NOT_PERMITTED: { http: 500, grpc: G.INTERNAL, header: 'not-permitted' },
  UNSUPPORTED: { http: 500, grpc: G.INTERNAL, header: 'unsupported' },
  FORBIDDEN: { http: 403, grpc: G.PERMISSION_DENIED, header: 'forbidden' },
  BAD_REQUEST: { http: 400, grpc: G.INTERNAL, header: 'bad-request' },
  HEADERS_TOO_LARGE: { http: 431, grpc: G.RESOURCE_EXHAUSTED, header: 'headers-too-large' },
  NOT_READY: { http: 503, grpc: G.UNAVAILABLE, header: 'not-ready' },
  POLICY_FAILED: { http: 500, grpc: G.INTERNAL, header: 'policy-failed' },
  LOOP: { http: 508, grpc: G.INTERNAL, header: 'loop' },
  RATE_LIMITED: { http: 429, grpc: G.RESOURCE_EXHAUSTED, header: 'rate-limited' },
  CONCURRENCY_LIMITED: { http: 503, grpc: G.UNAVAILABLE, header: 'concurrency-limited' },
  INTERNAL: { http: 500, grpc: G.INTERNAL, header: 'internal' },
});

/** What a client is answered for `reason`. */
export function answerFor(reason: Reason): Answer {
  return ERROR_TABLE[reason];
}

/** The header value the client proxy retries on: the server proxy could not hand the request to its app. */
export const RETRYABLE_PEER_ERROR = ERROR_TABLE.APP_UNREACHABLE.header;

/** The HTTP status a decision is answered with when it names a reason (a denial, an error); else undefined. */
export function httpStatusOf(d: { readonly code?: Reason | undefined }): number | undefined {
  return d.code === undefined ? undefined : ERROR_TABLE[d.code].http;
}

/** The grpc-status a decision is answered with when it names a reason; else undefined. */
export function grpcStatusOf(d: { readonly code?: Reason | undefined }): number | undefined {
  return d.code === undefined ? undefined : ERROR_TABLE[d.code].grpc;
}
