/**
 * HTTPRoute / GRPCRoute objects -> CompiledRoute, independent of which parent they attach to.
 *
 * Model: a route compiles once; its backendRefs are resolved through a caller-supplied
 * `BackendResolver` (the outbound compiler resolves Services and ReferenceGrants; the inbound side
 * may resolve nothing). Problems are returned, never thrown:
 * - `fatal`: the route cannot be evaluated at all (a match that cannot compile, e.g. a
 *   RegularExpression RE2 rejects). No CompiledRoute; status Accepted=False UnsupportedValue.
 * - `unsupported`: something Weft does not implement inside a rule (a filter kind such as
 *   ExtensionRef or CORS, an unknown field, a bad header value or duration). The route is
 *   Accepted=False UnsupportedValue AND the rule stays in the table marked `unsupported`, so its
 *   traffic is answered 500: it is never routed with the condition silently dropped (case 25).
 * - An ExtensionRef filter is resolved through a caller-supplied `ExtensionResolver` (the outbound
 *   compiler finds FaultInjections in the route's namespace); one that does not resolve (a missing
 *   object, an unknown kind, an invalid spec) is `unsupported` with a message naming it.
 * - `refFailures`: backendRefs that cannot be used (ResolvedRefs=False); their weight share
 *   answers 500.
 *
 * Invariants: header names lowercase; header values free of CR, LF and NUL (case 10); weights
 * non-negative integers; durations in ms.
 */

import type {
  BackendObjectReference,
  GRPCRoute,
  GRPCRouteFilter,
  GRPCRouteRule,
  HeaderModifier,
  HTTPPathModifier,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteRetry,
  HTTPRouteRule,
  HTTPRouteTimeouts,
  LocalObjectReference,
} from '../kube.js';
import type { FaultSpec } from './fault.js';
import { compileCors } from './cors.js';
import { DEFAULT_BACKOFF_MS, DEFAULT_RETRY_ATTEMPTS } from '../retry.js';
import type { RetryPolicy } from '../retry.js';
import { normalizeRequestTarget } from '../path.js';
import { compileGrpcMatch, compileHttpMatch } from './match.js';
import type {
  BackendFailure,
  BackendTarget,
  CompiledBackend,
  CompiledFilter,
  CompiledMatch,
  CompiledRoute,
  CompiledRule,
  HeaderOps,
  PathModifier,
  RouteTimeouts,
} from './types.js';

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';

/** Resolves one backendRef (or RequestMirror backendRef) of a route in `routeNamespace`. */
export type BackendResolver = (ref: BackendObjectReference, routeKind: RouteKind) => BackendTarget;

/** What an ExtensionRef filter names, or why it names nothing usable. */
export type ExtensionTarget = { readonly kind: 'fault'; readonly fault: FaultSpec } | { readonly kind: 'error'; readonly message: string };

/** Resolves one ExtensionRef filter of a route in `routeNamespace`. */
export type ExtensionResolver = (ref: LocalObjectReference, routeKind: RouteKind) => ExtensionTarget;

/** Where no extension is resolved (routes whose parent is a Server). */
export const NO_EXTENSIONS: ExtensionResolver = () => ({ kind: 'error', message: 'ExtensionRef filters apply to routes whose parent is a Service' });

export interface RefFailure {
  readonly reason: BackendFailure;
  readonly message: string;
}

