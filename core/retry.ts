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

// ---- Route retries (HTTPRoute rule `retry`, Gateway API v1.7 standard channel) ----------------------
//
// Model: an attempt ends in an outcome; a route's RetryPolicy says which outcomes are sent again, how
// many times and after which pause; a RetryBudget (core/retry-budget.ts) says whether the destination
// can take one more retry. `attempts` counts retries in addition to the first request (the CRD's
// wording), so `attempts: 2` sends a request at most three times.
//
// Retryable outcomes: a status code the route lists; a connection error (no connection could be made,
// or it was reset before any response header: HTTPRouteRetryConnectionError); an attempt that hit
// `timeouts.backendRequest` (the CRD: the next attempt is scheduled); a server proxy's answer that it
// could not reach its app. A response that started is never replaced.

/** The route's retry rule as compiled: `attempts` retries after the first request, `codes`, `backoffMs`. */
export interface RetryPolicy {
  /** Retries in addition to the first attempt; 0 disables retries. */
  readonly attempts: number;
  /** HTTP status codes (400-599) whose responses are retried. */
  readonly codes: readonly number[];
  /** The base of the exponential backoff. */
  readonly backoffMs: number;
}

/** The CRD's default for `attempts`. */
export const DEFAULT_RETRY_ATTEMPTS = 1;
/** Backoff base when a route sets none (the CRD leaves it to the implementation; Envoy's default too). */
export const DEFAULT_BACKOFF_MS = 25;
/**
 * The longest pause between two attempts, unless the route's base is longer (the CRD: the cap SHOULD
 * NOT be less than the base). One second keeps three retries of a 25 ms base far below it; a route that
 * wants longer pauses says so with its base.
 */
export const BACKOFF_CAP_MS = 1000;
/**
 * Request bodies up to this many bytes are kept so an attempt can be sent again; a larger (or streamed)
 * body is never retried, and the retry it would have had is counted (weft_proxy_retries_skipped_total,
 * reason `body_too_large`). The proxy's `maxRetryBodyBytes` limit has this default (docs/proxy.md).
 */
export const RETRY_BODY_LIMIT_BYTES = 64 * 1024;

export type AttemptOutcome =
  | { readonly kind: 'status'; readonly status: number }
  /** No connection, or it failed or was reset before any response header. */
  | { readonly kind: 'connection' }
  /** The attempt hit `timeouts.backendRequest`. */
  | { readonly kind: 'attempt-timeout' }
  /** The server proxy answered that it could not reach its app (`weft-proxy-error: app-unreachable`). */
  | { readonly kind: 'peer-unreachable' };

/** Whether the policy retries this outcome at all (before counting attempts, body and budget). */
export function isRetryableOutcome(policy: RetryPolicy, outcome: AttemptOutcome): boolean {
  if (policy.attempts === 0) return false;
  return outcome.kind === 'status' ? policy.codes.includes(outcome.status) : true;
}

/**
 * The pause before retry number `retry` (1 for the first retry): an exponential curve from the base,
 * capped, with "equal jitter": half of it fixed, half drawn from `rand()` in [0, 1). The fixed half
 * keeps a backoff from collapsing to nothing; the drawn half spreads clients apart.
 */
export function backoffDelayMs(backoffMs: number, retry: number, rand: () => number): number {
  const cap = Math.max(backoffMs, BACKOFF_CAP_MS);
  const exp = Math.min(cap, backoffMs * 2 ** Math.max(0, Math.min(retry - 1, 30)));
  const r = rand();
  const u = r >= 0 && r < 1 ? r : 0;
  return Math.round(exp / 2 + u * (exp / 2));
}

export type RetryVerdict =
  | { readonly kind: 'retry'; readonly delayMs: number }
  /** Not retried: the outcome is not retryable, or the attempts are used. */
  | { readonly kind: 'no'; readonly why: 'not-retryable' | 'attempts' }
  /** Would be retried, but the body was not kept (larger than the bound or streamed). */
  | { readonly kind: 'no'; readonly why: 'body' };

export interface RetryInput {
  readonly policy: RetryPolicy;
  readonly outcome: AttemptOutcome;
  /** Retries already made for this request. */
  readonly retries: number;
  readonly bodyReplayable: boolean;
  readonly rand: () => number;
}

/**
 * Whether to send a request once more, and after which pause. The budget is asked last (by the caller),
 * only for a request this says yes to, so a denied retry is one that would have been made. The time
 * left before `timeouts.request` is not a reason to give up: a retry whose backoff runs past it is
 * still scheduled and the request timeout then answers 504 (what upstream's
 * HTTPRouteRetryWithRequestTimeout asks, and Envoy does), rather than the error the route retries.
 */
export function decideRetry(i: RetryInput): RetryVerdict {
  if (!isRetryableOutcome(i.policy, i.outcome)) return { kind: 'no', why: 'not-retryable' };
  if (i.retries >= i.policy.attempts) return { kind: 'no', why: 'attempts' };
  if (!i.bodyReplayable) return { kind: 'no', why: 'body' };
  return { kind: 'retry', delayMs: backoffDelayMs(i.policy.backoffMs, i.retries + 1, i.rand) };
}
