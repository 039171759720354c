/**
 * The judgements of `weft check --pre` that need more than a permission: pure, objects in, verdict out.
 *
 * - Kubernetes at least 1.29: the proxy runs as a native sidecar (an init container with
 *   restartPolicy Always), on by default from 1.29.
 * - Pod Security: proxy-init runs as root with NET_ADMIN and NET_RAW; a namespace annotated for
 *   injection whose pod-security.kubernetes.io/enforce level is baseline or restricted rejects every
 *   injected pod.
 * - Another sidecar injector (Istio, Linkerd, ...): two meshes injecting the same pods break both.
 */
import { INJECT_ANNOTATION, INJECT_ENABLED, MUTATING_WEBHOOK_CONFIGURATION } from '../../core/contract.js';

export type Verdict = { readonly ok: true; readonly detail?: string } | { readonly ok: false; readonly problem: string; readonly hint: string };

export const MIN_KUBERNETES_MINOR = 29;

export function judgeKubernetesVersion(v: { readonly major?: string; readonly minor?: string; readonly gitVersion?: string }): Verdict {
  const major = Number.parseInt(v.major ?? '', 10);
  const minor = Number.parseInt(v.minor ?? '', 10);
  const shown = v.gitVersion ?? `${v.major ?? '?'}.${v.minor ?? '?'}`;
  if (!Number.isInteger(major) || !Number.isInteger(minor)) {
    return { ok: false, problem: `cannot tell the Kubernetes version from ${JSON.stringify(shown)}`, hint: 'kubectl version; Weft needs Kubernetes 1.29 or newer' };
  }
  if (major > 1 || (major === 1 && minor >= MIN_KUBERNETES_MINOR)) return { ok: true, detail: shown };
  return {
    ok: false,
    problem: `Kubernetes ${shown} is older than 1.${MIN_KUBERNETES_MINOR}: the proxy runs as a native sidecar (init container with restartPolicy Always), on by default from 1.${MIN_KUBERNETES_MINOR}`,
    hint: `upgrade the cluster to Kubernetes 1.${MIN_KUBERNETES_MINOR} or newer`,
  };
}

export interface NamespaceObject {
  readonly metadata?: { readonly name?: string; readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> } | undefined;
}

export const POD_SECURITY_ENFORCE = 'pod-security.kubernetes.io/enforce';
const REJECTING_LEVELS = new Set(['baseline', 'restricted']);

export function judgePodSecurity(namespaces: readonly NamespaceObject[]): Verdict {
  const annotated = namespaces.filter((n) => n.metadata?.annotations?.[INJECT_ANNOTATION] === INJECT_ENABLED);
  const rejecting = annotated.filter((n) => REJECTING_LEVELS.has(n.metadata?.labels?.[POD_SECURITY_ENFORCE] ?? ''));
  if (rejecting.length === 0) {
    return { ok: true, detail: annotated.length === 0 ? `no namespace is annotated ${INJECT_ANNOTATION}=${INJECT_ENABLED} yet` : `${annotated.length} annotated namespace(s) allow it` };
  }
  const list = rejecting.map((n) => `${n.metadata?.name ?? '?'} (${n.metadata?.labels?.[POD_SECURITY_ENFORCE] ?? ''})`).join(', ');
  const first = rejecting[0]?.metadata?.name ?? 'NS';
  return {
    ok: false,
    problem: `Pod Security would reject injected pods in: ${list}; proxy-init runs as root with NET_ADMIN and NET_RAW, which baseline and restricted forbid`,
    hint: `kubectl label namespace ${first} ${POD_SECURITY_ENFORCE}=privileged --overwrite (or do not annotate it ${INJECT_ANNOTATION}=${INJECT_ENABLED})`,
  };
}

export interface MutatingWebhookConfigurationObject {
  readonly metadata?: { readonly name?: string } | undefined;
  readonly webhooks?: readonly {
    readonly name: string;
    readonly rules?: readonly { readonly operations?: readonly string[]; readonly resources?: readonly string[] }[] | undefined;
  }[] | undefined;
}

/** Names that say "sidecar injector": the meshes' own and the generic words. */
const INJECTOR_NAME = /inject|sidecar|istio|linkerd|consul|kuma|osm|dapr|envoy|mesh/i;

const mutatesPodCreation = (w: NonNullable<MutatingWebhookConfigurationObject['webhooks']>[number]) =>
  (w.rules ?? []).some((r) => (r.resources ?? []).some((res) => res === 'pods' || res === '*') && (r.operations ?? []).some((o) => o === 'CREATE' || o === '*'));

export function judgeOtherInjectors(configs: readonly MutatingWebhookConfigurationObject[]): Verdict {
  const others: string[] = [];
  for (const c of configs) {
    const name = c.metadata?.name ?? '';
    if (name === MUTATING_WEBHOOK_CONFIGURATION) continue;
    for (const w of c.webhooks ?? []) if (mutatesPodCreation(w) && (INJECTOR_NAME.test(name) || INJECTOR_NAME.test(w.name))) others.push(`${name} (webhook ${w.name})`);
  }
  if (others.length === 0) return { ok: true };
  return {
    ok: false,
    problem: `another sidecar injector mutates pod creation: ${others.join(', ')}; a pod injected by two meshes gets two proxies redirecting the same traffic`,
    hint: 'keep the namespaces of the two meshes apart (annotate a namespace for one injector only), or remove the other mesh first',
  };
}
