/**
 * Node registration and heartbeats: the Node object (addresses, capacity, Ready condition, taints) and
 * its Lease in kube-node-lease, renewed every 10 s (lease duration 40 s, as the kubelet), with the
 * node status re-posted every minute. Used for both the real node and the simulated one.
 */
import os from 'node:os';
import { isNotFound } from './kube.js';
import type { Kube } from './kube.js';

export const LEASE_NAMESPACE = 'kube-node-lease';
export const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_MS = 10_000;
export const STATUS_REPORT_MS = 60_000;
/** Taint and label of the simulated node: pods land there only when they tolerate it. */
export const SIMULATED_TAINT_KEY = 'weft.dev/simulated';

export interface NodeSpecInput {
  readonly name: string;
  readonly internalIP: string;
  readonly podCIDR: string;
  readonly capacity: Readonly<Record<string, string>>;
  readonly taints: readonly { key: string; value?: string; effect: string }[];
  readonly labels: Readonly<Record<string, string>>;
  readonly version: string;
}

/** Go's MicroTime layout (six fraction digits). */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function nodeStatus(n: NodeSpecInput, now: Date): Record<string, unknown> {
  const t = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, reason, message, lastHeartbeatTime: t, lastTransitionTime: t });
  return {
    addresses: [{ type: 'InternalIP', address: n.internalIP }, { type: 'Hostname', address: n.name }],
    capacity: n.capacity,
    allocatable: n.capacity,
    conditions: [
      cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'node agent has sufficient memory available'),
      cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'node agent has no disk pressure'),
      cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'node agent has sufficient PID available'),
      cond('Ready', 'True', 'KubeletReady', 'weft node agent is posting ready status'),
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: n.name, systemUUID: n.name, bootID: n.name, kernelVersion: os.release(), osImage: 'weft node agent',
      containerRuntimeVersion: 'weft-agent://0.1.0', kubeletVersion: n.version, kubeProxyVersion: n.version,
      operatingSystem: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch,
    },
  };
}

export class NodeHeartbeat {
  private nodeUid = '';
  private lastTransition: Map<string, string> = new Map();
  private timer: NodeJS.Timeout | undefined;
  private lastStatusAt = 0;

  constructor(private readonly kube: Kube, private readonly node: NodeSpecInput, private readonly log: (msg: string, f?: Record<string, unknown>) => void) {}

  async register(): Promise<void> {
    const body = {
      apiVersion: 'v1', kind: 'Node',
      metadata: { name: this.node.name, labels: { ...this.node.labels, 'kubernetes.io/hostname': this.node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
      spec: { podCIDR: this.node.podCIDR, podCIDRs: [this.node.podCIDR], taints: this.node.taints },
    };
    let node: { metadata: { uid: string } };
    try {
      node = await this.kube.request('POST', '/api/v1/nodes', body);
    } catch (err) {
      if (!(err instanceof Error && 'status' in err && (err as { status: number }).status === 409)) throw err;
      node = await this.kube.patch(`/api/v1/nodes/${this.node.name}`, { metadata: { labels: body.metadata.labels }, spec: { taints: this.node.taints, unschedulable: false } });
    }
    this.nodeUid = node.metadata.uid;
    await this.postStatus();
    await this.renewLease();
  }

  start(): void {
    const tick = async () => {
      try {
        await this.renewLease();
        if (Date.now() - this.lastStatusAt >= STATUS_REPORT_MS) await this.postStatus();
      } catch (err) {
        this.log('node heartbeat failed', { node: this.node.name, err: String(err) });
        if (isNotFound(err)) await this.register().catch(() => undefined);
      }
      this.timer = setTimeout(() => void tick(), LEASE_RENEW_MS);
    };
    this.timer = setTimeout(() => void tick(), LEASE_RENEW_MS);
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private async postStatus(): Promise<void> {
    const status = nodeStatus(this.node, new Date());
    const conds = status['conditions'] as { type: string; lastTransitionTime: string }[];
    for (const c of conds) {
      const prev = this.lastTransition.get(c.type);
      if (prev !== undefined) c.lastTransitionTime = prev;
      else this.lastTransition.set(c.type, c.lastTransitionTime);
    }
    await this.kube.patch(`/api/v1/nodes/${this.node.name}/status`, { status });
    this.lastStatusAt = Date.now();
  }

  private async renewLease(): Promise<void> {
    const path = `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases/${this.node.name}`;
    const spec = { holderIdentity: this.node.name, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: microTime(new Date()) };
    try {
      await this.kube.patch(path, { spec });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.kube.request('POST', `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases`, {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
        metadata: { name: this.node.name, namespace: LEASE_NAMESPACE, ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: this.node.name, uid: this.nodeUid }] },
        spec: { ...spec, acquireTime: spec.renewTime },
      });
    }
  }
}
