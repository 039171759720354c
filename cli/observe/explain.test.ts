/**
 * `weft explain` on fixture snapshots (pure, no cluster): the booksapp authors Server with the
 * example's authorization manifests, a client route splitting traffic, and the cases a user asks
 * about: why a DELETE is denied (naming the policy that would allow it, or its absence), why a GET
 * is allowed, where weighted traffic goes, and what happens without a route.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../test/support/paths.js';
import { EMPTY_SNAPSHOT, type ClusterSnapshot, type HTTPRoute, type HTTPRouteRule, type KubeObject, type Pod, type Service } from '../../core/kube.js';
import type { AuthorizationPolicy, MeshTLSAuthentication, NetworkAuthentication, Server } from '../../core/kube-policy.js';
import { explain, renderExplanation } from './explain.js';
import { httpStatusOf } from '../../core/reasons.js';

const AUTHZ_DIR = join(REPO_ROOT, 'examples', 'booksapp', 'manifests', 'authorization');

function manifests(file: string): KubeObject[] {
  return parseAllDocuments(readFileSync(join(AUTHZ_DIR, file), 'utf8')).map((d) => d.toJS() as KubeObject).filter((o) => o !== null);
}
const byKind = <T,>(objs: KubeObject[], kind: string) => objs.filter((o) => o.kind === kind) as unknown as T[];

const service = (name: string, port: number, targetPort: number | string = 'http'): Service => ({
  kind: 'Service', metadata: { name, namespace: 'booksapp' },
  spec: { clusterIP: `10.96.0.${port % 250}`, selector: { app: name }, ports: [{ name: 'http', port, targetPort }] },
});
const pod = (name: string, app: string, sa: string, ip: string, port: number, meshed = true): Pod => ({
  kind: 'Pod',
  metadata: { name, namespace: 'booksapp', labels: { app, ...(meshed ? { 'weft.dev/meshed': 'true' } : {}) } },
  spec: { serviceAccountName: sa, containers: [{ name: app, ports: [{ name: 'http', containerPort: port }] }] },
  status: { podIP: ip, hostIP: '192.168.1.5', phase: 'Running' },
});

const policy = [...manifests('server.yaml'), ...manifests('routes.yaml'), ...manifests('policies.yaml'), ...manifests('authentications.yaml')];
const BOOKS = pod('books-6c8d7-abcde', 'books', 'books', '10.244.0.10', 7002);
const BASE: ClusterSnapshot = {
  ...EMPTY_SNAPSHOT,
  namespaces: [{ metadata: { name: 'booksapp' } }],
  services: [service('authors', 7001), service('authors-v2', 7001), service('books', 7002)],
  pods: [pod('authors-5d8f7-x2x7q', 'authors', 'authors', '10.244.0.11', 7001), pod('authors-v2-77f-q1w2e', 'authors-v2', 'authors', '10.244.0.12', 7001), BOOKS],
  httpRoutes: byKind<HTTPRoute>(policy, 'HTTPRoute'),
  servers: byKind<Server>(policy, 'Server'),
  authorizationPolicies: byKind<AuthorizationPolicy>(policy, 'AuthorizationPolicy'),
  meshTLSAuthentications: byKind<MeshTLSAuthentication>(policy, 'MeshTLSAuthentication'),
  networkAuthentications: byKind<NetworkAuthentication>(policy, 'NetworkAuthentication'),
};
const FROM_BOOKS = { namespace: 'booksapp', serviceAccount: 'books', pod: BOOKS };
const URL_1 = 'http://authors.booksapp.svc.cluster.local:7001/authors/1.json';

function serverOf(e: ReturnType<typeof explain>, i = 0) {
  assert.ok(e.ok, e.ok ? '' : e.error);
  const s = e.backends[i]?.server;
  assert.ok(s?.decision !== undefined, `backend ${i} has a server decision: ${JSON.stringify(e.backends[i])}`);
  return { server: s, decision: s.decision };
}

test('a DELETE from books is denied by the authors Server and names the AuthorizationPolicy that would allow it', () => {
  const e = explain(BASE, FROM_BOOKS, { method: 'DELETE', url: URL_1, headers: [] });
  const { server, decision } = serverOf(e);
  assert.equal(decision.allowed, false);
  assert.equal(httpStatusOf(decision), 403);
  // The explanation carries the answer from the same table (and `-o json` keeps it as `status`).
  assert.deepEqual([decision.code, decision.status, decision.grpcStatus], ['FORBIDDEN', 403, 7]);
  const json = JSON.parse(JSON.stringify(e)) as { backends: { server?: { decision?: { status?: number; grpcStatus?: number } } }[] };
  assert.deepEqual([json.backends[0]?.server?.decision?.status, json.backends[0]?.server?.decision?.grpcStatus], [403, 7]);
  assert.equal(decision.server, 'authors');
  assert.equal(decision.route, 'authors-modify');
  assert.deepEqual(server.candidates, [
    'AuthorizationPolicy booksapp/authors-modify (targets HTTPRoute authors-modify) would allow it, but MeshTLSAuthentication booksapp/webapp-only: spiffe://cluster.local/ns/booksapp/sa/books is not one of its identities',
  ]);
  const text = renderExplanation(e);
  assert.match(text, /decision: +DENIED \(403/);
  assert.match(text, /AuthorizationPolicy booksapp\/authors-modify/);
});

test('a DELETE with no AuthorizationPolicy on its route says that none applies', () => {
  const snap = { ...BASE, authorizationPolicies: BASE.authorizationPolicies.filter((a) => a.metadata.name !== 'authors-modify') };
  const { server, decision } = serverOf(explain(snap, FROM_BOOKS, { method: 'DELETE', url: URL_1, headers: [] }));
  assert.equal(decision.allowed, false);
  assert.deepEqual(server.candidates, ['no AuthorizationPolicy targets Server authors, HTTPRoute authors-modify, Namespace booksapp: none can allow this request']);
});

test('a GET from books is allowed by AuthorizationPolicy authors-get on route authors-get', () => {
  const { decision } = serverOf(explain(BASE, FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] }));
  assert.equal(decision.allowed, true);
  assert.deepEqual(decision.authorization, { kind: 'AuthorizationPolicy', name: 'booksapp/authors-get' });
});

test('an allowed request names the InboundLimitPolicies it is counted against (the Server\'s, then its route\'s); a denied one none', () => {
  const limit = (name: string, targetRef: Record<string, string>, spec: Record<string, unknown>) =>
    ({ kind: 'InboundLimitPolicy', metadata: { name, namespace: 'booksapp', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { targetRef, ...spec } });
  const snap: ClusterSnapshot = {
    ...BASE,
    inboundLimitPolicies: [
      limit('authors-rate', { group: 'policy.weft.dev', kind: 'Server', name: 'authors' }, { rateLimit: { requestsPerSecond: 50, burst: 100 } }),
      limit('get-conc', { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'authors-get' }, { concurrency: { maxInFlight: 20 } }),
    ],
  };
  const { server } = serverOf(explain(snap, FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] }));
  assert.deepEqual(server.limits, [
    'InboundLimitPolicy booksapp/authors-rate on Server authors: 50/s burst 100 per proxy (over it: 429 with Retry-After)',
    'InboundLimitPolicy booksapp/get-conc on HTTPRoute authors-get: 20 in flight per proxy (over it: 503)',
  ]);
  const denied = serverOf(explain(snap, FROM_BOOKS, { method: 'DELETE', url: URL_1, headers: [] }));
  assert.equal(denied.server.limits, undefined);
});

test('an allowed request shows what its Server route rule does on the server side (filters, a redirect)', () => {
  const withFilters = (filters: NonNullable<HTTPRouteRule['filters']>): ClusterSnapshot => ({
    ...BASE,
    httpRoutes: BASE.httpRoutes.map((r) => (r.metadata.name !== 'authors-get' || r.spec === undefined ? r : { ...r, spec: { ...r.spec, rules: (r.spec.rules ?? []).map((rule) => ({ ...rule, filters })) } })),
  });
  const tagged = explain(withFilters([{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-served-for', value: 'books' }] } }]), FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] });
  assert.deepEqual(serverOf(tagged).server.effect, ['RequestHeaderModifier: set x-served-for: books']);
  assert.match(renderExplanation(tagged), /filters: +RequestHeaderModifier: set x-served-for: books/);
  const moved = explain(withFilters([{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/v2/authors' }, statusCode: 301 } }]), FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] });
  assert.match(serverOf(moved).server.effect?.at(-1) ?? '', /^the server proxy answers 301 Location: http:\/\/authors\.booksapp\.svc\.cluster\.local:7001\/v2\/authors$/);
  assert.deepEqual(serverOf(explain(BASE, FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] })).server.effect, [], 'no filters: nothing to add');
});

test('a client that is not meshed has no identity, so MeshTLSAuthentication refuses even a GET', () => {
  const plain = pod('books-6c8d7-plain', 'books', 'books', '10.244.0.20', 7002, false);
  const e = explain(BASE, { namespace: 'booksapp', serviceAccount: 'books', pod: plain }, { method: 'GET', url: URL_1, headers: [] });
  const { server, decision } = serverOf(e);
  assert.equal(decision.allowed, false);
  assert.match(server.candidates[0] ?? '', /needs an mTLS identity/);
});

test('without a route the request passes through to the Service; the Service is found by short name and by ClusterIP', () => {
  for (const url of ['http://authors:7001/authors', 'http://10.96.0.1:7001/authors']) {
    const e = explain(BASE, FROM_BOOKS, { method: 'GET', url, headers: [] });
    assert.ok(e.ok, e.ok ? '' : e.error);
    assert.equal(e.outcome, 'passthrough', url);
    assert.equal(e.backends[0]?.target, 'booksapp/authors:7001');
  }
});

test('a weighted route lists every backend with its share, the filters, and the decision per backend', () => {
  const split: HTTPRoute = {
    kind: 'HTTPRoute',
    metadata: { name: 'authors-split', namespace: 'booksapp' },
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: 'authors', port: 7001 }],
      rules: [{
        matches: [{ path: { type: 'PathPrefix', value: '/authors' } }],
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x-canary', value: 'maybe' }] } }],
        backendRefs: [{ name: 'authors', port: 7001, weight: 90 }, { name: 'authors-v2', port: 7001, weight: 10 }, { name: 'authors-gone', port: 7001, weight: 0 }],
        timeouts: { request: '2s' },
      }],
    },
  };
  const e = explain({ ...BASE, httpRoutes: [...BASE.httpRoutes, split] }, FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] });
  assert.ok(e.ok);
  assert.equal(e.outcome, 'routed');
  assert.deepEqual(e.route, { kind: 'HTTPRoute', namespace: 'booksapp', name: 'authors-split', rule: 0, filters: ['RequestHeaderModifier: add x-canary: maybe'], timeouts: 'request 2000ms' });
  assert.deepEqual(e.backends.map((b) => [b.target, b.share, b.decision.kind]), [['booksapp/authors:7001', 0.9, 'forward'], ['booksapp/authors-v2:7001', 0.1, 'forward']]);
  assert.equal(e.backends[1]?.server?.pod, 'authors-v2-77f-q1w2e');
});

test('a request matching no rule of the attached routes is answered 404 by the client proxy', () => {
  const only: HTTPRoute = {
    kind: 'HTTPRoute', metadata: { name: 'only-books', namespace: 'booksapp' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'authors' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/books' } }], backendRefs: [{ name: 'authors', port: 7001 }] }] },
  };
  const e = explain({ ...BASE, httpRoutes: [...BASE.httpRoutes, only] }, FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] });
  assert.ok(e.ok);
  assert.equal(e.outcome, 'no-route');
  assert.match(e.message ?? '', /^404: /);
});

test('a backend that does not resolve is answered with the status of its reason, and a grpc-status only for a gRPC call', () => {
  const gone: HTTPRoute = {
    kind: 'HTTPRoute', metadata: { name: 'to-nowhere', namespace: 'booksapp' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'authors', port: 7001 }], rules: [{ backendRefs: [{ name: 'no-such-service', port: 7001 }] }] },
  };
  const snap = { ...BASE, httpRoutes: [...BASE.httpRoutes, gone] };
  const e = explain(snap, FROM_BOOKS, { method: 'GET', url: URL_1, headers: [] });
  assert.ok(e.ok);
  const d = e.backends[0]?.decision;
  assert.ok(d?.kind === 'error', JSON.stringify(e.backends));
  assert.deepEqual([d.code, d.status, d.grpcStatus], ['BACKEND_UNRESOLVED', 500, undefined]);
  assert.match(renderExplanation(e), /answered 500 by the client proxy/);
  const g = explain(snap, FROM_BOOKS, { method: 'POST', url: 'http://authors.booksapp.svc.cluster.local:7001/pkg.Svc/Call', headers: [['content-type', 'application/grpc']] });
  assert.ok(g.ok);
  const gd = g.backends[0]?.decision;
  assert.ok(gd?.kind === 'error', JSON.stringify(g.backends));
  assert.deepEqual([gd.status, gd.grpcStatus], [500, 13]);
  assert.match(renderExplanation(g), /answered 500 \(grpc-status 13\) by the client proxy/);
});

test('an unknown host or port is an error, not a guess', () => {
  assert.deepEqual(explain(BASE, FROM_BOOKS, { method: 'GET', url: 'http://nope.booksapp.svc.cluster.local:7001/', headers: [] }), { ok: false, error: 'no Service answers to nope.booksapp.svc.cluster.local (from namespace booksapp)' });
  assert.deepEqual(explain(BASE, FROM_BOOKS, { method: 'GET', url: 'http://authors.booksapp:9999/', headers: [] }), { ok: false, error: 'Service booksapp/authors has no port 9999' });
});
