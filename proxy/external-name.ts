/**
 * Endpoints of ExternalName Services: the addresses their DNS name resolves to, at the backendRef's
 * port, unmeshed (plaintext); an alias of an in-cluster Service (`<svc>.<ns>.svc.cluster.local`,
 * core/routes/external-name.ts clusterServiceOf) is that Service's port as discovery gives it, so a
 * meshed one is reached with mTLS and its identity checked. Every other Service port is watched through
 * the wrapped source (the Discovery stream).
 *
 *   watch(sp with externalName) -> resolve the name (A and AAAA with their TTLs; the system resolver,
 *                                  /etc/hosts and search domains included, when DNS has no record)
 *                               -> onUpdate(addresses at sp.port); again after the smallest TTL
 *                                  (bounded to [minTtlMs, maxTtlMs])
 *                               -> a failure: onUpdate([]) when the name does not exist (or never
 *                                  resolved), else the last addresses are kept; again after retryMs.
 *                                  `failure(sp)` says why, and requests are answered DNS_FAILED (503).
 *
 * One resolution loop per watch: the Balancers hold one watch per Service port, so a name is resolved
 * once per port it is used at. An IP literal is its own address, never looked up.
 */
import { lookup, Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { clusterServiceOf } from '../core/routes/external-name.js';
import type { Endpoint, Endpoints, ServicePort } from './io.js';

export interface Resolution {
  readonly addresses: readonly string[];
  /** How long the addresses may be used; undefined: the caller's default. */
  readonly ttlMs?: number | undefined;
}

/** Resolves a DNS name to addresses; rejects (with a Node `code`, e.g. ENOTFOUND) when it cannot. */
export type NameResolver = (name: string) => Promise<Resolution>;

const GONE = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'EAI_NONAME']);

/** The production resolver: DNS A and AAAA records with TTLs, then the system resolver (getaddrinfo). */
export function systemResolver(timeoutMs = 2000): NameResolver {
  const dns = new Resolver({ timeout: timeoutMs, tries: 2 });
  return async (name) => {
    const [v4, v6] = await Promise.allSettled([dns.resolve4(name, { ttl: true }), dns.resolve6(name, { ttl: true })]);
    const records = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
    if (records.length > 0) return { addresses: records.map((r) => r.address), ttlMs: Math.min(...records.map((r) => r.ttl)) * 1000 };
    // No DNS record: what the system resolver knows (/etc/hosts, search domains), without a TTL.
    const found = await lookup(name, { all: true });
    if (found.length === 0) throw Object.assign(new Error(`${name} has no address`), { code: 'ENODATA' });
    return { addresses: found.map((a) => a.address) };
  };
}

export interface ExternalNameOptions {
  readonly resolve?: NameResolver;
  /** Bounds of the re-resolution interval (a record's TTL is clamped into it); default 1 s and 60 s. */
  readonly minTtlMs?: number;
  readonly maxTtlMs?: number;
  /** The interval when the resolution gave no TTL; default 30 s. */
  readonly defaultTtlMs?: number;
  /** Retry interval after a failed resolution; default 5 s. */
  readonly retryMs?: number;
  readonly log?: (line: string) => void;
}

const keyOf = (sp: ServicePort) => `${sp.namespace}/${sp.name}:${sp.port} (${sp.externalName ?? ''})`;

export class ExternalNameEndpoints implements Endpoints {
  private readonly resolve: NameResolver;
  private readonly failures = new Map<string, string>();

  constructor(private readonly inner: Endpoints, private readonly o: ExternalNameOptions = {}) {
    this.resolve = o.resolve ?? systemResolver();
  }

  /** Why the ExternalName Service port has no address now; undefined when it resolved (or is not one). */
  failure(sp: ServicePort): string | undefined {
    return sp.externalName === undefined ? undefined : this.failures.get(keyOf(sp));
  }

  watch(sp: ServicePort, onUpdate: (endpoints: readonly Endpoint[]) => void): () => void {
    const name = sp.externalName;
    if (name === undefined) return this.inner.watch(sp, onUpdate);
    // An alias of an in-cluster Service: that Service's endpoints from discovery (meshed ones with mTLS).
    const aliased = clusterServiceOf(name);
    if (aliased !== undefined) return this.inner.watch({ namespace: aliased.namespace, name: aliased.name, port: sp.port }, onUpdate);
    const at = (ips: readonly string[]): Endpoint[] => ips.map((ip) => ({ ip, port: sp.port, meshed: false }));
    if (isIP(name) !== 0) {
      onUpdate(at([name]));
      return () => undefined;
    }
    const key = keyOf(sp);
    const minMs = this.o.minTtlMs ?? 1000;
    const maxMs = this.o.maxTtlMs ?? 60_000;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    let last: readonly string[] = [];
    const run = async () => {
      let nextMs: number;
      try {
        const r = await this.resolve(name);
        if (stopped) return;
        if (r.addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENODATA' });
        this.failures.delete(key);
        const sorted = [...r.addresses].sort();
        if (sorted.join() !== last.join()) {
          last = sorted;
          onUpdate(at(sorted));
        }
        nextMs = Math.min(maxMs, Math.max(minMs, r.ttlMs ?? this.o.defaultTtlMs ?? 30_000));
      } catch (err) {
        if (stopped) return;
        const code = (err as { code?: string }).code ?? '';
        const why = `ExternalName ${name} of Service ${sp.namespace}/${sp.name} does not resolve: ${code !== '' ? `${code} ` : ''}${(err as Error).message}`;
        if (this.failures.get(key) !== why) this.o.log?.(why);
        // A name that is gone has no addresses; a transient failure keeps the last ones.
        if (GONE.has(code) || last.length === 0) {
          this.failures.set(key, why);
          last = [];
          onUpdate([]);
        }
        nextMs = this.o.retryMs ?? 5000;
      }
      timer = setTimeout(() => void run(), nextMs);
      timer.unref();
    };
    void run();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      this.failures.delete(key);
    };
  }
}