export interface RouteCompileResult {
  readonly route?: CompiledRoute;
  readonly fatal?: string;
  readonly unsupported: readonly string[];
  readonly refFailures: readonly RefFailure[];
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

const RULE_FIELDS = new Set(['name', 'matches', 'filters', 'backendRefs', 'timeouts', 'retry']);
/** Retries beyond this many per request are refused: the budget bounds the load, this the latency. */
const BACKEND_FIELDS = new Set(['group', 'kind', 'name', 'namespace', 'port', 'weight', 'filters']);

/** Parses a Gateway API Duration (`1h2m3s`, `500ms`) into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(h|ms|m|s)/g)) {
    const n = Number(m[1]);
    const unit = m[2];
    ms += unit === 'h' ? n * 3_600_000 : unit === 'm' ? n * 60_000 : unit === 's' ? n * 1000 : n;
  }
  return ms;
}

class Problems {
  readonly unsupported: string[] = [];
  readonly refFailures: RefFailure[] = [];
}

function unknownFields(obj: object, known: ReadonlySet<string>): string[] {
  return Object.keys(obj).filter((k) => !known.has(k));
}

function headerOps(mod: HeaderModifier | undefined, where: string, problems: string[]): HeaderOps | undefined {
  if (mod === undefined || mod === null || typeof mod !== 'object') {
    problems.push(`${where}: filter config is missing`);
    return undefined;
  }
  const pairs = (list: HeaderModifier['set'], op: string): [string, string][] => {
    const out: [string, string][] = [];
    for (const h of list ?? []) {
      if (typeof h?.name !== 'string' || !HEADER_NAME.test(h.name)) {
        problems.push(`${where}: ${op} header name ${JSON.stringify(h?.name)} is not a valid header name`);
        continue;
      }
      const value = String(h.value ?? '');
      if (/[\r\n\0]/.test(value)) {
        problems.push(`${where}: ${op} header ${h.name} has a value with CR, LF or NUL`);
        continue;
      }
      out.push([h.name.toLowerCase(), value]);
    }
    return out;
  };
  const remove: string[] = [];
  for (const name of mod.remove ?? []) {
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
      problems.push(`${where}: remove header name ${JSON.stringify(name)} is not a valid header name`);
      continue;
    }
    remove.push(name.toLowerCase());
  }
  return { set: pairs(mod.set, 'set'), add: pairs(mod.add, 'add'), remove };
}

function pathModifier(p: HTTPPathModifier | undefined, where: string, problems: string[]): PathModifier | undefined {
  if (p === undefined) return undefined;
  const value = p.type === 'ReplaceFullPath' ? p.replaceFullPath : p.type === 'ReplacePrefixMatch' ? p.replacePrefixMatch : undefined;
  if (p.type !== 'ReplaceFullPath' && p.type !== 'ReplacePrefixMatch') {
    problems.push(`${where}: path modifier type ${JSON.stringify(p.type)} is not supported`);
    return undefined;
  }
  if (typeof value !== 'string') {
    problems.push(`${where}: ${p.type} needs a value`);
    return undefined;
  }
  const n = value.startsWith('/') && !value.includes('?') ? normalizeRequestTarget(value) : undefined;
  if (n === undefined || !n.ok) {
    problems.push(`${where}: path ${JSON.stringify(value)} is not a valid absolute path`);
    return undefined;
  }
  return p.type === 'ReplaceFullPath' ? { kind: 'full', value: n.path } : { kind: 'prefix', value: n.path };
}

function hostnameOk(h: unknown): h is string {
  return typeof h === 'string' && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(h) && h.length <= 253;
}

interface Resolvers {
  readonly backend: BackendResolver;
  readonly extension: ExtensionResolver;
}

function compileFilters(
  filters: readonly (HTTPRouteFilter | GRPCRouteFilter)[] | undefined,
  kind: RouteKind,
  where: string,
  resolvers: Resolvers,
  problems: Problems,
): CompiledFilter[] {
  const resolve = resolvers.backend;
  const out: CompiledFilter[] = [];
  for (const [i, f] of (filters ?? []).entries()) {
    const at = `${where}.filters[${i}]`;
    const type = f?.type;
    switch (type) {
      case 'RequestHeaderModifier': {
        const ops = headerOps(f.requestHeaderModifier, `${at} (RequestHeaderModifier)`, problems.unsupported);
        if (ops) out.push({ kind: 'requestHeaders', ops });
        break;
      }
      case 'ResponseHeaderModifier': {
        const ops = headerOps(f.responseHeaderModifier, `${at} (ResponseHeaderModifier)`, problems.unsupported);
        if (ops) out.push({ kind: 'responseHeaders', ops });
        break;
      }
      case 'RequestRedirect': {
        if (kind === 'GRPCRoute') {
          problems.unsupported.push(`${at}: RequestRedirect is not a GRPCRoute filter`);
          break;
        }
        const r = (f as HTTPRouteFilter).requestRedirect;
        if (r === undefined) {
          problems.unsupported.push(`${at}: RequestRedirect needs requestRedirect`);
          break;
        }
        const before = problems.unsupported.length;
        if (r.scheme !== undefined && r.scheme !== 'http' && r.scheme !== 'https') {
          problems.unsupported.push(`${at}: redirect scheme ${JSON.stringify(r.scheme)} is not supported`);
        }
        if (r.hostname !== undefined && !hostnameOk(r.hostname)) {
          problems.unsupported.push(`${at}: redirect hostname ${JSON.stringify(r.hostname)} is not valid`);
        }
        if (r.port !== undefined && !(Number.isInteger(r.port) && r.port >= 1 && r.port <= 65535)) {
          problems.unsupported.push(`${at}: redirect port ${String(r.port)} is not valid`);
        }
        const statusCode = r.statusCode ?? 302;
        if (!REDIRECT_CODES.has(statusCode)) {
          problems.unsupported.push(`${at}: redirect statusCode ${String(statusCode)} is not supported`);
        }
        const path = pathModifier(r.path, at, problems.unsupported);
        if (problems.unsupported.length !== before) break;
        out.push({
          kind: 'redirect',
          statusCode,
          ...(r.scheme !== undefined ? { scheme: r.scheme } : {}),
          ...(r.hostname !== undefined ? { hostname: r.hostname.toLowerCase() } : {}),
          ...(r.port !== undefined ? { port: r.port } : {}),
          ...(path !== undefined ? { path } : {}),
        });
        break;
      }
      case 'URLRewrite': {
        if (kind === 'GRPCRoute') {
          problems.unsupported.push(`${at}: URLRewrite is not a GRPCRoute filter`);
          break;
        }
        const r = (f as HTTPRouteFilter).urlRewrite;
        if (r === undefined) {
          problems.unsupported.push(`${at}: URLRewrite needs urlRewrite`);
          break;
        }
        const before = problems.unsupported.length;
        if (r.hostname !== undefined && !hostnameOk(r.hostname)) {
          problems.unsupported.push(`${at}: rewrite hostname ${JSON.stringify(r.hostname)} is not valid`);
        }
        const path = pathModifier(r.path, at, problems.unsupported);
        if (problems.unsupported.length !== before) break;
        out.push({
          kind: 'rewrite',
          ...(r.hostname !== undefined ? { hostname: r.hostname.toLowerCase() } : {}),
          ...(path !== undefined ? { path } : {}),
        });
        break;
      }
      case 'RequestMirror': {
        const m = f.requestMirror;
        if (m?.backendRef === undefined) {
          problems.unsupported.push(`${at}: RequestMirror needs a backendRef`);
          break;
        }
        let numerator = 1;
        let denominator = 1;
        if (m.fraction !== undefined) {
          numerator = m.fraction.numerator;
          denominator = m.fraction.denominator ?? 100;
        } else if (m.percent !== undefined) {
          numerator = m.percent;
          denominator = 100;
        }
        if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || numerator < 0 || denominator < 1 || numerator > denominator) {
          problems.unsupported.push(`${at}: RequestMirror fraction ${numerator}/${denominator} is not valid`);
          break;
        }
        const target = resolve(m.backendRef, kind);
        if (target.kind === 'error') problems.refFailures.push({ reason: target.reason, message: `${at} mirror: ${target.message}` });
        out.push({ kind: 'mirror', target, numerator, denominator });
        break;
      }
      case 'CORS': {
        if (kind === 'GRPCRoute') {
          out.push({ kind: 'unsupported', type: 'CORS' });
          problems.unsupported.push(`${at}: CORS is not a GRPCRoute filter`);
          break;
        }
        const cors = compileCors((f as HTTPRouteFilter).cors, `${at} (CORS)`, problems.unsupported);
        if (cors !== undefined) out.push({ kind: 'cors', cors });
        break;
      }
      case 'ExtensionRef': {
        const ref = f.extensionRef;
        if (ref === undefined || ref === null || typeof ref.name !== 'string' || typeof ref.kind !== 'string') {
          out.push({ kind: 'unsupported', type: 'ExtensionRef' });
          problems.unsupported.push(`${at}: ExtensionRef needs extensionRef {group, kind, name}`);
          break;
        }
        const named = `${ref.group === '' ? '' : `${String(ref.group)}/`}${ref.kind} ${ref.name}`;
        if (kind === 'GRPCRoute') {
          out.push({ kind: 'unsupported', type: 'ExtensionRef' });
          problems.unsupported.push(`${at}: ExtensionRef ${named}: Weft's ExtensionRef filters apply to HTTPRoutes only`);
          break;
        }
        const t = resolvers.extension(ref, kind);
        if (t.kind === 'error') {
          out.push({ kind: 'unsupported', type: 'ExtensionRef' });
          problems.unsupported.push(`${at}: ExtensionRef ${named} does not resolve: ${t.message}; the rule answers 500`);
          break;
        }
        out.push({ kind: 'fault', fault: t.fault });
        break;
      }
      default:
        out.push({ kind: 'unsupported', type: String(type) });
        problems.unsupported.push(
          `${at}: filter type ${JSON.stringify(type)} is not supported by Weft; remove it or the rule answers 500`,
        );
    }
  }
  const redirects = out.filter((f) => f.kind === 'redirect').length;
  const rewrites = out.filter((f) => f.kind === 'rewrite').length;
  if (redirects > 1 || rewrites > 1 || (redirects > 0 && rewrites > 0)) {
    problems.unsupported.push(`${where}: at most one of RequestRedirect or URLRewrite may be used`);
  }
  return out;
}

function compileTimeouts(t: HTTPRouteTimeouts | undefined, where: string, problems: string[]): RouteTimeouts {
  if (t === undefined) return {};
  const out: { requestMs?: number; backendRequestMs?: number } = {};
  for (const key of Object.keys(t)) {
    if (key !== 'request' && key !== 'backendRequest') problems.push(`${where}.timeouts.${key} is not supported`);
  }
  if (t.request !== undefined) {
    const ms = parseDuration(t.request);
    if (ms === undefined) problems.push(`${where}.timeouts.request ${JSON.stringify(t.request)} is not a duration`);
    // 0s disables the timeout (Gateway API).
    else if (ms > 0) out.requestMs = ms;
  }
  if (t.backendRequest !== undefined) {
    const ms = parseDuration(t.backendRequest);
    if (ms === undefined) problems.push(`${where}.timeouts.backendRequest ${JSON.stringify(t.backendRequest)} is not a duration`);
    else if (ms > 0) out.backendRequestMs = ms;
  }
  if (out.requestMs !== undefined && out.backendRequestMs !== undefined && out.backendRequestMs > out.requestMs) {
    problems.push(`${where}.timeouts.backendRequest must not exceed timeouts.request`);
  }
  return out;
}

/**
 * HTTPRoute `retry` (v1.7): attempts (default 1, 0 disables; the API sets no maximum, the Service's retry
 * budget and the route's timeouts bound what a large value can cost), codes
 * 400-599, backoff a duration (the base of an exponential backoff; default DEFAULT_BACKOFF_MS).
 */
function compileRetry(r: HTTPRouteRetry | undefined, where: string, problems: string[]): RetryPolicy | undefined {
  if (r === undefined) return undefined;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) {
    problems.push(`${where}.retry must be an object`);
    return undefined;
  }
  for (const key of Object.keys(r)) {
    if (key !== 'attempts' && key !== 'codes' && key !== 'backoff') problems.push(`${where}.retry.${key} is not supported`);
  }
  const attempts = r.attempts ?? DEFAULT_RETRY_ATTEMPTS;
  if (!Number.isInteger(attempts) || attempts < 0) {
    problems.push(`${where}.retry.attempts ${JSON.stringify(r.attempts)} must be a non-negative integer`);
  }
  const codes: number[] = [];
  if (r.codes !== undefined && !Array.isArray(r.codes)) problems.push(`${where}.retry.codes must be a list of status codes`);
  for (const c of Array.isArray(r.codes) ? (r.codes as readonly unknown[]) : []) {
    if (typeof c !== 'number' || !Number.isInteger(c) || c < 400 || c > 599) problems.push(`${where}.retry.codes: ${JSON.stringify(c)} is not a status code from 400 to 599`);
    else if (!codes.includes(c)) codes.push(c);
  }
  let backoffMs = DEFAULT_BACKOFF_MS;
  if (r.backoff !== undefined) {
    const ms = typeof r.backoff === 'string' ? parseDuration(r.backoff) : undefined;
    if (ms === undefined) problems.push(`${where}.retry.backoff ${JSON.stringify(r.backoff)} is not a duration`);
    else backoffMs = ms;
  }
  return { attempts: Number.isInteger(attempts) && attempts >= 0 ? attempts : 0, codes, backoffMs };
}

