/**
 * Writes the gateway controller's status: GatewayClasses with Weft's controllerName, the Gateways of
 * an accepted one (conditions and listeners), and the status.parents[] entries of HTTPRoutes,
 * GRPCRoutes and TLSRoutes for their parentRefs to those Gateways (controllerName weft.dev/gateway-controller).
 * core/gateway/status.ts decides all of it from the index's objects.
 *
 * Flow: every watch event of a kind the decision reads schedules one pass (debounced); a pass computes
 * every status and, while this controller holds the leader Lease, merges each into the object's current
 * status (./merge.ts: lastTransitionTime kept while a condition's status holds; other controllers'
 * route entries kept) and PATCHes the status subresource with the object's resourceVersion, only when
 * something changed. A 409 means the object moved on: its watch event schedules another pass. Other
 * failures schedule a pass after 2 s. One pass runs at a time; events during a pass schedule the next.
 *
 * What serves a Gateway: with `workloads` (the controller), the pass server-side applies each served
 * Gateway's ServiceAccount, Deployment and Service (./gateway-workload.ts) and writes status.addresses
 * and Programmed from what it observes (Programmed=True once addressed and a gateway pod is
 * available). Without it, every Gateway is Programmed=False (Pending, GATEWAY_UNSERVED). HTTP and
 * HTTPS listeners are accepted (HTTPS certificateRefs resolved against the watched kubernetes.io/tls
 * Secrets, key pairs checked by ./key-pair.ts), and TLS ones in Passthrough mode with TLSRoutes. See
 * docs/gateway.md.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { GATEWAY_CONTROLLER_NAME } from '../../core/contract.js';
import type { GatewayRuntime } from '../../core/gateway/evaluate.js';
import { GATEWAY_SERVED_PROTOCOLS, GATEWAY_SERVED_ROUTE_KINDS } from '../../core/gateway/served.js';
import { computeGatewayStatuses, type GatewayStatuses, type GatewayStatusOptions } from '../../core/gateway/status.js';
import type { GatewayStatusJson, ListenerStatusJson, TLSRoute } from '../../core/gateway/types.js';
import { backendTlsAncestors, backendTlsForRoutes, evaluateBackendTls, policyAncestors, type BackendTlsEvaluation } from '../../core/gateway/backend-tls.js';
import { viewRoutes } from '../../core/gateway/view.js';
import { gatewayClassSupportedFeatures } from '../../core/gateway/features.js';
import type { Condition, GRPCRoute, HTTPRoute, KubeObject } from '../../core/kube.js';
import { kubeRequest, KubeHttpError } from '../k8s/http.js';
import { objectPath, resourceOf } from '../k8s/resources.js';
import type { PolicyIndex } from '../index/index.js';
import type { ResourceKind } from '../index/kinds.js';
import { checkCaBundle, checkKeyPair } from './key-pair.js';
import { mergeConditions, mergeRouteParents } from './merge.js';
import type { GatewayWorkloads } from './gateway-workload.js';

/** The kinds whose changes can change gateway status. */
export const GATEWAY_INPUT_KINDS: ReadonlySet<ResourceKind> = new Set<ResourceKind>(['GatewayClass', 'Gateway', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'Service', 'ReferenceGrant', 'Namespace', 'Secret', 'BackendTLSPolicy', 'ConfigMap', 'ListenerSet']);

/** The listener protocols this slice evaluates (core/gateway/served.ts, which the CLI reads too). */
export const GATEWAY_PROTOCOLS: ReadonlySet<string> = GATEWAY_SERVED_PROTOCOLS;

/** The route kinds `weft gateway` serves (core/gateway/served.ts). */
export const GATEWAY_ROUTE_KINDS: ReadonlySet<string> = GATEWAY_SERVED_ROUTE_KINDS;

export const GATEWAY_UNSERVED =
  'this controller deploys no gateway proxies (it runs without gateway workloads): nothing serves this Gateway; see docs/gateway.md';

const unservedRuntime = (): GatewayRuntime => ({ ready: false, unserved: GATEWAY_UNSERVED });

