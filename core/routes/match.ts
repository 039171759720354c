/**
 * Route matching: compiling Gateway API match specs into CompiledMatch, and selecting the rule
 * for a request across every route attached to one parent (a Service port or a Server).
 *
 * Precedence (design.md section 3; HTTPRoute spec), decided once per route set in `buildRouteTable`:
 *   HTTP: Exact path > longest PathPrefix > RegularExpression path > has method > most header
 *         matches > most query matches;
 *   gRPC: Exact method match > RegularExpression > none; longest service; longest method; most
 *         header matches (GRPCRoute spec);
 *   then the oldest route (creationTimestamp), then `namespace/name`, then rule order, then match
 *   order. gRPC entries sort before HTTP ones (GEP-1294: GRPCRoute > HTTPRoute).
 * Semantics: the matches of a rule are ORed, everything inside one match is ANDed; PathPrefix
 * matches whole segments; methods compare exactly (HEAD is not GET); header names are
 * case-insensitive; a repeated header or query parameter matches only when EVERY value matches (so
 * whichever value the app reads, it is one the route accepted: security case 17).
 *
 * Per request: `selectRule` walks the presorted table once; no sorting, no regex compilation.
 */

import { normalizeRequestTarget } from '../path.js';
import { compileRegex } from '../regex.js';
import type { RequestInfo } from '../request.js';
import type { GRPCRouteMatch, HTTPRouteMatch } from '../kube.js';
import type {
  CompiledMatch,
  CompiledRoute,
  CompiledRule,
  GrpcMethodMatcher,
  NamedMatcher,
  PathMatcher,
  RuleSelection,
  StringMatcher,
} from './types.js';

export type MatchError = { readonly ok: false; readonly code: 'bad-match'; readonly reason: string };
export type MatchResult = { readonly ok: true; readonly match: CompiledMatch } | MatchError;

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

function fail(reason: string): MatchError {
  return { ok: false, code: 'bad-match', reason };
}

function compileString(type: string | undefined, value: string, what: string): StringMatcher | MatchError {
  const t = type ?? 'Exact';
  if (t === 'Exact') return { kind: 'exact', value };
  if (t === 'RegularExpression') {
    const r = compileRegex(value);
    if (!r.ok) return fail(`${what}: ${r.reason}`);
    return { kind: 'regex', regex: r.regex };
  }
  return fail(`${what}: match type ${JSON.stringify(t)} is not supported (use Exact or RegularExpression)`);
}

function compileNamed(
  list: readonly { readonly type?: string; readonly name: string; readonly value: string }[] | undefined,
  what: 'header' | 'query parameter',
): NamedMatcher[] | MatchError {
  const out: NamedMatcher[] = [];
  const seen = new Set<string>();
  for (const m of list ?? []) {
    if (typeof m?.name !== 'string' || m.name.length === 0) return fail(`${what} match without a name`);
    const name = what === 'header' ? m.name.toLowerCase() : m.name;
    // Gateway API: only the first entry with an equivalent name is considered.
    if (seen.has(name)) continue;
    seen.add(name);
    const matcher = compileString(m.type, String(m.value ?? ''), `${what} ${JSON.stringify(m.name)}`);
    if ('ok' in matcher) return matcher;
    out.push({ name, matcher });
  }
  return out;
}

/** Normalises a route's path value the way requests are normalised; a value that cannot be is refused. */
function normalizeRoutePath(value: string): string | MatchError {
  if (!value.startsWith('/')) return fail(`path ${JSON.stringify(value)} must start with "/"`);
  if (value.includes('?')) return fail(`path ${JSON.stringify(value)} must not contain "?"`);
  const n = normalizeRequestTarget(value);
  if (!n.ok) return fail(`path ${JSON.stringify(value)}: ${n.reason}`);
  return n.path;
}

function compilePath(path: HTTPRouteMatch['path']): PathMatcher | MatchError {
  const type = path?.type ?? 'PathPrefix';
  const value = path?.value ?? '/';
  if (type === 'RegularExpression') {
    const r = compileRegex(value);
    if (!r.ok) return fail(`path: ${r.reason}`);
    return { kind: 'regex', regex: r.regex };
  }
  const normalized = normalizeRoutePath(value);
  if (typeof normalized !== 'string') return normalized;
  if (type === 'Exact') return { kind: 'exact', value: normalized };
  if (type === 'PathPrefix') {
    const v = normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
    return { kind: 'prefix', value: v, withSlash: v === '/' ? '/' : v + '/' };
  }
  return fail(`path match type ${JSON.stringify(type)} is not supported`);
}

