import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DefaultInboundPolicy } from '../kube-policy.js';
import { grpcStatusOf, httpStatusOf } from '../reasons.js';
import { authorizeInbound } from './authorize.js';
import { inboundPortsOf, indexInboundPolicy } from './compile.js';
import type { ClusterSnapshot } from '../kube.js';
import {
  NODE_IP,
  NS,
  authz,
  decide,
  defaultPolicyAnnotation,
  mtls,
  mtlsRef,
  namespace,
  netRef,
  netauthn,
  pod,
  policyFor,
  saRef,
  server,
  serverRoute,
  sid,
  snapshot,
  toHttpRoute,
  toNamespace,
  toServer,
  type Client,
} from './testdata/fixtures.js';

const IN_CLUSTER = '10.2.0.7';
const OUTSIDE = '203.0.113.9';
const FRONTEND = sid('web', 'frontend');

// --- default policies ------------------------------------------------------------------------------

/** Who each default policy lets in, written out by hand (not derived from the implementation). */
const DEFAULT_POLICY_TRUTH: Record<DefaultInboundPolicy, { anonIn: boolean; anonOut: boolean; authIn: boolean; authOut: boolean; audit: boolean }> = {
  'all-unauthenticated': { anonIn: true, anonOut: true, authIn: true, authOut: true, audit: false },
  'all-authenticated': { anonIn: false, anonOut: false, authIn: true, authOut: true, audit: false },
  'cluster-authenticated': { anonIn: false, anonOut: false, authIn: true, authOut: false, audit: false },
  'cluster-unauthenticated': { anonIn: true, anonOut: false, authIn: true, authOut: false, audit: false },
  deny: { anonIn: false, anonOut: false, authIn: false, authOut: false, audit: false },
  audit: { anonIn: true, anonOut: true, authIn: true, authOut: true, audit: true },
};

const CLIENTS: [keyof (typeof DEFAULT_POLICY_TRUTH)['deny'], Client][] = [
  ['anonIn', { ip: IN_CLUSTER }],
  ['anonOut', { ip: OUTSIDE }],
  ['authIn', { ip: IN_CLUSTER, id: FRONTEND }],
  ['authOut', { ip: OUTSIDE, id: FRONTEND }],
];

function setBy(source: 'cluster' | 'namespace' | 'pod', policy: string): { snap: ClusterSnapshot; options: { defaultPolicy?: string } } {
  if (source === 'cluster') return { snap: snapshot({}), options: { defaultPolicy: policy } };
  if (source === 'namespace') return { snap: snapshot({ namespaces: [namespace(NS, defaultPolicyAnnotation(policy))] }), options: {} };
  return { snap: snapshot({ pods: [pod('api-0', { annotations: defaultPolicyAnnotation(policy) })] }), options: {} };
}

test('each default inbound policy admits exactly its clients, set by cluster, namespace or pod annotation', () => {
  for (const [policy, truth] of Object.entries(DEFAULT_POLICY_TRUTH)) {
    for (const source of ['cluster', 'namespace', 'pod'] as const) {
      const { snap, options } = setBy(source, policy);
      for (const [who, client] of CLIENTS) {
        const d = decide(snap, client, { options });
        const label = `${policy} set by ${source}, client ${who}`;
        assert.equal(d.allowed, truth[who], label);
        assert.equal(d.audit === true, truth.audit && d.allowed, label);
        assert.deepEqual(d.authorization, { kind: 'default', name: policy }, label);
        assert.equal(d.server, undefined, label);
        if (!d.allowed) assert.equal(httpStatusOf(d), 403, label);
      }
    }
  }
});

test('without any setting a port without Server is all-unauthenticated', () => {
  const d = decide(snapshot({}), { ip: OUTSIDE });
  assert.equal(d.allowed, true);
  assert.deepEqual(d.authorization, { kind: 'default', name: 'all-unauthenticated' });
});

