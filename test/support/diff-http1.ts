/**
 * The HTTP/1.1 framing differential test's model: generated requests (valid ones, and ones broken by
 * one mutation), their wire bytes, a strict RFC 9112 message parser for what the upstream receives
 * and what the client gets back, and the comparison of an accepted request with what reached the
 * upstream.
 *
 * What the proxy is documented to change on the way (proxy/headers.ts, proxy/outbound/listener.ts),
 * and so what the comparison ignores or expects:
 *   - hop-by-hop headers are removed: Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, TE,
 *     Upgrade, HTTP2-Settings, Expect, and every header named in Connection;
 *   - client-sent `weft-*` headers are removed (reserved prefix);
 *   - header names are sent lower-case; values lose leading/trailing whitespace (not part of a value);
 *   - the upstream connection's own `connection: keep-alive` is added;
 *   - a chunked body is re-chunked (chunk sizes and extensions are not kept; the bytes are);
 *     a body the proxy buffers may arrive with Content-Length instead;
 *   - a bodyless request may gain `content-length: 0`, never Transfer-Encoding;
 *   - an absolute-form target is sent in origin form, its authority replacing Host;
 *   - a request without Host gets the upstream address as Host.
 */
import fc from 'fast-check';

export type Framing =
  | { readonly kind: 'none' }
  | { readonly kind: 'cl'; readonly body: Buffer; readonly header: string }
  | { readonly kind: 'chunked'; readonly chunks: readonly Buffer[]; readonly ext: readonly string[]; readonly upperHex: boolean };

export interface GenRequest {
  readonly method: string;
  readonly target: string;
  readonly version: 'HTTP/1.1' | 'HTTP/1.0';
  /** Header lines as sent (name, value), framing headers excluded (added from `framing`). */
  readonly headers: readonly (readonly [string, string])[];
  readonly framing: Framing;
}

/** How a mutation must be treated: `reject` (security-cases.md: 400, nothing forwarded) or `either`. */
export type Verdict = 'valid' | 'reject' | 'either';

export interface Case {
  readonly req: GenRequest;
  /** Set when the bytes were broken on purpose. */
  readonly mutation?: string;
  readonly verdict: Verdict;
  readonly bytes: Buffer;
}

// --- serialisation ----------------------------------------------------------------------------------

function framingHeaders(f: Framing): [string, string][] {
  if (f.kind === 'cl') return [['Content-Length', f.header]];
  if (f.kind === 'chunked') return [['Transfer-Encoding', 'chunked']];
  return [];
}

function bodyBytes(f: Framing): Buffer {
  if (f.kind === 'none') return Buffer.alloc(0);
  if (f.kind === 'cl') return f.body;
  const parts: Buffer[] = [];
  f.chunks.forEach((c, i) => {
    const size = c.length.toString(16);
    parts.push(Buffer.from(`${f.upperHex ? size.toUpperCase() : size}${f.ext[i] ?? ''}\r\n`, 'latin1'), c, Buffer.from('\r\n'));
  });
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

export function serialize(r: GenRequest): Buffer {
  let head = `${r.method} ${r.target} ${r.version}\r\n`;
  for (const [k, v] of [...r.headers, ...framingHeaders(r.framing)]) head += `${k}: ${v}\r\n`;
  return Buffer.concat([Buffer.from(`${head}\r\n`, 'latin1'), bodyBytes(r.framing)]);
}

/** The body bytes the request carries (chunked decoded). */
export function payload(r: GenRequest): Buffer {
  if (r.framing.kind === 'cl') return r.framing.body;
  if (r.framing.kind === 'chunked') return Buffer.concat(r.framing.chunks);
  return Buffer.alloc(0);
}

// --- generation -------------------------------------------------------------------------------------

const tchar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&\'*+-.^_`|~'.split(''));
const headerName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('X-Req', 'x-dup', 'Accept', 'User-Agent', 'X-Forwarded-For', 'Cookie', 'x-empty', 'Content-Type', 'X-ÿ-not-sent') },
  { weight: 2, arbitrary: fc.array(tchar, { minLength: 1, maxLength: 12 }).map((a) => `x-${a.join('')}`) },
).filter((n) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(n));

