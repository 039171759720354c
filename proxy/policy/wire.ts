/**
 * The proxy's boundary for policy: api/ wire messages (weft.route.v1, weft.outbound.v1 ServicePolicy,
 * weft.inbound.v1 PortPolicy) -> core's domain types, which core's pure decisions evaluate
 * (`routeOutbound`, `authorizeInbound`). Nothing else in the proxy reads these wire types.
 *
 *   ServicePolicy  -> ServicePortPolicy (a core OutboundPolicy + the Service's authority), or
 *                     'unsupported' routes (every request answers 500)
 *   PortPolicy     -> core InboundPortPolicy
 *   GatewayView    -> core GatewayView (`weft gateway`), its HTTP listeners only; undefined when
 *                     the controller says the Gateway is not served
 *
 * Fail closed (api/README.md): an `Unsupported` item or a oneof with no case set (a newer controller's
 * alternative) becomes the domain's "unsupported": a match or filter makes its rule answer 500, a
 * backend answers 500 for its share, an authentication makes its authorization admit nobody, a proxy
 * protocol makes the port deny everything. A regex that does not compile here is the same.
 *
 * Decisions:
 * - The controller lists routes oldest first, then by namespace/name; the list position becomes the
 *   compiled route's `createdAt`, so core's tie-break reproduces the controller's order exactly.
 * - The default policy arrives as synthesised authorizations (kind `default`): they are kept as
 *   authorizations and the domain fallback is `deny` (or `audit`), so the proxy admits exactly what
 *   the controller expressed, with the controller's cluster networks. `Unauthenticated` is the
 *   network set "every address".
 * - A PortPolicy whose only route is the synthesised `default` route has no routes (every request
 *   is the one implicit route).
 */
import type { Authentication as WireAuthentication, Authorization as WireAuthorization, InboundLimits as WireLimits, PortPolicy, ProxyProtocol as WireProxyProtocol } from '../../api/gen/weft/inbound/v1/inbound.js';
import type { ServicePolicy } from '../../api/gen/weft/outbound/v1/outbound.js';
import type { GatewayView as WireGatewayView } from '../../api/gen/weft/gateway/v1/gateway.js';
import { assembleGatewayView, type GatewayView, type ListenerSpec } from '../../core/gateway/view.js';
import type {
  Backend as WireBackend, ServiceBackend as WireServiceBackend, Filter as WireFilter, GrpcRoute as WireGrpcRoute, GrpcRouteMatch as WireGrpcMatch, HeaderModifier,
  HttpRoute as WireHttpRoute, HttpRouteMatch as WireHttpMatch, PathModifier as WirePathModifier, Timeouts as WireTimeouts, Retry as WireRetry, RetryBudget as WireRetryBudget, FailureAccrual as WireFailureAccrual,
  WeightedBackend,
} from '../../api/gen/weft/route/v1/route.js';
import type { Duration } from '../../api/gen/google/protobuf/duration.js';
import { compileNetworks } from '../../core/cidr.js';
import { DEFAULT_BACKOFF_MS } from '../../core/retry.js';
import { MAX_DELAY_MS } from '../../core/routes/fault.js';
import { compileCors } from '../../core/routes/cors.js';
import { backendPortKey, type BackendTlsDecision } from '../../core/gateway/backend-tls.js';
import type { RetryPolicy } from '../../core/retry.js';
import type { RetryBudgetConfig } from '../../core/retry-budget.js';
import type { FailureAccrualConfig } from '../../core/failure-accrual.js';
import type { NetworkSet } from '../../core/cidr.js';
import { spiffeId } from '../../core/contract.js';
import type { CompiledAuthentication, CompiledAuthorization, InboundPortPolicy, InboundRoute } from '../../core/inbound/types.js';
import type { CompiledLimits, LimitTargetKind } from '../../core/inbound/limits.js';
import type { DefaultInboundPolicy, ProxyProtocol } from '../../core/kube-policy.js';
import { isDefaultInboundPolicy } from '../../core/kube-policy.js';
import type { GRPCRouteMatch, HTTPRouteMatch } from '../../core/kube.js';
import type { OutboundPolicy } from '../../core/outbound/policy.js';
import { normalizeRequestTarget } from '../../core/path.js';
import { buildRouteTable, compileGrpcMatch, compileHttpMatch } from '../../core/routes/match.js';
import type {
  BackendFailure, BackendTarget, ServiceTarget, CompiledBackend, CompiledFilter, CompiledMatch, CompiledRoute, CompiledRule, HeaderOps, PathModifier,
  RouteTimeouts,
} from '../../core/routes/types.js';

