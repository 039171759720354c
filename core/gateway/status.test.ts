import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, HTTPRoute, ReferenceGrant, Service } from '../kube.js';
import { computeGatewayStatuses, type GatewayWorld } from './status.js';
import { assembleGatewayView, selectGatewayRule } from './view.js';
import type { Gateway, GatewayClass, ListenerSet } from './types.js';
import type { RequestInfo } from '../request.js';

const CONTROLLER = 'weft.dev/gateway-controller';
const c = (conds: readonly Condition[] | undefined, type: string) => {
  const found = (conds ?? []).find((x) => x.type === type);
  assert.ok(found !== undefined, `condition ${type} in ${JSON.stringify(conds)}`);
  return `${found.status}/${found.reason ?? ''}`;
};
const svc = (ns: string, name: string, port = 8080): Service => ({ metadata: { namespace: ns, name }, spec: { ports: [{ port }] } });
const classes: GatewayClass[] = [
  { metadata: { name: 'weft', generation: 1 }, spec: { controllerName: CONTROLLER } },
  { metadata: { name: 'other' }, spec: { controllerName: 'example.com/other' } },
];
const gw = (name: string, className = 'weft'): Gateway => ({
  metadata: { namespace: 'infra', name, generation: 2 },
  spec: {
    gatewayClassName: className,
    listeners: [
      { name: 'web', port: 80, protocol: 'HTTP', allowedRoutes: { namespaces: { from: 'All' } } },
      { name: 'admin', port: 8080, protocol: 'HTTP' },
      { name: 'secure', port: 443, protocol: 'HTTPS', tls: { certificateRefs: [{ name: 'cert' }] } },
    ],
  },
});
const route = (ns: string, name: string, backendNs?: string, parentRefs = [{ name: 'gw', namespace: 'infra', sectionName: 'web' }]): HTTPRoute => ({
  metadata: { namespace: ns, name, generation: 4 },
  spec: {
    parentRefs,
    rules: [{ backendRefs: [{ name: 'v1', port: 8080, weight: 50, ...(backendNs !== undefined ? { namespace: backendNs } : {}) }, { name: 'v2', port: 8080, weight: 50, ...(backendNs !== undefined ? { namespace: backendNs } : {}) }] }],
  },
});
const grant: ReferenceGrant = {
  metadata: { namespace: 'backend', name: 'allow' },
  spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'apps' }], to: [{ group: '', kind: 'Service' }] },
};
const world = (over: Partial<GatewayWorld> = {}): GatewayWorld => ({
  gatewayClasses: classes,
  gateways: [gw('gw'), gw('foreign', 'other')],
  httpRoutes: [route('infra', 'split'), route('apps', 'cross', 'backend'), route('apps', 'mesh-only', undefined, [{ name: 'v1', kind: 'Service', group: '' } as never])],
  grpcRoutes: [],
  services: [svc('infra', 'v1'), svc('infra', 'v2'), svc('backend', 'v1'), svc('backend', 'v2'), svc('apps', 'v1')],
  referenceGrants: [],
  namespaces: [],
  ...over,
});
const UNSERVED = 'no gateway proxy is deployed for this Gateway yet';
const options = { controllerName: CONTROLLER, secrets: [], checkKeyPair: () => undefined, protocols: new Set(['HTTP']), runtime: () => ({ ready: false, unserved: UNSERVED }) };