test('the pod annotation overrides the namespace annotation, which overrides the cluster setting', () => {
  const cases: { rule: string; cluster?: string; ns?: string; pod?: string; expected: DefaultInboundPolicy }[] = [
    { rule: 'namespace overrides cluster', cluster: 'deny', ns: 'all-unauthenticated', expected: 'all-unauthenticated' },
    { rule: 'pod overrides namespace (looser)', ns: 'deny', pod: 'all-unauthenticated', expected: 'all-unauthenticated' },
    { rule: 'pod overrides namespace (stricter)', ns: 'all-unauthenticated', pod: 'deny', expected: 'deny' },
    { rule: 'pod overrides cluster', cluster: 'deny', pod: 'audit', expected: 'audit' },
  ];
  for (const c of cases) {
    const snap = snapshot({
      namespaces: [namespace(NS, c.ns !== undefined ? defaultPolicyAnnotation(c.ns) : {})],
      pods: [pod('api-0', { annotations: c.pod !== undefined ? defaultPolicyAnnotation(c.pod) : {} })],
    });
    const p = policyFor(snap, 8080, c.cluster !== undefined ? { defaultPolicy: c.cluster } : {});
    assert.equal(p.fallback.policy, c.expected, c.rule);
    const d = decide(snap, { ip: OUTSIDE }, { options: c.cluster !== undefined ? { defaultPolicy: c.cluster } : {} });
    assert.equal(d.allowed, c.expected !== 'deny', c.rule);
  }
});

test('an unknown default-policy annotation value fails closed and is reported', () => {
  const snap = snapshot({ pods: [pod('api-0', { annotations: defaultPolicyAnnotation('allow-everything') })] });
  const p = policyFor(snap);
  assert.ok(p.invalid?.includes('allow-everything'));
  assert.equal(p.diagnostics.length, 1);
  assert.equal(decide(snap, { ip: IN_CLUSTER, id: FRONTEND }).allowed, false);
});

test('cluster networks come from the compile option', () => {
  const options = { defaultPolicy: 'cluster-unauthenticated', clusterNetworks: ['203.0.113.0/24'] };
  assert.equal(decide(snapshot({}), { ip: OUTSIDE }, { options }).allowed, true);
  assert.equal(decide(snapshot({}), { ip: IN_CLUSTER }, { options }).allowed, false);
});

// --- Servers and authorizations --------------------------------------------------------------------

test('a Server without authorization denies every client with 403', () => {
  const snap = snapshot({ servers: [server('api')] });
  for (const [, client] of CLIENTS) {
    const d = decide(snap, client);
    assert.equal(d.allowed, false);
    assert.equal(httpStatusOf(d), 403);
    assert.equal(grpcStatusOf(d), 7);
    assert.equal(d.server, 'api');
    assert.deepEqual(d.authorization, { kind: 'accessPolicy', name: 'deny' });
  }
});

test('a Server accessPolicy decides for requests no authorization allows', () => {
  const audit = decide(snapshot({ servers: [server('api', { accessPolicy: 'audit' })] }), { ip: OUTSIDE });
  assert.equal(audit.allowed, true);
  assert.equal(audit.audit, true);
  const authd = snapshot({ servers: [server('api', { accessPolicy: 'all-authenticated' })] });
  assert.equal(decide(authd, { ip: OUTSIDE }).allowed, false);
  assert.equal(decide(authd, { ip: OUTSIDE, id: FRONTEND }).allowed, true);
});

test('a Server only governs the pods its podSelector selects and the port it names', () => {
  const snap = snapshot({
    servers: [server('api', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['api'] }] } })],
    pods: [pod('api-0'), pod('other-0', { labels: { app: 'other' } })],
  });
  assert.equal(decide(snap, { ip: OUTSIDE }).allowed, false, 'selected pod, selected port: Server denies');
  assert.equal(decide(snap, { ip: OUTSIDE }, { port: 9000 }).allowed, true, 'other port: default policy');
  assert.equal(decide(snap, { ip: OUTSIDE }, { pod: 'other-0' }).allowed, true, 'other pod: default policy');
});

