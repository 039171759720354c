/**
 * One HTTP/2 stream (gRPC included) forwarded over a pooled upstream session: headers, DATA both ways
 * with backpressure, trailers (grpc-status) and resets.
 *
 * Retry rule: before any response header arrived, an attempt is re-sent elsewhere when the upstream
 * refused it (RST_STREAM REFUSED_STREAM, which nghttp2 also reports for streams above a GOAWAY's last
 * stream id), when the session failed before the stream was sent (connect, TLS, identity), or when the
 * server proxy answered `weft-proxy-error: app-unreachable`. The request body is forwarded as it comes
 * (a streaming call may wait for the server before sending more) and a copy is kept for replay while it
 * stays under maxRetryBodyBytes; past that the request is no longer retried.
 *
 * A route with a retry policy (HTTPRoute `retry`) replaces that rule as in proxy/http1-exchange.ts:
 * core/retry.ts decides (listed status codes, connection errors and refusals, an attempt that hit
 * `timeouts.backendRequest`, a peer's app-unreachable), the destination's budget has the last word,
 * the retry waits its backoff and prefers an endpoint not tried yet. A retryable response is dropped
 * by cancelling its stream. `timeoutMs` bounds the whole exchange, `attemptTimeoutMs` each attempt.
 */
import { constants as h2c } from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { HEADER_PROXY_ERROR } from '../core/contract.js';
import { decideRetry } from '../core/retry.js';
import type { AttemptOutcome } from '../core/retry.js';
import type { EndpointState } from './balancer.js';
import type { RouteRetry } from './http1-exchange.js';
import { ERROR_TABLE, RETRYABLE_PEER_ERROR } from '../core/reasons.js';
import { peerLimitOf } from './http1-exchange.js';
import type { RetrySkip } from './metrics.js';
import type { Reason } from '../core/reasons.js';
import { applyResponseHeaderOps, forwardH2Headers } from './headers.js';
import type { DirectionStats } from './metrics.js';
import type { ExchangeObserver, HeaderOps } from './policy-hook.js';
import { writeH2Error } from './respond.js';
import { connectReason } from './errors.js';

export interface H2Upstream {
  readonly session: ClientHttp2Session;
  readonly state: EndpointState | undefined;
}

export interface H2ExchangeOptions {
  readonly headers: Record<string, string | string[]>;
  readonly grpc: boolean;
  readonly pick: (tried: ReadonlySet<EndpointState> | undefined) => H2Upstream | undefined;
  readonly connectError: Reason;
  /** The error reported when no endpoint was picked at all; default NO_ENDPOINTS. */
  readonly noEndpoints?: Reason | undefined;
  readonly retryPeerErrors: boolean;
  readonly maxAttempts: number;
  readonly maxReplayBytes: number;
  readonly stats: DirectionStats;
  /** The route's request timeout: 504 (gRPC DEADLINE_EXCEEDED) when no answer came in time. */
  readonly timeoutMs?: number | undefined;
  /** Bounds each attempt (`timeouts.backendRequest`). */
  readonly attemptTimeoutMs?: number | undefined;
  /** The route's retry policy and the destination's budget. */
  readonly retry?: RouteRetry | undefined;
  /** The route's ResponseHeaderModifier operations. */
  readonly responseHeaders?: readonly HeaderOps[] | undefined;
  /** Told the outcome once the exchange is over (per-route metrics). */
  readonly observe?: ExchangeObserver | undefined;
}

const RESPONSE_DROP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

