/**
 * One HTTP/1.1 request forwarded upstream through an undici dispatcher, written straight into a
 * ResponseSink: node's ServerResponse, or an HTTP/2 stream when a gateway translates (no intermediate
 * streams: the response bytes go from undici's parser to `res.write`).
 *
 * Retry rule (design.md 6): an attempt is re-sent to another endpoint only when it provably never
 * reached the app:
 *   - undici failed it before assigning it to a connection (`onRequestStart` never ran): a connect
 *     failure, a TLS handshake failure or a wrong peer identity;
 *   - the server proxy answered 502 with `weft-proxy-error: app-unreachable`.
 * and only when the body can be replayed (none, or buffered: at most maxRetryBodyBytes).
 * Besides, an idempotent request whose keep-alive connection was closed under it before any response
 * header is sent once more on a fresh connection (core/retry.ts, RFC 9110 9.2.2).
 *
 * A route with a retry policy (HTTPRoute `retry`) replaces the first rule: core/retry.ts decideRetry
 * says which outcomes are sent again (listed status codes, connection errors, an attempt that hit
 * `timeouts.backendRequest`, a peer's app-unreachable), after which backoff; the destination's retry
 * budget has the last word. A retry prefers an endpoint not tried yet and takes a tried one when no
 * other is ready. Deadlines: `timeoutMs` (`timeouts.request`) runs from the start and bounds every
 * attempt and backoff; `attemptTimeoutMs` (`timeouts.backendRequest`) restarts with each attempt.
 * A retryable response is read to its end and dropped, so its connection stays in the pool.
 */
import { subscribe } from 'node:diagnostics_channel';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { HEADER_PROXY_ERROR } from '../core/contract.js';
import { decideRetry, retryOnClosedConnection } from '../core/retry.js';
import type { AttemptOutcome, RetryPolicy } from '../core/retry.js';
import type { RetryBudget } from '../core/retry-budget.js';
import type { EndpointState } from './balancer.js';
import { ERROR_TABLE, RETRYABLE_PEER_ERROR } from '../core/reasons.js';
import type { RetrySkip } from './metrics.js';
import { connectReason, ProxyError } from './errors.js';
import type { Reason } from '../core/reasons.js';
import { applyResponseHeaderOps, forwardResponseHeaders } from './headers.js';
import type { DirectionStats } from './metrics.js';
import type { ExchangeObserver, HeaderOps } from './policy-hook.js';
import { writeHttp1Error } from './respond.js';
import type { ResponseSink } from './respond.js';

export interface Upstream {
  readonly dispatcher: Dispatcher;
  readonly state: EndpointState | undefined;
  /** A dispatcher with one new connection to the same endpoint, closed once the request is on it. */
  readonly fresh?: () => Dispatcher;
}

export interface ExchangeOptions {
  readonly method: string;
  readonly path: string;
  readonly headers: string[];
  /** A buffered body (sent again on a retry), the request stream itself, or none. */
  readonly body: Buffer | Readable | null;
  /** Picks the next upstream, never one already tried; undefined when none is left. */
  readonly pick: (tried: ReadonlySet<EndpointState> | undefined) => Upstream | undefined;
  /** The error reported when no connection could be made. */
  readonly connectError: Reason;
  /** The error reported when no endpoint was picked at all; default NO_ENDPOINTS. */
  readonly noEndpoints?: Reason | undefined;
  /** Whether a peer proxy's `app-unreachable` answer is retried (outbound to meshed endpoints). */
  readonly retryPeerErrors: boolean;
  readonly maxAttempts: number;
  /** Bounds the whole exchange (`timeouts.request`): every attempt and backoff. */
  readonly timeoutMs: number | undefined;
  /** Bounds each attempt (`timeouts.backendRequest`). */
  readonly attemptTimeoutMs?: number | undefined;
  /** The route's retry policy and the destination's budget. */
  readonly retry?: RouteRetry | undefined;
  readonly stats: DirectionStats;
  /** True while the proxy drains: the response then closes its connection. */
  readonly draining: () => boolean;
  /** The route's ResponseHeaderModifier operations, applied to the upstream's response headers. */
  readonly responseHeaders?: readonly HeaderOps[] | undefined;
  /** Told the outcome once the exchange is over (per-route metrics). */
  readonly observe?: ExchangeObserver | undefined;
}

