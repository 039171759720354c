/**
 * The proxy's typed errors and the ONE table turning each into what a client sees: an HTTP status, a
 * gRPC status and the value of the `weft-proxy-error` response header. Servers (outbound, inbound)
 * never pick a status themselves; they raise or return a ProxyError and call `errorResponse`.
 *
 * Codes are stable: tests, metrics and the client proxy's retry rule match on them, never on text. The
 * `header` value is also the `error` label of the per-route metrics (docs/metrics.md) and is listed in
 * docs/errors.md; the CLI reads it there.
 */

export type ProxyErrorCode =
  | 'NO_ENDPOINTS' // the Service port has no ready endpoint
  | 'CONNECT_FAILED' // no connection to the peer proxy (or plaintext endpoint) could be made
  | 'PEER_IDENTITY' // the peer's certificate is not the identity discovery announced
  | 'APP_UNREACHABLE' // inbound: the local app refused or dropped the connection before answering
  | 'UPSTREAM_RESET' // the upstream closed or reset the exchange after it began
  | 'UPSTREAM_TIMEOUT' // the upstream did not answer in time
  | 'ROUTE_NOT_FOUND' // routes are attached but none matches
  | 'BACKEND_UNRESOLVED' // the chosen backendRef does not resolve (BackendNotFound, InvalidKind) or no backend has weight
  | 'NOT_PERMITTED' // the chosen backendRef is in another namespace without a ReferenceGrant (RefNotPermitted)
  | 'UNSUPPORTED' // the selected rule (or the policy) uses something this proxy does not implement: fail closed
  | 'FORBIDDEN' // the inbound policy denied the request
  | 'BAD_REQUEST' // malformed or ambiguous framing
  | 'HEADERS_TOO_LARGE'
  | 'NOT_READY' // no certificate, policy or discovery yet
  | 'POLICY_FAILED' // the policy hook threw: fail closed
  | 'LOOP' // the destination is one of this proxy's own listeners: refused, it would come straight back
  | 'INTERNAL';

export interface ErrorMapping {
  readonly http: number;
  /** gRPC status code (grpc-status). */
  readonly grpc: number;
  /** The `weft-proxy-error` value: a lower-case token, stable across versions. */
  readonly header: string;
}

/** gRPC status codes used below (grpc/grpc doc/statuscodes.md). */
const GRPC = { INTERNAL: 13, UNAVAILABLE: 14, DEADLINE_EXCEEDED: 4, UNIMPLEMENTED: 12, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8 } as const;

export const ERROR_TABLE: Readonly<Record<ProxyErrorCode, ErrorMapping>> = Object.freeze({
  NO_ENDPOINTS: { http: 503, grpc: GRPC.UNAVAILABLE, header: 'no-endpoints' },
  CONNECT_FAILED: { http: 502, grpc: GRPC.UNAVAILABLE, header: 'connect-failed' },
  PEER_IDENTITY: { http: 502, grpc: GRPC.UNAVAILABLE, header: 'peer-identity' },
  APP_UNREACHABLE: { http: 502, grpc: GRPC.UNAVAILABLE, header: 'app-unreachable' },
  UPSTREAM_RESET: { http: 502, grpc: GRPC.UNAVAILABLE, header: 'upstream-reset' },
  UPSTREAM_TIMEOUT: { http: 504, grpc: GRPC.DEADLINE_EXCEEDED, header: 'timeout' },
  ROUTE_NOT_FOUND: { http: 404, grpc: GRPC.UNIMPLEMENTED, header: 'no-route' },
  BACKEND_UNRESOLVED: { http: 500, grpc: GRPC.INTERNAL, header: 'backend-unresolved' },
  NOT_PERMITTED: { http: 500, grpc: GRPC.INTERNAL, header: 'not-permitted' },
  UNSUPPORTED: { http: 500, grpc: GRPC.INTERNAL, header: 'unsupported' },
  FORBIDDEN: { http: 403, grpc: GRPC.PERMISSION_DENIED, header: 'forbidden' },
  BAD_REQUEST: { http: 400, grpc: GRPC.INTERNAL, header: 'bad-request' },
  HEADERS_TOO_LARGE: { http: 431, grpc: GRPC.RESOURCE_EXHAUSTED, header: 'headers-too-large' },
  NOT_READY: { http: 503, grpc: GRPC.UNAVAILABLE, header: 'not-ready' },
  POLICY_FAILED: { http: 500, grpc: GRPC.INTERNAL, header: 'policy-failed' },
  LOOP: { http: 508, grpc: GRPC.INTERNAL, header: 'loop' },
  INTERNAL: { http: 500, grpc: GRPC.INTERNAL, header: 'internal' },
});

/** The header value the client proxy retries on: the server proxy could not hand the request to its app. */
export const RETRYABLE_PEER_ERROR = ERROR_TABLE.APP_UNREACHABLE.header;

export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  constructor(code: ProxyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyError';
    this.code = code;
  }
}

export function proxyErrorOf(err: unknown, fallback: ProxyErrorCode = 'INTERNAL'): ProxyError {
  if (err instanceof ProxyError) return err;
  return new ProxyError(fallback, err instanceof Error ? err.message : String(err), { cause: err });
}

/** Error codes of a failed TCP/TLS connection attempt (the request cannot have reached anyone). */
const CONNECT_ERRNOS: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT', 'EAI_AGAIN', 'ENOTFOUND',
]);

export function isConnectErrno(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECT_ERRNOS.has(code);
}
