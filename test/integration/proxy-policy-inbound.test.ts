/**
 * Inbound policy through real proxies: Servers, server-side routes, AuthorizationPolicies with
 * MeshTLS / Network authentications and default policies, compiled by core, sent through the wire
 * and enforced by a server proxy; clients are meshed client proxies (mTLS, verified identity) or
 * plaintext sockets. Also security-cases.md 10, 15-18, 24-26 and 34-36, each named in its test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect } from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import { HEADER_CLIENT_ID, HEADER_PROXY_ERROR } from '../../core/contract.js';
import type { ClusterSnapshot } from '../../core/kube.js';
import {
  authz, mtls, mtlsRef, netauthn, netRef, NS, policyFor, server, serverRoute, sid, snapshot, toHttpRoute, toServer,
} from '../../core/inbound/testdata/fixtures.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { portPolicyOf, servicePortPolicyOf } from '../../proxy/policy/wire.js';
import type { RunningProxy } from '../../proxy/proxy.js';
import { get, raw } from '../support/proxy-client.js';
import type { Reply } from '../support/proxy-client.js';
import { fixedDestination, StaticDiscovery } from '../support/proxy-fixtures.js';
import { echoApp, OutboundWorld, pushInbound, scrape, startTestProxyWith, sum, TestPki, TRUST_DOMAIN, wirePortPolicy } from './proxy-policy-harness.js';
import type { EchoApp } from './proxy-policy-harness.js';

const CLUSTER_IP = '10.96.5.5';
const FRONTEND = sid(NS, 'frontend');
const INTRUDER = sid(NS, 'intruder');

interface Site {
  readonly pki: TestPki;
  readonly app: EchoApp;
  readonly server: RunningProxy;
  readonly store: PolicyStore;
  readonly clients: Map<string, RunningProxy>;
}

let site: Site;

before(async () => {
  const pki = await TestPki.create();
  const app = await echoApp('api-0');
  const store = new PolicyStore();
  const metrics = new RouteMetrics();
  const server = await startTestProxyWith({
    pki, identity: sid(NS, 'api'), policy: createPolicyHook({ store, metrics }), metrics, inboundDst: fixedDestination('127.0.0.1', app.port),
  });
  site = { pki, app, server, store, clients: new Map() };
});

after(async () => {
  await Promise.all([site.server, ...site.clients.values()].map((p) => p.shutdown(0)));
  site.app.close();
});

/** A meshed client pod running as `identity`, whose outbound connections all go to the api Service. */
async function meshClient(identity: string): Promise<RunningProxy> {
  const have = site.clients.get(identity);
  if (have !== undefined) return have;
  const discovery = new StaticDiscovery().service(CLUSTER_IP, { namespace: NS, name: 'api', port: 80 }, [
    { ip: '127.0.0.1', port: site.server.inboundPort, meshed: true, identity: sid(NS, 'api') },
  ]);
  const metrics = new RouteMetrics();
  const p = await startTestProxyWith({
    pki: site.pki, identity, discovery, policy: createPolicyHook({ store: new PolicyStore(), metrics }), metrics, outboundDst: fixedDestination(CLUSTER_IP, 80),
  });
  site.clients.set(identity, p);
  return p;
}

/** Applies a snapshot's policy for the app's port (compiled for container port 8080), with loopback as the probe network. */
function apply(snap: ClusterSnapshot, options: { defaultPolicy?: string } = {}): void {
  pushInbound(site.store, site.app.port, policyFor(snap, 8080, { probeNetworks: ['127.0.0.1/32'], ...options }));
}

const viaMesh = async (identity: string, path: string, o: { method?: string; headers?: OutgoingHttpHeaders } = {}): Promise<Reply> =>
  get((await meshClient(identity)).outboundPort, path, o);
const plaintext = (path: string, o: { method?: string; headers?: OutgoingHttpHeaders } = {}): Promise<Reply> => get(site.server.inboundPort, path, o);

const lastSeen = () => site.app.seen.at(-1)!;