/** A route's retry policy with the budget of the destination it sends to. */
export interface RouteRetry {
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget | undefined;
  /** The jitter source (tests pass a fixed one). */
  readonly rand?: () => number;
}

type Controller = Dispatcher.DispatchController;

/**
 * A client's `content-length: 0` reaches the upstream on every method (security case 14).
 *
 * undici takes content-length out of the header list (lib/core/request.js processHeader keeps it as
 * `request.contentLength`) and writes it back for an empty body only when the method expects a
 * payload (lib/dispatcher/client-h1.js writeH1: PUT, POST, PATCH, QUERY, PROPFIND, PROPPATCH); for
 * GET, HEAD, DELETE, OPTIONS, ... a 0 is dropped. No dispatch option keeps it, an empty Buffer or
 * string body is turned into "no body", and `request.addHeader` goes through the same processHeader.
 *
 * What is left is undici's `undici:request:create` diagnostics channel, documented as the place to
 * add headers to a request before it is sent: there, a request that was given an explicit
 * content-length of 0, has no body and a method undici will not write it for gets the header back
 * in its header list, which writeH1 copies verbatim into the request head (it then frames the
 * request as bodyless, as before: keep-alive and pooling are unchanged). Methods undici writes it
 * for are left alone, so the upstream sees exactly one `content-length: 0`. A request that had no
 * content-length gets none. The integration test (test/integration/http1-differential.test.ts)
 * checks every method on both listeners, so an undici upgrade that changes this path fails there.
 *
 * The channel is process-wide; the `instanceof` keeps this to requests of the undici copy the proxy
 * dispatches through (not node's bundled one), and in the proxy every such request is a forwarded one.
 */
const UndiciRequest = createRequire(import.meta.url)('undici/lib/core/request.js') as abstract new (...args: never[]) => object;
/** The methods undici's writeH1 sends `content-length: 0` for by itself (`expectsPayload`). */
const UNDICI_WRITES_CL0: ReadonlySet<string> = new Set(['PUT', 'POST', 'PATCH', 'QUERY', 'PROPFIND', 'PROPPATCH']);

interface UndiciRequestFields {
  readonly method: string;
  readonly body: unknown;
  readonly contentLength: number | null;
  readonly headers: string[];
}

function keepEmptyContentLength(message: unknown): void {
  const r = (message as { request?: unknown }).request;
  if (!(r instanceof UndiciRequest)) return;
  const req = r as UndiciRequestFields;
  if (req.contentLength === 0 && req.body === null && !UNDICI_WRITES_CL0.has(req.method)) req.headers.push('content-length', '0');
}

subscribe('undici:request:create', keepEmptyContentLength);

export class Http1Exchange implements Dispatcher.DispatchHandler {
  private controller: Controller | null = null;
  private started = false;
  private discard = false;
  private attempts = 0;
  private tried: Set<EndpointState> | undefined;
  private current: Upstream | undefined;
  private readonly t0 = performance.now();
  private status = 0;
  private finished = false;
  private timer: NodeJS.Timeout | undefined;
  private downstreamGone = false;
  private lastConnectError: Reason | undefined;
  private staleRetries = 0;
  /** Retries made under the route's policy. */
  private routeRetries = 0;
  private attemptT0 = this.t0;
  private attemptTimer: NodeJS.Timeout | undefined;
  private attemptExpired = false;
  private backoffTimer: NodeJS.Timeout | undefined;
  /** The pause before the retry decideRetry allowed. */
  private nextDelayMs = 0;
  /** The status of a response being dropped for a retry. */
  private discardStatus = 0;

