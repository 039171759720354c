/**
 * The one request-target normalisation of Weft. Routing (outbound and inbound) and authorization
 * both match on its output, and the proxy forwards its output, so the app sees exactly the path
 * that was matched (security cases 19-23).
 *
 * Decisions:
 * - Forms: origin-form (`/p?q`) and absolute-form (`http://host/p?q`, scheme http or https, any
 *   case; the authority is returned separately, an empty path becomes `/`). Asterisk-form (`*`),
 *   authority-form (CONNECT) and anything else are rejected: routes cannot say anything about them.
 * - Fragments are REJECTED: a client never sends `#` on the wire (RFC 9110 4.1), so one is an
 *   attack probe or a broken client; stripping would let two different targets reach one decision
 *   silently (case 20).
 * - Percent-encoding: an encoded unreserved character (ALPHA DIGIT - . _ ~) is decoded; every other
 *   escape keeps its encoding with uppercase hex. So `%2e%2e` becomes `..` before dot-segment
 *   removal, and `%252e` stays `%252e` (decoded once, never twice: double encoding cannot produce a
 *   dot segment). Malformed escapes (`%`, `%4`, `%zz`) are rejected.
 * - `%2F` and `%5C` are REJECTED. Kept encoded, an app that decodes them would see a different
 *   path structure than the one routed and authorized (`/public%2F..%2Fadmin`); decoded, they
 *   would change the meaning of paths whose segments legitimately hold them. Rejecting is the only
 *   choice where the proxy and every app agree (cases 19, 23). A raw `\` is rejected for the same
 *   reason (some servers treat it as a separator).
 * - `//` runs merge into one `/`; `.` and `..` segments are resolved and `..` never climbs above
 *   the root. A trailing slash is kept (`/a/` stays `/a/`; `/a/.` becomes `/a/`).
 * - `;` parameters are ordinary segment characters (`/a;x=1` is the segment `a;x=1`: it neither
 *   equals `/a` nor matches the PathPrefix `/a`), except that a segment that is a dot segment up to
 *   its first `;` (`..;`, `.;x`) is rejected, since servlet containers resolve it as `..` (the
 *   classic `/public/..;/admin` bypass).
 * - Characters outside the RFC 3986 path set (e.g. `"`, `<`, `|`, non-ASCII) are percent-encoded
 *   (UTF-8); control characters and spaces are rejected.
 * - The query is returned without its `?`, unchanged except that control characters, spaces and
 *   `#` are rejected; query values are decoded by core/request.ts when matched.
 * - Bounded: a target longer than MAX_TARGET_LENGTH is rejected before any work (case 36), and so
 *   is a target whose normalised form (`path` plus `?query`) is longer: percent-encoding can grow a
 *   target up to nine times, and an output above the limit would be refused by the next hop that
 *   normalises it.
 *
 * Invariant: normalising a returned `path + (query ? '?' + query : '')` again returns it unchanged.
 */

/** 8 KiB: the common default request-line limit of proxies; longer targets are refused outright. */
export const MAX_TARGET_LENGTH = 8192;

export type NormalizedTarget = {
  readonly ok: true;
  /** Starts with `/`; no `//`, no dot segments, no encoded unreserved characters, uppercase hex. */
  readonly path: string;
  /** Raw query without `?`; empty when absent. */
  readonly query: string;
  /** Present for absolute-form targets: the authority as written (not normalised). */
  readonly authority?: string;
};

export type BadTarget = { readonly ok: false; readonly code: 'bad-target'; readonly reason: string };

const HEX = '0123456789ABCDEF';

function bad(reason: string): BadTarget {
  return { ok: false, code: 'bad-target', reason };
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x7e
  );
}

/** pchar minus `%` plus `/`: sub-delims, `:`, `@`, unreserved. */
function isPathChar(c: number): boolean {
  if (isUnreserved(c)) return true;
  switch (c) {
    case 0x21: // !
    case 0x24: // $
    case 0x26: // &
    case 0x27: // '
    case 0x28: // (
    case 0x29: // )
    case 0x2a: // *
    case 0x2b: // +
    case 0x2c: // ,
    case 0x3b: // ;
    case 0x3d: // =
    case 0x3a: // :
    case 0x40: // @
    case 0x2f: // /
      return true;
    default:
      return false;
  }
}

