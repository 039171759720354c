import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPRoute, Namespace } from '../kube.js';
import { makeRequestInfo, type RequestInfo } from '../request.js';
import { compileHttpRoute } from '../routes/compile.js';
import type { CompiledRoute } from '../routes/types.js';
import { evaluateGateway, routeKey, type AttachableRoute } from './evaluate.js';
import type { Gateway, Secret } from './types.js';
import { buildGatewayView, selectGatewayRule, selectListener, selectTlsListener } from './view.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secrets: Secret[] = [{ metadata: { namespace: 'infra', name: 'cert' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CERT'), 'tls.key': b64('KEY') } }];

const gw: Gateway = {
  metadata: { namespace: 'infra', name: 'gw', generation: 1 },
  spec: {
    gatewayClassName: 'weft',
    listeners: [
      { name: 'http', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'wild', port: 443, protocol: 'HTTPS', hostname: '*.example.com', tls: { certificateRefs: [{ name: 'cert' }] }, allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'exact', port: 443, protocol: 'HTTPS', hostname: 'api.example.com', tls: { certificateRefs: [{ name: 'cert' }] }, allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'broken', port: 8443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'missing' }] } },
    ],
  },
};

function httpRoute(ns: string, name: string, hostnames: string[] | undefined, path: string, backend: string, sectionName?: string): HTTPRoute {
  return {
    metadata: { namespace: ns, name, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      parentRefs: [{ name: 'gw', namespace: 'infra', ...(sectionName !== undefined ? { sectionName } : {}) }],
      ...(hostnames !== undefined ? { hostnames } : {}),
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: backend, port: 80 }] }],
    },
  };
}

const routes: HTTPRoute[] = [
  httpRoute('apps', 'catch-all', undefined, '/', 'default-svc'),
  httpRoute('apps', 'foo-host', ['foo.example.com'], '/', 'foo-svc'),
  httpRoute('apps', 'foo-long-path', undefined, '/very/long/path', 'path-svc'),
  httpRoute('apps', 'api', ['api.example.com'], '/', 'api-svc', 'exact'),
  httpRoute('apps', 'other', ['other.org'], '/', 'other-svc'),
];

function view() {
  const attachable: AttachableRoute[] = routes.map((r) => ({
    kind: 'HTTPRoute', namespace: r.metadata.namespace ?? '', name: r.metadata.name, hostnames: r.spec?.hostnames ?? [], parentRefs: r.spec?.parentRefs ?? [],
  }));
  const namespaces: Namespace[] = [{ metadata: { name: 'infra' } }, { metadata: { name: 'apps' } }];
  const evaluation = evaluateGateway(gw, {
    secrets, referenceGrants: [], checkKeyPair: () => undefined, namespaces, routes: attachable, runtime: { ready: true, address: '10.0.0.1' },
  });
  const compiled = new Map<string, CompiledRoute>();
  for (const r of routes) {
    const c = compileHttpRoute(r, (ref) => ({ kind: 'service', namespace: r.metadata.namespace ?? '', name: ref.name, port: ref.port ?? 80 }));
    assert.ok(c.route !== undefined, JSON.stringify(c));
    compiled.set(routeKey({ kind: 'HTTPRoute', namespace: r.metadata.namespace ?? '', name: r.metadata.name }), c.route);
  }
  return { evaluation, v: buildGatewayView({ namespace: 'infra', name: 'gw' }, evaluation, compiled) };
}

function req(host: string, path: string): RequestInfo {
  const r = makeRequestInfo({ method: 'GET', target: path, headers: [['host', host]] });
  assert.ok(r.ok);
  return r.request;
}

function backendOf(port: number, host: string, path: string): string {
  const { v } = view();
  const p = v.ports.find((x) => x.port === port);
  assert.ok(p !== undefined, `port ${port}`);
  const l = selectListener(p, req(host, path).host);
  if (l === undefined) return 'no listener';
  const s = selectGatewayRule(l, req(host, path));
  const b = s?.rule.backends[0]?.target;
  return s === undefined ? `${l.name}: no rule` : `${l.name}: ${b?.kind === 'service' ? b.name : '?'}`;
}