// --- routes (shared by both sides) ------------------------------------------------------------------

type Problem = { problem: string };

function durationMs(d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  const ms = d.seconds * 1000 + Math.floor(d.nanos / 1_000_000);
  return ms > 0 ? ms : undefined;
}

function timeoutsOf(t: WireTimeouts | undefined): RouteTimeouts {
  const requestMs = durationMs(t?.request);
  const backendRequestMs = durationMs(t?.backendRequest);
  return { ...(requestMs !== undefined ? { requestMs } : {}), ...(backendRequestMs !== undefined ? { backendRequestMs } : {}) };
}

/** A rule's retry policy as the controller compiled it (core/routes/compile.ts applied the defaults). */
export function retryOf(r: WireRetry | undefined): RetryPolicy | undefined {
  if (r === undefined) return undefined;
  const b = r.backoff;
  const backoffMs = b === undefined ? DEFAULT_BACKOFF_MS : Math.max(0, b.seconds * 1000 + Math.floor(b.nanos / 1_000_000));
  return { attempts: r.attempts, codes: r.codes.filter((c) => c >= 400 && c <= 599), backoffMs };
}

/** A Service's retry budget as the controller compiled it; a malformed one falls back to the default. */
export function retryBudgetOf(b: WireRetryBudget | undefined): RetryBudgetConfig | undefined {
  if (b === undefined) return undefined;
  const intervalMs = durationMs(b.interval);
  const minIntervalMs = durationMs(b.minInterval);
  if (intervalMs === undefined || minIntervalMs === undefined || b.percent > 100) return undefined;
  return { percent: b.percent, intervalMs, minRetries: b.minRetries, minIntervalMs };
}

/** A Service's circuit breaking as the controller compiled it; a malformed one turns it off. */
export function failureAccrualOf(f: WireFailureAccrual | undefined): FailureAccrualConfig | undefined {
  if (f === undefined) return undefined;
  const minPenaltyMs = durationMs(f.minPenalty);
  const maxPenaltyMs = durationMs(f.maxPenalty);
  if (f.maxFailures < 1 || minPenaltyMs === undefined || maxPenaltyMs === undefined || maxPenaltyMs < minPenaltyMs) return undefined;
  return { maxFailures: f.maxFailures, minPenaltyMs, maxPenaltyMs };
}

const FAILURES: ReadonlySet<string> = new Set<BackendFailure>(['BackendNotFound', 'RefNotPermitted', 'InvalidKind']);

function serviceTargetOf(s: WireServiceBackend): ServiceTarget {
  const retryBudget = retryBudgetOf(s.retryBudget);
  const failureAccrual = failureAccrualOf(s.failureAccrual);
  return {
    kind: 'service', namespace: s.namespace, name: s.name, port: s.port,
    ...(retryBudget !== undefined ? { retryBudget } : {}), ...(failureAccrual !== undefined ? { failureAccrual } : {}),
  };
}

