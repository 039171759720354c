/**
 * One HTTP/1.1 upgrade exchange (WebSocket), shared by both listeners. Raw bytes are piped only once
 * the upstream (the app, or the peer proxy in front of it) has answered `101 Switching Protocols`
 * naming the protocol the client asked for. Until then the downstream socket is paused, so nothing
 * the client sent after the upgrade request reaches the upstream unparsed.
 *
 *   101 with the same Upgrade token  -> relay the 101, then pipe both ways for the stream's lifetime
 *   any other answer                 -> relay it as an ordinary response (re-framed), close the upstream
 *                                       connection and hand the downstream socket back to the HTTP
 *                                       server: the next request on it is parsed, routed, authorized
 *                                       and stripped like any other
 *   101 naming another protocol      -> 502 and close (it cannot be relayed as an ordinary answer)
 *   no connection / no answer        -> the proxy's error answer, close
 *
 * Bytes the client sent after the upgrade request's head (`head`, and whatever is still buffered on
 * the paused socket) follow the same rule: forwarded after the 101, parsed as HTTP otherwise.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { request as httpRequest, STATUS_CODES } from './node-http.js';
import { applyFlatHeaderOps, isStripped, isTokenName, isSafeHeaderValue } from './headers.js';
import { pipeBoth } from './connection.js';
import { ERROR_TABLE } from '../core/reasons.js';
import type { Reason } from '../core/reasons.js';
import type { HeaderOps } from './policy-hook.js';
import { rawHttp1Error } from './respond.js';

export interface UpgradeOutcome {
  /** The status the client saw (101 when the stream was switched). */
  readonly status: number;
  /** The proxy's error, when the answer was the proxy's own. */
  readonly error: Reason | undefined;
  readonly durationMs: number;
}

export interface UpgradeOptions {
  /** The upgrade request as the downstream HTTP server parsed it. */
  readonly req: IncomingMessage;
  /** The downstream socket node handed over, and the bytes that followed the request head. */
  readonly socket: Duplex;
  readonly head: Buffer;
  /** The request target and headers to send upstream (hop-by-hop already removed). */
  readonly path: string;
  readonly headers: readonly string[];
  /** The lower-case protocol token the client asked for (`websocket`). */
  readonly protocol: string;
  /** Opens the upstream connection; rejects when none can be made. */
  readonly connect: () => Promise<Duplex>;
  /** The error answered when `connect` rejects. */
  readonly connectError: Reason;
  /** The route's response header changes, applied to the 101 and to any other answer. */
  readonly responseHeaders?: readonly HeaderOps[] | undefined;
  /** How long the upstream may take to answer the upgrade request. */
  readonly answerTimeoutMs: number;
  /** Hands the downstream socket back to the HTTP/1 server after a non-101 answer. */
  readonly resume: (socket: Duplex) => void;
  readonly done: (outcome: UpgradeOutcome) => void;
}

/** Whether an Upgrade header value names `protocol` (a comma-separated list, case-insensitive). */
export function upgradeNames(value: string | string[] | undefined, protocol: string): boolean {
  if (value === undefined) return false;
  const list = Array.isArray(value) ? value.join(',') : value;
  return list.split(',').some((t) => t.trim().toLowerCase().split('/')[0] === protocol);
}

/** The response header lines relayed downstream: hop-by-hop and reserved ones removed. */
function relayedHeaders(raw: readonly string[], ops: readonly HeaderOps[] | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (isStripped(name) || name === 'content-length') continue;
    out.push(name, raw[i + 1]!);
  }
  if (ops !== undefined) applyFlatHeaderOps(out, ops);
  return out;
}

