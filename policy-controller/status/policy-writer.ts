/**
 * Writes XBackendTrafficPolicy status: `status.ancestors[]` entries with controllerName
 * weft.dev/policy-controller, one per target Service (core/outbound/backend-traffic.ts decides them).
 *
 * The write loop is ./policy-queue.ts's; this writer merges its entries into the current status
 * (other controllers' entries kept, lastTransitionTime kept while a condition's status holds) and
 * writes only when something changed.
 */
import { ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import type { Condition, ParentReference, XBackendTrafficPolicy } from '../../core/kube.js';
import { mergeRouteParents } from './merge.js';
import { PolicyStatusQueue, type PolicyStatusWriterOptions } from './policy-queue.js';

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

export type { PolicyStatusWriterOptions } from './policy-queue.js';

export class BackendPolicyStatusWriter extends PolicyStatusQueue {
  constructor(o: PolicyStatusWriterOptions) {
    super(o, 'XBackendTrafficPolicy', 'weft_backend_policy_status_writes_total', (f) => o.index.onBackendPolicyStatus(f));
  }

  protected statusFor(ns: string, name: string, now: string): { policy: XBackendTrafficPolicy; status: object } | undefined {
    const policy = this.o.index.get('XBackendTrafficPolicy', ns, name) as XBackendTrafficPolicy | undefined;
    const desired = this.o.index.backendPolicyStatus(ns, name);
    if (policy === undefined || desired === undefined) return undefined;
    const current = (policy.status as { ancestors?: readonly AncestorJson[] } | undefined)?.ancestors;
    const merged = mergeAncestors(current, desired.ancestors, ROUTE_CONTROLLER_NAME, now);
    return merged.changed ? { policy, status: { ancestors: merged.ancestors } } : undefined;
  }
}
