/**
 * The policy and discovery gRPC services in one process, end to end over the wire: the controller's
 * real GrpcServer (TLS with a certificate from a test mesh issuer, client certificates requested),
 * PolicyServices fed by a real PolicyIndex (auto-flush, as in the controller) that the test drives with
 * fixture objects (no Kubernetes), and grpc-js clients holding workload certificates from the same
 * issuer (test/support/policy-controller.ts).
 *
 * Rules checked (services.ts, snapshot-stream.ts, api/README.md "Snapshots and versions"): the first
 * message is a full snapshot; a change that affects the view pushes, one that does not never does;
 * versions increase by one per message of a stream; subscribers of one view share one index view; a
 * subscriber that never reads does not delay another subscriber's pushes and never gets a queue of
 * stale snapshots (latest-snapshot slot); no client certificate is UNAUTHENTICATED; a pod of another
 * ServiceAccount is PERMISSION_DENIED, also when the pod is replaced under an open stream.
 */
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, test, type TestContext } from 'node:test';
import { credentials, status } from '@grpc/grpc-js';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { DiscoveryService, type Endpoints, type LookupResponse } from '../../api/gen/weft/discovery/v1/discovery.js';
import { InboundPolicyService, type PortPolicy } from '../../api/gen/weft/inbound/v1/inbound.js';
import { DestinationPolicy, OutboundPolicyClient, OutboundPolicyService, OutboundTarget } from '../../api/gen/weft/outbound/v1/outbound.js';
import { controllerDnsNames } from '../../core/contract.js';
import type { EndpointSlice, HTTPRoute, Namespace, Pod, Service } from '../../core/kube.js';
import { CertificateAuthority } from '../../identity/ca.js';
import { controllerSpiffeId } from '../../identity/spiffe.js';
import { Collected, createMesh, policyClients, TRUST_DOMAIN, workloadCert, type Mesh, type PolicyClients, type WorkloadCert } from '../../test/support/policy-controller.js';
import { GrpcServer } from '../grpc/server.js';
import { PolicyIndex } from '../index/index.js';
import { DEFAULT_CONVERT_OPTIONS } from './convert.js';
import { streamMetrics } from './metrics.js';
import { PolicyServices } from './services.js';

const TARGET_NAME = controllerDnsNames()[0]!;

let rv = 1;
const meta = (ns: string | undefined, name: string, extra: Record<string, unknown> = {}) => ({
  name,
  ...(ns !== undefined ? { namespace: ns } : {}),
  resourceVersion: String(rv++),
  generation: rv,
  creationTimestamp: '2026-01-01T00:00:00Z',
  ...extra,
});

const namespace = (name: string): Namespace => ({ metadata: meta(undefined, name) });

function service(ns: string, name: string, ip: string): Service {
  return { metadata: meta(ns, name), spec: { clusterIP: ip, clusterIPs: [ip], ports: [{ name: 'http', port: 80, targetPort: 8080 }], selector: { app: name } } };
}

