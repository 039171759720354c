/**
 * Merging this controller's route status into what the API server holds: the entries of other
 * controllers (other controllerNames) are kept as they are and in place; this controller's entries
 * are replaced by the desired ones; a condition keeps its lastTransitionTime while its status does
 * not change. `changed` is false when writing would change nothing, so nothing is written.
 */
import type { Condition, ParentReference, RouteParentStatus as RouteParentStatusJson } from '../../core/kube.js';
import type { RouteParentStatus } from '../../core/outbound/policy.js';

function sameParentRef(a: ParentReference, b: ParentReference): boolean {
  return (
    (a.group ?? '') === (b.group ?? '') &&
    (a.kind ?? '') === (b.kind ?? '') &&
    (a.namespace ?? '') === (b.namespace ?? '') &&
    a.name === b.name &&
    (a.sectionName ?? '') === (b.sectionName ?? '') &&
    (a.port ?? 0) === (b.port ?? 0)
  );
}

function sameCondition(a: Condition, b: Condition): boolean {
  return a.type === b.type && a.status === b.status && a.reason === b.reason && a.message === b.message && a.observedGeneration === b.observedGeneration;
}

export interface MergeResult {
  readonly parents: readonly RouteParentStatusJson[];
  readonly changed: boolean;
}

export function mergeRouteParents(
  current: readonly RouteParentStatusJson[] | undefined,
  desired: readonly RouteParentStatus[],
  controllerName: string,
  now: string,
): MergeResult {
  const existing = current ?? [];
  const mineBefore = existing.filter((p) => p.controllerName === controllerName);
  const mine: RouteParentStatusJson[] = desired.map((d) => {
    const prev = mineBefore.find((p) => sameParentRef(p.parentRef, d.parentRef));
    const conditions = d.conditions.map((c) => {
      const old = prev?.conditions?.find((x) => x.type === c.type);
      return { ...c, lastTransitionTime: old !== undefined && old.status === c.status && old.lastTransitionTime !== undefined ? old.lastTransitionTime : now };
    });
    return { parentRef: d.parentRef, controllerName, conditions };
  });
  const unchanged =
    mineBefore.length === mine.length &&
    mine.every((m, i) => {
      const b = mineBefore[i];
      if (b === undefined || !sameParentRef(b.parentRef, m.parentRef)) return false;
      const bc = b.conditions ?? [];
      const mc = m.conditions ?? [];
      return bc.length === mc.length && mc.every((c, j) => bc[j] !== undefined && sameCondition(bc[j], c));
    });
  if (unchanged) return { parents: existing, changed: false };
  const others = existing.filter((p) => p.controllerName !== controllerName);
  return { parents: [...others, ...mine], changed: true };
}

/**
 * Merging desired conditions (GatewayClass, Gateway, a Gateway listener) into the current ones: each
 * keeps its lastTransitionTime while its status does not change; `changed` is false when the desired
 * set equals the current one (types, statuses, reasons, messages, generations, order).
 */
export function mergeConditions(current: readonly Condition[] | undefined, desired: readonly Condition[], now: string): { readonly conditions: readonly Condition[]; readonly changed: boolean } {
  const before = current ?? [];
  const conditions = desired.map((c) => {
    const old = before.find((x) => x.type === c.type);
    return { ...c, lastTransitionTime: old !== undefined && old.status === c.status && old.lastTransitionTime !== undefined ? old.lastTransitionTime : now };
  });
  const changed = before.length !== conditions.length || conditions.some((c, i) => before[i] === undefined || !sameCondition(before[i], c));
  return { conditions, changed };
}
