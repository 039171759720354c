/**
 * One proxy process of the benchmark's policy run: the real policy hook (proxy/policy/hook.ts) over
 * policy compiled by core from Kubernetes objects and sent through the wire conversion, with the
 * per-route metrics registered on an admin port. The client proxy has ONE HTTPRoute on the Service
 * (PathPrefix `/`, one backendRef, a RequestHeaderModifier); the server proxy has ONE Server with ONE
 * AuthorizationPolicy admitting the client's identity by MeshTLSAuthentication.
 * With `scale`, the client's Service also has `routes` more HTTPRoutes (one rule each, PathPrefix
 * `/api/v<i>`, a RequestHeaderModifier, a backendRef to one of `services` other Services), and those
 * Services have `endpointsPerService` endpoints each in discovery (127.1.x.y:9, where nothing
 * listens): the catch-all route the load takes is matched after every longer prefix, and the other
 * destinations stay in view for the run (their idle timeout is an hour).
 * Prints `READY {"outbound":p,"inbound":p,"admin":p}`; drains and exits on SIGTERM.
 * Usage: policy-harness.js <spec.json>
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { compileInboundPolicy } from '../../core/inbound/compile.js';
import type { ClusterSnapshot } from '../../core/kube.js';
import { EMPTY_SNAPSHOT } from '../../core/kube.js';
import { indexSnapshot, outboundView } from '../../core/outbound/policy.js';
import { GATEWAY_API_GROUP, POLICY_API_GROUP } from '../../core/contract.js';
import { DEFAULT_CONVERT_OPTIONS, portPolicy, servicePolicy } from '../../policy-controller/services/convert.js';
import { DEFAULT_LIMITS } from '../../proxy/config.js';
import { serveUntilSignal } from '../../proxy/lifecycle.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import type { OriginalDestination } from '../../proxy/original-dst.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { portPolicyOf, servicePortPolicyOf } from '../../proxy/policy/wire.js';
import type { Certificate, Endpoint } from '../../proxy/io.js';
import { startProxy } from '../../proxy/proxy.js';
import { StaticCertificates, StaticDiscovery } from '../../test/support/proxy-doubles.js';

export interface PolicyHarnessSpec {
  readonly role: 'client' | 'server';
  readonly certificate: Certificate;
  readonly outbound: { host: string; port: number };
  readonly inbound: { host: string; port: number };
  readonly admin: { host: string; port: number };
  /** Client: the Service dialled and its (meshed) endpoints. */
  readonly service?: { clusterIp: string; namespace: string; name: string; port: number; endpoints: Endpoint[] };
  /** Server: the app port behind the inbound listener and the identity the authorization admits. */
  readonly appPort?: number;
  readonly allowIdentity?: string;
  /** Client: many routes on the Service and many endpoints in view. */
  readonly scale?: { readonly routes: number; readonly services: number; readonly endpointsPerService: number };
}

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as PolicyHarnessSpec;
const store = new PolicyStore();
const metrics = new RouteMetrics();
const discovery = new StaticDiscovery();
const created = '2026-01-01T00:00:00Z';
let dst: OriginalDestination | null = null;