export interface GatewayStatusWriterOptions {
  readonly kc: KubeConfig;
  readonly index: PolicyIndex;
  readonly isLeader: () => boolean;
  readonly log: Logger;
  readonly registry: Registry;
  /** Debounce between an event and the pass (default 100 ms). */
  readonly delayMs?: number;
  /**
   * Deploys and observes the gateway proxies. Absent (tests of the status alone): nothing serves a
   * Gateway, which its status says (Programmed=False Pending, GATEWAY_UNSERVED).
   */
  readonly workloads?: GatewayWorkloads;
}

/**
 * Every gateway decision (status and the proxies' views) from the index's objects; both the writer and
 * the views use it. Each view also carries the BackendTLSPolicy decisions of the Service ports its
 * routes send to (core/gateway/backend-tls.ts); `backendTls` is the evaluation of every policy.
 */
export function computeIndexGateways(ix: PolicyIndex, runtime: GatewayStatusOptions['runtime']): GatewayStatuses & { readonly backendTls: BackendTlsEvaluation } {
  const services = ix.list('Service');
  const s = computeGatewayStatuses({
    gatewayClasses: ix.list('GatewayClass'), gateways: ix.list('Gateway'), httpRoutes: ix.list('HTTPRoute'), grpcRoutes: ix.list('GRPCRoute'), tlsRoutes: ix.list('TLSRoute'),
    services, referenceGrants: ix.list('ReferenceGrant'), namespaces: ix.list('Namespace'), listenerSets: ix.list('ListenerSet'),
  }, { controllerName: GATEWAY_CONTROLLER_NAME, secrets: ix.list('Secret'), checkKeyPair, protocols: GATEWAY_PROTOCOLS, routeKinds: GATEWAY_ROUTE_KINDS, runtime });
  const backendTls = evaluateBackendTls(ix.list('BackendTLSPolicy'), services, ix.list('ConfigMap'), checkCaBundle);
  if (backendTls.byTarget.size === 0) return { ...s, backendTls };
  const views = new Map([...s.views].map(([k, v]) => {
    const tls = backendTlsForRoutes(backendTls, viewRoutes(v), services);
    return [k, tls.size === 0 ? v : { ...v, backendTls: tls }];
  }));
  return { ...s, views, backendTls };
}

/** The merged Gateway status and whether it differs from `current`. */
export function mergeGatewayStatus(current: GatewayStatusJson | undefined, desired: GatewayStatusJson, now: string): { readonly status: GatewayStatusJson; readonly changed: boolean } {
  const conditions = withForeignConditions(current?.conditions, mergeConditions(current?.conditions, desired.conditions ?? [], now));
  let changed = conditions.changed;
  const listeners: ListenerStatusJson[] = (desired.listeners ?? []).map((l, i) => {
    const before = current?.listeners?.find((x) => x.name === l.name);
    const merged = withForeignConditions(before?.conditions, mergeConditions(before?.conditions, l.conditions, now));
    if (merged.changed || before === undefined || current?.listeners?.[i]?.name !== l.name || before.attachedRoutes !== l.attachedRoutes
      || JSON.stringify(before.supportedKinds) !== JSON.stringify(l.supportedKinds)) changed = true;
    return { ...l, conditions: merged.conditions };
  });
  if ((current?.listeners?.length ?? 0) !== listeners.length) changed = true;
  if (JSON.stringify(current?.addresses ?? []) !== JSON.stringify(desired.addresses ?? [])) changed = true;
  if (desired.attachedListenerSets !== undefined && current?.attachedListenerSets !== desired.attachedListenerSets) changed = true;
  return {
    status: {
      ...(desired.addresses !== undefined ? { addresses: desired.addresses } : {}), conditions: conditions.conditions, listeners,
      ...(desired.attachedListenerSets !== undefined ? { attachedListenerSets: desired.attachedListenerSets } : {}),
    },
    changed,
  };
}

/**
 * Conditions another controller put on an object are not Weft's to remove: types with a domain prefix
 * (`example.com/Ready`; the Gateway API's own types have none) are kept as they are, after Weft's.
 */