const FRONTEND_ONLY = (): ClusterSnapshot => snapshot({
  servers: [server('api-http')],
  meshTLSAuthentications: [mtls('frontend', { identities: [FRONTEND] })],
  authorizationPolicies: [authz('frontend-in', toServer('api-http'), [mtlsRef('frontend')])],
});

describe('authorization', () => {
  test('a Server admits the MeshTLSAuthentication identity and denies other identities and plaintext with 403', async () => {
    apply(FRONTEND_ONLY());
    const ok = await viaMesh(FRONTEND, '/data');
    assert.equal(ok.status, 200);
    assert.equal(lastSeen().headers[HEADER_CLIENT_ID], FRONTEND);
    const other = await viaMesh(INTRUDER, '/data');
    assert.equal(other.status, 403);
    assert.equal(other.headers[HEADER_PROXY_ERROR], 'forbidden');
    const plain = await plaintext('/data');
    assert.equal(plain.status, 403);
  });

  test('a denied gRPC call gets PERMISSION_DENIED; a denied opaque connection is closed without reaching the app', async () => {
    apply(FRONTEND_ONLY());
    const session = h2connect(`http://127.0.0.1:${site.server.inboundPort}`);
    const h = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': '/shop.Api/Get', 'content-type': 'application/grpc' });
      req.on('response', resolve);
      req.on('error', reject);
      req.resume();
      req.end();
    });
    session.close();
    assert.equal(h['grpc-status'], '7');
    const before = site.app.seen.length;
    const out = await raw(site.server.inboundPort, Buffer.from([0x16, 0x00, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05]), 800);
    assert.equal(out, '', 'closed with nothing sent back');
    assert.equal(site.app.seen.length, before);
  });

  test('a Server with proxyProtocol opaque passes plaintext through as bytes: no HTTP parsing, no header rewriting', async () => {
    const opaqueServer = (protocol: string): ClusterSnapshot => snapshot({
      servers: [server('api-tcp', { proxyProtocol: protocol })],
      networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
      authorizationPolicies: [authz('everyone-in', toServer('api-tcp'), [netRef('everyone')])],
    });
    const request = `GET /opaque HTTP/1.1\r\nhost: api\r\n${HEADER_CLIENT_ID}: spoofed\r\nconnection: close\r\n\r\n`;
    apply(opaqueServer('opaque'));
    const before = site.app.seen.length;
    const out = await raw(site.server.inboundPort, request, 1_500);
    assert.match(out, /^HTTP\/1\.1 200/, out);
    assert.equal(site.app.seen.length, before + 1);
    assert.equal(lastSeen().headers[HEADER_CLIENT_ID], 'spoofed', 'opaque bytes reach the app untouched');
    // The same bytes to an HTTP/1 Server are parsed: the client's copy of the identity header is removed.
    apply(opaqueServer('HTTP/1'));
    const parsed = await raw(site.server.inboundPort, request, 1_500);
    assert.match(parsed, /^HTTP\/1\.1 200/, parsed);
    assert.equal(lastSeen().headers[HEADER_CLIENT_ID], undefined);
  });

  test('kubelet probes stay authorized from the probe networks when a Server denies everyone else', async () => {
    apply(snapshot({ servers: [server('api-http')] }));
    assert.equal((await plaintext('/healthz')).status, 200, 'liveness probe path');
    assert.equal((await plaintext('/ready')).status, 200, 'readiness probe path');
    assert.equal((await plaintext('/data')).status, 403, 'a Server with no authorization denies (case 26)');
    assert.equal((await plaintext('/healthz', { method: 'POST' })).status, 403, 'only GET of a probe path');
  });

  test('AuthorizationPolicy on a route: the route decides per request; a request matching no route of the Server gets 404', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      httpRoutes: [
        serverRoute('public', 'api-http', [{ matches: [{ path: { type: 'PathPrefix', value: '/public' } }] }]),
        serverRoute('admin', 'api-http', [{ matches: [{ path: { type: 'PathPrefix', value: '/admin' }, method: 'GET' }] }]),
      ],
      networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
      meshTLSAuthentications: [mtls('frontend', { identities: [FRONTEND] })],
      authorizationPolicies: [
        authz('public-any', toHttpRoute('public'), [netRef('everyone')]),
        authz('admin-frontend', toHttpRoute('admin'), [mtlsRef('frontend')]),
      ],
    }));
    assert.equal((await plaintext('/public/x')).status, 200);
    assert.equal((await plaintext('/admin')).status, 403);
    assert.equal((await viaMesh(FRONTEND, '/admin/users')).status, 200);
    assert.equal((await viaMesh(INTRUDER, '/admin/users')).status, 403);
    const head = await viaMesh(FRONTEND, '/admin', { method: 'HEAD' });
    assert.equal(head.status, 404, 'HEAD does not match the GET route (case 24)');
    const none = await plaintext('/elsewhere');
    assert.equal(none.status, 404);
    assert.equal(none.headers[HEADER_PROXY_ERROR], 'no-route');
  });

  test('a Server route\'s filters apply on the server side: header modifiers, URLRewrite, RequestRedirect; a mirror fails closed', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      httpRoutes: [
        serverRoute('filtered', 'api-http', [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/v1' } }],
            filters: [
              { type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-tier', value: 'gold' }, { name: HEADER_CLIENT_ID, value: 'forged' }], remove: ['x-drop'] } },
              { type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'x-served-by', value: 'api' }] } },
              { type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } },
            ],
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/old' } }],
            filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/new' }, statusCode: 301 } }],
          },
          {
            matches: [{ path: { type: 'PathPrefix', value: '/copy' } }],
            filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 } } }],
          },
        ]),
      ],
      networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
      authorizationPolicies: [authz('everyone-in', toServer('api-http'), [netRef('everyone')])],
    }));
    const before = site.app.seen.length;
    const r = await viaMesh(FRONTEND, '/v1/items?x=1', { headers: { 'x-drop': 'me' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-served-by'], 'api', 'ResponseHeaderModifier on the app\'s response');
    const seen = lastSeen();
    assert.equal(seen.path, '/v2/items?x=1', 'URLRewrite ReplacePrefixMatch, query kept');
    assert.equal(seen.headers['x-tier'], 'gold');
    assert.equal(seen.headers['x-drop'], undefined);
    assert.equal(seen.headers[HEADER_CLIENT_ID], FRONTEND, 'a route cannot forge the identity header');
    const moved = await plaintext('/old/page?q=2', { headers: { host: 'api.shop:8080' } });
    assert.equal(moved.status, 301);
    assert.equal(moved.headers.location, 'http://api.shop:8080/new?q=2');
    const mirrored = await plaintext('/copy');
    assert.equal(mirrored.status, 500, 'RequestMirror on a Server route is refused, not ignored');
    assert.equal(site.app.seen.length, before + 1, 'only the rewritten request reached the app');
  });

  test('default policies: cluster-unauthenticated uses the cluster networks; audit allows and is counted as audit', async () => {
    // Loopback is not in the default cluster networks.
    apply(snapshot({}), { defaultPolicy: 'cluster-unauthenticated' });
    assert.equal((await plaintext('/d')).status, 403);
    apply(snapshot({}), { defaultPolicy: 'all-authenticated' });
    assert.equal((await plaintext('/d')).status, 403);
    assert.equal((await viaMesh(INTRUDER, '/d')).status, 200);
    apply(snapshot({}), { defaultPolicy: 'audit' });
    const before = await scrape(site.server.adminPort!);
    assert.equal((await plaintext('/d')).status, 200);
    const after = await scrape(site.server.adminPort!);
    const audit = { decision: 'audit', server: 'default:audit', authorization: 'default:audit', client_id: 'unauthenticated', tls: 'false' };
    assert.equal(sum(after, 'weft_inbound_requests_total', audit) - sum(before, 'weft_inbound_requests_total', audit), 1);
  });

  test('inbound counters equal the decisions made, by Server, route, authorization, decision and client identity', async () => {
    apply(FRONTEND_ONLY());
    const before = await scrape(site.server.adminPort!);
    for (let i = 0; i < 7; i++) assert.equal((await viaMesh(FRONTEND, `/count/${i}`)).status, 200);
    for (let i = 0; i < 4; i++) assert.equal((await plaintext(`/count/${i}`)).status, 403);
    const after = await scrape(site.server.adminPort!);
    const delta = (m: Record<string, string>, name = 'weft_inbound_requests_total') => sum(after, name, m) - sum(before, name, m);
    const port = String(site.app.port);
    assert.equal(delta({ target_port: port, server: 'api-http', route: '', authorization: 'frontend-in', decision: 'allow', client_id: FRONTEND, tls: 'true', status_code: '200', error: '' }), 7);
    assert.equal(delta({ target_port: port, server: 'api-http', authorization: '', decision: 'deny', client_id: 'unauthenticated', tls: 'false', status_code: '403', error: 'forbidden' }), 4);
    assert.equal(delta({ server: 'api-http', decision: 'allow', classification: 'success' }, 'weft_inbound_request_duration_seconds_count'), 7);
    assert.equal(delta({ server: 'api-http', decision: 'deny', classification: 'failure' }, 'weft_inbound_request_duration_seconds_count'), 4);
  });
});