test('a named-port Server selects the container port of that name', () => {
  const snap = snapshot({ servers: [server('admin', { port: 'admin' })] });
  const admin = policyFor(snap, 9000);
  assert.equal(admin.server?.name, 'admin');
  assert.equal(policyFor(snap, 8080).server, undefined);
  assert.equal(decide(snap, { ip: OUTSIDE }, { port: 9000 }).allowed, false);
  const noSuchName = snapshot({ servers: [server('admin', { port: 'metrics' })] });
  assert.equal(policyFor(noSuchName, 9000).server, undefined);
});

test('when several Servers select a port the oldest governs and the others are Conflicted', () => {
  const snap = snapshot({
    servers: [
      server('newer', { accessPolicy: 'all-unauthenticated' }, '2026-03-01T00:00:00Z'),
      server('older', {}, '2026-02-01T00:00:00Z'),
    ],
  });
  const p = policyFor(snap);
  assert.equal(p.server?.name, 'older');
  assert.deepEqual(
    p.diagnostics.map((d) => [d.object.name, d.reason]),
    [['newer', 'Conflicted']],
  );
  assert.equal(decide(snap, { ip: OUTSIDE }).allowed, false);
});

test('an AuthorizationPolicy targeting the Server applies to every request on it', () => {
  const snap = snapshot({
    servers: [server('api')],
    meshTLSAuthentications: [mtls('web', { identityRefs: [{ kind: 'Namespace', name: 'web' }] })],
    authorizationPolicies: [authz('web-to-api', toServer('api'), [mtlsRef('web')])],
    httpRoutes: [serverRoute('admin', 'api', [{ matches: [{ path: { type: 'PathPrefix', value: '/admin' } }] }]), serverRoute('rest', 'api', [{}])],
  });
  for (const path of ['/api', '/admin/x']) {
    const d = decide(snap, { ip: IN_CLUSTER, id: FRONTEND, path });
    assert.equal(d.allowed, true, path);
    assert.deepEqual(d.authorization, { kind: 'AuthorizationPolicy', name: `${NS}/web-to-api` });
  }
  assert.equal(decide(snap, { ip: IN_CLUSTER, id: sid('batch', 'job') }).allowed, false);
});

test('an AuthorizationPolicy targeting an HTTPRoute applies only to requests that route selects', () => {
  const snap = snapshot({
    servers: [server('api')],
    meshTLSAuthentications: [mtls('web', { identities: [FRONTEND] })],
    authorizationPolicies: [authz('web-reads', toHttpRoute('reads'), [mtlsRef('web')])],
    httpRoutes: [
      serverRoute('reads', 'api', [{ matches: [{ path: { type: 'PathPrefix', value: '/books' }, method: 'GET' }] }]),
      serverRoute('writes', 'api', [{ matches: [{ path: { type: 'PathPrefix', value: '/books' }, method: 'POST' }] }]),
    ],
  });
  const read = decide(snap, { id: FRONTEND, method: 'GET', path: '/books/1' });
  assert.equal(read.allowed, true);
  assert.equal(read.route, 'reads');
  const write = decide(snap, { id: FRONTEND, method: 'POST', path: '/books' });
  assert.equal(write.allowed, false);
  assert.equal(httpStatusOf(write), 403);
  assert.equal(write.route, 'writes');
});