export function forwardH2Stream(down: ServerHttp2Stream, o: H2ExchangeOptions): void {
  const t0 = performance.now();
  let replay: Buffer[] | null = [];
  let replayBytes = 0;
  let downEnded = down.readableEnded;
  let up: ClientHttp2Stream | undefined;
  let current: H2Upstream | undefined;
  let tried: Set<EndpointState> | undefined;
  let attempts = 0;
  let responded = false;
  let done = false;
  let lastError: Reason = o.connectError;
  let status = 0;
  let grpcStatus: number | undefined;
  let observed = false;
  // Per-route resilience figures of this exchange (ExchangeResilience).
  let retried = 0;
  let skipped: RetrySkip | undefined;
  let ejected = 0;
  let peerLimited: 'rate' | 'concurrency' | undefined;
  const report = (error: Reason | undefined) => {
    if (observed || o.observe === undefined) return;
    observed = true;
    const resilience = retried > 0 || skipped !== undefined || ejected > 0 || peerLimited !== undefined
      ? { retries: retried, retrySkipped: skipped, ejections: ejected, peerLimited }
      : undefined;
    o.observe({ status, grpcStatus: o.grpc ? grpcStatus : undefined, error, durationMs: performance.now() - t0, resilience });
  };
  const grpcOf = (h: IncomingHttpHeaders | undefined) => {
    const v = h?.['grpc-status'];
    if (typeof v === 'string' && v !== '') grpcStatus = Number(v);
  };

  /** The end of an attempt: balancer load and latency, and circuit breaking (a 5xx is a failure). */
  const finish = (ok: boolean, failed = !ok) => {
    const st = current?.state;
    if (st !== undefined) {
      st.inFlight--;
      if (ok) st.observe(performance.now() - t0);
      if (st.outcome(failed)) ejected++;
    }
  };

  const fail = (code: Reason) => {
    if (done) return;
    done = true;
    clearTimers();
    o.stats.error(code);
    const m = ERROR_TABLE[code];
    status = down.closed ? 0 : o.grpc ? 200 : m.http;
    if (o.grpc) grpcStatus = m.grpc;
    writeH2Error(down, code, o.grpc);
    // A stream the client already closed got no answer: nothing to count as a response.
    if (status !== 0) o.stats.response(status);
    report(code);
  };

  const canRetry = () => replay !== null && attempts < o.maxAttempts && !down.closed;

  // Route retries (o.retry): the count, the timers, and the pause decideRetry chose.
  let routeRetries = 0;
  let attemptTimer: NodeJS.Timeout | undefined;
  let backoffTimer: NodeJS.Timeout | undefined;
  let attemptExpired = false;
  let nextDelayMs = 0;
  const clearTimers = () => {
    if (attemptTimer !== undefined) clearTimeout(attemptTimer);
    if (backoffTimer !== undefined) clearTimeout(backoffTimer);
    attemptTimer = backoffTimer = undefined;
  };
  const wantRetry = (outcome: AttemptOutcome): boolean => {
    const r = o.retry;
    if (r === undefined || done || down.closed) return false;
    const now = performance.now();
    const v = decideRetry({
      policy: r.policy, outcome, retries: routeRetries, bodyReplayable: replay !== null, rand: r.rand ?? Math.random,
    });
    if (v.kind === 'no') {
      if (v.why === 'body') {
        o.stats.retrySkipped('body_too_large');
        skipped = 'body_too_large';
      }
      return false;
    }
    if (r.budget !== undefined && !r.budget.tryRetry(now)) {
      o.stats.retrySkipped('budget_exhausted');
      skipped = 'budget_exhausted';
      return false;
    }
    nextDelayMs = v.delayMs;
    return true;
  };
  const retryAfterBackoff = () => {
    routeRetries++;
    o.stats.retries++;
    retried++;
    const st = current?.state;
    if (st !== undefined) (tried ??= new Set()).add(st);
    if (attemptTimer !== undefined) clearTimeout(attemptTimer);
    backoffTimer = setTimeout(() => {
      backoffTimer = undefined;
      if (!done && !down.closed) attempt(true);
    }, nextDelayMs);
  };

  const attempt = (anyEndpoint = false) => {
    const next = o.pick(tried) ?? (anyEndpoint ? o.pick(undefined) : undefined);
    if (next === undefined) {
      fail(attempts === 0 ? o.noEndpoints ?? 'NO_ENDPOINTS' : lastError);
      return;
    }
    attempts++;
    current = next;
    if (next.state !== undefined) next.state.inFlight++;
    let stream: ClientHttp2Stream;
    try {
      stream = next.session.request(o.headers, { endStream: downEnded && replayBytes === 0 });
    } catch {
      finish(false);
      next.state?.fail();
      if (o.retry === undefined) retryOrFail(true);
      else if (wantRetry({ kind: 'connection' })) retryAfterBackoff();
      else fail(lastError);
      return;
    }
    up = stream;
    let sent = false;
    let peerRefused = false;
    let retryResponse = false;
    let error: Error | undefined;
    attemptExpired = false;
    if (o.attemptTimeoutMs !== undefined) {
      if (attemptTimer !== undefined) clearTimeout(attemptTimer);
      attemptTimer = setTimeout(() => {
        attemptTimer = undefined;
        if (up !== stream || done) return;
        attemptExpired = true;
        if (!stream.closed) stream.close(h2c.NGHTTP2_CANCEL);
      }, o.attemptTimeoutMs);
    }
    if (!(downEnded && replayBytes === 0)) {
      for (const c of replay ?? []) stream.write(c);
      if (downEnded) stream.end();
    }
    stream.once('ready', () => {
      sent = true;
    });
    stream.on('error', (err) => {
      error = err;
    });
    stream.once('response', (h: IncomingHttpHeaders, flags: number) => {
      const upStatus = Number(h[':status']);
      const peerUnreachable = upStatus === 502 && o.retryPeerErrors && h[HEADER_PROXY_ERROR] === RETRYABLE_PEER_ERROR;
      peerLimited = peerLimitOf(h[HEADER_PROXY_ERROR]);
      if (o.retry !== undefined) {
        if (wantRetry(peerUnreachable ? { kind: 'peer-unreachable' } : { kind: 'status', status: upStatus })) {
          retryResponse = true;
          if (peerUnreachable) lastError = 'APP_UNREACHABLE';
          stream.close(h2c.NGHTTP2_CANCEL);
          return;
        }
      } else if (peerUnreachable && canRetry()) {
        peerRefused = true;
        stream.close(h2c.NGHTTP2_CANCEL);
        return;
      }
      responded = true;
      status = status0(h);
      grpcOf(h);
      const out: Record<string, string | string[]> = {};
      for (const k in h) {
        const v = h[k];
        if (v !== undefined && !RESPONSE_DROP.has(k)) out[k] = v;
      }
      if (o.responseHeaders !== undefined) applyResponseHeaderOps(out, o.responseHeaders);
      if (down.closed) return;
      o.stats.response(upStatus);
      if ((flags & h2c.NGHTTP2_FLAG_END_STREAM) !== 0) {
        // Trailers-only (a gRPC error status, a bodyless answer): one HEADERS frame ending the stream.
        down.respond(out, { endStream: true });
        return;
      }
      down.once('wantTrailers', () => {
        const t: Record<string, string | string[]> = {};
        for (const k in trailers) {
          const v = trailers[k];
          if (v !== undefined && k[0] !== ':') t[k] = v;
        }
        down.sendTrailers(t);
      });
      down.respond(out, { waitForTrailers: true });
    });
    let trailers: IncomingHttpHeaders | undefined;
    stream.once('trailers', (t: IncomingHttpHeaders) => {
      trailers = t;
      grpcOf(t);
    });
    stream.on('data', (chunk: Buffer) => {
      if (!responded || down.closed) return;
      if (!down.write(chunk)) {
        stream.pause();
        down.once('drain', () => stream.resume());
      }
    });
    let ended = false;
    stream.once('end', () => {
      ended = true;
      if (responded && !down.closed) down.end();
    });
    stream.once('close', () => {
      if (up === stream) up = undefined;
      if (done) {
        finish(responded, !responded || status >= 500);
        return;
      }
      if (responded) {
        done = true;
        finish(true, status >= 500 || (attemptExpired && !ended));
        clearTimers();
        const reset = !ended && stream.rstCode !== undefined && stream.rstCode !== h2c.NGHTTP2_NO_ERROR;
        if (!down.closed && reset) down.close(stream.rstCode);
        if (attemptExpired && !ended) o.stats.error('UPSTREAM_TIMEOUT');
        report(attemptExpired && !ended ? 'UPSTREAM_TIMEOUT' : reset ? 'UPSTREAM_RESET' : undefined);
        return;
      }
      finish(false);
      if (retryResponse) {
        retryAfterBackoff();
        return;
      }
      if (o.retry !== undefined || attemptExpired) {
        if (!sent) next.state?.fail();
        if (!sent) lastError = connectReason((error as { code?: string } | undefined)?.code) ?? lastError;
        if (attemptExpired) lastError = 'UPSTREAM_TIMEOUT';
        else if (sent && stream.rstCode !== h2c.NGHTTP2_REFUSED_STREAM) lastError = 'UPSTREAM_RESET';
        if (wantRetry(attemptExpired ? { kind: 'attempt-timeout' } : { kind: 'connection' })) retryAfterBackoff();
        else fail(lastError);
        return;
      }
      const refused = stream.rstCode === h2c.NGHTTP2_REFUSED_STREAM;
      if (peerRefused || refused || !sent) {
        if (!sent || peerRefused) next.state?.fail();
        if (!sent) lastError = connectReason((error as { code?: string } | undefined)?.code) ?? lastError;
        retryOrFail(true);
        return;
      }
      fail('UPSTREAM_RESET');
    });
  };

  const retryOrFail = (neverReachedApp: boolean) => {
    if (neverReachedApp && canRetry()) {
      const st = current?.state;
      if (st !== undefined) (tried ??= new Set()).add(st);
      o.stats.retries++;
      retried++;
      attempt();
      return;
    }
    fail(neverReachedApp ? lastError : 'UPSTREAM_RESET');
  };

  down.on('data', (chunk: Buffer) => {
    if (replay !== null) {
      replayBytes += chunk.length;
      if (replayBytes > o.maxReplayBytes) replay = null;
      else replay.push(chunk);
    }
    if (up !== undefined && !up.write(chunk)) {
      down.pause();
      up.once('drain', () => down.resume());
    }
  });
  down.once('end', () => {
    downEnded = true;
    up?.end();
  });
  down.once('close', () => {
    clearTimers();
    if (!done && !responded) {
      done = true;
      report('UPSTREAM_RESET');
    }
    if (up !== undefined && !up.closed) up.close(h2c.NGHTTP2_CANCEL);
  });
  down.on('error', () => undefined);

  if (o.timeoutMs !== undefined) {
    const timer = setTimeout(() => {
      if (done) return;
      if (up !== undefined && !up.closed) up.close(h2c.NGHTTP2_CANCEL);
      if (responded) {
        done = true;
        if (!down.closed) down.close(h2c.NGHTTP2_CANCEL);
        report('UPSTREAM_TIMEOUT');
      } else {
        fail('UPSTREAM_TIMEOUT');
      }
    }, o.timeoutMs);
    down.once('close', () => clearTimeout(timer));
  }

  attempt();
}

function status0(h: IncomingHttpHeaders): number {
  const n = Number(h[':status']);
  return Number.isInteger(n) ? n : 0;
}

export function h2RequestHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  return forwardH2Headers(h);
}
