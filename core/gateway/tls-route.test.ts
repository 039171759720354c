import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ReferenceGrant, Service } from '../kube.js';
import { routeGatewayPassthrough } from './route.js';
import { computeGatewayStatuses, type GatewayStatuses } from './status.js';
import { selectTlsRoute, type TlsRouteView } from './tls-route.js';
import type { Gateway, TLSRoute } from './types.js';

const svc = (ns: string, name: string): Service => ({ metadata: { namespace: ns, name }, spec: { ports: [{ port: 443 }] } });
const gw: Gateway = {
  metadata: { namespace: 'infra', name: 'gw', generation: 1 },
  spec: {
    gatewayClassName: 'weft',
    listeners: [
      { name: 'pass', port: 443, protocol: 'TLS', hostname: '*.example.com', tls: { mode: 'Passthrough' }, allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'term', port: 443, protocol: 'HTTPS', hostname: 'web.example.com', tls: { certificateRefs: [{ name: 'cert' }] } },
      { name: 'terminate', port: 8443, protocol: 'TLS', tls: { mode: 'Terminate' } },
    ],
  },
};
const tlsRoute = (ns: string, name: string, hostnames: string[], backends: { name: string; namespace?: string; weight?: number }[], sectionName = 'pass'): TLSRoute => ({
  metadata: { namespace: ns, name, generation: 2 },
  spec: { parentRefs: [{ name: 'gw', namespace: 'infra', sectionName }], hostnames, rules: [{ backendRefs: backends.map((b) => ({ ...b, port: 443 })) }] },
});
const routes: TLSRoute[] = [
  tlsRoute('infra', 'db', ['db.example.com'], [{ name: 'db' }]),
  tlsRoute('infra', 'split', ['*.example.com'], [{ name: 'a', weight: 1 }, { name: 'b', weight: 1 }]),
  tlsRoute('apps', 'foreign', ['foreign.example.com'], [{ name: 'db', namespace: 'infra' }]),
  tlsRoute('infra', 'elsewhere', ['db.example.org'], [{ name: 'db' }]),
  tlsRoute('infra', 'on-https', ['web.example.com'], [{ name: 'db' }], 'term'),
];
const grant: ReferenceGrant = {
  metadata: { namespace: 'infra', name: 'g' },
  spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'TLSRoute', namespace: 'apps' }], to: [{ group: '', kind: 'Service' }] },
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

function compute(grants: ReferenceGrant[] = []): GatewayStatuses {
  return computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [gw], httpRoutes: [], grpcRoutes: [], tlsRoutes: routes,
    services: [svc('infra', 'db'), svc('infra', 'a'), svc('infra', 'b')], referenceGrants: grants, namespaces: [],
  }, {
    controllerName: 'weft.dev/gateway-controller', checkKeyPair: () => undefined, runtime: () => ({ ready: true, address: '10.0.0.1' }),
    secrets: [{ metadata: { namespace: 'infra', name: 'cert' }, type: 'kubernetes.io/tls', data: { 'tls.crt': b64('C'), 'tls.key': b64('K') } }],
  });
}

const conds = (s: GatewayStatuses, ns: string, name: string) => (s.routes.get(`TLSRoute/${ns}/${name}`) ?? []).map((p) => p.conditions.map((c) => `${c.type}=${c.status}:${c.reason}`).join(','));

test('TLSRoute status: attached to the Passthrough listener by hostname; RefNotPermitted until a ReferenceGrant; not to HTTPS or to another hostname', () => {
  const s = compute();
  assert.deepEqual(conds(s, 'infra', 'db'), ['Accepted=True:Accepted,ResolvedRefs=True:ResolvedRefs']);
  assert.deepEqual(conds(s, 'apps', 'foreign'), ['Accepted=True:Accepted,ResolvedRefs=False:RefNotPermitted']);
  assert.deepEqual(conds(compute([grant]), 'apps', 'foreign'), ['Accepted=True:Accepted,ResolvedRefs=True:ResolvedRefs']);
  assert.deepEqual(conds(s, 'infra', 'elsewhere'), ['Accepted=False:NoMatchingListenerHostname,ResolvedRefs=True:ResolvedRefs']);
  assert.deepEqual(conds(s, 'infra', 'on-https'), ['Accepted=False:NotAllowedByListeners,ResolvedRefs=True:ResolvedRefs'], 'an HTTPS listener takes HTTPRoutes and GRPCRoutes');
  const listeners = s.gateways.get('infra/gw')?.listeners ?? [];
  assert.deepEqual(listeners.map((l) => [l.name, l.attachedRoutes, l.supportedKinds.map((k) => k.kind).join()]), [['pass', 3, 'TLSRoute'], ['term', 0, 'HTTPRoute,GRPCRoute'], ['terminate', 0, '']]);
  assert.equal(listeners[2]?.conditions.find((c) => c.type === 'Accepted')?.reason, 'UnsupportedValue', 'TLS in Terminate mode is refused');
});

