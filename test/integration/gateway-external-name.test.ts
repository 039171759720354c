/**
 * `weft gateway` with an ExternalName backend, in one process (walkthrough (b) of issue 20): an
 * HTTPRoute for `api.example.com` with a PathPrefix `/service` rewritten to `/` (URLRewrite
 * ReplacePrefixMatch), split 50/50 between a Service (endpoints from discovery) and an ExternalName
 * Service (its name resolved by the gateway's name resolver), computed by the controller's code and
 * sent through the wire types.
 *
 * Checked with counted requests: both backends get a share within the tolerance, each sees the path
 * without the prefix and the client's Host; the route's ResolvedRefs is True; an ExternalName whose
 * name does not resolve is answered 503 `weft-proxy-error: dns-failed`, then served once it resolves;
 * an ExternalName aliasing an in-cluster Service (`<svc>.<ns>.svc.cluster.local`) is served from that
 * Service's endpoints in discovery without a DNS lookup.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeGatewayStatuses } from '../../core/gateway/status.js';
import type { HTTPRoute, Service } from '../../core/kube.js';
import type { NameResolver } from '../../proxy/external-name.js';
import { startGateway } from '../../proxy/gateway/server.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { get } from '../support/proxy-client.js';
import { overTheWire, TestViewSource } from '../support/gateway-view.js';
import { id, StaticCertificates, StaticDiscovery, TEST_LIMITS, TestPki } from '../support/proxy-fixtures.js';
import { echoApp } from './proxy-policy-harness.js';

const EXTERNAL = 'echo-v2.partner.example';
/** An alias of an in-cluster Service: reached through discovery, never resolved. */
const IN_CLUSTER = 'echo-v1.edge.svc.cluster.local';

