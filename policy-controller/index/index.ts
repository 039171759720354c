/**
 * The policy controller's in-memory index: a state machine fed by watch events (`apply`,
 * `delete`) that serves memoised views to subscribers and recomputes only what an event affects.
 *
 * Model:
 *   objects (per kind, per namespace)
 *     -> outbound shards, one per parent Service:  Service <- routes attached to it -> backends, grants
 *     -> inbound shards, one per namespace:        Namespace, Servers, AuthorizationPolicies,
 *                                                   authentications, Server-parented routes
 *     -> views (memoised per key, shared by every subscriber of the key):
 *          inbound     (pod, port)                     = compileInboundPort(shard(ns), pod, port)
 *          destination (client ns, ip, port)            = outboundView(shard(Service at ip)) | pod | unknown
 *          endpoints   (Service port)                   = EndpointSlices joined with Pods
 *     -> route status per route (Service parents from the outbound shards, Server parents here).
 *
 * Invalidation (what one event recomputes):
 *   Service S        -> shard S, shards using S as a backend, destinations at S's old/new IPs, endpoints of S
 *   HTTP/GRPCRoute R -> shards of R's old and new parent Services; inbound shard of R's namespace when
 *                       it has a Server parent; R's status
 *   ReferenceGrant   -> shards whose routes reference backends in the grant's namespace
 *   FaultInjection in N -> shards with a route in N (ExtensionRef filters name FaultInjections locally)
 *   XBackendTrafficPolicy in N -> shards whose routes reference backends in N; the status of N's policies
 *                       (a Service in N changes that status too: TargetNotFound)
 *   EndpointSlice    -> endpoints views of its Service only (never route policy)
 *   Pod P            -> P's inbound views, endpoints views listing P, destinations at P's IPs
 *   Namespace, Server, AuthorizationPolicy -> inbound shard of the namespace (Server: also the status of
 *                       routes whose parent is a Server there)
 *   Mesh/NetworkAuthentication in M -> inbound shards of M and of namespaces whose policies reference M
 *
 * Invariants:
 * - A view is recomputed at most once per flush, whatever the number of its subscribers; a
 *   subscriber is told only when its view's fingerprint changed.
 * - An event that repeats the stored resourceVersion (a relist) changes nothing.
 * - Everything here is synchronous and pure apart from the maps it owns: no I/O, no timers except
 *   the optional auto-flush on the next turn of the event loop.
 */
import { selectInboundLimits, type LimitPolicyStatus } from '../../core/inbound/limits.js';
import { MESHED_LABEL, MESHED_LABEL_VALUE, spiffeId } from '../../core/contract.js';
import { compileInboundPort, indexInboundPolicy, type InboundIndex } from '../../core/inbound/compile.js';
import type { InboundPortPolicy } from '../../core/inbound/types.js';
import { compileBackendPolicies, type BackendPolicyStatus } from '../../core/outbound/backend-traffic.js';
import {
  SERVICE_NAME_LABEL,
  type AuthorizationPolicy,
  type BackendObjectReference,
  type EndpointSlice,
  type GRPCRoute,
  type HTTPRoute,
  type KubeObject,
  type Pod,
  type Service,
} from '../../core/kube.js';
import {
  indexSnapshot,
  outboundView,
  type OutboundIndex,
  type OutboundPolicy,
  type RouteParentStatus,
} from '../../core/outbound/policy.js';
import type { KindObjects, ResourceKind } from './kinds.js';
import { RESOURCE_KINDS } from './kinds.js';
import { isServerParent, isServiceParentRef, serverParentStatus } from './server-parents.js';
import {
  fingerprint,
  viewKeyString,
  type DestinationView,
  type EndpointView,
  type EndpointsView,
  type ViewKey,
  type ViewValue,
} from './views.js';

export interface IndexOptions {
  readonly trustDomain: string;
  readonly clusterNetworks: readonly string[];
  /** Require ReferenceGrants for cross-namespace backendRefs (default true). */
  readonly referenceGrantCheck: boolean;
  readonly defaultInboundPolicy?: string;
  readonly probeNetworks?: readonly string[];
  /** Flush on the next turn of the event loop after a change (the controller); tests call flush(). */
  readonly autoFlush?: boolean;
}

export type RouteKindName = 'HTTPRoute' | 'GRPCRoute';
/** `HTTPRoute/ns/name` */
export type RouteId = string;

export function routeId(kind: RouteKindName, namespace: string, name: string): RouteId {
  return `${kind}/${namespace}/${name}`;
}

/** Called for a changed view; `since` is the performance.now() of the oldest event behind it. */
export type ViewListener = (since: number) => void;

export interface Subscription {
  close(): void;
}

export interface IndexSizes {
  readonly objects: Readonly<Record<ResourceKind, number>>;
  readonly outboundShards: number;
  readonly inboundShards: number;
  readonly cachedViews: number;
  readonly subscribedViews: number;
  readonly subscribers: number;
}

