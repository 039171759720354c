/**
 * Raw HTTP/2 frames for tests that must misbehave in ways node's client refuses to (floods,
 * connection-specific headers, unfinished header blocks). HPACK here is literal-without-indexing with
 * raw (non-Huffman) strings only: enough to send any header list byte for byte.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, CONTINUATION: 9 } as const;
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

function hpackInt(value: number, prefixBits: number, firstByteFlags: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([firstByteFlags | value]);
  const out = [firstByteFlags | max];
  let v = value - max;
  while (v >= 128) {
    out.push((v % 128) + 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing (RFC 7541 6.2.2), names and values raw. */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    parts.push(Buffer.from([0x00]), hpackInt(n.length, 7, 0), n, hpackInt(v.length, 7, 0), v);
  }
  return Buffer.concat(parts);
}

export function requestHeaders(path = '/', extra: readonly (readonly [string, string])[] = []): Buffer {
  return headerBlock([[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', 'test'], ...extra]);
}

export interface RawH2 {
  readonly socket: Socket;
  /** Frame types received so far, with their first payload bytes. */
  readonly frames: { type: number; flags: number; stream: number; payload: Buffer }[];
  readonly closed: Promise<void>;
  send(b: Buffer): void;
}

export function rawH2(port: number): Promise<RawH2> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const frames: RawH2['frames'] = [];
    let buf = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        frames.push({ type: buf[3]!, flags: buf[4]!, stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) });
        buf = buf.subarray(9 + len);
      }
    });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => {
      socket.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)]));
      resolve({ socket, frames, closed, send: (b) => socket.write(b) });
    });
    socket.once('error', reject);
  });
}

/** GOAWAY error code of the first GOAWAY received, if any. */
export function goawayCode(h: RawH2): number | undefined {
  const g = h.frames.find((f) => f.type === T.GOAWAY);
  return g === undefined ? undefined : g.payload.readUInt32BE(4);
}

export function rstCode(h: RawH2, stream: number): number | undefined {
  const r = h.frames.find((f) => f.type === T.RST_STREAM && f.stream === stream);
  return r === undefined ? undefined : r.payload.readUInt32BE(0);
}