export function withForeignConditions(current: readonly Condition[] | undefined, merged: { readonly conditions: readonly Condition[]; readonly changed: boolean }): { readonly conditions: readonly Condition[]; readonly changed: boolean } {
  const foreign = (current ?? []).filter((c) => c.type.includes('/') && !merged.conditions.some((m) => m.type === c.type));
  if (foreign.length === 0) return merged;
  const conditions = [...merged.conditions, ...foreign];
  const before = current ?? [];
  const changed = before.length !== conditions.length || conditions.some((c) => !before.some((b) => b.type === c.type && b.status === c.status && b.reason === c.reason && b.message === c.message && b.observedGeneration === c.observedGeneration));
  return { conditions, changed };
}

export class GatewayStatusWriter {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly writes: Counter<'kind' | 'result'>;

  constructor(private readonly o: GatewayStatusWriterOptions) {
    this.writes = new Counter({ name: 'weft_gateway_status_writes_total', help: 'GatewayClass, Gateway and route (Gateway parent) status writes, by kind and result', labelNames: ['kind', 'result'], registers: [o.registry] });
  }

  /** A watch event: schedules a pass when the kind is one the decision reads. */
  changed(kind: ResourceKind): void {
    if (GATEWAY_INPUT_KINDS.has(kind)) this.schedule(this.o.delayMs ?? 100);
  }

