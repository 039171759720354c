/**
 * Everything a listener needs, assembled once by proxy.ts; and the per-Service-port balancers fed by
 * discovery watches (one watch per Service port, started on first use, shared by every connection).
 */
import type { ProxyLimits } from './config.js';
import type { OriginalDestinationFn } from './connection.js';
import type { MeshTls } from './mtls.js';
import type { UpstreamPools } from './pool.js';
import type { Destinations, Endpoints, PolicyHook, ServicePort } from './ports.js';
import type { ProxyStats } from './metrics.js';
import type { SelfAddresses } from './self-guard.js';
import { Balancer } from './balancer.js';

export interface ProxyDeps {
  readonly limits: ProxyLimits;
  /** The pod's own IP: inbound traffic reaches the app there, never on 127.0.0.1 (case 39). */
  readonly podIp: string;
  readonly opaquePorts: ReadonlySet<number>;
  readonly destinations: Destinations;
  readonly endpoints: Endpoints;
  readonly policy: PolicyHook;
  readonly mesh: MeshTls;
  readonly pools: UpstreamPools;
  readonly stats: ProxyStats;
  readonly originalDestination: OriginalDestinationFn;
  /** This proxy's own listening sockets: never dialled (security-cases W2). */
  readonly self: SelfAddresses;
}

export function servicePortKey(sp: ServicePort): string {
  return `${sp.namespace}/${sp.name}:${sp.port}`;
}

interface Entry {
  readonly balancer: Balancer;
  stop: () => void;
  readonly waiters: (() => void)[];
}

export class Balancers {
  private readonly entries = new Map<string, Entry>();
  /** Per ServicePort object: the policy hook hands back the same objects, so most lookups stop here. */
  private readonly byObject = new WeakMap<ServicePort, Balancer>();
  constructor(private readonly endpoints: Endpoints) {}

  get(sp: ServicePort): Balancer {
    const hit = this.byObject.get(sp);
    if (hit !== undefined) return hit;
    const b = this.getByKey(sp);
    this.byObject.set(sp, b);
    return b;
  }

  private getByKey(sp: ServicePort): Balancer {
    const key = servicePortKey(sp);
    let e = this.entries.get(key);
    if (e === undefined) {
      const entry: Entry = { balancer: new Balancer(), stop: () => undefined, waiters: [] };
      this.entries.set(key, entry);
      entry.stop = this.endpoints.watch(sp, (eps) => {
        entry.balancer.update(eps);
        for (const w of entry.waiters.splice(0)) w();
      });
      e = entry;
    }
    return e.balancer;
  }

  /** Resolves once discovery has answered for `sp`, or after `timeoutMs`. */
  whenKnown(sp: ServicePort, timeoutMs: number): Promise<void> {
    const bal = this.get(sp);
    if (bal.known) return Promise.resolve();
    const e = this.entries.get(servicePortKey(sp))!;
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      e.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    for (const e of this.entries.values()) e.stop();
    this.entries.clear();
  }
}
