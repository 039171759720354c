/**
 * The one boundary between the controller's domain views (core/ compiled policy, ../index views)
 * and the wire messages of api/ (weft.{route,outbound,inbound,discovery}.v1). Nothing else in the
 * controller builds api messages from domain types.
 *
 * Rules (api/README.md):
 * - Nothing is omitted: an item Weft cannot express or enforce goes out as `Unsupported` in its
 *   place (a rule marked unsupported carries an Unsupported filter, so the proxy answers 500; an
 *   invalid authorization carries an Unsupported authentication, so it admits nobody).
 * - Routes are listed oldest first, then by namespace/name (the proxy's tie-break).
 * - A port without a Server gets a synthesised Server and authorizations (kind "default") that
 *   express its default policy; an empty authorization list denies.
 * - A port whose policy cannot be enforced (`invalid`) denies everything but kubelet probes: no
 *   authorizations, the default route, default policy "deny".
 */
import type { Network, ResourceRef, Unsupported } from '../../api/gen/weft/common/v1/common.js';
import { ProtocolHint as WireProtocolHint } from '../../api/gen/weft/common/v1/common.js';
import type { Endpoint, Endpoints } from '../../api/gen/weft/discovery/v1/discovery.js';
import type { Authentication, Authorization, InboundLimits, PortPolicy, ProxyProtocol } from '../../api/gen/weft/inbound/v1/inbound.js';
import { TargetKind } from '../../api/gen/weft/inbound/v1/inbound.js';
import { corsFilterOf } from '../../core/routes/cors.js';
import type { DestinationPolicy, ServicePolicy } from '../../api/gen/weft/outbound/v1/outbound.js';
import type {
  Backend,
  Filter,
  GrpcRoute,
  GrpcRouteMatch,
  HeaderMatch,
  HttpRoute,
  HttpRouteMatch,
  PathModifier,
  ServiceBackend,
  Timeouts,
  WeightedBackend,
} from '../../api/gen/weft/route/v1/route.js';
import type { NetworkSet } from '../../core/cidr.js';
import { GATEWAY_API_GROUP, POLICY_API_GROUP } from '../../core/contract.js';
import type { CompiledAuthentication, CompiledAuthorization, InboundPortPolicy } from '../../core/inbound/types.js';
import type { CompiledLimits } from '../../core/inbound/limits.js';
import type { DefaultInboundPolicy } from '../../core/kube-policy.js';
import type { OutboundPolicy, ProtocolHint } from '../../core/outbound/policy.js';
import type {
  BackendTarget,
  CompiledFilter,
  CompiledMatch,
  CompiledRoute,
  CompiledRule,
  NamedMatcher,
  PathModifier as DomainPathModifier,
  RouteTimeouts,
  StringMatcher,
} from '../../core/routes/types.js';
import type { DestinationView, EndpointView, EndpointsView } from '../index/views.js';

export interface ConvertOptions {
  /** DNS suffix of Service authorities (`<name>.<ns>.svc.<clusterDomain>:<port>`). */
  readonly clusterDomain: string;
  /** Protocol detection timeout the proxy uses for ports without a declared protocol. */
  readonly detectTimeoutMs: number;
}

export const DEFAULT_CONVERT_OPTIONS: ConvertOptions = { clusterDomain: 'cluster.local', detectTimeoutMs: 10_000 };

/** Group and kind of objects the controller synthesises (no route attached, default policy). */
const SYNTHETIC_GROUP = 'weft.dev';

function unsupported(kind: string, reason: string): Unsupported {
  return { kind, reason };
}

function protocolHint(p: ProtocolHint): WireProtocolHint {
  switch (p) {
    case 'http1':
      return WireProtocolHint.HTTP1;
    case 'http2':
      return WireProtocolHint.HTTP2;
    case 'grpc':
      return WireProtocolHint.GRPC;
    case 'opaque':
      return WireProtocolHint.OPAQUE;
    case 'detect':
      return WireProtocolHint.UNSPECIFIED;
  }
}

// --- routes -------------------------------------------------------------------------------------

function stringValue(m: StringMatcher): HeaderMatch['value'] {
  return m.kind === 'exact' ? { $case: 'exact', value: m.value } : { $case: 'regex', value: m.regex.source };
}

