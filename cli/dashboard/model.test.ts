/**
 * The dashboard's view models on a fixture booksapp (pure, no cluster, no browser): webapp calls
 * books through the fault-injection route (90 to books, 10 to the error injector, which answers 500)
 * and authors through a route behind the authorization example's Server; books denies a client.
 * Expected figures are counted by hand from the samples below.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../test/support/paths.js';
import { EMPTY_SNAPSHOT, type ClusterSnapshot, type HTTPRoute, type KubeObject, type Pod, type Service } from '../../core/kube.js';
import type { AuthorizationPolicy, MeshTLSAuthentication, NetworkAuthentication, Server } from '../../core/kube-policy.js';
import type { DeltaSample } from '../observe/window.js';
import { deniedProblem, edgeKey, overview, routeDetail, workloadOf, type Point } from './model.js';

const NS = 'booksapp';
const TD = 'cluster.local';
const id = (sa: string) => `spiffe://${TD}/ns/${NS}/sa/${sa}`;

const pod = (app: string, opts: { meshed?: boolean; port?: number; owner?: boolean } = {}): Pod => ({
  kind: 'Pod',
  metadata: {
    name: `${app}-5d8f7c9b4-x2x7q`, namespace: NS,
    labels: { app, 'pod-template-hash': '5d8f7c9b4', ...(opts.meshed !== false ? { 'weft.dev/meshed': 'true' } : {}) },
    ...(opts.owner !== false ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-5d8f7c9b4`, uid: app, controller: true }] } : {}),
  },
  spec: { serviceAccountName: app, containers: [{ name: app, ports: [{ name: 'http', containerPort: opts.port ?? 8080 }] }] },
  status: { phase: 'Running', podIP: '10.244.0.9' },
});
const service = (name: string, port: number): Service => ({ kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ name: 'http', port, targetPort: 'http' }] } });

const AUTHZ_DIR = join(REPO_ROOT, 'examples', 'booksapp', 'manifests');
const docs = (file: string) => parseAllDocuments(readFileSync(join(AUTHZ_DIR, file), 'utf8')).map((d) => d.toJS() as KubeObject).filter((o) => o !== null);
const policy = ['server.yaml', 'routes.yaml', 'policies.yaml', 'authentications.yaml'].flatMap((f) => docs(`authorization/${f}`));
const byKind = <T,>(kind: string) => policy.filter((o) => o.kind === kind) as unknown as T[];

const accepted = (parent: string, ok = true) => ({
  parents: [{ parentRef: { kind: 'Service', name: parent }, controllerName: 'weft.dev/policy-controller', conditions: [
    { type: 'Accepted', status: ok ? 'True' as const : 'False' as const, reason: ok ? 'Accepted' : 'NoMatchingParent', message: ok ? 'ok' : 'Service books-v9 not found' },
    { type: 'ResolvedRefs', status: 'True' as const, reason: 'ResolvedRefs' },
  ] }],
});
const faultRoute = { ...(docs('fault-injection/route.yaml')[0] as HTTPRoute), status: accepted('books') };
const authorsRoute: HTTPRoute = {
  kind: 'HTTPRoute', metadata: { name: 'authors-timeouts', namespace: NS },
  spec: { parentRefs: [{ kind: 'Service', name: 'authors', port: 7001 }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/authors' }, method: 'GET' }], timeouts: { request: '1s', backendRequest: '500ms' }, backendRefs: [{ name: 'authors', port: 7001 }] }] },
  status: accepted('authors'),
};
const brokenRoute: HTTPRoute = {
  kind: 'HTTPRoute', metadata: { name: 'books-v9', namespace: NS },
  spec: { parentRefs: [{ kind: 'Service', name: 'books-v9' }], rules: [{ backendRefs: [{ name: 'books-v9', port: 7002 }] }] },
  status: accepted('books-v9', false),
};

const SNAPSHOT: ClusterSnapshot = {
  ...EMPTY_SNAPSHOT,
  namespaces: [{ metadata: { name: NS, annotations: { 'weft.dev/inject': 'enabled' } } }, { metadata: { name: 'default' } }],
  services: [service('books', 7002), service('authors', 7001), service('error-injector', 8080), service('webapp', 7000)],
  pods: [pod('webapp'), pod('books', { port: 7002 }), pod('authors', { port: 7001 }), pod('error-injector'), pod('traffic', { meshed: false })],
  httpRoutes: [faultRoute, authorsRoute, brokenRoute, ...byKind<HTTPRoute>('HTTPRoute')],
  servers: byKind<Server>('Server'),
  authorizationPolicies: byKind<AuthorizationPolicy>('AuthorizationPolicy'),
  meshTLSAuthentications: byKind<MeshTLSAuthentication>('MeshTLSAuthentication'),
  networkAuthentications: byKind<NetworkAuthentication>('NetworkAuthentication'),
};

const WEBAPP_POD = 'webapp-5d8f7c9b4-x2x7q';
const out = (backend: string, port: string, status: string, value: number, svc = 'books', route = 'books-fault-injection'): DeltaSample[] => {
  const labels = {
    namespace: NS, pod: WEBAPP_POD, service_namespace: NS, service_name: svc, service_port: port === '7001' ? '7001' : '7002',
    route_kind: 'http', route_namespace: NS, route_name: route, route_rule: '0',
    backend_namespace: NS, backend_name: backend, backend_port: port,
  };
  return [
    { name: 'weft_outbound_requests_total', labels: { ...labels, status_code: status, grpc_status: '', error: '' }, value },
    // Every request within 5 ms: p50/p95/p99 fall in the (2.5 ms, 5 ms] bucket.
    { name: 'weft_outbound_request_duration_seconds_bucket', labels: { ...labels, classification: status.startsWith('5') ? 'failure' : 'success', le: '0.0025' }, value: 0 },
    { name: 'weft_outbound_request_duration_seconds_bucket', labels: { ...labels, classification: status.startsWith('5') ? 'failure' : 'success', le: '0.005' }, value },
    { name: 'weft_outbound_request_duration_seconds_bucket', labels: { ...labels, classification: status.startsWith('5') ? 'failure' : 'success', le: '+Inf' }, value },
  ];
};
const inb = (app: string, client: string, decision: 'allow' | 'deny', value: number, route = ''): DeltaSample => ({
  name: 'weft_inbound_requests_total',
  labels: { namespace: NS, pod: `${app}-5d8f7c9b4-x2x7q`, target_port: '7002', server: 'default:all-unauthenticated', route, authorization: decision === 'allow' ? 'default:all-unauthenticated' : '', decision, client_id: client, tls: 'true', status_code: decision === 'deny' ? '403' : '200', grpc_status: '', error: '' },
  value,
});

// 30 s: webapp sent 90 requests to books (200) and 10 to the error injector (500) on the fault route,
// and 30 to authors (200); books let 90 from webapp through and denied 6 from traffic's identity.
const INPUT = {
  snapshot: SNAPSHOT,
  outbound: [...out('books', '7002', '200', 90), ...out('error-injector', '8080', '500', 10), ...out('authors', '7001', '200', 30, 'authors', 'authors-timeouts')],
  inbound: [inb('books', id('webapp'), 'allow', 90), inb('books', id('traffic'), 'deny', 6), inb('authors', id('webapp'), 'allow', 30)],
  windowSeconds: 30,
};

test('a pod belongs to its Deployment through the ReplicaSet; a pod no workload owns stands for itself', () => {
  assert.equal(workloadOf(pod('books')), 'deploy/books');
  assert.equal(workloadOf(pod('lonely', { owner: false })), 'pod/lonely-5d8f7c9b4-x2x7q');
});

test('route figures: the fault route succeeds 90 in 100, and each backend shows its observed share', () => {
  const o = overview(INPUT);
  const r = o.routes.find((x) => x.key === `${NS}/httproute/books-fault-injection`);
  assert.ok(r !== undefined, o.routes.map((x) => x.key).join(', '));
  assert.equal(r.figures.requests, 100);
  assert.equal(r.figures.successRate, 0.9);
  assert.ok(Math.abs(r.figures.rps - 100 / 30) < 1e-9);
  assert.deepEqual(r.backends.map((b) => [b.backend, b.observedShare, b.figures.successRate]), [
    [`${NS}/books:7002`, 0.9, 1],
    [`${NS}/error-injector:8080`, 0.1, 0],
  ]);
  // All requests in (2.5 ms, 5 ms]: histogram_quantile interpolates linearly inside the bucket.
  assert.ok(r.figures.p50 !== null && r.figures.p50 > 0.0025 && r.figures.p50 <= 0.005);
  assert.deepEqual(r.workloads, [`${NS}/deploy/books`, `${NS}/deploy/error-injector`]);
  assert.equal(r.accepted, true);
});

test('routes whose parent is a Server (the authorization example) are not listed as mesh routes', () => {
  const keys = overview(INPUT).routes.map((r) => r.key);
  assert.deepEqual(keys, [`${NS}/httproute/authors-timeouts`, `${NS}/httproute/books-fault-injection`, `${NS}/httproute/books-v9`]);
});

test('workloads: inbound figures per Deployment; denials count apart from the success rate', () => {
  const o = overview(INPUT);
  const books = o.workloads.find((w) => w.key === `${NS}/deploy/books`);
  assert.ok(books !== undefined);
  assert.equal(books.figures.requests, 96);
  assert.equal(books.figures.successRate, 1);
  assert.equal(books.figures.deniedRps, 6 / 30);
  assert.deepEqual([books.meshed, books.pods], [1, 1]);
  const traffic = o.workloads.find((w) => w.key === `${NS}/deploy/traffic`);
  assert.deepEqual([traffic?.meshed, traffic?.figures.successRate], [0, null]);
  const ns = o.namespaces.find((n) => n.name === NS);
  assert.deepEqual([ns?.injection, ns?.workloads, ns?.meshed, ns?.pods], ['enabled', 5, 4, 5]);
});

test('topology: an edge per client workload and backend workload, labelled with its own figures', () => {
  const o = overview(INPUT);
  const e = (to: string) => o.topology.edges.find((x) => x.id === edgeKey(`${NS}/deploy/webapp`, `${NS}/deploy/${to}`));
  assert.equal(e('books')?.figures.requests, 90);
  assert.equal(e('error-injector')?.figures.successRate, 0);
  assert.equal(e('authors')?.figures.rps, 1);
  assert.equal(o.topology.edges.length, 3);
  assert.ok(o.topology.nodes.some((n) => n.id === `${NS}/deploy/webapp` && n.meshed));
});

test('problems come errors first: a route not Accepted, then the unmeshed pod and the denials', () => {
  const p = overview(INPUT).problems;
  assert.deepEqual(p.map((x) => [x.severity, x.kind, x.subject]), [
    ['error', 'route-not-accepted', `${NS}/httproute/books-v9`],
    ['warning', 'denied-requests', `${NS}/deploy/books`],
    ['warning', 'pod-not-meshed', `${NS}/pod/traffic-5d8f7c9b4-x2x7q`],
  ]);
  assert.match(p[0]?.message ?? '', /NoMatchingParent: Service books-v9 not found/);
});

test('a denial spike: the last interval denies more than 3 times the average before it', () => {
  const pts = (...d: number[]): Point[] => d.map((x, i) => ({ t: i, rps: 1, successRate: 1, deniedRps: x }));
  const f = { requests: 1, rps: 1, successRate: 1, deniedRps: 0.5, p50: null, p95: null, p99: null };
  assert.equal(deniedProblem('k', f, pts(0.1, 0.1, 2))?.severity, 'error');
  assert.equal(deniedProblem('k', f, pts(0.5, 0.5, 0.6))?.severity, 'warning');
  assert.equal(deniedProblem('k', { ...f, deniedRps: 0 }, pts(0, 0, 0)), undefined);
});

test('route detail: rules with weights and configured shares, timeouts, status conditions', () => {
  const d = routeDetail(INPUT, `${NS}/httproute/books-fault-injection`);
  assert.ok(d !== undefined);
  assert.deepEqual(d.rules[0]?.backends, [
    { backend: `${NS}/books:7002`, weight: 90, configuredShare: 0.9 },
    { backend: `${NS}/error-injector:8080`, weight: 10, configuredShare: 0.1 },
  ]);
  assert.deepEqual(d.rules[0]?.matches, ['every request']);
  assert.deepEqual(d.conditions.map((c) => `${c.type}=${c.status}`), ['Accepted=True', 'ResolvedRefs=True']);
  const a = routeDetail(INPUT, `${NS}/httproute/authors-timeouts`);
  assert.deepEqual(a?.rules[0]?.timeouts, { request: '1s', backendRequest: '500ms' });
  assert.deepEqual(a?.rules[0]?.matches, ['path PathPrefix /authors, method GET']);
  assert.equal(routeDetail(INPUT, `${NS}/httproute/nope`), undefined);
});

test('route detail: the authorization view lists who may call each backend and who was allowed or denied', () => {
  const books = routeDetail(INPUT, `${NS}/httproute/books-fault-injection`)?.authorization.find((a) => a.backend === `${NS}/books:7002`);
  assert.deepEqual(books?.clients.map((c) => [c.clientId, c.allowed, c.denied]), [[id('traffic'), 0, 6], [id('webapp'), 90, 0]]);
  assert.equal(books?.server, null);
  const authors = routeDetail(INPUT, `${NS}/httproute/authors-timeouts`)?.authorization[0];
  assert.equal(authors?.server, 'authors');
  assert.match(authors?.fallback ?? '', /^deny/);
  const get = authors?.authorizations.find((x) => x.name === `${NS}/authors-get`);
  assert.equal(get?.target, 'HTTPRoute authors-get');
  assert.ok(get?.allows.some((s) => s.includes(id('books')) && s.includes(id('webapp'))), JSON.stringify(get?.allows));
});

test('sparklines come from the history the caller keeps, by entity key', () => {
  const history = new Map([[`${NS}/deploy/books`, [{ t: 1, rps: 3, successRate: 1, deniedRps: 0 }]]]);
  const o = overview(INPUT, history);
  assert.deepEqual(o.workloads.find((w) => w.key === `${NS}/deploy/books`)?.spark, history.get(`${NS}/deploy/books`));
  assert.deepEqual(o.workloads.find((w) => w.key === `${NS}/deploy/authors`)?.spark, []);
});

test('authorization view: a series without client_id counts as unauthenticated, and idle series are left out', () => {
  const input = { ...INPUT, inbound: [...INPUT.inbound, inb('books', '', 'allow', 2), inb('books', 'unauthenticated', 'allow', 1), inb('books', id('books'), 'allow', 0)] };
  const books = routeDetail(input, `${NS}/httproute/books-fault-injection`)?.authorization.find((a) => a.backend === `${NS}/books:7002`);
  assert.deepEqual(books?.clients.map((c) => [c.clientId, c.allowed]), [[id('traffic'), 0], [id('webapp'), 90], ['unauthenticated', 3]]);
});
