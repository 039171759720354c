/**
 * Outbound (client-side, GAMMA) policy compiler: ClusterSnapshot -> OutboundPolicy per
 * (client namespace, Service port), plus route status.
 *
 * Model:
 *   Service port <- parentRef (port | sectionName | all ports) <- HTTPRoute / GRPCRoute
 *   producer route  = route in the Service's namespace: applies to clients in every namespace;
 *   consumer route  = route in another namespace: applies only to clients in its own namespace
 *                     and REPLACES the producer routes for them;
 *   on one port, GRPCRoutes beat HTTPRoutes (GEP-1294); the losers are Conflicted.
 *   No route attached => `routes: 'none'` (pass through to the Service as if there were no mesh).
 *
 * Steps: `indexSnapshot` compiles every route exactly once (matches, filters, backend resolution,
 * status) and records which Service ports it attaches to; `outboundView` is a cheap pure function
 * of (index, client namespace, Service, port), which the controller memoises per subscription;
 * `compileOutbound` computes every view (tests, dumps).
 *
 * Decisions:
 * - Route `hostnames` are ignored for Service parents: mesh routing keys on the destination
 *   (ClusterIP:port), never on the Host header (GEP-1294, MeshFrontendHostname).
 * - Cross-namespace backendRefs need a ReferenceGrant (from HTTPRoute/GRPCRoute in the route's
 *   namespace, to Service) unless the backend is one of the route's own parent Services, or the
 *   `referenceGrantCheck: false` option turns the check off. Without it the backend is
 *   RefNotPermitted and its share answers 500. The grant check runs before the existence check so
 *   that a route cannot probe for Services it may not reference.
 * - A route whose matches cannot compile is not in effect anywhere (Accepted=False). A route with
 *   unsupported filters or fields stays in effect with those rules failing closed (500).
 */

import { compileBackendPolicies } from './backend-traffic.js';
import { failureAccrualOf } from '../failure-accrual.js';
import type { BackendPolicyStatus } from './backend-traffic.js';
import { ROUTE_CONTROLLER_NAME } from '../contract.js';
import type {
  BackendObjectReference,
  ClusterSnapshot,
  Condition,
  GRPCRoute,
  HTTPRoute,
  FaultInjection,
  ParentReference,
  ReferenceGrant,
  Service,
  ServicePort,
} from '../kube.js';
import { referenceGranted } from '../gateway/evaluate.js';
import { externalNameOf } from '../routes/external-name.js';
import { compileGrpcRoute, compileHttpRoute, type ExtensionResolver, type RouteCompileResult, type RouteKind } from '../routes/compile.js';
import { compileFaultInjection, FAULT_INJECTION_KIND, isFaultInjectionRef } from '../routes/fault.js';
import { POLICY_API_GROUP } from '../contract.js';
import { buildRouteTable, type RouteTable } from '../routes/match.js';
import type { BackendFailure, BackendTarget, CompiledRoute } from '../routes/types.js';

export interface OutboundOptions {
  /** Require ReferenceGrants for cross-namespace backendRefs (default true). */
  readonly referenceGrantCheck?: boolean;
}

/** How the proxy should treat the port's traffic, from the Service port's appProtocol. */
export type ProtocolHint = 'http1' | 'http2' | 'grpc' | 'opaque' | 'detect';

export interface OutboundPolicy {
  readonly key: string;
  readonly clientNamespace: string;
  readonly service: { readonly namespace: string; readonly name: string };
  readonly port: number;
  readonly portName?: string;
  readonly clusterIPs: readonly string[];
  readonly protocol: ProtocolHint;
  readonly appProtocol?: string;
  /** `'none'`: no route attached, pass through. */
  readonly routes: readonly CompiledRoute[] | 'none';
  /** The presorted selection table of `routes` (empty when `'none'`). */
  readonly table: RouteTable;
}

export type GatewayRouteKind = 'HTTPRoute' | 'GRPCRoute';

export interface RouteParentStatus {
  readonly parentRef: ParentReference;
  readonly controllerName: string;
  readonly conditions: readonly Condition[];
}

export interface RouteStatus {
  readonly kind: GatewayRouteKind;
  readonly namespace: string;
  readonly name: string;
  readonly generation?: number;
  /** One entry per Service parentRef; other parents (Gateways, Servers) are not this compiler's. */
  readonly parents: readonly RouteParentStatus[];
}