function compileRule(
  rule: HTTPRouteRule | GRPCRouteRule,
  index: number,
  kind: RouteKind,
  resolvers: Resolvers,
  problems: Problems,
): CompiledRule | { fatal: string } {
  const resolve = resolvers.backend;
  const where = `spec.rules[${index}]`;
  const ruleProblems = new Problems();
  for (const key of unknownFields(rule, RULE_FIELDS)) {
    if ((key === 'timeouts' || key === 'retry') && kind === 'GRPCRoute') continue;
    ruleProblems.unsupported.push(`${where}.${key} is not supported by Weft`);
  }
  if (kind === 'GRPCRoute' && 'timeouts' in rule) ruleProblems.unsupported.push(`${where}.timeouts is not a GRPCRoute field`);
  if (kind === 'GRPCRoute' && 'retry' in rule) ruleProblems.unsupported.push(`${where}.retry is not a GRPCRoute field`);

  const matches: CompiledMatch[] = [];
  const specs = (rule.matches ?? []) as readonly unknown[];
  if (specs.length === 0) {
    const m = kind === 'HTTPRoute' ? compileHttpMatch(undefined) : compileGrpcMatch(undefined);
    if (!m.ok) return { fatal: `${where}: ${m.reason}` };
    matches.push(m.match);
  }
  for (const [i, spec] of specs.entries()) {
    const m =
      kind === 'HTTPRoute'
        ? compileHttpMatch(spec as Parameters<typeof compileHttpMatch>[0])
        : compileGrpcMatch(spec as Parameters<typeof compileGrpcMatch>[0]);
    if (!m.ok) return { fatal: `${where}.matches[${i}]: ${m.reason}` };
    matches.push(m.match);
  }

  const filters = compileFilters(rule.filters, kind, where, resolvers, ruleProblems);
  const hasPrefixRewrite = filters.some(
    (f) => (f.kind === 'rewrite' || f.kind === 'redirect') && f.path?.kind === 'prefix',
  );

  const backends: CompiledBackend[] = [];
  for (const [i, ref] of (rule.backendRefs ?? []).entries()) {
    const at = `${where}.backendRefs[${i}]`;
    for (const key of unknownFields(ref, BACKEND_FIELDS)) ruleProblems.unsupported.push(`${at}.${key} is not supported by Weft`);
    const weight = ref.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 0 || weight > 1_000_000) {
      ruleProblems.unsupported.push(`${at}.weight ${String(weight)} must be an integer from 0 to 1000000`);
      continue;
    }
    const target = resolve(ref, kind);
    if (target.kind === 'error') ruleProblems.refFailures.push({ reason: target.reason, message: `${at}: ${target.message}` });
    const bf = compileFilters(ref.filters, kind, at, resolvers, ruleProblems);
    if (bf.some((f) => (f.kind === 'rewrite' || f.kind === 'redirect') && f.path?.kind === 'prefix')) {
      ruleProblems.unsupported.push(`${at}: ReplacePrefixMatch belongs on rule filters`);
    }
    backends.push({ weight, target, filters: bf });
  }
  if (hasPrefixRewrite && !matches.every((m) => m.path?.kind === 'prefix')) {
    ruleProblems.unsupported.push(`${where}: ReplacePrefixMatch needs every match of the rule to be a PathPrefix match`);
  }

  const timeouts = compileTimeouts((rule as HTTPRouteRule).timeouts, where, ruleProblems.unsupported);
  const retry = kind === 'HTTPRoute' ? compileRetry((rule as HTTPRouteRule).retry, where, ruleProblems.unsupported) : undefined;
  problems.unsupported.push(...ruleProblems.unsupported);
  problems.refFailures.push(...ruleProblems.refFailures);
  const totalWeight = backends.reduce((sum, b) => sum + b.weight, 0);
  return {
    index,
    ...(rule.name !== undefined ? { name: rule.name } : {}),
    matches,
    filters,
    backends,
    totalWeight,
    timeouts,
    ...(retry !== undefined ? { retry } : {}),
    ...(ruleProblems.unsupported.length > 0 ? { unsupported: ruleProblems.unsupported.join('; ') } : {}),
  };
}