export function backendTargetOf(b: WireBackend | undefined): BackendTarget {
  const k = b?.kind;
  switch (k?.$case) {
    case 'service':
      return serviceTargetOf(k.value);
    case 'externalName': {
      if (k.value.service === undefined || k.value.externalName === '') {
        return { kind: 'error', status: 500, reason: 'BackendNotFound', message: 'an ExternalName backend without its Service or name' };
      }
      return { ...serviceTargetOf(k.value.service), externalName: k.value.externalName };
    }
    case 'failure': {
      const reason = (FAILURES.has(k.value.reason) ? k.value.reason : 'InvalidKind') as BackendFailure;
      return { kind: 'error', status: 500, reason, message: k.value.message };
    }
    case 'unsupported':
      return { kind: 'error', status: 500, reason: 'InvalidKind', message: `${k.value.kind}: ${k.value.reason}` };
    default:
      return { kind: 'error', status: 500, reason: 'InvalidKind', message: 'a backend kind this proxy does not know' };
  }
}

function headerOps(m: HeaderModifier): HeaderOps {
  return {
    set: m.set.map((h) => [h.name.toLowerCase(), h.value] as const),
    add: m.add.map((h) => [h.name.toLowerCase(), h.value] as const),
    remove: m.remove.map((n) => n.toLowerCase()),
  };
}

function pathModifierOf(p: WirePathModifier | undefined): PathModifier | undefined | Problem {
  if (p === undefined) return undefined;
  const k = p.kind;
  switch (k?.$case) {
    case 'replaceFullPath':
      return { kind: 'full', value: k.value };
    case 'replacePrefixMatch':
      return { kind: 'prefix', value: k.value };
    case 'unsupported':
      return { problem: `path modifier ${k.value.kind}: ${k.value.reason}` };
    default:
      return { problem: 'a path modifier this proxy does not know' };
  }
}

function isProblem(x: unknown): x is Problem {
  return typeof x === 'object' && x !== null && 'problem' in x;
}

function filterOf(f: WireFilter): CompiledFilter {
  const k = f.kind;
  switch (k?.$case) {
    case 'requestHeaderModifier':
      return { kind: 'requestHeaders', ops: headerOps(k.value) };
    case 'responseHeaderModifier':
      return { kind: 'responseHeaders', ops: headerOps(k.value) };
    case 'requestRedirect': {
      const r = k.value;
      const path = pathModifierOf(r.path);
      if (isProblem(path)) return { kind: 'unsupported', type: path.problem };
      const status = r.statusCode === 0 ? 302 : r.statusCode;
      if (status < 300 || status > 399) return { kind: 'unsupported', type: `redirect status ${status}` };
      return {
        kind: 'redirect',
        ...(r.scheme !== '' ? { scheme: r.scheme } : {}),
        ...(r.hostname !== '' ? { hostname: r.hostname } : {}),
        ...(r.port !== 0 ? { port: r.port } : {}),
        ...(path !== undefined ? { path } : {}),
        statusCode: status,
      };
    }
    case 'urlRewrite': {
      const path = pathModifierOf(k.value.path);
      if (isProblem(path)) return { kind: 'unsupported', type: path.problem };
      return { kind: 'rewrite', ...(k.value.hostname !== '' ? { hostname: k.value.hostname } : {}), ...(path !== undefined ? { path } : {}) };
    }
    case 'requestMirror': {
      const m = k.value;
      const all = m.numerator === 0 && m.denominator === 0;
      if (!all && (m.denominator === 0 || m.numerator > m.denominator)) return { kind: 'unsupported', type: `mirror fraction ${m.numerator}/${m.denominator}` };
      return { kind: 'mirror', target: backendTargetOf(m.backend), numerator: all ? 1 : m.numerator, denominator: all ? 1 : m.denominator };
    }
    case 'cors': {
      const v = k.value;
      const problems: string[] = [];
      const cors = compileCors({ allowOrigins: v.allowOrigins, allowCredentials: v.allowCredentials, allowMethods: v.allowMethods, allowHeaders: v.allowHeaders, exposeHeaders: v.exposeHeaders, maxAge: v.maxAgeSeconds }, 'CORS', problems);
      return cors === undefined ? { kind: 'unsupported', type: problems.join('; ') } : { kind: 'cors', cors };
    }
    case 'faultInjection': {
      const v = k.value;
      const delayMs = v.delay === undefined ? undefined : durationMs(v.delay.duration);
      const bad = (v.abort === undefined && v.delay === undefined)
        || (v.abort !== undefined && (v.abort.httpStatus < 200 || v.abort.httpStatus > 599 || v.abort.percentage > 100))
        || (v.delay !== undefined && (delayMs === undefined || delayMs < 1 || delayMs > MAX_DELAY_MS || v.delay.percentage > 100));
      if (bad) return { kind: 'unsupported', type: `FaultInjection ${v.name} out of bounds` };
      return {
        kind: 'fault',
        fault: {
          ref: v.name,
          ...(v.abort !== undefined ? { abort: { status: v.abort.httpStatus, percentage: v.abort.percentage } } : {}),
          ...(v.delay !== undefined && delayMs !== undefined ? { delay: { ms: delayMs, percentage: v.delay.percentage } } : {}),
        },
      };
    }
    case 'unsupported':
      return { kind: 'unsupported', type: `${k.value.kind} (${k.value.reason})` };
    default:
      return { kind: 'unsupported', type: 'a filter kind this proxy does not know' };
  }
}

