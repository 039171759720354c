/**
 * Test doubles and fixtures for the proxy's in-process integration tests (and the hop benchmark):
 * a mesh PKI from the identity CA library, a certificate provider that can rotate, static discovery,
 * an allow-all policy hook, and `meshPair`, which starts apps, server proxies and a client proxy wired
 * together on loopback. In-process there is no iptables: each listener gets an `originalDestination`
 * function saying where its connections were "redirected" from.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CertificateAuthority, createCsr, createTrustAnchor } from '../../identity/ca.js';
import { generateRsaKeyPair } from '../../identity/keys.js';
import type { KeyPairPem } from '../../identity/keys.js';
import { DEFAULT_LIMITS } from '../../proxy/config.js';
import type { ProxyLimits } from '../../proxy/config.js';
import type { OriginalDestination } from '../../proxy/original-dst.js';
import type { Certificate, CertificateProvider, Endpoint, ServicePort } from '../../proxy/io.js';
import type { PolicyHook } from '../../proxy/policy-hook.js';
import { startProxy } from '../../proxy/proxy.js';
import type { RunningProxy } from '../../proxy/proxy.js';
import { allowAll, fixedDestination, ready, StaticCertificates, StaticDiscovery } from './proxy-doubles.js';

export { allowAll, fixedDestination, ready, StaticCertificates, StaticDiscovery } from './proxy-doubles.js';

export const TRUST_DOMAIN = 'cluster.local';
export const id = (ns: string, sa: string): string => `spiffe://${TRUST_DOMAIN}/ns/${ns}/sa/${sa}`;

/** RSA key generation is the slow part: keys are made once per process and reused. */
const keyCache: KeyPairPem[] = [];
let keyIdx = 0;
async function key(): Promise<KeyPairPem> {
  if (keyCache.length < 8) {
    const k = await generateRsaKeyPair();
    keyCache.push(k);
    return k;
  }
  return keyCache[keyIdx++ % keyCache.length]!;
}

export class TestPki {
  private constructor(readonly anchorsPem: string, private readonly issuer: CertificateAuthority) {}

  static async create(): Promise<TestPki> {
    const anchor = await createTrustAnchor({ trustDomain: TRUST_DOMAIN });
    const issuerCred = await CertificateAuthority.load(anchor).createIssuer({ trustDomain: TRUST_DOMAIN });
    return new TestPki(anchor.anchorsPem, CertificateAuthority.load(issuerCred));
  }

  async certificate(identity: string, opts: { lifetimeMs?: number; now?: Date; backdateMs?: number } = {}): Promise<Certificate> {
    const k = await key();
    const issued = this.issuer.issueLeaf(createCsr(identity, k), { expectedSpiffeId: identity, ...opts });
    return { keyPem: k.privateKeyPem, certChainPem: [issued.certPem, ...issued.chainPem].join(''), trustAnchorsPem: this.anchorsPem, identity };
  }

  /** Signs a CSR as the identity service would (the controller double of the control-plane test). */
  signCsr(csrPem: string, identity: string): { leafPem: string; chainPem: string[]; notAfter: Date } {
    const issued = this.issuer.issueLeaf(csrPem, { expectedSpiffeId: identity });
    return { leafPem: issued.certPem, chainPem: [...issued.chainPem], notAfter: issued.notAfter };
  }

  /** A leaf with DNS names besides the SPIFFE ID, for servers that check names (the nginx reference). */
  async serving(identity: string, dnsNames: string[]): Promise<Certificate> {
    const s = await this.issuer.issueServing({ spiffeId: identity, dnsNames });
    return { keyPem: s.keyPem, certChainPem: [s.certPem, ...s.chainPem].join(''), trustAnchorsPem: this.anchorsPem, identity };
  }
}

export const TEST_LIMITS: ProxyLimits = { ...DEFAULT_LIMITS, connectTimeoutMs: 2_000, detectTimeoutMs: 2_000 };

export interface ProxyHandle {
  readonly proxy: RunningProxy;
  readonly identity: string;
}

