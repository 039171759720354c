/**
 * Header hygiene at each hop (security cases 10, 13, 15, 16):
 * - hop-by-hop headers (RFC 9110 7.6.1) and every header named in `Connection` are removed, so a
 *   client cannot use `Connection:` to drop a header the proxy adds (the proxy adds its own after);
 * - client-sent `weft-*` headers are removed on both sides: Weft's proxy-to-proxy protocol carries no
 *   request header today, so nothing under the prefix is trusted from a client;
 * - values the proxy writes itself are checked for CR, LF and NUL once, where they are made.
 */
import { RESERVED_HEADER_PREFIX } from '../core/contract.js';

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'http2-settings',
  // The downstream server already answered `100 Continue`; undici would refuse to forward it.
  'expect',
]);

/** True for a name the proxy must not forward: hop-by-hop or reserved. `name` is lower-case. */
export function isStripped(name: string): boolean {
  return HOP_BY_HOP.has(name) || name.startsWith(RESERVED_HEADER_PREFIX);
}

/** Names listed in Connection header values (lower-case); empty for the usual keep-alive/close. */
function connectionTokens(raw: readonly string[]): Set<string> | undefined {
  let out: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'connection') continue;
    for (const t of raw[i + 1]!.split(',')) {
      const tok = t.trim().toLowerCase();
      if (tok !== '' && tok !== 'close' && tok !== 'keep-alive') (out ??= new Set()).add(tok);
    }
  }
  return out;
}

export interface ForwardedHeaders {
  /** Flat [name, value, ...] for undici, names lower-case. */
  readonly headers: string[];
  /** The Content-Length value, or -1 when absent. */
  readonly contentLength: number;
  readonly chunked: boolean;
  /** Index in `headers` of the host value, or -1. */
  readonly hostIndex: number;
  /** The Transfer-Encoding value as received (node joins repeated ones), or undefined. */
  readonly transferEncoding: string | undefined;
  /**
   * The name of a single-value header the request repeats ambiguously (case 17), or undefined: Host
   * twice (RFC 9112 3.2), or Content-Length with differing values. An identical repeated
   * Content-Length is forwarded once.
   */
  readonly repeated: string | undefined;
}

/**
 * Filters node's `rawHeaders` ([name, value, ...]) into the flat list undici sends upstream, noting
 * the body framing on the way (node's parser has already rejected ambiguous framing, cases 1-8).
 */
export function forwardRequestHeaders(raw: readonly string[]): ForwardedHeaders {
  const listed = connectionTokens(raw);
  const out: string[] = [];
  let contentLength = -1;
  let chunked = false;
  let hostIndex = -1;
  let transferEncoding: string | undefined;
  let repeated: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'transfer-encoding') {
      chunked = true;
      transferEncoding = transferEncoding === undefined ? raw[i + 1]! : `${transferEncoding}, ${raw[i + 1]!}`;
    }
    if (isStripped(name) || (listed !== undefined && listed.has(name))) continue;
    const value = raw[i + 1]!;
    if (name === 'content-length') {
      if (contentLength >= 0) {
        if (Number(value) !== contentLength) repeated ??= name;
        continue;
      }
      contentLength = Number(value);
    } else if (name === 'host') {
      if (hostIndex >= 0) repeated ??= name;
      hostIndex = out.length + 1;
    }
    out.push(name, value);
  }
  return { headers: out, contentLength, chunked, hostIndex, transferEncoding, repeated };
}

/** An upgrade request is forwarded only as a bodiless GET: no Content-Length above 0, no Transfer-Encoding. */
export function isBodilessGet(method: string | undefined, f: ForwardedHeaders): boolean {
  return method === 'GET' && !f.chunked && f.contentLength <= 0;
}