/** Compiles one HTTPRouteMatch (undefined = the match-everything match). */
export function compileHttpMatch(m: HTTPRouteMatch | undefined): MatchResult {
  const path = compilePath(m?.path);
  if ('ok' in path) return path;
  let method: string | undefined;
  if (m?.method !== undefined) {
    if (!HTTP_METHODS.has(m.method)) return fail(`method ${JSON.stringify(m.method)} is not supported`);
    method = m.method;
  }
  const headers = compileNamed(m?.headers, 'header');
  if ('ok' in headers) return headers;
  const query = compileNamed(m?.queryParams, 'query parameter');
  if ('ok' in query) return query;
  return { ok: true, match: { path, headers, query, ...(method !== undefined ? { method } : {}) } };
}

/** Compiles one GRPCRouteMatch (undefined = any method). */
export function compileGrpcMatch(m: GRPCRouteMatch | undefined): MatchResult {
  const grpc: { service?: StringMatcher; method?: StringMatcher } = {};
  const spec = m?.method;
  if (spec !== undefined) {
    if (spec.service === undefined && spec.method === undefined) {
      return fail('gRPC method match needs a service or a method');
    }
    if (spec.service !== undefined) {
      const s = compileString(spec.type, spec.service, 'gRPC service');
      if ('ok' in s) return s;
      grpc.service = s;
    }
    if (spec.method !== undefined) {
      const s = compileString(spec.type, spec.method, 'gRPC method');
      if ('ok' in s) return s;
      grpc.method = s;
    }
  }
  const headers = compileNamed(m?.headers, 'header');
  if ('ok' in headers) return headers;
  return { ok: true, match: { headers, query: [], grpc: grpc as GrpcMethodMatcher } };
}

// --- evaluation -------------------------------------------------------------------------------------

function stringMatches(m: StringMatcher, value: string): boolean {
  return m.kind === 'exact' ? m.value === value : m.regex.fullMatch(value);
}

function allValuesMatch(m: NamedMatcher, values: readonly string[] | undefined): boolean {
  if (values === undefined || values.length === 0) return false;
  for (const v of values) if (!stringMatches(m.matcher, v)) return false;
  return true;
}

function pathMatches(p: PathMatcher, path: string): boolean {
  switch (p.kind) {
    case 'exact':
      return path === p.value;
    case 'prefix':
      return p.value === '/' || path === p.value || path.startsWith(p.withSlash);
    case 'regex':
      return p.regex.fullMatch(path);
  }
}

/** True when the request satisfies every condition of the match. */
export function matchRequest(m: CompiledMatch, req: RequestInfo): boolean {
  if (m.grpc !== undefined) {
    const call = req.grpc;
    if (call === undefined) return false;
    if (m.grpc.service !== undefined && !stringMatches(m.grpc.service, call.service)) return false;
    if (m.grpc.method !== undefined && !stringMatches(m.grpc.method, call.method)) return false;
  }
  if (m.path !== undefined && !pathMatches(m.path, req.path)) return false;
  if (m.method !== undefined && m.method !== req.method) return false;
  for (const h of m.headers) if (!allValuesMatch(h, req.headers.get(h.name))) return false;
  for (const q of m.query) if (!allValuesMatch(q, req.query.get(q.name))) return false;
  return true;
}

// --- precedence -------------------------------------------------------------------------------------

interface Entry {
  readonly route: CompiledRoute;
  readonly rule: CompiledRule;
  readonly match: CompiledMatch;
  readonly matchIndex: number;
  readonly key: readonly number[];
  readonly routeKey: string;
}

export interface RouteTable {
  readonly entries: readonly Entry[];
  /** Candidate lookup by path segments; absent for small tables, which are scanned. */
  readonly index?: PathIndex;
}

/**
 * A candidate filter over a sorted table, so that selection costs what the request's path can match
 * rather than the number of routes (a Service with 1,000 routes is scanned in a handful of steps).
 * Every Exact or PathPrefix match (other than `/`) can only match a path whose `/`-separated segments
 * start with the match value's segments; such entries hang off a trie of segments at the node where
 * their value ends. Every other entry (no path, `/`, a regex, gRPC) is a wildcard, checked for every
 * request. Selection merges, in table order, the wildcards with the entries on the request path's
 * trail through the trie and runs the full match on each until one matches: the index only skips
 * entries that cannot match, so precedence is the table's.
 */
interface PathIndex {
  readonly root: TrieNode;
  readonly wildcards: readonly number[];
}

interface TrieNode {
  readonly children: Map<string, TrieNode>;
  /** Indices into the table's entries, ascending. */
  readonly here: number[];
}

/** Below this many entries a plain scan is as fast as the index. */
const INDEX_MIN_ENTRIES = 16;

function buildPathIndex(entries: readonly Entry[]): PathIndex {
  const root: TrieNode = { children: new Map(), here: [] };
  const wildcards: number[] = [];
  entries.forEach((e, i) => {
    const p = e.match.path;
    if (e.match.grpc !== undefined || p === undefined || p.kind === 'regex' || (p.kind === 'prefix' && p.value === '/')) {
      wildcards.push(i);
      return;
    }
    let node = root;
    for (const seg of p.value.split('/').slice(1)) {
      let next = node.children.get(seg);
      if (next === undefined) node.children.set(seg, (next = { children: new Map(), here: [] }));
      node = next;
    }
    node.here.push(i);
  });
  return { root, wildcards };
}