  constructor(private readonly res: ResponseSink, private readonly o: ExchangeOptions) {
    res.once('close', () => {
      if (this.finished) return;
      this.downstreamGone = true;
      this.controller?.abort(new ProxyError('UPSTREAM_RESET', 'the client went away'));
    });
    if (o.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.fail('UPSTREAM_TIMEOUT'), o.timeoutMs);
    }
  }

  private observed = false;
  /** Per-route resilience figures of this exchange (ExchangeResilience). */
  private retried = 0;
  private skipped: RetrySkip | undefined;
  private ejected = 0;
  private peerLimited: 'rate' | 'concurrency' | undefined;
  private report(status: number, error: Reason | undefined): void {
    if (this.observed || this.o.observe === undefined) return;
    this.observed = true;
    const resilience = this.retried > 0 || this.skipped !== undefined || this.ejected > 0 || this.peerLimited !== undefined
      ? { retries: this.retried, retrySkipped: this.skipped, ejections: this.ejected, peerLimited: this.peerLimited }
      : undefined;
    this.o.observe({ status, grpcStatus: undefined, error, durationMs: performance.now() - this.t0, resilience });
  }

  start(): void {
    this.dispatchTo(this.o.pick(this.tried));
  }

  private dispatchTo(up: Upstream | undefined): void {
    if (up === undefined) {
      this.fail(this.attempts === 0 ? this.o.noEndpoints ?? 'NO_ENDPOINTS' : this.lastConnectError ?? this.o.connectError);
      return;
    }
    this.attempts++;
    this.current = up;
    this.started = false;
    this.discard = false;
    this.controller = null;
    this.attemptExpired = false;
    this.attemptT0 = performance.now();
    if (up.state !== undefined) up.state.inFlight++;
    if (this.o.attemptTimeoutMs !== undefined) {
      if (this.attemptTimer !== undefined) clearTimeout(this.attemptTimer);
      this.attemptTimer = setTimeout(() => {
        this.attemptTimer = undefined;
        this.attemptExpired = true;
        this.controller?.abort(new ProxyError('UPSTREAM_TIMEOUT', 'the attempt timed out'));
      }, this.o.attemptTimeoutMs);
    }
    up.dispatcher.dispatch({
      path: this.o.path,
      method: this.o.method as Dispatcher.HttpMethod,
      headers: this.o.headers,
      body: this.o.body,
      idempotent: false,
      reset: false,
    } as unknown as Dispatcher.DispatchOptions, this);
  }

  private canRetry(): boolean {
    return !this.downstreamGone && this.attempts < this.o.maxAttempts && !(this.o.body !== null && !Buffer.isBuffer(this.o.body));
  }

  private replayable(): boolean {
    return this.o.body === null || Buffer.isBuffer(this.o.body);
  }

  /**
   * Whether the route's policy sends the request again after `outcome` (core decides; the budget is
   * asked last). Skipped retries are counted by why: a body not kept, a budget spent.
   */
  private wantRetry(outcome: AttemptOutcome): boolean {
    const r = this.o.retry;
    if (r === undefined || this.downstreamGone || this.finished) return false;
    const now = performance.now();
    const v = decideRetry({
      policy: r.policy, outcome, retries: this.routeRetries, bodyReplayable: this.replayable(), rand: r.rand ?? Math.random,
    });
    if (v.kind === 'no') {
      if (v.why === 'body') {
        this.o.stats.retrySkipped('body_too_large');
        this.skipped = 'body_too_large';
      }
      return false;
    }
    if (r.budget !== undefined && !r.budget.tryRetry(now)) {
      this.o.stats.retrySkipped('budget_exhausted');
      this.skipped = 'budget_exhausted';
      return false;
    }
    this.nextDelayMs = v.delayMs;
    return true;
  }

  /** Sends the request again after the backoff wantRetry chose, to an endpoint not tried when one is ready. */
  private retryAfterBackoff(): void {
    this.clearAttemptTimer();
    this.routeRetries++;
    this.o.stats.retries++;
    this.retried++;
    const st = this.current?.state;
    if (st !== undefined) (this.tried ??= new Set()).add(st);
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.finished || this.downstreamGone) return;
      this.dispatchTo(this.o.pick(this.tried) ?? this.o.pick(undefined));
    }, this.nextDelayMs);
  }

  private clearAttemptTimer(): void {
    if (this.attemptTimer !== undefined) clearTimeout(this.attemptTimer);
    this.attemptTimer = undefined;
  }

  private retry(): void {
    const st = this.current?.state;
    if (st !== undefined) (this.tried ??= new Set()).add(st);
    this.o.stats.retries++;
    this.retried++;
    this.start();
  }

  /**
   * Sends the request once more after its connection was closed under it (core/retry.ts), preferring
   * another endpoint; the same one is fine (the closed connection left its pool).
   */
  private retryClosedConnection(): void {
    this.staleRetries++;
    this.o.stats.retries++;
    this.retried++;
    const st = this.current?.state;
    const others = st === undefined ? this.tried : new Set([...(this.tried ?? []), st]);
    const up = this.o.pick(others) ?? this.o.pick(this.tried);
    if (up === undefined) {
      this.fail('UPSTREAM_RESET');
      return;
    }
    this.attempts--; // not one of maxAttempts: the request is sent again, not elsewhere for a failure
    if (up.fresh === undefined) {
      this.dispatchTo(up);
      return;
    }
    const once = up.fresh();
    this.dispatchTo({ dispatcher: once, state: up.state });
    void once.close().catch(() => undefined);
  }

  /** The end of an attempt: balancer load and latency, and circuit breaking (a 5xx is a failure). */
  private settle(ok: boolean, failed = !ok): void {
    const st = this.current?.state;
    if (st === undefined) return;
    st.inFlight--;
    if (ok) st.observe(performance.now() - this.attemptT0);
    else if (!this.started) st.fail();
    if (st.outcome(failed)) this.ejected++;
  }

  private fail(code: Reason): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.clearAttemptTimer();
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    if (code === 'UPSTREAM_TIMEOUT') this.controller?.abort(new ProxyError(code, 'timed out'));
    this.o.stats.error(code);
    if (this.downstreamGone) {
      this.report(0, code);
      return;
    }
    writeHttp1Error(this.res, code);
    this.o.stats.response(this.res.statusCode);
    this.report(this.res.statusCode, code);
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    this.started = true;
    if (this.finished || this.downstreamGone) controller.abort(new ProxyError('UPSTREAM_RESET', 'abandoned'));
    else if (this.attemptExpired) controller.abort(new ProxyError('UPSTREAM_TIMEOUT', 'the attempt timed out'));
  }

  onResponseStart(_controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>, statusMessage?: string): void {
    if (this.finished) return;
    const peerUnreachable = statusCode === 502 && this.o.retryPeerErrors && headers[HEADER_PROXY_ERROR] === RETRYABLE_PEER_ERROR;
    this.peerLimited = peerLimitOf(headers[HEADER_PROXY_ERROR]);
    if (this.o.retry !== undefined) {
      if (this.wantRetry(peerUnreachable ? { kind: 'peer-unreachable' } : { kind: 'status', status: statusCode })) {
        this.discard = true;
        this.discardStatus = statusCode;
        if (peerUnreachable) this.lastConnectError = 'APP_UNREACHABLE';
        return;
      }
    } else if (peerUnreachable && this.canRetry()) {
      this.discard = true;
      this.discardStatus = statusCode;
      this.lastConnectError = 'APP_UNREACHABLE';
      return;
    }
    this.status = statusCode;
    const res = this.res;
    if (this.o.draining()) res.shouldKeepAlive = false;
    const out = forwardResponseHeaders(headers);
    if (this.o.responseHeaders !== undefined) applyResponseHeaderOps(out, this.o.responseHeaders);
    if (statusMessage !== undefined && statusMessage !== '') res.writeHead(statusCode, statusMessage, out);
    else res.writeHead(statusCode, out);
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.discard || this.finished) return;
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(_controller: Controller, trailers: Record<string, string | string[] | undefined>): void {
    if (this.discard) {
      this.settle(false, this.discardStatus >= 500);
      if (this.o.retry === undefined || this.lastConnectError === 'APP_UNREACHABLE') this.current?.state?.fail();
      if (this.finished) return;
      if (this.o.retry !== undefined) this.retryAfterBackoff();
      else this.retry();
      return;
    }
    this.settle(true, this.status >= 500);
    if (this.finished) return;
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.clearAttemptTimer();
    for (const _ in trailers) {
      this.res.addTrailers(trailers as Record<string, string>);
      break;
    }
    this.res.end();
    this.o.stats.response(this.status);
    this.report(this.status, undefined);
  }

  /**
   * A failed attempt under the route's policy: retried (true) when the attempt timed out or the
   * connection failed before any response header, and the policy, body and budget allow it.
   */
  private routeOutcome(err: Error, neverSent: boolean): boolean {
    if (this.discard) {
      // A retryable response failed while it was being dropped: the retry was already granted.
      this.retryAfterBackoff();
      return true;
    }
    if (this.status !== 0 || this.res.headersSent) return false;
    const timedOut = err instanceof ProxyError && err.code === 'UPSTREAM_TIMEOUT' && this.attemptExpired;
    if (err instanceof ProxyError && !timedOut) return false;
    // A keep-alive connection closed under an idempotent request is first sent again as before.
    if (!timedOut && !neverSent && retryOnClosedConnection({
      method: this.o.method, errorCode: (err as { code?: string }).code, responseStarted: false, replayable: this.replayable(), staleRetries: this.staleRetries,
    })) return false;
    if (!neverSent && !timedOut) this.lastConnectError = 'UPSTREAM_RESET';
    if (timedOut) this.lastConnectError = 'UPSTREAM_TIMEOUT';
    if (!this.wantRetry(timedOut ? { kind: 'attempt-timeout' } : { kind: 'connection' })) {
      if (timedOut) {
        this.fail('UPSTREAM_TIMEOUT');
        return true;
      }
      return false;
    }
    this.retryAfterBackoff();
    return true;
  }

  onResponseError(_controller: Controller, err: Error): void {
    const neverSent = !this.started;
    this.settle(false);
    if (this.finished) return;
    this.clearAttemptTimer();
    if (neverSent) this.lastConnectError = connectReason((err as { code?: string }).code) ?? this.o.connectError;
    if (this.o.retry !== undefined && this.routeOutcome(err, neverSent)) return;
    if (this.o.retry === undefined && neverSent && this.canRetry() && !(err instanceof ProxyError)) {
      this.retry();
      return;
    }
    if (err instanceof ProxyError) {
      this.fail(err.code);
      return;
    }
    if (!neverSent && !this.downstreamGone && retryOnClosedConnection({
      method: this.o.method, errorCode: (err as { code?: string }).code, responseStarted: this.status !== 0 || this.discard || this.res.headersSent,
      replayable: this.o.body === null || Buffer.isBuffer(this.o.body), staleRetries: this.staleRetries,
    })) {
      this.retryClosedConnection();
      return;
    }
    if (this.res.headersSent) {
      this.finished = true;
      this.o.stats.error('UPSTREAM_RESET');
      this.res.destroy();
      this.report(this.status, 'UPSTREAM_RESET');
      return;
    }
    this.fail(neverSent ? this.lastConnectError ?? this.o.connectError : 'UPSTREAM_RESET');
  }
}

/** Which inbound limit of the server proxy refused a request, from its `weft-proxy-error` value. */
export function peerLimitOf(v: string | readonly string[] | undefined): 'rate' | 'concurrency' | undefined {
  if (v === ERROR_TABLE.RATE_LIMITED.header) return 'rate';
  if (v === ERROR_TABLE.CONCURRENCY_LIMITED.header) return 'concurrency';
  return undefined;
}
