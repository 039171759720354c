/**
 * `weft gateway` terminating TLS for HTTPS listeners, in one process: startGateway serving a view the
 * controller's own code computed from a Gateway and its kubernetes.io/tls Secrets (core
 * computeGatewayStatuses with the controller's key-pair check), sent through the wire types
 * (gatewayViewMessage -> protobuf bytes -> gatewayViewOf), with real TLS handshakes against it.
 *
 * One port (8443), two HTTPS listeners with their own certificates: `exact` (a.example.com) and `wild`
 * (*.example.com). Checked:
 * - the SNI picks the listener and so the certificate (verified against each certificate as the only
 *   trust anchor, with the hostname check), exact before wildcard; each listener's route answers;
 * - ALPN: a client offering h2 and http/1.1 gets http/1.1 (the gateway keeps the protocol to the
 *   backend, and HTTP backends speak HTTP/1.1); a client offering only h2 gets HTTP/2, to an h2c backend;
 * - a Host of the other listener on a connection whose SNI chose this one: 421 `misdirected`; a Host
 *   no listener serves: 404; no SNI and no listener without hostname: the handshake fails; on another
 *   port, a listener without hostname serves a ClientHello without SNI and any SNI; plaintext on the
 *   HTTPS port: closed;
 * - rotation: a new Secret content (a new view) is served to new handshakes, while an established
 *   keep-alive connection keeps working on its old certificate, on the same bound port;
 * - a Secret whose key is not the certificate's: the listener is not programmed
 *   (ResolvedRefs=False InvalidCertificateRef) and its hostname then falls to the wildcard listener.
 *
 * TLS passthrough (TLSRoute): a TLS listener *.pass.example.com and an HTTPS one web.pass.example.com
 * on one port; connections with SNI db.pass.example.com reach two TLS backends 50/50 (counted) with the
 * backends' own certificate (verified by the client: the gateway cannot read them); the HTTPS
 * listener's SNI is terminated by the gateway; an SNI without TLSRoute is closed.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { connect as connectH2 } from 'node:http2';
import { Agent, request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { test } from 'node:test';
import { computeGatewayStatuses, type GatewayStatuses } from '../../core/gateway/status.js';
import type { Secret } from '../../core/gateway/types.js';
import type { GatewayView } from '../../core/gateway/view.js';
import type { HTTPRoute, Service } from '../../core/kube.js';
import { checkKeyPair } from '../../policy-controller/status/key-pair.js';
import { startGateway } from '../../proxy/gateway/server.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { overTheWire, TestViewSource } from '../support/gateway-view.js';
import { id, StaticCertificates, StaticDiscovery, TEST_LIMITS, TestPki } from '../support/proxy-fixtures.js';
import { selfSignedServer, type TestServerCertificate } from '../support/tls-certs.js';
import { get } from '../support/proxy-client.js';
import { echoApp, echoH2App } from './proxy-policy-harness.js';

const GATEWAY_ID = id('edge', 'gw-weft-gateway');
const svc = (name: string): Service => ({ metadata: { namespace: 'edge', name }, spec: { ports: [{ port: 80 }] } });
const route = (name: string, sectionName: string, backend: string, path = '/'): HTTPRoute => ({
  metadata: { namespace: 'edge', name, creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { parentRefs: [{ name: 'gw', sectionName }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: backend, port: 80 }] }] },
});
const secret = (name: string, c: TestServerCertificate, resourceVersion: string): Secret => ({
  metadata: { namespace: 'edge', name, resourceVersion },
  type: 'kubernetes.io/tls',
  data: { 'tls.crt': Buffer.from(c.certPem).toString('base64'), 'tls.key': Buffer.from(c.keyPem).toString('base64') },
});

function compute(secrets: Secret[]): GatewayStatuses {
  return computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [{
      metadata: { namespace: 'edge', name: 'gw' },
      spec: {
        gatewayClassName: 'weft',
        listeners: [
          { name: 'exact', port: 8443, protocol: 'HTTPS', hostname: 'a.example.com', tls: { certificateRefs: [{ name: 'cert-a' }] } },
          { name: 'wild', port: 8443, protocol: 'HTTPS', hostname: '*.example.com', tls: { certificateRefs: [{ name: 'cert-wild' }] } },
          { name: 'any', port: 9443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert-any' }] } },
        ],
      },
    }],
    httpRoutes: [route('to-a', 'exact', 'v1'), route('to-wild', 'wild', 'v2'), route('to-h2', 'exact', 'h2', '/h2'), route('to-any', 'any', 'v1')],
    grpcRoutes: [], services: [svc('v1'), svc('v2'), svc('h2')], referenceGrants: [], namespaces: [],
  }, { controllerName: 'weft.dev/gateway-controller', secrets, checkKeyPair, protocols: new Set(['HTTP', 'HTTPS']), runtime: () => ({ ready: true }) });
}

/** The controller's view of the Gateway, through the protobuf bytes the stream carries. */
const viewOf = (s: GatewayStatuses): GatewayView | undefined => overTheWire({ namespace: 'edge', name: 'gw' }, s.views.get('edge/gw'));


interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly serial: string;
  readonly localPort: number;
}

/** One HTTPS/1.1 request with SNI `sni`, trusting only `ca` (hostname checked against the SNI). */
function httpsGet(port: number, o: { sni: string; host?: string; path?: string; ca: string; agent?: Agent; skipHostnameCheck?: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1', port, path: o.path ?? '/', servername: o.sni, ca: o.ca, agent: o.agent ?? false,
      headers: { host: o.host ?? o.sni }, ...(o.skipHostnameCheck === true ? { checkServerIdentity: () => undefined } : {}),
    }, (res) => {
      const socket = res.socket as TLSSocket;
      const cert: PeerCertificate = socket.getPeerCertificate();
      const localPort = socket.localPort ?? 0;
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, serial: cert.serialNumber, localPort }));
    });
    req.on('error', reject);
    req.end();
  });
}

const serialOf = (c: TestServerCertificate) => new X509Certificate(c.certPem).serialNumber;

test('HTTPS listeners: the SNI picks listener and certificate (exact before wildcard), 421/404 by Host, h2, rotation without dropping a connection', async (t) => {
  const pki = await TestPki.create();
  const v1 = await echoApp('v1-0');
  const v2 = await echoApp('v2-0');
  const h2App = await echoH2App('h2-0');
  t.after(() => [v1, v2, h2App].forEach((a) => a.close()));
  const discovery = new StaticDiscovery();
  discovery.setEndpoints({ namespace: 'edge', name: 'v1', port: 80 }, [{ ip: '127.0.0.1', port: v1.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'v2', port: 80 }, [{ ip: '127.0.0.1', port: v2.port, meshed: false }]);
  // An h2c-only backend: its Service port says appProtocol kubernetes.io/h2c, which the controller sends as the http2 hint.
  discovery.setEndpoints({ namespace: 'edge', name: 'h2', port: 80 }, [{ ip: '127.0.0.1', port: h2App.port, meshed: false, protocol: 'http2' }]);

  const certA = selfSignedServer(['a.example.com']);
  const certWild = selfSignedServer(['*.example.com']);
  const certAny = selfSignedServer(['gateway.example.org']);
  const anySecret = secret('cert-any', certAny, '1');
  const first = compute([secret('cert-a', certA, '1'), secret('cert-wild', certWild, '1'), anySecret]);
  const listenerStatus = (s: GatewayStatuses, name: string) => s.gateways.get('edge/gw')?.listeners?.find((l) => l.name === name);
  for (const name of ['exact', 'wild', 'any']) {
    assert.deepEqual(listenerStatus(first, name)?.conditions.map((c) => `${c.type}=${c.status}`), ['Accepted=True', 'Conflicted=False', 'ResolvedRefs=True', 'Programmed=True'], name);
  }
  const view = viewOf(first);
  assert.ok(view);
  assert.deepEqual(view.ports.map((p) => [p.port, p.listeners.map((l) => `${l.name}:${l.certificates.length}`)]), [[8443, ['exact:1', 'wild:1']], [9443, ['any:1']]]);
  const source = new TestViewSource(view);
  const metrics = new RouteMetrics();
  const gateway = await startGateway({
    limits: TEST_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
    policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
    certificates: new StaticCertificates(await pki.certificate(GATEWAY_ID)), readiness: [], view: source,
    host: '127.0.0.1', bindPort: () => 0, routeMetrics: metrics,
  });
  t.after(() => gateway.shutdown(0));
  const port = gateway.ports().get(8443);
  assert.ok(port !== undefined && gateway.isReady());

  // The SNI picks the listener: its certificate verifies (hostname included) against that certificate alone.
  const a = await httpsGet(port, { sni: 'a.example.com', ca: certA.certPem });
  assert.equal(a.status, 200);
  assert.equal(a.headers['x-echo-pod'], 'v1-0');
  assert.equal(a.serial, serialOf(certA));
  const b = await httpsGet(port, { sni: 'b.example.com', ca: certWild.certPem });
  assert.equal(b.status, 200);
  assert.equal(b.headers['x-echo-pod'], 'v2-0');
  assert.equal(b.serial, serialOf(certWild));
  // (A TLS wildcard certificate covers one label; the listener's covers several: the chain is still checked.)
  const deep = await httpsGet(port, { sni: 'x.y.example.com', ca: certWild.certPem, skipHostnameCheck: true });
  assert.equal(deep.serial, serialOf(certWild));
  assert.equal(deep.headers['x-echo-pod'], 'v2-0', 'a wildcard listener hostname matches several labels');
  await assert.rejects(httpsGet(port, { sni: 'a.example.com', ca: certWild.certPem }), 'a.example.com gets the exact listener\'s certificate, not the wildcard\'s');

  // Host and SNI disagree.
  const misdirected = await httpsGet(port, { sni: 'a.example.com', host: 'b.example.com', ca: certA.certPem });
  assert.equal(misdirected.status, 421, 'b.example.com is the wildcard listener\'s');
  assert.equal(misdirected.headers['weft-proxy-error'], 'misdirected');
  const moreSpecific = await httpsGet(port, { sni: 'b.example.com', host: 'a.example.com', ca: certWild.certPem });
  assert.equal(moreSpecific.status, 421, 'a.example.com has a more specific listener than the one the SNI chose');
  const unknown = await httpsGet(port, { sni: 'a.example.com', host: 'shop.example.org', ca: certA.certPem });
  assert.equal(unknown.status, 404, 'no listener serves the Host');
  assert.equal(unknown.headers['weft-proxy-error'], 'no-route');

  // No SNI (an IP address sends none) and no listener without hostname: no handshake.
  await assert.rejects(new Promise<void>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      s.destroy();
      resolve();
    });
    s.on('error', reject);
  }), 'a ClientHello without SNI is refused');
  // A port whose listener has no hostname serves a ClientHello without SNI, and any Host.
  const anyPort = gateway.ports().get(9443);
  assert.ok(anyPort !== undefined);
  const noSni = await new Promise<{ serial: string; alpn: string }>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: anyPort, ca: certAny.certPem, checkServerIdentity: () => undefined }, () => {
      resolve({ serial: s.getPeerCertificate().serialNumber, alpn: String(s.alpnProtocol) });
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(noSni.serial, serialOf(certAny), 'no SNI: the hostname-less listener\'s certificate');
  const anyHost = await httpsGet(anyPort, { sni: 'whatever.example.net', ca: certAny.certPem, skipHostnameCheck: true });
  assert.equal(anyHost.status, 200);
  assert.equal(anyHost.headers['x-echo-pod'], 'v1-0');

  // An SNI no listener serves: no handshake either.
  await assert.rejects(httpsGet(port, { sni: 'shop.example.org', ca: certA.certPem }));
  // Plaintext HTTP on the HTTPS port: closed without an answer.
  const plain = await new Promise<string>((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: a.example.com\r\n\r\n'));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    s.on('close', () => resolve(got));
    s.on('error', () => undefined);
  });
  assert.equal(plain, '', 'nothing is answered in plaintext');

  // ALPN: offering both gets HTTP/1.1; offering only h2 gets HTTP/2 (to the h2c backend).
  const both = await new Promise<string>((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'a.example.com', ca: certA.certPem, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      resolve(String(s.alpnProtocol));
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(both, 'http/1.1');
  const h2 = connectH2(`https://a.example.com:${port}`, {
    createConnection: () => tlsConnect({ host: '127.0.0.1', port, servername: 'a.example.com', ca: certA.certPem, ALPNProtocols: ['h2'] }),
  });
  t.after(() => h2.close());
  const h2Get = (path: string) => new Promise<{ status: number; pod: string; alpn: string }>((resolve, reject) => {
    const st = h2.request({ ':path': path, ':authority': 'a.example.com' });
    st.on('response', (h) => {
      st.resume();
      st.on('end', () => resolve({ status: Number(h[':status']), pod: String(h['x-echo-pod']), alpn: String((h2.socket as TLSSocket).alpnProtocol) }));
    });
    st.on('error', reject);
    st.end();
  });
  assert.deepEqual(await h2Get('/h2'), { status: 200, pod: 'h2-0', alpn: 'h2' });
  // The same h2-only client to an HTTP/1.1 backend (no appProtocol): translated, not 502.
  assert.deepEqual(await h2Get('/page'), { status: 200, pod: 'v1-0', alpn: 'h2' });

  // Rotation: a keep-alive connection established on certificate A keeps working after the Secret
  // (and so the view) changes; new handshakes get A2; the bound port is the same.
  const keep = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => keep.destroy());
  const before = await httpsGet(port, { sni: 'a.example.com', ca: certA.certPem, agent: keep });
  assert.equal(before.serial, serialOf(certA));
  const certA2 = selfSignedServer(['a.example.com']);
  source.set(viewOf(compute([secret('cert-a', certA2, '2'), secret('cert-wild', certWild, '1'), anySecret])));
  await gateway.settled();
  assert.equal(gateway.ports().get(8443), port, 'the port stays bound');
  const after = await httpsGet(port, { sni: 'a.example.com', ca: certA.certPem, agent: keep });
  assert.equal(after.status, 200);
  assert.equal(after.localPort, before.localPort, 'the same connection');
  assert.equal(after.serial, serialOf(certA), 'the established connection keeps its certificate');
  const fresh = await httpsGet(port, { sni: 'a.example.com', ca: certA2.certPem });
  assert.equal(fresh.status, 200);
  assert.equal(fresh.serial, serialOf(certA2), 'a new handshake gets the new certificate');
  assert.notEqual(fresh.localPort, before.localPort);

  // A Secret whose key belongs to another certificate: the exact listener is refused, and
  // a.example.com then falls to the wildcard listener.
  const broken = compute([{ ...secret('cert-a', certA2, '3'), data: { 'tls.crt': Buffer.from(certA2.certPem).toString('base64'), 'tls.key': Buffer.from(certWild.keyPem).toString('base64') } }, secret('cert-wild', certWild, '1'), anySecret]);
  const refused = listenerStatus(broken, 'exact')?.conditions.find((c) => c.type === 'ResolvedRefs');
  assert.equal(refused?.status, 'False');
  assert.equal(refused?.reason, 'InvalidCertificateRef');
  assert.match(refused?.message ?? '', /cert-a: tls\.key is not the private key of the certificate in tls\.crt/);
  source.set(viewOf(broken));
  await gateway.settled();
  const fallen = await httpsGet(port, { sni: 'a.example.com', ca: certWild.certPem });
  assert.equal(fallen.status, 200);
  assert.equal(fallen.serial, serialOf(certWild));
  assert.equal(fallen.headers['x-echo-pod'], 'v2-0');
  const stillOpen = await httpsGet(port, { sni: 'a.example.com', ca: certA.certPem, agent: keep });
  assert.equal(stillOpen.localPort, before.localPort, 'the established connection is still open');
  assert.equal(stillOpen.status, 421, 'but its listener is gone: the client is told to connect again');
});

