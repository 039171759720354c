/**
 * BackendTLSPolicy through `weft gateway` in one process: the controller's decisions (core
 * computeGatewayStatuses for the view, evaluateBackendTls + backendTlsForRoutes for the policies, the
 * Gateway's clientCertificateRef resolved from a kubernetes.io/tls Secret), sent through the wire types
 * (gatewayViewMessage -> protobuf bytes -> gatewayViewOf), served by startGateway against a real HTTPS
 * backend that requires a client certificate from its CA.
 *
 * Checked with counted requests: a policy with the backend's CA and name -> 200, and the backend saw
 * the Gateway's client certificate; a policy naming another host, one with another CA, and one whose
 * ConfigMap does not exist -> 502 `backend-tls` each (none reaches the backend); a Service no policy
 * targets is dialled in plaintext (the TLS backend drops it: 502, not backend-tls);
 * the policy's status decisions (Accepted, NoValidCACertificate) are what the controller writes.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { test } from 'node:test';
import { backendTlsForRoutes, evaluateBackendTls, type BackendTLSPolicy, type CaSource } from '../../core/gateway/backend-tls.js';
import { computeGatewayStatuses } from '../../core/gateway/status.js';
import { viewRoutes, type GatewayView } from '../../core/gateway/view.js';
import type { Secret } from '../../core/gateway/types.js';
import type { HTTPRoute, Service } from '../../core/kube.js';
import { CertificateAuthority, createTrustAnchor } from '../../identity/ca.js';
import { checkCaBundle, checkKeyPair } from '../../policy-controller/status/key-pair.js';
import { startGateway } from '../../proxy/gateway/server.js';
import { overTheWire, TestViewSource } from '../support/gateway-view.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { get } from '../support/proxy-client.js';
import { id, StaticCertificates, StaticDiscovery, TEST_LIMITS, TestPki } from '../support/proxy-fixtures.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const svc = (name: string): Service => ({ metadata: { namespace: 'apps', name }, spec: { ports: [{ name: 'https', port: 443 }] } });
const policy = (name: string, target: string, hostname: string, caMap: string): BackendTLSPolicy => ({
  metadata: { namespace: 'apps', name, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { targetRefs: [{ group: '', kind: 'Service', name: target }], validation: { caCertificateRefs: [{ group: '', kind: 'ConfigMap', name: caMap }], hostname } },
});

test('BackendTLSPolicy: verified TLS with the Gateway\'s client certificate; a wrong name, CA or missing ConfigMap answers 502 backend-tls', async (t) => {
  const anchor = await createTrustAnchor({ trustDomain: 'backend.test' });
  const other = await createTrustAnchor({ trustDomain: 'other.test' });
  const ca = CertificateAuthority.load(anchor);
  const serving = await ca.issueServing({ spiffeId: 'spiffe://backend.test/ns/apps/sa/secure', dnsNames: ['secure.apps.example'] });
  const client = await ca.issueServing({ spiffeId: 'spiffe://backend.test/ns/edge/sa/gw-client', dnsNames: [] });

  let hits = 0;
  let lastClient = '';
  const backend = createHttpsServer({ cert: serving.certPem, key: serving.keyPem, ca: anchor.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    hits++;
    lastClient = (req.socket as TLSSocket).getPeerCertificate().subjectaltname ?? '';
    res.end(`secure ${req.url ?? ''}`);
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  t.after(() => backend.close());
  const backendPort = (backend.address() as AddressInfo).port;

  const names = ['secure', 'wrong-name', 'wrong-ca', 'no-ca', 'plain'];
  const route: HTTPRoute = {
    metadata: { namespace: 'edge', name: 'r', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      parentRefs: [{ name: 'gw' }],
      rules: names.map((n) => ({ matches: [{ path: { type: 'PathPrefix', value: `/${n}` } }], backendRefs: [{ name: n, namespace: 'apps', port: 443 }] })),
    },
  };
  const secret: Secret = { metadata: { namespace: 'edge', name: 'client' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64(client.certPem), 'tls.key': b64(client.keyPem) } };
  const services = names.map(svc);
  const s = computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [{ metadata: { namespace: 'edge', name: 'gw' }, spec: { gatewayClassName: 'weft', listeners: [{ name: 'web', port: 8080, protocol: 'HTTP' }], tls: { backend: { clientCertificateRef: { name: 'client' } } } } }],
    httpRoutes: [route], grpcRoutes: [], services, namespaces: [],
    referenceGrants: [{ metadata: { namespace: 'apps', name: 'edge' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'edge' }], to: [{ group: '', kind: 'Service' }] } }],
  }, { controllerName: 'weft.dev/gateway-controller', secrets: [secret], checkKeyPair, protocols: new Set(['HTTP']), runtime: () => ({ ready: true }) });
  const gwStatus = s.gateways.get('edge/gw');
  assert.ok(gwStatus?.conditions?.some((c) => c.type === 'ResolvedRefs' && c.status === 'True'), JSON.stringify(gwStatus?.conditions));

  const maps: CaSource[] = [
    { metadata: { namespace: 'apps', name: 'ca' }, data: { 'ca.crt': anchor.certPem } },
    { metadata: { namespace: 'apps', name: 'other-ca' }, data: { 'ca.crt': other.certPem } },
  ];
  const evaluation = evaluateBackendTls([
    policy('secure', 'secure', 'secure.apps.example', 'ca'),
    policy('wrong-name', 'wrong-name', 'other.apps.example', 'ca'),
    policy('wrong-ca', 'wrong-ca', 'secure.apps.example', 'other-ca'),
    policy('no-ca', 'no-ca', 'secure.apps.example', 'missing'),
  ], services, maps, checkCaBundle);
  assert.equal(evaluation.policies.get('apps/secure')?.accepted.reason, 'Accepted');
  assert.equal(evaluation.policies.get('apps/no-ca')?.accepted.reason, 'NoValidCACertificate');

  const base = s.views.get('edge/gw');
  assert.ok(base);
  const withTls: GatewayView = { ...base, backendTls: backendTlsForRoutes(evaluation, viewRoutes(base), services) };
  const view = overTheWire({ namespace: 'edge', name: 'gw' }, withTls);
  assert.ok(view?.backendTls?.size === 4, 'four Service ports have a policy');
  assert.ok(view.backendClientCertificate, 'the client certificate travels with the view');
  const source = new TestViewSource(view);

  const pki = await TestPki.create();
  const discovery = new StaticDiscovery();
  for (const n of names) discovery.setEndpoints({ namespace: 'apps', name: n, port: 443 }, [{ ip: '127.0.0.1', port: backendPort, meshed: false }]);
  const metrics = new RouteMetrics();
  const gateway = await startGateway({
    limits: TEST_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
    policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
    certificates: new StaticCertificates(await pki.certificate(id('edge', 'gw-weft-gateway'))), readiness: [], view: source,
    host: '127.0.0.1', bindPort: () => 0, routeMetrics: metrics,
  });
  t.after(() => gateway.shutdown(0));
  const port = gateway.ports().get(8080);
  assert.ok(port !== undefined);

  const N = 20;
  const outcomes = new Map<string, string[]>();
  for (const n of names) {
    for (let i = 0; i < N; i++) {
      const r = await get(port, `/${n}/${i}`, { headers: { host: 'shop.example' } });
      const key = `${r.status} ${String(r.headers['weft-proxy-error'] ?? '')}`.trim();
      outcomes.set(n, [...(outcomes.get(n) ?? []), key]);
    }
  }
  const tally = (n: string) => Object.fromEntries([...new Set(outcomes.get(n))].map((k) => [k, outcomes.get(n)!.filter((x) => x === k).length]));
  console.log(`gateway backend TLS, ${N} requests each: ${names.map((n) => `${n} ${JSON.stringify(tally(n))}`).join('; ')}`);
  assert.deepEqual(tally('secure'), { 200: N });
  assert.match(lastClient, /URI:spiffe:\/\/backend\.test\/ns\/edge\/sa\/gw-client/, 'the backend verified the Gateway\'s client certificate');
  assert.equal(hits, N, 'only the verified policy reached the backend');
  for (const n of ['wrong-name', 'wrong-ca', 'no-ca']) assert.deepEqual(tally(n), { '502 backend-tls': N }, n);
  // No policy: dialled in plaintext, which the TLS backend drops (the reason is the plain path's, never backend-tls).
  assert.ok(outcomes.get('plain')!.every((k) => k.startsWith('502 ') && !k.includes('backend-tls')), JSON.stringify(tally('plain')));
});