/** Table indices that may match `path`, ascending. */
function candidates(index: PathIndex, path: string): number[] {
  const lists: (readonly number[])[] = [index.wildcards];
  let node: TrieNode | undefined = index.root;
  let from = 1;
  while (node !== undefined && from <= path.length) {
    const slash = path.indexOf('/', from);
    const seg = slash < 0 ? path.slice(from) : path.slice(from, slash);
    node = node.children.get(seg);
    if (node !== undefined && node.here.length > 0) lists.push(node.here);
    if (slash < 0) break;
    from = slash + 1;
  }
  if (lists.length === 1) return index.wildcards as number[];
  return lists.flat().sort((a, b) => a - b);
}

function stringLen(m: StringMatcher | undefined): number {
  if (m === undefined) return 0;
  return m.kind === 'exact' ? m.value.length : m.regex.source.length;
}

/** Numeric sort key of a match; smaller sorts first. */
function matchKey(route: CompiledRoute, m: CompiledMatch): number[] {
  if (m.grpc !== undefined) {
    const g = m.grpc;
    const anyRegex = g.service?.kind === 'regex' || g.method?.kind === 'regex';
    const typeRank = g.service === undefined && g.method === undefined ? 2 : anyRegex ? 1 : 0;
    return [0, typeRank, -stringLen(g.service), -stringLen(g.method), -m.headers.length, 0, route.createdAt];
  }
  const p = m.path;
  let pathRank = 1;
  let pathLen = 0;
  if (p?.kind === 'exact') {
    pathRank = 0;
    pathLen = p.value.length;
  } else if (p?.kind === 'prefix') {
    pathRank = 1;
    pathLen = p.value === '/' ? 0 : p.value.length;
  } else if (p?.kind === 'regex') {
    pathRank = 2;
  }
  return [
    1,
    pathRank,
    -pathLen,
    m.method !== undefined ? 0 : 1,
    -m.headers.length,
    -m.query.length,
    route.createdAt,
  ];
}

function compareEntries(a: Entry, b: Entry): number {
  for (let i = 0; i < a.key.length; i++) {
    const x = a.key[i]!;
    const y = b.key[i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  if (a.routeKey !== b.routeKey) return a.routeKey < b.routeKey ? -1 : 1;
  if (a.rule.index !== b.rule.index) return a.rule.index - b.rule.index;
  return a.matchIndex - b.matchIndex;
}

/** Sorts every (route, rule, match) of a route set by precedence. Done once per policy change. */
export function buildRouteTable(routes: readonly CompiledRoute[]): RouteTable {
  const entries: Entry[] = [];
  for (const route of routes) {
    const routeKey = `${route.namespace}/${route.name}`;
    for (const rule of route.rules) {
      rule.matches.forEach((match, matchIndex) => {
        entries.push({ route, rule, match, matchIndex, key: matchKey(route, match), routeKey });
      });
    }
  }
  entries.sort(compareEntries);
  return entries.length < INDEX_MIN_ENTRIES ? { entries } : { entries, index: buildPathIndex(entries) };
}

const tables = new WeakMap<readonly CompiledRoute[], RouteTable>();

/** The table of a route array, built on first use and cached for the array's lifetime. */
export function routeTableOf(routes: readonly CompiledRoute[]): RouteTable {
  let t = tables.get(routes);
  if (t === undefined) {
    t = buildRouteTable(routes);
    tables.set(routes, t);
  }
  return t;
}

/** The rule a request selects in a presorted table, or undefined when no rule matches. */
export function selectInTable(table: RouteTable, req: RequestInfo): RuleSelection | undefined {
  if (table.index !== undefined && req.path.startsWith('/')) {
    for (const i of candidates(table.index, req.path)) {
      const e = table.entries[i]!;
      if (matchRequest(e.match, req)) return { route: e.route, rule: e.rule, match: e.match, matchIndex: e.matchIndex };
    }
    return undefined;
  }
  for (const e of table.entries) {
    if (matchRequest(e.match, req)) {
      return { route: e.route, rule: e.rule, match: e.match, matchIndex: e.matchIndex };
    }
  }
  return undefined;
}

/**
 * The rule a request selects among routes attached to one parent, by Gateway API precedence.
 * The sorted table is cached per `routes` array (treat it as immutable); pass the same array on
 * every request, as a compiled policy does.
 */
export function selectRule(routes: readonly CompiledRoute[], req: RequestInfo): RuleSelection | undefined {
  return selectInTable(routeTableOf(routes), req);
}