type MatchOut = CompiledMatch | Problem;

function stringSpec(v: { $case: 'exact'; value: string } | { $case: 'regex'; value: string } | { $case: 'unsupported'; value: { kind: string; reason: string } } | undefined): { type: 'Exact' | 'RegularExpression'; value: string } | Problem {
  switch (v?.$case) {
    case 'exact':
      return { type: 'Exact', value: v.value };
    case 'regex':
      return { type: 'RegularExpression', value: v.value };
    case 'unsupported':
      return { problem: `${v.value.kind}: ${v.value.reason}` };
    default:
      return { problem: 'a match kind this proxy does not know' };
  }
}

function httpMatchOf(m: WireHttpMatch): MatchOut {
  let path: HTTPRouteMatch['path'];
  const pk = m.path?.kind;
  if (m.path !== undefined) {
    switch (pk?.$case) {
      case 'exact': path = { type: 'Exact', value: pk.value }; break;
      case 'prefix': path = { type: 'PathPrefix', value: pk.value }; break;
      case 'regex': path = { type: 'RegularExpression', value: pk.value }; break;
      case 'unsupported': return { problem: `path match ${pk.value.kind}: ${pk.value.reason}` };
      default: return { problem: 'a path match kind this proxy does not know' };
    }
  }
  const headers: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[] = [];
  for (const h of m.headers) {
    const s = stringSpec(h.value);
    if (isProblem(s)) return s;
    headers.push({ name: h.name, ...s });
  }
  const queryParams: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[] = [];
  for (const q of m.queryParams) {
    const s = stringSpec(q.value);
    if (isProblem(s)) return s;
    queryParams.push({ name: q.name, ...s });
  }
  const spec: HTTPRouteMatch = { ...(path !== undefined ? { path } : {}), headers, queryParams, ...(m.method !== '' ? { method: m.method } : {}) };
  const r = compileHttpMatch(spec);
  return r.ok ? r.match : { problem: r.reason };
}

function grpcMatchOf(m: WireGrpcMatch): MatchOut {
  let method: GRPCRouteMatch['method'];
  const k = m.method?.kind;
  if (m.method !== undefined) {
    switch (k?.$case) {
      case 'exact':
      case 'regex': {
        const type = k.$case === 'exact' ? 'Exact' : 'RegularExpression';
        const svc = k.value.service;
        const name = k.value.method;
        if (svc !== '' || name !== '') method = { type, ...(svc !== '' ? { service: svc } : {}), ...(name !== '' ? { method: name } : {}) };
        break;
      }
      case 'unsupported':
        return { problem: `method match ${k.value.kind}: ${k.value.reason}` };
      default:
        return { problem: 'a gRPC method match kind this proxy does not know' };
    }
  }
  const headers: { type: 'Exact' | 'RegularExpression'; name: string; value: string }[] = [];
  for (const h of m.headers) {
    const s = stringSpec(h.value);
    if (isProblem(s)) return s;
    headers.push({ name: h.name, ...s });
  }
  const r = compileGrpcMatch({ ...(method !== undefined ? { method } : {}), headers });
  return r.ok ? r.match : { problem: r.reason };
}