describe('security cases', () => {
  test('case 10: header values with CR, LF or NUL from a route are never emitted', async () => {
    const w = await OutboundWorld.start({ services: [{ namespace: 'prod', name: 'web', clusterIP: '10.96.9.1', ports: [{ port: 80 }], pods: ['web-0'] }] });
    try {
      const c = await w.client('prod');
      // Hand-made wire policy: the controller never sends such values, the proxy must not trust that.
      const wire = {
        service: { namespace: 'prod', name: 'web', port: 80, authority: 'web.prod.svc.cluster.local:80' },
        protocol: 'PROTOCOL_HINT_UNSPECIFIED' as const,
        routes: {
          $case: 'http' as const,
          value: {
            routes: [{
              meta: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'prod', name: 'inject' },
              rules: [{
                name: '', matches: [],
                filters: [
                  { kind: { $case: 'requestHeaderModifier' as const, value: { set: [{ name: 'x-in', value: 'a\r\nx-evil: 1' }, { name: 'x-nul', value: 'a\0b' }], add: [{ name: 'x-ok', value: 'fine' }], remove: [] } } },
                  { kind: { $case: 'responseHeaderModifier' as const, value: { set: [{ name: 'x-out', value: 'b\nx-evil: 2' }], add: [], remove: [] } } },
                ],
                backends: [{ backend: { name: 'prod/web:80', kind: { $case: 'service' as const, value: { namespace: 'prod', name: 'web', port: 80, authority: '' } } }, weight: 1, filters: [] }],
              }],
            }],
          },
        },
      };
      c.store.setOutbound({ namespace: 'prod', name: 'web', port: 80 }, servicePortPolicyOf(wire, 'prod'));
      const r = await w.request('prod', 'http://web.prod/x');
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-out'], undefined);
      assert.equal(r.headers['x-evil'], undefined);
      const seen = w.app('web-0').seen.at(-1)!;
      assert.equal(seen.headers['x-ok'], 'fine');
      assert.equal(seen.headers['x-in'], undefined);
      assert.equal(seen.headers['x-nul'], undefined);
      assert.equal(seen.headers['x-evil'], undefined);
    } finally {
      await w.close();
    }
  });

  test('case 15: a client-sent weft-client-id is removed on plaintext and mTLS; only the verified identity is set', async () => {
    apply(snapshot({}), { defaultPolicy: 'all-unauthenticated' });
    await plaintext('/id', { headers: { [HEADER_CLIENT_ID]: FRONTEND } });
    assert.equal(lastSeen().headers[HEADER_CLIENT_ID], undefined, 'plaintext: removed, nothing set');
    await viaMesh(INTRUDER, '/id', { headers: { [HEADER_CLIENT_ID]: FRONTEND } });
    assert.equal(lastSeen().headers[HEADER_CLIENT_ID], INTRUDER, 'mTLS: the certificate identity, not the client copy');
  });

  test('case 16: client-sent weft-* headers are stripped and never reach the app or feed a decision', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      httpRoutes: [serverRoute('internal', 'api-http', [{ matches: [{ headers: [{ name: 'weft-internal', value: 'yes' }] }] }])],
      networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
      authorizationPolicies: [authz('any', toServer('api-http'), [netRef('everyone')])],
    }));
    const r = await plaintext('/i', { headers: { 'weft-internal': 'yes', 'weft-proxy-error': 'app-unreachable' } });
    assert.equal(r.status, 404, 'a route keyed on a weft-* header never sees the client copy');
    const ok = await viaMesh(FRONTEND, '/i', { headers: { 'weft-anything': '1' } });
    assert.equal(ok.status, 404);
    apply(snapshot({}), { defaultPolicy: 'all-unauthenticated' });
    await viaMesh(FRONTEND, '/i', { headers: { 'weft-anything': '1', 'weft-proxy-error': 'x' } });
    const leaked = Object.keys(lastSeen().headers).filter((h) => h.startsWith('weft-') && h !== HEADER_CLIENT_ID);
    assert.deepEqual(leaked, []);
  });

  test('case 17: repeated headers: a route matches only when every value of the header matches', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      httpRoutes: [serverRoute('admins', 'api-http', [{ matches: [{ headers: [{ name: 'x-role', value: 'admin' }] }] }])],
      networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
      authorizationPolicies: [authz('admins-any', toHttpRoute('admins'), [netRef('everyone')])],
    }));
    assert.equal((await plaintext('/r', { headers: { 'x-role': 'admin' } })).status, 200);
    const twice = await raw(site.server.inboundPort, 'GET /r HTTP/1.1\r\nhost: api\r\nx-role: admin\r\nx-role: user\r\nconnection: close\r\n\r\n');
    assert.match(twice, /^HTTP\/1\.1 404 /, 'admin + user is not admin');
  });

  test('case 18: X-Forwarded-For and Forwarded never feed authorization', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      networkAuthentications: [netauthn('ten', [{ cidr: '10.0.0.0/8' }])],
      authorizationPolicies: [authz('from-ten', toServer('api-http'), [netRef('ten')])],
    }));
    const r = await plaintext('/f', { headers: { 'x-forwarded-for': '10.1.2.3', forwarded: 'for=10.1.2.3', 'x-real-ip': '10.1.2.3' } });
    assert.equal(r.status, 403, 'the socket peer (loopback) is what counts');
  });

  test('case 25: what the proxy does not understand fails closed: unset oneofs in a route, an authentication, a proxy protocol', async () => {
    const base = wirePortPolicy(policyFor(FRONTEND_ONLY(), 8080, { probeNetworks: ['127.0.0.1/32'] }));
    // An authentication kind this proxy's schema lacks decodes as an unset oneof.
    const unknownAuthn = { ...base, authorizations: base.authorizations.map((a) => ({ ...a, required: [{ kind: undefined }] })) };
    site.store.setInbound(site.app.port, portPolicyOf(unknownAuthn, { namespace: NS, name: 'api-0' }, site.app.port, TRUST_DOMAIN));
    assert.equal((await viaMesh(FRONTEND, '/u')).status, 403, 'the authorization admits nobody');
    const unknownProtocol = { ...base, server: { ...base.server!, protocol: { kind: undefined } } };
    site.store.setInbound(site.app.port, portPolicyOf(unknownProtocol, { namespace: NS, name: 'api-0' }, site.app.port, TRUST_DOMAIN));
    assert.equal((await viaMesh(FRONTEND, '/u')).status, 403, 'an unknown proxy protocol denies');
    assert.equal((await plaintext('/healthz')).status, 200, 'probes still pass');

    const w = await OutboundWorld.start({ services: [{ namespace: 'prod', name: 'web', clusterIP: '10.96.9.2', ports: [{ port: 80 }], pods: ['web-0'] }] });
    try {
      const c = await w.client('prod');
      const rule = (filters: unknown[]) => ({ name: '', matches: [], filters, backends: [{ backend: { name: 'prod/web:80', kind: { $case: 'service', value: { namespace: 'prod', name: 'web', port: 80, authority: '' } } }, weight: 1, filters: [] }] });
      const service = { namespace: 'prod', name: 'web', port: 80, authority: '' };
      const policy = (r: unknown) => ({
        service, protocol: 'PROTOCOL_HINT_UNSPECIFIED',
        routes: { $case: 'http', value: { routes: [{ meta: { group: '', kind: 'HTTPRoute', namespace: 'prod', name: 'newer' }, rules: [r] }] } },
      }) as never;
      c.store.setOutbound({ namespace: 'prod', name: 'web', port: 80 }, servicePortPolicyOf(policy(rule([{ kind: undefined }])), 'prod'));
      const r1 = await w.request('prod', 'http://web.prod/');
      assert.equal(r1.status, 500);
      assert.equal(r1.headers[HEADER_PROXY_ERROR], 'unsupported');
      c.store.setOutbound({ namespace: 'prod', name: 'web', port: 80 }, servicePortPolicyOf({ service, protocol: 'PROTOCOL_HINT_UNSPECIFIED', routes: undefined }, 'prod'));
      assert.equal((await w.request('prod', 'http://web.prod/')).status, 500, 'routes of an unknown kind answer 500');
      const before = w.app('web-0').seen.length;
      assert.equal(before, 0, 'nothing was forwarded');
    } finally {
      await w.close();
    }
  });

  test('case 26: a new pod is not served before its policy arrives; then the Server without authorization denies', async () => {
    const app = await echoApp('fresh-0');
    const store = new PolicyStore();
    const metrics = new RouteMetrics();
    const asked: number[] = [];
    store.onUnknownPort = (p) => asked.push(p);
    const fresh = await startTestProxyWith({ pki: site.pki, identity: sid(NS, 'fresh'), policy: createPolicyHook({ store, metrics }), metrics, inboundDst: fixedDestination('127.0.0.1', app.port) });
    try {
      const early = await get(fresh.inboundPort, '/x');
      assert.equal(early.status, 503);
      assert.equal(early.headers[HEADER_PROXY_ERROR], 'not-ready');
      assert.deepEqual(asked, [app.port], 'the store was asked to watch the port');
      assert.equal(await raw(fresh.inboundPort, Buffer.from([0x16, 0x00, 0xff, 0x01, 0x02]), 800), '', 'opaque: closed');
      assert.equal(app.seen.length, 0);
      pushInbound(store, app.port, policyFor(snapshot({ servers: [server('api-http')] }), 8080, { probeNetworks: [] }));
      assert.equal((await get(fresh.inboundPort, '/x')).status, 403);
      pushInbound(store, app.port, policyFor(snapshot({}), 8080, { defaultPolicy: 'all-unauthenticated' }));
      assert.equal((await get(fresh.inboundPort, '/x')).status, 200);
    } finally {
      await fresh.shutdown(0);
      app.close();
    }
  });

  test('case 35: metric label values never come from paths, authorities or header values', async () => {
    apply(FRONTEND_ONLY());
    await plaintext('/secret-path-123?q=token-456', { headers: { host: 'evil-authority.example', 'x-custom': 'header-value-789' } });
    await viaMesh(FRONTEND, '/secret-path-123', { headers: { host: 'evil-authority.example', 'x-custom': 'header-value-789' } });
    for (const p of [site.server, ...site.clients.values()]) {
      for (const s of await scrape(p.adminPort!)) {
        for (const v of Object.values(s.labels)) assert.ok(!/secret-path|token-456|evil-authority|header-value/.test(v), `${s.name} carries ${v}`);
      }
    }
  });

  test('case 36: regex routes on a maximal URI answer at once; a longer target is refused before matching', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      httpRoutes: [serverRoute('re', 'api-http', [{ matches: [{ path: { type: 'RegularExpression', value: '/(a+)+(b|c)*x' } }] }])],
      networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
      authorizationPolicies: [authz('any', toServer('api-http'), [netRef('everyone')])],
    }));
    const path = `/${'a'.repeat(8_000)}y`;
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) assert.equal((await plaintext(path)).status, 404);
    const took = Date.now() - t0;
    assert.ok(took < 2_000, `20 pathological requests took ${took} ms`);
    const tooLong = await plaintext(`/${'a'.repeat(9_000)}`);
    assert.ok(tooLong.status === 400 || tooLong.status === 431, `a target above 8 KiB is refused (${tooLong.status})`);
  });

  test('case 34: a mirror never buffers more than 64 KiB (larger bodies are not mirrored, and counted as skipped)', async () => {
    const w = await OutboundWorld.start({ services: [
      { namespace: 'prod', name: 'web', clusterIP: '10.96.9.3', ports: [{ port: 80 }], pods: ['web-0'] },
      { namespace: 'prod', name: 'shadow', clusterIP: '10.96.9.4', ports: [{ port: 80 }], pods: ['shadow-0'] },
    ] });
    try {
      w.setSnapshot({
        httpRoutes: [{
          metadata: { name: 'm', namespace: 'prod', creationTimestamp: '2026-01-01T00:00:00Z' },
          spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web' }], rules: [{ filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'shadow', port: 80 } } }], backendRefs: [{ name: 'web', port: 80 }] }] },
        }],
      });
      const c = await w.client('prod');
      assert.equal((await w.request('prod', 'http://web.prod/big', { method: 'POST', body: Buffer.alloc(65 * 1024) })).status, 200);
      assert.equal((await w.request('prod', 'http://web.prod/small', { method: 'POST', body: Buffer.alloc(64 * 1024) })).status, 200);
      for (let i = 0; i < 50 && w.app('shadow-0').seen.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(w.app('shadow-0').seen.map((s) => s.path), ['/small']);
      const m = await scrape(c.proxy.adminPort!);
      assert.equal(sum(m, 'weft_proxy_mirrors_total', { result: 'skipped' }), 1);
      assert.equal(sum(m, 'weft_proxy_mirrors_total', { result: 'sent' }), 1);
    } finally {
      await w.close();
    }
  });
});