test('an AuthorizationPolicy targeting the Namespace applies to every Server in it and nowhere else', () => {
  const parts = {
    servers: [server('api'), server('api', {}, undefined, 'other')],
    pods: [pod('api-0'), pod('api-0', { ns: 'other' })],
    namespaces: [namespace(NS), namespace('other')],
    networkAuthentications: [netauthn('all', [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }])],
    authorizationPolicies: [authz('ns-wide', toNamespace(NS), [netRef('all')])],
  };
  const snap = snapshot(parts);
  assert.equal(decide(snap, { ip: OUTSIDE }).allowed, true);
  assert.equal(decide(snap, { ip: OUTSIDE }, { ns: 'other' }).allowed, false);
  const elsewhere = snapshot({ ...parts, authorizationPolicies: [authz('ns-wide', toNamespace('other'), [netRef('all')])] });
  assert.equal(decide(elsewhere, { ip: OUTSIDE }, { ns: 'other' }).allowed, false, 'a policy may only target its own Namespace');
});

test('MeshTLSAuthentication admits by identities (exact, *) and identityRefs (ServiceAccount, Namespace)', () => {
  const cases: { rule: string; spec: Parameters<typeof mtls>[1]; client: Client; expected: boolean }[] = [
    { rule: 'exact identity', spec: { identities: [FRONTEND] }, client: { id: FRONTEND }, expected: true },
    { rule: 'exact identity, other client', spec: { identities: [FRONTEND] }, client: { id: sid('web', 'admin') }, expected: false },
    { rule: '* admits any authenticated client', spec: { identities: ['*'] }, client: { id: sid('x', 'y') }, expected: true },
    { rule: '* refuses an unauthenticated client', spec: { identities: ['*'] }, client: {}, expected: false },
    { rule: 'an identity claimed without TLS does not count', spec: { identities: ['*'] }, client: { id: FRONTEND, tls: false }, expected: false },
    { rule: 'ServiceAccount identityRef', spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'frontend', namespace: 'web' }] }, client: { id: FRONTEND }, expected: true },
    { rule: 'ServiceAccount identityRef defaults to its own namespace', spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'frontend' }] }, client: { id: FRONTEND }, expected: false },
    { rule: 'Namespace identityRef admits any SA in it', spec: { identityRefs: [{ kind: 'Namespace', name: 'web' }] }, client: { id: sid('web', 'anyone') }, expected: true },
    { rule: 'Namespace identityRef refuses other namespaces', spec: { identityRefs: [{ kind: 'Namespace', name: 'web' }] }, client: { id: sid('batch', 'anyone') }, expected: false },
  ];
  for (const c of cases) {
    const snap = snapshot({
      servers: [server('api')],
      meshTLSAuthentications: [mtls('clients', c.spec)],
      authorizationPolicies: [authz('allow', toServer('api'), [mtlsRef('clients')])],
    });
    assert.equal(decide(snap, c.client).allowed, c.expected, c.rule);
  }
});

test('NetworkAuthentication admits clients in a network minus its except blocks, IPv4 and IPv6', () => {
  const snap = snapshot({
    servers: [server('api')],
    networkAuthentications: [
      netauthn('nets', [
        { cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] },
        { cidr: 'fd00::/8', except: ['fd00:dead::/32'] },
      ]),
    ],
    authorizationPolicies: [authz('allow', toServer('api'), [netRef('nets')])],
  });
  const cases: [string, boolean][] = [
    ['10.1.2.3', true],
    ['10.9.0.1', false],
    ['::ffff:10.1.2.3', true],
    ['::ffff:10.9.2.3', false],
    ['fd00:1::5', true],
    ['fd00:dead::5', false],
    ['192.168.1.1', false],
    ['2001:db8::1', false],
    ['not-an-ip', false],
  ];
  for (const [ip, expected] of cases) assert.equal(decide(snap, { ip }).allowed, expected, ip);
});

test('a ServiceAccount authentication ref admits exactly that ServiceAccount', () => {
  const snap = snapshot({
    servers: [server('api')],
    authorizationPolicies: [authz('allow', toServer('api'), [saRef('frontend', 'web')]), authz('local', toServer('api'), [saRef('worker')])],
  });
  assert.equal(decide(snap, { id: FRONTEND }).allowed, true);
  assert.equal(decide(snap, { id: sid(NS, 'worker') }).allowed, true, 'namespace defaults to the policy namespace');
  assert.equal(decide(snap, { id: sid('web', 'worker') }).allowed, false);
  assert.equal(decide(snap, {}).allowed, false);
});

