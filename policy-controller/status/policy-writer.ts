/**
 * Writes XBackendTrafficPolicy status: `status.ancestors[]` entries with controllerName
 * weft.dev/policy-controller, one per target Service (core/outbound/backend-traffic.ts decides them).
 *
 * Flow as for routes (./writer.ts): the index names the policies whose status may have changed after
 * each flush; while this controller holds the leader Lease it merges its entries into the current
 * status (other controllers' entries kept, lastTransitionTime kept while a condition's status holds)
 * and PATCHes the status subresource with the policy's resourceVersion, only when something changed.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import type { Condition, ParentReference, XBackendTrafficPolicy } from '../../core/kube.js';
import { kubeRequest, KubeHttpError } from '../k8s/http.js';
import { objectPath, resourceOf } from '../k8s/resources.js';
import type { PolicyIndex } from '../index/index.js';
import { mergeRouteParents } from './merge.js';

interface AncestorJson {
  readonly ancestorRef: ParentReference;
  readonly controllerName: string;
  readonly conditions?: readonly Condition[];
}

/** Merges this controller's ancestor entries into `current` (the route merge, keyed by ancestorRef). */
export function mergeAncestors(
  current: readonly AncestorJson[] | undefined,
  desired: readonly { readonly ancestorRef: ParentReference; readonly conditions: readonly Condition[] }[],
  controllerName: string,
  now: string,
): { readonly ancestors: readonly AncestorJson[]; readonly changed: boolean } {
  const m = mergeRouteParents(
    (current ?? []).map((a) => ({ parentRef: a.ancestorRef, controllerName: a.controllerName, ...(a.conditions !== undefined ? { conditions: a.conditions } : {}) })),
    desired.map((d) => ({ parentRef: d.ancestorRef, controllerName, conditions: d.conditions })),
    controllerName,
    now,
  );
  return {
    ancestors: m.parents.map((p) => ({ ancestorRef: p.parentRef, controllerName: p.controllerName, ...(p.conditions !== undefined ? { conditions: p.conditions } : {}) })),
    changed: m.changed,
  };
}

export interface PolicyStatusWriterOptions {
  readonly kc: KubeConfig;
  readonly index: PolicyIndex;
  readonly isLeader: () => boolean;
  readonly log: Logger;
  readonly registry: Registry;
}

export class BackendPolicyStatusWriter {
  private readonly queue = new Set<string>();
  private running = false;
  private stopped = false;
  private readonly writes: Counter<'result'>;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: PolicyStatusWriterOptions) {
    this.writes = new Counter({ name: 'weft_backend_policy_status_writes_total', help: 'XBackendTrafficPolicy status writes, by result', labelNames: ['result'], registers: [o.registry] });
    this.unsubscribe = o.index.onBackendPolicyStatus((ids) => this.enqueue(ids));
  }

  enqueue(ids: Iterable<string>): void {
    for (const id of ids) this.queue.add(id);
    void this.pump();
  }

  /** Queues every XBackendTrafficPolicy (after becoming leader). */
  enqueueAll(): void {
    this.enqueue(this.o.index.list('XBackendTrafficPolicy').map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  /** One write at a time: these policies are few. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (!this.stopped && this.queue.size > 0 && this.o.isLeader()) {
        const id = this.queue.values().next().value as string;
        this.queue.delete(id);
        try {
          await this.write(id);
        } catch (err) {
          if (err instanceof KubeHttpError && (err.statusCode === 409 || err.statusCode === 404)) {
            this.writes.inc({ result: err.statusCode === 409 ? 'conflict' : 'gone' });
            continue;
          }
          this.writes.inc({ result: 'error' });
          this.o.log.warn({ policy: id, err: (err as Error).message }, 'writing XBackendTrafficPolicy status failed; retrying');
          setTimeout(() => this.enqueue([id]), 2000).unref();
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async write(id: string): Promise<void> {
    const [ns, name] = id.split('/') as [string, string];
    const policy = this.o.index.get('XBackendTrafficPolicy', ns, name) as XBackendTrafficPolicy | undefined;
    const desired = this.o.index.backendPolicyStatus(ns, name);
    if (policy === undefined || desired === undefined) return;
    const current = (policy.status as { ancestors?: readonly AncestorJson[] } | undefined)?.ancestors;
    const merged = mergeAncestors(current, desired.ancestors, ROUTE_CONTROLLER_NAME, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
    if (!merged.changed) return;
    await kubeRequest(
      this.o.kc,
      'PATCH',
      `${objectPath(resourceOf('XBackendTrafficPolicy'), ns, name)}/status`,
      { metadata: { resourceVersion: policy.metadata.resourceVersion }, status: { ancestors: merged.ancestors } },
      'application/merge-patch+json',
    );
    this.writes.inc({ result: 'written' });
    this.o.log.debug({ policy: id }, 'XBackendTrafficPolicy status written');
  }
}