function pod(ns: string, name: string, ip: string, sa: string, labels: Record<string, string> = {}): Pod {
  return {
    metadata: meta(ns, name, { labels: { 'weft.dev/meshed': 'true', ...labels } }),
    spec: { serviceAccountName: sa, containers: [{ name: 'app', ports: [{ containerPort: 8080, name: 'http' }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

function slice(ns: string, svc: string, eps: { ip: string; pod: string }[]): EndpointSlice {
  return {
    metadata: meta(ns, `${svc}-abc`, { labels: { 'kubernetes.io/service-name': svc } }),
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: ns, name: e.pod } })),
  };
}

/** An HTTPRoute on Service `parent`; `pad` header matches make its snapshot large. */
function httpRoute(ns: string, name: string, parent: string, backend: string, opts: { tag?: string; pad?: number } = {}): HTTPRoute {
  const matches = Array.from({ length: opts.pad ?? 1 }, (_, i) => ({
    path: { type: 'PathPrefix', value: `/${opts.tag ?? 'v'}/${i}` },
    headers: [{ name: 'x-pad', value: `${'p'.repeat(opts.pad !== undefined ? 900 : 1)}-${i}` }],
  }));
  return {
    metadata: meta(ns, name),
    spec: { parentRefs: [{ group: '', kind: 'Service', name: parent, port: 80 }], rules: [{ matches, backendRefs: [{ name: backend, port: 80 }] }] },
  };
}

const WEB_IP = '10.96.0.10';
const API_IP = '10.96.0.20';

let mesh: Mesh;
let server: GrpcServer;
let address: string;
let index: PolicyIndex;
let clientCert: WorkloadCert;
let otherCert: WorkloadCert;

before(async () => {
  mesh = await createMesh();
  const ca = CertificateAuthority.load(mesh.issuer);
  const serving = await ca.issueServing({ spiffeId: controllerSpiffeId(TRUST_DOMAIN), dnsNames: controllerDnsNames(), lifetimeMs: 3_600_000 });
  const log = pino({ level: 'silent' });
  server = new GrpcServer(log);
  server.certificates.update(serving.keyPem, [serving.certPem, ...serving.chainPem].join(''), ca.anchorsPem);
  index = new PolicyIndex({ trustDomain: TRUST_DOMAIN, clusterNetworks: ['10.0.0.0/8'], referenceGrantCheck: true, autoFlush: true });
  const services = new PolicyServices({ index, trustDomain: TRUST_DOMAIN, convert: DEFAULT_CONVERT_OPTIONS, metrics: streamMetrics(new Registry()), log });
  server.addService('weft.inbound.v1.InboundPolicy', InboundPolicyService, services.inboundHandlers());
  server.addService('weft.outbound.v1.OutboundPolicy', OutboundPolicyService, services.outboundHandlers());
  server.addService('weft.discovery.v1.Discovery', DiscoveryService, services.discoveryHandlers());
  address = `127.0.0.1:${await server.listen('127.0.0.1', 0)}`;

  for (const ns of ['shop', 'client']) index.apply('Namespace', namespace(ns));
  index.apply('Service', service('shop', 'web', WEB_IP));
  index.apply('Service', service('shop', 'web-v2', '10.96.0.11'));
  index.apply('Service', service('shop', 'api', API_IP));
  index.apply('Pod', pod('shop', 'web-0', '10.244.0.10', 'web', { app: 'web' }));
  index.apply('EndpointSlice', slice('shop', 'web', [{ ip: '10.244.0.10', pod: 'web-0' }]));
  index.apply('Pod', pod('client', 'c-0', '10.244.0.30', 'client'));
  index.apply('Pod', pod('client', 'c-1', '10.244.0.31', 'client'));
  index.flush();
  clientCert = await workloadCert(mesh, 'client', 'client');
  otherCert = await workloadCert(mesh, 'client', 'intruder');
});

after(async () => {
  await server?.close(1000);
});

function clients(t: TestContext, cert: WorkloadCert | undefined): PolicyClients {
  const c = policyClients(address, mesh, cert);
  t.after(() => c.close());
  return c;
}

/** An outbound client on its own connection (proxies do not share one). */
function ownConnection(t: TestContext, cert: WorkloadCert): OutboundPolicyClient {
  const creds = credentials.createSsl(Buffer.from(mesh.anchor.certPem), Buffer.from(cert.keyPem), Buffer.from(cert.chainPem));
  const c = new OutboundPolicyClient(address, creds, { 'grpc.ssl_target_name_override': TARGET_NAME, 'grpc.use_local_subchannel_pool': 1 });
  t.after(() => c.close());
  return c;
}

function collect<T>(t: TestContext, s: Collected<T>): Collected<T> {
  t.after(() => s.cancel());
  return s;
}

function routeNames(m: DestinationPolicy): string[] | 'passthrough' | 'other' {
  const d = m.destination;
  if (d?.$case !== 'service') return 'other';
  const r = d.value.routes;
  if (r?.$case === 'passthrough') return 'passthrough';
  if (r?.$case !== 'http') return 'other';
  return r.value.routes.map((x) => x.meta?.name ?? '');
}

/** Waits until the streams of earlier tests have been closed on the server side. */
async function drained(): Promise<void> {
  for (let i = 0; index.sizes().subscribers > 0; i++) {
    if (i > 600) throw new Error(`${index.sizes().subscribers} subscribers still open`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const names = (m: DestinationPolicy) => JSON.stringify(routeNames(m));
const versions = (s: Collected<{ version: number }>) => s.messages.map((m) => m.msg.version);

/**
 * OutboundPolicy.Watch over a bare HTTP/2 session (gRPC framing by hand) that does not read until
 * told to: the server sees real HTTP/2 back-pressure.
 */
function rawWatch(t: TestContext, cert: WorkloadCert, target: OutboundTarget) {
  const session = http2.connect(`https://${address}`, {
    ca: mesh.anchor.certPem,
    key: cert.keyPem,
    cert: cert.chainPem,
    servername: TARGET_NAME,
  });
  t.after(() => session.destroy());
  const req = session.request({
    ':method': 'POST',
    ':path': '/weft.outbound.v1.OutboundPolicy/Watch',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  req.on('error', () => undefined);
  const body = OutboundTarget.encode(target).finish();
  const frame = Buffer.alloc(5 + body.length);
  frame.writeUInt32BE(body.length, 1);
  Buffer.from(body).copy(frame, 5);
  req.end(frame);
  let buf = Buffer.alloc(0);
  const messages: DestinationPolicy[] = [];
  const waiters = new Set<() => void>();
  req.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 5 && buf.length >= 5 + buf.readUInt32BE(1)) {
      const len = buf.readUInt32BE(1);
      messages.push(DestinationPolicy.decode(buf.subarray(5, 5 + len)));
      buf = buf.subarray(5 + len);
    }
    // Stop reading after the first message until resumed.
    if (messages.length >= 1 && !resumed) req.pause();
    for (const w of [...waiters]) w();
  });
  let resumed = false;
  const until = (pred: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`raw stream: timed out waiting for ${what} (${messages.length} messages)`)), 30_000);
      const check = () => {
        if (!pred()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return {
    firstArrived: until(() => messages.length >= 1, 'the first message'),
    async resumeUntil(pred: (m: DestinationPolicy) => boolean): Promise<DestinationPolicy[]> {
      resumed = true;
      req.resume();
      await until(() => messages.some(pred), 'the latest snapshot');
      return messages;
    },
  };
}

describe('PolicyServices over mTLS', () => {
  test('a subscriber gets the full current snapshot first, with version 1', async (t) => {
    const route = httpRoute('shop', 'first', 'web', 'web-v2');
    index.apply('HTTPRoute', route);
    t.after(() => index.delete('HTTPRoute', route));
    const s = collect(t, new Collected(clients(t, clientCert).outbound.watch({ namespace: 'client', pod: 'c-0', ip: WEB_IP, port: 80 })));
    const first = await s.waitFor('the first snapshot', () => true);
    assert.equal(first.msg.version, 1);
    assert.ok(first.msg.generatedAt instanceof Date);
    const d = first.msg.destination;
    assert.equal(d?.$case, 'service');
    assert.deepEqual(d.value.service, { namespace: 'shop', name: 'web', port: 80, authority: 'web.shop.svc.cluster.local:80', retryBudget: undefined, failureAccrual: undefined });
    assert.deepEqual(routeNames(first.msg), ['first']);
    const backend = d.value.routes?.$case === 'http' ? d.value.routes.value.routes[0]?.rules[0]?.backends[0]?.backend : undefined;
    assert.equal(backend?.name, 'shop/web-v2:80', 'the snapshot is complete down to the backends');
  });

  test('a change that affects the view pushes; a change that does not never pushes; versions go up by one', async (t) => {
    const c = clients(t, clientCert);
    const web = collect(t, new Collected(c.outbound.watch({ namespace: 'client', pod: 'c-0', ip: WEB_IP, port: 80 })));
    const api = collect(t, new Collected(c.outbound.watch({ namespace: 'client', pod: 'c-0', ip: API_IP, port: 80 })));
    await web.waitFor('web: first snapshot', (m) => names(m) === '"passthrough"');
    await api.waitFor('api: first snapshot', (m) => names(m) === '"passthrough"');

    // Only api's view changes: api is told, web is not.
    const onApi = httpRoute('shop', 'on-api', 'api', 'api');
    index.apply('HTTPRoute', onApi);
    t.after(() => index.delete('HTTPRoute', onApi));
    await api.waitFor('api: the route', (m) => names(m) === '["on-api"]', { from: 1 });
    // Then a change to web's view: the next message web gets must be that one, so nothing came in between.
    const onWeb = httpRoute('shop', 'on-web', 'web', 'web-v2');
    index.apply('HTTPRoute', onWeb);
    t.after(() => index.delete('HTTPRoute', onWeb));
    await web.waitFor('web: the route', (m) => names(m) === '["on-web"]', { from: 1 });
    assert.deepEqual(web.messages.map((m) => names(m.msg)), ['"passthrough"', '["on-web"]'], 'web got no push for the change to api');
    assert.deepEqual(versions(web), [1, 2]);
    assert.deepEqual(versions(api), [1, 2]);

    // A relist of the same object (same resourceVersion) and a status-only update change no view.
    index.apply('HTTPRoute', onWeb);
    index.apply('HTTPRoute', { ...onWeb, metadata: { ...onWeb.metadata, resourceVersion: String(rv++) }, status: { parents: [] } });
    const onWeb2 = { ...httpRoute('shop', 'on-web', 'web', 'web', { tag: 'w2' }) };
    index.apply('HTTPRoute', onWeb2);
    const got = await web.waitFor('web: the updated route', (m) => {
      const d = m.destination;
      return d?.$case === 'service' && d.value.routes?.$case === 'http' && d.value.routes.value.routes[0]?.rules[0]?.backends[0]?.backend?.name === 'shop/web:80';
    }, { from: 2 });
    assert.equal(got.msg.version, 3, 'the relist and the status-only update pushed nothing');
    assert.deepEqual(versions(web), [1, 2, 3]);
  });

  test('subscribers of one view share one index view and get the same snapshot', async (t) => {
    await drained();
    const before = index.sizes();
    const a = collect(t, new Collected(clients(t, clientCert).outbound.watch({ namespace: 'client', pod: 'c-0', ip: WEB_IP, port: 80 })));
    const b = collect(t, new Collected(clients(t, clientCert).outbound.watch({ namespace: 'client', pod: 'c-1', ip: WEB_IP, port: 80 })));
    await a.waitFor('a: first', () => true);
    await b.waitFor('b: first', () => true);
    const now = index.sizes();
    assert.equal(now.subscribers - before.subscribers, 2);
    assert.equal(now.subscribedViews - before.subscribedViews, 1, 'two subscribers, one view');
    const strip = (m: DestinationPolicy) => JSON.stringify({ ...m, generatedAt: undefined });
    assert.equal(strip(a.messages[0]!.msg), strip(b.messages[0]!.msg));
  });

  test('a subscriber that never reads does not delay another subscriber, and later gets the latest snapshot, not a queue', async (t) => {
    const target = { namespace: 'client', pod: 'c-0', ip: WEB_IP, port: 80 };
    // A raw HTTP/2 gRPC call that stops reading: HTTP/2 flow control then holds the server's writes,
    // as it would for a proxy that stops reading its socket. (A grpc-js client cannot play this part:
    // it keeps draining the socket into memory while the application does not read.)
    const stalled = rawWatch(t, clientCert, target);
    const reader = collect(t, new Collected(ownConnection(t, clientCert).watch(target)));
    await reader.waitFor('reader: first', () => true);
    await stalled.firstArrived;

    // Large snapshots (~165 KB each, more than an HTTP/2 window), one change per flush, so every
    // change is its own push.
    const changes = 40;
    const pathOf = (m: DestinationPolicy) => {
      const d = m.destination;
      return d?.$case === 'service' && d.value.routes?.$case === 'http' ? d.value.routes.value.routes[0]?.rules[0]?.matches[0]?.path?.kind?.value : undefined;
    };
    for (let i = 0; i < changes; i++) {
      index.apply('HTTPRoute', httpRoute('shop', 'big', 'web', 'web-v2', { tag: `c${i}`, pad: 160 }));
      await reader.waitFor(`reader: change ${i}`, (m) => pathOf(m) === `/c${i}/0`, { from: reader.messages.length });
    }
    const size = DestinationPolicy.encode(reader.latest!).finish().length;
    t.diagnostic(`snapshot size ${Math.round(size / 1024)} KB; the reader got ${reader.messages.length} messages`);
    assert.ok(size > 100_000, 'a snapshot is larger than the flow-control window');
    assert.deepEqual(versions(reader), Array.from({ length: changes + 1 }, (_, i) => i + 1), 'the reader got every change, in order');

    // Now the stalled subscriber reads: what was in flight, then the latest view; never all 40.
    const late = await stalled.resumeUntil((m) => pathOf(m) === `/c${changes - 1}/0`);
    t.diagnostic(`the stalled subscriber received ${late.length} messages for ${changes + 1} snapshots`);
    assert.ok(late.length < changes, `the stalled subscriber got ${late.length} messages: intermediate snapshots were queued`);
    assert.deepEqual(late.map((m) => m.version), Array.from({ length: late.length }, (_, i) => i + 1), 'its versions still go up by one per message');
    index.delete('HTTPRoute', httpRoute('shop', 'big', 'web', 'web-v2'));
  });

  test('inbound and discovery streams start with the current snapshot; Lookup finds a pod address', async (t) => {
    const c = clients(t, await workloadCert(mesh, 'shop', 'web'));
    const inbound = collect(t, new Collected<PortPolicy>(c.inbound.watch({ namespace: 'shop', pod: 'web-0', port: 8080 })));
    const first = await inbound.waitFor('inbound: first', () => true);
    assert.equal(first.msg.version, 1);
    assert.equal(first.msg.defaultPolicy, 'all-unauthenticated');
    assert.deepEqual(first.msg.authorizations.map((a) => a.required[0]?.kind?.$case), ['unauthenticated']);
    const eps = collect(t, new Collected<Endpoints>(c.discovery.watch({ namespace: 'shop', name: 'web', port: 80 })));
    const e = await eps.waitFor('endpoints: first', () => true);
    assert.equal(e.msg.serviceExists, true);
    assert.deepEqual(e.msg.endpoints.map((x) => [x.ip, x.port, x.identity]), [['10.244.0.10', 8080, 'spiffe://cluster.local/ns/shop/sa/web']]);
    const found = await new Promise<LookupResponse>((resolve, reject) =>
      c.discovery.lookup({ ip: '10.244.0.10', port: 8080 }, (err, res) => (err !== null ? reject(err) : resolve(res))),
    );
    assert.equal(found.result?.$case, 'endpoint');
    assert.equal(found.result.value.podName, 'web-0');
  });

  test('a call without a client certificate is UNAUTHENTICATED on every service', async (t) => {
    const c = clients(t, undefined);
    const out = await new Collected(c.outbound.watch({ namespace: 'client', pod: 'c-0', ip: WEB_IP, port: 80 })).failure();
    assert.equal(out.code, status.UNAUTHENTICATED, out.details);
    const inb = await new Collected(c.inbound.watch({ namespace: 'shop', pod: 'web-0', port: 8080 })).failure();
    assert.equal(inb.code, status.UNAUTHENTICATED, inb.details);
    const disc = await new Collected(c.discovery.watch({ namespace: 'shop', name: 'web', port: 80 })).failure();
    assert.equal(disc.code, status.UNAUTHENTICATED, disc.details);
    const lookup = await new Promise<{ code?: number }>((resolve) => c.discovery.lookup({ ip: '10.244.0.10', port: 8080 }, (err) => resolve(err ?? {})));
    assert.equal(lookup.code, status.UNAUTHENTICATED);
  });

  test('a pod of another ServiceAccount is PERMISSION_DENIED; an unknown pod is NOT_FOUND', async (t) => {
    const c = clients(t, otherCert);
    const out = await new Collected(c.outbound.watch({ namespace: 'client', pod: 'c-0', ip: WEB_IP, port: 80 })).failure();
    assert.equal(out.code, status.PERMISSION_DENIED, out.details);
    assert.match(out.details, /runs as ServiceAccount client/);
    const inb = await new Collected(c.inbound.watch({ namespace: 'client', pod: 'c-0', port: 8080 })).failure();
    assert.equal(inb.code, status.PERMISSION_DENIED, inb.details);
    const elsewhere = await new Collected(clients(t, clientCert).inbound.watch({ namespace: 'shop', pod: 'web-0', port: 8080 })).failure();
    assert.equal(elsewhere.code, status.PERMISSION_DENIED, 'a pod in another namespace than the certificate');
    const unknown = await new Collected(clients(t, clientCert).outbound.watch({ namespace: 'client', pod: 'nobody', ip: WEB_IP, port: 80 })).failure();
    assert.equal(unknown.code, status.NOT_FOUND, unknown.details);
  });

  test('Follow: the target is the first message; the client\'s half-close ends it with OK and unsubscribes; a second target is INVALID_ARGUMENT', async (t) => {
    await drained();
    const c = clients(t, clientCert);
    const target = { namespace: 'client', pod: 'c-0', ip: WEB_IP, port: 80 };
    const f = c.outbound.follow();
    const s = collect(t, new Collected(f));
    const statusOf = new Promise<{ code: number; details: string }>((resolve) => f.on('status', resolve));
    f.write(target);
    const first = await s.waitFor('follow: first', () => true);
    assert.equal(first.msg.version, 1);
    assert.equal(first.msg.destination?.$case, 'service');
    assert.equal(index.sizes().subscribers, 1, 'the Follow holds one subscription');
    // A change still pushes while the Follow is open.
    index.apply('HTTPRoute', httpRoute('shop', 'follow', 'web', 'web-v2', { tag: 'f' }));
    await s.waitFor('follow: the route', (m) => names(m).includes('follow'));
    f.end();
    const end = await statusOf;
    assert.equal(end.code, status.OK, end.details);
    assert.equal(s.error, undefined, 'ended without an error');
    await drained();
    index.delete('HTTPRoute', httpRoute('shop', 'follow', 'web', 'web-v2'));

    const twice = c.outbound.follow();
    const t2 = new Collected(twice);
    twice.write(target);
    await t2.waitFor('second follow: first', () => true);
    twice.write(target);
    const err = await t2.failure();
    assert.equal(err.code, status.INVALID_ARGUMENT, err.details);
    assert.match(err.details, /one target per stream/);

    // The same access rules as Watch: another ServiceAccount's pod is refused.
    const other = clients(t, otherCert).outbound.follow();
    const o = new Collected(other);
    other.write(target);
    const denied = await o.failure();
    assert.equal(denied.code, status.PERMISSION_DENIED, denied.details);

    // Discovery.Follow, and a half-close before any target ends it with OK and no subscription.
    const d = c.discovery.follow();
    const ds = collect(t, new Collected<Endpoints>(d));
    d.write({ namespace: 'shop', name: 'web', port: 80 });
    const eps = await ds.waitFor('discovery follow: first', () => true);
    assert.deepEqual(eps.msg.endpoints.map((x) => x.ip), ['10.244.0.10']);
    const dStatus = new Promise<{ code: number }>((resolve) => d.on('status', resolve));
    d.end();
    assert.equal((await dStatus).code, status.OK);
    const empty = c.discovery.follow();
    const eStatus = new Promise<{ code: number }>((resolve) => empty.on('status', resolve));
    new Collected(empty);
    empty.end();
    assert.equal((await eStatus).code, status.OK);
    await drained();
  });

  test('an open stream ends PERMISSION_DENIED when its pod is replaced under another ServiceAccount', async (t) => {
    index.apply('Pod', pod('client', 'c-9', '10.244.0.39', 'client'));
    const s = collect(t, new Collected(clients(t, clientCert).outbound.watch({ namespace: 'client', pod: 'c-9', ip: '10.244.0.39', port: 8080 })));
    const first = await s.waitFor('first', () => true);
    assert.equal(first.msg.destination?.$case, 'pod');
    index.apply('Pod', pod('client', 'c-9', '10.244.0.39', 'intruder'));
    const err = await s.failure();
    assert.equal(err.code, status.PERMISSION_DENIED, err.details);
  });
});