test('only valid listeners are served; ports list their listeners most specific hostname first', () => {
  const { v, evaluation } = view();
  assert.deepEqual(v.ports.map((p) => [p.port, p.listeners.map((l) => l.name)]), [[80, ['http']], [443, ['exact', 'wild']]]);
  assert.equal(evaluation.attachedRoutes.get('exact'), 3, 'catch-all, foo-long-path (no hostnames) and api');
  assert.equal(evaluation.routes.get('HTTPRoute/apps/other')?.[0]?.reason, 'Accepted', 'other.org attaches to the http listener (no hostname)');
  assert.equal(v.ports.find((p) => p.port === 443)?.listeners[0]?.certificates[0]?.certPem, 'CERT');
});

test('a request picks the most specific listener, then the most specific route hostname before any path', () => {
  assert.equal(backendOf(80, 'foo.example.com', '/very/long/path/x'), 'http: foo-svc', 'the exact hostname wins over a longer path of a hostname-less route');
  assert.equal(backendOf(80, 'bar.example.com', '/very/long/path/x'), 'http: path-svc');
  assert.equal(backendOf(80, 'bar.example.com', '/'), 'http: default-svc');
  assert.equal(backendOf(80, 'other.org', '/'), 'http: other-svc');
  assert.equal(backendOf(443, 'api.example.com', '/'), 'exact: api-svc');
  assert.equal(backendOf(443, 'api.example.com', '/very/long/path'), 'exact: api-svc',
    'a route without hostnames serves the listener\'s, but the route naming api.example.com itself goes first, whatever the paths (GatewayRouteHostnameIntersectionPrecedence)');
  assert.equal(backendOf(443, 'api.example.com', '/other'), 'exact: api-svc', 'listener isolation: foo.example.com\'s route is not served on the exact listener');
  assert.equal(backendOf(443, 'foo.example.com', '/'), 'wild: foo-svc');
  assert.equal(backendOf(443, 'x.example.com', '/very/long/path'), 'wild: path-svc');
  assert.equal(backendOf(443, 'example.com', '/'), 'no listener', 'a wildcard listener does not serve the bare suffix');
  assert.equal(backendOf(443, 'other.org', '/'), 'no listener');
});

test('selectTlsListener: the SNI picks the most specific HTTPS listener (exact before wildcard); no SNI only a listener without hostname', () => {
  const { v } = view();
  const p443 = v.ports.find((p) => p.port === 443);
  assert.ok(p443 !== undefined);
  assert.equal(selectTlsListener(p443, 'api.example.com')?.name, 'exact');
  assert.equal(selectTlsListener(p443, 'API.Example.com')?.name, 'exact', 'SNI is matched case-insensitively');
  assert.equal(selectTlsListener(p443, 'www.example.com')?.name, 'wild');
  assert.equal(selectTlsListener(p443, 'a.b.example.com')?.name, 'wild', 'a wildcard listener hostname covers several labels');
  assert.equal(selectTlsListener(p443, 'example.com'), undefined, 'never the bare suffix');
  assert.equal(selectTlsListener(p443, undefined), undefined, 'no SNI and every listener has a hostname: no handshake');
  const withCatchAll = { port: 443, listeners: [...p443.listeners, { ...p443.listeners[1]!, name: 'any', hostname: '', specificity: 0 }] };
  assert.equal(selectTlsListener(withCatchAll, undefined)?.name, 'any');
  assert.equal(selectTlsListener(withCatchAll, 'other.org')?.name, 'any');
  const p80 = v.ports.find((p) => p.port === 80);
  assert.ok(p80 !== undefined);
  assert.equal(selectTlsListener(p80, undefined), undefined, 'an HTTP listener terminates no TLS');
});
