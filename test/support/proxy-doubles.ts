/**
 * Test doubles for the ports the proxy depends on: a certificate provider that can rotate, static
 * discovery, an allow-all policy hook and fixed original destinations. No PKI code here, so a proxy
 * process built on them (test/support/proxy-harness.ts, the hop benchmark) loads only what
 * production would.
 */
import type { OriginalDestination } from '../../proxy/original-dst.js';
import type { Certificate, CertificateProvider, Destination, Destinations, Endpoint, Endpoints, ServicePort } from '../../proxy/io.js';
import type { PolicyHook } from '../../proxy/policy-hook.js';

export class StaticCertificates implements CertificateProvider {
  private cert: Certificate | undefined;
  private readonly listeners = new Set<(c: Certificate) => void>();
  constructor(cert?: Certificate) {
    this.cert = cert;
  }
  current(): Certificate | undefined {
    return this.cert;
  }
  set(cert: Certificate): void {
    this.cert = cert;
    for (const l of [...this.listeners]) l(cert);
  }
  onChange(l: (c: Certificate) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

const spKey = (sp: ServicePort) => `${sp.namespace}/${sp.name}:${sp.port}`;

/** Discovery double: addresses map to Services or pods; Service ports have endpoint sets. */
export class StaticDiscovery implements Destinations, Endpoints {
  private readonly addresses = new Map<string, Destination>();
  private readonly sets = new Map<string, readonly Endpoint[]>();
  private readonly watchers = new Map<string, Set<(e: readonly Endpoint[]) => void>>();

  service(clusterIp: string, sp: ServicePort, endpoints?: readonly Endpoint[], protocolHint: 'detect' | 'opaque' = 'detect'): this {
    this.addresses.set(`${clusterIp}:${sp.port}`, { kind: 'service', service: sp, protocolHint });
    if (endpoints !== undefined) this.setEndpoints(sp, endpoints);
    return this;
  }

  pod(ip: string, port: number, meshed: boolean, identity?: string): this {
    this.addresses.set(`${ip}:${port}`, { kind: 'endpoint', meshed, ...(identity !== undefined ? { identity } : {}), protocolHint: 'detect' });
    return this;
  }

  setEndpoints(sp: ServicePort, endpoints: readonly Endpoint[]): void {
    this.sets.set(spKey(sp), endpoints);
    for (const w of this.watchers.get(spKey(sp)) ?? []) w(endpoints);
  }

  resolve(ip: string, port: number): Destination {
    return this.addresses.get(`${ip}:${port}`) ?? { kind: 'unknown' };
  }

  watch(sp: ServicePort, onUpdate: (e: readonly Endpoint[]) => void): () => void {
    const k = spKey(sp);
    let set = this.watchers.get(k);
    if (set === undefined) this.watchers.set(k, (set = new Set()));
    set.add(onUpdate);
    const now = this.sets.get(k);
    if (now !== undefined) onUpdate(now);
    return () => set.delete(onUpdate);
  }
}

/** Forwards to the Service port the app dialled; allows everything inbound. */
export const allowAll: PolicyHook = {
  outbound: { route: (ctx) => ({ kind: 'forward', backend: ctx.target }) },
  inbound: { authorize: () => ({ kind: 'allow' }) },
};

export const ready = { isReady: () => true };

export function fixedDestination(address: string, port: number): () => OriginalDestination {
  const d: OriginalDestination = { address, port, family: address.includes(':') ? 6 : 4 };
  return () => d;
}