type DepMap = Map<string, Set<string>>;

interface OutboundShard {
  readonly index: OutboundIndex;
  /** Route id -> this shard's parent entries (parentRefs that resolve to this shard's Service). */
  readonly statuses: ReadonlyMap<RouteId, readonly RouteParentStatus[]>;
}

const CORE_GROUPS = new Set(['', 'core']);

function addDep(map: DepMap, from: string, to: string): void {
  let set = map.get(from);
  if (set === undefined) {
    set = new Set();
    map.set(from, set);
  }
  set.add(to);
}

function removeDep(map: DepMap, from: string, to: string): void {
  const set = map.get(from);
  if (set === undefined) return;
  set.delete(to);
  if (set.size === 0) map.delete(from);
}

function nsOf(obj: KubeObject): string {
  return obj.metadata.namespace ?? '';
}

function svcKey(ns: string, name: string): string {
  return `${ns}/${name}`;
}

function serviceIps(svc: Service | undefined): string[] {
  const spec = svc?.spec;
  if (spec === undefined) return [];
  const ips = spec.clusterIPs ?? (spec.clusterIP !== undefined ? [spec.clusterIP] : []);
  return ips.filter((ip) => ip !== '' && ip !== 'None');
}

function podIps(pod: Pod | undefined): string[] {
  const st = pod?.status;
  if (st === undefined) return [];
  const ips = new Set<string>();
  for (const p of st.podIPs ?? []) if (p.ip) ips.add(p.ip);
  if (st.podIP) ips.add(st.podIP);
  return [...ips];
}

function parentServiceKeys(route: HTTPRoute | GRPCRoute | undefined): Set<string> {
  const out = new Set<string>();
  if (route === undefined) return out;
  const ns = nsOf(route);
  for (const p of route.spec?.parentRefs ?? []) if (isServiceParentRef(p)) out.add(svcKey(p.namespace ?? ns, p.name));
  return out;
}

function hasServerParent(route: HTTPRoute | GRPCRoute | undefined): boolean {
  return (route?.spec?.parentRefs ?? []).some(isServerParent);
}

function backendRefsOf(route: HTTPRoute | GRPCRoute): BackendObjectReference[] {
  const out: BackendObjectReference[] = [];
  const fromFilters = (filters: readonly { readonly requestMirror?: { readonly backendRef: BackendObjectReference } }[] | undefined) => {
    for (const f of filters ?? []) if (f.requestMirror?.backendRef !== undefined) out.push(f.requestMirror.backendRef);
  };
  for (const rule of route.spec?.rules ?? []) {
    fromFilters(rule.filters);
    for (const b of rule.backendRefs ?? []) {
      out.push(b);
      fromFilters(b.filters);
    }
  }
  return out;
}

function podReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

export class PolicyIndex {
  private readonly objects = new Map<ResourceKind, Map<string, Map<string, KubeObject>>>();

  // Outbound shards and their inputs.
  private readonly outShards = new Map<string, OutboundShard>();
  private readonly shardRoutes: DepMap = new Map(); // parent svc key -> route ids
  private readonly routeParents: DepMap = new Map(); // route id -> parent svc keys
  private readonly shardBackendDeps: DepMap = new Map(); // backend svc key -> shard keys
  private readonly shardGrantDeps: DepMap = new Map(); // grant namespace -> shard keys
  private readonly shardRouteNsDeps: DepMap = new Map(); // route namespace -> shard keys (FaultInjections)
  private readonly shardInputs = new Map<string, { backends: string[]; grantNs: string[]; routeNs: string[] }>();

  // Inbound shards.
  private readonly inShards = new Map<string, InboundIndex>();
  private readonly authnDeps: DepMap = new Map(); // authentication namespace -> inbound shard namespaces
  private readonly inShardInputs = new Map<string, string[]>();
  private readonly serverParentRoutes: DepMap = new Map(); // namespace -> route ids with a Server parent

  // Lookups.
  private readonly servicesByIp = new Map<string, string>();
  private readonly podsByIp = new Map<string, string>();
  private readonly slicesByService: DepMap = new Map(); // svc key -> slice keys

  // Views.
  private readonly cache = new Map<string, { readonly key: ViewKey; readonly value: unknown; readonly fp: string }>();
  private readonly subscribers = new Map<string, { readonly key: ViewKey; readonly listeners: Set<ViewListener>; fp?: string | undefined }>();
  private readonly viewDeps = new Map<string, [DepMap, string][]>();
  private readonly inboundByPod: DepMap = new Map();
  private readonly inboundByNs: DepMap = new Map();
  private readonly destByIp: DepMap = new Map();
  private readonly destByService: DepMap = new Map();
  private readonly destByPod: DepMap = new Map();
  private readonly epsByService: DepMap = new Map();
  private readonly epsByPod: DepMap = new Map();