function namedMatches(list: readonly NamedMatcher[]): HeaderMatch[] {
  return list.map((h) => ({ name: h.name, value: stringValue(h.matcher) }));
}

function httpMatch(m: CompiledMatch): HttpRouteMatch {
  const p = m.path;
  return {
    ...(p !== undefined
      ? {
          path: {
            kind:
              p.kind === 'exact'
                ? { $case: 'exact', value: p.value }
                : p.kind === 'prefix'
                  ? { $case: 'prefix', value: p.value }
                  : { $case: 'regex', value: p.regex.source },
          },
        }
      : {}),
    headers: namedMatches(m.headers),
    queryParams: namedMatches(m.query),
    method: m.method ?? '',
  };
}

function grpcMatch(m: CompiledMatch): GrpcRouteMatch {
  const g = m.grpc;
  const headers = namedMatches(m.headers);
  if (g === undefined || (g.service === undefined && g.method === undefined)) return { headers };
  const kinds = new Set([g.service?.kind, g.method?.kind].filter((k) => k !== undefined));
  const text = (s: StringMatcher | undefined) => (s === undefined ? '' : s.kind === 'exact' ? s.value : s.regex.source);
  const value = { service: text(g.service), method: text(g.method) };
  if (kinds.size > 1) {
    return { method: { kind: { $case: 'unsupported', value: unsupported('GRPCRoute method match', 'mixes Exact and RegularExpression') } }, headers };
  }
  return { method: { kind: kinds.has('regex') ? { $case: 'regex', value } : { $case: 'exact', value } }, headers };
}

function pathModifier(p: DomainPathModifier | undefined): PathModifier | undefined {
  if (p === undefined) return undefined;
  return { kind: p.kind === 'full' ? { $case: 'replaceFullPath', value: p.value } : { $case: 'replacePrefixMatch', value: p.value } };
}

export function backend(target: BackendTarget, options: ConvertOptions): Backend {
  if (target.kind === 'error') {
    return { name: target.reason, kind: { $case: 'failure', value: { status: target.status, reason: target.reason, message: target.message } } };
  }
  const service: ServiceBackend = {
    namespace: target.namespace,
    name: target.name,
    port: target.port,
    authority: `${target.name}.${target.namespace}.svc.${options.clusterDomain}:${target.port}`,
    ...(target.retryBudget !== undefined
      ? {
          retryBudget: {
            percent: target.retryBudget.percent, interval: durationOf(target.retryBudget.intervalMs),
            minRetries: target.retryBudget.minRetries, minInterval: durationOf(target.retryBudget.minIntervalMs),
          },
        }
      : {}),
    ...(target.failureAccrual !== undefined
      ? {
          failureAccrual: {
            maxFailures: target.failureAccrual.maxFailures, minPenalty: durationOf(target.failureAccrual.minPenaltyMs),
            maxPenalty: durationOf(target.failureAccrual.maxPenaltyMs),
          },
        }
      : {}),
  };
  const name = `${target.namespace}/${target.name}:${target.port}`;
  // An ExternalName Service: the proxy resolves the name instead of watching endpoints.
  if (target.externalName !== undefined) return { name, kind: { $case: 'externalName', value: { service, externalName: target.externalName } } };
  return { name, kind: { $case: 'service', value: service } };
}

