/**
 * The proxy's own answers: one responder per protocol (HTTP/1, an upgrade's raw socket, HTTP/2 and
 * gRPC trailers-only) renders a synthetic answer, a reason through core's ERROR_TABLE or the policy's
 * `respond`, and counts it. No other module picks a status for an error.
 */
import { STATUS_CODES } from './node-http.js';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { HEADER_PROXY_ERROR } from '../core/contract.js';
import { ERROR_TABLE } from '../core/reasons.js';
import type { Reason } from '../core/reasons.js';
import { isSafeHeaderValue, isTokenName } from './headers.js';
import type { DirectionStats } from './metrics.js';
import type { ExchangeObserver } from './policy-hook.js';

const TEXT = 'text/plain; charset=utf-8';

export function isGrpc(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

/**
 * What an HTTP/1.1 exchange writes its response to: node's ServerResponse, or an HTTP/2 stream behind
 * proxy/adapters/h2-to-http1.ts when a gateway translates.
 */
export interface ResponseSink {
  readonly headersSent: boolean;
  statusCode: number;
  shouldKeepAlive: boolean;
  writeHead(statusCode: number, headers?: OutgoingHttpHeaders): unknown;
  writeHead(statusCode: number, statusMessage: string, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: string): unknown;
  addTrailers(trailers: Record<string, string>): void;
  destroy(): unknown;
  once(event: 'close' | 'drain', listener: () => void): unknown;
}

export function writeHttp1Error(res: ResponseSink, code: Reason, extra?: readonly (readonly [string, string])[]): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const m = ERROR_TABLE[code];
  const body = `${m.header}\n`;
  res.writeHead(m.http, {
    ...safeHeaders(extra),
    'content-type': TEXT,
    'content-length': Buffer.byteLength(body),
    [HEADER_PROXY_ERROR]: m.header,
  });
  res.end(body);
}

export function writeH2Error(stream: ServerHttp2Stream, code: Reason, grpc: boolean, extra?: readonly (readonly [string, string])[]): void {
  if (stream.destroyed || stream.closed) return;
  const m = ERROR_TABLE[code];
  if (stream.headersSent) {
    stream.close(0x2); // INTERNAL_ERROR
    return;
  }
  if (grpc) {
    // Trailers-only response: HTTP 200 with grpc-status (the gRPC spec maps proxy errors this way).
    stream.respond({
      ...safeHeaders(extra),
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(m.grpc),
      'grpc-message': m.header,
      [HEADER_PROXY_ERROR]: m.header,
    }, { endStream: true });
    return;
  }
  const body = `${m.header}\n`;
  stream.respond({ ...safeHeaders(extra), ':status': m.http, 'content-type': TEXT, 'content-length': Buffer.byteLength(body), [HEADER_PROXY_ERROR]: m.header });
  stream.end(body);
}

/** A stream whose fields failed checkH2Fields: malformed -> RST_STREAM PROTOCOL_ERROR (never
 * forwarded or downgraded, case 11); too large -> 431 (case 32). */
export function rejectH2Stream(stream: ServerHttp2Stream, why: 'malformed' | 'too-large', grpc: boolean): void {
  if (why === 'malformed') {
    stream.close(0x1); // PROTOCOL_ERROR
    return;
  }
  writeH2Error(stream, 'HEADERS_TOO_LARGE', grpc);
}

/** Headers from a policy decision, minus any that are not safe to emit (case 10). */
export function safeHeaders(list: readonly (readonly [string, string])[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of list ?? []) {
    const name = k.toLowerCase();
    if (isTokenName(name) && isSafeHeaderValue(v)) out[name] = v;
  }
  return out;
}

