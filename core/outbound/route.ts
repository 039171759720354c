/**
 * Request-time outbound decision: OutboundPolicy + RequestInfo (+ a random source) -> what the
 * client proxy does with the request. Pure; the proxy maps decisions to responses and I/O.
 *
 * Order: no route attached -> passthrough; no rule matches -> 404 (gRPC: UNIMPLEMENTED); a rule
 * using something unsupported -> 500; a rule-level RequestRedirect -> redirect; otherwise a
 * weighted backend pick (weight 0 never chosen; no positive weight -> 500), an unresolvable
 * backend -> 500 for its share; backend-level filters apply after rule-level ones (a backend-level
 * RequestRedirect redirects). No ready endpoints (503) is decided by the proxy's balancer, which
 * builds the same error shape with `noEndpoints`.
 *
 * Per request cost: one walk of the presorted table, no sorting, no regex compilation; the
 * header operations are returned as lists for the proxy to apply once (`applyHeaderOps`).
 */

import type { RequestInfo } from '../request.js';
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
  ServiceTarget,
} from '../routes/types.js';
import type { OutboundPolicy } from './policy.js';

/** gRPC status codes the proxy sends instead of HTTP statuses for gRPC calls. */
export const GRPC_STATUS = { INTERNAL: 13, UNIMPLEMENTED: 12, UNAVAILABLE: 14 } as const;

export type OutboundErrorCode =
  | 'no-route-match'
  | 'unsupported-rule'
  | 'no-backends'
  | 'backend-unresolved'
  | 'no-endpoints';

export interface MirrorTarget {
  readonly target: ServiceTarget;
  readonly numerator: number;
  readonly denominator: number;
}

export interface ForwardDecision {
  readonly kind: 'forward';
  readonly route: { readonly kind: 'http' | 'grpc'; readonly namespace: string; readonly name: string };
  readonly rule: { readonly index: number; readonly name?: string };
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
}

export interface RedirectDecision {
  readonly kind: 'redirect';
  readonly status: number;
  readonly location: string;
  readonly responseHeaderOps: readonly HeaderOps[];
}

export interface ErrorDecision {
  readonly kind: 'error';
  readonly status: 404 | 500 | 503;
  readonly code: OutboundErrorCode;
  /** Set for gRPC requests: the grpc-status the proxy answers with. */
  readonly grpcStatus?: number;
  readonly message: string;
}

export type OutboundDecision = ForwardDecision | RedirectDecision | ErrorDecision | { readonly kind: 'passthrough' };

export interface RouteOptions {
  /** Scheme the client used (mesh traffic reaches the proxy in plaintext: `http`). */
  readonly scheme?: string;
}

function error(req: RequestInfo, status: 404 | 500 | 503, code: OutboundErrorCode, message: string): ErrorDecision {
  if (req.grpc === undefined) return { kind: 'error', status, code, message };
  const grpcStatus = status === 404 ? GRPC_STATUS.UNIMPLEMENTED : status === 503 ? GRPC_STATUS.UNAVAILABLE : GRPC_STATUS.INTERNAL;
  return { kind: 'error', status, code, grpcStatus, message };
}

/** The 503 a proxy answers when the chosen backend has no ready endpoint. */
export function noEndpoints(req: RequestInfo, backend: ServiceTarget): ErrorDecision {
  return error(req, 503, 'no-endpoints', `Service ${backend.namespace}/${backend.name}:${backend.port} has no ready endpoints`);
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

/** Applies one filter list; returns a redirect decision when the list redirects. */
function applyFilters(
  filters: readonly CompiledFilter[],
  acc: FilterEffects,
  match: CompiledMatch,
  req: RequestInfo,
  policy: OutboundPolicy,
  options: RouteOptions,
): RedirectDecision | undefined {
  const r = applyFilterList(filters, acc, match, {
    requestScheme: options.scheme ?? 'http',
    requestHost: req.host,
    fallbackHost: `${policy.service.name}.${policy.service.namespace}`,
    listenerPort: policy.port,
    rawQuery: req.rawQuery,
  });
  return r === undefined ? undefined : { kind: 'redirect', status: r.status, location: r.location, responseHeaderOps: acc.res };
}

function unresolvedMessage(t: BackendTarget): string {
  return t.kind === 'error' ? `${t.reason}: ${t.message}` : '';
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
  if (sel === undefined) return error(req, 404, 'no-route-match', `no route rule for ${svc} matches the request`);
  const { route, match } = sel;
  const rule: CompiledRule = sel.rule;
  const where = `${route.namespace}/${route.name} rule ${rule.index}`;
  if (rule.unsupported !== undefined || hasUnsupported(rule.filters)) {
    return error(req, 500, 'unsupported-rule', `${where} uses what Weft does not support: ${rule.unsupported ?? 'filter'}`);
  }

  const acc = startEffects(req.path, req.authority);
  const redirect = applyFilters(rule.filters, acc, match, req, policy, options);
  if (redirect) return redirect;

  const backend = pickWeighted(rule.backends, rule.totalWeight, rand);
  if (backend === undefined) return error(req, 500, 'no-backends', `${where} has no backend with a positive weight`);
  if (backend.target.kind === 'error') {
    return error(req, 500, 'backend-unresolved', `${where}: ${unresolvedMessage(backend.target)}`);
  }
  if (hasUnsupported(backend.filters)) {
    return error(req, 500, 'unsupported-rule', `${where} backend filter is not supported`);
  }
  const backendRedirect = applyFilters(backend.filters, acc, match, req, policy, options);
  if (backendRedirect) return backendRedirect;

  return {
    kind: 'forward',
    route: { kind: route.kind, namespace: route.namespace, name: route.name },
    rule: { index: rule.index, ...(rule.name !== undefined ? { name: rule.name } : {}) },
    backend: backend.target,
    requestHeaderOps: acc.req,
    responseHeaderOps: acc.res,
    path: acc.path,
    authority: acc.authority,
    pathRewritten: acc.pathRewritten,
    hostRewritten: acc.hostRewritten,
    mirrors: acc.mirrors,
    timeouts: rule.timeouts,
  };
}
