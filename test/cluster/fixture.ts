/**
 * What end-to-end tests use: `useCluster()` connects to the running local cluster (from cluster.json),
 * and the handle it returns makes a fresh namespace per test, applies YAML, waits for conditions, reads
 * container logs and runs commands in containers.
 *
 *   const cluster = await useCluster();
 *   test('...', async (t) => {
 *     const ns = await cluster.freshNamespace(t);
 *     await cluster.apply(ns, yamlText);
 *     await cluster.waitPodReady(ns, 'echo-0');
 *   });
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';

import {
  AppsV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type KubernetesObject,
  type V1Pod,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

import { kubectl as runKubectl, readClusterInfo, waitUntil, type ClusterInfo } from './cluster.js';
import { CLUSTER_JSON } from './config.js';
import { httpGet } from './controlplane.js';
import type { CmdResult } from './net.js';
import { execInPod, podLogs, type ExecOptions, type ExecResult } from './podexec.js';

export const FIELD_MANAGER = 'weft-e2e';

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

export interface Cluster {
  info: ClusterInfo;
  kc: KubeConfig;
  objects: ObjectApi;
  core: CoreV1Api;
  apps: AppsV1Api;
  /** Creates a namespace named after the test; the test's `after` hook deletes it. */
  freshNamespace(t: TestContext, labels?: Record<string, string>): Promise<string>;
  /** Server-side applies every document of a YAML string or file (a path ending in .yaml/.yml/.json). */
  apply(namespace: string | undefined, yamlOrPath: string): Promise<KubernetesObject[]>;
  /** Polls `check` until it returns true; a returned string is the "why not yet" shown on timeout. */
  waitFor(what: string, check: () => Promise<true | string>, opts?: WaitOptions): Promise<void>;
  waitPodReady(namespace: string, name: string, opts?: WaitOptions): Promise<V1Pod>;
  waitDeploymentAvailable(namespace: string, name: string, opts?: WaitOptions): Promise<void>;
  /** A container's log through the API server ('' while it has none). */
  logs(namespace: string, pod: string, container: string): Promise<string>;
  exec(namespace: string, pod: string, container: string, argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<CmdResult>;
}

/** KubernetesObjectApi plus the scope lookup it already does internally. */
class ObjectApi extends KubernetesObjectApi {
  async isNamespaced(apiVersion: string, kind: string): Promise<boolean> {
    const r = await this.resource(apiVersion, kind);
    if (!r) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    return r.namespaced;
  }

  useDefaultNamespaceOf(kc: KubeConfig): void {
    this.defaultNamespace = this.setDefaultNamespace(kc);
  }
}

const NOT_UP =
  'the local cluster is not up: run `npm run cluster -- up` (or `npm run test:e2e`, which brings one up), then run the test again';

/** The pod's state in one line, for failure messages. */
export function describePod(pod: V1Pod): string {
  const st = pod.status;
  const conds = (st?.conditions ?? []).map((c) => `${c.type}=${c.status}${c.reason ? `(${c.reason})` : ''}`).join(' ');
  const ctrs = [...(st?.initContainerStatuses ?? []), ...(st?.containerStatuses ?? [])]
    .map((c) => {
      const s = c.state?.waiting
        ? `waiting:${c.state.waiting.reason ?? ''}${c.state.waiting.message ? ` ${c.state.waiting.message}` : ''}`
        : c.state?.terminated
          ? `terminated:${c.state.terminated.reason ?? ''}(exit ${c.state.terminated.exitCode})`
          : c.state?.running
            ? 'running'
            : 'unknown';
      return `${c.name}[ready=${c.ready} restarts=${c.restartCount} ${s}]`;
    })
    .join(' ');
  return `phase=${st?.phase ?? 'none'} node=${pod.spec?.nodeName ?? 'unscheduled'} ${conds} ${ctrs}`.trim();
}

function slug(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s.slice(0, 40).replace(/-+$/, '') || 'test';
}

async function readYamlInput(yamlOrPath: string): Promise<string> {
  if (!yamlOrPath.includes('\n') && /\.(ya?ml|json)$/.test(yamlOrPath)) return readFile(yamlOrPath, 'utf8');
  return yamlOrPath;
}