test('all requiredAuthenticationRefs must hold', () => {
  const snap = snapshot({
    servers: [server('api')],
    meshTLSAuthentications: [mtls('web', { identities: [FRONTEND] })],
    networkAuthentications: [netauthn('office', [{ cidr: '10.0.0.0/8' }])],
    authorizationPolicies: [authz('both', toServer('api'), [mtlsRef('web'), netRef('office')])],
  });
  assert.equal(decide(snap, { id: FRONTEND, ip: IN_CLUSTER }).allowed, true, 'both hold');
  assert.equal(decide(snap, { id: FRONTEND, ip: OUTSIDE }).allowed, false, 'identity only');
  assert.equal(decide(snap, { ip: IN_CLUSTER }).allowed, false, 'network only');
});

test('Forwarded and X-Forwarded-For never feed authorization: only the socket address does', () => {
  const snap = snapshot({
    servers: [server('api')],
    networkAuthentications: [netauthn('office', [{ cidr: '10.0.0.0/8' }])],
    authorizationPolicies: [authz('office', toServer('api'), [netRef('office')])],
  });
  const headers = { 'x-forwarded-for': '10.1.1.1', forwarded: 'for=10.1.1.1', 'x-real-ip': '10.1.1.1' };
  assert.equal(decide(snap, { ip: OUTSIDE, headers }).allowed, false);
  assert.equal(decide(snap, { ip: IN_CLUSTER, headers: { 'x-forwarded-for': OUTSIDE } }).allowed, true);
});

// --- probes ----------------------------------------------------------------------------------------

test('kubelet probes stay authorized: only the probe path, only GET, only from probe networks', () => {
  const snap = snapshot({ servers: [server('api')] });
  const cases: { rule: string; client: Client; expected: boolean }[] = [
    { rule: 'liveness path (named port) from the node', client: { ip: NODE_IP, path: '/healthz' }, expected: true },
    { rule: 'readiness path (numeric port) from the node', client: { ip: NODE_IP, path: '/ready' }, expected: true },
    { rule: 'probe path variant normalises to the probe path', client: { ip: NODE_IP, path: '//ready' }, expected: true },
    { rule: 'probe path with a query', client: { ip: NODE_IP, path: '/ready?verbose=1' }, expected: true },
    { rule: 'another path from the node', client: { ip: NODE_IP, path: '/admin' }, expected: false },
    { rule: 'a path below the probe path', client: { ip: NODE_IP, path: '/healthz/x' }, expected: false },
    { rule: 'the probe path from elsewhere', client: { ip: IN_CLUSTER, path: '/healthz' }, expected: false },
    { rule: 'POST to the probe path', client: { ip: NODE_IP, method: 'POST', path: '/healthz' }, expected: false },
  ];
  for (const c of cases) {
    const d = decide(snap, c.client);
    assert.equal(d.allowed, c.expected, c.rule);
    if (d.allowed) assert.deepEqual(d.authorization, { kind: 'probe', name: 'probe' }, c.rule);
  }
  assert.equal(decide(snap, { ip: NODE_IP, path: '/healthz' }, { port: 9000 }).allowed, true, 'no Server on 9000: default allows');
  const deny = snapshot({ pods: [pod('api-0', { annotations: defaultPolicyAnnotation('deny') })] });
  assert.equal(decide(deny, { ip: NODE_IP, path: '/healthz' }).allowed, true, 'the deny default policy keeps probes');
  assert.equal(decide(deny, { ip: NODE_IP, path: '/healthz' }, { port: 9000 }).allowed, false, 'a probe path of another port');
});

