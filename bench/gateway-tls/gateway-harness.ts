/**
 * The gateway process of the TLS-termination benchmark: `startGateway` (proxy/gateway/server.ts, what
 * `weft gateway` runs) serving a view the controller's own code computed and sent through the wire
 * types, as in a cluster: core computeGatewayStatuses (with the controller's key-pair check) over one
 * Gateway with ONE HTTPS listener (no hostname: wrk names no server, so every SNI selects it) whose
 * certificate is a kubernetes.io/tls Secret, and ONE HTTPRoute (PathPrefix `/`) to ONE Service;
 * policy-controller gatewayViewMessage -> protobuf bytes -> proxy gatewayViewOf. The Service's one
 * endpoint is the benchmark's nginx backend on loopback, outside the mesh (plaintext HTTP/1.1,
 * keep-alive pool). Per-route metrics are registered on the admin port, as `weft gateway` does.
 * Production limits (DEFAULT_LIMITS). Prints `READY {"port":p,"admin":p}`; drains and exits on SIGTERM.
 * Usage: gateway-harness.js <spec.json>
 */
import { readFileSync } from 'node:fs';
import { computeGatewayStatuses } from '../../core/gateway/status.js';
import type { GatewayView } from '../../core/gateway/view.js';
import { checkKeyPair } from '../../policy-controller/status/key-pair.js';
import { DEFAULT_LIMITS } from '../../proxy/config.js';
import { startGateway } from '../../proxy/gateway/server.js';
import { overTheWire, TestViewSource } from '../../test/support/gateway-view.js';
import type { Certificate } from '../../proxy/io.js';
import { serveUntilSignal } from '../../proxy/lifecycle.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { StaticCertificates, StaticDiscovery } from '../../test/support/proxy-doubles.js';

export interface GatewayHarnessSpec {
  /** The gateway's own mesh identity (its ServiceAccount's certificate). */
  readonly identity: Certificate;
  /** The HTTPS listener's certificate and key (PEM), as the Secret holds them. */
  readonly serving: { readonly certPem: string; readonly keyPem: string };
  /** The Gateway listener's port (bound on an ephemeral port: the bench binds 0). */
  readonly listenerPort: number;
  readonly backendPort: number;
}

/** The names the benchmark's Gateway objects carry (run.ts reads the route's counter by them). */
export const BENCH_GATEWAY = { namespace: 'edge', gateway: 'gw', listener: 'https', route: 'web-route', service: 'web' } as const;

const spec = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as GatewayHarnessSpec;
const { namespace, gateway: gwName, listener, route, service } = BENCH_GATEWAY;
const statuses = computeGatewayStatuses({
  gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
  gateways: [{
    metadata: { namespace, name: gwName },
    spec: { gatewayClassName: 'weft', listeners: [{ name: listener, port: spec.listenerPort, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'serving' }] } }] },
  }],
  httpRoutes: [{
    metadata: { namespace, name: route, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { parentRefs: [{ name: gwName, sectionName: listener }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: service, port: 80 }] }] },
  }],
  grpcRoutes: [], services: [{ metadata: { namespace, name: service }, spec: { ports: [{ port: 80 }] } }], referenceGrants: [], namespaces: [],
}, {
  controllerName: 'weft.dev/gateway-controller',
  secrets: [{
    metadata: { namespace, name: 'serving', resourceVersion: '1' }, type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(spec.serving.certPem).toString('base64'), 'tls.key': Buffer.from(spec.serving.keyPem).toString('base64') },
  }],
  checkKeyPair, protocols: new Set(['HTTP', 'HTTPS']), runtime: () => ({ ready: true }),
});
const conditions = statuses.gateways.get(`${namespace}/${gwName}`)?.listeners?.find((l) => l.name === listener)?.conditions ?? [];
if (!conditions.some((c) => c.type === 'Programmed' && c.status === 'True')) {
  throw new Error(`the benchmark's HTTPS listener is not programmed: ${conditions.map((c) => `${c.type}=${c.status} ${c.reason}`).join(', ')}`);
}
const view: GatewayView | undefined = overTheWire({ namespace, name: gwName }, statuses.views.get(`${namespace}/${gwName}`));
if (view?.ports.length !== 1 || view.ports[0]!.listeners[0]?.certificates.length !== 1) throw new Error('the benchmark\'s gateway view has no HTTPS listener with a certificate');

const source = new TestViewSource(view);
const discovery = new StaticDiscovery();
discovery.setEndpoints({ namespace, name: service, port: 80 }, [{ ip: '127.0.0.1', port: spec.backendPort, meshed: false }]);
const metrics = new RouteMetrics();
const gateway = await startGateway({
  limits: DEFAULT_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
  policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
  certificates: new StaticCertificates(spec.identity), readiness: [], view: source,
  host: '127.0.0.1', bindPort: () => 0, admin: { host: '127.0.0.1', port: 0 }, routeMetrics: metrics,
  log: (l) => process.stderr.write(`gateway-harness: ${l}\n`),
});
const port = gateway.ports().get(spec.listenerPort);
if (port === undefined || !gateway.isReady()) throw new Error('the benchmark gateway is not serving its HTTPS port');
process.stdout.write(`READY ${JSON.stringify({ port, admin: gateway.adminPort ?? null })}\n`);
process.exit(await serveUntilSignal(gateway, 10_000, (l) => process.stderr.write(`gateway-harness: ${l}\n`)));
