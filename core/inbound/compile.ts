/**
 * The inbound policy compiler: ClusterSnapshot -> InboundPortPolicy per (pod, port).
 *
 * Model: `Pod -> Port <- Server <- AuthorizationPolicy -> Authentications`.
 *   1. `indexInboundPolicy` compiles once per snapshot what does not depend on the pod: every
 *      MeshTLSAuthentication and NetworkAuthentication, every AuthorizationPolicy (grouped by what
 *      it targets), every route attached to a Server, the cluster networks.
 *   2. `compileInboundPort` picks the Server governing the port (podSelector + port number or named
 *      container port; several: the oldest wins, the others get a Conflicted diagnostic), gathers
 *      the authorizations targeting that Server, its Namespace and its routes, and the probe
 *      exemption; without a Server it resolves the default policy (pod annotation > namespace
 *      annotation > cluster setting > all-unauthenticated).
 *
 * Invariants (fail closed, security case 25):
 * - Nothing Weft does not implement is ignored. An unknown field, kind, group, operator, protocol
 *   or policy name, an unparsable CIDR, a missing reference: the authorization carrying it is
 *   compiled as `invalid` (never allows) and a diagnostic says why; a Server or attached route that
 *   cannot be compiled makes the port deny everything except kubelet probes.
 * - An AuthorizationPolicy whose targetRef Weft cannot resolve applies nowhere (so allows nothing),
 *   and is reported.
 * - An AuthorizationPolicy with no requiredAuthenticationRefs is invalid rather than "allow all":
 *   to allow everyone, reference a NetworkAuthentication for 0.0.0.0/0 and ::/0.
 * - A route attached to a Server compiles with the shared route compiler; a route that cannot be
 *   evaluated (fatal) makes the Server deny everything, a rule with something unsupported stays
 *   in the table marked and is refused when selected. backendRefs and hostnames are not inbound
 *   conditions (the request already reached its pod).
 */
import {
  compileCidrList,
  compileNetworks,
  parseIp,
  type NetworkSet,
} from '../cidr.js';
import {
  CONFIG_ANNOTATIONS,
  DEFAULT_CLUSTER_NETWORKS,
  DEFAULT_TRUST_DOMAIN,
  GATEWAY_API_GROUP,
  POLICY_API_GROUP,
  spiffeId,
} from '../contract.js';
import { compileMeshTLSAuthentication } from '../identity-match.js';
import type {
  ClusterSnapshot,
  Container,
  GRPCRoute,
  HTTPRoute,
  KubeObject,
  Namespace,
  Pod,
} from '../kube.js';
import {
  DEFAULT_SERVER_ACCESS_POLICY,
  FALLBACK_DEFAULT_INBOUND_POLICY,
  PROXY_PROTOCOLS,
  isDefaultInboundPolicy,
  type AuthenticationRef,
  type AuthorizationPolicy,
  type DefaultInboundPolicy,
  type NetworkAuthentication,
  type ProxyProtocol,
  type Server,
} from '../kube-policy.js';
import { normalizeRequestTarget } from '../path.js';
import { compileGrpcRoute, compileHttpRoute, type BackendResolver } from '../routes/compile.js';
import { buildRouteTable } from '../routes/match.js';
import type { CompiledRoute } from '../routes/types.js';
import { matchLabelSelector } from './label-selector.js';
import { selectInboundLimits, type CompiledLimits } from './limits.js';
import type {
  CompiledAuthentication,
  CompiledAuthorization,
  FallbackSource,
  InboundPortPolicy,
  InboundRoute,
  ObjectRef,
  PolicyDiagnostic,
} from './types.js';

export interface InboundCompileOptions {
  /** Default DEFAULT_TRUST_DOMAIN. */
  readonly trustDomain?: string;
  /** "Cluster" for the cluster-* policies. Default DEFAULT_CLUSTER_NETWORKS. */
  readonly clusterNetworks?: readonly string[];
  /** The cluster-wide default inbound policy (install setting). Default all-unauthenticated. */
  readonly defaultPolicy?: string;
  /**
   * Where kubelet probes come from. Default: the pod's node addresses (status.hostIPs / hostIP),
   * each as a single-host block.
   */
  readonly probeNetworks?: readonly string[];
}

type Compiled<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

interface AttachedRoute {
  readonly compiled: CompiledRoute;
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  /** Why the route cannot be enforced as written; the Server then denies everything. */
  readonly invalid?: string;
}