test('probe networks come from the compile option when given', () => {
  const snap = snapshot({ servers: [server('api')] });
  const options = { probeNetworks: ['10.2.0.0/16'] };
  assert.equal(decide(snap, { ip: IN_CLUSTER, path: '/healthz' }, { options }).allowed, true);
  assert.equal(decide(snap, { ip: NODE_IP, path: '/healthz' }, { options }).allowed, false);
});

test('probes fall under a route that explicitly covers their path, and survive routes that do not', () => {
  const covered = snapshot({
    servers: [server('api')],
    httpRoutes: [serverRoute('health', 'api', [{ matches: [{ path: { type: 'Exact', value: '/healthz' } }] }])],
  });
  const d = decide(covered, { ip: NODE_IP, path: '/healthz' });
  assert.equal(d.allowed, false);
  assert.equal(d.route, 'health');
  const uncovered = snapshot({
    servers: [server('api')],
    httpRoutes: [serverRoute('api', 'api', [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }] }])],
  });
  assert.equal(decide(uncovered, { ip: NODE_IP, path: '/healthz' }).allowed, true, 'not a 404');
  assert.equal(httpStatusOf(decide(uncovered, { ip: NODE_IP, path: '/other' })), 404);
});

// --- routes ----------------------------------------------------------------------------------------

test('a request matching no route of a Server with routes gets 404 (gRPC UNIMPLEMENTED)', () => {
  const snap = snapshot({
    servers: [server('api', { accessPolicy: 'all-unauthenticated' })],
    httpRoutes: [serverRoute('books', 'api', [{ matches: [{ path: { type: 'PathPrefix', value: '/books' } }] }])],
  });
  const miss = decide(snap, { path: '/bookstore' });
  assert.equal(miss.allowed, false);
  assert.equal(httpStatusOf(miss), 404);
  assert.equal(grpcStatusOf(miss), 12);
  assert.equal(miss.code, 'ROUTE_NOT_FOUND');
  assert.equal(decide(snap, { path: '/books/1' }).allowed, true);
});

test('a selected rule that uses an unsupported filter is refused with 500', () => {
  const snap = snapshot({
    servers: [server('api', { accessPolicy: 'all-unauthenticated' })],
    httpRoutes: [serverRoute('cors', 'api', [{ filters: [{ type: 'ExternalAuth' }] }])],
  });
  const d = decide(snap, {});
  assert.equal(d.allowed, false);
  assert.equal(httpStatusOf(d), 500);
  assert.equal(d.code, 'UNSUPPORTED');
});

test('an opaque connection (no request) is decided by port-wide authorizations only', () => {
  const snap = snapshot({
    servers: [server('db', { proxyProtocol: 'opaque' })],
    authorizationPolicies: [authz('allow', toServer('db'), [saRef('frontend', 'web')])],
  });
  const p = policyFor(snap);
  assert.equal(p.protocol, 'opaque');
  const ok = authorizeInbound(p, { clientIdentity: FRONTEND, tls: true, clientIp: IN_CLUSTER });
  assert.equal(ok.allowed, true);
  assert.equal(authorizeInbound(p, { tls: false, clientIp: IN_CLUSTER }).allowed, false);
});