interface WireRule<M> {
  readonly name: string;
  readonly matches: readonly M[];
  readonly filters: readonly WireFilter[];
  readonly backends: readonly WeightedBackend[];
  readonly timeouts?: WireTimeouts | undefined;
  readonly retry?: WireRetry | undefined;
}

function ruleOf<M>(r: WireRule<M>, index: number, matchOf: (m: M) => MatchOut, anyMatch: () => MatchOut): CompiledRule {
  const problems: string[] = [];
  const matches: CompiledMatch[] = [];
  for (const m of r.matches.length > 0 ? r.matches : [undefined]) {
    const c = m === undefined ? anyMatch() : matchOf(m);
    if (isProblem(c)) problems.push(c.problem);
    else matches.push(c);
  }
  // A rule whose only matches failed still needs one to be selectable, so it can answer 500.
  if (matches.length === 0) {
    const any = anyMatch();
    if (!isProblem(any)) matches.push(any);
  }
  const filters = r.filters.map(filterOf);
  const backends: CompiledBackend[] = r.backends.map((b) => ({ weight: b.weight, target: backendTargetOf(b.backend), filters: b.filters.map(filterOf) }));
  for (const f of [...filters, ...backends.flatMap((b) => b.filters)]) if (f.kind === 'unsupported') problems.push(`filter ${f.type}`);
  const retry = retryOf(r.retry);
  return {
    index,
    ...(r.name !== '' ? { name: r.name } : {}),
    matches,
    filters,
    backends,
    totalWeight: backends.reduce((s, b) => s + b.weight, 0),
    timeouts: timeoutsOf(r.timeouts),
    ...(retry !== undefined ? { retry } : {}),
    ...(problems.length > 0 ? { unsupported: problems.join('; ') } : {}),
  };
}

const anyHttp = (): MatchOut => {
  const r = compileHttpMatch(undefined);
  return r.ok ? r.match : { problem: r.reason };
};
const anyGrpc = (): MatchOut => {
  const r = compileGrpcMatch(undefined);
  return r.ok ? r.match : { problem: r.reason };
};

export function httpRouteOf(r: WireHttpRoute, position: number): CompiledRoute {
  return {
    kind: 'http', namespace: r.meta?.namespace ?? '', name: r.meta?.name ?? '', createdAt: position,
    rules: r.rules.map((rule, i) => ruleOf(rule, i, httpMatchOf, anyHttp)),
  };
}

export function grpcRouteOf(r: WireGrpcRoute, position: number): CompiledRoute {
  return {
    kind: 'grpc', namespace: r.meta?.namespace ?? '', name: r.meta?.name ?? '', createdAt: position,
    rules: r.rules.map((rule, i) => ruleOf(rule, i, grpcMatchOf, anyGrpc)),
  };
}

// --- outbound ---------------------------------------------------------------------------------------

export interface ServicePortPolicy {
  /** The core view (`routes: 'none'` = passthrough) that `routeOutbound` evaluates. */
  readonly policy: OutboundPolicy;
  /** Set when the controller sent routes of a kind this proxy cannot apply: every request answers 500. */
  readonly unsupported?: string;
}

