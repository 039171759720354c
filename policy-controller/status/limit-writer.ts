/**
 * Writes InboundLimitPolicy status: one condition, `Accepted`, True or False with the reason core
 * decided (core/inbound/limits.ts selectInboundLimits: Invalid naming the bad field, Conflicted,
 * TargetNotFound). Flow as XBackendTrafficPolicy status (./policy-writer.ts): the index names the
 * policies whose status may have changed after each flush; while this controller holds the leader
 * Lease it PATCHes the status subresource with the policy's resourceVersion, only when the condition
 * changed, keeping lastTransitionTime while its status holds.
 */
import { Counter } from 'prom-client';
import type { Condition } from '../../core/kube.js';
import type { InboundLimitPolicy } from '../../core/kube-policy.js';
import type { LimitPolicyStatus } from '../../core/inbound/limits.js';
import { kubeRequest, KubeHttpError } from '../k8s/http.js';
import { objectPath, resourceOf } from '../k8s/resources.js';
import type { PolicyStatusWriterOptions } from './policy-writer.js';

/** The conditions to write, or undefined when `current` already says the same. */
export function limitConditions(current: readonly Condition[] | undefined, desired: LimitPolicyStatus, generation: number | undefined, now: string): Condition[] | undefined {
  const status = desired.accepted ? 'True' : 'False';
  const old = (current ?? []).find((c) => c.type === 'Accepted');
  if (old !== undefined && old.status === status && old.reason === desired.reason && old.message === desired.message && old['observedGeneration'] === generation) return undefined;
  const accepted: Condition = {
    type: 'Accepted',
    status,
    reason: desired.reason,
    message: desired.message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    lastTransitionTime: old !== undefined && old.status === status && old.lastTransitionTime !== undefined ? old.lastTransitionTime : now,
  };
  return [...(current ?? []).filter((c) => c.type !== 'Accepted'), accepted];
}

export class LimitPolicyStatusWriter {
  private readonly queue = new Set<string>();
  private running = false;
  private stopped = false;
  private readonly writes: Counter<'result'>;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: PolicyStatusWriterOptions) {
    this.writes = new Counter({ name: 'weft_limit_policy_status_writes_total', help: 'InboundLimitPolicy status writes, by result', labelNames: ['result'], registers: [o.registry] });
    this.unsubscribe = o.index.onLimitPolicyStatus((ids) => this.enqueue(ids));
  }

  enqueue(ids: Iterable<string>): void {
    for (const id of ids) this.queue.add(id);
    void this.pump();
  }

  /** Queues every InboundLimitPolicy (after becoming leader). */
  enqueueAll(): void {
    this.enqueue(this.o.index.list('InboundLimitPolicy').map((p) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

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
          this.o.log.warn({ policy: id, err: (err as Error).message }, 'writing InboundLimitPolicy status failed; retrying');
          setTimeout(() => this.enqueue([id]), 2000).unref();
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async write(id: string): Promise<void> {
    const [ns, name] = id.split('/') as [string, string];
    const policy = this.o.index.get('InboundLimitPolicy', ns, name) as InboundLimitPolicy | undefined;
    const desired = this.o.index.limitPolicyStatus(ns, name);
    if (policy === undefined || desired === undefined) return;
    const current = (policy.status as { conditions?: readonly Condition[] } | undefined)?.conditions;
    const conditions = limitConditions(current, desired, policy.metadata.generation, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'));
    if (conditions === undefined) return;
    await kubeRequest(
      this.o.kc,
      'PATCH',
      `${objectPath(resourceOf('InboundLimitPolicy'), ns, name)}/status`,
      { metadata: { resourceVersion: policy.metadata.resourceVersion }, status: { conditions } },
      'application/merge-patch+json',
    );
    this.writes.inc({ result: 'written' });
    this.o.log.debug({ policy: id }, 'InboundLimitPolicy status written');
  }
}