function world(v2Port: number, brokenName: string) {
  const services: Service[] = [
    { metadata: { namespace: 'edge', name: 'echo-v1' }, spec: { ports: [{ port: 80 }] } },
    { metadata: { namespace: 'edge', name: 'echo-v2-ext' }, spec: { type: 'ExternalName', externalName: EXTERNAL } },
    { metadata: { namespace: 'edge', name: 'broken-ext' }, spec: { type: 'ExternalName', externalName: brokenName } },
    { metadata: { namespace: 'edge', name: 'alias-ext' }, spec: { type: 'ExternalName', externalName: IN_CLUSTER } },
  ];
  const rewrite = { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } };
  const routes: HTTPRoute[] = [
    {
      metadata: { namespace: 'edge', name: 'service', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: {
        parentRefs: [{ name: 'gw' }], hostnames: ['api.example.com'],
        rules: [{
          matches: [{ path: { type: 'PathPrefix', value: '/service' } }], filters: [rewrite],
          backendRefs: [{ name: 'echo-v1', port: 80, weight: 50 }, { name: 'echo-v2-ext', port: v2Port, weight: 50 }],
        }],
      },
    },
    {
      metadata: { namespace: 'edge', name: 'broken', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { parentRefs: [{ name: 'gw' }], hostnames: ['api.example.com'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/broken' } }], backendRefs: [{ name: 'broken-ext', port: v2Port }] }] },
    },
    {
      metadata: { namespace: 'edge', name: 'alias', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { parentRefs: [{ name: 'gw' }], hostnames: ['api.example.com'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/alias' } }], backendRefs: [{ name: 'alias-ext', port: 80 }] }] },
    },
  ];
  const s = computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [{ metadata: { namespace: 'edge', name: 'gw' }, spec: { gatewayClassName: 'weft', listeners: [{ name: 'web', port: 8080, protocol: 'HTTP' }] } }],
    httpRoutes: routes, grpcRoutes: [], services, referenceGrants: [], namespaces: [],
  }, { controllerName: 'weft.dev/gateway-controller', secrets: [], checkKeyPair: () => undefined, protocols: new Set(['HTTP']), runtime: () => ({ ready: true }) });
  return { statuses: s, view: overTheWire({ namespace: 'edge', name: 'gw' }, s.views.get('edge/gw')) };
}


test('walkthrough (b): URLRewrite ReplacePrefixMatch, 50/50 between a Service and an ExternalName Service resolved by DNS', async (t) => {
  const pki = await TestPki.create();
  const v1 = await echoApp('v1-0');
  const v2 = await echoApp('v2-0');
  t.after(() => [v1, v2].forEach((a) => a.close()));

  // The gateway's resolver: the ExternalName resolves to the second app; `late.example` only after a while.
  let lateResolves = false;
  const lookups = new Map<string, number>();
  const resolveName: NameResolver = (name) => {
    lookups.set(name, (lookups.get(name) ?? 0) + 1);
    if (name === EXTERNAL || (name === 'late.example' && lateResolves)) return Promise.resolve({ addresses: ['127.0.0.1'], ttlMs: 1000 });
    return Promise.reject(Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' }));
  };

  const { statuses, view } = world(v2.port, 'late.example');
  const entry = statuses.routes.get('HTTPRoute/edge/service')?.[0];
  assert.equal(entry?.conditions.find((c) => c.type === 'ResolvedRefs')?.status, 'True', JSON.stringify(entry));
  assert.ok(view, 'the controller serves the Gateway');

  const discovery = new StaticDiscovery();
  discovery.setEndpoints({ namespace: 'edge', name: 'echo-v1', port: 80 }, [{ ip: '127.0.0.1', port: v1.port, meshed: false }]);
  const metrics = new RouteMetrics();
  const source = new TestViewSource(view);
  const gateway = await startGateway({
    limits: TEST_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
    policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
    certificates: new StaticCertificates(await pki.certificate(id('edge', 'gw-weft-gateway'))), readiness: [], view: source,
    host: '127.0.0.1', bindPort: () => 0, resolveName,
  });
  t.after(() => gateway.shutdown(0));
  const port = gateway.ports().get(8080);
  assert.ok(port !== undefined);

  const N = 200;
  const shares = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const r = await get(port, `/service/items/${i}?q=${i}`, { headers: { host: 'api.example.com' } });
    assert.equal(r.status, 200, `request ${i}: ${r.status} ${String(r.headers['weft-proxy-error'])}`);
    const pod = String(r.headers['x-echo-pod']);
    shares.set(pod, (shares.get(pod) ?? 0) + 1);
  }
  const s1 = shares.get('v1-0') ?? 0;
  const s2 = shares.get('v2-0') ?? 0;
  assert.equal(s1 + s2, N, JSON.stringify([...shares]));
  // 50/50 over 200 draws: outside 65/135 has probability below 1e-5.
  assert.ok(s1 >= 65 && s2 >= 65, `shares: Service ${s1}, ExternalName ${s2}`);
  for (const app of [v1, v2]) {
    assert.ok(app.seen.length > 0);
    for (const seen of app.seen) {
      assert.match(seen.path, /^\/items\/\d+\?q=\d+$/, `${app.pod} saw the path without the /service prefix`);
      assert.equal(seen.headers.host, 'api.example.com', `${app.pod} saw the client's Host`);
    }
  }
  // The name was resolved once and then reused, not looked up per request.
  assert.ok((lookups.get(EXTERNAL) ?? 0) <= 3, `lookups of ${EXTERNAL}: ${lookups.get(EXTERNAL)}`);

  // A name that does not resolve: 503 dns-failed; once it resolves (after the retry interval), served.
  const broken = await get(port, '/broken', { headers: { host: 'api.example.com' } });
  assert.equal(broken.status, 503);
  assert.equal(broken.headers['weft-proxy-error'], 'dns-failed');
  lateResolves = true;
  const deadline = Date.now() + 15_000;
  let last = broken.status;
  while (Date.now() < deadline && last !== 200) {
    await new Promise((r) => setTimeout(r, 250));
    last = (await get(port, '/broken', { headers: { host: 'api.example.com' } })).status;
  }
  assert.equal(last, 200, 'served once the name resolves');

  // An alias of an in-cluster Service is that Service's port as discovery gives it (meshed endpoints
  // would get mTLS): the aliased Service's app answers, and the name is never looked up.
  const before = v1.seen.length;
  for (let i = 0; i < 5; i++) {
    const r = await get(port, `/alias/${i}`, { headers: { host: 'api.example.com' } });
    assert.equal(r.status, 200, `alias ${i}: ${String(r.headers['weft-proxy-error'])}`);
    assert.equal(r.headers['x-echo-pod'], 'v1-0');
  }
  assert.equal(v1.seen.length, before + 5);
  assert.equal(lookups.get(IN_CLUSTER), undefined, 'an in-cluster alias is not resolved by DNS');
});
