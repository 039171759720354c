/**
 * The node agent: wires the real node (pods run as processes in namespaces) and the simulated node to
 * the API server. On start it clears whatever a previous run left (cleanupNode), prepares the host
 * network, registers both Nodes with their Leases, then list-watches the pods bound to each node.
 * One PodWorker per pod UID on the real node; a SimulatedNode for the other.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import os from 'node:os';
import { KUBELET_BACKOFF } from './backoff.js';
import type { ClusterInfo } from './cluster-info.js';
import { cleanupNode } from './cleanup.js';
import { NODE_MOUNT, REPO_MOUNT } from './images.js';
import { IpPool, parseCidr } from './ipam.js';
import { isNotFound, Kube, listWatch } from './kube.js';
import { ensureHostNetwork } from './network.js';
import { NodeHeartbeat, SIMULATED_TAINT_KEY } from './node.js';
import { PodWorker } from './pod.js';
import type { NodeContext } from './pod.js';
import { SimulatedNode } from './sim.js';
import type { Pod } from './types.js';
import { dirname } from 'node:path';

export interface AgentOptions {
  /** Base of the crash-loop backoff (the kubelet's 10 s unless a test asks for less). */
  readonly backoffBaseMs: number;
  /** Concurrent status writes for the simulated node. */
  readonly simConcurrency: number;
  /** Register and serve the simulated node. */
  readonly simulate: boolean;
}

export const DEFAULT_AGENT_OPTIONS: AgentOptions = { backoffBaseMs: KUBELET_BACKOFF.baseMs, simConcurrency: 8, simulate: true };

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

export const jsonLogger: Logger = (msg, fields) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
};

export interface RunningAgent {
  readonly workers: ReadonlyMap<string, PodWorker>;
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export async function startAgent(info: ClusterInfo, opts: AgentOptions, log: Logger = jsonLogger): Promise<RunningAgent> {
  mkdirSync(info.stateDir, { recursive: true });
  mkdirSync(info.logDir, { recursive: true });
  await cleanupNode(info.stateDir);
  const prefix = parseCidr(info.podCIDR).prefix;
  const host = { bridge: info.bridge, nodeIP: info.nodeIP, prefix, serviceCIDR: info.serviceCIDR, unreachableCIDRs: opts.simulate ? [info.simPodCIDR] : [] };
  await ensureHostNetwork(host);
  // Mount points for the clone and the Node binary inside every container's mount namespace.
  mkdirSync(REPO_MOUNT, { recursive: true });
  mkdirSync(dirname(NODE_MOUNT), { recursive: true });
  closeSync(openSync(NODE_MOUNT, 'a'));

  const kube = await Kube.fromKubeconfig(info.kubeconfig);
  let kubernetesServiceIP = '';
  try {
    kubernetesServiceIP = (await kube.get<{ spec: { clusterIP: string } }>('/api/v1/namespaces/default/services/kubernetes')).spec.clusterIP;
  } catch (err) {
    if (!isNotFound(err)) log('reading the kubernetes service failed', { err: String(err) });
    const base = parseCidr(info.serviceCIDR).base + 1;
    kubernetesServiceIP = [base >>> 24, (base >>> 16) & 255, (base >>> 8) & 255, base & 255].join('.');
  }

  const memory = `${Math.floor(os.totalmem() / 1024)}Ki`;
  const real = new NodeHeartbeat(kube, {
    name: info.nodeName, internalIP: info.nodeIP, podCIDR: info.podCIDR, version: info.version, taints: [], labels: {},
    capacity: { cpu: String(os.cpus().length), memory, pods: '250', 'ephemeral-storage': '100Gi' },
  }, log);
  await real.register();
  real.start();
  const sim = opts.simulate ? new NodeHeartbeat(kube, {
    name: info.simNodeName, internalIP: info.nodeIP, podCIDR: info.simPodCIDR, version: info.version,
    taints: [{ key: SIMULATED_TAINT_KEY, value: 'true', effect: 'NoSchedule' }], labels: { [SIMULATED_TAINT_KEY]: 'true', type: 'kwok' },
    capacity: { cpu: '1000', memory: '4000Gi', pods: '20000', 'ephemeral-storage': '10Ti' },
  }, log) : undefined;
  if (sim !== undefined) {
    await sim.register();
    sim.start();
  }

  const ctx: NodeContext = {
    kube, stateDir: info.stateDir, logDir: info.logDir, nodeName: info.nodeName, nodeIP: info.nodeIP, host,
    clusterDNS: info.clusterDNS, clusterDomain: info.clusterDomain, repoRoot: info.repoRoot, nodeBinary: info.nodeBinary,
    kubernetesServiceIP, backoffBaseMs: opts.backoffBaseMs, nodeAllocatable: { cpu: String(os.cpus().length), memory, 'ephemeral-storage': '100Gi' },
    ipPool: new IpPool(info.podCIDR, 257), log,
  };

  const workers = new Map<string, PodWorker>();
  const stopCtl = new AbortController();
  const handle = (pod: Pod) => {
    const uid = pod.metadata.uid ?? '';
    const w = workers.get(uid);
    if (w !== undefined) {
      w.update(pod);
      return;
    }
    const phase = pod.status?.phase;
    if (pod.metadata.deletionTimestamp !== undefined || phase === 'Succeeded' || phase === 'Failed') {
      // Nothing of it runs here (it finished, or a previous agent ran it): only a deletion is left to do.
      if (pod.metadata.deletionTimestamp !== undefined) {
        void kube.request('DELETE', `/api/v1/namespaces/${pod.metadata.namespace ?? 'default'}/pods/${pod.metadata.name}`,
          { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } }).catch(() => undefined);
      }
      return;
    }
    const worker = new PodWorker(ctx, pod);
    workers.set(uid, worker);
    log('pod bound', { pod: worker.name, uid });
    worker.start();
  };
  const drop = (uid: string) => {
    const w = workers.get(uid);
    if (w === undefined) return;
    workers.delete(uid);
    void w.forget();
  };
  const watching = listWatch<Pod>(kube, '/api/v1/pods', `fieldSelector=${encodeURIComponent(`spec.nodeName=${info.nodeName}`)}`, {
    onSync: (items) => {
      const seen = new Set(items.map((p) => p.metadata.uid ?? ''));
      for (const uid of [...workers.keys()]) if (!seen.has(uid)) drop(uid);
      for (const p of items) handle(p);
    },
    onEvent: (ev) => {
      if (ev.type === 'DELETED') drop(ev.object.metadata.uid ?? '');
      else handle(ev.object);
    },
    onError: (err) => log('pod watch failed; retrying', { err: String(err) }),
  }, stopCtl.signal);
  const simulating = opts.simulate
    ? new SimulatedNode(kube, { nodeName: info.simNodeName, hostIP: info.nodeIP, podCIDR: info.simPodCIDR, concurrency: opts.simConcurrency, log }).run(stopCtl.signal)
    : Promise.resolve();
  log('node agent started', { node: info.nodeName, simNode: opts.simulate ? info.simNodeName : undefined, backoffBaseMs: opts.backoffBaseMs });

  return {
    workers,
    async stop({ graceMs = 2000 } = {}) {
      stopCtl.abort();
      real.stop();
      sim?.stop();
      // The watches end on the abort; a list call in flight is not waited for.
      void Promise.all([watching, simulating]);
      await Promise.all([...workers.values()].map((w) => w.terminate(false, graceMs, true)));
      kube.close();
    },
  };
}
