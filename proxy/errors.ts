/**
 * The proxy's typed errors. Their codes are core's Reasons (core/reasons.ts), whose one table turns
 * each into what a client sees: an HTTP status, a gRPC status and the `weft-proxy-error` value. The
 * listeners never pick a status themselves; the responders (proxy/respond.ts) read the table.
 */
import type { Reason } from '../core/reasons.js';

export class ProxyError extends Error {
  readonly code: Reason;
  constructor(code: Reason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProxyError';
    this.code = code;
  }
}

export function proxyErrorOf(err: unknown, fallback: Reason = 'INTERNAL'): ProxyError {
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

/**
 * The Reason of a connection attempt that failed with `code` for a reason more precise than
 * CONNECT_FAILED: the peer proxy's identity, or a backend's certificate under a BackendTLSPolicy.
 */
export function connectReason(code: string | undefined): Reason | undefined {
  if (code === 'ERR_WEFT_PEER_IDENTITY') return 'PEER_IDENTITY';
  if (code === 'ERR_WEFT_BACKEND_TLS') return 'BACKEND_TLS';
  return undefined;
}
