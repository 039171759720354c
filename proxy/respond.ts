/**
 * Writes the proxy's own responses: errors through ERROR_TABLE (HTTP/1, HTTP/2, gRPC trailers-only),
 * and the policy hook's `respond` decisions. No other module picks a status for an error.
 */
import { STATUS_CODES } from './node-http.js';
import type { ServerResponse } from 'node:http';
import type { ServerHttp2Stream } from 'node:http2';
import { HEADER_PROXY_ERROR } from '../core/contract.js';
import { ERROR_TABLE } from './errors.js';
import type { ProxyErrorCode } from './errors.js';
import { isSafeHeaderValue, isTokenName } from './headers.js';

const TEXT = 'text/plain; charset=utf-8';

export function isGrpc(contentType: string | string[] | undefined): boolean {
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

export function writeHttp1Error(res: ServerResponse, code: ProxyErrorCode, status?: number): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const m = ERROR_TABLE[code];
  const body = `${m.header}\n`;
  res.writeHead(status ?? m.http, {
    'content-type': TEXT,
    'content-length': Buffer.byteLength(body),
    [HEADER_PROXY_ERROR]: m.header,
  });
  res.end(body);
}

export function writeH2Error(stream: ServerHttp2Stream, code: ProxyErrorCode, grpc: boolean, status?: number): void {
  if (stream.destroyed || stream.closed) return;
  const m = ERROR_TABLE[code];
  if (stream.headersSent) {
    stream.close(0x2); // INTERNAL_ERROR
    return;
  }
  if (grpc) {
    // Trailers-only response: HTTP 200 with grpc-status (the gRPC spec maps proxy errors this way).
    stream.respond({
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(m.grpc),
      'grpc-message': m.header,
      [HEADER_PROXY_ERROR]: m.header,
    }, { endStream: true });
    return;
  }
  const body = `${m.header}\n`;
  stream.respond({ ':status': status ?? m.http, 'content-type': TEXT, 'content-length': Buffer.byteLength(body), [HEADER_PROXY_ERROR]: m.header });
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
export function rawHttp1Error(code: ProxyErrorCode, status?: number): string {
  const m = ERROR_TABLE[code];
  return rawHttp1Answer(status ?? m.http, [[HEADER_PROXY_ERROR, m.header]]);
}
