/**
 * The dashboard's view models, as pure functions of what `weft stat|routes|authz|explain` already read:
 * the listed cluster objects (a ClusterSnapshot) and the proxies' counter increases over a window
 * (DeltaSample[], outbound and inbound, labelled with the scraped pod's namespace and name).
 *
 * Model:
 *   pods -> workload (deploy/sts/ds/job owner, else the pod itself)           key `<ns>/<kind>/<name>`
 *   inbound samples of a workload's pods    -> its figures (what `weft stat` prints)
 *   outbound samples of a route's parent Services -> per route and backend (what `weft routes` prints)
 *   outbound samples: client pod's workload -> backend Service's workload = a topology edge
 *   inbound samples of the pods behind a backend, by client_id -> the route's authorization view
 *   route status, meshing of annotated namespaces, denials -> problems (errors first)
 *
 * Every figure comes from cli/observe/figures.ts (summarize, successRate, rps), keyed with the same
 * functions the CLI's tables use (routeKeyOf), so a number on the page and in `weft routes` over the
 * same window are the same number.
 */
import { INJECT_ANNOTATION, INJECT_DISABLED, INJECT_ENABLED } from '../../core/contract.js';
import { compileInboundPort, indexInboundPolicy, type InboundCompileOptions } from '../../core/inbound/compile.js';
import type { CompiledAuthentication } from '../../core/inbound/types.js';
import type { ClusterSnapshot, Condition, GRPCRoute, HTTPRoute, Pod, Service } from '../../core/kube.js';
import { podsBehind, targetPortOf } from '../observe/explain.js';
import { LABEL, QUANTILES, rps, successRate, summarize, type Figures } from '../observe/figures.js';
import { routeKeyOf } from '../observe/views.js';
import type { DeltaSample } from '../observe/window.js';
import { groupKey, isMeshedPod, resourceNameOf, servicesSelecting, type ResourceKind } from '../observe/workloads.js';

/** What one window of the mesh looks like to the dashboard. */
export interface WindowInput {
  readonly snapshot: ClusterSnapshot;
  readonly outbound: readonly DeltaSample[];
  readonly inbound: readonly DeltaSample[];
  readonly windowSeconds: number;
}

/** Golden metrics of one entity over the window; null where there were no requests. */
export interface FiguresView {
  readonly requests: number;
  readonly rps: number;
  readonly successRate: number | null;
  readonly deniedRps: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** One sparkline point: the figures of one scrape interval ending at `t` (ms since the epoch). */
export interface Point {
  readonly t: number;
  readonly rps: number;
  readonly successRate: number | null;
  readonly deniedRps: number;
}

/** Sparklines by entity key (workload, route or edge key). */
export type History = ReadonlyMap<string, readonly Point[]>;

export const EMPTY_FIGURES: FiguresView = { requests: 0, rps: 0, successRate: null, deniedRps: 0, p50: null, p95: null, p99: null };

export function figuresView(f: Figures | undefined, windowSeconds: number): FiguresView {
  if (f === undefined) return EMPTY_FIGURES;
  const q = (i: number) => f.latency[i] ?? null;
  return {
    requests: f.requests,
    rps: rps(f.requests, windowSeconds),
    successRate: successRate(f) ?? null,
    deniedRps: rps(f.denied, windowSeconds),
    p50: q(QUANTILES.indexOf(0.5)),
    p95: q(QUANTILES.indexOf(0.95)),
    p99: q(QUANTILES.indexOf(0.99)),
  };
}

// --- workloads --------------------------------------------------------------------------------------

const OWNER_KINDS: readonly ResourceKind[] = ['deploy', 'sts', 'ds', 'job'];

/** `deploy/books`, or `pod/<name>` for a pod no workload owns. */
export function workloadOf(p: Pod): string {
  for (const k of OWNER_KINDS) {
    const n = resourceNameOf(p, k);
    if (n !== undefined) return n;
  }
  return `pod/${p.metadata.name}`;
}

export const workloadKey = (namespace: string, name: string) => groupKey({ namespace, name });

const livePods = (s: ClusterSnapshot) => s.pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');

/** `<ns>/<pod>` -> workload key, for the pods of the snapshot. */
function podOwners(snapshot: ClusterSnapshot): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of livePods(snapshot)) out.set(`${p.metadata.namespace ?? ''}/${p.metadata.name}`, workloadKey(p.metadata.namespace ?? '', workloadOf(p)));
  return out;
}

