/**
 * GatewayPolicy.Watch over the wire: the controller's real GrpcServer (TLS, client certificates from a
 * test mesh issuer), GatewayViewService fed by a real PolicyIndex driven with fixture objects (no
 * Kubernetes). Checked: only the Gateway's own ServiceAccount may watch it (another identity is
 * PERMISSION_DENIED, no certificate UNAUTHENTICATED); the first message is the current view; a route
 * change pushes a new snapshot; a Gateway that does not exist is `served: false` and the stream stays
 * open until it appears; an HTTPS listener is served with its Secret's PEM once the Secret exists, and
 * a Secret update pushes the new certificate.
 */
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { GatewayPolicyClient, GatewayPolicyService, type GatewayView } from '../../api/gen/weft/gateway/v1/gateway.js';
import { controllerDnsNames } from '../../core/contract.js';
import type { Gateway, GatewayClass, Secret } from '../../core/gateway/types.js';
import type { HTTPRoute, Namespace, Service } from '../../core/kube.js';
import { CertificateAuthority } from '../../identity/ca.js';
import { controllerSpiffeId } from '../../identity/spiffe.js';
import { Collected, createMesh, TRUST_DOMAIN, workloadCert, type Mesh, type WorkloadCert } from '../../test/support/policy-controller.js';
import { selfSignedServer, type TestServerCertificate } from '../../test/support/tls-certs.js';
import { GrpcServer } from '../grpc/server.js';
import { PolicyIndex } from '../index/index.js';
import { DEFAULT_CONVERT_OPTIONS } from './convert.js';
import { GatewayViewService } from './gateway.js';
import { streamMetrics } from './metrics.js';

