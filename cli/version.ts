/**
 * `weft version`: the client's version, the control plane's (the controller and injector Deployments
 * in weft-system: image, version label, ready replicas) and the proxies' (the versions meshed pods
 * run, counted across the cluster). Without a cluster it prints the client and says why the rest is
 * missing (exit 1, as kubectl version); --client asks only for the client.
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import {
  CONTROL_PLANE_NAMESPACE, CONTROLLER_NAME, INJECTOR_NAME, MESHED_LABEL, MESHED_LABEL_VALUE, PROXY_CONTAINER_NAME,
  PROXY_VERSION_ANNOTATION, WEFT_VERSION,
} from '../core/contract.js';
import { parseVerb, reportParse } from './args.js';
import { stdio } from './install/command.js';
import type { Io } from './install/command.js';
import { connectKube, orAbsent } from './kube/client.js';
import type { KubeClients } from './kube/client.js';

export interface ComponentVersion {
  readonly name: string;
  /** undefined: the Deployment is not in the cluster. */
  readonly image?: string;
  readonly version?: string;
  readonly ready?: string;
}

export interface VersionReport {
  readonly client: { readonly version: string; readonly node: string };
  readonly server?: string;
  readonly controlPlane: { readonly components: readonly ComponentVersion[] } | { readonly missing: string };
  readonly proxies: { readonly versions: readonly { readonly version: string; readonly pods: number }[] } | { readonly missing: string };
}

/** What a control-plane Deployment runs. Pure. */
export function componentVersion(name: string, d: V1Deployment | undefined): ComponentVersion {
  if (d === undefined) return { name };
  const container = d.spec?.template.spec?.containers.find((c) => c.image !== undefined);
  const version = d.spec?.template.metadata?.labels?.['app.kubernetes.io/version'] ?? d.metadata?.labels?.['app.kubernetes.io/version'];
  return {
    name,
    ...(container?.image !== undefined ? { image: container.image } : {}),
    ...(version !== undefined ? { version } : {}),
    ready: `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1}`,
  };
}

/** The proxy version of each meshed pod (its annotation, else its proxy image's tag), counted. Pure. */
export function proxyVersions(pods: readonly V1Pod[]): { version: string; pods: number }[] {
  const counts = new Map<string, number>();
  for (const pod of pods) {
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const proxy = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((c) => c.name === PROXY_CONTAINER_NAME);
    const tag = proxy?.image?.includes(':') === true ? proxy.image.slice(proxy.image.lastIndexOf(':') + 1) : undefined;
    const version = pod.metadata?.annotations?.[PROXY_VERSION_ANNOTATION] ?? (tag !== undefined ? `${tag} (image tag)` : 'unknown');
    counts.set(version, (counts.get(version) ?? 0) + 1);
  }
  return [...counts].map(([version, n]) => ({ version, pods: n })).sort((a, b) => b.pods - a.pods || a.version.localeCompare(b.version));
}

export function renderVersion(r: VersionReport): string {
  const lines = [`Client:         weft ${r.client.version} (node ${r.client.node})`];
  if ('missing' in r.controlPlane) lines.push(`Control plane:  unknown: ${r.controlPlane.missing}`);
  else {
    lines.push(`Control plane:${r.server !== undefined ? `  ${r.server}` : ''}`);
    for (const c of r.controlPlane.components) {
      lines.push(c.image === undefined && c.ready === undefined
        ? `  ${c.name}: not installed (no Deployment ${CONTROL_PLANE_NAMESPACE}/${c.name})`
        : `  ${c.name}: ${c.version ?? 'unknown version'}, image ${c.image ?? 'unknown'}, ${c.ready ?? '?'} ready`);
    }
  }
  if ('missing' in r.proxies) lines.push(`Proxies:        unknown: ${r.proxies.missing}`);
  else if (r.proxies.versions.length === 0) lines.push('Proxies:        none (no meshed pods)');
  else lines.push(`Proxies:        ${r.proxies.versions.map((v) => `${v.version} (${v.pods} pod${v.pods === 1 ? '' : 's'})`).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

async function readCluster(kube: KubeClients): Promise<Pick<VersionReport, 'controlPlane' | 'proxies'>> {
  let controlPlane: VersionReport['controlPlane'];
  try {
    const read = (name: string) => orAbsent(kube.apps.readNamespacedDeployment({ name, namespace: CONTROL_PLANE_NAMESPACE }));
    controlPlane = { components: [componentVersion(CONTROLLER_NAME, await read(CONTROLLER_NAME)), componentVersion(INJECTOR_NAME, await read(INJECTOR_NAME))] };
  } catch (err) {
    controlPlane = { missing: kube.describe(err) };
  }
  let proxies: VersionReport['proxies'];
  try {
    const pods = await kube.core.listPodForAllNamespaces({ labelSelector: `${MESHED_LABEL}=${MESHED_LABEL_VALUE}` });
    proxies = { versions: proxyVersions(pods.items) };
  } catch (err) {
    proxies = { missing: kube.describe(err) };
  }
  return { controlPlane, proxies };
}

export async function runVersion(argv: readonly string[], io: Io = stdio): Promise<number> {
  const parsed = parseVerb<{ client?: boolean; output?: 'text' | 'json'; kubeconfig?: string; context?: string }>('version', argv);
  if (!parsed.ok) return reportParse(parsed, io);
  const o = parsed.opts;
  const client = { version: WEFT_VERSION, node: process.version };
  let report: VersionReport;
  if (o.client === true) {
    report = { client, controlPlane: { missing: 'not asked (--client)' }, proxies: { missing: 'not asked (--client)' } };
  } else {
    let kube: KubeClients | undefined;
    let missing: string | undefined;
    try {
      kube = connectKube({ kubeconfig: o.kubeconfig, context: o.context });
    } catch (err) {
      missing = (err as Error).message;
    }
    report = kube === undefined
      ? { client, controlPlane: { missing: missing ?? '' }, proxies: { missing: missing ?? '' } }
      : { client, server: kube.server, ...(await readCluster(kube)) };
  }
  io.out(o.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : o.client === true ? `weft ${WEFT_VERSION} (node ${process.version})\n` : renderVersion(report));
  return o.client !== true && ('missing' in report.controlPlane || 'missing' in report.proxies) ? 1 : 0;
}

export function run(argv: readonly string[]): Promise<number> {
  return runVersion(argv);
}