function encodeByte(b: number): string {
  return '%' + HEX[b >> 4]! + HEX[b & 15]!;
}

/** Percent-encoding pass over the raw path: returns the canonical escaped form or a reason. */
function canonicalEscapes(raw: string): string | BadTarget {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return bad('malformed percent-encoding in path');
      const b = hi * 16 + lo;
      if (b === 0x2f) return bad('encoded slash (%2F) in path is refused');
      if (b === 0x5c) return bad('encoded backslash (%5C) in path is refused');
      out += isUnreserved(b) ? String.fromCharCode(b) : encodeByte(b);
      i += 2;
    } else if (c <= 0x20 || c === 0x7f) {
      return bad('control character or space in path');
    } else if (c === 0x5c) {
      return bad('backslash in path is refused');
    } else if (isPathChar(c)) {
      out += raw[i]!;
    } else if (c < 0x80) {
      out += encodeByte(c);
    } else {
      // Non-ASCII: encode its UTF-8 bytes (a lone surrogate is malformed input).
      const cp = raw.codePointAt(i)!;
      if (cp >= 0xd800 && cp <= 0xdfff) return bad('invalid character in path');
      const ch = String.fromCodePoint(cp);
      for (const b of new TextEncoder().encode(ch)) out += encodeByte(b);
      if (cp > 0xffff) i++;
    }
  }
  return out;
}

/** Merges `//`, resolves `.` and `..` (never above root), keeps a trailing slash. */
function removeDotSegments(path: string): string | BadTarget {
  const input = path.split('/');
  const out: string[] = [];
  let trailingSlash = false;
  // input[0] is '' (path starts with '/').
  for (let i = 1; i < input.length; i++) {
    const seg = input[i]!;
    const last = i === input.length - 1;
    const semi = seg.indexOf(';');
    if (semi >= 0) {
      const head = seg.slice(0, semi);
      if (head === '.' || head === '..') return bad('dot segment with ";" parameters is refused');
    }
    if (seg === '' || seg === '.') {
      trailingSlash = last;
      continue;
    }
    if (seg === '..') {
      out.pop();
      trailingSlash = last;
      continue;
    }
    out.push(seg);
    trailingSlash = false;
  }
  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}

function checkQuery(query: string): BadTarget | undefined {
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return bad('control character or space in query');
  }
  return undefined;
}

/**
 * Normalises an HTTP request target (the request line's target, or HTTP/2 `:path`). Never throws.
 */
export function normalizeRequestTarget(target: string): NormalizedTarget | BadTarget {
  if (typeof target !== 'string' || target.length === 0) return bad('empty request target');
  if (target.length > MAX_TARGET_LENGTH) {
    return bad(`request target longer than ${MAX_TARGET_LENGTH} characters`);
  }
  if (target.includes('#')) return bad('fragment in request target is refused');

  let rest = target;
  let authority: string | undefined;
  if (target.charCodeAt(0) !== 0x2f) {
    const m = /^(https?):\/\/([^/?]*)/i.exec(target);
    if (m === null) return bad('request target is neither origin-form nor absolute-form');
    authority = m[2]!;
    if (authority.length === 0) return bad('absolute-form target without authority');
    rest = target.slice(m[0].length);
    if (rest.length === 0 || rest.charCodeAt(0) === 0x3f) rest = '/' + rest;
  }

  const q = rest.indexOf('?');
  const rawPath = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const queryError = checkQuery(query);
  if (queryError) return queryError;

  const escaped = canonicalEscapes(rawPath);
  if (typeof escaped !== 'string') return escaped;
  const path = removeDotSegments(escaped);
  if (typeof path !== 'string') return path;
  const outputLength = path.length + (query === '' ? 0 : query.length + 1);
  if (outputLength > MAX_TARGET_LENGTH) {
    return bad(`normalised request target longer than ${MAX_TARGET_LENGTH} characters`);
  }

  return authority === undefined
    ? { ok: true, path, query }
    : { ok: true, path, query, authority };
}
