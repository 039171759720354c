/**
 * Writes InboundLimitPolicy status: one condition, `Accepted`, True or False with the reason core
 * decided (core/inbound/limits.ts selectInboundLimits: Invalid naming the bad field, Conflicted,
 * TargetNotFound). The write loop is ./policy-queue.ts's, shared with XBackendTrafficPolicy status;
 * this writer writes only when the condition changed, keeping lastTransitionTime while its status
 * holds.
 */
import type { Condition } from '../../core/kube.js';
import type { InboundLimitPolicy } from '../../core/kube-policy.js';
import type { LimitPolicyStatus } from '../../core/inbound/limits.js';
import { PolicyStatusQueue, type PolicyStatusWriterOptions } from './policy-queue.js';

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

export class LimitPolicyStatusWriter extends PolicyStatusQueue {
  constructor(o: PolicyStatusWriterOptions) {
    super(o, 'InboundLimitPolicy', 'weft_limit_policy_status_writes_total', (f) => o.index.onLimitPolicyStatus(f));
  }

  protected statusFor(ns: string, name: string, now: string): { policy: InboundLimitPolicy; status: object } | undefined {
    const policy = this.o.index.get('InboundLimitPolicy', ns, name) as InboundLimitPolicy | undefined;
    const desired = this.o.index.limitPolicyStatus(ns, name);
    if (policy === undefined || desired === undefined) return undefined;
    const current = (policy.status as { conditions?: readonly Condition[] } | undefined)?.conditions;
    const conditions = limitConditions(current, desired, policy.metadata.generation, now);
    return conditions === undefined ? undefined : { policy, status: { conditions } };
  }
}