const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const obsText = fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c));
const headerValue = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.oneof({ weight: 8, arbitrary: vchar }, { weight: 1, arbitrary: fc.constant(' ') }, { weight: 1, arbitrary: fc.constant('\t') }), { maxLength: 24 }).map((a) => a.join('').trim()) },
  { weight: 1, arbitrary: fc.array(fc.oneof(vchar, obsText), { minLength: 1, maxLength: 8 }).map((a) => a.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('', 'a, b', 'q=0.5; x="y"', '  padded  ') },
);

const segment = fc.oneof(
  fc.array(fc.constantFrom(...'abcxyz019-._~!$&\'()*+,;=:@'.split('')), { minLength: 1, maxLength: 6 }).map((a) => a.join('')),
  fc.constantFrom('%41', '%2F', '%2e%2E', '..', '.', '%25', 'caf%C3%A9', ''),
);
const originTarget = fc
  .tuple(fc.array(segment, { minLength: 0, maxLength: 4 }), fc.option(fc.array(fc.constantFrom('a=1', 'b=%20', 'c', 'd=x/y?z', ''), { maxLength: 3 }), { freq: 2 }))
  .map(([segs, q]) => '/' + segs.join('/') + (q === null ? '' : `?${q.join('&')}`));
const target = fc.oneof(
  { weight: 10, arbitrary: originTarget },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('http://up.example', 'http://up.example:8080', 'HTTP://Up.Example'), fc.constantFrom('/', '/p', '/p?q=1')).map(([a, p]) => a + p) },
);

const method = fc.constantFrom('GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD');

const body = fc.uint8Array({ minLength: 0, maxLength: 300 }).map((a) => Buffer.from(a));
const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 3, arbitrary: body.map((b) => ({ kind: 'cl' as const, body: b, header: String(b.length) })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('chunked' as const),
      chunks: fc.array(fc.uint8Array({ minLength: 1, maxLength: 120 }).map((a) => Buffer.from(a)), { maxLength: 4 }),
      ext: fc.array(fc.constantFrom('', '', ';a=b', ';x', ';name="q v"'), { maxLength: 4 }),
      upperHex: fc.boolean(),
    }),
  },
);

/** Headers with duplicates, Connection-listed names, hop-by-hop and reserved ones. */
const extraHeaders = fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 });
const specialHeaders = fc.subarray([
  ['Connection', 'x-listed'],
  ['x-listed', 'must-go'],
  ['Keep-Alive', 'timeout=5'],
  ['TE', 'trailers'],
  ['weft-client-id', 'spiffe://evil/ns/x/sa/y'],
  ['x-dup', 'one'],
  ['x-dup', 'two'],
  ['Proxy-Connection', 'keep-alive'],
  ['Upgrade', 'h2c'],
] as [string, string][]);

export const validRequest: fc.Arbitrary<GenRequest> = fc
  .record({ method, target, headers: extraHeaders, special: specialHeaders, framing, hostCase: fc.constantFrom('Host', 'host', 'HOST') })
  .map(({ method: m, target: t, headers: hs, special, framing: f, hostCase }) => {
    const headers: [string, string][] = [[hostCase, 'app.example'], ...hs, ...special];
    // `Upgrade: h2c` is only a plain request when Connection does not ask for it (case 12).
    return { method: m, target: t, version: 'HTTP/1.1' as const, headers, framing: m === 'GET' || m === 'HEAD' ? (f.kind === 'chunked' ? { kind: 'none' as const } : f) : f };
  });

/** One mutation that breaks (or bends) the framing or the syntax of a valid request. */
type Mutation = { readonly name: string; readonly verdict: Verdict; readonly apply: (r: GenRequest) => Buffer };

/** The request with a Content-Length body (its own, or `hello`). */
const withBody = (r: GenRequest): GenRequest => {
  if (r.framing.kind === 'cl') return r;
  const body = payload(r).length > 0 ? payload(r) : Buffer.from('hello');
  return { ...r, method: 'POST', framing: { kind: 'cl', body, header: String(body.length) } };
};
const raw = (r: GenRequest, extra: string, at: 'first' | 'last' = 'last'): Buffer => {
  const s = serialize(r).toString('latin1');
  const end = s.indexOf('\r\n\r\n');
  const lineEnd = s.indexOf('\r\n');
  return Buffer.from(at === 'last' ? s.slice(0, end + 2) + extra + s.slice(end + 2) : s.slice(0, lineEnd + 2) + extra + s.slice(lineEnd + 2), 'latin1');
};
const replaceHead = (r: GenRequest, f: (head: string) => string): Buffer => {
  const s = serialize(r).toString('latin1');
  const end = s.indexOf('\r\n\r\n') + 4;
  return Buffer.from(f(s.slice(0, end)) + s.slice(end), 'latin1');
};
const cl = (r: GenRequest) => { const b = withBody(r); return { b, len: payload(b).length }; };
const chunkedOf = (r: GenRequest): GenRequest => ({ ...r, method: 'POST', framing: { kind: 'chunked', chunks: [Buffer.from('hello')], ext: [''], upperHex: false } });