  /** After becoming leader: a pass repairs whatever the previous leader left. */
  enqueueAll(): void {
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = true;
      this.pass()
        .catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'gateway status pass failed'))
        .finally(() => {
          this.running = false;
          if (this.again) {
            this.again = false;
            this.schedule(this.o.delayMs ?? 100);
          }
        });
    }, ms);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    if (!this.o.isLeader()) return;
    const ix = this.o.index;
    const w = this.o.workloads;
    const runtime = (ns: string, name: string) => (w === undefined ? unservedRuntime() : w.runtime(ns, name));
    let s = computeIndexGateways(ix, runtime);
    if (w !== undefined) {
      if (await w.sync(s.served)) s = computeIndexGateways(ix, runtime);
      // Deployments are not watched: while a gateway is not ready or addressed, look again soon.
      if (w.pending) {
        const t = setTimeout(() => this.schedule(0), 2000);
        t.unref();
      }
    }
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const jobs: Promise<void>[] = [];

    for (const [name, desired] of s.classes) {
      const gc = ix.get('GatewayClass', '', name);
      if (gc === undefined) continue;
      const m = withForeignConditions(gc.status?.conditions, mergeConditions(gc.status?.conditions, desired, now));
      // An accepted class lists what Weft's gateway implements (core/gateway/features.ts); a refused one, nothing.
      const accepted = desired.some((c) => c.type === 'Accepted' && c.status === 'True');
      const features = accepted ? gatewayClassSupportedFeatures() : [];
      const current = (gc.status as { supportedFeatures?: readonly { name: string }[] } | undefined)?.supportedFeatures ?? [];
      const featuresChanged = current.map((f) => f.name).join(',') !== features.map((f) => f.name).join(',');
      if (m.changed || featuresChanged) jobs.push(this.patch('GatewayClass', gc, { conditions: m.conditions, supportedFeatures: features.length > 0 ? features : null }));
    }
    for (const [key, desired] of s.gateways) {
      const [ns, name] = key.split('/') as [string, string];
      const gw = ix.get('Gateway', ns, name);
      if (gw === undefined) continue;
      const m = mergeGatewayStatus(gw.status, desired, now);
      // addresses: null removes an address a previous state wrote (merge patch).
      if (m.changed) {
        jobs.push(this.patch('Gateway', gw, {
          addresses: m.status.addresses ?? null, conditions: m.status.conditions, listeners: m.status.listeners, attachedListenerSets: m.status.attachedListenerSets ?? null,
        }));
      }
    }
    // ListenerSets referring to those Gateways: the same shape as a Gateway's conditions and listeners.
    for (const [key, desired] of s.listenerSets) {
      const [ns, name] = key.split('/') as [string, string];
      const ls = ix.get('ListenerSet', ns, name);
      if (ls === undefined) continue;
      const m = mergeGatewayStatus(ls.status, desired, now);
      if (m.changed) jobs.push(this.patch('ListenerSet', ls, { conditions: m.status.conditions, listeners: m.status.listeners }));
    }
    // ListenerSets that left our Gateways for none: what we wrote is cleared (null removes it in a merge patch).
    for (const key of s.staleListenerSets) {
      const [ns, name] = key.split('/') as [string, string];
      const ls = ix.get('ListenerSet', ns, name);
      if (ls !== undefined) jobs.push(this.patch('ListenerSet', ls, { conditions: null, listeners: null }));
    }
    // Every route: one with entries of ours that no longer refers to our Gateways loses them.
    for (const kind of ['HTTPRoute', 'GRPCRoute', 'TLSRoute'] as const) {
      for (const r of ix.list(kind) as (HTTPRoute | GRPCRoute | TLSRoute)[]) {
        const desired = s.routes.get(`${kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`) ?? [];
        if (desired.length === 0 && !(r.status?.parents ?? []).some((p) => p.controllerName === GATEWAY_CONTROLLER_NAME)) continue;
        const m = mergeRouteParents(r.status?.parents, desired, GATEWAY_CONTROLLER_NAME, now);
        if (m.changed) jobs.push(this.patch(kind, r, { parents: m.parents }));
      }
    }
    // BackendTLSPolicies: one ancestor entry per Gateway whose routes send to a target of theirs.
    const routed = new Map([...s.views].map(([k, v]) => [k, { namespace: v.namespace, name: v.name, routes: viewRoutes(v) }]));
    const services = ix.list('Service');
    for (const [key, e] of s.backendTls.policies) {
      const [ns, name] = key.split('/') as [string, string];
      const p = ix.get('BackendTLSPolicy', ns, name);
      if (p === undefined) continue;
      const current = p.status?.ancestors ?? [];
      const ancestors = policyAncestors(p, routed, services);
      if (ancestors.length === 0 && !current.some((a) => a.controllerName === GATEWAY_CONTROLLER_NAME)) continue;
      const desired = backendTlsAncestors(p, e, ancestors, GATEWAY_CONTROLLER_NAME);
      let changed = desired.length !== current.length;
      const merged = desired.map((a) => {
        if (a.controllerName !== GATEWAY_CONTROLLER_NAME) return a;
        const before = current.find((c) => c.controllerName === GATEWAY_CONTROLLER_NAME && c.ancestorRef.name === a.ancestorRef.name && c.ancestorRef.namespace === a.ancestorRef.namespace);
        if (before === undefined) changed = true;
        const m = mergeConditions(before?.conditions, a.conditions, now);
        if (m.changed) changed = true;
        return { ...a, conditions: m.conditions };
      });
      if (changed) jobs.push(this.patch('BackendTLSPolicy', p, { ancestors: merged }));
    }
    await Promise.all(jobs);
  }

  private async patch(kind: ResourceKind, obj: KubeObject, status: Record<string, unknown>): Promise<void> {
    const path = `${objectPath(resourceOf(kind), obj.metadata.namespace, obj.metadata.name)}/status`;
    try {
      await kubeRequest(this.o.kc, 'PATCH', path, { metadata: { resourceVersion: obj.metadata.resourceVersion }, status }, 'application/merge-patch+json');
      this.writes.inc({ kind, result: 'written' });
    } catch (err) {
      if (err instanceof KubeHttpError && (err.statusCode === 409 || err.statusCode === 404)) {
        this.writes.inc({ kind, result: err.statusCode === 409 ? 'conflict' : 'gone' });
        return;
      }
      this.writes.inc({ kind, result: 'error' });
      this.o.log.warn({ kind, namespace: obj.metadata.namespace, name: obj.metadata.name, err: (err as Error).message }, 'writing gateway status failed; retrying');
      const t = setTimeout(() => this.schedule(0), 2000);
      t.unref();
    }
  }
}
