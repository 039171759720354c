/**
 * Resource arguments (`deploy/books`, `sts/db`, `ds/agent`, `job/x`, `cronjob/nightly`, `pod/x`,
 * `ns/booksapp`, `svc/authors`, `gateway/edge`) and the pods behind them (a Gateway's: ./gateway.ts), as pure functions of listed pods, Services
 * and (for CronJobs) Jobs. A pod belongs to a Deployment through its ReplicaSet owner: the ReplicaSet
 * is named `<deployment>-<pod-template-hash>`, so the pod's pod-template-hash label gives the
 * Deployment without listing ReplicaSets. StatefulSets, DaemonSets and Jobs own their pods directly;
 * a CronJob owns the Jobs that own the pods, so CronJobs need the Jobs' owners (`JobOwners`).
 */
import { MESHED_LABEL, MESHED_LABEL_VALUE } from '../../core/contract.js';
import { matchLabelSelector } from '../../core/inbound/label-selector.js';
import type { Pod, Service } from '../../core/kube.js';

export type ResourceKind = 'deploy' | 'sts' | 'ds' | 'job' | 'cronjob' | 'pod' | 'ns' | 'svc' | 'gateway';

/** The workload kinds whose pods are grouped by owner. */
export const WORKLOAD_KINDS: readonly ResourceKind[] = ['deploy', 'sts', 'ds', 'job', 'cronjob'];

const ALIASES: Readonly<Record<string, ResourceKind>> = {
  deploy: 'deploy', deployment: 'deploy', deployments: 'deploy', 'deployment.apps': 'deploy',
  sts: 'sts', statefulset: 'sts', statefulsets: 'sts', 'statefulset.apps': 'sts',
  ds: 'ds', daemonset: 'ds', daemonsets: 'ds', 'daemonset.apps': 'ds',
  job: 'job', jobs: 'job', 'job.batch': 'job',
  cj: 'cronjob', cronjob: 'cronjob', cronjobs: 'cronjob', 'cronjob.batch': 'cronjob',
  po: 'pod', pod: 'pod', pods: 'pod',
  ns: 'ns', namespace: 'ns', namespaces: 'ns',
  svc: 'svc', service: 'svc', services: 'svc',
  gateway: 'gateway', gateways: 'gateway', gtw: 'gateway', gw: 'gateway', 'gateway.gateway.networking.k8s.io': 'gateway',
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

/** The CronJob owning each Job, keyed `<namespace>/<job>`; built from listed Jobs' ownerReferences. */
export type JobOwners = ReadonlyMap<string, string>;

export function jobOwners(jobs: readonly { readonly metadata: { readonly name: string; readonly namespace?: string | undefined; readonly ownerReferences?: readonly { readonly kind: string; readonly name: string; readonly controller?: boolean | undefined }[] | undefined } }[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const j of jobs) {
    const cj = j.metadata.ownerReferences?.find((o) => o.kind === 'CronJob' && o.controller !== false);
    if (cj !== undefined) out.set(`${j.metadata.namespace ?? ''}/${j.metadata.name}`, cj.name);
  }
  return out;
}

function ownerOf(p: Pod, kind: string): string | undefined {
  return p.metadata.ownerReferences?.find((o) => o.kind === kind && o.controller !== false)?.name;
}

/** `<kind>/<name>` of a pod for a resource kind; undefined when it has none. */
export function resourceNameOf(p: Pod, kind: ResourceKind, owners: JobOwners = new Map()): string | undefined {
  const named = (k: string, n: string | undefined) => (n === undefined ? undefined : `${k}/${n}`);
  switch (kind) {
    case 'deploy':
      return named('deploy', deploymentOf(p));
    case 'sts':
      return named('sts', ownerOf(p, 'StatefulSet'));
    case 'ds':
      return named('ds', ownerOf(p, 'DaemonSet'));
    case 'job':
      return named('job', ownerOf(p, 'Job'));
    case 'cronjob': {
      const job = ownerOf(p, 'Job');
      return named('cronjob', job === undefined ? undefined : owners.get(`${p.metadata.namespace ?? ''}/${job}`));
    }
    case 'pod':
      return `pod/${p.metadata.name}`;
    case 'ns':
      return `ns/${p.metadata.namespace ?? ''}`;
    case 'svc':
    case 'gateway':
      return undefined;
  }
}

export interface PodGroup {
  readonly name: string;
  readonly namespace: string;
  readonly pods: readonly Pod[];
}

/** The key of a group's figures: names repeat across namespaces (`deploy/web` in two of them). */
export const groupKey = (g: { readonly namespace: string; readonly name: string }) => `${g.namespace}/${g.name}`;

/** Groups pods by resource of `kind` (optionally only the one named) and namespace, sorted by namespace and name. */
export function groupPods(pods: readonly Pod[], arg: ResourceArg, owners: JobOwners = new Map()): PodGroup[] {
  const groups = new Map<string, { name: string; namespace: string; pods: Pod[] }>();
  for (const p of pods) {
    if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
    const name = resourceNameOf(p, arg.kind, owners);
    if (name === undefined) continue;
    if (arg.name !== undefined && name !== `${arg.kind}/${arg.name}`) continue;
    const namespace = p.metadata.namespace ?? '';
    const key = groupKey({ namespace, name });
    const g = groups.get(key) ?? { name, namespace, pods: [] };
    g.pods.push(p);
    groups.set(key, g);
  }
  const order = (g: PodGroup) => `${g.namespace}\u0000${g.name}`;
  return [...groups.values()].sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
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
