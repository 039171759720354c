/**
 * `weft gateway` in one process: startGateway (proxy/gateway/server.ts) serving a Gateway's view that
 * the controller's own code computed (core computeGatewayStatuses) and sent through the wire types
 * (policy-controller gatewayViewMessage -> protobuf bytes -> proxy gatewayViewOf), routed by the
 * proxy's policy hook (core routeGateway), forwarding through the shared balancers and mTLS pools.
 *
 * Checked with counted requests:
 * - an HTTPRoute attached by sectionName splitting 50/50 between two Services: both get a share;
 * - a backend in another namespace without a ReferenceGrant: 500 `weft-proxy-error: not-permitted`;
 * - a meshed backend (a sidecar whose inbound policy admits only the gateway's SPIFFE ID): 200 through
 *   the gateway, with the gateway's identity in the backend's weft-client-id; 403 for a meshed client of
 *   another identity;
 * - no route for the Host's path: 404; a port the view no longer has is closed after the next view;
 * - per-route metrics on the gateway's /metrics.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HEADER_CLIENT_ID } from '../../core/contract.js';
import { computeGatewayStatuses } from '../../core/gateway/status.js';
import type { GatewayView } from '../../core/gateway/view.js';
import type { HTTPRoute, Service } from '../../core/kube.js';
import { startGateway } from '../../proxy/gateway/server.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import type { PolicyHook } from '../../proxy/policy-hook.js';
import { get } from '../support/proxy-client.js';
import { overTheWire, TestViewSource } from '../support/gateway-view.js';
import { fixedDestination, id, StaticCertificates, StaticDiscovery, startTestProxy, TEST_LIMITS, TestPki } from '../support/proxy-fixtures.js';
import { echoApp } from './proxy-policy-harness.js';

const GATEWAY_ID = id('edge', 'gw-weft-gateway');
const svc = (ns: string, name: string): Service => ({ metadata: { namespace: ns, name }, spec: { ports: [{ port: 80 }] } });
const route = (name: string, path: string, backends: { name: string; namespace?: string; weight?: number }[]): HTTPRoute => ({
  metadata: { namespace: 'edge', name, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    parentRefs: [{ name: 'gw', sectionName: 'web' }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: backends.map((b) => ({ name: b.name, port: 80, weight: b.weight ?? 1, ...(b.namespace !== undefined ? { namespace: b.namespace } : {}) })) }],
  },
});

/** The controller's view of the Gateway, through the protobuf bytes the stream carries. */
function viewOverTheWire(listeners: { name: string; port: number }[]): GatewayView | undefined {
  const s = computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [{ metadata: { namespace: 'edge', name: 'gw' }, spec: { gatewayClassName: 'weft', listeners: listeners.map((l) => ({ ...l, protocol: 'HTTP' })) } }],
    httpRoutes: [
      route('split', '/split', [{ name: 'v1', weight: 50 }, { name: 'v2', weight: 50 }]),
      route('cross', '/cross', [{ name: 'store', namespace: 'other' }]),
      route('meshed', '/meshed', [{ name: 'secure' }]),
    ],
    grpcRoutes: [], services: [svc('edge', 'v1'), svc('edge', 'v2'), svc('edge', 'secure'), svc('other', 'store')], referenceGrants: [], namespaces: [],
  }, { controllerName: 'weft.dev/gateway-controller', secrets: [], checkKeyPair: () => undefined, protocols: new Set(['HTTP']), runtime: () => ({ ready: true }) });
  return overTheWire({ namespace: 'edge', name: 'gw' }, s.views.get('edge/gw'));
}