  // Pending work.
  private readonly dirtyViews = new Set<string>();
  private readonly dirtyRoutes = new Set<RouteId>();
  private pendingSince: number | undefined;
  private flushScheduled = false;
  private readonly routeListeners = new Set<(ids: readonly RouteId[]) => void>();
  /** Namespaces whose XBackendTrafficPolicy status may have changed since the last flush. */
  private readonly dirtyPolicyNs = new Set<string>();
  private readonly policyListeners = new Set<(ids: readonly string[]) => void>();
  /** Namespaces whose InboundLimitPolicy status may have changed since the last flush. */
  private readonly dirtyLimitNs = new Set<string>();
  private readonly limitListeners = new Set<(ids: readonly string[]) => void>();

  constructor(private readonly options: IndexOptions) {
    for (const k of RESOURCE_KINDS) this.objects.set(k, new Map());
  }

  // --- objects ----------------------------------------------------------------------------------

  get<K extends ResourceKind>(kind: K, namespace: string, name: string): KindObjects[K] | undefined {
    return this.objects.get(kind)?.get(namespace)?.get(name) as KindObjects[K] | undefined;
  }

  list<K extends ResourceKind>(kind: K, namespace?: string): KindObjects[K][] {
    const byNs = this.objects.get(kind);
    if (byNs === undefined) return [];
    if (namespace !== undefined) return [...(byNs.get(namespace)?.values() ?? [])] as KindObjects[K][];
    const out: KubeObject[] = [];
    for (const m of byNs.values()) out.push(...m.values());
    return out as KindObjects[K][];
  }

  private put(kind: ResourceKind, obj: KubeObject | undefined, ns: string, name: string): void {
    const byNs = this.objects.get(kind)!;
    if (obj === undefined) {
      const m = byNs.get(ns);
      m?.delete(name);
      if (m?.size === 0) byNs.delete(ns);
      return;
    }
    let m = byNs.get(ns);
    if (m === undefined) {
      m = new Map();
      byNs.set(ns, m);
    }
    m.set(name, obj);
  }

  /** Adds or replaces an object. Returns false when it repeats the stored resourceVersion. */
  apply<K extends ResourceKind>(kind: K, obj: KindObjects[K]): boolean {
    const ns = kind === 'Namespace' ? '' : nsOf(obj);
    const name = obj.metadata.name;
    const old = this.get(kind, ns, name);
    const rv = obj.metadata.resourceVersion;
    if (old !== undefined && rv !== undefined && old.metadata.resourceVersion === rv) return false;
    this.change(kind, ns, name, old, obj);
    return true;
  }

  delete<K extends ResourceKind>(kind: K, obj: KindObjects[K]): boolean {
    const ns = kind === 'Namespace' ? '' : nsOf(obj);
    const name = obj.metadata.name;
    const old = this.get(kind, ns, name);
    if (old === undefined) return false;
    this.change(kind, ns, name, old, undefined);
    return true;
  }