/** Connects to the running cluster; throws a clear message when it is not up. */
export async function useCluster(clusterJson: string = CLUSTER_JSON): Promise<Cluster> {
  const info = await readClusterInfo(clusterJson);
  if (!info) throw new Error(`${NOT_UP} (${clusterJson} not found)`);
  if (!existsSync(info.kubeconfig)) throw new Error(`${NOT_UP} (${info.kubeconfig} not found)`);
  const tls = {
    ca: await readFile(info.caFile),
  };
  const ready = await httpGet(`${info.server}/readyz`, tls);
  // 401/403 still proves the server answers; only a connection failure means "not up".
  if (ready.status === 0) throw new Error(`${NOT_UP} (API server ${info.server}: ${ready.body})`);

  const kc = new KubeConfig();
  kc.loadFromFile(info.kubeconfig);
  const objects = kc.makeApiClient(ObjectApi);
  objects.useDefaultNamespaceOf(kc);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);

  const waitFor = (what: string, check: () => Promise<true | string>, opts: WaitOptions = {}): Promise<void> =>
    waitUntil(what, opts.timeoutMs ?? 60_000, check, opts.intervalMs ?? 500);

  const cluster: Cluster = {
    info,
    kc,
    objects,
    core,
    apps,
    async freshNamespace(t, labels = {}) {
      const name = `e2e-${slug(t.name)}-${randomBytes(3).toString('hex')}`;
      await core.createNamespace({ body: { metadata: { name, labels: { 'weft.dev/e2e': 'true', ...labels } } } });
      t.after(async () => {
        await core.deleteNamespace({ name, propagationPolicy: 'Background' }).catch(() => undefined);
      });
      await waitFor(`ServiceAccount default in ${name}`, async () => {
        try {
          await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
          return true;
        } catch {
          return 'not created yet by the serviceaccount controller';
        }
      });
      return name;
    },
    async apply(namespace, yamlOrPath) {
      const text = await readYamlInput(yamlOrPath);
      const out: KubernetesObject[] = [];
      for (const doc of parseAllDocuments(text)) {
        if (doc.errors.length) throw new Error(`bad YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
        const obj = doc.toJS() as KubernetesObject | null;
        if (!obj?.kind) continue;
        obj.metadata ??= {};
        if (namespace && !obj.metadata.namespace && (await objects.isNamespaced(obj.apiVersion ?? 'v1', obj.kind))) {
          obj.metadata.namespace = namespace;
        }
        out.push(await objects.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
      }
      return out;
    },
    waitFor,
    async waitPodReady(namespace, name, opts = {}) {
      let pod: V1Pod | undefined;
      await waitFor(
        `pod ${namespace}/${name} Ready`,
        async () => {
          try {
            pod = await core.readNamespacedPod({ name, namespace });
          } catch (err) {
            return `cannot read pod: ${(err as Error).message.split('\n')[0] ?? ''}`;
          }
          const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
          return ready ? true : describePod(pod);
        },
        opts,
      );
      if (!pod) throw new Error('unreachable');
      return pod;
    },
    async waitDeploymentAvailable(namespace, name, opts = {}) {
      await waitFor(
        `deployment ${namespace}/${name} Available`,
        async () => {
          const d = await apps.readNamespacedDeployment({ name, namespace });
          const avail = d.status?.conditions?.find((c) => c.type === 'Available');
          const upToDate = (d.status?.updatedReplicas ?? 0) === (d.spec?.replicas ?? 1) && (d.status?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
          if (avail?.status === 'True' && upToDate) return true;
          return `Available=${avail?.status ?? 'missing'} ready=${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1} updated=${d.status?.updatedReplicas ?? 0} ${avail?.message ?? ''}`;
        },
        opts,
      );
    },
    logs: (namespace, pod, container) => podLogs(namespace, pod, container),
    exec: (namespace, pod, container, argv, opts = {}) => execInPod(namespace, pod, container, argv, opts),
    kubectl: (args, opts = {}) => runKubectl(args, opts),
  };
  return cluster;
}
