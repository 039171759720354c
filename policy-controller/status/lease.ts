/**
 * Leader election over a coordination.k8s.io/v1 Lease, so that only one replica writes route
 * status. The holder renews every `renewMs`; another replica takes over once `renewTime` is older
 * than `leaseDurationSeconds`. Every write carries the Lease's resourceVersion, so two replicas
 * cannot both win one round. Losing the API server for a lease duration means losing leadership.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { kubeRequest, KubeHttpError } from '../k8s/http.js';

interface LeaseJson {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string; leaseTransitions?: number };
}

export interface LeaseOptions {
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationSeconds?: number;
  readonly renewMs?: number;
  readonly log: Logger;
  readonly onChange?: (leader: boolean) => void;
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export class LeaderLease {
  readonly identity = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  private leader = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly duration: number;
  private readonly renewMs: number;

  constructor(
    private readonly kc: KubeConfig,
    private readonly o: LeaseOptions,
  ) {
    this.duration = o.leaseDurationSeconds ?? 15;
    this.renewMs = o.renewMs ?? 2000;
  }

  isLeader(): boolean {
    return this.leader && Date.now() - this.lastRenew < this.duration * 1000;
  }

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.round()
        .catch((err: unknown) => {
          this.o.log.warn({ err: (err as Error).message, lease: `${this.o.namespace}/${this.o.name}` }, 'lease round failed');
          this.set(this.isLeader());
        })
        .finally(() => {
          if (this.stopped) return;
          this.timer = setTimeout(tick, this.renewMs);
          this.timer.unref();
        });
    };
    tick();
  }

  /** Stops renewing and, when leading, releases the Lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (!this.leader) return;
    this.set(false);
    try {
      const cur = await kubeRequest<LeaseJson>(this.kc, 'GET', this.path());
      if (cur.body.spec?.holderIdentity !== this.identity) return;
      await kubeRequest(this.kc, 'PUT', this.path(), { ...cur.body, spec: { ...cur.body.spec, holderIdentity: '', renewTime: undefined } });
    } catch {
      // Another replica takes over after the lease duration.
    }
  }

  private path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases/${this.o.name}`;
  }

  private set(leader: boolean): void {
    if (leader === this.leader) return;
    this.leader = leader;
    this.o.log.info({ identity: this.identity, lease: `${this.o.namespace}/${this.o.name}` }, leader ? 'became the status leader' : 'no longer the status leader');
    this.o.onChange?.(leader);
  }

  private async round(): Promise<void> {
    const now = new Date();
    let cur: LeaseJson | undefined;
    try {
      cur = (await kubeRequest<LeaseJson>(this.kc, 'GET', this.path())).body;
    } catch (err) {
      if (!(err instanceof KubeHttpError && err.statusCode === 404)) throw err;
    }
    const mine = { holderIdentity: this.identity, leaseDurationSeconds: this.duration, renewTime: microTime(now) };
    if (cur === undefined) {
      await kubeRequest(this.kc, 'POST', `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.o.name, namespace: this.o.namespace },
        spec: { ...mine, acquireTime: microTime(now), leaseTransitions: 0 },
      });
      this.lastRenew = Date.now();
      this.set(true);
      return;
    }
    const spec = cur.spec ?? {};
    const held = spec.holderIdentity !== undefined && spec.holderIdentity !== '';
    const renewed = spec.renewTime === undefined ? 0 : Date.parse(spec.renewTime);
    const expired = !held || renewed + (spec.leaseDurationSeconds ?? this.duration) * 1000 < now.getTime();
    if (spec.holderIdentity === this.identity || expired) {
      const takeover = spec.holderIdentity !== this.identity;
      await kubeRequest(this.kc, 'PUT', this.path(), {
        ...cur,
        spec: {
          ...spec,
          ...mine,
          ...(takeover ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
        },
      });
      this.lastRenew = Date.now();
      this.set(true);
      return;
    }
    this.set(false);
  }
}