export const MUTATIONS: readonly Mutation[] = [
  {
    name: 'CL and TE together',
    verdict: 'reject',
    apply: (r) => {
      const { b, len } = cl(r);
      const chunks = len > 0 ? [payload(b)] : [];
      return raw({ ...b, framing: { kind: 'chunked', chunks, ext: chunks.map(() => ''), upperHex: false } }, `Content-Length: ${len}\r\n`);
    },
  },
  { name: 'two differing Content-Length', verdict: 'reject', apply: (r) => { const { b, len } = cl(r); return raw(b, `Content-Length: ${len + 1}\r\n`); } },
  { name: 'Content-Length list "n, n+1"', verdict: 'reject', apply: (r) => { const { b, len } = cl(r); return replaceHead(b, (h) => h.replace(/Content-Length: \d+/, `Content-Length: ${len}, ${len + 1}`)); } },
  { name: 'Content-Length with a sign', verdict: 'reject', apply: (r) => { const { b, len } = cl(r); return replaceHead(b, (h) => h.replace(/Content-Length: \d+/, `Content-Length: +${len}`)); } },
  { name: 'TE "chunked, identity"', verdict: 'reject', apply: (r) => replaceHead(chunkedOf(r), (h) => h.replace('Transfer-Encoding: chunked', 'Transfer-Encoding: chunked, identity')) },
  { name: 'TE "xchunked"', verdict: 'reject', apply: (r) => replaceHead(chunkedOf(r), (h) => h.replace('Transfer-Encoding: chunked', 'Transfer-Encoding: xchunked')) },
  { name: 'TE "identity"', verdict: 'reject', apply: (r) => replaceHead(chunkedOf(r), (h) => h.replace('Transfer-Encoding: chunked', 'Transfer-Encoding: identity')) },
  { name: 'TE folded', verdict: 'reject', apply: (r) => replaceHead(chunkedOf(r), (h) => h.replace('Transfer-Encoding: chunked', 'Transfer-Encoding:\r\n chunked')) },
  { name: 'TE twice', verdict: 'reject', apply: (r) => raw(chunkedOf(r), 'Transfer-Encoding: x\r\n') },
  { name: 'bare LF line ending', verdict: 'reject', apply: (r) => replaceHead(r, (h) => h.replace('\r\n', '\n')) },
  { name: 'bare LF inside the header block', verdict: 'reject', apply: (r) => raw(r, 'X-A: 1\nX-B: 2\r\n') },
  { name: 'bare CR line ending', verdict: 'reject', apply: (r) => raw(r, 'X-A: 1\rX-B: 2\r\n') },
  { name: 'whitespace before the colon', verdict: 'reject', apply: (r) => raw(r, 'X-Space : 1\r\n') },
  { name: 'whitespace before the first header name', verdict: 'reject', apply: (r) => raw(r, ' X-Lead: 1\r\n', 'first') },
  { name: 'obs-fold continuation line', verdict: 'reject', apply: (r) => raw(r, 'X-Fold: 1\r\n\tcontinued\r\n') },
  { name: 'header block ended by \\r\\n\\rX', verdict: 'reject', apply: (r) => Buffer.from(`${r.method} / HTTP/1.1\r\nHost: a\r\n\rX`, 'latin1') },
  { name: 'bare LF in a chunk extension', verdict: 'reject', apply: (r) => Buffer.from(serialize(chunkedOf(r)).toString('latin1').replace('\r\n\r\n5\r\n', '\r\n\r\n5;a\nx\r\n'), 'latin1') },
  { name: 'unbounded chunk extension', verdict: 'reject', apply: (r) => Buffer.from(serialize(chunkedOf(r)).toString('latin1').replace('\r\n\r\n5\r\n', `\r\n\r\n5;${'a'.repeat(70_000)}\r\n`), 'latin1') },
  { name: 'chunk size not hex', verdict: 'reject', apply: (r) => Buffer.from(serialize(chunkedOf(r)).toString('latin1').replace('\r\n\r\n5\r\n', '\r\n\r\n5g\r\n'), 'latin1') },
  { name: 'chunk data longer than its size', verdict: 'reject', apply: (r) => Buffer.from(serialize(chunkedOf(r)).toString('latin1').replace('\r\n\r\n5\r\nhello', '\r\n\r\n4\r\nhello'), 'latin1') },
  { name: 'chunk size overflow', verdict: 'reject', apply: (r) => Buffer.from(serialize(chunkedOf(r)).toString('latin1').replace('\r\n\r\n5\r\n', '\r\n\r\nfffffffffffffffff5\r\n'), 'latin1') },
  { name: 'space in a header name', verdict: 'reject', apply: (r) => raw(r, 'X Bad: 1\r\n') },
  { name: 'NUL in a header value', verdict: 'reject', apply: (r) => raw(r, 'X-Nul: a\u0000b\r\n') },
  // RFC 9112 3 lets a recipient split the request line on whitespace: accepting it is allowed.
  { name: 'two spaces in the request line', verdict: 'either', apply: (r) => replaceHead(r, (h) => h.replace(' ', '  ')) },
  { name: 'HTTP/2.0 in the request line', verdict: 'either', apply: (r) => replaceHead(r, (h) => h.replace(' HTTP/1.1\r\n', ' HTTP/2.0\r\n')) },
  { name: 'lower-case version', verdict: 'reject', apply: (r) => replaceHead(r, (h) => h.replace(' HTTP/1.1\r\n', ' http/1.1\r\n')) },
  { name: 'duplicate identical Content-Length', verdict: 'either', apply: (r) => { const { b, len } = cl(r); return raw(b, `Content-Length: ${len}\r\n`); } },
  { name: 'Content-Length list "n, n"', verdict: 'either', apply: (r) => { const { b, len } = cl(r); return replaceHead(b, (h) => h.replace(/Content-Length: \d+/, `Content-Length: ${len}, ${len}`)); } },
  // RFC 9112 3.2 and case 17: a second Host line is refused before routing.
  { name: 'two Host headers', verdict: 'reject', apply: (r) => raw(r, 'Host: other.example\r\n') },
  { name: 'HTTP/1.1 without Host', verdict: 'either', apply: (r) => replaceHead(r, (h) => h.replace(/\r\nhost: app\.example/i, '')) },
  // RFC 9112 7.1.1 allows BWS before `;`; node's parser refuses it.
  { name: 'whitespace before a chunk extension', verdict: 'either', apply: (r) => Buffer.from(serialize(chunkedOf(r)).toString('latin1').replace('\r\n\r\n5\r\n', '\r\n\r\n5 ;a\r\n'), 'latin1') },
  { name: 'unknown method token', verdict: 'either', apply: (r) => replaceHead(r, (h) => h.replace(/^[A-Z]+/, 'FROB')) },
];