export interface WorkloadView {
  readonly key: string;
  readonly namespace: string;
  readonly name: string;
  readonly meshed: number;
  readonly pods: number;
  readonly figures: FiguresView;
  readonly spark: readonly Point[];
}

export interface NamespaceView {
  readonly name: string;
  readonly injection: 'enabled' | 'disabled' | 'unset';
  readonly workloads: number;
  readonly meshed: number;
  readonly pods: number;
  readonly figures: FiguresView;
}

// --- routes -----------------------------------------------------------------------------------------

type AnyRoute = (HTTPRoute | GRPCRoute) & { readonly routeKind: 'httproute' | 'grpcroute' };

export const routeKey = (kind: string, namespace: string, name: string) => `${namespace}/${kind}/${name}`;

/** A parentRef naming a Service (group "" or "core", as Gateway API allows both). */
const isServiceRef = (p: { readonly kind?: string; readonly group?: string }) => p.kind === 'Service' && (p.group === undefined || p.group === '' || p.group === 'core');

function meshRoutes(snapshot: ClusterSnapshot): AnyRoute[] {
  const isService = (r: HTTPRoute | GRPCRoute) => (r.spec?.parentRefs ?? []).some(isServiceRef);
  return [
    ...snapshot.httpRoutes.filter(isService).map((r) => ({ ...r, routeKind: 'httproute' as const })),
    ...snapshot.grpcRoutes.filter(isService).map((r) => ({ ...r, routeKind: 'grpcroute' as const })),
  ].sort((a, b) => routeKey(a.routeKind, a.metadata.namespace ?? '', a.metadata.name).localeCompare(routeKey(b.routeKind, b.metadata.namespace ?? '', b.metadata.name)));
}

function parentServices(r: AnyRoute): { namespace: string; name: string; port?: number }[] {
  const ns = r.metadata.namespace ?? '';
  return (r.spec?.parentRefs ?? [])
    .filter(isServiceRef)
    .map((p) => ({ namespace: p.namespace ?? ns, name: p.name, ...(p.port !== undefined ? { port: p.port } : {}) }));
}

/** `<ns>/<name>` of every backendRef of the route's rules. */
function routeBackendServices(r: AnyRoute): string[] {
  const ns = r.metadata.namespace ?? '';
  return (r.spec?.rules ?? []).flatMap((rule) => (rule.backendRefs ?? []).map((b) => `${b.namespace ?? ns}/${b.name}`));
}

/** The metric's route_kind of a route kind. */
const metricKind = (k: AnyRoute['routeKind']) => (k === 'grpcroute' ? 'grpc' : 'http');

export interface BackendView {
  /** `<ns>/<name>:<port>` as the metrics name it. */
  readonly backend: string;
  readonly figures: FiguresView;
  /** Of the route's requests in the window, the part sent to this backend; null without requests. */
  readonly observedShare: number | null;
}

export interface RouteView {
  readonly key: string;
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  readonly namespace: string;
  readonly name: string;
  readonly parents: readonly string[];
  readonly accepted: boolean | null;
  readonly resolvedRefs: boolean | null;
  readonly figures: FiguresView;
  readonly backends: readonly BackendView[];
  /** Workload keys behind the route's parent Services and backends (to list a workload's routes). */
  readonly workloads: readonly string[];
  readonly spark: readonly Point[];
}

function conditionOf(r: AnyRoute, type: string): boolean | null {
  const conds = (r.status?.parents ?? []).flatMap((p) => p.conditions ?? []).filter((c) => c.type === type);
  if (conds.length === 0) return null;
  return conds.every((c) => c.status === 'True');
}