export async function startTestProxy(o: {
  certificates: CertificateProvider;
  discovery?: StaticDiscovery;
  policy?: PolicyHook;
  podIp?: string;
  /** Where connections to the outbound listener were going. */
  outboundDst?: (s: Socket) => OriginalDestination | null;
  /** Which app port connections to the inbound listener were for. */
  inboundDst?: (s: Socket) => OriginalDestination | null;
  limits?: Partial<ProxyLimits>;
  opaquePorts?: number[];
  admin?: boolean;
  inboundHost?: string;
}): Promise<RunningProxy> {
  const discovery = o.discovery ?? new StaticDiscovery();
  let outboundPort = -1;
  const proxy = await startProxy({
    limits: { ...TEST_LIMITS, ...o.limits },
    podIp: o.podIp ?? '127.0.0.1',
    opaquePorts: new Set(o.opaquePorts ?? []),
    destinations: discovery,
    endpoints: discovery,
    policy: o.policy ?? allowAll,
    certificates: o.certificates,
    readiness: [ready],
    originalDestination: (s) => (s.localPort === outboundPort ? o.outboundDst?.(s) ?? null : o.inboundDst?.(s) ?? null),
    outbound: { host: '127.0.0.1', port: 0 },
    inbound: { host: o.inboundHost ?? '127.0.0.1', port: 0 },
    ...(o.admin === true ? { admin: { host: '127.0.0.1', port: 0 } } : {}),
  });
  outboundPort = proxy.outboundPort;
  return proxy;
}

/**
 * A meshed hop: `apps.length` server pods (app + server proxy with its own identity) behind one
 * Service at CLUSTER_IP:SERVICE_PORT, and a client proxy whose outbound connections all "go" there.
 */
export const CLUSTER_IP = '10.96.0.10';
export const SERVICE_PORT = 80;
export const SERVICE: ServicePort = { namespace: 'demo', name: 'web', port: SERVICE_PORT };

export interface MeshPair {
  readonly pki: TestPki;
  readonly client: RunningProxy;
  readonly servers: RunningProxy[];
  readonly discovery: StaticDiscovery;
  readonly endpoints: Endpoint[];
  close(): Promise<void>;
}

export async function meshPair(o: {
  appPorts: number[];
  pki?: TestPki;
  clientPolicy?: PolicyHook;
  serverPolicy?: PolicyHook;
  serverIdentity?: (i: number) => string;
  announcedIdentity?: (i: number) => string;
  limits?: Partial<ProxyLimits>;
  serverPodIp?: string;
}): Promise<MeshPair> {
  const pki = o.pki ?? (await TestPki.create());
  const servers: RunningProxy[] = [];
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < o.appPorts.length; i++) {
    const ident = o.serverIdentity?.(i) ?? id('demo', `web-${i}`);
    const appPort = o.appPorts[i]!;
    const p = await startTestProxy({
      certificates: new StaticCertificates(await pki.certificate(ident)),
      ...(o.serverPolicy !== undefined ? { policy: o.serverPolicy } : {}),
      inboundDst: fixedDestination(o.serverPodIp ?? '127.0.0.1', appPort),
      ...(o.serverPodIp !== undefined ? { podIp: o.serverPodIp } : {}),
      ...(o.limits !== undefined ? { limits: o.limits } : {}),
    });
    servers.push(p);
    endpoints.push({ ip: '127.0.0.1', port: p.inboundPort, meshed: true, identity: o.announcedIdentity?.(i) ?? ident });
  }
  const discovery = new StaticDiscovery().service(CLUSTER_IP, SERVICE, endpoints);
  const client = await startTestProxy({
    certificates: new StaticCertificates(await pki.certificate(id('demo', 'client'))),
    discovery,
    ...(o.clientPolicy !== undefined ? { policy: o.clientPolicy } : {}),
    outboundDst: fixedDestination(CLUSTER_IP, SERVICE_PORT),
    ...(o.limits !== undefined ? { limits: o.limits } : {}),
  });
  return {
    pki, client, servers, discovery, endpoints,
    close: async () => {
      await Promise.all([client, ...servers].map((p) => p.shutdown(0)));
    },
  };
}

export function listenHttp(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1'): Promise<Server & { port: number }> {
  const server = createServer({ keepAliveTimeout: 120_000 }, handler);
  return new Promise((resolve) => server.listen(0, host, () => resolve(Object.assign(server, { port: (server.address() as AddressInfo).port }))));
}

/**
 * A loopback port nothing listens on (connections to it are refused at once): 1-9, in turn, below the
 * ephemeral range. A port freed by closing a server (the old way) could be bound again by another test
 * file running in parallel before the test dialled it, which then reached that file's server.
 */
let nextDeadPort = 0;
export function deadPort(): Promise<number> {
  nextDeadPort = (nextDeadPort % 9) + 1;
  return Promise.resolve(nextDeadPort);
}
