/**
 * Reads the SNI and ALPN of a TLS ClientHello from peeked bytes, without consuming or answering it.
 * The inbound proxy uses the ALPN to tell Weft's mesh mTLS (terminate) from an app's own TLS (pass
 * through).
 *
 * Bounded: only the first TLS record is read (at most 5 + 16,384 bytes, the record size limit of
 * RFC 8446 5.1); every length is checked against what is left, so no input makes it read out of bounds
 * or loop. A ClientHello spread over several records is reported as `invalid` for ALPN purposes,
 * which the inbound proxy treats as "not mesh TLS".
 */

export type ClientHello =
  | { readonly kind: 'incomplete'; readonly need: number }
  | { readonly kind: 'invalid'; readonly reason: string }
  | { readonly kind: 'hello'; readonly sni: string | undefined; readonly alpn: readonly string[] };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;
export const MAX_RECORD = 16_384;

/** Whether the first bytes can start a TLS handshake record (used by detection). */
export function looksLikeTls(buf: Buffer): boolean {
  return buf.length >= 3 && buf[0] === RECORD_HANDSHAKE && buf[1] === 0x03 && (buf[2] ?? 0xff) <= 0x04;
}

export function parseClientHello(buf: Buffer): ClientHello {
  if (buf.length < 5) return { kind: 'incomplete', need: 5 };
  if (!looksLikeTls(buf)) return { kind: 'invalid', reason: 'not a TLS handshake record' };
  const recordLen = buf.readUInt16BE(3);
  if (recordLen > MAX_RECORD) return { kind: 'invalid', reason: 'record too long' };
  if (buf.length < 5 + recordLen) return { kind: 'incomplete', need: 5 + recordLen };
  const r = new Reader(buf, 5, 5 + recordLen);
  try {
    if (r.u8() !== HANDSHAKE_CLIENT_HELLO) return { kind: 'invalid', reason: 'not a ClientHello' };
    const helloLen = r.u24();
    if (helloLen > r.left()) return { kind: 'invalid', reason: 'ClientHello spans several records' };
    const hello = r.sub(helloLen);
    hello.skip(2 + 32); // legacy_version, random
    hello.skip(hello.u8()); // session id
    hello.skip(hello.u16()); // cipher suites
    hello.skip(hello.u8()); // compression methods
    let sni: string | undefined;
    const alpn: string[] = [];
    if (hello.left() === 0) return { kind: 'hello', sni, alpn };
    const exts = hello.sub(hello.u16());
    while (exts.left() > 0) {
      const type = exts.u16();
      const body = exts.sub(exts.u16());
      if (type === EXT_SERVER_NAME) {
        const list = body.sub(body.u16());
        while (list.left() > 0) {
          const nameType = list.u8();
          const name = list.bytes(list.u16());
          if (nameType === 0 && sni === undefined) sni = name.toString('latin1');
        }
      } else if (type === EXT_ALPN) {
        const list = body.sub(body.u16());
        while (list.left() > 0) alpn.push(list.bytes(list.u8()).toString('latin1'));
      }
    }
    return { kind: 'hello', sni, alpn };
  } catch (err) {
    if (err instanceof Truncated) return { kind: 'invalid', reason: 'a length field runs past its container' };
    throw err;
  }
}

class Truncated extends Error {}

/** A cursor over [pos, end) of a buffer; every read is bounds-checked. */
class Reader {
  constructor(private readonly buf: Buffer, private pos: number, private readonly end: number) {}
  left(): number {
    return this.end - this.pos;
  }
  private need(n: number): void {
    if (n > this.end - this.pos) throw new Truncated();
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] ?? 0;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.pos, 3);
    this.pos += 3;
    return v;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }
}