/** Route-level and per-backend figures of one route, through `weft routes`' own keying per parent Service. */
function routeFigures(input: WindowInput, r: AnyRoute): { figures: FiguresView; backends: BackendView[] } {
  const ns = r.metadata.namespace ?? '';
  const kind = metricKind(r.routeKind);
  const keyers = parentServices(r).map((s) => routeKeyOf(s, false));
  const mine = (l: Readonly<Record<string, string>>) => {
    for (const keyOf of keyers) {
      const k = keyOf(l);
      if (k !== undefined && k.routeKind === kind && k.routeNamespace === ns && k.routeName === r.metadata.name) return k;
    }
    return undefined;
  };
  const whole = summarize(input.outbound, 'outbound', (l) => (mine(l) === undefined ? undefined : 'route'))[0]?.figures;
  const total = whole?.requests ?? 0;
  const backends = summarize(input.outbound, 'outbound', (l) => {
    const k = mine(l);
    return k === undefined ? undefined : k.backendName === '' ? '-' : `${k.backendNamespace}/${k.backendName}:${k.backendPort}`;
  }).map((g) => ({ backend: g.key, figures: figuresView(g.figures, input.windowSeconds), observedShare: total > 0 ? g.figures.requests / total : null }));
  return { figures: figuresView(whole, input.windowSeconds), backends };
}

// --- topology ---------------------------------------------------------------------------------------

export interface TopologyNode {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly meshed: boolean;
  readonly figures: FiguresView;
}

export interface TopologyEdge {
  readonly id: string;
  readonly source: string;
  readonly target: string;
  readonly figures: FiguresView;
  readonly spark: readonly Point[];
}

/** `<ns>/<svc>` -> the workload key of the pods it selects (the first, sorted), for edges. */
function serviceWorkloads(snapshot: ClusterSnapshot): Map<string, string> {
  const byWorkload = new Map<string, Pod[]>();
  for (const p of livePods(snapshot)) {
    const k = workloadKey(p.metadata.namespace ?? '', workloadOf(p));
    byWorkload.set(k, [...(byWorkload.get(k) ?? []), p]);
  }
  const out = new Map<string, string>();
  for (const [k, pods] of [...byWorkload].sort(([a], [b]) => a.localeCompare(b))) {
    for (const s of servicesSelecting(snapshot.services, pods)) if (!out.has(s)) out.set(s, k);
  }
  return out;
}

export const edgeKey = (source: string, target: string) => `${source}->${target}`;

/** The outbound sample's edge: client workload -> the workload behind the backend (else the Service). */
export function edgeKeyer(snapshot: ClusterSnapshot): (l: Readonly<Record<string, string>>) => string | undefined {
  const owners = podOwners(snapshot);
  const behind = serviceWorkloads(snapshot);
  return (l) => {
    const source = owners.get(`${l[LABEL.namespace] ?? ''}/${l[LABEL.pod] ?? ''}`);
    if (source === undefined) return undefined;
    const [bns, bname] = (l[LABEL.backendName] ?? '') !== ''
      ? [l[LABEL.backendNamespace] ?? '', l[LABEL.backendName] ?? '']
      : [l[LABEL.serviceNamespace] ?? '', l[LABEL.serviceName] ?? ''];
    if (bname === '') return undefined;
    return edgeKey(source, behind.get(`${bns}/${bname}`) ?? workloadKey(bns, `svc/${bname}`));
  };
}

// --- problems ---------------------------------------------------------------------------------------

export interface Problem {
  readonly severity: 'error' | 'warning';
  readonly kind: 'route-not-accepted' | 'route-unresolved-refs' | 'route-no-status' | 'pod-not-meshed' | 'denied-requests';
  /** What the problem is about: a route, workload or pod key. */
  readonly subject: string;
  readonly message: string;
}

function conditionProblems(r: AnyRoute): Problem[] {
  const key = routeKey(r.routeKind, r.metadata.namespace ?? '', r.metadata.name);
  const parents = r.status?.parents ?? [];
  if (parents.length === 0) return [{ severity: 'warning', kind: 'route-no-status', subject: key, message: 'no controller has written a status for this route yet' }];
  const out: Problem[] = [];
  const bad = (c: Condition) => c.status !== 'True';
  for (const p of parents) {
    for (const c of p.conditions ?? []) {
      if (c.type === 'Accepted' && bad(c)) out.push({ severity: 'error', kind: 'route-not-accepted', subject: key, message: `not Accepted by parent ${p.parentRef.name}: ${c.reason ?? ''}${c.message !== undefined ? `: ${c.message}` : ''}` });
      if (c.type === 'ResolvedRefs' && bad(c)) out.push({ severity: 'error', kind: 'route-unresolved-refs', subject: key, message: `unresolved references (parent ${p.parentRef.name}): ${c.reason ?? ''}${c.message !== undefined ? `: ${c.message}` : ''}` });
    }
  }
  return out;
}

