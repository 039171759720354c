/**
 * metav1.LabelSelector evaluation for Server.spec.podSelector.
 *
 * Model: a selector is matchLabels AND matchExpressions (In, NotIn, Exists, DoesNotExist); `{}`
 * selects every pod of the namespace, as in Kubernetes.
 *
 * Invariant (fail closed): a selector Weft cannot fully evaluate (an unknown operator, a malformed
 * requirement, an unknown field) never counts as "does not select". If every requirement Weft does
 * understand holds, the answer is `undecidable` with a reason, and the compiler lets that Server
 * govern the port and deny everything, so a typo cannot silently drop a port back to a permissive
 * default policy.
 */
import type { LabelSelector } from '../kube-policy.js';

export type SelectorResult =
  | { readonly kind: 'match' }
  | { readonly kind: 'no-match' }
  | { readonly kind: 'undecidable'; readonly reason: string };

const SELECTOR_FIELDS = new Set(['matchLabels', 'matchExpressions']);
const REQUIREMENT_FIELDS = new Set(['key', 'operator', 'values']);

export function matchLabelSelector(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> | undefined,
): SelectorResult {
  const have = labels ?? {};
  let problem: string | undefined;
  const extra = Object.keys(selector).find((k) => !SELECTOR_FIELDS.has(k));
  if (extra !== undefined) problem = `podSelector has field ${extra}, which Weft does not implement`;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!Object.hasOwn(have, key) || have[key] !== value) return { kind: 'no-match' };
  }
  for (const req of selector.matchExpressions ?? []) {
    const reqExtra = Object.keys(req).find((k) => !REQUIREMENT_FIELDS.has(k));
    if (reqExtra !== undefined || typeof req.key !== 'string') {
      problem ??= `podSelector requirement ${JSON.stringify(req)} is malformed`;
      continue;
    }
    const present = Object.hasOwn(have, req.key);
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (values.length === 0) { problem ??= `podSelector In on ${req.key} has no values`; continue; }
        if (!present || !values.includes(have[req.key] as string)) return { kind: 'no-match' };
        break;
      case 'NotIn':
        if (values.length === 0) { problem ??= `podSelector NotIn on ${req.key} has no values`; continue; }
        if (present && values.includes(have[req.key] as string)) return { kind: 'no-match' };
        break;
      case 'Exists':
        if (values.length > 0) { problem ??= `podSelector Exists on ${req.key} must have no values`; continue; }
        if (!present) return { kind: 'no-match' };
        break;
      case 'DoesNotExist':
        if (values.length > 0) { problem ??= `podSelector DoesNotExist on ${req.key} must have no values`; continue; }
        if (present) return { kind: 'no-match' };
        break;
      default:
        problem ??= `podSelector operator ${JSON.stringify(req.operator)} is not In, NotIn, Exists or DoesNotExist`;
    }
  }
  return problem === undefined ? { kind: 'match' } : { kind: 'undecidable', reason: problem };
}
