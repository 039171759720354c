/**
 * RequestInfo: what every routing and authorization decision may look at, built once per request
 * from the raw pieces the proxy read off the wire.
 *
 * Model and invariants:
 * - `path` and `rawQuery` come from core/path.ts (one normalisation for routing and authorization).
 * - `headers`: lowercased name -> every value in arrival order. Nothing is merged or dropped, so a
 *   decision can consider all values of a repeated header (security case 17). Route matching
 *   requires EVERY value of a repeated header to satisfy a match (core/routes/match.ts).
 * - `query`: name (case-sensitive) -> every value, percent-decoded (`+` stays `+`); a malformed
 *   escape keeps the raw text.
 * - `authority`: lowercased, trailing dot removed (`Echo.NS.` and `echo.ns` are one host, case 22),
 *   port kept. Taken from an absolute-form target first, then `:authority`, then `Host`; more than
 *   one Host value is rejected.
 * - `grpc` is set for `application/grpc*` requests whose path is `/<service>/<method>`.
 * - Building never throws: bad input is a typed error value.
 */

import { normalizeRequestTarget } from './path.js';

export interface GrpcCall {
  readonly service: string;
  readonly method: string;
}

export interface RequestInfo {
  /** As sent (methods are case-sensitive, RFC 9110 9.1). */
  readonly method: string;
  readonly path: string;
  readonly rawQuery: string;
  readonly query: ReadonlyMap<string, readonly string[]>;
  readonly headers: ReadonlyMap<string, readonly string[]>;
  /** `host[:port]`, normalised; empty when the request carried none. */
  readonly authority: string;
  /** `authority` without its port. */
  readonly host: string;
  readonly port?: number;
  readonly grpc?: GrpcCall;
}

export type RawHeaders =
  | readonly (readonly [string, string])[]
  | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface RawRequest {
  readonly method: string;
  /** The request target (HTTP/1) or `:path` (HTTP/2). */
  readonly target: string;
  readonly headers: RawHeaders;
  /** HTTP/2 `:authority`. */
  readonly authority?: string;
}

export type RequestError = {
  readonly ok: false;
  readonly code: 'bad-target' | 'bad-authority' | 'bad-method';
  readonly reason: string;
};

export type RequestResult = { readonly ok: true; readonly request: RequestInfo } | RequestError;

function collectHeaders(raw: RawHeaders): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  };
  if (Array.isArray(raw)) {
    for (const [name, value] of raw as readonly (readonly [string, string])[]) add(name, value);
  } else {
    for (const [name, value] of Object.entries(raw as Record<string, string | readonly string[] | undefined>)) {
      if (value === undefined) continue;
      if (typeof value === 'string') add(name, value);
      else for (const v of value) add(name, v);
    }
  }
  return out;
}

function decodeComponent(s: string): string {
  if (!s.includes('%')) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Parses a raw query into name -> values (multi-valued, in order). */
export function parseQuery(rawQuery: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (rawQuery.length === 0) return out;
  for (const part of rawQuery.split('&')) {
    if (part.length === 0) continue;
    const eq = part.indexOf('=');
    const name = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeComponent(part.slice(eq + 1));
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

export type AuthorityParts = { readonly authority: string; readonly host: string; readonly port?: number };

/** Lowercases, drops a trailing dot from the host, validates the port. `undefined` when malformed. */
export function normalizeAuthority(raw: string): AuthorityParts | undefined {
  const a = raw.trim().toLowerCase();
  if (a.length === 0) return { authority: '', host: '' };
  if (a.includes('@') || /[\s/?#\\]/.test(a)) return undefined;
  let host: string;
  let portText: string | undefined;
  if (a.startsWith('[')) {
    const close = a.indexOf(']');
    if (close < 0) return undefined;
    host = a.slice(0, close + 1);
    const rest = a.slice(close + 1);
    if (rest.length > 0) {
      if (!rest.startsWith(':')) return undefined;
      portText = rest.slice(1);
    }
  } else {
    const colon = a.lastIndexOf(':');
    if (colon >= 0) {
      host = a.slice(0, colon);
      portText = a.slice(colon + 1);
    } else {
      host = a;
    }
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0) return undefined;
  if (portText === undefined || portText === '') return { authority: host, host };
  if (!/^[0-9]{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  return { authority: `${host}:${port}`, host, port };
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Builds a RequestInfo from raw request pieces. Never throws. */
export function makeRequestInfo(raw: RawRequest): RequestResult {
  if (typeof raw.method !== 'string' || !TOKEN.test(raw.method)) {
    return { ok: false, code: 'bad-method', reason: 'method is not an HTTP token' };
  }
  const target = normalizeRequestTarget(raw.target);
  if (!target.ok) return { ok: false, code: 'bad-target', reason: target.reason };
  const headers = collectHeaders(raw.headers);

  let authorityRaw: string | undefined = target.authority ?? raw.authority;
  if (authorityRaw === undefined) {
    const hostValues = headers.get('host');
    if (hostValues && hostValues.length > 1) {
      return { ok: false, code: 'bad-authority', reason: 'more than one Host header' };
    }
    authorityRaw = hostValues?.[0];
  }
  const authority = normalizeAuthority(authorityRaw ?? '');
  if (authority === undefined) {
    return { ok: false, code: 'bad-authority', reason: `malformed authority ${JSON.stringify(authorityRaw)}` };
  }

  let grpc: GrpcCall | undefined;
  const contentType = headers.get('content-type')?.[0]?.toLowerCase();
  if (contentType?.startsWith('application/grpc')) {
    const parts = target.path.split('/');
    if (parts.length === 3 && parts[1] !== '' && parts[2] !== '') {
      grpc = { service: parts[1]!, method: parts[2]! };
    }
  }

  const request: RequestInfo = {
    method: raw.method,
    path: target.path,
    rawQuery: target.query,
    query: parseQuery(target.query),
    headers,
    authority: authority.authority,
    host: authority.host,
    ...(authority.port !== undefined ? { port: authority.port } : {}),
    ...(grpc !== undefined ? { grpc } : {}),
  };
  return { ok: true, request };
}