function injection(snapshot: ClusterSnapshot, ns: string): NamespaceView['injection'] {
  const v = snapshot.namespaces.find((n) => n.metadata.name === ns)?.metadata.annotations?.[INJECT_ANNOTATION];
  return v === INJECT_ENABLED ? 'enabled' : v === INJECT_DISABLED ? 'disabled' : 'unset';
}

/** Running pods of namespaces annotated for injection that have no proxy and do not opt out. */
function unmeshedProblems(snapshot: ClusterSnapshot): Problem[] {
  return livePods(snapshot)
    .filter((p) => p.status?.phase === 'Running' && !isMeshedPod(p) && p.metadata.annotations?.[INJECT_ANNOTATION] !== INJECT_DISABLED && injection(snapshot, p.metadata.namespace ?? '') === 'enabled')
    .map((p) => ({
      severity: 'warning' as const, kind: 'pod-not-meshed' as const, subject: `${p.metadata.namespace ?? ''}/pod/${p.metadata.name}`,
      message: `namespace ${p.metadata.namespace ?? ''} is annotated ${INJECT_ANNOTATION}=${INJECT_ENABLED} but this pod has no proxy: restart its workload`,
    }));
}

/**
 * Denials worth a look: a workload denying requests over the window, and a spike when the last
 * sparkline interval denies more than SPIKE_FACTOR times the interval average before it.
 */
export const SPIKE_FACTOR = 3;

export function deniedProblem(key: string, f: FiguresView, spark: readonly Point[]): Problem | undefined {
  if (f.deniedRps <= 0) return undefined;
  const last = spark.at(-1);
  const before = spark.slice(0, -1);
  const mean = before.length === 0 ? 0 : before.reduce((s, p) => s + p.deniedRps, 0) / before.length;
  const spike = last !== undefined && before.length > 0 && last.deniedRps > SPIKE_FACTOR * mean && last.deniedRps > 0;
  return {
    severity: spike ? 'error' : 'warning', kind: 'denied-requests', subject: key,
    message: `${spike ? 'denial spike: ' : ''}${f.deniedRps.toFixed(2)} denied requests/s over the window${spike ? ` (last interval ${last.deniedRps.toFixed(2)}/s, ${mean.toFixed(2)}/s before)` : ''}`,
  };
}

// --- the overview -----------------------------------------------------------------------------------

export interface Overview {
  readonly windowSeconds: number;
  readonly namespaces: readonly NamespaceView[];
  readonly workloads: readonly WorkloadView[];
  readonly routes: readonly RouteView[];
  readonly topology: { readonly nodes: readonly TopologyNode[]; readonly edges: readonly TopologyEdge[] };
  readonly problems: readonly Problem[];
}

