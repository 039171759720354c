/**
 * The status the gateway controller writes, computed from the cluster's objects in one pure pass:
 *
 *   GatewayClasses with Weft's controllerName        -> their conditions (Accepted)
 *   Gateways of an accepted Weft GatewayClass         -> Accepted, Programmed, each listener's
 *                                                        conditions, supportedKinds and attachedRoutes
 *   HTTPRoutes/GRPCRoutes/TLSRoutes with parentRefs   -> one status.parents[] entry per such parentRef:
 *                                                        Accepted (attachment, ./evaluate.ts) and
 *                                                        ResolvedRefs (backends: kind, ReferenceGrant,
 *                                                        Service and port)
 *
 * Gateways of another controller's class, or of a Weft class that is not accepted, get nothing: their
 * status is not Weft's to write. Route entries carry the GatewayClass's controllerName.
 */
import type { Condition, GRPCRoute, HTTPRoute, Namespace, ReferenceGrant, Service } from '../kube.js';
import type { BackendObjectReference } from '../kube.js';
import type { RouteParentStatus } from '../outbound/policy.js';
import { compileGrpcRoute, compileHttpRoute, type RouteCompileResult, type RouteKind } from '../routes/compile.js';
import type { BackendFailure, BackendTarget } from '../routes/types.js';
import { externalNameOf } from '../routes/external-name.js';
import {
  allListeners, evaluateGateway, evaluateGatewayClass, referenceGranted, routeKey, type AttachableRoute, type GatewayContext, type GatewayRuntime, type ListenerEvaluation,
} from './evaluate.js';
import { compileTlsRoute, type TlsRouteCompiled } from './tls-route.js';
import { GATEWAY_GROUP, type Gateway, type GatewayClass, type GatewayStatusJson, type ListenerSet, type ListenerSetStatusJson, type TLSRoute } from './types.js';
import { buildGatewayView, type GatewayView } from './view.js';
import type { CompiledRoute } from '../routes/types.js';

const CORE_GROUPS = new Set(['', 'core']);

export interface GatewayWorld {
  readonly gatewayClasses: readonly GatewayClass[];
  readonly gateways: readonly Gateway[];
  readonly httpRoutes: readonly HTTPRoute[];
  readonly grpcRoutes: readonly GRPCRoute[];
  /** TLSRoutes (TLS listeners in Passthrough mode); absent: none. */
  readonly tlsRoutes?: readonly TLSRoute[];
  readonly services: readonly Service[];
  readonly referenceGrants: readonly ReferenceGrant[];
  readonly namespaces: readonly Namespace[];
  /** ListenerSets (listeners added to Gateways); absent: none. */
  readonly listenerSets?: readonly ListenerSet[];
}

export interface GatewayStatusOptions extends Pick<GatewayContext, 'secrets' | 'checkKeyPair' | 'protocols' | 'routeKinds'> {
  readonly controllerName: string;
  /** What serves each Gateway (`namespace/name`): its address and readiness, or why nothing does. */
  readonly runtime: (namespace: string, name: string) => GatewayRuntime;
}

export interface GatewayStatuses {
  /** GatewayClass name -> conditions; only classes with Weft's controllerName. */
  readonly classes: ReadonlyMap<string, readonly Condition[]>;
  /** `namespace/name` -> status (conditions and listeners; addresses when the runtime has one). */
  readonly gateways: ReadonlyMap<string, GatewayStatusJson>;
  /** `namespace/name` -> the status of each ListenerSet referring to one of those Gateways. */
  readonly listenerSets: ReadonlyMap<string, ListenerSetStatusJson>;
  /**
   * `namespace/name` of each ListenerSet that still shows a status but refers to no Gateway of this
   * controller any more, nor to another controller's: its parentRef was changed to a Gateway that does
   * not exist (or of a class that does not), or our Gateway was deleted. Nobody else will write it, so
   * this controller clears it. A set under another controller's Gateway is that controller's to write.
   */
  readonly staleListenerSets: readonly string[];
  /** `Kind/namespace/name` -> this controller's parent entries, in parentRefs order. */
  readonly routes: ReadonlyMap<string, readonly RouteParentStatus[]>;
  /** `namespace/name` -> what the Gateway's proxy serves (./view.ts): its valid listeners and their routes. */
  readonly views: ReadonlyMap<string, GatewayView>;
  /** `namespace/name` -> the Gateway (as given) and its listeners' evaluation (its ListenerSets' included): what its workload is rendered from. */
  readonly served: ReadonlyMap<string, { readonly gateway: Gateway; readonly listeners: readonly ListenerEvaluation[] }>;
}

