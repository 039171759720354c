/**
 * XBackendTrafficPolicy (Gateway API experimental channel) -> the retry budget of each Service it
 * targets, and the policy's status. Pure function of the policies; the outbound compiler attaches a
 * Service's budget to every backendRef that resolves to it, so the client proxies enforce it.
 *
 * Model: Policy -targetRefs-> Service (same namespace, group "" and kind Service). Only
 * `retryConstraint` is implemented; a policy using another field (sessionPersistence) is not
 * Accepted and applies nothing. Two policies targeting one Service: the oldest (creationTimestamp,
 * then name) applies, the others are Conflicted for that Service (GEP-713).
 *
 * Status: one ancestor entry per target Service, with Accepted True (Accepted) or False (Invalid,
 * Conflicted, TargetNotFound), as upstream's PolicyAncestorStatus shapes it.
 */
import type { Condition, XBackendTrafficPolicy } from '../kube.js';
import { DEFAULT_RETRY_BUDGET } from '../retry-budget.js';
import type { RetryBudgetConfig } from '../retry-budget.js';
import { parseDuration } from '../routes/compile.js';

export interface PolicyAncestorStatus {
  readonly ancestorRef: { readonly group: ''; readonly kind: 'Service'; readonly namespace: string; readonly name: string };
  readonly conditions: readonly Condition[];
}

export interface BackendPolicyStatus {
  readonly namespace: string;
  readonly name: string;
  readonly generation?: number;
  readonly ancestors: readonly PolicyAncestorStatus[];
}

export interface BackendPolicies {
  /** Retry budget per Service, keyed `namespace/name`. */
  readonly budgets: ReadonlyMap<string, RetryBudgetConfig>;
  readonly statuses: readonly BackendPolicyStatus[];
}

const SPEC_FIELDS = new Set(['targetRefs', 'retryConstraint']);
const HOUR_MS = 3_600_000;

/** retryConstraint with the CRD's defaults applied, or the problems found (each names its field). */
export function compileRetryConstraint(rc: unknown): { ok: true; config: RetryBudgetConfig } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  if (rc === undefined) return { ok: true, config: DEFAULT_RETRY_BUDGET };
  if (typeof rc !== 'object' || rc === null || Array.isArray(rc)) return { ok: false, problems: ['spec.retryConstraint must be an object'] };
  const r = rc as Record<string, unknown>;
  for (const k of Object.keys(r)) if (k !== 'budget' && k !== 'minRetryRate') problems.push(`spec.retryConstraint.${k} is not supported`);
  const budget = (r.budget ?? {}) as Record<string, unknown>;
  const min = (r.minRetryRate ?? {}) as Record<string, unknown>;
  const percent = budget.percent ?? DEFAULT_RETRY_BUDGET.percent;
  if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 100) {
    problems.push(`spec.retryConstraint.budget.percent ${JSON.stringify(budget.percent)} must be an integer from 0 to 100`);
  }
  const duration = (v: unknown, field: string, fallback: number, lo: number, hi: number): number => {
    if (v === undefined) return fallback;
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) problems.push(`${field} ${JSON.stringify(v)} is not a duration`);
    else if (ms < lo || ms > hi) problems.push(`${field} ${JSON.stringify(v)} must be from 1s to 1h`);
    return ms ?? fallback;
  };
  const intervalMs = duration(budget.interval, 'spec.retryConstraint.budget.interval', DEFAULT_RETRY_BUDGET.intervalMs, 1000, HOUR_MS);
  const count = min.count ?? DEFAULT_RETRY_BUDGET.minRetries;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) {
    problems.push(`spec.retryConstraint.minRetryRate.count ${JSON.stringify(min.count)} must be a non-negative integer`);
  }
  const minIntervalMs = duration(min.interval, 'spec.retryConstraint.minRetryRate.interval', DEFAULT_RETRY_BUDGET.minIntervalMs, 1000, HOUR_MS);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, config: { percent: percent as number, intervalMs, minRetries: count as number, minIntervalMs } };
}

function createdAt(p: XBackendTrafficPolicy): number {
  const t = Date.parse(p.metadata.creationTimestamp ?? '');
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

function cond(ok: boolean, reason: string, message: string, generation: number | undefined): Condition {
  return { type: 'Accepted', status: ok ? 'True' : 'False', reason, message, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}

/**
 * Compiles every policy against the Services that exist (`serviceKeys`, `namespace/name`). Never
 * throws; a bad policy applies nothing and says why in its status.
 */
export function compileBackendPolicies(policies: readonly XBackendTrafficPolicy[], serviceKeys: ReadonlySet<string>): BackendPolicies {
  const ordered = [...policies].sort((a, b) => {
    const ta = createdAt(a);
    const tb = createdAt(b);
    if (ta !== tb) return ta < tb ? -1 : 1;
    const ka = `${a.metadata.namespace ?? ''}/${a.metadata.name}`;
    const kb = `${b.metadata.namespace ?? ''}/${b.metadata.name}`;
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
  const budgets = new Map<string, RetryBudgetConfig>();
  const owner = new Map<string, string>();
  const statuses: BackendPolicyStatus[] = [];
  for (const p of ordered) {
    const ns = p.metadata.namespace ?? '';
    const gen = p.metadata.generation;
    const spec = (p.spec ?? {}) as Record<string, unknown>;
    const problems: string[] = [];
    for (const k of Object.keys(spec)) if (!SPEC_FIELDS.has(k)) problems.push(`spec.${k} is not supported by Weft`);
    const compiled = compileRetryConstraint(spec.retryConstraint);
    if (!compiled.ok) problems.push(...compiled.problems);
    const ancestors: PolicyAncestorStatus[] = [];
    const targets = Array.isArray(p.spec?.targetRefs) ? p.spec.targetRefs : [];
    for (const t of targets) {
      const ancestorRef = { group: '' as const, kind: 'Service' as const, namespace: ns, name: String(t.name) };
      const key = `${ns}/${String(t.name)}`;
      const push = (ok: boolean, reason: string, message: string) => ancestors.push({ ancestorRef, conditions: [cond(ok, reason, message, gen)] });
      if ((t.group ?? '') !== '' || (t.kind ?? '') !== 'Service') {
        push(false, 'Invalid', `targetRef ${t.group ?? ''}/${t.kind ?? ''} ${String(t.name)}: Weft applies XBackendTrafficPolicy to Services only`);
      } else if (t.sectionName !== undefined) {
        push(false, 'Invalid', `targetRef Service ${String(t.name)}: sectionName is not supported; the policy applies to the whole Service`);
      } else if (problems.length > 0) {
        push(false, 'Invalid', problems.join('; '));
      } else if (!serviceKeys.has(key)) {
        push(false, 'TargetNotFound', `Service ${key} does not exist`);
      } else if (owner.has(key)) {
        push(false, 'Conflicted', `XBackendTrafficPolicy ${owner.get(key) ?? ''} is older and already applies to Service ${key}`);
      } else if (compiled.ok) {
        owner.set(key, `${ns}/${p.metadata.name}`);
        budgets.set(key, compiled.config);
        const c = compiled.config;
        push(true, 'Accepted', `retry budget ${c.percent}% of requests over ${c.intervalMs / 1000}s plus ${c.minRetries} per ${c.minIntervalMs / 1000}s`);
      }
    }
    statuses.push({ namespace: ns, name: p.metadata.name, ...(gen !== undefined ? { generation: gen } : {}), ancestors });
  }
  return { budgets, statuses };
}