  private change(kind: ResourceKind, ns: string, name: string, old: KubeObject | undefined, next: KubeObject | undefined): void {
    this.pendingSince ??= performance.now();
    this.put(kind, next, ns, name);
    switch (kind) {
      case 'Namespace':
        this.invalidateInboundShard(name);
        break;
      case 'Service': {
        const key = svcKey(ns, name);
        for (const ip of serviceIps(old as Service | undefined)) if (this.servicesByIp.get(ip) === key) this.servicesByIp.delete(ip);
        for (const ip of serviceIps(next as Service | undefined)) this.servicesByIp.set(ip, key);
        for (const ip of new Set([...serviceIps(old as Service | undefined), ...serviceIps(next as Service | undefined)])) {
          this.invalidateViews(this.destByIp.get(ip));
        }
        this.invalidateOutboundShard(key);
        for (const shard of this.shardBackendDeps.get(key) ?? []) this.invalidateOutboundShard(shard);
        this.invalidateViews(this.epsByService.get(key));
        if (this.list('XBackendTrafficPolicy', ns).length > 0) this.dirtyPolicyNs.add(ns);
        break;
      }
      case 'EndpointSlice': {
        const sliceKey = svcKey(ns, name);
        const oldSvc = (old as EndpointSlice | undefined)?.metadata.labels?.[SERVICE_NAME_LABEL];
        const newSvc = (next as EndpointSlice | undefined)?.metadata.labels?.[SERVICE_NAME_LABEL];
        if (oldSvc !== undefined) removeDep(this.slicesByService, svcKey(ns, oldSvc), sliceKey);
        if (newSvc !== undefined) addDep(this.slicesByService, svcKey(ns, newSvc), sliceKey);
        for (const s of new Set([oldSvc, newSvc])) if (s !== undefined) this.invalidateViews(this.epsByService.get(svcKey(ns, s)));
        break;
      }
      case 'Pod': {
        const key = svcKey(ns, name);
        for (const ip of podIps(old as Pod | undefined)) if (this.podsByIp.get(ip) === key) this.podsByIp.delete(ip);
        for (const ip of podIps(next as Pod | undefined)) this.podsByIp.set(ip, key);
        for (const ip of new Set([...podIps(old as Pod | undefined), ...podIps(next as Pod | undefined)])) {
          this.invalidateViews(this.destByIp.get(ip));
        }
        this.invalidateViews(this.inboundByPod.get(key));
        this.invalidateViews(this.epsByPod.get(key));
        this.invalidateViews(this.destByPod.get(key));
        break;
      }
      case 'HTTPRoute':
      case 'GRPCRoute': {
        if (this.list('InboundLimitPolicy', ns).length > 0) this.dirtyLimitNs.add(ns);
        const id = routeId(kind, ns, name);
        const oldRoute = old as HTTPRoute | GRPCRoute | undefined;
        const newRoute = next as HTTPRoute | GRPCRoute | undefined;
        // A status-only update (ours or another controller's) changes no policy: recheck status only.
        if (oldRoute !== undefined && newRoute !== undefined && oldRoute.metadata.generation === newRoute.metadata.generation
          && JSON.stringify(oldRoute.spec) === JSON.stringify(newRoute.spec)) {
          this.dirtyRoutes.add(id);
          break;
        }
        const oldParents = parentServiceKeys(oldRoute);
        const newParents = parentServiceKeys(newRoute);
        for (const p of oldParents) {
          removeDep(this.shardRoutes, p, id);
          removeDep(this.routeParents, id, p);
        }
        for (const p of newParents) {
          addDep(this.shardRoutes, p, id);
          addDep(this.routeParents, id, p);
        }
        for (const p of new Set([...oldParents, ...newParents])) this.invalidateOutboundShard(p);
        if (hasServerParent(oldRoute) || hasServerParent(newRoute)) this.invalidateInboundShard(ns);
        if (hasServerParent(newRoute)) addDep(this.serverParentRoutes, ns, id);
        else removeDep(this.serverParentRoutes, ns, id);
        this.dirtyRoutes.add(id);
        break;
      }
      case 'XBackendTrafficPolicy':
        for (const [backend, shards] of this.shardBackendDeps) {
          if (backend.startsWith(`${ns}/`)) for (const shard of [...shards]) this.invalidateOutboundShard(shard);
        }
        this.dirtyPolicyNs.add(ns);
        break;
      case 'ReferenceGrant':
        for (const shard of this.shardGrantDeps.get(ns) ?? []) this.invalidateOutboundShard(shard);
        break;
      case 'FaultInjection':
        for (const shard of [...(this.shardRouteNsDeps.get(ns) ?? [])]) this.invalidateOutboundShard(shard);
        break;
      case 'Server':
        if (this.list('InboundLimitPolicy', ns).length > 0) this.dirtyLimitNs.add(ns);
        this.invalidateInboundShard(ns);
        for (const id of this.serverParentRoutes.get(ns) ?? []) this.dirtyRoutes.add(id);
        break;
      case 'AuthorizationPolicy':
        this.invalidateInboundShard(ns);
        break;
      case 'InboundLimitPolicy':
        this.invalidateInboundShard(ns);
        this.dirtyLimitNs.add(ns);
        break;
      case 'MeshTLSAuthentication':
      case 'NetworkAuthentication':
        this.invalidateInboundShard(ns);
        for (const dep of this.authnDeps.get(ns) ?? []) this.invalidateInboundShard(dep);
        break;
    }
    this.scheduleFlush();
  }

  // --- invalidation -----------------------------------------------------------------------------

  private invalidateViews(keys: Iterable<string> | undefined): void {
    if (keys === undefined) return;
    for (const k of keys) this.dirtyViews.add(k);
  }

  private invalidateOutboundShard(key: string): void {
    if (this.outShards.delete(key)) {
      const inputs = this.shardInputs.get(key);
      for (const b of inputs?.backends ?? []) removeDep(this.shardBackendDeps, b, key);
      for (const g of inputs?.grantNs ?? []) removeDep(this.shardGrantDeps, g, key);
      for (const n of inputs?.routeNs ?? []) removeDep(this.shardRouteNsDeps, n, key);
      this.shardInputs.delete(key);
    }
    this.invalidateViews(this.destByService.get(key));
    this.invalidateViews(this.epsByService.get(key));
    for (const id of this.shardRoutes.get(key) ?? []) this.dirtyRoutes.add(id);
  }

  private invalidateInboundShard(ns: string): void {
    if (this.inShards.delete(ns)) {
      for (const dep of this.inShardInputs.get(ns) ?? []) removeDep(this.authnDeps, dep, ns);
      this.inShardInputs.delete(ns);
    }
    this.invalidateViews(this.inboundByNs.get(ns));
  }