export function overview(input: WindowInput, history: History = new Map()): Overview {
  const { snapshot, windowSeconds } = input;
  const owners = podOwners(snapshot);
  const spark = (k: string) => history.get(k) ?? [];

  const byWorkload = new Map<string, { namespace: string; name: string; pods: Pod[] }>();
  for (const p of livePods(snapshot)) {
    const ns = p.metadata.namespace ?? '';
    const name = workloadOf(p);
    const k = workloadKey(ns, name);
    const w = byWorkload.get(k) ?? { namespace: ns, name, pods: [] };
    w.pods.push(p);
    byWorkload.set(k, w);
  }
  const inboundBy = new Map(summarize(input.inbound, 'inbound', (l) => owners.get(`${l[LABEL.namespace] ?? ''}/${l[LABEL.pod] ?? ''}`)).map((g) => [g.key, g.figures]));
  const workloads: WorkloadView[] = [...byWorkload].sort(([a], [b]) => a.localeCompare(b)).map(([key, w]) => ({
    key, namespace: w.namespace, name: w.name,
    meshed: w.pods.filter(isMeshedPod).length, pods: w.pods.length,
    figures: figuresView(inboundBy.get(key), windowSeconds), spark: spark(key),
  }));

  const nsFigures = new Map(summarize(input.inbound, 'inbound', (l) => (owners.has(`${l[LABEL.namespace] ?? ''}/${l[LABEL.pod] ?? ''}`) ? l[LABEL.namespace] : undefined)).map((g) => [g.key, g.figures]));
  const namespaces: NamespaceView[] = snapshot.namespaces.map((n) => n.metadata.name).sort().map((name) => {
    const ws = workloads.filter((w) => w.namespace === name);
    return {
      name, injection: injection(snapshot, name), workloads: ws.length,
      meshed: ws.reduce((s, w) => s + w.meshed, 0), pods: ws.reduce((s, w) => s + w.pods, 0),
      figures: figuresView(nsFigures.get(name), windowSeconds),
    };
  });

  const behind = serviceWorkloads(snapshot);
  const routes: RouteView[] = meshRoutes(snapshot).map((r) => {
    const key = routeKey(r.routeKind, r.metadata.namespace ?? '', r.metadata.name);
    const { figures, backends } = routeFigures(input, r);
    const services = [...parentServices(r).map((p) => `${p.namespace}/${p.name}`), ...routeBackendServices(r)];
    return {
      key, kind: r.routeKind === 'grpcroute' ? 'GRPCRoute' : 'HTTPRoute', namespace: r.metadata.namespace ?? '', name: r.metadata.name,
      parents: parentServices(r).map((p) => `${p.namespace}/${p.name}${p.port !== undefined ? `:${p.port}` : ''}`),
      accepted: conditionOf(r, 'Accepted'), resolvedRefs: conditionOf(r, 'ResolvedRefs'),
      figures, backends, workloads: [...new Set(services.map((x) => behind.get(x)).filter((x): x is string => x !== undefined))].sort(), spark: spark(key),
    };
  });

  const edgeOf = edgeKeyer(snapshot);
  const edgeGroups = summarize(input.outbound, 'outbound', edgeOf);
  const edges: TopologyEdge[] = edgeGroups.map((g) => {
    const [source = '', target = ''] = g.key.split('->');
    return { id: g.key, source, target, figures: figuresView(g.figures, windowSeconds), spark: spark(g.key) };
  });
  const nodeIds = new Set(edges.flatMap((e) => [e.source, e.target]));
  for (const w of workloads) if (w.meshed > 0) nodeIds.add(w.key);
  const nodes: TopologyNode[] = [...nodeIds].sort().map((id) => {
    const w = workloads.find((x) => x.key === id);
    const slash = id.indexOf('/');
    return { id, namespace: id.slice(0, slash), name: id.slice(slash + 1), meshed: (w?.meshed ?? 0) > 0, figures: w?.figures ?? EMPTY_FIGURES };
  });

  const problems = [
    ...meshRoutes(snapshot).flatMap(conditionProblems),
    ...unmeshedProblems(snapshot),
    ...workloads.map((w) => deniedProblem(w.key, w.figures, w.spark)).filter((p): p is Problem => p !== undefined),
  ].sort((a, b) => (a.severity === b.severity ? a.subject.localeCompare(b.subject) : a.severity === 'error' ? -1 : 1));

  return { windowSeconds, namespaces, workloads, routes, topology: { nodes, edges }, problems };
}

// --- one route --------------------------------------------------------------------------------------

export interface RuleView {
  readonly index: number;
  readonly name: string | null;
  readonly matches: readonly string[];
  readonly filters: readonly string[];
  readonly timeouts: { readonly request: string | null; readonly backendRequest: string | null };
  readonly backends: readonly { readonly backend: string; readonly weight: number; readonly configuredShare: number | null }[];
}

export interface AuthorizationView {
  readonly backend: string;
  readonly pod: string | null;
  readonly port: number | null;
  readonly server: string | null;
  /** What decides when no authorization allows. */
  readonly fallback: string | null;
  readonly note: string | null;
  readonly authorizations: readonly { readonly name: string; readonly target: string; readonly allows: readonly string[]; readonly invalid: string | null }[];
  /** Requests by verified client identity over the window, as the server proxies counted them. */
  readonly clients: readonly { readonly clientId: string; readonly allowed: number; readonly denied: number; readonly allowedRps: number; readonly deniedRps: number }[];
}

export interface RouteDetail extends RouteView {
  readonly hostnames: readonly string[];
  readonly conditions: readonly { readonly parent: string; readonly type: string; readonly status: string; readonly reason: string; readonly message: string }[];
  readonly rules: readonly RuleView[];
  readonly authorization: readonly AuthorizationView[];
}