/** The domain view of one ServicePolicy as seen from `clientNamespace`; undefined without a Service. */
export function servicePortPolicyOf(m: ServicePolicy, clientNamespace: string): ServicePortPolicy | undefined {
  const s = m.service;
  if (s === undefined) return undefined;
  let routes: CompiledRoute[] | 'none' = 'none';
  let unsupported: string | undefined;
  const r = m.routes;
  switch (r?.$case) {
    case 'passthrough':
      break;
    case 'http':
      routes = r.value.routes.map(httpRouteOf);
      break;
    case 'grpc':
      routes = r.value.routes.map(grpcRouteOf);
      break;
    case 'unsupported':
      unsupported = `${r.value.kind}: ${r.value.reason}`;
      break;
    default:
      unsupported = 'routes of a kind this proxy does not know';
  }
  const policy: OutboundPolicy = {
    key: `${clientNamespace}|${s.namespace}/${s.name}:${s.port}`,
    clientNamespace,
    service: { namespace: s.namespace, name: s.name },
    port: s.port,
    clusterIPs: [],
    protocol: 'detect',
    routes,
    table: buildRouteTable(routes === 'none' ? [] : routes),
  };
  return { policy, ...(unsupported !== undefined ? { unsupported } : {}) };
}

// --- inbound ----------------------------------------------------------------------------------------

/** Every address: what `Unauthenticated` admits (subject to the authorization's other requirements). */
const EVERYWHERE = compileNetworks([{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }]);

function protocolOf(p: WireProxyProtocol | undefined): ProxyProtocol | undefined {
  switch (p?.kind?.$case) {
    case 'detect': return 'unknown';
    case 'http1': return 'HTTP/1';
    case 'http2': return 'HTTP/2';
    case 'grpc': return 'gRPC';
    case 'opaque': return 'opaque';
    case 'tls': return 'TLS';
    default: return undefined;
  }
}

function authenticationOf(a: WireAuthentication, trustDomain: string, owner: { namespace: string; name: string }): CompiledAuthentication | Problem {
  const k = a.kind;
  switch (k?.$case) {
    case 'meshTls': {
      const exact = new Set<string>();
      let any = false;
      for (const id of k.value.identities) {
        if (id === '*') any = true;
        else exact.add(id);
      }
      for (const sa of k.value.serviceAccounts) exact.add(spiffeId(trustDomain, sa.namespace, sa.name));
      return { kind: 'MeshTLSAuthentication', ...owner, identities: { any, exact, namespaces: new Set(k.value.namespaces), trustDomain } };
    }
    case 'network': {
      const n = compileNetworks(k.value.networks.map((x) => ({ cidr: x.cidr, except: x.except })));
      if (!n.ok) return { problem: `networks: ${n.reason}` };
      return { kind: 'NetworkAuthentication', ...owner, networks: n.networks };
    }
    case 'unauthenticated':
      if (!EVERYWHERE.ok) return { problem: 'internal: every-address network set' };
      return { kind: 'NetworkAuthentication', ...owner, networks: EVERYWHERE.networks };
    case 'unsupported':
      return { problem: `${k.value.kind}: ${k.value.reason}` };
    default:
      return { problem: 'an authentication kind this proxy does not know' };
  }
}

const TARGETS: Readonly<Record<string, CompiledAuthorization['target']['kind']>> = {
  TARGET_KIND_SERVER: 'Server',
  TARGET_KIND_HTTP_ROUTE: 'HTTPRoute',
  TARGET_KIND_GRPC_ROUTE: 'GRPCRoute',
  TARGET_KIND_NAMESPACE: 'Namespace',
};

/** Label of each authorization for metrics: its name, or `default:<policy>` for synthesised ones. */
export type AuthorizationLabels = ReadonlyMap<string, string>;

function authorizationOf(a: WireAuthorization, trustDomain: string, labels: Map<string, string>): CompiledAuthorization {
  const meta = a.meta;
  const namespace = meta?.namespace ?? '';
  const name = meta?.name ?? '';
  labels.set(`${namespace}/${name}`, meta?.kind === 'default' ? `default:${name}` : name);
  const target = { kind: TARGETS[a.target] ?? 'Server', name: '' };
  const authentications: CompiledAuthentication[] = [];
  const problems: string[] = [];
  for (const r of a.required) {
    const c = authenticationOf(r, trustDomain, { namespace, name });
    if (isProblem(c)) problems.push(c.problem);
    else authentications.push(c);
  }
  if (a.required.length === 0) problems.push('no authentication required by the controller: admits nobody');
  return { namespace, name, target, authentications: problems.length > 0 ? [] : authentications, ...(problems.length > 0 ? { invalid: problems.join('; ') } : {}) };
}

