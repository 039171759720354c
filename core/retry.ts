/**
 * Retry decisions that do not depend on a route's configuration.
 *
 * A keep-alive connection can be closed by its server (idle timeout, a drain on shutdown) at the
 * moment a request is written to it: the request then fails with the socket closed and no response
 * byte read, and whether the server saw it is unknown. RFC 9110 9.2.2 lets a client, and a proxy
 * (for idempotent methods only), send such a request again on a fresh connection; browsers and
 * HTTP client libraries do. The proxy does it once per request, for idempotent methods whose body it
 * can replay, when the failure is a closed or reset socket before any response header.
 */

/** RFC 9110 9.2.2: methods whose intended effect is the same however many times they are sent. */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT.has(method);
}

/** Error codes that mean the connection was closed or reset under the request (node and undici). */
const CLOSED_CONNECTION: ReadonlySet<string> = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

export interface AttemptFailure {
  readonly method: string;
  /** The error's `code` property, if any. */
  readonly errorCode: string | undefined;
  /** Whether any response header of this attempt was read. */
  readonly responseStarted: boolean;
  /** Whether the request body (if any) can be sent again. */
  readonly replayable: boolean;
  /** Retries of this kind already made for the request. */
  readonly staleRetries: number;
}

/** Whether a request that failed on a connection closed under it is sent once more on a new connection. */
export function retryOnClosedConnection(f: AttemptFailure): boolean {
  return f.staleRetries === 0 && !f.responseStarted && f.replayable && isIdempotentMethod(f.method)
    && f.errorCode !== undefined && CLOSED_CONNECTION.has(f.errorCode);
}
