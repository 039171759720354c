/**
 * HTTPRoute's CORS filter (Gateway API HTTPCORSFilter), pure: compiled once, decided per request.
 *
 *   preflight (OPTIONS with Origin and Access-Control-Request-Method) on a rule with the filter
 *     -> answered by the proxy, never forwarded: 204 with the allow headers when the origin is allowed,
 *        204 without any CORS header when it is not (the browser then refuses the real request)
 *   any other request with an allowed Origin
 *     -> forwarded; the response gets Access-Control-Allow-Origin (and -Credentials, -Expose-Headers)
 *   no Origin, or an origin not allowed -> forwarded untouched
 *
 * Origins: `*`, or `scheme://host[:port]` where host may start with `*.` (any number of labels before
 * the rest). The allowed origin is echoed (never `*`), which is valid with and without credentials; a
 * `*` in allowMethods or allowHeaders echoes what the preflight asked for. `Vary: Origin` is added to
 * every answer that depends on the origin. maxAge defaults to 5 seconds, as the API documents.
 */
import type { HTTPCORSFilter } from '../kube.js';
import type { HeaderOps } from './types.js';

export interface CorsOrigin {
  readonly scheme: string;
  /** Lower case; for a wildcard, the part after `*.` (matched as a suffix after a dot). */
  readonly host: string;
  readonly wildcard: boolean;
  /** '' when absent (the scheme's default). */
  readonly port: string;
}

export interface CorsPolicy {
  readonly anyOrigin: boolean;
  readonly origins: readonly CorsOrigin[];
  readonly credentials: boolean;
  readonly anyMethod: boolean;
  readonly methods: readonly string[];
  readonly anyHeader: boolean;
  readonly headers: readonly string[];
  readonly expose: readonly string[];
  readonly maxAge: number;
}

const DEFAULT_PORTS: Readonly<Record<string, string>> = { http: '80', https: '443' };

function parseOrigin(text: string): CorsOrigin | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/(\*\.)?([^/:*?#]+)(?::(\d{1,5}))?$/.exec(text.trim());
  if (m === null) return undefined;
  const scheme = (m[1] as string).toLowerCase();
  const port = m[4] ?? '';
  return { scheme, host: (m[3] as string).toLowerCase(), wildcard: m[2] !== undefined, port: port === DEFAULT_PORTS[scheme] ? '' : port };
}

/** Compiles a CORS filter; each problem is pushed with `at` and the filter is then refused by the caller. */
export function compileCors(f: HTTPCORSFilter | undefined, at: string, problems: string[]): CorsPolicy | undefined {
  if (f === undefined) {
    problems.push(`${at}: CORS needs cors`);
    return undefined;
  }
  const before = problems.length;
  const origins: CorsOrigin[] = [];
  let anyOrigin = false;
  for (const o of f.allowOrigins ?? []) {
    if (o === '*') { anyOrigin = true; continue; }
    const parsed = parseOrigin(o);
    if (parsed === undefined) problems.push(`${at}: allowOrigins entry ${JSON.stringify(o)} is not scheme://host[:port] (host may start with *.)`);
    else origins.push(parsed);
  }
  const methods = [...new Set(f.allowMethods ?? [])];
  const headers = [...new Set((f.allowHeaders ?? []).map((h) => h.toLowerCase()))];
  const maxAge = f.maxAge ?? 5;
  if (!Number.isInteger(maxAge) || maxAge < 0) problems.push(`${at}: maxAge ${String(f.maxAge)} is not a non-negative integer`);
  if (problems.length !== before) return undefined;
  return {
    anyOrigin, origins, credentials: f.allowCredentials === true,
    anyMethod: methods.includes('*'), methods: methods.filter((m) => m !== '*'),
    anyHeader: headers.includes('*'), headers: headers.filter((h) => h !== '*'),
    expose: [...new Set(f.exposeHeaders ?? [])], maxAge,
  };
}

/** Whether an Origin header value is allowed by the policy. */
export function corsOriginAllowed(p: CorsPolicy, origin: string): boolean {
  if (p.anyOrigin) return origin !== '';
  const o = parseOrigin(origin);
  if (o === undefined || o.wildcard) return false;
  return p.origins.some((a) => a.scheme === o.scheme && a.port === o.port
    && (a.wildcard ? o.host.endsWith(`.${a.host}`) : a.host === o.host));
}

const first = (headers: ReadonlyMap<string, readonly string[]>, name: string): string | undefined => headers.get(name)?.[0];

export type CorsOutcome =
  /** A preflight: the proxy answers it with this status and these headers. */
  | { readonly kind: 'preflight'; readonly status: number; readonly headers: HeaderOps }
  /** An allowed cross-origin request: forward it and apply these to the response. */
  | { readonly kind: 'actual'; readonly headers: HeaderOps };

/** What the CORS filter does to one request; undefined: nothing (no Origin). */
export function corsOutcome(p: CorsPolicy, method: string, headers: ReadonlyMap<string, readonly string[]>): CorsOutcome | undefined {
  const origin = first(headers, 'origin');
  if (origin === undefined || origin === '') return undefined;
  const requestedMethod = first(headers, 'access-control-request-method');
  const allowed = corsOriginAllowed(p, origin);
  const vary: [string, string][] = [['vary', 'Origin']];
  const common: [string, string][] = allowed
    ? [['access-control-allow-origin', origin], ...(p.credentials ? [['access-control-allow-credentials', 'true'] as [string, string]] : [])]
    : [];
  const expose: [string, string][] = allowed && p.expose.length > 0 ? [['access-control-expose-headers', p.expose.join(', ')]] : [];
  if (method === 'OPTIONS' && requestedMethod !== undefined) {
    if (!allowed) return { kind: 'preflight', status: 204, headers: { set: [], add: vary, remove: [] } };
    const requestedHeaders = first(headers, 'access-control-request-headers');
    const allowMethods = p.anyMethod ? requestedMethod : p.methods.join(', ');
    const allowHeaders = p.anyHeader ? (requestedHeaders ?? '') : p.headers.join(', ');
    const set: [string, string][] = [
      ...common,
      ...(allowMethods !== '' ? [['access-control-allow-methods', allowMethods] as [string, string]] : []),
      ...(allowHeaders !== '' ? [['access-control-allow-headers', allowHeaders] as [string, string]] : []),
      ...expose,
      ['access-control-max-age', String(p.maxAge)],
    ];
    return { kind: 'preflight', status: 204, headers: { set, add: vary, remove: [] } };
  }
  if (!allowed) return undefined;
  return { kind: 'actual', headers: { set: [...common, ...expose], add: vary, remove: [] } };
}

/** The policy back in the API's shape (the controller sends this; the proxy compiles it again). */
export function corsFilterOf(p: CorsPolicy): Required<Pick<HTTPCORSFilter, 'allowOrigins' | 'allowCredentials' | 'allowMethods' | 'allowHeaders' | 'exposeHeaders' | 'maxAge'>> {
  return {
    allowOrigins: [...(p.anyOrigin ? ['*'] : []), ...p.origins.map((o) => `${o.scheme}://${o.wildcard ? '*.' : ''}${o.host}${o.port !== '' ? `:${o.port}` : ''}`)],
    allowCredentials: p.credentials,
    allowMethods: [...(p.anyMethod ? ['*'] : []), ...p.methods],
    allowHeaders: [...(p.anyHeader ? ['*'] : []), ...p.headers],
    exposeHeaders: [...p.expose],
    maxAge: p.maxAge,
  };
}