// --- TLS passthrough (TLSRoute) ---------------------------------------------------------------------------

/** A TLS server standing for a backend that terminates TLS itself: answers each connection with its name. */
async function tlsBackend(name: string, cert: TestServerCertificate): Promise<{ port: number; close: () => void; seen: number }> {
  const { createServer: createTls } = await import('node:tls');
  const state = { seen: 0 };
  const server = createTls({ cert: cert.certPem, key: cert.keyPem }, (s) => {
    state.seen++;
    s.on('error', () => undefined);
    s.end(`${name}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => server.close(),
    get seen() {
      return state.seen;
    },
  };
}

/** One TLS connection with SNI `sni` trusting `ca`: the certificate's serial and the first line the server sends. */
function tlsHello(port: number, sni: string, ca: string): Promise<{ serial: string; line: string }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: sni, ca, ALPNProtocols: ['http/1.1'] }, () => {
      let line = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => (line += d));
      s.on('end', () => resolve({ serial: s.getPeerCertificate().serialNumber, line: line.trim() }));
    });
    s.on('error', reject);
  });
}

test('TLS passthrough: the SNI picks the TLSRoute; the backend\'s own TLS reaches the client unread, split by weight; an HTTPS listener on the same port still terminates', async (t) => {
  const pki = await TestPki.create();
  const dbCert = selfSignedServer(['db.pass.example.com']);
  const db1 = await tlsBackend('db-1', dbCert);
  const db2 = await tlsBackend('db-2', dbCert);
  const web = await echoApp('web-0');
  t.after(() => [db1, db2, web].forEach((a) => a.close()));
  const discovery = new StaticDiscovery();
  discovery.setEndpoints({ namespace: 'edge', name: 'db1', port: 5432 }, [{ ip: '127.0.0.1', port: db1.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'db2', port: 5432 }, [{ ip: '127.0.0.1', port: db2.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'web', port: 80 }, [{ ip: '127.0.0.1', port: web.port, meshed: false }]);
  const webCert = selfSignedServer(['web.pass.example.com']);
  const dbService = (name: string): Service => ({ metadata: { namespace: 'edge', name }, spec: { ports: [{ port: 5432 }] } });
  const s = computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [{
      metadata: { namespace: 'edge', name: 'gw' },
      spec: {
        gatewayClassName: 'weft',
        listeners: [
          { name: 'pass', port: 8443, protocol: 'TLS', hostname: '*.pass.example.com', tls: { mode: 'Passthrough' } },
          { name: 'web', port: 8443, protocol: 'HTTPS', hostname: 'web.pass.example.com', tls: { certificateRefs: [{ name: 'cert-web' }] } },
        ],
      },
    }],
    httpRoutes: [route('to-web', 'web', 'web')],
    tlsRoutes: [{
      metadata: { namespace: 'edge', name: 'db' },
      spec: { parentRefs: [{ name: 'gw', sectionName: 'pass' }], hostnames: ['db.pass.example.com'], rules: [{ backendRefs: [{ name: 'db1', port: 5432, weight: 1 }, { name: 'db2', port: 5432, weight: 1 }] }] },
    }],
    grpcRoutes: [], services: [dbService('db1'), dbService('db2'), svc('web')], referenceGrants: [], namespaces: [],
  }, { controllerName: 'weft.dev/gateway-controller', secrets: [secret('cert-web', webCert, '1')], checkKeyPair, protocols: new Set(['HTTP', 'HTTPS', 'TLS']), runtime: () => ({ ready: true }) });
  assert.deepEqual(s.routes.get('TLSRoute/edge/db')?.[0]?.conditions.map((c) => `${c.type}=${c.status}`), ['Accepted=True', 'ResolvedRefs=True']);
  const source = new TestViewSource(viewOf(s));
  assert.deepEqual(source.current()?.ports.map((p) => [p.port, p.listeners.map((l) => `${l.name}:${l.protocol}:${l.tlsRoutes.length}`)]), [[8443, ['web:HTTPS:0', 'pass:TLS:1']]]);
  const metrics = new RouteMetrics();
  const gateway = await startGateway({
    limits: TEST_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
    policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
    certificates: new StaticCertificates(await pki.certificate(GATEWAY_ID)), readiness: [], view: source,
    host: '127.0.0.1', bindPort: () => 0, routeMetrics: metrics, admin: { host: '127.0.0.1', port: 0 },
  });
  t.after(() => gateway.shutdown(0));
  const port = gateway.ports().get(8443);
  assert.ok(port !== undefined);

  // Passed through: the client verifies the backend's certificate (the gateway has no key for it).
  const N = 40;
  const lines = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const r = await tlsHello(port, 'db.pass.example.com', dbCert.certPem);
    assert.equal(r.serial, serialOf(dbCert));
    lines.set(r.line, (lines.get(r.line) ?? 0) + 1);
  }
  assert.equal((lines.get('db-1') ?? 0) + (lines.get('db-2') ?? 0), N, JSON.stringify([...lines]));
  // 50/50 over 40 connections: a share below 6 has probability under 1e-5.
  assert.ok((lines.get('db-1') ?? 0) >= 6 && (lines.get('db-2') ?? 0) >= 6, JSON.stringify([...lines]));
  assert.equal(db1.seen + db2.seen, N);

  // The HTTPS listener on the same port terminates (its more specific hostname wins over the wildcard).
  const w = await httpsGet(port, { sni: 'web.pass.example.com', ca: webCert.certPem });
  assert.equal(w.status, 200);
  assert.equal(w.serial, serialOf(webCert));
  assert.equal(w.headers['x-echo-pod'], 'web-0');

  // The TLS listener's wildcard matches, but no TLSRoute serves the SNI: closed, nothing reaches a backend.
  await assert.rejects(tlsHello(port, 'other.pass.example.com', dbCert.certPem));
  await assert.rejects(tlsHello(port, 'nothing.example.org', dbCert.certPem));
  assert.equal(db1.seen + db2.seen, N);

  // Per-route metrics: one count per passed-through connection on the TLSRoute's series (route_kind
  // tls), by backend, as the split counted them; the connection without a TLSRoute is a no-route error.
  // A connection is counted when it closes, just after the client saw its end.
  const series = async () => {
    const text = (await get(gateway.adminPort!, '/metrics')).body.toString();
    return text.split('\n').filter((l) => l.startsWith('weft_outbound_requests_total{') && l.includes('service_port="8443"'));
  };
  const count = (lines: string[], ...parts: string[]) => lines.filter((l) => parts.every((p) => l.includes(p))).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
  let seen: string[] = [];
  for (let i = 0; i < 50 && count(seen, 'route_kind="tls"') < N; i++) {
    await new Promise((r) => setTimeout(r, 40));
    seen = await series();
  }
  for (const [db, name] of [['db1', 'db-1'], ['db2', 'db-2']] as const) {
    assert.equal(count(seen, 'route_kind="tls"', 'route_name="db"', `backend_name="${db}"`, 'error=""'), lines.get(name), seen.join('\n'));
  }
  assert.equal(count(seen, 'route_kind="none"', 'error="no-route"'), 1, seen.join('\n'));
});