function describeMatch(m: Readonly<Record<string, unknown>>): string {
  const parts: string[] = [];
  const path = m['path'] as { type?: string; value?: string } | undefined;
  if (path !== undefined) parts.push(`path ${path.type ?? 'PathPrefix'} ${path.value ?? '/'}`);
  const method = m['method'];
  if (typeof method === 'string') parts.push(`method ${method}`);
  else if (method !== undefined && typeof method === 'object') {
    const g = method as { service?: string; method?: string; type?: string };
    parts.push(`grpc ${g.type ?? 'Exact'} ${g.service ?? '*'}/${g.method ?? '*'}`);
  }
  for (const h of (m['headers'] as { name: string; value: string; type?: string }[] | undefined) ?? []) parts.push(`header ${h.name} ${h.type === 'RegularExpression' ? '~' : '='} ${h.value}`);
  for (const q of (m['queryParams'] as { name: string; value: string; type?: string }[] | undefined) ?? []) parts.push(`query ${q.name} ${q.type === 'RegularExpression' ? '~' : '='} ${q.value}`);
  return parts.length === 0 ? 'every request' : parts.join(', ');
}

function describeRawFilter(f: Readonly<Record<string, unknown>> & { readonly type: string }): string {
  const { type, ...rest } = f;
  const body = Object.values(rest)[0];
  return body === undefined ? type : `${type} ${JSON.stringify(body)}`;
}

function authenticationText(a: CompiledAuthentication): string {
  switch (a.kind) {
    case 'MeshTLSAuthentication': {
      const ids = [...(a.identities.any ? ['any authenticated client'] : []), ...a.identities.exact, ...[...a.identities.namespaces].map((n) => `any ServiceAccount in ${n}`)];
      return `MeshTLSAuthentication ${a.namespace}/${a.name}: ${ids.join(', ') || 'nobody'}`;
    }
    case 'NetworkAuthentication':
      return `NetworkAuthentication ${a.namespace}/${a.name}: ${a.networks.entries.length} network(s)`;
    case 'ServiceAccount':
      return `ServiceAccount ${a.identity}`;
  }
}