let rv = 1;
const meta = (ns: string | undefined, name: string) => ({
  name, ...(ns !== undefined ? { namespace: ns } : {}), uid: `uid-${name}`, resourceVersion: String(rv++), generation: 1, creationTimestamp: '2026-01-01T00:00:00Z',
});
const namespace = (name: string): Namespace => ({ metadata: meta(undefined, name) });
const service = (ns: string, name: string, ip: string): Service => ({ metadata: meta(ns, name), spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
const gatewayClass: GatewayClass = { metadata: meta(undefined, 'weft'), spec: { controllerName: 'weft.dev/gateway-controller' } };
const gateway = (name: string): Gateway => ({ metadata: meta('edge', name), spec: { gatewayClassName: 'weft', listeners: [{ name: 'web', port: 8080, protocol: 'HTTP' }] } });
const route = (name: string, backends: string[]): HTTPRoute => ({
  metadata: meta('edge', name),
  spec: { parentRefs: [{ name: 'gw', sectionName: 'web' }], rules: [{ backendRefs: backends.map((b) => ({ name: b, port: 80, weight: 50 })) }] },
});

let mesh: Mesh;
let server: GrpcServer;
let address: string;
let index: PolicyIndex;
let views: GatewayViewService;
let gatewayCert: WorkloadCert;
let otherCert: WorkloadCert;

before(async () => {
  mesh = await createMesh();
  const ca = CertificateAuthority.load(mesh.issuer);
  const serving = await ca.issueServing({ spiffeId: controllerSpiffeId(TRUST_DOMAIN), dnsNames: controllerDnsNames(), lifetimeMs: 3_600_000 });
  const log = pino({ level: 'silent' });
  server = new GrpcServer(log);
  server.certificates.update(serving.keyPem, [serving.certPem, ...serving.chainPem].join(''), ca.anchorsPem);
  index = new PolicyIndex({ trustDomain: TRUST_DOMAIN, clusterNetworks: ['10.0.0.0/8'], referenceGrantCheck: true, autoFlush: true });
  views = new GatewayViewService({ index, trustDomain: TRUST_DOMAIN, convert: DEFAULT_CONVERT_OPTIONS, metrics: streamMetrics(new Registry()), log, delayMs: 5 });
  server.addService('weft.gateway.v1.GatewayPolicy', GatewayPolicyService, views.handlers());
  address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;
  const apply = (kind: Parameters<PolicyIndex['apply']>[0], obj: unknown) => {
    index.apply(kind, obj as never);
    views.changed(kind);
  };
  apply('Namespace', namespace('edge'));
  apply('GatewayClass', gatewayClass);
  apply('Gateway', gateway('gw'));
  apply('Service', service('edge', 'v1', '10.96.0.1'));
  apply('Service', service('edge', 'v2', '10.96.0.2'));
  apply('HTTPRoute', route('split', ['v1', 'v2']));
  index.flush();
  views.recompute();
  gatewayCert = await workloadCert(mesh, 'edge', 'gw-weft-gateway');
  otherCert = await workloadCert(mesh, 'edge', 'web');
});

after(async () => {
  views?.stop();
  await server?.close(1000);
});

function client(t: TestContext, cert: WorkloadCert | undefined): GatewayPolicyClient {
  const creds = cert === undefined
    ? credentials.createSsl(Buffer.from(mesh.anchor.certPem))
    : credentials.createSsl(Buffer.from(mesh.anchor.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.chainPem));
  const c = new GatewayPolicyClient(address, creds, { 'grpc.ssl_target_name_override': controllerDnsNames()[0]! });
  t.after(() => c.close());
  return c;
}

function watch(t: TestContext, cert: WorkloadCert | undefined, name: string): Collected<GatewayView> {
  const s = new Collected<GatewayView>(client(t, cert).watch({ namespace: 'edge', name }));
  t.after(() => s.cancel());
  return s;
}

const backendsOf = (v: GatewayView) => v.ports.flatMap((p) => p.listeners.flatMap((l) => l.hosts.flatMap((h) => h.httpRoutes.flatMap((r) => r.rules.flatMap((rule) => rule.backends.map((b) => (b.backend?.kind?.$case === 'service' ? `${b.backend.kind.value.name}:${b.weight}` : b.backend?.kind?.$case ?? 'none')))))));

test('the Gateway\'s ServiceAccount gets its view; a route change pushes the next snapshot', async (t) => {
  const s = watch(t, gatewayCert, 'gw');
  const first = (await s.waitFor('the first view', () => true)).msg;
  assert.equal(first.served, true);
  assert.deepEqual(first.ports.map((p) => [p.port, p.listeners.map((l) => `${l.name}/${l.protocol}/${l.hostname}`)]), [[8080, ['web/HTTP/']]]);
  assert.deepEqual(backendsOf(first), ['v1:50', 'v2:50']);
  index.apply('HTTPRoute', route('split', ['v1']) as never);
  views.changed('HTTPRoute');
  const next = await s.waitFor('the changed route', (m) => backendsOf(m).join() === 'v1:50');
  assert.equal(next.msg.version, first.version + 1);
});

test('another ServiceAccount of the namespace is PERMISSION_DENIED; no client certificate is UNAUTHENTICATED', async (t) => {
  const denied = await watch(t, otherCert, 'gw').failure();
  assert.equal(denied.code, status.PERMISSION_DENIED);
  assert.match(denied.details, /only ServiceAccount edge\/gw-weft-gateway may watch Gateway edge\/gw/);
  const anonymous = await watch(t, undefined, 'gw').failure();
  assert.equal(anonymous.code, status.UNAUTHENTICATED);
});

test('a Gateway that does not exist yet is served: false, then its view arrives on the same stream', async (t) => {
  const cert = await workloadCert(mesh, 'edge', 'later-weft-gateway');
  const s = watch(t, cert, 'later');
  const first = (await s.waitFor('the first snapshot', () => true)).msg;
  assert.equal(first.served, false);
  assert.deepEqual(first.ports, []);
  index.apply('Gateway', gateway('later') as never);
  views.changed('Gateway');
  const served = await s.waitFor('the view once the Gateway exists', (m) => m.served);
  assert.deepEqual(served.msg.ports.map((p) => p.port), [8080]);
});

test('an HTTPS listener is served once its kubernetes.io/tls Secret exists, with the Secret\'s PEM; a Secret update pushes the new certificate', async (t) => {
  const tlsSecret = (c: TestServerCertificate): Secret => ({
    metadata: meta('edge', 'shop-cert'), type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(c.certPem).toString('base64'), 'tls.key': Buffer.from(c.keyPem).toString('base64') },
  });
  const secure: Gateway = {
    metadata: meta('edge', 'secure'),
    spec: { gatewayClassName: 'weft', listeners: [{ name: 'shop', port: 8443, protocol: 'HTTPS', hostname: 'shop.example.com', tls: { certificateRefs: [{ name: 'shop-cert' }] } }] },
  };
  index.apply('Gateway', secure as never);
  views.changed('Gateway');
  const s = watch(t, await workloadCert(mesh, 'edge', 'secure-weft-gateway'), 'secure');
  const first = (await s.waitFor('the first snapshot', (m) => m.served)).msg;
  assert.deepEqual(first.ports, [], 'no Secret yet: the listener is not valid, nothing is served');

  const one = selfSignedServer(['shop.example.com']);
  index.apply('Secret', tlsSecret(one) as never);
  views.changed('Secret');
  const served = (await s.waitFor('the listener with its certificate', (m) => m.ports.length > 0)).msg;
  assert.deepEqual(served.ports.map((p) => [p.port, p.listeners.map((l) => `${l.name}/${l.protocol}/${l.hostname}`)]), [[8443, ['shop/HTTPS/shop.example.com']]]);
  assert.deepEqual(served.ports[0]!.listeners[0]!.certificates, [{ certChainPem: one.certPem, keyPem: one.keyPem }]);

  const two = selfSignedServer(['shop.example.com']);
  index.apply('Secret', tlsSecret(two) as never);
  views.changed('Secret');
  const rotated = (await s.waitFor('the rotated certificate', (m) => m.ports[0]?.listeners[0]?.certificates[0]?.certChainPem === two.certPem)).msg;
  assert.equal(rotated.ports[0]!.listeners[0]!.certificates[0]!.keyPem, two.keyPem);
});
