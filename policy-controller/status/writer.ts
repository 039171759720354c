/**
 * Writes route status (status.parents[] entries with controllerName weft.dev/policy-controller)
 * for HTTPRoutes and GRPCRoutes with Service or Server parents.
 *
 * Flow: the index names the routes whose status may have changed after each flush; the writer
 * queues them (deduplicated), and while it holds the leader Lease it merges the desired entries
 * into the route's current status (./merge.ts) and PATCHes the status subresource only when
 * something changed. The patch carries the route's resourceVersion: a 409 means the route moved
 * on, and the watch event for the newer version queues it again. On becoming leader every route
 * is queued, so a takeover repairs whatever the previous leader left.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import type { GRPCRoute, HTTPRoute } from '../../core/kube.js';
import { kubeRequest, KubeHttpError } from '../k8s/http.js';
import { objectPath, resourceOf } from '../k8s/resources.js';
import { routeId, type PolicyIndex, type RouteId, type RouteKindName } from '../index/index.js';
import { isServerParent, isServiceParentRef } from '../index/server-parents.js';
import { mergeRouteParents } from './merge.js';

export interface StatusWriterOptions {
  readonly kc: KubeConfig;
  readonly index: PolicyIndex;
  readonly isLeader: () => boolean;
  readonly log: Logger;
  readonly registry: Registry;
  readonly concurrency?: number;
}

export class RouteStatusWriter {
  private readonly queue = new Set<RouteId>();
  private running = 0;
  private stopped = false;
  private readonly writes: Counter<'result'>;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: StatusWriterOptions) {
    this.writes = new Counter({ name: 'weft_route_status_writes_total', help: 'Route status writes, by result', labelNames: ['result'], registers: [o.registry] });
    this.unsubscribe = o.index.onRouteStatus((ids) => this.enqueue(ids));
  }

  enqueue(ids: Iterable<RouteId>): void {
    for (const id of ids) this.queue.add(id);
    this.pump();
  }

  /** Queues every route with a Service or Server parent (after becoming leader). */
  enqueueAll(): void {
    const ids: RouteId[] = [];
    for (const kind of ['HTTPRoute', 'GRPCRoute'] as const) {
      for (const r of this.o.index.list(kind)) {
        if ((r.spec?.parentRefs ?? []).some((p) => isServiceParentRef(p) || isServerParent(p))) ids.push(routeId(kind, r.metadata.namespace ?? '', r.metadata.name));
      }
    }
    this.enqueue(ids);
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  /** Routes waiting to be written. */
  get pending(): number {
    return this.queue.size;
  }

  private pump(): void {
    const limit = this.o.concurrency ?? 4;
    while (!this.stopped && this.running < limit && this.queue.size > 0 && this.o.isLeader()) {
      const id = this.queue.values().next().value as RouteId;
      this.queue.delete(id);
      this.running++;
      this.write(id)
        .catch((err: unknown) => {
          const e = err as Error;
          if (err instanceof KubeHttpError && err.statusCode === 409) {
            this.writes.inc({ result: 'conflict' });
            return;
          }
          if (err instanceof KubeHttpError && err.statusCode === 404) return;
          this.writes.inc({ result: 'error' });
          this.o.log.warn({ route: id, err: e.message }, 'writing route status failed; retrying');
          setTimeout(() => this.enqueue([id]), 2000).unref();
        })
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }

  private async write(id: RouteId): Promise<void> {
    const [kind, ns, name] = id.split('/') as [RouteKindName, string, string];
    const route = this.o.index.get(kind, ns, name) as HTTPRoute | GRPCRoute | undefined;
    const desired = this.o.index.routeStatus(id);
    if (route === undefined || desired === undefined) return;
    const merged = mergeRouteParents(route.status?.parents, desired, ROUTE_CONTROLLER_NAME, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
    if (!merged.changed) return;
    const path = `${objectPath(resourceOf(kind), ns, name)}/status`;
    await kubeRequest(
      this.o.kc,
      'PATCH',
      path,
      { metadata: { resourceVersion: route.metadata.resourceVersion }, status: { parents: merged.parents } },
      'application/merge-patch+json',
    );
    this.writes.inc({ result: 'written' });
    this.o.log.debug({ route: id }, 'route status written');
  }
}
