/**
 * The simulated node (kwok-style): pods bound to it never run; the agent gives each an IP from the
 * simulated pod CIDR and writes Running/Ready status, and deletes pods marked for deletion at once.
 * Thousands of pods go through a deduplicating queue with a small concurrency limit so the API server
 * is not flooded; a pod already Running with an IP of this CIDR (after an agent restart) is left alone.
 */
import { cidrContains, IpPool } from './ipam.js';
import { isNotFound, listWatch, sleep } from './kube.js';
import type { Kube } from './kube.js';
import { simulatedPodStatus } from './status.js';
import type { Pod } from './types.js';

export interface SimOptions {
  readonly nodeName: string;
  readonly hostIP: string;
  readonly podCIDR: string;
  readonly concurrency: number;
  readonly log: (msg: string, fields?: Record<string, unknown>) => void;
}

export function simPodIsCurrent(pod: Pod, podCIDR: string): boolean {
  const ip = pod.status?.podIP;
  return pod.status?.phase === 'Running' && ip !== undefined && cidrContains(podCIDR, ip)
    && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

export class SimulatedNode {
  private readonly pool: IpPool;
  private readonly pending = new Map<string, Pod>();
  private readonly inFlight = new Set<string>();
  private readonly known = new Set<string>();
  private active = 0;
  written = 0;

  constructor(private readonly kube: Kube, private readonly opts: SimOptions) {
    this.pool = new IpPool(opts.podCIDR, 1);
  }

  run(signal: AbortSignal): Promise<void> {
    return listWatch<Pod>(this.kube, '/api/v1/pods', `fieldSelector=${encodeURIComponent(`spec.nodeName=${this.opts.nodeName}`)}`, {
      onSync: (items) => {
        const seen = new Set(items.map((p) => p.metadata.uid ?? ''));
        for (const uid of [...this.known]) if (!seen.has(uid)) this.forget(uid);
        for (const p of items) this.observe(p);
      },
      onEvent: (ev) => {
        if (ev.type === 'DELETED') this.forget(ev.object.metadata.uid ?? '');
        else this.observe(ev.object);
      },
      onError: (err) => this.opts.log('simulated node watch failed; retrying', { err: String(err) }),
    }, signal);
  }

  private observe(pod: Pod): void {
    const uid = pod.metadata.uid ?? '';
    this.known.add(uid);
    if (pod.metadata.deletionTimestamp === undefined) {
      const ip = pod.status?.podIP;
      if (ip !== undefined && cidrContains(this.opts.podCIDR, ip)) this.pool.reserve(uid, ip);
      if (simPodIsCurrent(pod, this.opts.podCIDR)) return;
    }
    this.pending.set(uid, pod);
    this.pump();
  }

  private forget(uid: string): void {
    this.known.delete(uid);
    this.pending.delete(uid);
    this.pool.release(uid);
  }

  private pump(): void {
    while (this.active < this.opts.concurrency) {
      let next: string | undefined;
      let pod: Pod | undefined;
      for (const [uid, p] of this.pending) {
        if (this.inFlight.has(uid)) continue;
        next = uid;
        pod = p;
        break;
      }
      if (next === undefined || pod === undefined) return;
      this.pending.delete(next);
      this.active++;
      this.inFlight.add(next);
      void this.process(pod).finally(() => {
        this.active--;
        this.inFlight.delete(next);
        this.pump();
      });
    }
  }

  private async process(pod: Pod): Promise<void> {
    const uid = pod.metadata.uid ?? '';
    const ns = pod.metadata.namespace ?? 'default';
    const path = `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        if (pod.metadata.deletionTimestamp !== undefined) {
          await this.kube.request('DELETE', path, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0, preconditions: { uid } });
        } else {
          if (!this.known.has(uid)) return;
          const ip = this.pool.allocate(uid);
          await this.kube.patch(`${path}/status`, { metadata: { uid }, status: simulatedPodStatus(pod, ip, this.opts.hostIP, new Date().toISOString()) });
          this.written++;
        }
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        this.opts.log('simulated pod update failed', { pod: `${ns}/${pod.metadata.name}`, err: String(err) });
        await sleep(500 * 2 ** attempt);
      }
    }
  }
}