/** What the proxy and the upstream must make of a mutated request if it is accepted after all. */
export function mutatedModel(name: string, r: GenRequest): GenRequest | undefined {
  const { b, len } = cl(r);
  switch (name) {
    case 'duplicate identical Content-Length':
    case 'Content-Length list "n, n"':
      return { ...b, framing: { kind: 'cl', body: payload(b), header: String(len) } };
    case 'HTTP/1.1 without Host':
      return { ...r, headers: r.headers.filter(([k]) => k.toLowerCase() !== 'host') };
    case 'unknown method token':
      return { ...r, method: 'FROB' };
    case 'HTTP/2.0 in the request line':
    case 'two spaces in the request line':
      return r;
    case 'whitespace before a chunk extension':
      return chunkedOf(r);
    default:
      return undefined;
  }
}

export const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 3, arbitrary: validRequest.map((req): Case => ({ req, verdict: 'valid', bytes: serialize(req) })) },
  {
    weight: 2,
    arbitrary: fc.tuple(validRequest, fc.nat(MUTATIONS.length - 1)).map(([req, i]): Case => {
      const m = MUTATIONS[i]!;
      const model = m.verdict === 'either' ? mutatedModel(m.name, req) : undefined;
      return { req: model ?? req, mutation: m.name, verdict: m.verdict, bytes: m.apply(req) };
    }),
  },
);

/**
 * A pipelined connection: several requests back to back, any of them broken by a mutation (so a
 * request node's parser refuses may follow requests still in flight, whose responses must come
 * first), and data may follow a request answered with `connection: close`; HTTP/1.0 (which closes)
 * only last.
 */