const cond = (type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition => ({
  type, status: ok ? 'True' : 'False', reason, message, ...(generation !== undefined ? { observedGeneration: generation } : {}),
});

/**
 * Resolves a gateway route's backendRef: a core Service with that port, across namespaces only by
 * ReferenceGrant. An ExternalName Service resolves at any port (its DNS name rides along).
 */
export function gatewayBackendResolver(
  routeNamespace: string,
  services: ReadonlyMap<string, Service>,
  grants: readonly ReferenceGrant[],
): (ref: BackendObjectReference, kind: RouteKind | 'TLSRoute') => BackendTarget {
  return (ref, kind) => {
    const group = ref.group ?? '';
    const refKind = ref.kind ?? 'Service';
    const ns = ref.namespace ?? routeNamespace;
    const key = `${ns}/${ref.name}`;
    const err = (reason: BackendFailure, message: string): BackendTarget => ({ kind: 'error', status: 500, reason, message });
    if (!CORE_GROUPS.has(group) || refKind !== 'Service') {
      return err('InvalidKind', `backend ${group === '' ? '' : `${group}/`}${refKind} ${ref.name} is not a Service; Weft routes only to Services`);
    }
    if (ns !== routeNamespace && !referenceGranted(grants, { group: GATEWAY_GROUP, kind, namespace: routeNamespace }, { group: '', kind: 'Service', namespace: ns, name: ref.name })) {
      return err('RefNotPermitted', `backend Service ${key} is in another namespace and no ReferenceGrant in ${ns} allows ${kind}s from ${routeNamespace} to reference it`);
    }
    const svc = services.get(key);
    if (svc === undefined) return err('BackendNotFound', `backend Service ${key} does not exist`);
    if (ref.port === undefined) return err('BackendNotFound', `backendRef to Service ${key} needs a port`);
    const ext = externalNameOf(svc);
    if (ext?.ok === false) return err('BackendNotFound', `backend Service ${key} is of type ExternalName but ${ext.message}`);
    if (ext?.ok === true) return { kind: 'service', namespace: ns, name: ref.name, port: ref.port, externalName: ext.name };
    if (!(svc.spec?.ports ?? []).some((p) => p.port === ref.port)) return err('BackendNotFound', `backend Service ${key} has no port ${ref.port}`);
    return { kind: 'service', namespace: ns, name: ref.name, port: ref.port };
  };
}

const FAILURE_ORDER: readonly BackendFailure[] = ['RefNotPermitted', 'InvalidKind', 'BackendNotFound'];

function resolvedRefs(result: RouteCompileResult, gen: number | undefined): Condition {
  const failures = result.refFailures;
  if (failures.length === 0) return cond('ResolvedRefs', true, 'ResolvedRefs', 'all backendRefs are resolved', gen);
  const reason = FAILURE_ORDER.find((r) => failures.some((f) => f.reason === r)) ?? 'BackendNotFound';
  return cond('ResolvedRefs', false, reason, `requests for these backends are answered 500: ${failures.map((f) => f.message).join('; ')}`, gen);
}

function tlsResolvedRefs(result: TlsRouteCompiled, gen: number | undefined): Condition {
  const failures = result.refFailures;
  if (failures.length === 0) return cond('ResolvedRefs', true, 'ResolvedRefs', 'all backendRefs are resolved', gen);
  const reason = FAILURE_ORDER.find((r) => failures.some((f) => f.reason === r)) ?? 'BackendNotFound';
  return cond('ResolvedRefs', false, reason, `connections picking these backends are closed: ${failures.map((f) => f.message).join('; ')}`, gen);
}

export function computeGatewayStatuses(world: GatewayWorld, o: GatewayStatusOptions): GatewayStatuses {
  const classes = new Map<string, readonly Condition[]>();
  const acceptedClasses = new Set<string>();
  for (const gc of world.gatewayClasses) {
    const e = evaluateGatewayClass(gc, o.controllerName);
    if (!e.ours) continue;
    classes.set(gc.metadata.name, e.conditions);
    if (e.accepted) acceptedClasses.add(gc.metadata.name);
  }

  const services = new Map(world.services.map((s) => [`${s.metadata.namespace ?? ''}/${s.metadata.name}`, s]));
  const compiled = new Map<string, { kind: RouteKind; route: HTTPRoute | GRPCRoute; result: RouteCompileResult }>();
  const compile = (kind: RouteKind, route: HTTPRoute | GRPCRoute) => {
    const ns = route.metadata.namespace ?? '';
    const key = routeKey({ kind, namespace: ns, name: route.metadata.name });
    let c = compiled.get(key);
    if (c === undefined) {
      const resolve = gatewayBackendResolver(ns, services, world.referenceGrants);
      c = { kind, route, result: kind === 'HTTPRoute' ? compileHttpRoute(route as HTTPRoute, resolve) : compileGrpcRoute(route as GRPCRoute, resolve) };
      compiled.set(key, c);
    }
    return c;
  };
  const tlsCompiled = new Map<string, TlsRouteCompiled & { namespace: string; name: string; route: TLSRoute }>();
  for (const r of world.tlsRoutes ?? []) {
    const ns = r.metadata.namespace ?? '';
    const result = compileTlsRoute(r, gatewayBackendResolver(ns, services, world.referenceGrants));
    tlsCompiled.set(routeKey({ kind: 'TLSRoute', namespace: ns, name: r.metadata.name }), { ...result, namespace: ns, name: r.metadata.name, route: r });
  }
  const attachable: AttachableRoute[] = [...tlsCompiled.values()].map((t) => ({
    kind: 'TLSRoute', namespace: t.namespace, name: t.name, parentRefs: t.route.spec?.parentRefs ?? [], ...(t.route.spec?.hostnames !== undefined ? { hostnames: t.route.spec.hostnames } : {}),
  }));
  const byKey = new Map<string, { kind: RouteKind; route: HTTPRoute | GRPCRoute }>();
  for (const [kind, list] of [['HTTPRoute', world.httpRoutes], ['GRPCRoute', world.grpcRoutes]] as const) {
    for (const r of list) {
      const ns = r.metadata.namespace ?? '';
      attachable.push({ kind, namespace: ns, name: r.metadata.name, parentRefs: r.spec?.parentRefs ?? [], ...(r.spec?.hostnames !== undefined ? { hostnames: r.spec.hostnames } : {}) });
      byKey.set(routeKey({ kind, namespace: ns, name: r.metadata.name }), { kind, route: r });
    }
  }

  const gateways = new Map<string, GatewayStatusJson>();
  const listenerSets = new Map<string, ListenerSetStatusJson>();
  const views = new Map<string, GatewayView>();
  const served = new Map<string, { gateway: Gateway; listeners: readonly ListenerEvaluation[] }>();
  const routeEntries = new Map<string, Map<object, RouteParentStatus>>();
  for (const gw of world.gateways) {
    if (!acceptedClasses.has(gw.spec?.gatewayClassName ?? '')) continue;
    const gwNs = gw.metadata.namespace ?? 'default';
    const runtime = o.runtime(gwNs, gw.metadata.name);
    const e = evaluateGateway(gw, {
      secrets: o.secrets, checkKeyPair: o.checkKeyPair, referenceGrants: world.referenceGrants,
      ...(o.protocols !== undefined ? { protocols: o.protocols } : {}),
      ...(o.routeKinds !== undefined ? { routeKinds: o.routeKinds } : {}),
      namespaces: world.namespaces, routes: attachable, runtime, listenerSets: world.listenerSets ?? [],
    });
    const listenerStatus = (l: ListenerEvaluation) => ({
      name: l.listener.name, supportedKinds: l.supportedKinds.map((k) => ({ group: k.group ?? GATEWAY_GROUP, kind: k.kind })),
      attachedRoutes: e.attachedRoutes.get(l.key) ?? 0, conditions: l.conditions,
    });
    gateways.set(`${gwNs}/${gw.metadata.name}`, {
      ...(runtime.address !== undefined && runtime.unserved === undefined ? { addresses: [{ type: runtime.addressType ?? 'IPAddress', value: runtime.address }] } : {}),
      conditions: e.conditions,
      listeners: e.listeners.map(listenerStatus),
      attachedListenerSets: e.attachedListenerSets,
    });
    for (const ls of e.listenerSets) {
      listenerSets.set(`${ls.listenerSet.metadata.namespace ?? 'default'}/${ls.listenerSet.metadata.name}`, { conditions: ls.conditions, listeners: ls.listeners.map(listenerStatus) });
    }
    const routesOfGateway = new Map<string, CompiledRoute>();
    for (const [key, parents] of e.routes) {
      const tls = tlsCompiled.get(key);
      if (tls !== undefined) {
        const gen = tls.route.metadata.generation;
        const entries = routeEntries.get(key) ?? new Map<object, RouteParentStatus>();
        routeEntries.set(key, entries);
        for (const p of parents) {
          const accepted = p.accepted ? cond('Accepted', true, 'Accepted', p.message, gen) : cond('Accepted', false, p.reason, p.message, gen);
          entries.set(p.parentRef, { parentRef: p.parentRef, controllerName: o.controllerName, conditions: [accepted, tlsResolvedRefs(tls, gen)] });
        }
        continue;
      }
      const r = byKey.get(key);
      if (r === undefined) continue;
      const c = compile(r.kind, r.route);
      if (c.result.route !== undefined) routesOfGateway.set(key, c.result.route);
      const gen = r.route.metadata.generation;
      const entries = routeEntries.get(key) ?? new Map<object, RouteParentStatus>();
      routeEntries.set(key, entries);
      for (const p of parents) {
        let accepted: Condition;
        if (!p.accepted) accepted = cond('Accepted', false, p.reason, p.message, gen);
        else if (c.result.fatal !== undefined) accepted = cond('Accepted', false, 'UnsupportedValue', `route is not in effect: ${c.result.fatal}`, gen);
        else if (c.result.unsupported.length > 0) accepted = cond('Accepted', false, 'UnsupportedValue', `requests matching the affected rules are answered 500: ${c.result.unsupported.join('; ')}`, gen);
        else accepted = cond('Accepted', true, 'Accepted', p.message, gen);
        entries.set(p.parentRef, { parentRef: p.parentRef, controllerName: o.controllerName, conditions: [accepted, resolvedRefs(c.result, gen)] });
      }
    }
    served.set(`${gwNs}/${gw.metadata.name}`, { gateway: gw, listeners: allListeners(e) });
    views.set(`${gwNs}/${gw.metadata.name}`, buildGatewayView({ namespace: gwNs, name: gw.metadata.name }, e, routesOfGateway, tlsCompiled));
  }

  // In parentRefs order (the entries are keyed by the parentRef objects themselves).
  const routes = new Map<string, readonly RouteParentStatus[]>();
  for (const [key, entries] of routeEntries) {
    const r = byKey.get(key) ?? tlsCompiled.get(key)!;
    routes.set(key, (r.route.spec?.parentRefs ?? []).flatMap((ref) => {
      const entry = entries.get(ref);
      return entry === undefined ? [] : [entry];
    }));
  }
  return { classes, gateways, listenerSets, staleListenerSets: staleListenerSets(world, listenerSets, o.controllerName), routes, views, served };
}

function staleListenerSets(world: GatewayWorld, current: ReadonlyMap<string, ListenerSetStatusJson>, controllerName: string): string[] {
  const stale: string[] = [];
  for (const ls of world.listenerSets ?? []) {
    const ns = ls.metadata.namespace ?? 'default';
    const key = `${ns}/${ls.metadata.name}`;
    if (current.has(key) || ((ls.status?.conditions ?? []).length === 0 && (ls.status?.listeners ?? []).length === 0)) continue;
    const ref = ls.spec?.parentRef;
    const isGateway = ref !== undefined && (ref.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && (ref.kind ?? 'Gateway') === 'Gateway';
    const gw = isGateway ? world.gateways.find((g) => (g.metadata.namespace ?? 'default') === (ref.namespace ?? ns) && g.metadata.name === ref.name) : undefined;
    const cls = gw === undefined ? undefined : world.gatewayClasses.find((c) => c.metadata.name === gw.spec?.gatewayClassName);
    if (cls !== undefined && cls.spec?.controllerName !== controllerName) continue;
    stale.push(key);
  }
  return stale;
}