if (spec.role === 'client') {
  const s = spec.service!;
  discovery.service(s.clusterIp, { namespace: s.namespace, name: s.name, port: s.port }, s.endpoints);
  const scale = spec.scale ?? { routes: 0, services: 0, endpointsPerService: 0 };
  const others = Array.from({ length: scale.services }, (_, j) => ({ name: `${s.name}-${j}`, clusterIp: `10.97.${Math.floor(j / 250)}.${(j % 250) + 1}` }));
  for (const [j, o] of others.entries()) {
    const endpoints = Array.from({ length: scale.endpointsPerService }, (_, k): Endpoint => {
      const n = j * scale.endpointsPerService + k;
      return { ip: `127.1.${Math.floor(n / 250)}.${(n % 250) + 1}`, port: 9, meshed: false };
    });
    discovery.service(o.clusterIp, { namespace: s.namespace, name: o.name, port: s.port }, endpoints);
  }
  const snap: ClusterSnapshot = {
    ...EMPTY_SNAPSHOT,
    namespaces: [{ metadata: { name: s.namespace } }],
    services: [
      { metadata: { name: s.name, namespace: s.namespace }, spec: { clusterIP: s.clusterIp, ports: [{ name: 'http', port: s.port }] } },
      ...others.map((o) => ({ metadata: { name: o.name, namespace: s.namespace }, spec: { clusterIP: o.clusterIp, ports: [{ name: 'http', port: s.port }] } })),
    ],
    httpRoutes: [...Array.from({ length: scale.routes }, (_, i) => ({
      metadata: { name: `api-v${i}`, namespace: s.namespace, creationTimestamp: created },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: s.name, port: s.port }],
        rules: [{
          matches: [{ path: { type: 'PathPrefix', value: `/api/v${i}` } }],
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: `api-v${i}` }] } }],
          backendRefs: [{ name: others[i % Math.max(1, others.length)]?.name ?? s.name, port: s.port }],
        }],
      },
    })), {
      metadata: { name: 'web-route', namespace: s.namespace, creationTimestamp: created },
      spec: {
        parentRefs: [{ group: '', kind: 'Service', name: s.name, port: s.port }],
        rules: [{
          name: 'all',
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: 'web-route' }] } }],
          backendRefs: [{ name: s.name, port: s.port }],
        }],
      },
    }],
  };
  if (snap.httpRoutes.length !== scale.routes + 1) throw new Error('the benchmark routes were not built');
  const view = outboundView(indexSnapshot(snap), s.namespace, s.namespace, s.name, s.port);
  if (view === undefined || view.routes === 'none') throw new Error('the benchmark route did not attach');
  store.setOutbound({ namespace: s.namespace, name: s.name, port: s.port }, servicePortPolicyOf(servicePolicy(view, DEFAULT_CONVERT_OPTIONS), s.namespace));
  dst = { address: s.clusterIp, port: s.port, family: 4 };
} else {
  const appPort = spec.appPort!;
  const ns = 'demo';
  const snap: ClusterSnapshot = {
    ...EMPTY_SNAPSHOT,
    namespaces: [{ metadata: { name: ns } }],
    pods: [{
      metadata: { name: 'web-0', namespace: ns, labels: { app: 'web' } },
      spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: appPort }] }] },
      status: { podIP: '127.0.0.1' },
    }],
    servers: [{
      apiVersion: `${POLICY_API_GROUP}/v1alpha1`, kind: 'Server',
      metadata: { name: 'web-http', namespace: ns, creationTimestamp: created },
      spec: { podSelector: { matchLabels: { app: 'web' } }, port: appPort },
    }],
    meshTLSAuthentications: [{ metadata: { name: 'clients', namespace: ns }, spec: { identities: [spec.allowIdentity!] } }],
    authorizationPolicies: [{
      metadata: { name: 'clients-in', namespace: ns },
      spec: {
        targetRef: { group: POLICY_API_GROUP, kind: 'Server', name: 'web-http' },
        requiredAuthenticationRefs: [{ group: POLICY_API_GROUP, kind: 'MeshTLSAuthentication', name: 'clients' }],
      },
    }],
  };
  const p = compileInboundPolicy(snap, { namespace: ns, name: 'web-0' }, appPort, { probeNetworks: [] });
  if (p?.server === undefined || p.authorizations.length !== 1) throw new Error(`the benchmark Server or authorization did not apply (${GATEWAY_API_GROUP})`);
  store.setInbound(appPort, portPolicyOf({ version: 1, ...portPolicy(p, DEFAULT_CONVERT_OPTIONS) }, p.pod, appPort, 'cluster.local'));
  dst = { address: '127.0.0.1', port: appPort, family: 4 };
}

const proxy = await startProxy({
  limits: spec.scale === undefined ? DEFAULT_LIMITS : { ...DEFAULT_LIMITS, destinationIdleTimeoutMs: 3_600_000 },
  podIp: '127.0.0.1',
  opaquePorts: new Set(),
  destinations: discovery,
  endpoints: discovery,
  policy: createPolicyHook({ store, metrics }),
  routeMetrics: metrics,
  certificates: new StaticCertificates(spec.certificate),
  readiness: [],
  originalDestination: (_s: Socket) => dst,
  outbound: spec.outbound,
  inbound: spec.inbound,
  admin: spec.admin,
});
process.stdout.write(`READY ${JSON.stringify({ outbound: proxy.outboundPort, inbound: proxy.inboundPort, admin: proxy.adminPort ?? null })}\n`);
const code = await serveUntilSignal(proxy, 10_000, (l) => process.stderr.write(`policy-harness: ${l}\n`));
process.exit(code);