test('the gateway routes by its Gateway\'s view: a counted 50/50 split, NOT_PERMITTED across namespaces, mTLS as the gateway\'s identity to a meshed backend', async (t) => {
  const pki = await TestPki.create();
  const v1 = await echoApp('v1-0');
  const v2 = await echoApp('v2-0');
  const secureApp = await echoApp('secure-0');
  t.after(() => [v1, v2, secureApp].forEach((a) => a.close()));

  // The meshed backend's sidecar admits only the gateway's identity.
  const onlyGateway: PolicyHook = {
    outbound: { route: (ctx) => ({ kind: 'forward', backend: ctx.target }) },
    inbound: { authorize: (ctx) => (ctx.peerIdentity === GATEWAY_ID ? { kind: 'allow' } : { kind: 'deny', code: 'FORBIDDEN' }) },
  };
  const sidecar = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('edge', 'secure'))), policy: onlyGateway, inboundDst: fixedDestination('127.0.0.1', secureApp.port) });
  t.after(() => sidecar.shutdown(0));

  const discovery = new StaticDiscovery();
  discovery.setEndpoints({ namespace: 'edge', name: 'v1', port: 80 }, [{ ip: '127.0.0.1', port: v1.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'v2', port: 80 }, [{ ip: '127.0.0.1', port: v2.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'secure', port: 80 }, [{ ip: '127.0.0.1', port: sidecar.inboundPort, meshed: true, identity: id('edge', 'secure') }]);

  const view = viewOverTheWire([{ name: 'web', port: 8080 }]);
  assert.ok(view, 'the controller serves the Gateway');
  const source = new TestViewSource(view);
  const metrics = new RouteMetrics();
  const gateway = await startGateway({
    limits: TEST_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
    policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
    certificates: new StaticCertificates(await pki.certificate(GATEWAY_ID)), readiness: [], view: source,
    host: '127.0.0.1', bindPort: () => 0, admin: { host: '127.0.0.1', port: 0 }, routeMetrics: metrics,
  });
  t.after(() => gateway.shutdown(0));
  assert.ok(gateway.isReady());
  const port = gateway.ports().get(8080);
  assert.ok(port !== undefined, 'listener port 8080 is served');
  const host = { host: 'shop.example.com' };

  const N = 200;
  const pods = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const r = await get(port, `/split/${i}`, { headers: host });
    assert.equal(r.status, 200);
    const pod = String(r.headers['x-echo-pod']);
    pods.set(pod, (pods.get(pod) ?? 0) + 1);
  }
  const s1 = pods.get('v1-0') ?? 0;
  const s2 = pods.get('v2-0') ?? 0;
  assert.equal(s1 + s2, N, JSON.stringify([...pods]));
  // 50/50 over 200 draws: outside 65/135 has probability below 1e-5.
  assert.ok(s1 >= 65 && s2 >= 65, `shares v1=${s1} v2=${s2}`);

  const cross = await get(port, '/cross', { headers: host });
  assert.equal(cross.status, 500);
  assert.equal(cross.headers['weft-proxy-error'], 'not-permitted');

  const meshed = await get(port, '/meshed', { headers: host });
  assert.equal(meshed.status, 200);
  assert.equal(secureApp.seen.at(-1)?.headers[HEADER_CLIENT_ID], GATEWAY_ID, 'the backend saw the gateway\'s SPIFFE ID');

  // Another meshed identity dialling the same sidecar is refused.
  const other = await startTestProxy({
    certificates: new StaticCertificates(await pki.certificate(id('edge', 'web'))),
    discovery: new StaticDiscovery().service('10.96.0.30', { namespace: 'edge', name: 'secure', port: 80 }, [{ ip: '127.0.0.1', port: sidecar.inboundPort, meshed: true, identity: id('edge', 'secure') }]),
    outboundDst: fixedDestination('10.96.0.30', 80),
  });
  t.after(() => other.shutdown(0));
  const refused = await get(other.outboundPort, '/meshed');
  assert.equal(refused.status, 403);

  const none = await get(port, '/nothing', { headers: host });
  assert.equal(none.status, 404);
  assert.equal(none.headers['weft-proxy-error'], 'no-route');

  const m = await get(gateway.adminPort!, '/metrics');
  const text = m.body.toString();
  const line = text.split('\n').find((l) => l.startsWith('weft_outbound_requests_total') && l.includes('route_name="split"') && l.includes('backend_name="v1"'));
  assert.ok(line !== undefined, 'a per-route series for the split route');
  assert.equal(Number(line.split(' ').at(-1)), s1);
  assert.match(line, /service_namespace="edge",service_name="gw",service_port="8080"/);

  // A new view without port 8080 (the listener moved to 9090) closes 8080 and serves 9090.
  source.set(viewOverTheWire([{ name: 'web', port: 9090 }]));
  await gateway.settled();
  assert.deepEqual([...gateway.ports().keys()], [9090]);
  const moved = await get(gateway.ports().get(9090)!, '/split/x', { headers: host });
  assert.equal(moved.status, 200);
  await assert.rejects(get(port, '/split/y', { headers: host }), 'the old port is closed');
});
