/**
 * Protocol detection: peek at the first bytes a client sends and classify the connection.
 *
 *   "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"         -> http2 (prior knowledge; gRPC included)
 *   METHOD SP ...                              -> http1
 *   0x16 0x03 0x0N (a TLS handshake record)    -> tls, with the ClientHello's SNI and ALPN
 *   anything else, or silence until timeout    -> opaque
 *
 * The bytes are put back (`unshift`) and the socket is left paused, so whoever takes it next (an HTTP
 * server, a TLS socket, a pipe) reads them first; node's TLS and HTTP/2 sockets drain such buffered
 * bytes into their native parsers. At most one TLS record (16 KiB + 5) is held.
 */
import type { Socket } from 'node:net';
import { MAX_RECORD, parseClientHello, looksLikeTls } from './tls-hello.js';
import type { ClientHello } from './tls-hello.js';

export type Detected =
  | { readonly protocol: 'http1' | 'http2' | 'opaque' }
  | { readonly protocol: 'tls'; readonly hello: ClientHello }
  | { readonly protocol: 'closed' };

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Longest method token looked at: longer ones (none registered is) are not HTTP. */
const MAX_METHOD = 20;
const MAX_PEEK = 5 + MAX_RECORD;

type Verdict = Detected | 'more';

/** Classifies the bytes seen so far; 'more' when they could still be several things. */
export function classify(buf: Buffer): Verdict {
  if (buf.length === 0) return 'more';
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
    // "PRI" could also start an HTTP/1 method: only the full preface decides.
    return buf.length >= H2_PREFACE.length ? { protocol: 'http2' } : 'more';
  }
  if (looksLikeTls(buf) || (buf[0] === 0x16 && buf.length < 3)) {
    if (buf.length < 3) return 'more';
    const hello = parseClientHello(buf);
    if (hello.kind === 'incomplete') return buf.length >= MAX_PEEK ? { protocol: 'tls', hello: { kind: 'invalid', reason: 'too long' } } : 'more';
    return { protocol: 'tls', hello };
  }
  // HTTP/1: a method token of upper-case letters then a space.
  for (let i = 0; i < buf.length && i <= MAX_METHOD; i++) {
    const c = buf[i] ?? 0;
    if (c === 0x20) return i > 0 ? { protocol: 'http1' } : { protocol: 'opaque' };
    if (c < 0x41 || c > 0x5a) {
      if (c === 0x2d && i > 0) continue; // M-SEARCH and the like
      return { protocol: 'opaque' };
    }
  }
  return buf.length > MAX_METHOD ? { protocol: 'opaque' } : 'more';
}

/**
 * Waits for enough bytes to classify the connection (or the timeout: then opaque). Resolves once;
 * never rejects. On 'closed' (the client closed or half-closed first) the socket is destroyed.
 */
export function detect(socket: Socket, timeoutMs: number): Promise<Detected> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (d: Detected) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      socket.removeListener('error', onEnd);
      if (d.protocol === 'closed') {
        socket.destroy();
      } else {
        socket.pause();
        if (buf.length > 0) socket.unshift(buf);
      }
      resolve(d);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const v = classify(buf);
      if (v !== 'more') done(v);
    };
    // A client that half-closes before it can be classified is dropped: nothing can be put back after 'end'.
    const onEnd = () => done({ protocol: 'closed' });
    const timer = setTimeout(() => done({ protocol: 'opaque' }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}