function filter(f: CompiledFilter, routeKind: string, options: ConvertOptions): Filter {
  const ops = (o: { set: readonly (readonly [string, string])[]; add: readonly (readonly [string, string])[]; remove: readonly string[] }) => ({
    set: o.set.map(([name, value]) => ({ name, value })),
    add: o.add.map(([name, value]) => ({ name, value })),
    remove: [...o.remove],
  });
  switch (f.kind) {
    case 'requestHeaders':
      return { kind: { $case: 'requestHeaderModifier', value: ops(f.ops) } };
    case 'responseHeaders':
      return { kind: { $case: 'responseHeaderModifier', value: ops(f.ops) } };
    case 'redirect': {
      const path = pathModifier(f.path);
      return {
        kind: {
          $case: 'requestRedirect',
          value: { scheme: f.scheme ?? '', hostname: f.hostname ?? '', port: f.port ?? 0, statusCode: f.statusCode, ...(path ? { path } : {}) },
        },
      };
    }
    case 'rewrite': {
      const path = pathModifier(f.path);
      return { kind: { $case: 'urlRewrite', value: { hostname: f.hostname ?? '', ...(path ? { path } : {}) } } };
    }
    case 'mirror':
      return { kind: { $case: 'requestMirror', value: { backend: backend(f.target, options), numerator: f.numerator, denominator: f.denominator } } };
    case 'fault': {
      const { ref, abort, delay } = f.fault;
      return {
        kind: {
          $case: 'faultInjection',
          value: {
            name: ref,
            ...(abort !== undefined ? { abort: { httpStatus: abort.status, percentage: abort.percentage } } : {}),
            ...(delay !== undefined ? { delay: { duration: durationOf(delay.ms), percentage: delay.percentage } } : {}),
          },
        },
      };
    }
    case 'cors': {
      const c = corsFilterOf(f.cors);
      return {
        kind: {
          $case: 'cors',
          value: { allowOrigins: [...c.allowOrigins], allowCredentials: c.allowCredentials, allowMethods: [...c.allowMethods], allowHeaders: [...c.allowHeaders], exposeHeaders: [...c.exposeHeaders], maxAgeSeconds: c.maxAge },
        },
      };
    }
    case 'unsupported':
      return { kind: { $case: 'unsupported', value: unsupported(`${routeKind} filter ${f.type}`, 'not implemented by weft') } };
  }
}