test('only Weft\'s GatewayClasses and their Gateways get status; listeners carry attachedRoutes and conditions', () => {
  const s = computeGatewayStatuses(world(), options);
  assert.deepEqual([...s.classes.keys()], ['weft']);
  assert.equal(c(s.classes.get('weft'), 'Accepted'), 'True/Accepted');
  assert.deepEqual([...s.gateways.keys()], ['infra/gw'], 'the other class\'s Gateway is not ours');
  const g = s.gateways.get('infra/gw')!;
  assert.equal(c(g.conditions, 'Accepted'), 'True/ListenersNotValid');
  assert.equal(c(g.conditions, 'Programmed'), 'False/Pending');
  assert.equal(g.addresses, undefined, 'no address while nothing serves the Gateway');
  const l = (name: string) => g.listeners!.find((x) => x.name === name)!;
  assert.equal(l('web').attachedRoutes, 2, 'the same-namespace route and the cross-namespace one (allowedRoutes All)');
  assert.equal(l('admin').attachedRoutes, 0);
  assert.deepEqual(l('web').supportedKinds.map((k) => k.kind), ['HTTPRoute', 'GRPCRoute']);
  assert.equal(c(l('web').conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(l('web').conditions, 'Programmed'), 'False/Pending');
  assert.equal(c(l('secure').conditions, 'Accepted'), 'False/UnsupportedProtocol');
});

test('route entries: attachment, and ResolvedRefs=False RefNotPermitted across namespaces until a ReferenceGrant allows it', () => {
  const before = computeGatewayStatuses(world(), options);
  const split = before.routes.get('HTTPRoute/infra/split')!;
  assert.equal(split.length, 1);
  assert.equal(split[0]!.controllerName, CONTROLLER);
  assert.equal(split[0]!.parentRef.sectionName, 'web');
  assert.equal(c(split[0]!.conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(split[0]!.conditions, 'ResolvedRefs'), 'True/ResolvedRefs');
  assert.equal(split[0]!.conditions[0]!.observedGeneration, 4);
  const cross = before.routes.get('HTTPRoute/apps/cross')!;
  assert.equal(c(cross[0]!.conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(cross[0]!.conditions, 'ResolvedRefs'), 'False/RefNotPermitted');
  assert.match(cross[0]!.conditions[1]!.message ?? '', /no ReferenceGrant in backend allows HTTPRoutes from apps/);
  assert.equal(before.routes.has('HTTPRoute/apps/mesh-only'), false, 'a route with only a Service parent has no gateway entry');

  const after = computeGatewayStatuses(world({ referenceGrants: [grant] }), options);
  assert.equal(c(after.routes.get('HTTPRoute/apps/cross')![0]!.conditions, 'ResolvedRefs'), 'True/ResolvedRefs');
});

test('route entries: refused attachments keep their reason, missing backends are BackendNotFound, entries follow parentRefs order', () => {
  const refs = [{ name: 'gw', namespace: 'infra', sectionName: 'nope' }, { name: 'gw', namespace: 'infra', sectionName: 'admin' }, { name: 'gw', namespace: 'infra', sectionName: 'web' }];
  const r = route('apps', 'several', undefined, refs);
  const s = computeGatewayStatuses(world({ httpRoutes: [r], services: [svc('apps', 'v1')] }), options);
  const entries = s.routes.get('HTTPRoute/apps/several')!;
  assert.deepEqual(entries.map((e) => e.parentRef.sectionName), ['nope', 'admin', 'web']);
  assert.equal(c(entries[0]!.conditions, 'Accepted'), 'False/NoMatchingParent');
  assert.equal(c(entries[1]!.conditions, 'Accepted'), 'False/NotAllowedByListeners', 'admin admits only its own namespace');
  assert.equal(c(entries[2]!.conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(entries[2]!.conditions, 'ResolvedRefs'), 'False/BackendNotFound');
});

test('a served Gateway publishes its address; a Weft class with parametersRef is refused and its Gateways get nothing', () => {
  const served = computeGatewayStatuses(world(), { ...options, runtime: () => ({ ready: true, address: '10.96.0.50' }) });
  const g = served.gateways.get('infra/gw')!;
  assert.deepEqual(g.addresses, [{ type: 'IPAddress', value: '10.96.0.50' }]);
  assert.equal(c(g.conditions, 'Programmed'), 'True/Programmed');
  const refused = computeGatewayStatuses(world({ gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: CONTROLLER, parametersRef: { group: 'x', kind: 'Y', name: 'z' } } }] }), options);
  assert.equal(c(refused.classes.get('weft'), 'Accepted'), 'False/InvalidParameters');
  assert.equal(refused.gateways.size, 0);
  assert.equal(refused.routes.size, 0);
});

test('views: each served Gateway gets its valid listeners, the routes attached to each, and nothing for another class', () => {
  const s = computeGatewayStatuses(world(), options);
  assert.deepEqual([...s.views.keys()], ['infra/gw']);
  const v = s.views.get('infra/gw')!;
  assert.deepEqual(v.ports.map((p) => [p.port, p.listeners.map((l) => l.name)]), [[80, ['web']], [8080, ['admin']]], 'the HTTPS listener is not valid here, so not served');
  const web = v.ports[0]!.listeners[0]!;
  assert.deepEqual(web.hosts.map((h) => [h.hostname, h.routes.map((r) => `${r.namespace}/${r.name}`).sort()]), [['', ['apps/cross', 'infra/split']]]);
  assert.deepEqual(v.ports[1]!.listeners[0]!.hosts, [], 'routes attached by sectionName web are not on admin');
});

test('route kinds the proxy does not serve do not attach: a GRPCRoute is NotAllowedByListeners and supportedKinds say HTTPRoute only', () => {
  const grpc = { metadata: { namespace: 'infra', name: 'rpc', generation: 1 }, spec: { parentRefs: [{ name: 'gw', sectionName: 'web' }], rules: [{ backendRefs: [{ name: 'v1', port: 8080 }] }] } };
  const s = computeGatewayStatuses(world({ grpcRoutes: [grpc] }), { ...options, routeKinds: new Set(['HTTPRoute']) });
  const g = s.gateways.get('infra/gw')!;
  assert.deepEqual(g.listeners?.find((l) => l.name === 'web')?.supportedKinds.map((k) => k.kind), ['HTTPRoute']);
  const entry = s.routes.get('GRPCRoute/infra/rpc')![0]!;
  assert.equal(c(entry.conditions, 'Accepted'), 'False/NotAllowedByListeners');
  assert.equal(g.listeners?.find((l) => l.name === 'web')?.attachedRoutes, 2, 'the two HTTPRoutes only');
});

test('an HTTPRoute and a GRPCRoute may share a listener and a hostname: both attach (Gateway API v1.7 lets an implementation keep both) and the host table holds both kinds', () => {
  const grpc = {
    metadata: { namespace: 'infra', name: 'rpc', generation: 1, creationTimestamp: '2026-02-01T00:00:00Z' },
    spec: { parentRefs: [{ name: 'gw', sectionName: 'web' }], hostnames: ['api.example.com'], rules: [{ backendRefs: [{ name: 'v1', port: 8080 }] }] },
  };
  const http: HTTPRoute = {
    metadata: { namespace: 'infra', name: 'site', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { parentRefs: [{ name: 'gw', sectionName: 'web' }], hostnames: ['*.example.com'], rules: [{ backendRefs: [{ name: 'v2', port: 8080 }] }] },
  };
  const s = computeGatewayStatuses(world({ grpcRoutes: [grpc], httpRoutes: [http] }), options);
  assert.equal(c(s.routes.get('GRPCRoute/infra/rpc')![0]!.conditions, 'Accepted'), 'True/Accepted');
  assert.equal(c(s.routes.get('HTTPRoute/infra/site')![0]!.conditions, 'Accepted'), 'True/Accepted');
  const g = s.gateways.get('infra/gw')!;
  assert.deepEqual(g.listeners?.find((l) => l.name === 'web')?.supportedKinds.map((k) => k.kind), ['HTTPRoute', 'GRPCRoute']);
  assert.equal(g.listeners?.find((l) => l.name === 'web')?.attachedRoutes, 2);
  const web = s.views.get('infra/gw')!.ports.find((p) => p.port === 80)!.listeners[0]!;
  assert.deepEqual(web.hosts.map((h) => [h.hostname, h.routes.map((r) => `${r.kind}:${r.name}`).join()]), [['api.example.com', 'grpc:rpc'], ['*.example.com', 'http:site']]);
});

test('hostname precedence: on a listener abc.example.com, a newer route naming abc.example.com goes before an older *.example.com or hostname-less one narrowed to it', () => {
  const listenerGw: Gateway = { metadata: { namespace: 'infra', name: 'gw', generation: 1 }, spec: { gatewayClassName: 'weft', listeners: [{ name: 'exact', port: 80, protocol: 'HTTP', hostname: 'abc.example.com' }] } };
  const mk = (name: string, created: string, hostnames: string[] | undefined, path: string, backend: string): HTTPRoute => ({
    metadata: { namespace: 'infra', name, generation: 1, creationTimestamp: created },
    spec: {
      parentRefs: [{ name: 'gw' }], ...(hostnames !== undefined ? { hostnames } : {}),
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: path } }], backendRefs: [{ name: backend, port: 8080 }] }],
    },
  });
  const httpRoutes = [
    mk('none-oldest', '2026-01-01T00:00:00Z', undefined, '/path/longer', 'v1'),
    mk('wildcard-older', '2026-01-02T00:00:00Z', ['*.example.com'], '/path/longer', 'v1'),
    mk('exact-newer', '2026-01-03T00:00:00Z', ['abc.example.com'], '/path', 'v2'),
  ];
  const s = computeGatewayStatuses(world({ gateways: [listenerGw], httpRoutes }), options);
  const listener = s.views.get('infra/gw')!.ports[0]!.listeners[0]!;
  assert.deepEqual(listener.hosts.map((h) => [h.hostname, h.routes.map((r) => r.name).join()]),
    [['abc.example.com', 'exact-newer'], ['abc.example.com', 'wildcard-older'], ['abc.example.com', 'none-oldest']]);
  const req = (path: string): RequestInfo => ({ method: 'GET', path, rawQuery: '', query: new Map(), headers: new Map(), authority: 'abc.example.com', host: 'abc.example.com' });
  assert.equal(selectGatewayRule(listener, req('/path/longer/x'))?.route.name, 'exact-newer', 'the exact route wins though its path is less specific');
  assert.equal(selectGatewayRule(listener, req('/other')), undefined);
  // The proxy rebuilds the view from the wire with assembleGatewayView: the tables keep the order sent.
  const rebuilt = assembleGatewayView({ namespace: 'infra', name: 'gw' }, [{ ...listener, hosts: listener.hosts.map((h) => ({ hostname: h.hostname, routes: h.routes })) }]);
  assert.deepEqual(rebuilt.ports[0]!.listeners[0]!.hosts.map((h) => h.routes[0]!.name), ['exact-newer', 'wildcard-older', 'none-oldest']);
});

