/**
 * Resource arguments (`deploy/books`, `pod/x`, `ns/booksapp`, `svc/authors`) and the pods behind
 * them, as pure functions of listed pods and Services. A pod belongs to a Deployment through its
 * ReplicaSet owner: the ReplicaSet is named `<deployment>-<pod-template-hash>`, so the pod's
 * pod-template-hash label gives the Deployment without listing ReplicaSets.
 */
import { MESHED_LABEL, MESHED_LABEL_VALUE } from '../../core/contract.js';
import { matchLabelSelector } from '../../core/inbound/label-selector.js';
import type { Pod, Service } from '../../core/kube.js';

export type ResourceKind = 'deploy' | 'pod' | 'ns' | 'svc';

const ALIASES: Readonly<Record<string, ResourceKind>> = {
  deploy: 'deploy', deployment: 'deploy', deployments: 'deploy', 'deployment.apps': 'deploy',
  po: 'pod', pod: 'pod', pods: 'pod',
  ns: 'ns', namespace: 'ns', namespaces: 'ns',
  svc: 'svc', service: 'svc', services: 'svc',
};

export interface ResourceArg {
  readonly kind: ResourceKind;
  readonly name?: string;
}

export function parseResource(text: string, allowed: readonly ResourceKind[]): ResourceArg | string {
  const slash = text.indexOf('/');
  const kindText = (slash < 0 ? text : text.slice(0, slash)).toLowerCase();
  const name = slash < 0 ? undefined : text.slice(slash + 1);
  const kind = ALIASES[kindText];
  if (kind === undefined || !allowed.includes(kind)) return `${JSON.stringify(text)}: the resource kind must be one of ${allowed.join(', ')}`;
  if (name !== undefined && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name)) return `${JSON.stringify(name)} is not a valid ${kind} name`;
  return name === undefined ? { kind } : { kind, name };
}

export const isMeshedPod = (p: Pod) => p.metadata.labels?.[MESHED_LABEL] === MESHED_LABEL_VALUE;

/** The Deployment that owns a pod (through its ReplicaSet), if any. */
export function deploymentOf(p: Pod): string | undefined {
  const rs = p.metadata.ownerReferences?.find((o) => o.kind === 'ReplicaSet' && o.controller !== false);
  const hash = p.metadata.labels?.['pod-template-hash'];
  if (rs === undefined || hash === undefined || !rs.name.endsWith(`-${hash}`)) return undefined;
  return rs.name.slice(0, -(hash.length + 1));
}

/** `deploy/<name>`, `pod/<name>` or `ns/<name>` of a pod for a resource kind; undefined when it has none. */
export function resourceNameOf(p: Pod, kind: ResourceKind): string | undefined {
  switch (kind) {
    case 'deploy': {
      const d = deploymentOf(p);
      return d === undefined ? undefined : `deploy/${d}`;
    }
    case 'pod':
      return `pod/${p.metadata.name}`;
    case 'ns':
      return `ns/${p.metadata.namespace ?? ''}`;
    case 'svc':
      return undefined;
  }
}

export interface PodGroup {
  readonly name: string;
  readonly namespace: string;
  readonly pods: readonly Pod[];
}

/** Groups pods by resource of `kind` (optionally only the one named), sorted by name. */
export function groupPods(pods: readonly Pod[], arg: ResourceArg): PodGroup[] {
  const groups = new Map<string, { namespace: string; pods: Pod[] }>();
  for (const p of pods) {
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    const name = resourceNameOf(p, arg.kind);
    if (name === undefined) continue;
    if (arg.name !== undefined && name !== `${arg.kind}/${arg.name}`) continue;
    const g = groups.get(name) ?? { namespace: p.metadata.namespace ?? '', pods: [] };
    g.pods.push(p);
    groups.set(name, g);
  }
  return [...groups].map(([name, g]) => ({ name, namespace: g.namespace, pods: g.pods })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Services (namespace/name) whose selector picks at least one of these pods. */
export function servicesSelecting(services: readonly Service[], pods: readonly Pod[]): string[] {
  const out: string[] = [];
  for (const s of services) {
    const sel = s.spec?.selector;
    if (sel === undefined || Object.keys(sel).length === 0) continue;
    const ns = s.metadata.namespace ?? '';
    if (pods.some((p) => (p.metadata.namespace ?? '') === ns && matchLabelSelector({ matchLabels: sel }, p.metadata.labels).kind === 'match')) {
      out.push(`${ns}/${s.metadata.name}`);
    }
  }
  return out;
}
