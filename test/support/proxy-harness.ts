/**
 * Runs one proxy as its own process with static discovery, an allow-all policy and a certificate
 * given in a JSON spec file: used by the network-namespace test (with the kernel's SO_ORIGINAL_DST)
 * and by bench/proxy-hop (with fixed original destinations, so no iptables is needed).
 * Prints `READY {"outbound":p,"inbound":p,"admin":p}` once serving; drains and exits on SIGTERM.
 * Usage: proxy-harness.js <spec.json>
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { DEFAULT_LIMITS, parseProxyConfig } from '../../proxy/config.js';
import { connectControlPlane } from '../../proxy/control-plane.js';
import { serveUntilSignal } from '../../proxy/lifecycle.js';
import { originalDestination } from '../../proxy/original-dst.js';
import type { OriginalDestination } from '../../proxy/original-dst.js';
import type { Certificate, Endpoint } from '../../proxy/io.js';
import { startProxy } from '../../proxy/proxy.js';
import type { ProxyOptions } from '../../proxy/proxy.js';
import { allowAll, StaticCertificates, StaticDiscovery } from './proxy-doubles.js';

export interface HarnessSpec {
  readonly certificate: Certificate;
  readonly podIp: string;
  readonly outbound: { host: string; port: number };
  readonly inbound: { host: string; port: number };
  readonly admin?: { host: string; port: number };
  readonly services?: { clusterIp: string; namespace: string; name: string; port: number; endpoints: Endpoint[] }[];
  readonly pods?: { ip: string; port: number; meshed: boolean; identity?: string }[];
  /**
   * 'kernel' reads SO_ORIGINAL_DST; otherwise fixed destinations per listener, or for outbound `rotate`:
   * connection i goes to 127.(1 + i / 65536).(i / 256 % 256).(i % 256):port, a new address every time.
   */
  readonly originalDst: 'kernel' | {
    outbound?: { address: string; port: number } | { rotate: { port: number } };
    inbound?: { address: string; port: number };
  };
  readonly graceMs?: number;
  /**
   * Run the real control-plane adapter (certificate, destinations, discovery, policy from a controller)
   * with this proxy environment instead of the static doubles; limits come from it too.
   */
  readonly controlPlane?: Record<string, string>;
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as HarnessSpec;
const discovery = new StaticDiscovery();
for (const s of spec.services ?? []) discovery.service(s.clusterIp, { namespace: s.namespace, name: s.name, port: s.port }, s.endpoints);
for (const p of spec.pods ?? []) discovery.pod(p.ip, p.port, p.meshed, p.identity);

let outboundPort = -1;
const fixed = (d: { address: string; port: number } | undefined): OriginalDestination | null =>
  d === undefined ? null : { address: d.address, port: d.port, family: d.address.includes(':') ? 6 : 4 };
let rotated = 0;
const outboundDst = (d: NonNullable<Exclude<HarnessSpec['originalDst'], 'kernel'>['outbound']> | undefined): OriginalDestination | null => {
  if (d === undefined || !('rotate' in d)) return fixed(d);
  const i = rotated++;
  return { address: `127.${1 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`, port: d.rotate.port, family: 4 };
};
const od = spec.originalDst;
const origDst = od === 'kernel' ? originalDestination : (s: Socket) => (s.localPort === outboundPort ? outboundDst(od.outbound) : fixed(od.inbound));

let sources: Pick<ProxyOptions, 'destinations' | 'endpoints' | 'policy' | 'certificates' | 'readiness' | 'limits'> & Partial<Pick<ProxyOptions, 'routeMetrics'>> = {
  limits: DEFAULT_LIMITS, destinations: discovery, endpoints: discovery, policy: allowAll, certificates: new StaticCertificates(spec.certificate), readiness: [],
};
if (spec.controlPlane !== undefined) {
  const parsed = parseProxyConfig(spec.controlPlane);
  if (!parsed.ok) throw new Error(`harness: control plane config: ${parsed.errors.join('; ')}`);
  const cp = await connectControlPlane(parsed.config, { log: (l) => process.stderr.write(`harness: ${l}\n`) });
  sources = { limits: parsed.config.limits, destinations: cp.destinations, endpoints: cp.endpoints, policy: cp.policy, certificates: cp.certificates, readiness: cp.readiness, routeMetrics: cp.routeMetrics };
}

const proxy = await startProxy({
  ...sources,
  podIp: spec.podIp,
  opaquePorts: new Set(),
  originalDestination: origDst,
  outbound: spec.outbound,
  inbound: spec.inbound,
  ...(spec.admin !== undefined ? { admin: spec.admin } : {}),
});
outboundPort = proxy.outboundPort;
process.stdout.write(`READY ${JSON.stringify({ outbound: proxy.outboundPort, inbound: proxy.inboundPort, admin: proxy.adminPort ?? null })}\n`);
const code = await serveUntilSignal(proxy, spec.graceMs ?? 10_000, (l) => process.stderr.write(`harness: ${l}\n`));
process.exit(code);