/** `${clientNs}|${svcNs}/${svcName}:${port}` */
export function outboundKey(clientNs: string, svcNs: string, svcName: string, port: number): string {
  return `${clientNs}|${svcNs}/${svcName}:${port}`;
}

interface Attachment {
  readonly kind: GatewayRouteKind;
  readonly namespace: string;
  readonly name: string;
  readonly route: CompiledRoute;
  /** Ports of the Service this attachment covers. */
  readonly ports: ReadonlySet<number>;
}

export interface OutboundIndex {
  readonly services: ReadonlyMap<string, Service>;
  readonly attachments: ReadonlyMap<string, readonly Attachment[]>;
  readonly statuses: readonly RouteStatus[];
  readonly clientNamespaces: readonly string[];
  /** XBackendTrafficPolicy status (core/outbound/backend-traffic.ts). */
  readonly backendPolicyStatuses: readonly BackendPolicyStatus[];
}

const CORE_GROUPS = new Set(['', 'core']);
const GATEWAY_GROUP = 'gateway.networking.k8s.io';

function svcKey(ns: string, name: string): string {
  return `${ns}/${name}`;
}

function isServiceParent(p: ParentReference): boolean {
  return p.kind === 'Service' && CORE_GROUPS.has(p.group ?? 'gateway.networking.k8s.io');
}

function servicePorts(svc: Service): readonly ServicePort[] {
  return svc.spec?.ports ?? [];
}

function protocolHint(appProtocol: string | undefined): ProtocolHint {
  switch (appProtocol?.toLowerCase()) {
    case 'http':
    case 'kubernetes.io/http':
      return 'http1';
    case 'http2':
    case 'h2c':
    case 'kubernetes.io/h2c':
      return 'http2';
    case 'grpc':
      return 'grpc';
    case 'tcp':
    case 'kubernetes.io/tcp':
    case 'https':
    case 'tls':
      return 'opaque';
    default:
      return 'detect';
  }
}