describe('a Server route\'s timeouts and retry apply to the forward to the app', () => {
  const everyone = {
    networkAuthentications: [netauthn('everyone', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
    authorizationPolicies: [authz('everyone-in', toServer('api-http'), [netRef('everyone')])],
  };

  test('backendRequest cuts each attempt, retry sends it again, request bounds the whole exchange: 504 after three attempts', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      httpRoutes: [serverRoute('slow', 'api-http', [{
        matches: [{ path: { type: 'PathPrefix', value: '/slow' } }],
        timeouts: { request: '10s', backendRequest: '200ms' },
        retry: { attempts: 2 },
      }])],
      ...everyone,
    }));
    let n = 0;
    site.app.handler = (req) => {
      if (!req.url?.startsWith('/slow')) return false;
      n++;
      return true; // never answers
    };
    try {
      const t0 = performance.now();
      const r = await viaMesh(FRONTEND, '/slow/x');
      const took = performance.now() - t0;
      assert.equal(r.status, 504);
      assert.equal(r.headers[HEADER_PROXY_ERROR], 'timeout');
      assert.equal(n, 3, 'the first attempt and two retries reached the app');
      assert.ok(took >= 600 && took < 5_000, `${took.toFixed(0)} ms`);
    } finally {
      site.app.handler = undefined;
    }
  });

  test('a 503 listed in codes is retried to the app; without a retry the 503 is passed on', async () => {
    apply(snapshot({
      servers: [server('api-http')],
      httpRoutes: [
        serverRoute('flaky', 'api-http', [{ matches: [{ path: { type: 'PathPrefix', value: '/flaky' } }], retry: { attempts: 1, codes: [503] } }]),
        serverRoute('plain', 'api-http', [{ matches: [{ path: { type: 'PathPrefix', value: '/plain' } }] }]),
      ],
      ...everyone,
    }));
    let n = 0;
    site.app.handler = (req, res) => {
      n++;
      req.resume();
      res.writeHead(n % 2 === 1 ? 503 : 200, { 'content-length': 0 }).end();
      return true;
    };
    try {
      assert.equal((await plaintext('/flaky/1')).status, 200, 'plaintext: the 503 was retried');
      assert.equal(n, 2);
      assert.equal((await viaMesh(FRONTEND, '/flaky/2')).status, 200, 'mesh: the 503 was retried');
      assert.equal(n, 4);
      assert.equal((await plaintext('/plain/3')).status, 503, 'no retry on a rule without one');
      assert.equal(n, 5);
    } finally {
      site.app.handler = undefined;
    }
  });
});