export function writeHttp1Decision(res: ServerResponse, status: number, headers: readonly (readonly [string, string])[] | undefined, body: string | undefined): void {
  const text = body ?? '';
  res.writeHead(status, { ...safeHeaders(headers), 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function writeH2Decision(stream: ServerHttp2Stream, status: number, headers: readonly (readonly [string, string])[] | undefined, body: string | undefined): void {
  const text = body ?? '';
  stream.respond({ ...safeHeaders(headers), ':status': status, 'content-length': Buffer.byteLength(text) });
  stream.end(text);
}

/**
 * A bodiless HTTP/1.1 answer written straight to a socket that asked for an upgrade (node's server has
 * handed the socket over, so there is no ServerResponse): a redirect, or one of the proxy's errors.
 */
export function rawHttp1Answer(status: number, headers: readonly (readonly [string, string])[]): string {
  const lines = Object.entries(safeHeaders(headers)).map(([k, v]) => `${k}: ${String(v)}\r\n`).join('');
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n${lines}content-length: 0\r\nconnection: close\r\n\r\n`;
}

/** The same for one of the proxy's errors (status and weft-proxy-error from ERROR_TABLE). */
export function rawHttp1Error(code: Reason, extra: readonly (readonly [string, string])[] = []): string {
  const m = ERROR_TABLE[code];
  return rawHttp1Answer(m.http, [...extra, [HEADER_PROXY_ERROR, m.header]]);
}

// --- responders --------------------------------------------------------------------------------------

/** An answer the proxy writes itself: for a reason (through ERROR_TABLE), or one the policy chose (a redirect). */
export type Synthetic =
  | { readonly kind: 'reason'; readonly code: Reason; readonly headers?: readonly (readonly [string, string])[] | undefined }
  | { readonly kind: 'respond'; readonly status: number; readonly headers?: readonly (readonly [string, string])[] | undefined; readonly body?: string | undefined };

/** How a direction counts the answers it writes, as each always has. */
export interface ResponderOptions {
  readonly stats: DirectionStats;
  /** HTTP/1: a plan's refusal is counted in the responses by status class (outbound) or not (inbound). */
  readonly countRefusals: boolean;
  /** HTTP/1: a plan's BAD_REQUEST closes the connection after the answer (inbound). */
  readonly closeOnBadRequest: boolean;
}

/**
 * Renders synthetic answers for one protocol and counts them: `refuse` for a request refused before it
 * was planned (framing, header fields: an error count, no route metrics), `answer` for a plan's answer
 * (counted, and told to the route's observer), `policyFailed` when the policy hook threw.
 */
export interface Responder<S> {
  refuse(sink: S, code: Reason): void;
  answer(sink: S, a: Synthetic, observe: ExchangeObserver | undefined): void;
  policyFailed(sink: S): void;
}

export function http1Responder(o: ResponderOptions): Responder<ServerResponse> {
  return {
    refuse(res, code) {
      o.stats.error(code);
      writeHttp1Error(res, code);
    },
    answer(res, a, observe) {
      if (a.kind === 'respond') {
        writeHttp1Decision(res, a.status, a.headers, a.body);
        o.stats.response(a.status);
        observe?.({ status: a.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
        return;
      }
      o.stats.error(a.code);
      if (o.closeOnBadRequest && a.code === 'BAD_REQUEST') res.shouldKeepAlive = false;
      writeHttp1Error(res, a.code, a.headers);
      if (o.countRefusals) o.stats.response(res.statusCode);
      observe?.({ status: res.statusCode, grpcStatus: undefined, error: a.code, durationMs: 0 });
    },
    policyFailed(res) {
      writeHttp1Error(res, 'POLICY_FAILED');
    },
  };
}

/** The socket of an upgrade request node handed over: answered with a bodiless HTTP/1.1 message, then closed. */
export function upgradeResponder(o: Pick<ResponderOptions, 'stats'>): Responder<Duplex> {
  const refuse = (socket: Duplex, code: Reason, extra?: readonly (readonly [string, string])[]): void => {
    o.stats.error(code);
    socket.end(rawHttp1Error(code, extra), () => socket.destroy());
  };
  return {
    refuse,
    answer(socket, a, observe) {
      if (a.kind === 'respond') {
        socket.end(rawHttp1Answer(a.status, a.headers ?? []), () => socket.destroy());
        observe?.({ status: a.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
        return;
      }
      refuse(socket, a.code, a.headers);
      observe?.({ status: ERROR_TABLE[a.code].http, grpcStatus: undefined, error: a.code, durationMs: 0 });
    },
    policyFailed(socket) {
      refuse(socket, 'POLICY_FAILED');
    },
  };
}

/** An HTTP/2 stream and whether it is a gRPC call (answered trailers-only with grpc-status). */
export interface H2Sink {
  readonly stream: ServerHttp2Stream;
  readonly grpc: boolean;
}

export function h2Responder(o: Pick<ResponderOptions, 'stats'>): Responder<H2Sink> {
  return {
    refuse(s, code) {
      o.stats.error(code);
      writeH2Error(s.stream, code, s.grpc);
    },
    answer(s, a, observe) {
      if (a.kind === 'respond') {
        writeH2Decision(s.stream, a.status, a.headers, a.body);
        observe?.({ status: a.status, grpcStatus: undefined, error: undefined, durationMs: 0 });
        return;
      }
      o.stats.error(a.code);
      writeH2Error(s.stream, a.code, s.grpc, a.headers);
      const m = ERROR_TABLE[a.code];
      observe?.({ status: s.grpc ? 200 : m.http, grpcStatus: s.grpc ? m.grpc : undefined, error: a.code, durationMs: 0 });
    },
    policyFailed(s) {
      writeH2Error(s.stream, 'POLICY_FAILED', s.grpc);
    },
  };
}