test('passthrough decision: the SNI picks the TLS listener, then the most specific TLSRoute hostname, then a backend by weight', () => {
  const v = compute([grant]).views.get('infra/gw');
  assert.ok(v !== undefined);
  const decide = (sni: string | undefined, r = 0) => {
    const d = routeGatewayPassthrough(v, 443, sni, () => r);
    return d === undefined ? 'terminate-or-none' : d.kind === 'forward' ? `${d.route.name} -> ${d.backend.namespace}/${d.backend.name}:${d.backend.port}` : d.code;
  };
  assert.equal(decide('db.example.com'), 'db -> infra/db:443', 'the exact route hostname before the wildcard');
  assert.equal(decide('x.example.com', 0.1), 'split -> infra/a:443');
  assert.equal(decide('x.example.com', 0.9), 'split -> infra/b:443');
  assert.equal(decide('foreign.example.com'), 'foreign -> infra/db:443');
  assert.equal(decide('web.example.com'), 'terminate-or-none', 'the HTTPS listener is more specific: TLS is terminated there');
  assert.equal(decide('db.example.org'), 'terminate-or-none', 'no listener for the SNI');
  assert.equal(decide(undefined), 'terminate-or-none', 'no SNI: no listener without hostname');
  const refused = compute().views.get('infra/gw');
  assert.ok(refused !== undefined);
  const d = routeGatewayPassthrough(refused, 443, 'foreign.example.com', () => 0);
  assert.equal(d?.kind === 'error' ? d.code : d?.kind, 'NOT_PERMITTED');
});

test('selectTlsRoute: a route without hostnames (\'\') serves any SNI and none, after every matching hostname', () => {
  const r = (name: string, hostnames: string[]): TlsRouteView => ({ namespace: 'n', name, hostnames, backends: [] });
  const routes = [r('any', ['']), r('wild', ['*.example.com']), r('exact', ['a.example.com'])];
  assert.equal(selectTlsRoute(routes, 'a.example.com')?.name, 'exact');
  assert.equal(selectTlsRoute(routes, 'b.example.com')?.name, 'wild');
  assert.equal(selectTlsRoute(routes, 'other.org')?.name, 'any');
  assert.equal(selectTlsRoute(routes, undefined)?.name, 'any');
  assert.equal(selectTlsRoute(routes.slice(1), undefined), undefined);
});

test('selectTlsRoute: between routes matching an SNI equally well, the one whose own hostname is more specific, whatever the order', () => {
  const backends: TlsRouteView['backends'] = [];
  const exact: TlsRouteView = { namespace: 'ns', name: 'exact', hostnames: ['abc.example.com'], origins: ['abc.example.com'], backends };
  const wildcard: TlsRouteView = { namespace: 'ns', name: 'wildcard', hostnames: ['abc.example.com'], origins: ['*.example.com'], backends };
  const none: TlsRouteView = { namespace: 'ns', name: 'none', hostnames: ['abc.example.com'], origins: [''], backends };
  assert.equal(selectTlsRoute([none, wildcard, exact], 'abc.example.com')?.name, 'exact');
  assert.equal(selectTlsRoute([none, wildcard], 'abc.example.com')?.name, 'wildcard');
  const narrow: TlsRouteView = { namespace: 'ns', name: 'narrow', hostnames: ['*.b.example.com'], origins: ['*.b.example.com'], backends };
  const wide: TlsRouteView = { namespace: 'ns', name: 'wide', hostnames: ['*.b.example.com'], origins: ['*.example.com'], backends };
  assert.equal(selectTlsRoute([wide, narrow], 'x.b.example.com')?.name, 'narrow');
  const bare = (r: TlsRouteView): TlsRouteView => ({ namespace: r.namespace, name: r.name, hostnames: r.hostnames, backends: r.backends });
  assert.equal(selectTlsRoute([bare(wide), bare(narrow)], 'x.b.example.com')?.name, 'wide', 'without origins: the first');
});
