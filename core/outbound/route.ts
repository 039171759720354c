/**
 * Request-time outbound decision: OutboundPolicy + RequestInfo (+ a random source) -> what the
 * client proxy does with the request. Pure; the proxy maps decisions to responses and I/O.
 *
 * Order: no route attached -> passthrough; no rule matches -> ROUTE_NOT_FOUND; a rule using something
 * unsupported -> UNSUPPORTED; a rule-level RequestRedirect -> redirect; otherwise a weighted backend
 * pick (weight 0 never chosen; no positive weight -> BACKEND_UNRESOLVED), an unresolvable backend ->
 * BACKEND_UNRESOLVED (NOT_PERMITTED without a ReferenceGrant) for its share; backend-level filters
 * apply after rule-level ones (a backend-level RequestRedirect redirects); then the FaultInjection
 * filters of both (core/routes/fault.ts) abort the request or delay it. No ready endpoints
 * (NO_ENDPOINTS) is decided by the proxy's endpoint picker.
 *
 * A decision carries what was selected (route, rule, backend) and, when the request is not forwarded,
 * a Reason: never a status. core/reasons.ts is the one table from reasons to HTTP / gRPC answers.
 *
 * Per request cost: one walk of the presorted table, no sorting, no regex compilation; the
 * header operations are returned as lists for the proxy to apply once (`applyHeaderOps`).
 */

import type { RequestInfo } from '../request.js';
import { decideFaults } from '../routes/fault.js';
import { applyFilterList, startEffects } from '../routes/filters.js';
import type { FilterEffects } from '../routes/filters.js';
import { selectInTable } from '../routes/match.js';
import type {
  BackendTarget,
  CompiledFilter,
  CompiledMatch,
  CompiledRule,
  HeaderOps,
  RouteTimeouts,
  RuleSelection,
  ServiceTarget,
} from '../routes/types.js';
import type { Reason } from '../reasons.js';
import type { RetryPolicy } from '../retry.js';
import type { OutboundPolicy } from './policy.js';

/** The reasons routeOutbound gives for not forwarding a request. */
export type OutboundReason = Extract<Reason, 'ROUTE_NOT_FOUND' | 'UNSUPPORTED' | 'BACKEND_UNRESOLVED' | 'NOT_PERMITTED'>;

/** The route and rule a decision was made by (for metrics and explanations). */
export interface RouteRef {
  readonly kind: 'http' | 'grpc';
  readonly namespace: string;
  readonly name: string;
}

export interface RuleRef {
  readonly index: number;
  readonly name?: string;
}

export interface MirrorTarget {
  readonly target: ServiceTarget;
  readonly numerator: number;
  readonly denominator: number;
}

export interface ForwardDecision {
  readonly kind: 'forward';
  readonly route: RouteRef;
  readonly rule: RuleRef;
  readonly backend: ServiceTarget;
  readonly requestHeaderOps: readonly HeaderOps[];
  readonly responseHeaderOps: readonly HeaderOps[];
  /** Path to forward (rewritten or the normalised request path). */
  readonly path: string;
  /** Authority to forward (rewritten hostname or the request's authority). */
  readonly authority: string;
  readonly pathRewritten: boolean;
  readonly hostRewritten: boolean;
  readonly mirrors: readonly MirrorTarget[];
  readonly timeouts: RouteTimeouts;
  /** The rule's retry policy; absent: only requests that never reached an app are sent again. */
  readonly retry?: RetryPolicy;
  /** A FaultInjection delay drawn for this request: wait this long before sending it. */
  readonly delayMs?: number;
}

/** A FaultInjection abort drawn for this request: the proxy answers `status` itself. */
export interface AbortDecision {
  readonly kind: 'abort';
  readonly route: RouteRef;
  readonly rule: RuleRef;
  readonly status: number;
  /** `<namespace>/<name>` of the FaultInjection that aborted. */
  readonly fault: string;
  readonly responseHeaderOps: readonly HeaderOps[];
}