test('GRPCRoutes attach to a Server and AuthorizationPolicies can target them', () => {
  const snap = snapshot({
    servers: [server('grpc', { proxyProtocol: 'gRPC' })],
    grpcRoutes: [
      {
        metadata: { name: 'reads', namespace: NS, creationTimestamp: '2026-01-01T00:00:00Z' },
        spec: {
          parentRefs: [{ group: 'policy.weft.dev', kind: 'Server', name: 'grpc' }],
          rules: [{ matches: [{ method: { service: 'books.Library', method: 'Get' } }] }],
        },
      },
    ],
    authorizationPolicies: [authz('reads', { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', name: 'reads' }, [saRef('frontend', 'web')])],
  });
  const grpc = { 'content-type': 'application/grpc' };
  const get = decide(snap, { id: FRONTEND, method: 'POST', path: '/books.Library/Get', headers: grpc });
  assert.equal(get.allowed, true);
  assert.equal(get.route, 'reads');
  const other = decide(snap, { id: FRONTEND, method: 'POST', path: '/books.Library/Delete', headers: grpc });
  assert.equal(other.allowed, false);
  assert.equal(grpcStatusOf(other), 12);
});

test('the ports of a pod are its container ports plus the numeric ports of Servers selecting it', () => {
  const snap = snapshot({ servers: [server('metrics', { port: 9100 }), server('other', { port: 7000, podSelector: { matchLabels: { app: 'x' } } })] });
  const index = indexInboundPolicy(snap);
  const p = index.pods.get(`${NS}/api-0`);
  assert.ok(p !== undefined);
  assert.deepEqual(inboundPortsOf(index, p), [8080, 9000, 9100]);
});

test('a Server that can select nothing is reported', () => {
  const snap = snapshot({
    servers: [server('noport', { port: 0 }), { metadata: { name: 'nospec', namespace: NS } }, { metadata: { name: 'nosel', namespace: NS }, spec: { port: 8080 } }],
  });
  const reports = indexInboundPolicy(snap).diagnostics.map((d) => `${d.object.name}: ${d.reason}`);
  assert.deepEqual(reports.sort(), ['noport: Invalid', 'nosel: Invalid', 'nospec: Invalid']);
});

// --- fail closed -----------------------------------------------------------------------------------

test('an unknown authentication kind fails its authorization closed and is reported', () => {
  const snap = snapshot({
    servers: [server('api')],
    authorizationPolicies: [authz('jwt', toServer('api'), [{ group: 'policy.weft.dev', kind: 'JWTAuthentication', name: 'x' }])],
  });
  const p = policyFor(snap);
  assert.ok(p.authorizations[0]?.invalid?.includes('JWTAuthentication'));
  const d = decide(snap, { id: FRONTEND, ip: IN_CLUSTER });
  assert.equal(d.allowed, false);
  assert.match(d.reason, /JWTAuthentication/);
});

test('what Weft cannot enforce as written denies, with a reason', () => {
  const all = [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }];
  const cases: { rule: string; parts: Partial<ClusterSnapshot>; message: RegExp }[] = [
    {
      rule: 'unparsable CIDR',
      parts: { networkAuthentications: [netauthn('n', [{ cidr: '10.0.0.0/33' }])], authorizationPolicies: [authz('a', toServer('api'), [netRef('n')])] },
      message: /10\.0\.0\.0\/33/,
    },
    {
      rule: 'missing authentication',
      parts: { authorizationPolicies: [authz('a', toServer('api'), [netRef('nope')])] },
      message: /not found/,
    },
    {
      rule: 'authentication in a foreign group',
      parts: { networkAuthentications: [netauthn('n', all)], authorizationPolicies: [authz('a', toServer('api'), [{ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: 'n' }])] },
      message: /policy\.linkerd\.io/,
    },
    {
      rule: 'unknown AuthorizationPolicy field',
      parts: { networkAuthentications: [netauthn('n', all)], authorizationPolicies: [authz('a', toServer('api'), [netRef('n')], NS, { requiredHeaders: ['x'] })] },
      message: /requiredHeaders/,
    },
    {
      rule: 'no requiredAuthenticationRefs',
      parts: { authorizationPolicies: [authz('a', toServer('api'), [])] },
      message: /no requiredAuthenticationRefs/,
    },
  ];
  for (const c of cases) {
    const snap = snapshot({ servers: [server('api')], ...c.parts });
    const d = decide(snap, { id: FRONTEND, ip: IN_CLUSTER });
    assert.equal(d.allowed, false, c.rule);
    assert.match(d.reason, c.message, c.rule);
  }
});

test('an AuthorizationPolicy with an unknown targetRef kind applies nowhere and is reported', () => {
  const snap = snapshot({
    servers: [server('api')],
    networkAuthentications: [netauthn('n', [{ cidr: '0.0.0.0/0' }])],
    authorizationPolicies: [authz('a', { group: 'policy.weft.dev', kind: 'MeshService', name: 'api' }, [netRef('n')])],
  });
  assert.equal(decide(snap, {}).allowed, false);
  assert.deepEqual(policyFor(snap).authorizations, [], 'it targets nothing on the port');
  const reports = indexInboundPolicy(snap).diagnostics;
  assert.deepEqual(
    reports.map((d) => [d.object.kind, d.object.name, d.reason]),
    [['AuthorizationPolicy', 'a', 'Unsupported']],
  );
  assert.match(reports[0]?.message ?? '', /MeshService/);
});

test('the compiler reports every authorization it cannot enforce', () => {
  const snap = snapshot({
    servers: [server('api')],
    meshTLSAuthentications: [mtls('dns', { identities: ['*.web.serviceaccount.identity.linkerd.cluster.local'] })],
    authorizationPolicies: [
      authz('jwt', toServer('api'), [{ kind: 'JWTAuthentication', name: 'x' }]),
      authz('dns', toServer('api'), [mtlsRef('dns')]),
    ],
  });
  const reports = indexInboundPolicy(snap).diagnostics.map((d) => `${d.object.kind}/${d.object.name}: ${d.reason}`);
  assert.deepEqual(reports.sort(), [
    'AuthorizationPolicy/dns: Invalid',
    'AuthorizationPolicy/jwt: Invalid',
    'MeshTLSAuthentication/dns: Invalid',
  ]);
});

test('a Server Weft cannot fully evaluate governs its port and denies, instead of falling back to the default', () => {
  const cases: { rule: string; spec: Record<string, unknown> }[] = [
    { rule: 'unknown podSelector operator', spec: { podSelector: { matchLabels: { app: 'api' }, matchExpressions: [{ key: 'tier', operator: 'Matches', values: ['x'] }] } } },
    { rule: 'unknown proxyProtocol', spec: { proxyProtocol: 'HTTP/3' } },
    { rule: 'unknown accessPolicy', spec: { accessPolicy: 'allow' } },
    { rule: 'unknown Server field', spec: { externalWorkloadSelector: { matchLabels: {} } } },
  ];
  for (const c of cases) {
    const snap = snapshot({ servers: [server('api', c.spec)] });
    const p = policyFor(snap);
    assert.equal(p.server?.name, 'api', c.rule);
    assert.ok(p.invalid !== undefined, c.rule);
    assert.equal(decide(snap, { ip: IN_CLUSTER }).allowed, false, c.rule);
    assert.equal(decide(snap, { ip: NODE_IP, path: '/healthz' }).allowed, true, `${c.rule}: probes still pass`);
  }
});

test('a route on the Server that cannot be compiled makes the Server deny everything', () => {
  const snap = snapshot({
    servers: [server('api', { accessPolicy: 'all-unauthenticated' })],
    httpRoutes: [serverRoute('bad', 'api', [{ matches: [{ path: { type: 'RegularExpression', value: '(a)\\1' } }] }])],
  });
  const d = decide(snap, { path: '/anything' });
  assert.equal(d.allowed, false);
  assert.match(d.reason, /bad/);
});

// --- audit -----------------------------------------------------------------------------------------

test('audit allows and records what would have been denied', () => {
  const snap = snapshot({
    servers: [server('api', { accessPolicy: 'audit' })],
    authorizationPolicies: [authz('allow', toServer('api'), [saRef('frontend', 'web')])],
  });
  const stranger = decide(snap, { ip: OUTSIDE });
  assert.equal(stranger.allowed, true);
  assert.equal(stranger.audit, true);
  assert.match(stranger.reason, /would be denied/);
  const friend = decide(snap, { id: FRONTEND });
  assert.equal(friend.allowed, true);
  assert.equal(friend.audit, undefined, 'an authorized request is not an audit event');
});
