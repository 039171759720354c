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
 */
import { constants as h2c } from 'node:http2';
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { HEADER_PROXY_ERROR } from '../core/contract.js';
import type { EndpointState } from './balancer.js';
import { RETRYABLE_PEER_ERROR } from './errors.js';
import type { ProxyErrorCode } from './errors.js';
import { forwardH2Headers } from './headers.js';
import type { DirectionStats } from './metrics.js';
import { writeH2Error } from './respond.js';

export interface H2Upstream {
  readonly session: ClientHttp2Session;
  readonly state: EndpointState | undefined;
}

export interface H2ExchangeOptions {
  readonly headers: Record<string, string | string[]>;
  readonly grpc: boolean;
  readonly pick: (tried: ReadonlySet<EndpointState> | undefined) => H2Upstream | undefined;
  readonly connectError: ProxyErrorCode;
  readonly retryPeerErrors: boolean;
  readonly maxAttempts: number;
  readonly maxReplayBytes: number;
  readonly stats: DirectionStats;
  /** The route's request timeout: 504 (gRPC DEADLINE_EXCEEDED) when no answer came in time. */
  readonly timeoutMs?: number | undefined;
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
  let lastError: ProxyErrorCode = o.connectError;

  const finish = (ok: boolean) => {
    const st = current?.state;
    if (st !== undefined) {
      st.inFlight--;
      if (ok) st.observe(performance.now() - t0);
    }
  };

  const fail = (code: ProxyErrorCode) => {
    if (done) return;
    done = true;
    o.stats.error(code);
    writeH2Error(down, code, o.grpc);
    o.stats.response(o.grpc ? 200 : 502, performance.now() - t0);
  };

  const canRetry = () => replay !== null && attempts < o.maxAttempts && !down.closed;

  const attempt = () => {
    const next = o.pick(tried);
    if (next === undefined) {
      fail(attempts === 0 ? 'NO_ENDPOINTS' : lastError);
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
      retryOrFail(true);
      return;
    }
    up = stream;
    let sent = false;
    let peerRefused = false;
    let error: Error | undefined;
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
      const status = Number(h[':status']);
      if (status === 502 && o.retryPeerErrors && h[HEADER_PROXY_ERROR] === RETRYABLE_PEER_ERROR && canRetry()) {
        peerRefused = true;
        stream.close(h2c.NGHTTP2_CANCEL);
        return;
      }
      responded = true;
      const out: Record<string, string | string[]> = {};
      for (const k in h) {
        const v = h[k];
        if (v !== undefined && !RESPONSE_DROP.has(k)) out[k] = v;
      }
      if (down.closed) return;
      o.stats.response(status, performance.now() - t0);
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
    });
    stream.on('data', (chunk: Buffer) => {
      if (!responded || down.closed) return;
      if (!down.write(chunk)) {
        stream.pause();
        down.once('drain', () => stream.resume());
      }
    });
    stream.once('end', () => {
      if (responded && !down.closed) down.end();
    });
    stream.once('close', () => {
      if (up === stream) up = undefined;
      if (done) {
        finish(responded);
        return;
      }
      if (responded) {
        done = true;
        finish(true);
        if (!down.closed && stream.rstCode !== undefined && stream.rstCode !== h2c.NGHTTP2_NO_ERROR) down.close(stream.rstCode);
        return;
      }
      finish(false);
      const refused = stream.rstCode === h2c.NGHTTP2_REFUSED_STREAM;
      if (peerRefused || refused || !sent) {
        if (!sent || peerRefused) next.state?.fail();
        if (!sent && (error as { code?: string } | undefined)?.code === 'ERR_WEFT_PEER_IDENTITY') lastError = 'PEER_IDENTITY';
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
    if (!done && !responded) done = true;
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
      } else {
        fail('UPSTREAM_TIMEOUT');
      }
    }, o.timeoutMs);
    down.once('close', () => clearTimeout(timer));
  }

  attempt();
}

export function h2RequestHeaders(h: IncomingHttpHeaders): Record<string, string | string[]> {
  return forwardH2Headers(h);
}