function createdAt(ts: string | undefined): number {
  if (ts === undefined) return Number.POSITIVE_INFINITY;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function compileRoute(obj: HTTPRoute | GRPCRoute, kind: RouteKind, resolvers: Resolvers): RouteCompileResult {
  const problems = new Problems();
  const rules: CompiledRule[] = [];
  // Gateway API defaults `rules` to one rule with no matches and no backends: keep that meaning.
  const specRules = (obj.spec?.rules ?? []) as readonly (HTTPRouteRule | GRPCRouteRule)[];
  for (const [i, rule] of (specRules.length > 0 ? specRules : [{}]).entries()) {
    const r = compileRule(rule, i, kind, resolvers, problems);
    if ('fatal' in r) return { fatal: r.fatal, unsupported: problems.unsupported, refFailures: problems.refFailures };
    rules.push(r);
  }
  const route: CompiledRoute = {
    kind: kind === 'HTTPRoute' ? 'http' : 'grpc',
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name,
    createdAt: createdAt(obj.metadata.creationTimestamp),
    ...(obj.metadata.generation !== undefined ? { generation: obj.metadata.generation } : {}),
    rules,
  };
  return { route, unsupported: problems.unsupported, refFailures: problems.refFailures };
}

export function compileHttpRoute(obj: HTTPRoute, resolve: BackendResolver, extension: ExtensionResolver = NO_EXTENSIONS): RouteCompileResult {
  return compileRoute(obj, 'HTTPRoute', { backend: resolve, extension });
}

export function compileGrpcRoute(obj: GRPCRoute, resolve: BackendResolver, extension: ExtensionResolver = NO_EXTENSIONS): RouteCompileResult {
  return compileRoute(obj, 'GRPCRoute', { backend: resolve, extension });
}