  // --- shards -----------------------------------------------------------------------------------

  private routeById(id: RouteId): { kind: RouteKindName; route: HTTPRoute | GRPCRoute } | undefined {
    const [kind, ns, name] = id.split('/') as [RouteKindName, string, string];
    const route = this.get(kind, ns, name);
    return route === undefined ? undefined : { kind, route };
  }

  private outShard(key: string): OutboundShard {
    const hit = this.outShards.get(key);
    if (hit !== undefined) return hit;
    const [svcNs, svcName] = key.split('/') as [string, string];
    const httpRoutes: HTTPRoute[] = [];
    const grpcRoutes: GRPCRoute[] = [];
    const backends = new Set<string>();
    const grantNs = new Set<string>();
    const routeNamespaces = new Set<string>();
    const ids = [...(this.shardRoutes.get(key) ?? [])];
    for (const id of ids) {
      const r = this.routeById(id);
      if (r === undefined) continue;
      if (r.kind === 'HTTPRoute') httpRoutes.push(r.route as HTTPRoute);
      else grpcRoutes.push(r.route as GRPCRoute);
      const routeNs = nsOf(r.route);
      routeNamespaces.add(routeNs);
      for (const ref of backendRefsOf(r.route)) {
        if (!CORE_GROUPS.has(ref.group ?? '') || (ref.kind ?? 'Service') !== 'Service') continue;
        const ns = ref.namespace ?? routeNs;
        backends.add(svcKey(ns, ref.name));
        if (ns !== routeNs) grantNs.add(ns);
      }
    }
    const services: Service[] = [];
    const self = this.get('Service', svcNs, svcName);
    if (self !== undefined) services.push(self);
    for (const b of backends) {
      if (b === key) continue;
      const [bNs, bName] = b.split('/') as [string, string];
      const s = this.get('Service', bNs, bName);
      if (s !== undefined) services.push(s);
    }
    const referenceGrants = [...grantNs].flatMap((ns) => this.list('ReferenceGrant', ns));
    const backendNs = new Set([...backends].map((b) => b.split('/')[0] ?? ''));
    const backendTrafficPolicies = [...backendNs].flatMap((ns) => this.list('XBackendTrafficPolicy', ns));
    const index = indexSnapshot(
      {
        namespaces: [],
        services,
        endpointSlices: [],
        pods: [],
        httpRoutes,
        grpcRoutes,
        referenceGrants,
        backendTrafficPolicies,
        faultInjections: [...routeNamespaces].flatMap((ns) => this.list('FaultInjection', ns)),
        servers: [],
        authorizationPolicies: [],
        meshTLSAuthentications: [],
        networkAuthentications: [],
      },
      { referenceGrantCheck: this.options.referenceGrantCheck },
    );
    // Keep only the parent entries that resolve to this shard's Service.
    const statuses = new Map<RouteId, RouteParentStatus[]>();
    for (const st of index.statuses) {
      const id = routeId(st.kind, st.namespace, st.name);
      const r = this.routeById(id);
      if (r === undefined) continue;
      const serviceParents = (r.route.spec?.parentRefs ?? []).filter(isServiceParentRef);
      const mine: RouteParentStatus[] = [];
      serviceParents.forEach((p, i) => {
        const entry = st.parents[i];
        if (entry !== undefined && svcKey(p.namespace ?? st.namespace, p.name) === key) mine.push(entry);
      });
      statuses.set(id, mine);
    }
    for (const b of backends) addDep(this.shardBackendDeps, b, key);
    for (const g of grantNs) addDep(this.shardGrantDeps, g, key);
    for (const n of routeNamespaces) addDep(this.shardRouteNsDeps, n, key);
    this.shardInputs.set(key, { backends: [...backends], grantNs: [...grantNs], routeNs: [...routeNamespaces] });
    const shard = { index, statuses };
    this.outShards.set(key, shard);
    return shard;
  }

  private inShard(ns: string): InboundIndex {
    const hit = this.inShards.get(ns);
    if (hit !== undefined) return hit;
    const policies = this.list('AuthorizationPolicy', ns);
    const authnNs = new Set<string>([ns]);
    for (const p of policies as AuthorizationPolicy[]) {
      for (const r of p.spec?.requiredAuthenticationRefs ?? []) if (r.namespace !== undefined) authnNs.add(r.namespace);
    }
    const namespace = this.get('Namespace', '', ns);
    const index = indexInboundPolicy(
      {
        namespaces: namespace !== undefined ? [namespace] : [],
        services: [],
        endpointSlices: [],
        pods: [],
        httpRoutes: this.list('HTTPRoute', ns).filter(hasServerParent),
        grpcRoutes: this.list('GRPCRoute', ns).filter(hasServerParent),
        referenceGrants: [],
        servers: this.list('Server', ns),
        authorizationPolicies: policies,
        meshTLSAuthentications: [...authnNs].flatMap((n) => this.list('MeshTLSAuthentication', n)),
        networkAuthentications: [...authnNs].flatMap((n) => this.list('NetworkAuthentication', n)),
        inboundLimitPolicies: this.list('InboundLimitPolicy', ns),
      },
      {
        trustDomain: this.options.trustDomain,
        clusterNetworks: this.options.clusterNetworks,
        ...(this.options.defaultInboundPolicy !== undefined ? { defaultPolicy: this.options.defaultInboundPolicy } : {}),
        ...(this.options.probeNetworks !== undefined ? { probeNetworks: this.options.probeNetworks } : {}),
      },
    );
    const deps = [...authnNs].filter((n) => n !== ns);
    for (const d of deps) addDep(this.authnDeps, d, ns);
    this.inShardInputs.set(ns, deps);
    this.inShards.set(ns, index);
    return index;
  }