export function connectionArb() {
  return fc
    .tuple(caseArb, fc.array(caseArb, { maxLength: 3 }), fc.option(validRequest, { freq: 6 }), fc.array(fc.nat(), { maxLength: 2 }))
    .map(([first, rest, last10, splits]) => {
      const all = [first, ...rest];
      if (last10 !== null) {
        const req: GenRequest = { ...last10, version: 'HTTP/1.0', framing: last10.framing.kind === 'chunked' ? { kind: 'none' } : last10.framing, headers: last10.headers.filter(([k]) => k.toLowerCase() !== 'connection') };
        all.push({ req, verdict: 'valid', bytes: serialize(req) });
      }
      return { cases: all, splits };
    });
}

// --- strict parsing -----------------------------------------------------------------------------------

export interface Parsed {
  readonly startLine: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  readonly framing: 'none' | 'cl' | 'chunked';
  /** Bytes this message took. */
  readonly length: number;
}

export type ParseResult = { readonly kind: 'more' } | { readonly kind: 'error'; readonly reason: string } | { readonly kind: 'ok'; readonly msg: Parsed };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses one HTTP/1.1 message from `buf` (latin1 view), strictly: CRLF only, no obs-fold, token
 * names, no whitespace before the colon, one unambiguous framing (RFC 9112 6). `bodyless` marks a
 * response that has no body whatever its headers say (to HEAD, 1xx, 204, 304).
 */
export function parseMessage(buf: Buffer, kind: 'request' | 'response', bodyless = false): ParseResult {
  const s = buf.toString('latin1');
  const end = s.indexOf('\r\n\r\n');
  if (end < 0) return /[^\r]\n|\r[^\n]/.test(s) ? { kind: 'error', reason: 'bare CR or LF' } : { kind: 'more' };
  const lines = s.slice(0, end).split('\r\n');
  const startLine = lines[0]!;
  if (lines.some((l) => /[\r\n]/.test(l))) return { kind: 'error', reason: 'bare CR or LF in the head' };
  if (kind === 'request' && !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [^ ]+ HTTP\/1\.[01]$/.test(startLine)) return { kind: 'error', reason: `bad request line ${JSON.stringify(startLine)}` };
  if (kind === 'response' && !/^HTTP\/1\.[01] \d{3} /.test(startLine + ' ')) return { kind: 'error', reason: `bad status line ${JSON.stringify(startLine)}` };
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return { kind: 'error', reason: `header line without a name: ${JSON.stringify(line)}` };
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return { kind: 'error', reason: `bad header name ${JSON.stringify(name)}` };
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) return { kind: 'error', reason: `control character in ${name}` };
    headers.push([name, value]);
  }
  const get = (n: string) => headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  const te = get('transfer-encoding');
  const clv = get('content-length');
  let pos = end + 4;
  if (kind === 'response') {
    const status = Number(startLine.split(' ')[1]);
    if (bodyless || (status >= 100 && status < 200) || status === 204 || status === 304) {
      return { kind: 'ok', msg: { startLine, headers, body: Buffer.alloc(0), framing: 'none', length: pos } };
    }
  }
  if (te.length > 0) {
    if (clv.length > 0) return { kind: 'error', reason: 'Content-Length with Transfer-Encoding' };
    if (te.length !== 1 || te[0]!.toLowerCase() !== 'chunked') return { kind: 'error', reason: `Transfer-Encoding ${JSON.stringify(te)}` };
    const chunks: Buffer[] = [];
    for (;;) {
      const le = s.indexOf('\r\n', pos);
      if (le < 0) return { kind: 'more' };
      const line = s.slice(pos, le);
      const m = /^([0-9A-Fa-f]{1,15})(;[^\r\n]*)?$/.exec(line);
      if (m === null) return { kind: 'error', reason: `bad chunk size line ${JSON.stringify(line.slice(0, 40))}` };
      const size = parseInt(m[1]!, 16);
      pos = le + 2;
      if (size === 0) {
        // Trailers, then the empty line.
        for (;;) {
          const tl = s.indexOf('\r\n', pos);
          if (tl < 0) return { kind: 'more' };
          const trailer = s.slice(pos, tl);
          pos = tl + 2;
          if (trailer === '') return { kind: 'ok', msg: { startLine, headers, body: Buffer.concat(chunks), framing: 'chunked', length: pos } };
        }
      }
      if (buf.length < pos + size + 2) return { kind: 'more' };
      chunks.push(buf.subarray(pos, pos + size));
      if (s.slice(pos + size, pos + size + 2) !== '\r\n') return { kind: 'error', reason: 'chunk data not followed by CRLF' };
      pos += size + 2;
    }
  }
  if (clv.length > 0) {
    if (clv.length !== 1 || !/^\d{1,15}$/.test(clv[0]!)) return { kind: 'error', reason: `Content-Length ${JSON.stringify(clv)}` };
    const n = Number(clv[0]);
    if (buf.length < pos + n) return { kind: 'more' };
    return { kind: 'ok', msg: { startLine, headers, body: buf.subarray(pos, pos + n), framing: 'cl', length: pos + n } };
  }
  if (kind === 'response') return { kind: 'more' }; // read until close: not used by the proxy's answers
  return { kind: 'ok', msg: { startLine, headers, body: Buffer.alloc(0), framing: 'none', length: pos } };
}

