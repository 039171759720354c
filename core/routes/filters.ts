/**
 * Request-time filter arithmetic: header operations, URL rewrites and redirect Locations. Pure
 * string work on already-validated compiled filters; no allocation beyond the results.
 *
 * Rules (HTTPRoute spec):
 * - Header names are case-insensitive (stored lowercase). `set` replaces every value, `add` appends
 *   one value after the existing ones, `remove` drops every value. Within one filter: set, add,
 *   remove, in that order; filters apply in declaration order, rule-level before backend-level.
 * - ReplacePrefixMatch replaces the matched PathPrefix per segment: prefix `/foo`, replacement
 *   `/xyz`: `/foo/bar` -> `/xyz/bar`, `/foo` -> `/xyz`, `/foo/` -> `/xyz/`; replacement `/`:
 *   `/foo/bar` -> `/bar`, `/foo` -> `/`. A trailing slash on the replacement never doubles one.
 *   ReplaceFullPath replaces the whole path. The query is kept either way.
 * - Redirect Location = scheme://host[:port]path[?query]. scheme defaults to the request's;
 *   host to the request's host (port stripped); port to the redirect's port, else the well-known
 *   port of a redirect scheme (http 80, https 443), else the Service port the client dialled (the
 *   mesh's "listener port"). The port is omitted when it is the scheme's default (http 80, https 443).
 */

import type { FaultSpec } from './fault.js';
import { corsOutcome } from './cors.js';
import type { CompiledFilter, CompiledMatch, HeaderOps, PathModifier, ServiceTarget } from './types.js';

export type HeaderMap = Map<string, string[]>;

/** Applies header operations in order, mutating and returning `headers` (lowercased keys). */
export function applyHeaderOps(headers: HeaderMap, opsList: readonly HeaderOps[]): HeaderMap {
  for (const ops of opsList) {
    for (const [name, value] of ops.set) headers.set(name, [value]);
    for (const [name, value] of ops.add) {
      const list = headers.get(name);
      if (list) list.push(value);
      else headers.set(name, [value]);
    }
    for (const name of ops.remove) headers.delete(name);
  }
  return headers;
}

/** Per-segment prefix replacement; `prefix` has no trailing slash (except `/`). */
export function replacePrefix(path: string, prefix: string, replacement: string): string {
  const rest = prefix === '/' ? path : path.slice(prefix.length);
  const repl = replacement.endsWith('/') ? replacement.slice(0, -1) : replacement;
  const out = repl + rest;
  if (out === '') return '/';
  return out.startsWith('/') ? out : '/' + out;
}

/** The path after a path modifier, given the match that selected the rule. */
export function modifyPath(path: string, mod: PathModifier | undefined, match: CompiledMatch): string {
  if (mod === undefined) return path;
  if (mod.kind === 'full') return mod.value;
  const p = match.path;
  // Compile time guarantees a PathPrefix match for ReplacePrefixMatch.
  if (p?.kind !== 'prefix') return path;
  return replacePrefix(path, p.value, mod.value);
}

export function defaultPort(scheme: string): number | undefined {
  return scheme === 'http' ? 80 : scheme === 'https' ? 443 : undefined;
}

export interface RedirectInput {
  readonly scheme?: string;
  readonly hostname?: string;
  readonly port?: number;
  readonly path?: PathModifier;
}

export interface RedirectContext {
  /** Scheme of the request as the client sent it (mesh traffic: `http`). */
  readonly requestScheme: string;
  /** Request host without port; may be empty. */
  readonly requestHost: string;
  /** Used when the request carried no host. */
  readonly fallbackHost: string;
  /** The Service port the client dialled. */
  readonly listenerPort: number;
  readonly path: string;
  readonly rawQuery: string;
}

export function redirectLocation(r: RedirectInput, match: CompiledMatch, ctx: RedirectContext): string {
  const scheme = r.scheme ?? ctx.requestScheme;
  const host = r.hostname ?? (ctx.requestHost !== '' ? ctx.requestHost : ctx.fallbackHost);
  const port = r.port ?? (r.scheme !== undefined ? defaultPort(r.scheme) : undefined) ?? ctx.listenerPort;
  const path = modifyPath(ctx.path, r.path, match);
  const portPart = port === defaultPort(scheme) ? '' : `:${port}`;
  const query = ctx.rawQuery !== '' ? `?${ctx.rawQuery}` : '';
  return `${scheme}://${host}${portPart}${path}${query}`;
}

/** What a rule's filters have done to a request so far (both sides of the mesh accumulate into one). */
export interface FilterEffects {
  readonly req: HeaderOps[];
  readonly res: HeaderOps[];
  readonly mirrors: { readonly target: ServiceTarget; readonly numerator: number; readonly denominator: number }[];
  /** FaultInjection filters, in the order they apply (core/routes/fault.ts decides them). */
  readonly faults: FaultSpec[];
  path: string;
  authority: string;
  pathRewritten: boolean;
  hostRewritten: boolean;
}

export function startEffects(path: string, authority: string): FilterEffects {
  return { req: [], res: [], mirrors: [], faults: [], path, authority, pathRewritten: false, hostRewritten: false };
}

/** What the proxy answers itself instead of forwarding: a redirect, or a CORS preflight's answer. */
export type DirectAnswer =
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string }
  | { readonly kind: 'preflight'; readonly status: number; readonly headers: HeaderOps };

/**
 * Applies one filter list in order into `acc`; returns the answer when the list answers the request
 * itself: a redirect (the Location composed from `redirect` and the path rewritten so far) or a CORS
 * preflight. Unsupported filters are the caller's to refuse before this runs. `request` (method and
 * headers) is what CORS looks at; without it the CORS filter does nothing.
 */
export function applyFilterList(
  filters: readonly CompiledFilter[],
  acc: FilterEffects,
  match: CompiledMatch,
  redirect: Omit<RedirectContext, 'path'> & { readonly request?: { readonly method: string; readonly headers: ReadonlyMap<string, readonly string[]> } },
): DirectAnswer | undefined {
  for (const f of filters) {
    switch (f.kind) {
      case 'requestHeaders':
        acc.req.push(f.ops);
        break;
      case 'responseHeaders':
        acc.res.push(f.ops);
        break;
      case 'mirror':
        if (f.target.kind === 'service' && f.numerator > 0) acc.mirrors.push({ target: f.target, numerator: f.numerator, denominator: f.denominator });
        break;
      case 'rewrite':
        if (f.path !== undefined) {
          acc.path = modifyPath(acc.path, f.path, match);
          acc.pathRewritten = true;
        }
        if (f.hostname !== undefined) {
          acc.authority = f.hostname;
          acc.hostRewritten = true;
        }
        break;
      case 'redirect':
        return { kind: 'redirect', status: f.statusCode, location: redirectLocation(f, match, { ...redirect, path: acc.path }) };
      case 'cors': {
        if (redirect.request === undefined) break;
        const c = corsOutcome(f.cors, redirect.request.method, redirect.request.headers);
        if (c?.kind === 'preflight') return { kind: 'preflight', status: c.status, headers: c.headers };
        if (c?.kind === 'actual') acc.res.push(c.headers);
        break;
      }
      case 'fault':
        acc.faults.push(f.fault);
        break;
      case 'unsupported':
        break;
    }
  }
  return undefined;
}