export interface RedirectDecision {
  readonly kind: 'redirect';
  readonly route: RouteRef;
  readonly rule: RuleRef;
  /** The RequestRedirect filter's statusCode (the route's configuration, not an error). */
  readonly status: number;
  readonly location: string;
  readonly responseHeaderOps: readonly HeaderOps[];
}

/**
 * A CORS preflight on a rule with a CORS filter: the proxy answers `status` with these headers (the
 * allow headers when the origin is allowed, none otherwise) and never forwards it (core/routes/cors.ts).
 */
export interface PreflightDecision {
  readonly kind: 'preflight';
  readonly route: RouteRef;
  readonly rule: RuleRef;
  readonly status: number;
  readonly responseHeaderOps: readonly HeaderOps[];
}

export interface ErrorDecision {
  readonly kind: 'error';
  readonly code: OutboundReason;
  /** The selected route and rule; absent when no rule matched. */
  readonly route?: RouteRef;
  readonly rule?: RuleRef;
  readonly message: string;
}

export type OutboundDecision = ForwardDecision | RedirectDecision | PreflightDecision | AbortDecision | ErrorDecision | { readonly kind: 'passthrough' };

export interface RouteOptions {
  /** Scheme the client used (mesh traffic reaches the proxy in plaintext: `http`). */
  readonly scheme?: string;
  /** Draws for FaultInjection filters (one per fault percentage); absent: the `rand` of the call. */
  readonly faultRand?: () => number;
}

interface Selected {
  readonly route: RouteRef;
  readonly rule: RuleRef;
}

function error(code: OutboundReason, message: string, selected?: Selected): ErrorDecision {
  return selected === undefined ? { kind: 'error', code, message } : { kind: 'error', code, route: selected.route, rule: selected.rule, message };
}

/** Picks by weight with `rand()` in [0, 1); weight 0 is never chosen. */
export function pickWeighted<T extends { readonly weight: number }>(items: readonly T[], total: number, rand: () => number): T | undefined {
  if (total <= 0) return undefined;
  let r = Math.floor(rand() * total);
  if (!(r >= 0)) r = 0;
  if (r >= total) r = total - 1;
  for (const item of items) {
    if (r < item.weight) return item;
    r -= item.weight;
  }
  return undefined;
}

function hasUnsupported(filters: readonly CompiledFilter[]): CompiledFilter | undefined {
  return filters.find((f) => f.kind === 'unsupported');
}

/**
 * Where a request arrived, for redirects: the host to use when the request has none (the mesh: the
 * Service's name) and the port it was sent to (the Service port; a gateway: the listener's port).
 */
export interface ArrivalContext {
  readonly fallbackHost: string;
  readonly listenerPort: number;
}

/** What one request's filter lists are applied in: the effects so far, the rule's match, the request. */
interface FilterScope {
  readonly acc: FilterEffects;
  readonly match: CompiledMatch;
  readonly req: RequestInfo;
  readonly arrival: ArrivalContext;
  readonly options: RouteOptions;
  readonly selected: Selected;
}

/** Applies one filter list; returns a redirect or preflight decision when the list answers itself. */
function applyFilters(filters: readonly CompiledFilter[], scope: FilterScope): RedirectDecision | PreflightDecision | undefined {
  const { acc, match, req, arrival, options, selected } = scope;
  const r = applyFilterList(filters, acc, match, {
    requestScheme: options.scheme ?? 'http',
    requestHost: req.host,
    fallbackHost: arrival.fallbackHost,
    listenerPort: arrival.listenerPort,
    rawQuery: req.rawQuery,
    request: req,
  });
  if (r === undefined) return undefined;
  if (r.kind === 'preflight') return { kind: 'preflight', route: selected.route, rule: selected.rule, status: r.status, responseHeaderOps: [...acc.res, r.headers] };
  return { kind: 'redirect', route: selected.route, rule: selected.rule, status: r.status, location: r.location, responseHeaderOps: acc.res };
}

function unresolvedMessage(t: BackendTarget): string {
  return t.kind === 'error' ? `${t.reason}: ${t.message}` : '';
}