function condition(type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition {
  return {
    type,
    status: ok ? 'True' : 'False',
    reason,
    message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

const FAILURE_ORDER: readonly BackendFailure[] = ['RefNotPermitted', 'InvalidKind', 'BackendNotFound'];

interface ParentResolution {
  readonly ref: ParentReference;
  readonly serviceKey?: string;
  readonly ports?: ReadonlySet<number>;
  readonly error?: string;
}

function resolveParent(ref: ParentReference, routeNs: string, services: ReadonlyMap<string, Service>): ParentResolution {
  const ns = ref.namespace ?? routeNs;
  const key = svcKey(ns, ref.name);
  const svc = services.get(key);
  if (svc === undefined) return { ref, error: `Service ${key} does not exist` };
  const ports = servicePorts(svc);
  let selected = ports;
  if (ref.port !== undefined) {
    selected = selected.filter((p) => p.port === ref.port);
    if (selected.length === 0) return { ref, error: `Service ${key} has no port ${ref.port}` };
  }
  if (ref.sectionName !== undefined) {
    selected = selected.filter((p) => p.name === ref.sectionName);
    if (selected.length === 0) {
      return { ref, error: `Service ${key} has no port named ${JSON.stringify(ref.sectionName)}${ref.port !== undefined ? ` with number ${ref.port}` : ''}` };
    }
  }
  return { ref, serviceKey: key, ports: new Set(selected.map((p) => p.port)) };
}

/** Compiles every route once and records attachments and status. Pure function of the snapshot. */
export function indexSnapshot(snapshot: ClusterSnapshot, options: OutboundOptions = {}): OutboundIndex {
  const grantCheck = options.referenceGrantCheck !== false;
  const services = new Map<string, Service>();
  for (const s of snapshot.services) services.set(svcKey(s.metadata.namespace ?? '', s.metadata.name), s);
  const backendPolicies = compileBackendPolicies(snapshot.backendTrafficPolicies ?? [], new Set(services.keys()));
  const faults = new Map<string, FaultInjection>();
  for (const f of snapshot.faultInjections ?? []) faults.set(svcKey(f.metadata.namespace ?? '', f.metadata.name), f);
  const grantsByNs = new Map<string, ReferenceGrant[]>();
  for (const g of snapshot.referenceGrants) {
    const ns = g.metadata.namespace ?? '';
    const list = grantsByNs.get(ns);
    if (list) list.push(g);
    else grantsByNs.set(ns, [g]);
  }

  interface Pending {
    readonly kind: GatewayRouteKind;
    readonly obj: HTTPRoute | GRPCRoute;
    readonly result: RouteCompileResult;
    readonly parents: readonly ParentResolution[];
  }
  const pending: Pending[] = [];
  const attachments = new Map<string, Attachment[]>();
  const clientNamespaces = new Set<string>(snapshot.namespaces.map((n) => n.metadata.name));

  const consider = (kind: GatewayRouteKind, obj: HTTPRoute | GRPCRoute): void => {
    const routeNs = obj.metadata.namespace ?? '';
    const parentRefs = (obj.spec?.parentRefs ?? []).filter(isServiceParent);
    if (parentRefs.length === 0) return;
    clientNamespaces.add(routeNs);
    const parentServices = new Set(parentRefs.map((p) => svcKey(p.namespace ?? routeNs, p.name)));
    const resolve = (ref: BackendObjectReference, routeKind: RouteKind): BackendTarget => {
      const group = ref.group ?? '';
      const refKind = ref.kind ?? 'Service';
      const ns = ref.namespace ?? routeNs;
      const key = svcKey(ns, ref.name);
      const err = (reason: BackendFailure, message: string): BackendTarget => ({ kind: 'error', status: 500, reason, message });
      if (!CORE_GROUPS.has(group) || refKind !== 'Service') {
        return err('InvalidKind', `backend ${group === '' ? '' : group + '/'}${refKind} ${ref.name} is not a Service; Weft routes only to Services`);
      }
      if (ns !== routeNs && grantCheck && !parentServices.has(key) && !referenceGranted(grantsByNs.get(ns) ?? [], { group: GATEWAY_GROUP, kind: routeKind, namespace: routeNs }, { group: '', kind: 'Service', namespace: ns, name: ref.name })) {
        return err(
          'RefNotPermitted',
          `backend Service ${key} is in another namespace and no ReferenceGrant in ${ns} allows ${routeKind}s from ${routeNs} to reference it`,
        );
      }
      const svc = services.get(key);
      if (svc === undefined) return err('BackendNotFound', `backend Service ${key} does not exist`);
      if (ref.port === undefined) return err('BackendNotFound', `backendRef to Service ${key} needs a port`);
      // An ExternalName Service is a DNS alias: the proxy resolves the name and connects at the ref's port.
      const ext = externalNameOf(svc);
      if (ext?.ok === false) return err('BackendNotFound', `backend Service ${key} is of type ExternalName but ${ext.message}`);
      if (ext === undefined && !servicePorts(svc).some((p) => p.port === ref.port)) {
        return err('BackendNotFound', `backend Service ${key} has no port ${ref.port}`);
      }
      const retryBudget = backendPolicies.budgets.get(key);
      const accrual = failureAccrualOf(svc.metadata.annotations);
      const failureAccrual = accrual.ok ? accrual.config : undefined;
      return {
        kind: 'service', namespace: ns, name: ref.name, port: ref.port,
        ...(retryBudget !== undefined ? { retryBudget } : {}), ...(failureAccrual !== undefined ? { failureAccrual } : {}),
        ...(ext?.ok === true ? { externalName: ext.name } : {}),
      };
    };
    // An ExtensionRef names a FaultInjection in the route's own namespace (a LocalObjectReference).
    const extension: ExtensionResolver = (ref) => {
      if (!isFaultInjectionRef(ref)) {
        return { kind: 'error', message: `Weft knows no filter kind ${JSON.stringify(ref.kind)} in group ${JSON.stringify(ref.group)}; the one is ${FAULT_INJECTION_KIND} in ${POLICY_API_GROUP}` };
      }
      const key = svcKey(routeNs, ref.name);
      const obj = faults.get(key);
      if (obj === undefined) return { kind: 'error', message: `${FAULT_INJECTION_KIND} ${key} does not exist` };
      const c = compileFaultInjection(obj);
      return c.ok ? { kind: 'fault', fault: c.fault } : { kind: 'error', message: `${FAULT_INJECTION_KIND} ${key} is invalid: ${c.problems.join('; ')}` };
    };
    const result = kind === 'HTTPRoute' ? compileHttpRoute(obj as HTTPRoute, resolve, extension) : compileGrpcRoute(obj as GRPCRoute, resolve, extension);
    const parents = parentRefs.map((p) => resolveParent(p, routeNs, services));
    pending.push({ kind, obj, result, parents });
    if (result.route === undefined) return;
    // Merge ports per Service (two parentRefs to one Service with different ports).
    const perService = new Map<string, Set<number>>();
    for (const p of parents) {
      if (p.serviceKey === undefined || p.ports === undefined) continue;
      const set = perService.get(p.serviceKey) ?? new Set<number>();
      for (const port of p.ports) set.add(port);
      perService.set(p.serviceKey, set);
    }
    for (const [key, ports] of perService) {
      const list = attachments.get(key) ?? [];
      list.push({ kind, namespace: routeNs, name: obj.metadata.name, route: result.route, ports });
      attachments.set(key, list);
    }
  };
  for (const r of snapshot.grpcRoutes) consider('GRPCRoute', r);
  for (const r of snapshot.httpRoutes) consider('HTTPRoute', r);

  // Conflicted: an HTTPRoute that loses to a GRPCRoute of the same audience on every port it covers.
  const lostPorts = new Map<Attachment, Set<number>>();
  for (const [key, list] of attachments) {
    const svcNs = key.slice(0, key.indexOf('/'));
    for (const a of list) {
      if (a.kind !== 'HTTPRoute') continue;
      const audienceNs = a.namespace === svcNs ? svcNs : a.namespace;
      for (const port of a.ports) {
        const beaten = list.some((b) => b.kind === 'GRPCRoute' && b.namespace === audienceNs && b.ports.has(port));
        if (beaten) {
          const set = lostPorts.get(a) ?? new Set<number>();
          set.add(port);
          lostPorts.set(a, set);
        }
      }
    }
  }

  const statuses: RouteStatus[] = [];
  for (const p of pending) {
    const gen = p.obj.metadata.generation;
    const routeNs = p.obj.metadata.namespace ?? '';
    const parents: RouteParentStatus[] = [];
    for (const parent of p.parents) {
      let accepted: Condition;
      if (parent.error !== undefined) {
        accepted = condition('Accepted', false, 'NoMatchingParent', parent.error, gen);
      } else if (p.result.fatal !== undefined) {
        accepted = condition('Accepted', false, 'UnsupportedValue', `route is not in effect: ${p.result.fatal}`, gen);
      } else if (p.result.unsupported.length > 0) {
        accepted = condition(
          'Accepted',
          false,
          'UnsupportedValue',
          `requests matching the affected rules are answered 500: ${p.result.unsupported.join('; ')}`,
          gen,
        );
      } else {
        const attachment = (attachments.get(parent.serviceKey!) ?? []).find(
          (a) => a.kind === p.kind && a.namespace === routeNs && a.name === p.obj.metadata.name,
        );
        const lost = attachment ? lostPorts.get(attachment) : undefined;
        const covered = [...(parent.ports ?? [])];
        const lostHere = covered.filter((port) => lost?.has(port) === true);
        if (covered.length > 0 && lostHere.length === covered.length) {
          accepted = condition(
            'Accepted',
            false,
            'Conflicted',
            `a GRPCRoute attached to Service ${parent.serviceKey} port ${lostHere.join(', ')} takes precedence over this HTTPRoute`,
            gen,
          );
        } else {
          accepted = condition('Accepted', true, 'Accepted', 'route is attached to the Service', gen);
        }
      }
      const failures = p.result.refFailures;
      let resolved: Condition;
      if (failures.length === 0) {
        resolved = condition('ResolvedRefs', true, 'ResolvedRefs', 'all backendRefs are resolved', gen);
      } else {
        const reason = FAILURE_ORDER.find((r) => failures.some((f) => f.reason === r)) ?? 'BackendNotFound';
        resolved = condition(
          'ResolvedRefs',
          false,
          reason,
          `the share of these backends is answered 500: ${failures.map((f) => f.message).join('; ')}`,
          gen,
        );
      }
      parents.push({ parentRef: parent.ref, controllerName: ROUTE_CONTROLLER_NAME, conditions: [accepted, resolved] });
    }
    statuses.push({
      kind: p.kind,
      namespace: routeNs,
      name: p.obj.metadata.name,
      ...(gen !== undefined ? { generation: gen } : {}),
      parents,
    });
  }

  return { services, attachments, statuses, clientNamespaces: [...clientNamespaces].sort(), backendPolicyStatuses: backendPolicies.statuses };
}

const EMPTY_TABLE: RouteTable = buildRouteTable([]);

/** Shares one route array (and table) between views that select the same routes. */
const viewCache = new WeakMap<OutboundIndex, Map<string, { routes: readonly CompiledRoute[]; table: RouteTable }>>();

function routesFor(index: OutboundIndex, clientNs: string, svcNs: string, svcName: string, port: number): { routes: readonly CompiledRoute[]; table: RouteTable } | undefined {
  const list = index.attachments.get(svcKey(svcNs, svcName)) ?? [];
  const onPort = list.filter((a) => a.ports.has(port));
  const consumer = onPort.filter((a) => a.namespace === clientNs && clientNs !== svcNs);
  const chosen = consumer.length > 0 ? consumer : onPort.filter((a) => a.namespace === svcNs);
  if (chosen.length === 0) return undefined;
  const grpc = chosen.filter((a) => a.kind === 'GRPCRoute');
  const effective = grpc.length > 0 ? grpc : chosen;
  const audience = consumer.length > 0 ? clientNs : '*';
  const cacheKey = `${audience}|${svcNs}/${svcName}:${port}`;
  let cache = viewCache.get(index);
  if (cache === undefined) {
    cache = new Map();
    viewCache.set(index, cache);
  }
  let hit = cache.get(cacheKey);
  if (hit === undefined) {
    const routes = effective.map((a) => a.route);
    hit = { routes, table: buildRouteTable(routes) };
    cache.set(cacheKey, hit);
  }
  return hit;
}

/** The outbound policy of one client namespace for one Service port; undefined if no such port. */
export function outboundView(index: OutboundIndex, clientNs: string, svcNs: string, svcName: string, port: number): OutboundPolicy | undefined {
  const svc = index.services.get(svcKey(svcNs, svcName));
  if (svc === undefined) return undefined;
  const sp = servicePorts(svc).find((p) => p.port === port);
  if (sp === undefined) return undefined;
  const spec = svc.spec;
  const clusterIPs = (spec?.clusterIPs ?? (spec?.clusterIP !== undefined ? [spec.clusterIP] : [])).filter((ip) => ip !== '' && ip !== 'None');
  const selected = routesFor(index, clientNs, svcNs, svcName, port);
  return {
    key: outboundKey(clientNs, svcNs, svcName, port),
    clientNamespace: clientNs,
    service: { namespace: svcNs, name: svcName },
    port,
    ...(sp.name !== undefined ? { portName: sp.name } : {}),
    clusterIPs,
    protocol: protocolHint(sp.appProtocol),
    ...(sp.appProtocol !== undefined ? { appProtocol: sp.appProtocol } : {}),
    routes: selected?.routes ?? 'none',
    table: selected?.table ?? EMPTY_TABLE,
  };
}

export interface OutboundCompilation {
  readonly index: OutboundIndex;
  readonly policies: ReadonlyMap<string, OutboundPolicy>;
  readonly statuses: readonly RouteStatus[];
}

/** Every (client namespace, Service port) view of a snapshot, keyed by `outboundKey`. */
export function compileOutbound(snapshot: ClusterSnapshot, options: OutboundOptions = {}): OutboundCompilation {
  const index = indexSnapshot(snapshot, options);
  const policies = new Map<string, OutboundPolicy>();
  for (const clientNs of index.clientNamespaces) {
    for (const svc of index.services.values()) {
      const ns = svc.metadata.namespace ?? '';
      for (const p of servicePorts(svc)) {
        const view = outboundView(index, clientNs, ns, svc.metadata.name, p.port);
        if (view) policies.set(view.key, view);
      }
    }
  }
  return { index, policies, statuses: index.statuses };
}