/**
 * An InboundLimitPolicy from the wire. A zero rate or maximum (a newer controller's alternative this
 * proxy cannot read) is left out: limits protect capacity, they never grant access.
 */
function limitsOf(l: WireLimits | undefined, kind: LimitTargetKind, name: string): { limits?: CompiledLimits } {
  if (l === undefined) return {};
  const rate = l.rate !== undefined && l.rate.requestsPerSecond > 0
    ? { requestsPerSecond: l.rate.requestsPerSecond, burst: Math.max(1, l.rate.burst) }
    : undefined;
  const concurrency = l.concurrency !== undefined && l.concurrency.maxInFlight > 0 ? { maxInFlight: l.concurrency.maxInFlight } : undefined;
  if (rate === undefined && concurrency === undefined) return {};
  return {
    limits: {
      namespace: l.meta?.namespace ?? '', name: l.meta?.name ?? '', target: { kind, name },
      ...(rate !== undefined ? { rate } : {}), ...(concurrency !== undefined ? { concurrency } : {}),
    },
  };
}

export interface PortPolicyView {
  readonly policy: InboundPortPolicy;
  /** `server` label: the Server's name, or `default:<policy>`. */
  readonly serverLabel: string;
  readonly defaultPolicy: string;
  readonly authorizationLabels: AuthorizationLabels;
}

/** The domain view of one PortPolicy of `pod` (namespace, name) and `port`. */
export function portPolicyOf(m: PortPolicy, pod: { namespace: string; name: string }, port: number, trustDomain: string): PortPolicyView {
  const problems: string[] = [];
  const protocol = protocolOf(m.server?.protocol);
  if (protocol === undefined) problems.push('the Server\'s proxy protocol is not supported by this proxy');
  const serverMeta = m.server?.meta;
  const isServer = serverMeta !== undefined && serverMeta.kind === 'Server';
  const defaultPolicy: DefaultInboundPolicy = isDefaultInboundPolicy(m.defaultPolicy) ? m.defaultPolicy : 'deny';
  const labels = new Map<string, string>();
  const authorizations = m.authorizations.map((a) => authorizationOf(a, trustDomain, labels));

  const routes: CompiledRoute[] = [];
  const routePolicies = new Map<CompiledRoute, InboundRoute>();
  const isDefaultRoute = (meta: { kind: string } | undefined) => meta?.kind === 'default';
  const httpRoutes = m.httpRoutes.filter((r) => !isDefaultRoute(r.route?.meta));
  httpRoutes.forEach((r, i) => {
    if (r.route === undefined) return;
    const c = httpRouteOf(r.route, i);
    routes.push(c);
    routePolicies.set(c, { kind: 'HTTPRoute', namespace: c.namespace, name: c.name, authorizations: r.authorizations.map((a) => authorizationOf(a, trustDomain, labels)), ...limitsOf(r.limits, 'HTTPRoute', c.name) });
  });
  m.grpcRoutes.forEach((r, i) => {
    if (r.route === undefined) return;
    const c = grpcRouteOf(r.route, httpRoutes.length + i);
    routes.push(c);
    routePolicies.set(c, { kind: 'GRPCRoute', namespace: c.namespace, name: c.name, authorizations: r.authorizations.map((a) => authorizationOf(a, trustDomain, labels)), ...limitsOf(r.limits, 'GRPCRoute', c.name) });
  });

  const probePaths = new Set<string>();
  for (const p of m.probes?.paths ?? []) {
    const n = normalizeRequestTarget(p);
    if (n.ok) probePaths.add(n.path);
  }
  let probeNetworks: NetworkSet = { entries: [] };
  const pn = compileNetworks((m.probes?.networks ?? []).map((x) => ({ cidr: x.cidr, except: x.except })));
  if (pn.ok) probeNetworks = pn.networks;

  const policy: InboundPortPolicy = {
    pod,
    port,
    protocol: protocol ?? 'unknown',
    ...(isServer ? { server: { namespace: serverMeta.namespace, name: serverMeta.name, accessPolicy: defaultPolicy } } : {}),
    ...(problems.length > 0 ? { invalid: problems.join('; ') } : {}),
    // The default policy's admissions are in `authorizations`; what is left is deny, or audit.
    fallback: { policy: m.audit ? 'audit' : 'deny', source: isServer ? 'server' : 'cluster' },
    authorizations,
    routes,
    routeTable: buildRouteTable(routes),
    routePolicies,
    probes: { paths: probePaths, networks: probeNetworks },
    ...(isServer ? limitsOf(m.limits, 'Server', serverMeta.name) : {}),
    clusterNetworks: { entries: [] },
    diagnostics: [],
  };
  return { policy, serverLabel: isServer ? serverMeta.name : `default:${defaultPolicy}`, defaultPolicy, authorizationLabels: labels };
}

