/**
 * Everything a listener needs, assembled once by proxy.ts; and the per-Service-port balancers fed by
 * discovery watches (one watch per Service port, started on first use, shared by every connection).
 */
import type { ProxyLimits } from './config.js';
import type { OriginalDestinationFn } from './connection.js';
import type { MeshTls } from './mtls.js';
import type { UpstreamPools } from './pool.js';
import type { Destinations, Endpoints, ServicePort } from './io.js';
import type { PolicyHook } from './policy-hook.js';
import type { ProxyStats } from './metrics.js';
import type { SelfAddresses } from './self-guard.js';
import { AccrualCounters, Balancer } from './balancer.js';

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
  return `${sp.namespace}/${sp.name}:${sp.port}${sp.externalName !== undefined ? ` (${sp.externalName})` : ''}`;
}

/** One balanced Service port as the proxy's admin `/endpoints` shows it. */
export interface EndpointsDump {
  /** `namespace/name:port`. */
  readonly service: string;
  /** Whether the Service's failure-accrual annotations apply. */
  readonly circuitBreaking: boolean;
  readonly endpoints: readonly {
    readonly address: string;
    readonly identity?: string;
    /** ready; ejected (out of the draw for ejectedForMs more); probing (its penalty is over: one probe may go). */
    readonly state: 'ready' | 'ejected' | 'probing';
    readonly ejectedForMs?: number;
    readonly inFlight: number;
    readonly ewmaMs: number;
  }[];
}

interface Entry {
  readonly balancer: Balancer;
  stop: () => void;
  readonly waiters: (() => void)[];
  /** The sweep clock when a request last asked for this balancer. */
  lastUsed: number;
  /** Forgotten: a ServicePort object cached before must not find it again. */
  retired: boolean;
}

/**
 * The balancer of each Service port a request was routed to, fed by one discovery watch each. A
 * balancer no request asked for during `idleMs` is forgotten and its watch ends (`sweep`); the next
 * request starts a new watch.
 */
export class Balancers {
  private readonly entries = new Map<string, Entry>();
  /** Per ServicePort object: the policy hook hands back the same objects, so most lookups stop here. */
  private readonly byObject = new WeakMap<ServicePort, Entry>();
  /** A coarse clock, advanced by `sweep`, so a lookup costs no clock read. */
  private clock = Date.now();
  /** Circuit-breaking counts of every balancer (they outlive the balancers). */
  readonly counters = new AccrualCounters();

  constructor(private readonly endpoints: Endpoints, private readonly idleMs = Number.POSITIVE_INFINITY, private readonly max = Number.POSITIVE_INFINITY) {}

  get(sp: ServicePort): Balancer {
    let e = this.byObject.get(sp);
    if (e === undefined || e.retired) {
      e = this.entryFor(sp);
      this.byObject.set(sp, e);
    }
    e.lastUsed = this.clock;
    return e.balancer;
  }

  /** Why the Service port has no endpoint when that is a failure (proxy/external-name.ts); else undefined. */
  failure(sp: ServicePort): string | undefined {
    return this.endpoints.failure?.(sp);
  }

  private entryFor(sp: ServicePort): Entry {
    const key = servicePortKey(sp);
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.entries.size >= this.max) this.evictOldest(this.entries.size - this.max + 1);
      const balancer = new Balancer();
      balancer.counters = this.counters;
      const entry: Entry = { balancer, stop: () => undefined, waiters: [], lastUsed: this.clock, retired: false };
      this.entries.set(key, entry);
      entry.stop = this.endpoints.watch(sp, (eps) => {
        entry.balancer.update(eps);
        for (const w of entry.waiters.splice(0)) w();
      });
      e = entry;
    }
    return e;
  }

  /**
   * What `weft diagnostics endpoints` shows: per Service port balanced now, every endpoint with its
   * circuit-breaking state (ready, ejected with the time left, probing) and its load figures.
   */
  dump(now: number = performance.now()): EndpointsDump[] {
    const out: EndpointsDump[] = [];
    for (const [key, e] of this.entries) {
      out.push({
        service: key,
        circuitBreaking: e.balancer.endpoints.some((st) => st.accrual !== undefined),
        endpoints: e.balancer.endpoints.map((st) => {
          const a = st.accrual;
          const ejected = a !== undefined && a.state === 'ejected' && now < a.ejectedUntil;
          return {
            address: `${st.endpoint.ip.includes(':') ? `[${st.endpoint.ip}]` : st.endpoint.ip}:${st.endpoint.port}`,
            ...(st.endpoint.identity !== undefined ? { identity: st.endpoint.identity } : {}),
            state: a === undefined ? 'ready' : ejected ? 'ejected' : a.state === 'ready' ? 'ready' : 'probing',
            ...(ejected ? { ejectedForMs: Math.ceil(a.ejectedUntil - now) } : {}),
            inFlight: st.inFlight,
            ewmaMs: Math.round(st.ewmaMs * 100) / 100,
          };
        }),
      });
    }
    return out.sort((x, y) => (x.service < y.service ? -1 : x.service > y.service ? 1 : 0));
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

  /** Over the bound: forgets the `n` balancers least recently asked for (none a request is waiting on). */
  private evictOldest(n: number): void {
    const idle = [...this.entries].filter(([, e]) => e.waiters.length === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [key, e] of idle.slice(0, n)) this.retire(key, e);
  }

  private retire(key: string, e: Entry): void {
    this.entries.delete(key);
    e.retired = true;
    e.stop();
  }

  /** Forgets the balancers no request asked for since `idleMs` before `now`; returns how many are left. */
  sweep(now: number = Date.now()): number {
    this.clock = now;
    for (const [key, e] of this.entries) {
      if (now - e.lastUsed < this.idleMs || e.waiters.length > 0) continue;
      this.retire(key, e);
    }
    return this.entries.size;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Endpoints ejected now by circuit breaking, over every balancer. */
  ejected(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.balancer.ejected();
    return n;
  }

  close(): void {
    for (const e of this.entries.values()) e.stop();
    this.entries.clear();
  }
}