  // --- views ------------------------------------------------------------------------------------

  /** The current value of a view (memoised; computed on demand). */
  view<K extends ViewKey>(key: K): ViewValue<K> {
    const k = viewKeyString(key);
    const hit = this.cache.get(k);
    if (hit !== undefined && !this.dirtyViews.has(k)) return hit.value as ViewValue<K>;
    const value = this.compute(k, key);
    this.cache.set(k, { key, value, fp: fingerprint(value) });
    return value as ViewValue<K>;
  }

  private track(view: string, map: DepMap, from: string): void {
    addDep(map, from, view);
    let list = this.viewDeps.get(view);
    if (list === undefined) {
      list = [];
      this.viewDeps.set(view, list);
    }
    list.push([map, from]);
  }

  private untrack(view: string): void {
    for (const [map, from] of this.viewDeps.get(view) ?? []) removeDep(map, from, view);
    this.viewDeps.delete(view);
  }

  private compute(k: string, key: ViewKey): unknown {
    this.untrack(k);
    this.dirtyViews.delete(k);
    switch (key.kind) {
      case 'inbound':
        this.track(k, this.inboundByPod, svcKey(key.namespace, key.pod));
        this.track(k, this.inboundByNs, key.namespace);
        return this.computeInbound(key.namespace, key.pod, key.port);
      case 'destination':
        return this.computeDestination(k, key.clientNamespace, key.ip, key.port);
      case 'endpoints':
        return this.computeEndpoints(k, key.namespace, key.name, key.port);
    }
  }

  private computeInbound(ns: string, podName: string, port: number): InboundPortPolicy | undefined {
    const pod = this.get('Pod', ns, podName);
    if (pod === undefined) return undefined;
    return compileInboundPort(this.inShard(ns), pod, port);
  }

  private computeDestination(k: string, clientNs: string, ip: string, port: number): DestinationView {
    this.track(k, this.destByIp, ip);
    const svc = this.servicesByIp.get(ip);
    if (svc !== undefined) {
      this.track(k, this.destByService, svc);
      const [ns, name] = svc.split('/') as [string, string];
      const policy = outboundView(this.outShard(svc).index, clientNs, ns, name, port);
      return policy === undefined ? { kind: 'unknown' } : { kind: 'service', policy };
    }
    const podKey = this.podsByIp.get(ip);
    if (podKey !== undefined) {
      this.track(k, this.destByPod, podKey);
      const [ns, name] = podKey.split('/') as [string, string];
      const pod = this.get('Pod', ns, name);
      if (pod !== undefined) return { kind: 'pod', endpoint: this.podEndpoint(pod, ip, port, 'detect') };
    }
    return { kind: 'unknown' };
  }

  private podEndpoint(pod: Pod, ip: string, port: number, protocol: EndpointView['protocol']): EndpointView {
    const meshed = pod.metadata.labels?.[MESHED_LABEL] === MESHED_LABEL_VALUE;
    const ready = podReady(pod);
    return {
      ip,
      port,
      ready,
      serving: ready,
      terminating: pod.metadata.deletionTimestamp !== undefined,
      pod: { namespace: nsOf(pod), name: pod.metadata.name },
      ...(pod.spec?.nodeName !== undefined ? { node: pod.spec.nodeName } : {}),
      meshed,
      ...(meshed ? { identity: spiffeId(this.options.trustDomain, nsOf(pod), pod.spec?.serviceAccountName ?? 'default') } : {}),
      protocol,
    };
  }