// --- gateway ----------------------------------------------------------------------------------------

/** Listener protocols this proxy serves; a listener of another protocol (a newer controller's) is left out. */
const GATEWAY_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTPS', 'TLS']);

/** The domain view of a GatewayView message; undefined when the Gateway is not served. */
export function gatewayViewOf(m: WireGatewayView): GatewayView | undefined {
  if (!m.served) return undefined;
  const listeners: ListenerSpec[] = [];
  for (const p of m.ports) {
    for (const l of p.listeners) {
      if (!GATEWAY_PROTOCOLS.has(l.protocol)) continue;
      listeners.push({
        name: l.name, port: p.port, protocol: l.protocol === 'HTTPS' || l.protocol === 'TLS' ? l.protocol : 'HTTP', hostname: l.hostname,
        certificates: l.certificates.map((c) => ({ certPem: c.certChainPem, keyPem: c.keyPem })),
        tlsRoutes: l.tlsRoutes.map((r) => ({
          namespace: r.namespace, name: r.name, hostnames: r.hostnames,
          // Origins only when one per hostname (an older controller sends none).
          ...(r.hostnameOrigins.length === r.hostnames.length && r.hostnames.length > 0 ? { origins: r.hostnameOrigins } : {}),
          backends: r.backends.map((b) => ({ weight: b.weight, target: backendTargetOf(b.backend) })),
        })),
        hosts: l.hosts.map((h) => ({
          hostname: h.hostname,
          routes: [...h.httpRoutes.map(httpRouteOf), ...h.grpcRoutes.map((r, i) => grpcRouteOf(r, h.httpRoutes.length + i))],
        })),
      });
    }
  }
  const view = assembleGatewayView({ namespace: m.namespace, name: m.name }, listeners);
  const backendTls = new Map<string, BackendTlsDecision>();
  for (const b of m.backendTls) {
    const policy = policyRefOf(b.policy);
    backendTls.set(backendPortKey(b.namespace, b.name, b.port), b.invalid !== '' || b.hostname === ''
      ? { ok: false, policy, message: b.invalid !== '' ? b.invalid : `BackendTLSPolicy ${b.policy} sent without a hostname` }
      : {
        ok: true,
        config: {
          policy, hostname: b.hostname, ca: b.systemCa || b.caPem === '' ? { kind: 'system' } : { kind: 'pem', pem: b.caPem },
          subjectAltNames: b.subjectAltNames.filter((s) => s.type === 'Hostname' || s.type === 'URI').map((s) => ({ type: s.type as 'Hostname' | 'URI', value: s.value })),
        },
      });
  }
  const cc = m.backendClientCertificate;
  return {
    ...view,
    ...(backendTls.size > 0 ? { backendTls } : {}),
    ...(cc !== undefined && cc.certChainPem !== '' ? { backendClientCertificate: { certPem: cc.certChainPem, keyPem: cc.keyPem } } : {}),
  };
}

function policyRefOf(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: '', name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