function durationOf(ms: number) {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function timeouts(t: RouteTimeouts): Timeouts | undefined {
  if (t.requestMs === undefined && t.backendRequestMs === undefined) return undefined;
  return {
    ...(t.requestMs !== undefined ? { request: durationOf(t.requestMs) } : {}),
    ...(t.backendRequestMs !== undefined ? { backendRequest: durationOf(t.backendRequestMs) } : {}),
  };
}

function ruleParts(rule: CompiledRule, routeKind: string, options: ConvertOptions) {
  const filters = rule.filters.map((f) => filter(f, routeKind, options));
  // A rule Weft cannot honour as written answers 500: say so with an Unsupported filter.
  if (rule.unsupported !== undefined && !rule.filters.some((f) => f.kind === 'unsupported')) {
    filters.push({ kind: { $case: 'unsupported', value: unsupported(`${routeKind} rule ${rule.name ?? rule.index}`, rule.unsupported) } });
  }
  const backends: WeightedBackend[] = rule.backends.map((b) => ({
    backend: backend(b.target, options),
    weight: b.weight,
    filters: b.filters.map((f) => filter(f, routeKind, options)),
  }));
  const t = timeouts(rule.timeouts);
  return { name: rule.name ?? '', filters, backends, ...(t ? { timeouts: t } : {}) };
}

function routeMeta(r: CompiledRoute): ResourceRef {
  return { group: GATEWAY_API_GROUP, kind: r.kind === 'http' ? 'HTTPRoute' : 'GRPCRoute', namespace: r.namespace, name: r.name };
}

export function httpRoute(r: CompiledRoute, options: ConvertOptions): HttpRoute {
  return {
    meta: routeMeta(r),
    rules: r.rules.map((rule) => ({
      ...ruleParts(rule, 'HTTPRoute', options),
      matches: rule.matches.map(httpMatch),
      ...(rule.retry !== undefined ? { retry: { attempts: rule.retry.attempts, codes: [...rule.retry.codes], backoff: durationOf(rule.retry.backoffMs) } } : {}),
    })),
  };
}

export function grpcRoute(r: CompiledRoute, options: ConvertOptions): GrpcRoute {
  return {
    meta: routeMeta(r),
    rules: r.rules.map((rule) => ({ ...ruleParts(rule, 'GRPCRoute', options), matches: rule.matches.map(grpcMatch) })),
  };
}

/** Oldest first, then namespace/name: the order the proxy breaks precedence ties by. */
export function sortRoutes(routes: readonly CompiledRoute[]): CompiledRoute[] {
  return [...routes].sort((a, b) => {
    if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
    const ka = `${a.namespace}/${a.name}`;
    const kb = `${b.namespace}/${b.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

// --- outbound -----------------------------------------------------------------------------------

export function servicePolicy(p: OutboundPolicy, options: ConvertOptions): ServicePolicy {
  const service = backend({ kind: 'service', namespace: p.service.namespace, name: p.service.name, port: p.port }, options);
  let routes: ServicePolicy['routes'];
  if (p.routes === 'none') routes = { $case: 'passthrough', value: {} };
  else {
    const sorted = sortRoutes(p.routes);
    const kinds = new Set(sorted.map((r) => r.kind));
    if (kinds.size > 1) routes = { $case: 'unsupported', value: unsupported('mixed route kinds', 'HTTPRoutes and GRPCRoutes selected together') };
    else if (kinds.has('grpc')) routes = { $case: 'grpc', value: { routes: sorted.map((r) => grpcRoute(r, options)) } };
    else routes = { $case: 'http', value: { routes: sorted.map((r) => httpRoute(r, options)) } };
  }
  return {
    ...(service.kind?.$case === 'service' ? { service: service.kind.value } : {}),
    protocol: protocolHint(p.protocol),
    routes,
  };
}

export function endpoint(e: EndpointView): Endpoint {
  return {
    ip: e.ip,
    port: e.port,
    ready: e.ready,
    serving: e.serving,
    terminating: e.terminating,
    podNamespace: e.pod?.namespace ?? '',
    podName: e.pod?.name ?? '',
    zone: e.zone ?? '',
    node: e.node ?? '',
    meshed: e.meshed,
    identity: e.identity ?? '',
    protocol: protocolHint(e.protocol),
  };
}

/** The snapshot body of a DestinationPolicy (version and time are the stream's). */
export function destinationPolicy(v: DestinationView, options: ConvertOptions): Omit<DestinationPolicy, 'version' | 'generatedAt'> {
  switch (v.kind) {
    case 'service':
      return { destination: { $case: 'service', value: servicePolicy(v.policy, options) } };
    case 'pod':
      return { destination: { $case: 'pod', value: endpoint(v.endpoint) } };
    case 'unknown':
      return { destination: { $case: 'unknown', value: {} } };
  }
}

export function endpoints(v: EndpointsView): Omit<Endpoints, 'version' | 'generatedAt'> {
  return { serviceExists: v.serviceExists, endpoints: v.endpoints.map(endpoint) };
}

// --- inbound ------------------------------------------------------------------------------------

function networks(set: NetworkSet): Network[] {
  return set.entries.map((e) => ({ cidr: e.cidr.text, except: e.except.map((x) => x.text) }));
}

function authentication(a: CompiledAuthentication): Authentication {
  switch (a.kind) {
    case 'MeshTLSAuthentication':
      return {
        kind: {
          $case: 'meshTls',
          value: {
            identities: [...(a.identities.any ? ['*'] : []), ...[...a.identities.exact].sort()],
            serviceAccounts: [],
            namespaces: [...a.identities.namespaces].sort(),
          },
        },
      };
    case 'NetworkAuthentication':
      return { kind: { $case: 'network', value: { networks: networks(a.networks) } } };
    case 'ServiceAccount':
      return { kind: { $case: 'meshTls', value: { identities: [a.identity], serviceAccounts: [], namespaces: [] } } };
  }
}

const TARGET_KINDS: Readonly<Record<CompiledAuthorization['target']['kind'], TargetKind>> = {
  Server: TargetKind.SERVER,
  HTTPRoute: TargetKind.HTTP_ROUTE,
  GRPCRoute: TargetKind.GRPC_ROUTE,
  Namespace: TargetKind.NAMESPACE,
};

export function authorization(a: CompiledAuthorization): Authorization {
  return {
    meta: { group: POLICY_API_GROUP, kind: 'AuthorizationPolicy', namespace: a.namespace, name: a.name },
    target: TARGET_KINDS[a.target.kind],
    required:
      a.invalid !== undefined
        ? [{ kind: { $case: 'unsupported', value: unsupported('AuthorizationPolicy', a.invalid) } }]
        : a.authentications.map(authentication),
  };
}

/** The authorizations that express a default policy (or a Server's accessPolicy). */
export function defaultAuthorizations(policy: DefaultInboundPolicy, namespace: string, clusterNetworks: NetworkSet): Authorization[] {
  const anyIdentity: Authentication = { kind: { $case: 'meshTls', value: { identities: ['*'], serviceAccounts: [], namespaces: [] } } };
  const cluster: Authentication = { kind: { $case: 'network', value: { networks: networks(clusterNetworks) } } };
  const unauthenticated: Authentication = { kind: { $case: 'unauthenticated', value: {} } };
  const required: Record<DefaultInboundPolicy, Authentication[] | undefined> = {
    'all-unauthenticated': [unauthenticated],
    'all-authenticated': [anyIdentity],
    'cluster-authenticated': [anyIdentity, cluster],
    'cluster-unauthenticated': [cluster],
    deny: undefined,
    audit: undefined,
  };
  const r = required[policy];
  if (r === undefined) return [];
  return [{ meta: { group: SYNTHETIC_GROUP, kind: 'default', namespace, name: policy }, target: TargetKind.DEFAULT, required: r }];
}

function proxyProtocol(p: InboundPortPolicy['protocol'], options: ConvertOptions): ProxyProtocol {
  switch (p) {
    case 'unknown':
      return { kind: { $case: 'detect', value: { timeoutMs: options.detectTimeoutMs } } };
    case 'HTTP/1':
      return { kind: { $case: 'http1', value: {} } };
    case 'HTTP/2':
      return { kind: { $case: 'http2', value: {} } };
    case 'gRPC':
      return { kind: { $case: 'grpc', value: {} } };
    case 'opaque':
      return { kind: { $case: 'opaque', value: {} } };
    case 'TLS':
      return { kind: { $case: 'tls', value: {} } };
  }
}

function defaultRouteMeta(): ResourceRef {
  return { group: SYNTHETIC_GROUP, kind: 'default', namespace: '', name: 'default' };
}

/** The snapshot body of a PortPolicy (version and time are the stream's). */
export function portPolicy(p: InboundPortPolicy, options: ConvertOptions): Omit<PortPolicy, 'version' | 'generatedAt'> {
  const ns = p.pod.namespace;
  const invalid = p.invalid !== undefined;
  const fallback: DefaultInboundPolicy = invalid ? 'deny' : p.fallback.policy;
  const server = {
    meta:
      p.server !== undefined
        ? { group: POLICY_API_GROUP, kind: 'Server', namespace: p.server.namespace, name: p.server.name }
        : { group: SYNTHETIC_GROUP, kind: 'default', namespace: ns, name: p.fallback.policy },
    protocol: proxyProtocol(p.protocol, options),
  };
  const authorizations = invalid
    ? []
    : [...p.authorizations.map(authorization), ...defaultAuthorizations(fallback, ns, p.clusterNetworks)];
  const routes = invalid ? [] : sortRoutes(p.routes);
  const limits = invalid ? undefined : inboundLimits(p.limits);
  const grpc = routes.some((r) => r.kind === 'grpc');
  const routeAuthz = (r: CompiledRoute) => (p.routePolicies.get(r)?.authorizations ?? []).map(authorization);
  const routeLimits = (r: CompiledRoute) => {
    const l = inboundLimits(p.routePolicies.get(r)?.limits);
    return l === undefined ? {} : { limits: l };
  };
  const httpRoutes =
    grpc ? []
    : routes.length === 0 ? [{ route: { meta: defaultRouteMeta(), rules: [{ name: '', matches: [], filters: [], backends: [] }] }, authorizations: [] }]
    : routes.map((r) => ({ route: httpRoute(r, options), authorizations: routeAuthz(r), ...routeLimits(r) }));
  const grpcRoutes = grpc ? routes.filter((r) => r.kind === 'grpc').map((r) => ({ route: grpcRoute(r, options), authorizations: routeAuthz(r), ...routeLimits(r) })) : [];
  return {
    server,
    authorizations,
    httpRoutes,
    grpcRoutes,
    defaultPolicy: fallback,
    probes: { paths: [...p.probes.paths].sort(), networks: networks(p.probes.networks) },
    audit: fallback === 'audit',
    ...(limits !== undefined ? { limits } : {}),
  };
}

/** An InboundLimitPolicy on the wire (weft.inbound.v1.InboundLimits); undefined: no limit. */
function inboundLimits(l: CompiledLimits | undefined): InboundLimits | undefined {
  if (l === undefined) return undefined;
  return {
    meta: { group: POLICY_API_GROUP, kind: 'InboundLimitPolicy', namespace: l.namespace, name: l.name },
    rate: l.rate === undefined ? undefined : { requestsPerSecond: l.rate.requestsPerSecond, burst: l.rate.burst },
    concurrency: l.concurrency === undefined ? undefined : { maxInFlight: l.concurrency.maxInFlight },
  };
}
