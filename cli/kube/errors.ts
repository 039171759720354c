/**
 * One wording for every way a call to the API server fails, naming the server and the cause:
 *
 *   cannot reach the Kubernetes API server at https://10.0.0.1:6443: connection refused (ECONNREFUSED)
 *   the Kubernetes API server at https://10.0.0.1:6443 answered HTTP 403: pods is forbidden: ...
 *
 * A connection failure is never a "not found": only an HTTP 404 answer is.
 */
import { ApiException } from '@kubernetes/client-node';

const CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused: nothing listens at that address and port',
  ENOTFOUND: 'DNS: the host name does not resolve',
  EAI_AGAIN: 'DNS: the lookup failed (temporary failure)',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  EPIPE: 'the connection was closed',
  UND_ERR_SOCKET: 'the connection was closed',
};

interface ErrorLike { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown; name?: unknown }

/** The errors inside `err`: itself, its causes and the members of an AggregateError (happy eyeballs). */
function chain(err: unknown, depth = 0): ErrorLike[] {
  if (err === null || typeof err !== 'object' || depth > 5) return [];
  const e = err as ErrorLike;
  return [e, ...chain(e.cause, depth + 1), ...(Array.isArray(e.errors) ? e.errors.flatMap((x) => chain(x, depth + 1)) : [])];
}

/** Why a request did not get an answer: connection refused, DNS, TLS, timeout; undefined when it did. */
export function connectionCause(err: unknown): string | undefined {
  const all = chain(err);
  for (const e of all) {
    const code = typeof e.code === 'string' ? e.code : undefined;
    const message = typeof e.message === 'string' ? e.message : '';
    if (code === undefined) {
      if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer in time (${message})`;
      continue;
    }
    if (Object.hasOwn(CAUSES, code)) return `${CAUSES[code] ?? code} (${code})`;
    if (/CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|OSSL|HOSTNAME|ALTNAME|PURPOSE|UNTRUSTED|ISSUER|SIGNATURE|EXPIRED|NOT_YET_VALID|CHAIN|REVOKED/.test(code)) return `TLS: ${message} (${code})`;
  }
  const fetchFailed = all.some((e) => e.message === 'fetch failed' || (typeof e.name === 'string' && e.name === 'FetchError'));
  if (fetchFailed) {
    const inner = all.at(-1);
    return typeof inner?.message === 'string' ? inner.message : 'the request failed';
  }
  return undefined;
}

/** Thrown where the CLI itself calls the API server (cli/observe/cluster.ts) and gets no answer. */
export class KubeUnreachableError extends Error {
  readonly code = 'KUBE_UNREACHABLE';
  constructor(readonly server: string, readonly why: string) {
    super(`cannot reach the Kubernetes API server at ${server}: ${why}`);
  }
}

function statusMessage(body: unknown): string | undefined {
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown };
    return typeof status.message === 'string' ? status.message : undefined;
  } catch {
    return undefined;
  }
}

/** A one-line reason for a failed API call, naming `server`. */
export function describeKubeError(err: unknown, server: string): string {
  if (err instanceof KubeUnreachableError) return err.message;
  if (err instanceof ApiException) {
    const m = statusMessage(err.body);
    return `the Kubernetes API server at ${server} answered HTTP ${err.code}${m !== undefined ? `: ${m}` : ''}`;
  }
  const why = connectionCause(err);
  if (why !== undefined) return `cannot reach the Kubernetes API server at ${server}: ${why}`;
  return (err as Error).message;
}