test('a ListenerSet that left our Gateways for none has its status cleared; one under another controller\'s Gateway is left to it', () => {
  const shown = { conditions: [{ type: 'Accepted', status: 'True' as const, reason: 'Accepted', message: '', lastTransitionTime: '2026-12-07T10:00:00Z' }] };
  const set = (name: string, parent: string, status: ListenerSet['status'] | 'none' = shown): ListenerSet => ({
    metadata: { namespace: 'infra', name, creationTimestamp: '2026-12-07T10:00:00Z' },
    spec: { parentRef: { name: parent }, listeners: [{ name: `l-${name}`, port: 9000, protocol: 'HTTP' }] },
    ...(status !== 'none' ? { status } : {}),
  });
  const s = computeGatewayStatuses(world({
    gateways: [{ ...gw('gw'), spec: { ...gw('gw').spec!, allowedListeners: { namespaces: { from: 'Same' } } } }, gw('foreign', 'other')],
    listenerSets: [set('ours', 'gw'), set('moved-to-nothing', 'gone'), set('moved-to-foreign', 'foreign'), set('never-shown', 'gone', 'none')],
  }), options);
  assert.deepEqual([...s.listenerSets.keys()], ['infra/ours']);
  assert.deepEqual(s.staleListenerSets, ['infra/moved-to-nothing']);
});