export interface InboundIndex {
  readonly snapshot: ClusterSnapshot;
  readonly trustDomain: string;
  readonly clusterNetworks: NetworkSet;
  readonly probeNetworksOption?: NetworkSet;
  readonly clusterDefault: Compiled<DefaultInboundPolicy>;
  readonly namespaces: ReadonlyMap<string, Namespace>;
  readonly pods: ReadonlyMap<string, Pod>;
  /** Servers per namespace, oldest first (then by name). */
  readonly servers: ReadonlyMap<string, readonly Server[]>;
  /** Authorizations by target key `namespace/Kind/name`. */
  readonly authorizations: ReadonlyMap<string, readonly CompiledAuthorization[]>;
  /** Routes by Server key `namespace/name`. */
  readonly routes: ReadonlyMap<string, readonly AttachedRoute[]>;
  /** The InboundLimitPolicy in force per target key `namespace/Kind/name` (the oldest valid one). */
  readonly limits: ReadonlyMap<string, CompiledLimits>;
  /** Problems that belong to no single port (bad policies, bad options). */
  readonly diagnostics: readonly PolicyDiagnostic[];
}

// --- helpers -------------------------------------------------------------------------------------

function createdAt(obj: KubeObject): number {
  const t = obj.metadata.creationTimestamp;
  const ms = t === undefined ? NaN : Date.parse(t);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

function byAge(a: KubeObject, b: KubeObject): number {
  const d = createdAt(a) - createdAt(b);
  if (d !== 0 && !Number.isNaN(d)) return d < 0 ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

function ref(kind: string, obj: KubeObject): ObjectRef {
  return { kind, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name };
}

function diag(object: ObjectRef, reason: PolicyDiagnostic['reason'], message: string): PolicyDiagnostic {
  return { object, type: 'Accepted', status: 'False', reason, message };
}

function unknownField(obj: object, known: ReadonlySet<string>): string | undefined {
  return Object.keys(obj).find((k) => !known.has(k));
}

function groupIs(group: string | undefined, expected: string): boolean {
  return group === undefined || group === expected;
}

const CORE_GROUPS = new Set(['', 'core']);
const SERVER_SPEC_FIELDS = new Set(['podSelector', 'port', 'proxyProtocol', 'accessPolicy']);
const AUTHZ_SPEC_FIELDS = new Set(['targetRef', 'requiredAuthenticationRefs']);
const TARGET_REF_FIELDS = new Set(['group', 'kind', 'name']);
const AUTHN_REF_FIELDS = new Set(['group', 'kind', 'name', 'namespace']);
const NETWORK_AUTHN_SPEC_FIELDS = new Set(['networks']);
const NETWORK_FIELDS = new Set(['cidr', 'except']);

// --- authentications -----------------------------------------------------------------------------

function compileNetworkAuthentication(na: NetworkAuthentication): Compiled<NetworkSet> {
  const spec = na.spec;
  if (spec === undefined) return { ok: false, reason: 'has no spec' };
  const extra = unknownField(spec, NETWORK_AUTHN_SPEC_FIELDS);
  if (extra !== undefined) return { ok: false, reason: `has field spec.${extra}, which Weft does not implement` };
  const networks = spec.networks ?? [];
  if (networks.length === 0) return { ok: false, reason: 'lists no networks' };
  for (const n of networks) {
    const e = unknownField(n, NETWORK_FIELDS);
    if (e !== undefined) return { ok: false, reason: `network has field ${e}, which Weft does not implement` };
  }
  const r = compileNetworks(networks);
  return r.ok ? { ok: true, value: r.networks } : { ok: false, reason: r.reason };
}

// --- authorizations ------------------------------------------------------------------------------

type Target = { readonly kind: CompiledAuthorization['target']['kind']; readonly name: string };

function resolveTarget(policy: AuthorizationPolicy): Compiled<Target> {
  const t = policy.spec?.targetRef;
  if (t === undefined) return { ok: false, reason: 'has no spec.targetRef' };
  const extra = unknownField(t, TARGET_REF_FIELDS);
  if (extra !== undefined) return { ok: false, reason: `targetRef has field ${extra}, which Weft does not implement` };
  if (typeof t.name !== 'string' || t.name === '') return { ok: false, reason: 'targetRef has no name' };
  switch (t.kind) {
    case 'Server':
      if (!groupIs(t.group, POLICY_API_GROUP)) break;
      return { ok: true, value: { kind: 'Server', name: t.name } };
    case 'HTTPRoute':
    case 'GRPCRoute':
      if (!groupIs(t.group, GATEWAY_API_GROUP)) break;
      return { ok: true, value: { kind: t.kind === 'HTTPRoute' ? 'HTTPRoute' : 'GRPCRoute', name: t.name } };
    case 'Namespace':
      if (t.group !== undefined && !CORE_GROUPS.has(t.group)) break;
      if (t.name !== policy.metadata.namespace) {
        return { ok: false, reason: `targets Namespace ${t.name} but may only target its own namespace` };
      }
      return { ok: true, value: { kind: 'Namespace', name: t.name } };
    default:
      return { ok: false, reason: `targetRef kind ${JSON.stringify(t.kind)} is not Server, HTTPRoute, GRPCRoute or Namespace` };
  }
  return { ok: false, reason: `targetRef group ${JSON.stringify(t.group)} is not the group of kind ${t.kind}` };
}

function compileAuthentications(
  policy: AuthorizationPolicy,
  refs: readonly AuthenticationRef[],
  meshTls: ReadonlyMap<string, Compiled<CompiledAuthentication>>,
  networks: ReadonlyMap<string, Compiled<CompiledAuthentication>>,
  trustDomain: string,
): Compiled<CompiledAuthentication[]> {
  const ns = policy.metadata.namespace ?? '';
  if (refs.length === 0) {
    return { ok: false, reason: 'lists no requiredAuthenticationRefs (to allow everyone, reference a NetworkAuthentication for 0.0.0.0/0 and ::/0)' };
  }
  const out: CompiledAuthentication[] = [];
  for (const r of refs) {
    const extra = unknownField(r, AUTHN_REF_FIELDS);
    if (extra !== undefined) return { ok: false, reason: `authentication ref has field ${extra}, which Weft does not implement` };
    if (typeof r.name !== 'string' || r.name === '') return { ok: false, reason: `${r.kind} ref has no name` };
    const refNs = r.namespace ?? ns;
    const key = `${refNs}/${r.name}`;
    let found: Compiled<CompiledAuthentication> | undefined;
    switch (r.kind) {
      case 'MeshTLSAuthentication':
      case 'NetworkAuthentication':
        if (!groupIs(r.group, POLICY_API_GROUP)) {
          return { ok: false, reason: `${r.kind} ref group ${JSON.stringify(r.group)} is not ${POLICY_API_GROUP}` };
        }
        found = (r.kind === 'MeshTLSAuthentication' ? meshTls : networks).get(key);
        if (found === undefined) return { ok: false, reason: `${r.kind} ${key} not found` };
        if (!found.ok) return { ok: false, reason: `${r.kind} ${key} ${found.reason}` };
        out.push(found.value);
        break;
      case 'ServiceAccount':
        if (r.group !== undefined && !CORE_GROUPS.has(r.group)) {
          return { ok: false, reason: `ServiceAccount ref group ${JSON.stringify(r.group)} is not the core group` };
        }
        out.push({ kind: 'ServiceAccount', namespace: refNs, name: r.name, identity: spiffeId(trustDomain, refNs, r.name) });
        break;
      default:
        return {
          ok: false,
          reason: `authentication kind ${JSON.stringify(r.kind)} is not MeshTLSAuthentication, NetworkAuthentication or ServiceAccount`,
        };
    }
  }
  return { ok: true, value: out };
}

// --- routes attached to Servers ------------------------------------------------------------------

/**
 * Inbound routes compile with the shared route compiler (core/routes/compile.ts). Their backendRefs
 * are not inbound conditions (the inbound proxy always forwards to the pod's own port), so the
 * resolver marks every backend unusable and the inbound proxy never reads `backends`.
 */
const INBOUND_BACKEND: BackendResolver = () => ({
  kind: 'error',
  status: 500,
  reason: 'InvalidKind',
  message: 'backendRefs are not used by a route whose parent is a Server',
});

function compileInboundRoute(route: HTTPRoute | GRPCRoute, kind: 'HTTPRoute' | 'GRPCRoute'): AttachedRoute {
  const r = kind === 'HTTPRoute' ? compileHttpRoute(route as HTTPRoute, INBOUND_BACKEND) : compileGrpcRoute(route as GRPCRoute, INBOUND_BACKEND);
  if (r.route === undefined) {
    const empty: CompiledRoute = {
      kind: kind === 'HTTPRoute' ? 'http' : 'grpc',
      namespace: route.metadata.namespace ?? '',
      name: route.metadata.name,
      createdAt: Number.POSITIVE_INFINITY,
      rules: [],
    };
    return { compiled: empty, kind, invalid: `${kind} ${route.metadata.name}: ${r.fatal ?? 'cannot be compiled'}` };
  }
  // `unsupported` rules stay in the table, marked; a request selecting one is refused (500).
  return { compiled: r.route, kind };
}

// --- index ---------------------------------------------------------------------------------------

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Compiles the pod-independent part of inbound policy for a snapshot. */
export function indexInboundPolicy(snapshot: ClusterSnapshot, options: InboundCompileOptions = {}): InboundIndex {
  const diagnostics: PolicyDiagnostic[] = [];
  const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const optionsRef: ObjectRef = { kind: 'Options', namespace: '', name: 'inbound' };

  const cluster = compileCidrList(options.clusterNetworks ?? DEFAULT_CLUSTER_NETWORKS);
  let clusterNetworks: NetworkSet = { entries: [] };
  if (cluster.ok) clusterNetworks = cluster.networks;
  else diagnostics.push(diag(optionsRef, 'Invalid', `cluster networks: ${cluster.reason}; cluster-* policies match no client`));

  let probeNetworksOption: NetworkSet | undefined;
  if (options.probeNetworks !== undefined) {
    const p = compileCidrList(options.probeNetworks);
    if (p.ok) probeNetworksOption = p.networks;
    else {
      probeNetworksOption = { entries: [] };
      diagnostics.push(diag(optionsRef, 'Invalid', `probe networks: ${p.reason}; probes get no exemption`));
    }
  }

  const clusterDefaultText = options.defaultPolicy ?? FALLBACK_DEFAULT_INBOUND_POLICY;
  const clusterDefault: Compiled<DefaultInboundPolicy> = isDefaultInboundPolicy(clusterDefaultText)
    ? { ok: true, value: clusterDefaultText }
    : { ok: false, reason: `cluster default inbound policy ${JSON.stringify(clusterDefaultText)} is not a known policy` };
  if (!clusterDefault.ok) diagnostics.push(diag(optionsRef, 'Invalid', `${clusterDefault.reason}; ports without a Server deny`));

  const namespaces = new Map(snapshot.namespaces.map((n) => [n.metadata.name, n] as const));
  const pods = new Map(snapshot.pods.map((p) => [`${p.metadata.namespace ?? ''}/${p.metadata.name}`, p] as const));

  const servers = new Map<string, Server[]>();
  for (const s of snapshot.servers) {
    pushTo(servers, s.metadata.namespace ?? '', s);
    const missing =
      s.spec === undefined ? 'has no spec'
      : s.spec.podSelector === undefined ? 'has no spec.podSelector'
      : !validServerPort(s.spec.port) ? `spec.port ${JSON.stringify(s.spec.port)} is not a port number (1-65535) or a port name`
      : undefined;
    if (missing !== undefined) diagnostics.push(diag(ref('Server', s), 'Invalid', `${missing}; it selects no port`));
  }
  for (const list of servers.values()) list.sort(byAge);

  const meshTls = new Map<string, Compiled<CompiledAuthentication>>();
  for (const m of snapshot.meshTLSAuthentications) {
    const ns = m.metadata.namespace ?? '';
    const r = compileMeshTLSAuthentication(m.spec, ns, trustDomain);
    meshTls.set(
      `${ns}/${m.metadata.name}`,
      r.ok ? { ok: true, value: { kind: 'MeshTLSAuthentication', namespace: ns, name: m.metadata.name, identities: r.matcher } } : r,
    );
    if (!r.ok) diagnostics.push(diag(ref('MeshTLSAuthentication', m), 'Invalid', r.reason));
  }
  const networks = new Map<string, Compiled<CompiledAuthentication>>();
  for (const n of snapshot.networkAuthentications) {
    const ns = n.metadata.namespace ?? '';
    const r = compileNetworkAuthentication(n);
    networks.set(
      `${ns}/${n.metadata.name}`,
      r.ok ? { ok: true, value: { kind: 'NetworkAuthentication', namespace: ns, name: n.metadata.name, networks: r.value } } : r,
    );
    if (!r.ok) diagnostics.push(diag(ref('NetworkAuthentication', n), 'Invalid', r.reason));
  }

  const authorizations = new Map<string, CompiledAuthorization[]>();
  for (const p of snapshot.authorizationPolicies) {
    const ns = p.metadata.namespace ?? '';
    const target = resolveTarget(p);
    if (!target.ok) {
      diagnostics.push(diag(ref('AuthorizationPolicy', p), 'Unsupported', `${target.reason}; it applies nowhere`));
      continue;
    }
    let invalid: string | undefined;
    const extra = p.spec === undefined ? undefined : unknownField(p.spec, AUTHZ_SPEC_FIELDS);
    let authentications: CompiledAuthentication[] = [];
    if (extra !== undefined) {
      invalid = `field spec.${extra} is not implemented`;
    } else {
      const a = compileAuthentications(p, p.spec?.requiredAuthenticationRefs ?? [], meshTls, networks, trustDomain);
      if (a.ok) authentications = a.value;
      else invalid = a.reason;
    }
    if (invalid !== undefined) {
      diagnostics.push(diag(ref('AuthorizationPolicy', p), 'Invalid', `${invalid}; it denies`));
    }
    const compiled: CompiledAuthorization = {
      namespace: ns,
      name: p.metadata.name,
      target: target.value,
      authentications,
      ...(invalid !== undefined ? { invalid } : {}),
    };
    pushTo(authorizations, `${ns}/${target.value.kind}/${target.value.name}`, compiled);
  }

  const routes = new Map<string, AttachedRoute[]>();
  const attach = (route: HTTPRoute | GRPCRoute, kind: 'HTTPRoute' | 'GRPCRoute'): void => {
    const ns = route.metadata.namespace ?? '';
    const serverNames = new Set<string>();
    for (const parent of route.spec?.parentRefs ?? []) {
      if (parent.group !== POLICY_API_GROUP || parent.kind !== 'Server') continue;
      if (parent.namespace !== undefined && parent.namespace !== ns) {
        diagnostics.push(diag(ref(kind, route), 'Unsupported', `parentRef Server ${parent.namespace}/${parent.name} is in another namespace; a route attaches only to Servers in its own namespace`));
        continue;
      }
      serverNames.add(parent.name);
    }
    if (serverNames.size === 0) return;
    const compiled = compileInboundRoute(route, kind);
    if (compiled.invalid !== undefined) diagnostics.push(diag(ref(kind, route), 'Invalid', compiled.invalid));
    for (const name of serverNames) pushTo(routes, `${ns}/${name}`, compiled);
  };
  for (const r of snapshot.httpRoutes) attach(r, 'HTTPRoute');
  for (const r of snapshot.grpcRoutes) attach(r, 'GRPCRoute');

  // InboundLimitPolicies: a bad one applies nowhere; per target the oldest valid one applies.
  const selected = selectInboundLimits(snapshot.inboundLimitPolicies ?? []);
  const limits = selected.applied;
  for (const st of selected.statuses) {
    if (st.reason === 'Invalid' || st.reason === 'Conflicted') {
      diagnostics.push(diag({ kind: 'InboundLimitPolicy', namespace: st.namespace, name: st.name }, st.reason, st.message));
    }
  }

  return {
    snapshot,
    trustDomain,
    clusterNetworks,
    ...(probeNetworksOption !== undefined ? { probeNetworksOption } : {}),
    clusterDefault,
    namespaces,
    pods,
    servers,
    authorizations,
    routes,
    limits,
    diagnostics,
  };
}

// --- per (pod, port) -----------------------------------------------------------------------------

function allContainers(pod: Pod): readonly Container[] {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
}

/** True when `port` (a number or a container port name) names `portNumber` on this pod. */
function podPortIs(pod: Pod, port: number | string, portNumber: number): boolean {
  if (typeof port === 'number') return port === portNumber;
  return allContainers(pod).some((c) => (c.ports ?? []).some((p) => p.name === port && p.containerPort === portNumber));
}

function validServerPort(port: unknown): port is number | string {
  if (typeof port === 'number') return Number.isInteger(port) && port >= 1 && port <= 65535;
  return typeof port === 'string' && port.length > 0;
}

function probeExemption(index: InboundIndex, pod: Pod, port: number, diagnostics: PolicyDiagnostic[]) {
  const paths = new Set<string>();
  for (const c of allContainers(pod)) {
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
      const get = probe?.httpGet;
      if (get === undefined || (get.scheme !== undefined && get.scheme !== 'HTTP')) continue;
      const target =
        typeof get.port === 'number'
          ? get.port
          : (c.ports ?? []).find((p) => p.name === get.port)?.containerPort;
      if (target !== port) continue;
      const n = normalizeRequestTarget(get.path ?? '/');
      if (n.ok) paths.add(n.path);
      else diagnostics.push(diag(ref('Pod', pod), 'Invalid', `container ${c.name} probe path ${JSON.stringify(get.path)}: ${n.reason}; no exemption`));
    }
  }
  let networks = index.probeNetworksOption;
  if (networks === undefined) {
    const hostIps = [...(pod.status?.hostIPs ?? []).map((h) => h.ip), ...(pod.status?.hostIP !== undefined ? [pod.status.hostIP] : [])];
    const entries = [];
    for (const ip of hostIps) {
      const parsed = parseIp(ip);
      if (parsed === undefined) continue;
      const block = compileCidrList([ip]);
      if (block.ok) entries.push(...block.networks.entries);
    }
    networks = { entries };
  }
  return { paths, networks };
}

function resolveDefaultPolicy(
  index: InboundIndex,
  pod: Pod,
): { policy: DefaultInboundPolicy; source: FallbackSource; invalid?: string } {
  const key = CONFIG_ANNOTATIONS.defaultInboundPolicy;
  const podValue = pod.metadata.annotations?.[key];
  const ns = index.namespaces.get(pod.metadata.namespace ?? '');
  const nsValue = ns?.metadata.annotations?.[key];
  const pick = (value: string, source: FallbackSource) =>
    isDefaultInboundPolicy(value)
      ? { policy: value, source }
      : { policy: 'deny' as const, source, invalid: `${source} annotation ${key}=${JSON.stringify(value)} is not a known default policy` };
  if (podValue !== undefined) return pick(podValue, 'pod');
  if (nsValue !== undefined) return pick(nsValue, 'namespace');
  if (index.clusterDefault.ok) return { policy: index.clusterDefault.value, source: 'cluster' };
  return { policy: 'deny', source: 'cluster', invalid: index.clusterDefault.reason };
}

/** Compiles the inbound policy of one port of one pod. */
export function compileInboundPort(index: InboundIndex, pod: Pod, port: number): InboundPortPolicy {
  const diagnostics: PolicyDiagnostic[] = [];
  const podNs = pod.metadata.namespace ?? '';
  const podRef = { namespace: podNs, name: pod.metadata.name };
  const probes = probeExemption(index, pod, port, diagnostics);

  // Which Servers select this port; the oldest governs.
  const candidates: { server: Server; invalid?: string }[] = [];
  for (const server of index.servers.get(podNs) ?? []) {
    const spec = server.spec;
    if (spec === undefined || spec.podSelector === undefined || !validServerPort(spec.port)) continue;
    if (!podPortIs(pod, spec.port, port)) continue;
    const sel = matchLabelSelector(spec.podSelector, pod.metadata.labels);
    if (sel.kind === 'no-match') continue;
    candidates.push(sel.kind === 'undecidable' ? { server, invalid: sel.reason } : { server });
  }
  const chosen = candidates[0];
  if (chosen === undefined) {
    const d = resolveDefaultPolicy(index, pod);
    if (d.invalid !== undefined) diagnostics.push(diag(ref('Pod', pod), 'Invalid', `${d.invalid}; port ${port} denies`));
    const routes: CompiledRoute[] = [];
    return {
      pod: podRef,
      port,
      protocol: 'unknown',
      ...(d.invalid !== undefined ? { invalid: d.invalid } : {}),
      fallback: { policy: d.policy, source: d.source },
      authorizations: [],
      routes,
      routeTable: buildRouteTable(routes),
      routePolicies: new Map(),
      probes,
      clusterNetworks: index.clusterNetworks,
      diagnostics,
    };
  }
  for (const loser of candidates.slice(1)) {
    diagnostics.push(
      diag(ref('Server', loser.server), 'Conflicted', `selects port ${port} of pod ${podNs}/${pod.metadata.name}, which older Server ${chosen.server.metadata.name} already governs`),
    );
  }

  const server = chosen.server;
  const spec = server.spec ?? {};
  const problems: string[] = [];
  if (chosen.invalid !== undefined) problems.push(chosen.invalid);
  const extra = unknownField(spec, SERVER_SPEC_FIELDS);
  if (extra !== undefined) problems.push(`field spec.${extra} is not implemented`);
  let protocol: ProxyProtocol = 'unknown';
  if (spec.proxyProtocol !== undefined) {
    if ((PROXY_PROTOCOLS as readonly string[]).includes(spec.proxyProtocol)) protocol = spec.proxyProtocol as ProxyProtocol;
    else problems.push(`proxyProtocol ${JSON.stringify(spec.proxyProtocol)} is not one of ${PROXY_PROTOCOLS.join(', ')}`);
  }
  let accessPolicy: DefaultInboundPolicy = DEFAULT_SERVER_ACCESS_POLICY;
  if (spec.accessPolicy !== undefined) {
    if (isDefaultInboundPolicy(spec.accessPolicy)) accessPolicy = spec.accessPolicy;
    else problems.push(`accessPolicy ${JSON.stringify(spec.accessPolicy)} is not a known policy`);
  }

  const serverName = server.metadata.name;
  const authorizations = [
    ...(index.authorizations.get(`${podNs}/Server/${serverName}`) ?? []),
    ...(index.authorizations.get(`${podNs}/Namespace/${podNs}`) ?? []),
  ];
  const attached = index.routes.get(`${podNs}/${serverName}`) ?? [];
  const routes: CompiledRoute[] = [];
  const routePolicies = new Map<CompiledRoute, InboundRoute>();
  for (const a of attached) {
    if (a.invalid !== undefined) {
      problems.push(a.invalid);
      continue;
    }
    routes.push(a.compiled);
    routePolicies.set(a.compiled, {
      kind: a.kind,
      namespace: a.compiled.namespace,
      name: a.compiled.name,
      authorizations: index.authorizations.get(`${a.compiled.namespace}/${a.kind}/${a.compiled.name}`) ?? [],
      ...optionalLimits(index.limits.get(`${a.compiled.namespace}/${a.kind}/${a.compiled.name}`)),
    });
  }
  const invalid = problems.length > 0 ? problems.join('; ') : undefined;
  if (invalid !== undefined) diagnostics.push(diag(ref('Server', server), 'Invalid', `${invalid}; port ${port} denies`));

  return {
    pod: podRef,
    port,
    protocol,
    server: { namespace: podNs, name: serverName, accessPolicy },
    ...(invalid !== undefined ? { invalid } : {}),
    fallback: { policy: accessPolicy, source: 'server' },
    authorizations,
    routes,
    routeTable: buildRouteTable(routes),
    routePolicies,
    probes,
    ...optionalLimits(index.limits.get(`${podNs}/Server/${serverName}`)),
    clusterNetworks: index.clusterNetworks,
    diagnostics,
  };
}

function optionalLimits(l: CompiledLimits | undefined): { limits?: CompiledLimits } {
  return l === undefined ? {} : { limits: l };
}

/** The ports a pod's inbound proxy serves policy for: container ports and numeric Server ports. */
export function inboundPortsOf(index: InboundIndex, pod: Pod): number[] {
  const ports = new Set<number>();
  for (const c of allContainers(pod)) for (const p of c.ports ?? []) ports.add(p.containerPort);
  for (const s of index.servers.get(pod.metadata.namespace ?? '') ?? []) {
    const port = s.spec?.port;
    if (typeof port === 'number' && validServerPort(port) && s.spec?.podSelector !== undefined) {
      if (matchLabelSelector(s.spec.podSelector, pod.metadata.labels).kind !== 'no-match') ports.add(port);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** Convenience: index the snapshot and compile one (pod, port); undefined when the pod is unknown. */
export function compileInboundPolicy(
  snapshot: ClusterSnapshot,
  pod: { readonly namespace: string; readonly name: string },
  port: number,
  options: InboundCompileOptions = {},
): InboundPortPolicy | undefined {
  const index = indexInboundPolicy(snapshot, options);
  const p = index.pods.get(`${pod.namespace}/${pod.name}`);
  return p === undefined ? undefined : compileInboundPort(index, p, port);
}