function headLines(status: number, message: string | undefined, headers: readonly string[]): string {
  let s = `HTTP/1.1 ${status} ${message !== undefined && isSafeHeaderValue(message) && message !== '' ? message : STATUS_CODES[status] ?? 'Unknown'}\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (isTokenName(name) && isSafeHeaderValue(value)) s += `${name}: ${value}\r\n`;
  }
  return s;
}

export function relayUpgrade(o: UpgradeOptions): void {
  const started = Date.now();
  const down = o.socket;
  down.pause();
  let finished = false;
  const finish = (status: number, error: Reason | undefined): void => {
    if (finished) return;
    finished = true;
    o.done({ status, error, durationMs: Date.now() - started });
  };
  const fail = (code: Reason, up?: Duplex): void => {
    up?.destroy();
    if (!down.destroyed && down.writable) down.end(rawHttp1Error(code), () => down.destroy());
    else down.destroy();
    finish(ERROR_TABLE[code].http, code);
  };
  const onDownClose = (): void => finish(0, undefined);
  down.once('close', onDownClose);

  o.connect().then((up) => {
    if (down.destroyed) {
      up.destroy();
      return;
    }
    up.on('error', () => undefined);
    const headers = [...o.headers, 'connection', 'upgrade', 'upgrade', o.protocol];
    let creq: ClientRequest;
    try {
      creq = httpRequest({ createConnection: () => up, method: o.req.method ?? 'GET', path: o.path, headers, setHost: false });
    } catch {
      fail('BAD_REQUEST', up);
      return;
    }
    const timer = setTimeout(() => {
      creq.destroy();
      fail('UPSTREAM_TIMEOUT', up);
    }, o.answerTimeoutMs);
    const abortUp = (): void => {
      clearTimeout(timer);
      creq.destroy();
      up.destroy();
    };
    down.once('close', abortUp);
    creq.on('error', () => {
      clearTimeout(timer);
      down.removeListener('close', abortUp);
      if (!finished) fail('UPSTREAM_RESET', up);
    });
    creq.on('upgrade', (res: IncomingMessage, upSocket: Duplex, upHead: Buffer) => {
      clearTimeout(timer);
      down.removeListener('close', abortUp);
      if (down.destroyed) {
        upSocket.destroy();
        return;
      }
      if (!upgradeNames(res.headers.upgrade, o.protocol)) {
        fail('UPSTREAM_RESET', upSocket);
        return;
      }
      const hdrs = relayedHeaders(res.rawHeaders, o.responseHeaders);
      down.write(`${headLines(101, res.statusMessage, hdrs)}connection: upgrade\r\nupgrade: ${o.protocol}\r\n\r\n`);
      if (upHead.length > 0) down.write(upHead);
      if (o.head.length > 0) upSocket.write(o.head);
      down.removeListener('close', onDownClose);
      finish(101, undefined);
      pipeBoth(down, upSocket);
    });
    creq.on('response', (res: IncomingMessage) => {
      clearTimeout(timer);
      down.removeListener('close', abortUp);
      relayAnswer(o, res, up, finish);
    });
    creq.end();
  }, () => fail(o.connectError));
}

/**
 * A non-101 answer to an upgrade request: written downstream as a complete message (Content-Length
 * kept, otherwise chunked), then the upstream connection is closed and the downstream socket goes
 * back to the HTTP server with the bytes that followed the upgrade request in front.
 */
function relayAnswer(o: UpgradeOptions, res: IncomingMessage, up: Duplex, finish: (status: number, error: Reason | undefined) => void): void {
  const down = o.socket;
  const status = res.statusCode ?? 502;
  const bodiless = status === 204 || status === 304 || (status >= 100 && status < 200) || o.req.method === 'HEAD';
  const length = res.headers['content-length'];
  const hdrs = relayedHeaders(res.rawHeaders, o.responseHeaders);
  let framing = '';
  if (bodiless) framing = '';
  else if (length !== undefined && /^\d+$/.test(length)) framing = `content-length: ${length}\r\n`;
  else framing = 'transfer-encoding: chunked\r\n';
  const chunked = framing.startsWith('transfer-encoding');
  down.write(`${headLines(status, res.statusMessage, hdrs)}${framing}\r\n`);
  const end = (): void => {
    up.destroy();
    finish(status, undefined);
    if (down.destroyed) return;
    if (o.head.length > 0) down.unshift(o.head);
    o.resume(down);
  };
  if (bodiless) {
    res.resume();
    res.once('end', end);
    return;
  }
  res.on('data', (c: Buffer) => {
    if (c.length === 0) return;
    const ok = chunked ? down.write(`${c.length.toString(16)}\r\n`) && down.write(c) && down.write('\r\n') : down.write(c);
    if (!ok) {
      res.pause();
      down.once('drain', () => res.resume());
    }
  });
  res.once('end', () => {
    if (chunked) down.write('0\r\n\r\n');
    end();
  });
  res.once('error', () => {
    up.destroy();
    down.destroy();
    finish(status, 'UPSTREAM_RESET');
  });
  res.once('aborted', () => {
    up.destroy();
    down.destroy();
  });
}
