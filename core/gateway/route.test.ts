import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPRoute, ReferenceGrant, Service } from '../kube.js';
import { makeRequestInfo, type RequestInfo } from '../request.js';
import { compileHttpRoute } from '../routes/compile.js';
import type { CompiledRoute } from '../routes/types.js';
import { evaluateGateway, routeKey } from './evaluate.js';
import { routeGateway } from './route.js';
import { gatewayBackendResolver } from './status.js';
import type { Gateway } from './types.js';
import { buildGatewayView, type GatewayView } from './view.js';

const gw: Gateway = {
  metadata: { namespace: 'infra', name: 'gw', generation: 1 },
  spec: {
    gatewayClassName: 'weft',
    listeners: [
      { name: 'web', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'b', port: 80, protocol: 'HTTP', hostname: 'b.example.com' },
    ],
  },
};
const svc = (ns: string, name: string): Service => ({ metadata: { namespace: ns, name }, spec: { ports: [{ port: 8080 }] } });
const services = new Map([svc('infra', 'v1'), svc('infra', 'v2'), svc('backend', 'v1')].map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
const routes: HTTPRoute[] = [
  {
    metadata: { namespace: 'infra', name: 'split', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      parentRefs: [{ name: 'gw', sectionName: 'web' }],
      rules: [{
        filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-via', value: 'gateway' }] } }],
        backendRefs: [{ name: 'v1', port: 8080, weight: 50 }, { name: 'v2', port: 8080, weight: 50 }],
      }],
    },
  },
  {
    metadata: { namespace: 'apps', name: 'cross', creationTimestamp: '2026-01-01T00:00:01Z' },
    spec: { parentRefs: [{ name: 'gw', namespace: 'infra', sectionName: 'web' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/cross' } }], backendRefs: [{ name: 'v1', namespace: 'backend', port: 8080 }] }] },
  },
  {
    metadata: { namespace: 'infra', name: 'b-only', creationTimestamp: '2026-01-01T00:00:02Z' },
    spec: { parentRefs: [{ name: 'gw', sectionName: 'b' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/b' } }], backendRefs: [{ name: 'v2', port: 8080 }] }] },
  },
];
const grant: ReferenceGrant = {
  metadata: { namespace: 'backend', name: 'g' },
  spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'apps' }], to: [{ group: '', kind: 'Service' }] },
};

function view(grants: ReferenceGrant[] = []): GatewayView {
  const attachable = routes.map((r) => ({ kind: 'HTTPRoute' as const, namespace: r.metadata.namespace ?? '', name: r.metadata.name, parentRefs: r.spec?.parentRefs ?? [] }));
  const evaluation = evaluateGateway(gw, {
    secrets: [], referenceGrants: grants, checkKeyPair: () => undefined, namespaces: [], routes: attachable, runtime: { ready: true, address: '10.0.0.1' },
  });
  const compiled = new Map<string, CompiledRoute>();
  for (const r of routes) {
    const c = compileHttpRoute(r, gatewayBackendResolver(r.metadata.namespace ?? '', services, grants));
    assert.ok(c.route !== undefined);
    compiled.set(routeKey({ kind: 'HTTPRoute', namespace: r.metadata.namespace ?? '', name: r.metadata.name }), c.route);
  }
  return buildGatewayView({ namespace: 'infra', name: 'gw' }, evaluation, compiled);
}

function req(host: string, path: string): RequestInfo {
  const r = makeRequestInfo({ method: 'GET', target: path, headers: [['host', host]] });
  assert.ok(r.ok);
  return r.request;
}

test('a rule by listener and match, then the mesh\'s decision: filters, and the backend by weight', () => {
  const v = view();
  const low = routeGateway(v, 80, req('gw.example.org', '/'), () => 0.1);
  const high = routeGateway(v, 80, req('gw.example.org', '/'), () => 0.9);
  assert.equal(low.kind, 'forward');
  assert.equal(high.kind, 'forward');
  if (low.kind !== 'forward' || high.kind !== 'forward') return;
  assert.deepEqual([low.backend.name, high.backend.name], ['v1', 'v2'], '50/50 split by weight');
  assert.equal(low.listener, 'web');
  assert.deepEqual(low.route, { kind: 'http', namespace: 'infra', name: 'split' });
  assert.deepEqual(low.requestHeaderOps.map((o) => o.set), [[['x-via', 'gateway']]], 'the rule\'s RequestHeaderModifier is applied');
});

test('the Host picks the listener: b.example.com reaches only its own listener\'s routes', () => {
  const v = view();
  const b = routeGateway(v, 80, req('b.example.com', '/b/x'), () => 0);
  assert.equal(b.kind, 'forward');
  assert.equal(b.listener, 'b');
  if (b.kind === 'forward') assert.equal(b.backend.name, 'v2');
  const miss = routeGateway(v, 80, req('b.example.com', '/'), () => 0);
  assert.equal(miss.kind, 'error');
  if (miss.kind === 'error') assert.equal(miss.code, 'ROUTE_NOT_FOUND', 'the b listener has no route for /');
  const other = routeGateway(v, 80, req('other.example.org', '/b/x'), () => 0);
  assert.equal(other.listener, 'web', 'other hosts go to the listener without a hostname');
});

test('no listener on the port: ROUTE_NOT_FOUND; a cross-namespace backend: NOT_PERMITTED until a ReferenceGrant', () => {
  const none = routeGateway(view(), 8080, req('x', '/'), () => 0);
  assert.equal(none.kind === 'error' ? none.code : none.kind, 'ROUTE_NOT_FOUND');
  const refused = routeGateway(view(), 80, req('x', '/cross'), () => 0);
  assert.equal(refused.kind === 'error' ? refused.code : refused.kind, 'NOT_PERMITTED');
  const granted = routeGateway(view([grant]), 80, req('x', '/cross'), () => 0);
  assert.equal(granted.kind, 'forward');
  if (granted.kind === 'forward') assert.deepEqual([granted.backend.namespace, granted.backend.name], ['backend', 'v1']);
});

// --- HTTPS: the listener the TLS SNI chose must serve the Host -------------------------------------------

const b64 = (s: string) => Buffer.from(s).toString('base64');

function httpsView(): GatewayView {
  const tlsGw: Gateway = {
    metadata: { namespace: 'infra', name: 'gw', generation: 1 },
    spec: {
      gatewayClassName: 'weft',
      listeners: [
        { name: 'exact', port: 443, protocol: 'HTTPS', hostname: 'a.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
        { name: 'wild', port: 443, protocol: 'HTTPS', hostname: '*.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
      ],
    },
  };
  const tlsRoutes: HTTPRoute[] = [
    { metadata: { namespace: 'infra', name: 'a' }, spec: { parentRefs: [{ name: 'gw', sectionName: 'exact' }], rules: [{ backendRefs: [{ name: 'v1', port: 8080 }] }] } },
    {
      metadata: { namespace: 'infra', name: 'wild' },
      spec: {
        parentRefs: [{ name: 'gw', sectionName: 'wild' }],
        rules: [
          { matches: [{ path: { type: 'PathPrefix', value: '/old' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplaceFullPath', replaceFullPath: '/new' } } }] },
          { backendRefs: [{ name: 'v2', port: 8080 }] },
        ],
      },
    },
  ];
  const evaluation = evaluateGateway(tlsGw, {
    secrets: [{ metadata: { namespace: 'infra', name: 'cert' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('CERT'), 'tls.key': b64('KEY') } }],
    referenceGrants: [], checkKeyPair: () => undefined, namespaces: [], runtime: { ready: true, address: '10.0.0.1' },
    routes: tlsRoutes.map((r) => ({ kind: 'HTTPRoute' as const, namespace: 'infra', name: r.metadata.name, parentRefs: r.spec?.parentRefs ?? [] })),
  });
  assert.ok(evaluation.listeners.every((l) => l.valid));
  const compiled = new Map<string, CompiledRoute>();
  for (const r of tlsRoutes) {
    const c = compileHttpRoute(r, gatewayBackendResolver('infra', services, []));
    assert.ok(c.route !== undefined);
    compiled.set(routeKey({ kind: 'HTTPRoute', namespace: 'infra', name: r.metadata.name }), c.route);
  }
  return buildGatewayView({ namespace: 'infra', name: 'gw' }, evaluation, compiled);
}

const outcome = (d: ReturnType<typeof routeGateway>): string => (d.kind === 'forward' ? `${d.listener ?? ''} -> ${d.backend.name}` : d.kind === 'error' ? d.code : d.kind);

test('HTTPS: the Host must belong to the listener the SNI chose; another listener\'s Host is MISDIRECTED, no listener\'s ROUTE_NOT_FOUND', () => {
  const v = httpsView();
  const on = (listener: string, host: string, path = '/') => outcome(routeGateway(v, 443, req(host, path), () => 0, {}, { tls: { listener } }));
  assert.equal(on('exact', 'a.example.com'), 'exact -> v1');
  assert.equal(on('wild', 'b.example.com'), 'wild -> v2');
  assert.equal(on('wild', 'x.y.example.com'), 'wild -> v2');
  assert.equal(on('exact', 'b.example.com'), 'MISDIRECTED', 'the Host is the wildcard listener\'s');
  assert.equal(on('wild', 'a.example.com'), 'MISDIRECTED', 'a more specific listener serves the Host');
  assert.equal(on('exact', 'shop.example.org'), 'ROUTE_NOT_FOUND', 'no listener serves the Host');
  assert.equal(on('gone', 'a.example.com'), 'MISDIRECTED', 'the listener the handshake chose has left the view');
  assert.equal(outcome(routeGateway(v, 443, req('a.example.com', '/'), () => 0)), 'ROUTE_NOT_FOUND', 'plaintext requests never reach an HTTPS listener');
});

test('HTTPS: a redirect keeps the https scheme (and the default port is left out)', () => {
  const d = routeGateway(httpsView(), 443, req('b.example.com', '/old'), () => 0, {}, { tls: { listener: 'wild' } });
  assert.equal(d.kind, 'redirect');
  if (d.kind === 'redirect') assert.equal(d.location, 'https://b.example.com/new');
});