/**
 * Whether the request's framing is unambiguous enough to forward (cases 1-3, on top of node's parser,
 * which emits the request before it has checked the Transfer-Encoding value): the only transfer
 * coding accepted is exactly `chunked`, and no single-value header (Host, Content-Length) is
 * repeated ambiguously (case 17). Both listeners answer 400 otherwise, before routing, so such a
 * request is never forwarded, retried or counted against an endpoint.
 */
export function hasSafeFraming(f: ForwardedHeaders): boolean {
  if (f.repeated !== undefined) return false;
  return f.transferEncoding === undefined || f.transferEncoding.trim().toLowerCase() === 'chunked';
}

/**
 * The origin-form target to send upstream. An absolute-form target's authority replaces Host
 * (RFC 9112 3.2.2; case 14). Returns undefined for a target that cannot be parsed.
 */
export function originForm(target: string, f: ForwardedHeaders): string | undefined {
  // Asterisk-form (`OPTIONS *`) names no path: refused like authority-form (core/path.ts).
  if (target[0] === '/') return target;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (f.hostIndex >= 0) f.headers[f.hostIndex] = u.host;
  else f.headers.push('host', u.host);
  return `${u.pathname}${u.search}`;
}

/**
 * Validates an HTTP/2 request's fields before anything is forwarded (cases 11 and 32): names must be
 * lower-case tokens (pseudo-headers aside), values free of CR, LF and NUL, the list within `maxBytes`
 * (RFC 9113 6.5.2 size: name + value + 32 per field). Returns 'ok', 'malformed' or 'too-large'.
 */
export function checkH2Fields(headers: Record<string, string | string[] | undefined>, maxBytes: number): 'ok' | 'malformed' | 'too-large' {
  let size = 0;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (name[0] !== ':' && !isTokenName(name)) return 'malformed';
    if (Array.isArray(v)) {
      for (const x of v) {
        if (UNSAFE_VALUE.test(x)) return 'malformed';
        size += name.length + x.length + 32;
      }
    } else {
      if (UNSAFE_VALUE.test(v)) return 'malformed';
      size += name.length + v.length + 32;
    }
  }
  return size > maxBytes ? 'too-large' : 'ok';
}

/** Response headers from undici's parsed object, minus hop-by-hop and Connection-listed ones. */
export function forwardResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const conn = headers['connection'];
  let listed: Set<string> | undefined;
  if (conn !== undefined) {
    for (const t of (Array.isArray(conn) ? conn.join(',') : conn).split(',')) {
      const tok = t.trim().toLowerCase();
      if (tok !== '' && tok !== 'close' && tok !== 'keep-alive') (listed ??= new Set()).add(tok);
    }
  }
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || HOP_BY_HOP.has(name) || (listed !== undefined && listed.has(name))) continue;
    out[name] = v;
  }
  return out;
}

/** HTTP/2 request headers forwarded upstream: pseudo-headers kept, reserved and hop-by-hop removed. */
export function forwardH2Headers(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined || isStripped(name)) continue;
    out[name] = v;
  }
  return out;
}

const UNSAFE_VALUE = /[\r\n\0]/;

/** Whether a value the proxy writes itself is safe to emit (case 10). */
export function isSafeHeaderValue(v: string): boolean {
  return !UNSAFE_VALUE.test(v);
}

/** A valid header name token (RFC 9110 5.1), lower-case expected. */
export function isTokenName(v: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(v);
}

/**
 * Applies header operations (a route's Request/ResponseHeaderModifier) to a header record with
 * lower-case names: per operation set, add, remove, in order. Names that are not tokens and values
 * with CR, LF or NUL are never written (case 10).
 */
export function applyResponseHeaderOps(headers: Record<string, string | string[]>, list: readonly HeaderOpsLike[]): void {
  for (const ops of list) {
    for (const [k, v] of ops.set ?? []) {
      const name = k.toLowerCase();
      if (isTokenName(name) && isSafeHeaderValue(v)) headers[name] = v;
    }
    for (const [k, v] of ops.add ?? []) {
      const name = k.toLowerCase();
      if (!isTokenName(name) || !isSafeHeaderValue(v)) continue;
      const cur = headers[name];
      headers[name] = cur === undefined ? v : [...(Array.isArray(cur) ? cur : [cur]), v];
    }
    for (const name of ops.remove ?? []) delete headers[name.toLowerCase()];
  }
}