function authorizationFor(input: WindowInput, backend: { namespace: string; name: string; port: number }, options: InboundCompileOptions): AuthorizationView {
  const { snapshot } = input;
  const label = `${backend.namespace}/${backend.name}:${backend.port}`;
  const pods = podsBehind(snapshot, backend.namespace, backend.name);
  const podSet = new Set(pods.map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`));
  // Series with no request in the window are left out; a missing client_id counts as unauthenticated.
  const clientGroups = summarize(input.inbound, 'inbound', (l) => (podSet.has(`${l[LABEL.namespace] ?? ''}/${l[LABEL.pod] ?? ''}`) ? (l[LABEL.clientId] ?? '') || 'unauthenticated' : undefined))
    .filter((g) => g.figures.requests > 0);
  const clients = clientGroups.map((g) => ({
    clientId: g.key,
    allowed: g.figures.requests - g.figures.denied, denied: g.figures.denied,
    allowedRps: rps(g.figures.requests - g.figures.denied, input.windowSeconds), deniedRps: rps(g.figures.denied, input.windowSeconds),
  }));
  const pod = pods[0];
  const base = { backend: label, clients };
  if (pod === undefined) return { ...base, pod: null, port: null, server: null, fallback: null, note: 'no pods behind this backend', authorizations: [] };
  const svc = snapshot.services.find((s: Service) => s.metadata.name === backend.name && (s.metadata.namespace ?? '') === backend.namespace);
  const port = targetPortOf(svc, backend.port, pod);
  if (port === undefined) return { ...base, pod: pod.metadata.name, port: null, server: null, fallback: null, note: `the target port of ${label} does not resolve`, authorizations: [] };
  if (!isMeshedPod(pod)) return { ...base, pod: pod.metadata.name, port, server: null, fallback: null, note: 'not meshed: no inbound policy is enforced', authorizations: [] };
  const policy = compileInboundPort(indexInboundPolicy(snapshot, options), pod, port);
  const all = [...policy.authorizations, ...[...policy.routePolicies.values()].flatMap((r) => r.authorizations)];
  return {
    ...base, pod: pod.metadata.name, port,
    server: policy.server?.name ?? null,
    fallback: `${policy.fallback.policy} (${policy.fallback.source})`,
    note: policy.invalid ?? null,
    authorizations: all.map((a) => ({ name: `${a.namespace}/${a.name}`, target: `${a.target.kind} ${a.target.name}`, allows: a.authentications.map(authenticationText), invalid: a.invalid ?? null })),
  };
}

/** The detail of one route (`<ns>/<httproute|grpcroute>/<name>`); undefined when there is no such route. */
export function routeDetail(input: WindowInput, key: string, history: History = new Map(), options: InboundCompileOptions = {}): RouteDetail | undefined {
  const r = meshRoutes(input.snapshot).find((x) => routeKey(x.routeKind, x.metadata.namespace ?? '', x.metadata.name) === key);
  if (r === undefined) return undefined;
  const ns = r.metadata.namespace ?? '';
  const { figures, backends } = routeFigures(input, r);
  const rawRules = (r.spec?.rules ?? []) as readonly (Readonly<Record<string, unknown>> & { name?: string; backendRefs?: readonly { name: string; namespace?: string; port?: number; weight?: number }[]; timeouts?: { request?: string; backendRequest?: string } })[];
  const rules: RuleView[] = rawRules.map((rule, index) => {
    const refs = rule.backendRefs ?? [];
    const total = refs.reduce((s, b) => s + (b.weight ?? 1), 0);
    return {
      index, name: rule.name ?? null,
      matches: ((rule['matches'] as Readonly<Record<string, unknown>>[] | undefined) ?? [{}]).map(describeMatch),
      filters: ((rule['filters'] as (Readonly<Record<string, unknown>> & { type: string })[] | undefined) ?? []).map(describeRawFilter),
      timeouts: { request: rule.timeouts?.request ?? null, backendRequest: rule.timeouts?.backendRequest ?? null },
      backends: refs.map((b) => ({ backend: `${b.namespace ?? ns}/${b.name}:${b.port ?? ''}`, weight: b.weight ?? 1, configuredShare: total > 0 ? (b.weight ?? 1) / total : null })),
    };
  });
  const targets = new Map<string, { namespace: string; name: string; port: number }>();
  for (const rule of rules) for (const b of rule.backends) {
    const m = /^([^/]+)\/([^:]+):(\d+)$/.exec(b.backend);
    if (m !== null) targets.set(b.backend, { namespace: m[1] ?? '', name: m[2] ?? '', port: Number(m[3]) });
  }
  const key2 = routeKey(r.routeKind, ns, r.metadata.name);
  return {
    key: key2, kind: r.routeKind === 'grpcroute' ? 'GRPCRoute' : 'HTTPRoute', namespace: ns, name: r.metadata.name,
    parents: parentServices(r).map((p) => `${p.namespace}/${p.name}${p.port !== undefined ? `:${p.port}` : ''}`),
    hostnames: r.spec?.hostnames ?? [],
    accepted: conditionOf(r, 'Accepted'), resolvedRefs: conditionOf(r, 'ResolvedRefs'),
    conditions: (r.status?.parents ?? []).flatMap((p) => (p.conditions ?? []).map((c) => ({ parent: p.parentRef.name, type: c.type, status: c.status, reason: c.reason ?? '', message: c.message ?? '' }))),
    figures, backends, spark: history.get(key2) ?? [],
    workloads: [...new Set([...parentServices(r).map((p) => `${p.namespace}/${p.name}`), ...routeBackendServices(r)].map((x) => serviceWorkloads(input.snapshot).get(x)).filter((x): x is string => x !== undefined))].sort(),
    rules,
    authorization: [...targets.values()].map((t) => authorizationFor(input, t, options)),
  };
}

/** The sparkline points of one interval: figures per workload, route and edge key. */
export function intervalPoints(input: WindowInput, t: number): Map<string, Point> {
  const o = overview(input);
  const out = new Map<string, Point>();
  const point = (f: FiguresView): Point => ({ t, rps: f.rps, successRate: f.successRate, deniedRps: f.deniedRps });
  for (const w of o.workloads) out.set(w.key, point(w.figures));
  for (const r of o.routes) out.set(r.key, point(r.figures));
  for (const e of o.topology.edges) out.set(e.id, point(e.figures));
  return out;
}