// --- comparison -----------------------------------------------------------------------------------------

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'http2-settings', 'expect']);

/** The headers an accepted request must reach the upstream with, in order, names lower-case. */

export function expectedHeaders(r: GenRequest): [string, string][] {
  const listed = new Set<string>();
  for (const [k, v] of r.headers) {
    if (k.toLowerCase() !== 'connection') continue;
    for (const t of v.split(',')) {
      const tok = t.trim().toLowerCase();
      if (tok !== '' && tok !== 'close' && tok !== 'keep-alive') listed.add(tok);
    }
  }
  const out: [string, string][] = [];
  for (const [k, v] of [...r.headers, ...framingHeaders(r.framing)]) {
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name) || listed.has(name) || name.startsWith('weft-')) continue;
    out.push([name, v.replace(/^[ \t]+|[ \t]+$/g, '')]);
  }
  return out;
}

export function expectedTarget(r: GenRequest): string {
  const m = /^https?:\/\/[^/?]+(.*)$/i.exec(r.target);
  return m === null ? r.target : m[1] === '' ? '/' : m[1]!;
}

/**
 * Differences between what the client sent (an accepted request) and what the upstream received,
 * modulo the documented changes above; empty when they are equivalent.
 */
export function differences(r: GenRequest, got: Parsed, upstreamHost: string): string[] {
  const out: string[] = [];
  const [gm, gt] = got.startLine.split(' ');
  if (gm !== r.method) out.push(`method ${JSON.stringify(gm)} instead of ${JSON.stringify(r.method)}`);
  if (gt !== expectedTarget(r)) out.push(`target ${JSON.stringify(gt)} instead of ${JSON.stringify(expectedTarget(r))}`);
  const body = payload(r);
  if (!got.body.equals(body)) out.push(`body of ${got.body.length} bytes instead of ${body.length}`);
  if (r.framing.kind === 'none' && got.framing === 'chunked') out.push('Transfer-Encoding added to a bodyless request');
  // Host is compared on its own: the upstream client writes it first, wherever it was.
  const all = expectedHeaders(r);
  const absolute = /^https?:\/\/([^/?]+)/i.exec(r.target);
  const hosts = all.filter(([k]) => k === 'host').map(([, v]) => v);
  const wantHosts = absolute !== null ? [absolute[1]!.toLowerCase()] : hosts.length > 0 ? hosts : [upstreamHost];
  const gotHosts = got.headers.filter(([k]) => k.toLowerCase() === 'host').map(([, v]) => v);
  if (JSON.stringify(gotHosts) !== JSON.stringify(wantHosts)) out.push(`Host ${JSON.stringify(gotHosts)} instead of ${JSON.stringify(wantHosts)}`);
  const want = all.filter(([k]) => k !== 'host');
  const gotList = got.headers
    .map(([k, v]): [string, string] => [k.toLowerCase(), v])
    .filter(([k, v]) => {
      if (k === 'host') return false;
      if (k === 'connection' && v.toLowerCase() === 'keep-alive') return false;
      if (k === 'transfer-encoding') return false;
      // Framing the proxy chose: checked through the body above.
      if (k === 'content-length' && r.framing.kind !== 'cl' && (v === '0' || r.framing.kind === 'chunked')) return false;
      return true;
    });
  const a = JSON.stringify(want);
  const b = JSON.stringify(gotList);
  if (a !== b) out.push(`headers ${b} instead of ${a}`);
  return out;
}