/** Applies header operations to a flat [name, value, ...] list (lower-case names), like the above. */
export function applyFlatHeaderOps(headers: string[], list: readonly HeaderOpsLike[]): void {
  const drop = (name: string) => {
    for (let i = headers.length - 2; i >= 0; i -= 2) if (headers[i] === name) headers.splice(i, 2);
  };
  for (const ops of list) {
    for (const [k, v] of ops.set ?? []) {
      const name = k.toLowerCase();
      if (!isTokenName(name) || !isSafeHeaderValue(v)) continue;
      drop(name);
      headers.push(name, v);
    }
    for (const [k, v] of ops.add ?? []) {
      const name = k.toLowerCase();
      if (isTokenName(name) && isSafeHeaderValue(v)) headers.push(name, v);
    }
    for (const name of ops.remove ?? []) drop(name.toLowerCase());
  }
}

interface HeaderOpsLike {
  readonly set?: readonly (readonly [string, string])[];
  readonly add?: readonly (readonly [string, string])[];
  readonly remove?: readonly string[];
}

/** HTTP/2 request headers as a flat list for route matching (pseudo-headers left out). */
export function h2FlatHeaders(h: Record<string, string | string[]>): string[] {
  const out: string[] = [];
  for (const name in h) {
    if (name[0] === ':') continue;
    const v = h[name]!;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return out;
}

/**
 * An HTTP/2 request's forwarded fields (forwardH2Headers, plan applied) as an HTTP/1.1 header list, for
 * a gateway that translates (core/gateway/upstream-protocol.ts): `:authority` becomes Host (a `host`
 * field beside it is dropped, RFC 9113 8.3.1), the other pseudo-headers go (method and target are the
 * request line), and the cookie fields HTTP/2 may split are joined with "; " (RFC 9113 8.2.3).
 */
export function http1HeadersOfH2(h: Record<string, string | string[]>): string[] {
  const out: string[] = [];
  const authority = h[':authority'];
  const host = typeof authority === 'string' && authority !== '' ? authority : undefined;
  if (host !== undefined) out.push('host', host);
  for (const name in h) {
    if (name[0] === ':' || (name === 'host' && host !== undefined)) continue;
    const v = h[name]!;
    if (name === 'cookie' && Array.isArray(v)) out.push(name, v.join('; '));
    else if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return out;
}

/** Replaces the Host of a flat HTTP/1 header list (a URLRewrite hostname), adding it when absent. */
export function setHost(headers: string[], host: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'host') {
      headers[i + 1] = host;
      return;
    }
  }
  headers.push('host', host);
}

/**
 * The inbound rule for request header names holding `_` (security-cases W3): CGI-style servers map
 * `-` and `_` to the same variable, so `weft_client_id` could shadow the identity header. 'drop'
 * removes them in place, 'allow' keeps them; returns false when the action is 'reject' and one is
 * present (the caller answers 400). Runs before the proxy adds the identity header.
 */
export function applyUnderscoreRule(headers: string[], action: 'drop' | 'reject' | 'allow'): boolean {
  if (action === 'allow') return true;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (!headers[i]!.includes('_')) continue;
    if (action === 'reject') return false;
    headers.splice(i, 2);
  }
  return true;
}

/** The same rule for an HTTP/2 header object (pseudo-headers never hold `_` legitimately either). */
export function applyUnderscoreRuleH2(headers: Record<string, unknown>, action: 'drop' | 'reject' | 'allow'): boolean {
  if (action === 'allow') return true;
  for (const name of Object.keys(headers)) {
    if (name[0] === ':' || !name.includes('_')) continue;
    if (action === 'reject') return false;
    delete headers[name];
  }
  return true;
}