/** The route and rule refs of a selection, built once per compiled rule (a decision holds no new objects). */
const refs = new WeakMap<CompiledRule, Selected>();
function refsOf(route: { readonly kind: 'http' | 'grpc'; readonly namespace: string; readonly name: string }, rule: CompiledRule): Selected {
  let r = refs.get(rule);
  if (r === undefined) {
    r = {
      route: { kind: route.kind, namespace: route.namespace, name: route.name },
      rule: { index: rule.index, ...(rule.name !== undefined ? { name: rule.name } : {}) },
    };
    refs.set(rule, r);
  }
  return r;
}

/** Decides what happens to one request sent to the policy's Service port. Never throws. */
export function routeOutbound(
  policy: OutboundPolicy,
  req: RequestInfo,
  rand: () => number,
  options: RouteOptions = {},
): OutboundDecision {
  if (policy.routes === 'none') return { kind: 'passthrough' };
  const sel = selectInTable(policy.table, req);
  const svc = `${policy.service.namespace}/${policy.service.name}:${policy.port}`;
  if (sel === undefined) return error('ROUTE_NOT_FOUND', `no route rule for ${svc} matches the request`);
  return decideRule(sel, req, rand, { fallbackHost: `${policy.service.name}.${policy.service.namespace}`, listenerPort: policy.port }, options);
}

/**
 * What happens to a request once a rule is selected (the mesh's Service port table, or a gateway
 * listener's): the rule's filters, a backend by weight, the backend's filters. Never throws.
 */
export function decideRule(
  sel: RuleSelection,
  req: RequestInfo,
  rand: () => number,
  arrival: ArrivalContext,
  options: RouteOptions = {},
): ForwardDecision | AbortDecision | RedirectDecision | PreflightDecision | ErrorDecision {
  const { route, match } = sel;
  const rule: CompiledRule = sel.rule;
  const selected = refsOf(sel.route, rule);
  const where = `${route.namespace}/${route.name} rule ${rule.index}`;
  if (rule.unsupported !== undefined || hasUnsupported(rule.filters)) {
    return error('UNSUPPORTED', `${where} uses what Weft does not support: ${rule.unsupported ?? 'filter'}`, selected);
  }

  const acc = startEffects(req.path, req.authority);
  const scope: FilterScope = { acc, match, req, arrival, options, selected };
  const redirect = applyFilters(rule.filters, scope);
  if (redirect) return redirect;

  const backend = pickWeighted(rule.backends, rule.totalWeight, rand);
  if (backend === undefined) return error('BACKEND_UNRESOLVED', `${where} has no backend with a positive weight`, selected);
  if (backend.target.kind === 'error') {
    const code = backend.target.reason === 'RefNotPermitted' ? 'NOT_PERMITTED' : 'BACKEND_UNRESOLVED';
    return error(code, `${where}: ${unresolvedMessage(backend.target)}`, selected);
  }
  if (hasUnsupported(backend.filters)) {
    return error('UNSUPPORTED', `${where} backend filter is not supported`, selected);
  }
  const backendRedirect = applyFilters(backend.filters, scope);
  if (backendRedirect) return backendRedirect;

  const fault = decideFaults(acc.faults, options.faultRand ?? rand);
  if (fault.abortStatus !== undefined) {
    const by = acc.faults.find((f) => f.abort?.status === fault.abortStatus)?.ref ?? '';
    return { kind: 'abort', route: selected.route, rule: selected.rule, status: fault.abortStatus, fault: by, responseHeaderOps: acc.res };
  }
  return {
    kind: 'forward',
    route: selected.route,
    rule: selected.rule,
    backend: backend.target,
    requestHeaderOps: acc.req,
    responseHeaderOps: acc.res,
    path: acc.path,
    authority: acc.authority,
    pathRewritten: acc.pathRewritten,
    hostRewritten: acc.hostRewritten,
    mirrors: acc.mirrors,
    timeouts: rule.timeouts,
    ...(rule.retry !== undefined ? { retry: rule.retry } : {}),
    ...(fault.delayMs > 0 ? { delayMs: fault.delayMs } : {}),
  };
}