  private computeEndpoints(k: string, ns: string, name: string, port: number): EndpointsView {
    const key = svcKey(ns, name);
    this.track(k, this.epsByService, key);
    const svc = this.get('Service', ns, name);
    if (svc === undefined) return { serviceExists: false, endpoints: [] };
    const sp = (svc.spec?.ports ?? []).find((p) => p.port === port);
    if (sp === undefined) return { serviceExists: true, endpoints: [] };
    const protocol = outboundView(this.outShard(key).index, ns, ns, name, port)?.protocol ?? 'detect';
    const portName = sp.name ?? '';
    const seen = new Set<string>();
    const endpoints: EndpointView[] = [];
    for (const sliceKey of [...(this.slicesByService.get(key) ?? [])].sort()) {
      const slice = this.get('EndpointSlice', ns, sliceKey.slice(ns.length + 1));
      if (slice === undefined || (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6')) continue;
      const target = (slice.ports ?? []).find((p) => (p.name ?? '') === portName)?.port;
      if (target === undefined) continue;
      for (const ep of slice.endpoints ?? []) {
        const ip = ep.addresses[0];
        if (ip === undefined || seen.has(`${ip}:${target}`)) continue;
        seen.add(`${ip}:${target}`);
        const ready = ep.conditions?.ready ?? true;
        let pod: Pod | undefined;
        if (ep.targetRef?.kind === 'Pod' && ep.targetRef.name !== undefined) {
          const podNs = ep.targetRef.namespace ?? ns;
          this.track(k, this.epsByPod, svcKey(podNs, ep.targetRef.name));
          pod = this.get('Pod', podNs, ep.targetRef.name);
        }
        const meshed = pod?.metadata.labels?.[MESHED_LABEL] === MESHED_LABEL_VALUE;
        endpoints.push({
          ip,
          port: target,
          ready,
          serving: ep.conditions?.serving ?? ready,
          terminating: ep.conditions?.terminating ?? false,
          ...(ep.targetRef?.kind === 'Pod' && ep.targetRef.name !== undefined ? { pod: { namespace: ep.targetRef.namespace ?? ns, name: ep.targetRef.name } } : {}),
          ...(ep.zone !== undefined ? { zone: ep.zone } : {}),
          ...(ep.nodeName !== undefined ? { node: ep.nodeName } : {}),
          meshed,
          ...(meshed && pod !== undefined
            ? { identity: spiffeId(this.options.trustDomain, nsOf(pod), pod.spec?.serviceAccountName ?? 'default') }
            : {}),
          protocol,
        });
      }
    }
    endpoints.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
    return { serviceExists: true, endpoints };
  }

  /** Discovery.Lookup: what is known about one pod address. */
  lookup(ip: string, port: number): EndpointView | undefined {
    const podKey = this.podsByIp.get(ip);
    if (podKey === undefined) return undefined;
    const [ns, name] = podKey.split('/') as [string, string];
    const pod = this.get('Pod', ns, name);
    return pod === undefined ? undefined : this.podEndpoint(pod, ip, port, 'detect');
  }

  /** The outbound policy of a Service port for a client namespace (debug dumps). */
  serviceView(clientNs: string, ns: string, name: string, port: number): OutboundPolicy | undefined {
    if (this.get('Service', ns, name) === undefined) return undefined;
    return outboundView(this.outShard(svcKey(ns, name)).index, clientNs, ns, name, port);
  }

  /** The ServiceAccount a pod runs as, or undefined when the pod is unknown. */
  podServiceAccount(ns: string, name: string): string | undefined {
    const pod = this.get('Pod', ns, name);
    return pod === undefined ? undefined : (pod.spec?.serviceAccountName ?? 'default');
  }

  // --- route status -----------------------------------------------------------------------------

  /** The parent entries this controller owns for a route, in parentRefs order; undefined if gone. */
  routeStatus(id: RouteId): readonly RouteParentStatus[] | undefined {
    const r = this.routeById(id);
    if (r === undefined) return undefined;
    const ns = nsOf(r.route);
    const out: RouteParentStatus[] = [];
    const taken = new Map<string, number>();
    for (const p of r.route.spec?.parentRefs ?? []) {
      if (isServiceParentRef(p)) {
        const key = svcKey(p.namespace ?? ns, p.name);
        const entries = this.outShard(key).statuses.get(id) ?? [];
        const i = taken.get(key) ?? 0;
        taken.set(key, i + 1);
        const entry = entries[i];
        if (entry !== undefined) out.push(entry);
      } else if (isServerParent(p)) {
        out.push(serverParentStatus(r.kind, r.route, p, (sNs, sName) => this.get('Server', sNs, sName) !== undefined));
      }
    }
    return out;
  }

  /**
   * The status of one XBackendTrafficPolicy, computed over every policy and Service of its namespace
   * (conflicts and missing targets need both); undefined when the policy is gone.
   */
  backendPolicyStatus(ns: string, name: string): BackendPolicyStatus | undefined {
    const services = new Set(this.list('Service', ns).map((s) => svcKey(ns, s.metadata.name)));
    return compileBackendPolicies(this.list('XBackendTrafficPolicy', ns), services).statuses.find((s) => s.name === name);
  }

  /**
   * The status of one InboundLimitPolicy, over every such policy, Server and Server-attached route of
   * its namespace (conflicts and missing targets need them); undefined when the policy is gone.
   */
  limitPolicyStatus(ns: string, name: string): LimitPolicyStatus | undefined {
    const servers = new Set(this.list('Server', ns).map((s) => s.metadata.name));
    const routes = new Set([
      ...this.list('HTTPRoute', ns).filter(hasServerParent).map((r) => `HTTPRoute/${r.metadata.name}`),
      ...this.list('GRPCRoute', ns).filter(hasServerParent).map((r) => `GRPCRoute/${r.metadata.name}`),
    ]);
    const exists = (kind: string, _ns: string, target: string) => (kind === 'Server' ? servers.has(target) : routes.has(`${kind}/${target}`));
    return selectInboundLimits(this.list('InboundLimitPolicy', ns), exists).statuses.find((s) => s.name === name);
  }

  /** Called after a flush with the InboundLimitPolicies (`namespace/name`) whose status may have changed. */
  onLimitPolicyStatus(listener: (ids: readonly string[]) => void): () => void {
    this.limitListeners.add(listener);
    return () => this.limitListeners.delete(listener);
  }

  /** Called after a flush with the XBackendTrafficPolicies (`namespace/name`) whose status may have changed. */
  onBackendPolicyStatus(listener: (ids: readonly string[]) => void): () => void {
    this.policyListeners.add(listener);
    return () => this.policyListeners.delete(listener);
  }

  /** Called after a flush with the routes whose status may have changed. */
  onRouteStatus(listener: (ids: readonly RouteId[]) => void): () => void {
    this.routeListeners.add(listener);
    return () => this.routeListeners.delete(listener);
  }

  // --- subscriptions ----------------------------------------------------------------------------

  subscribe(key: ViewKey, listener: ViewListener): Subscription {
    const k = viewKeyString(key);
    let entry = this.subscribers.get(k);
    if (entry === undefined) {
      entry = { key, listeners: new Set() };
      this.subscribers.set(k, entry);
    }
    entry.listeners.add(listener);
    if (entry.fp === undefined) {
      this.view(key);
      entry.fp = this.cache.get(k)?.fp;
    }
    return {
      close: () => {
        const e = this.subscribers.get(k);
        if (e === undefined) return;
        e.listeners.delete(listener);
        if (e.listeners.size === 0) {
          this.subscribers.delete(k);
          this.cache.delete(k);
          this.untrack(k);
        }
      },
    };
  }

  private scheduleFlush(): void {
    if (!this.options.autoFlush || this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /**
   * Recomputes the dirty views that have subscribers and tells those whose fingerprint changed;
   * drops the other dirty views from the cache. Returns the keys that were told.
   */
  flush(): string[] {
    const since = this.pendingSince ?? performance.now();
    this.pendingSince = undefined;
    const changed: string[] = [];
    const dirty = [...this.dirtyViews];
    for (const k of dirty) {
      const sub = this.subscribers.get(k);
      if (sub === undefined) {
        this.cache.delete(k);
        this.untrack(k);
        this.dirtyViews.delete(k);
        continue;
      }
      this.view(sub.key);
      const fp = this.cache.get(k)?.fp;
      if (fp !== sub.fp) {
        sub.fp = fp;
        changed.push(k);
      }
    }
    for (const k of changed) {
      for (const l of [...(this.subscribers.get(k)?.listeners ?? [])]) l(since);
    }
    if (this.dirtyRoutes.size > 0) {
      const ids = [...this.dirtyRoutes];
      this.dirtyRoutes.clear();
      for (const l of this.routeListeners) l(ids);
    }
    if (this.dirtyPolicyNs.size > 0) {
      const ids = [...this.dirtyPolicyNs].flatMap((ns) => this.list('XBackendTrafficPolicy', ns).map((p) => `${ns}/${p.metadata.name}`));
      this.dirtyPolicyNs.clear();
      for (const l of this.policyListeners) l(ids);
    }
    if (this.dirtyLimitNs.size > 0) {
      const ids = [...this.dirtyLimitNs].flatMap((ns) => this.list('InboundLimitPolicy', ns).map((p) => `${ns}/${p.metadata.name}`));
      this.dirtyLimitNs.clear();
      for (const l of this.limitListeners) l(ids);
    }
    return changed;
  }

  sizes(): IndexSizes {
    const objects = {} as Record<ResourceKind, number>;
    for (const k of RESOURCE_KINDS) {
      let n = 0;
      for (const m of this.objects.get(k)?.values() ?? []) n += m.size;
      objects[k] = n;
    }
    let subscribers = 0;
    for (const s of this.subscribers.values()) subscribers += s.listeners.size;
    return {
      objects,
      outboundShards: this.outShards.size,
      inboundShards: this.inShards.size,
      cachedViews: this.cache.size,
      subscribedViews: this.subscribers.size,
      subscribers,
    };
  }
}
