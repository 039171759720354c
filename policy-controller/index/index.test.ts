import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EndpointSlice, FaultInjection, GRPCRoute, HTTPRoute, Namespace, Pod, ReferenceGrant, Service, XBackendTrafficPolicy } from '../../core/kube.js';
import type { AuthorizationPolicy, InboundLimitPolicy, MeshTLSAuthentication, NetworkAuthentication, Server } from '../../core/kube-policy.js';
import { PolicyIndex, routeId } from './index.js';
import type { DestinationView, ViewKey } from './views.js';

let rv = 1;
const meta = (ns: string | undefined, name: string, extra: Record<string, unknown> = {}) => ({
  name,
  ...(ns !== undefined ? { namespace: ns } : {}),
  resourceVersion: String(rv++),
  generation: 1,
  creationTimestamp: '2026-01-01T00:00:00Z',
  ...extra,
});

function namespace(name: string, annotations: Record<string, string> = {}): Namespace {
  return { metadata: meta(undefined, name, { annotations }) };
}

function service(ns: string, name: string, ip: string, ports: number[] = [80]): Service {
  return {
    metadata: meta(ns, name),
    spec: { clusterIP: ip, clusterIPs: [ip], ports: ports.map((p) => ({ name: `p${p}`, port: p, targetPort: 8080 })), selector: { app: name } },
  };
}

function pod(ns: string, name: string, ip: string, opts: { sa?: string; ready?: boolean; labels?: Record<string, string> } = {}): Pod {
  return {
    metadata: meta(ns, name, { labels: { 'weft.dev/meshed': 'true', ...(opts.labels ?? {}) } }),
    spec: { serviceAccountName: opts.sa ?? 'default', containers: [{ name: 'app', ports: [{ containerPort: 8080, name: 'http' }] }] },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: opts.ready === false ? 'False' : 'True' }] },
  };
}

function slice(ns: string, svc: string, name: string, eps: { ip: string; pod: string; ready?: boolean }[], portName = 'p80'): EndpointSlice {
  return {
    metadata: meta(ns, name, { labels: { 'kubernetes.io/service-name': svc } }),
    addressType: 'IPv4',
    ports: [{ name: portName, port: 8080, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({ addresses: [e.ip], conditions: { ready: e.ready ?? true }, targetRef: { kind: 'Pod', namespace: ns, name: e.pod } })),
  };
}

function httpRoute(ns: string, name: string, parent: { ns?: string; name: string }, backends: { ns?: string; name: string; port?: number }[], extra: Record<string, unknown> = {}): HTTPRoute {
  return {
    metadata: meta(ns, name),
    spec: {
      parentRefs: [{ group: '', kind: 'Service', name: parent.name, ...(parent.ns !== undefined ? { namespace: parent.ns } : {}) }],
      rules: [{ backendRefs: backends.map((b) => ({ name: b.name, port: b.port ?? 80, ...(b.ns !== undefined ? { namespace: b.ns } : {}) })), ...extra }],
    },
  };
}

function grant(ns: string, name: string, fromNs: string): ReferenceGrant {
  return {
    metadata: meta(ns, name),
    spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: fromNs }], to: [{ group: '', kind: 'Service' }] },
  };
}

function newIndex(): PolicyIndex {
  return new PolicyIndex({ trustDomain: 'cluster.local', clusterNetworks: ['10.0.0.0/8'], referenceGrantCheck: true });
}

/** Subscribes to keys and records which were told about a change. */
function watcher(index: PolicyIndex, keys: Record<string, ViewKey>) {
  const told = new Set<string>();
  for (const [label, key] of Object.entries(keys)) index.subscribe(key, () => told.add(label));
  return {
    /** Flushes and returns the sorted labels told since the last call. */
    take(): string[] {
      index.flush();
      const out = [...told].sort();
      told.clear();
      return out;
    },
  };
}

type KeyOf<K extends ViewKey['kind']> = Extract<ViewKey, { kind: K }>;
const dest = (clientNamespace: string, ip: string, port = 80): KeyOf<'destination'> => ({ kind: 'destination', clientNamespace, ip, port });
const inbound = (namespace: string, podName: string, port = 8080): KeyOf<'inbound'> => ({ kind: 'inbound', namespace, pod: podName, port });
const eps = (namespace: string, name: string, port = 80): KeyOf<'endpoints'> => ({ kind: 'endpoints', namespace, name, port });

function routesOf(v: DestinationView): string[] | 'none' | 'not-a-service' {
  if (v.kind !== 'service') return 'not-a-service';
  return v.policy.routes === 'none' ? 'none' : v.policy.routes.map((r) => `${r.namespace}/${r.name}`);
}

function conditions(index: PolicyIndex, ns: string, name: string, kind: 'HTTPRoute' | 'GRPCRoute' = 'HTTPRoute') {
  const st = index.routeStatus(routeId(kind, ns, name));
  return (st ?? []).map((p) => Object.fromEntries(p.conditions.map((c) => [c.type, `${c.status}/${c.reason}`])));
}

/** Two namespaces with a Service each, meshed pods behind them, and a client namespace. */
function world(): PolicyIndex {
  const index = newIndex();
  for (const ns of ['shop', 'pay', 'client']) index.apply('Namespace', namespace(ns));
  index.apply('Service', service('shop', 'web', '10.96.0.10'));
  index.apply('Service', service('shop', 'web-v2', '10.96.0.11'));
  index.apply('Service', service('pay', 'api', '10.96.0.20'));
  index.apply('Pod', pod('shop', 'web-0', '10.244.0.10', { sa: 'web', labels: { app: 'web' } }));
  index.apply('Pod', pod('pay', 'api-0', '10.244.0.20', { sa: 'api', labels: { app: 'api' } }));
  index.apply('Pod', pod('client', 'c-0', '10.244.0.30', { sa: 'client' }));
  index.apply('EndpointSlice', slice('shop', 'web', 'web-abc', [{ ip: '10.244.0.10', pod: 'web-0' }]));
  index.apply('EndpointSlice', slice('pay', 'api', 'api-abc', [{ ip: '10.244.0.20', pod: 'api-0' }]));
  index.flush();
  return index;
}

const ALL = {
  webFromClient: dest('client', '10.96.0.10'),
  webFromShop: dest('shop', '10.96.0.10'),
  apiFromClient: dest('client', '10.96.0.20'),
  webEndpoints: eps('shop', 'web'),
  apiEndpoints: eps('pay', 'api'),
  webPod: inbound('shop', 'web-0'),
  apiPod: inbound('pay', 'api-0'),
};

describe('PolicyIndex: routes', () => {
  test('a producer HTTPRoute reaches every client namespace of its Service and nothing else', () => {
    const index = world();
    const w = watcher(index, ALL);
    index.apply('HTTPRoute', httpRoute('shop', 'split', { name: 'web' }, [{ name: 'web-v2' }]));
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop']);
    assert.deepEqual(routesOf(index.view(ALL.webFromClient)), ['shop/split']);
    assert.deepEqual(routesOf(index.view(ALL.apiFromClient)), 'none');
  });

  test('updating a route tells its Service\'s subscribers; an identical relist tells nobody', () => {
    const index = world();
    const route = httpRoute('shop', 'split', { name: 'web' }, [{ name: 'web-v2' }]);
    index.apply('HTTPRoute', route);
    index.flush();
    const w = watcher(index, ALL);
    assert.equal(index.apply('HTTPRoute', route), false, 'same resourceVersion is a no-op');
    assert.deepEqual(w.take(), []);
    const updated = httpRoute('shop', 'split', { name: 'web' }, [{ name: 'web' }]);
    index.apply('HTTPRoute', { ...updated, metadata: { ...updated.metadata, name: 'split' } });
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop']);
  });

  test('deleting the last route returns the Service to passthrough', () => {
    const index = world();
    const route = httpRoute('shop', 'split', { name: 'web' }, [{ name: 'web-v2' }]);
    index.apply('HTTPRoute', route);
    index.flush();
    const w = watcher(index, ALL);
    index.delete('HTTPRoute', route);
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop']);
    assert.equal(routesOf(index.view(ALL.webFromClient)), 'none');
  });

  test('a consumer route reaches only subscribers in its own namespace', () => {
    const index = world();
    const w = watcher(index, ALL);
    index.apply('HTTPRoute', httpRoute('client', 'mine', { ns: 'shop', name: 'web' }, [{ ns: 'shop', name: 'web' }]));
    assert.deepEqual(w.take(), ['webFromClient']);
    assert.deepEqual(routesOf(index.view(ALL.webFromClient)), ['client/mine']);
    assert.equal(routesOf(index.view(ALL.webFromShop)), 'none');
  });

  test('a route whose parent Service appears later becomes Accepted', () => {
    const index = world();
    index.apply('HTTPRoute', httpRoute('shop', 'early', { name: 'later' }, [{ name: 'web' }]));
    index.flush();
    assert.deepEqual(conditions(index, 'shop', 'early'), [{ Accepted: 'False/NoMatchingParent', ResolvedRefs: 'True/ResolvedRefs' }]);
    const w = watcher(index, { later: dest('client', '10.96.0.99') });
    index.apply('Service', service('shop', 'later', '10.96.0.99'));
    assert.deepEqual(w.take(), ['later']);
    assert.deepEqual(conditions(index, 'shop', 'early'), [{ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' }]);
    assert.deepEqual(routesOf(index.view(dest('client', '10.96.0.99'))), ['shop/early']);
  });

  test('a backend Service that appears later resolves the route and changes its parent\'s view', () => {
    const index = world();
    index.apply('HTTPRoute', httpRoute('shop', 'r', { name: 'web' }, [{ name: 'canary' }]));
    index.flush();
    assert.deepEqual(conditions(index, 'shop', 'r'), [{ Accepted: 'True/Accepted', ResolvedRefs: 'False/BackendNotFound' }]);
    const w = watcher(index, ALL);
    index.apply('Service', service('shop', 'canary', '10.96.0.12'));
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop']);
    assert.deepEqual(conditions(index, 'shop', 'r'), [{ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' }]);
  });

  test('deleting a ReferenceGrant flips a cross-namespace backend to RefNotPermitted and its share to 500', () => {
    const index = world();
    const g = grant('pay', 'allow-shop', 'shop');
    index.apply('ReferenceGrant', g);
    index.apply('HTTPRoute', httpRoute('shop', 'cross', { name: 'web' }, [{ ns: 'pay', name: 'api' }]));
    index.flush();
    assert.deepEqual(conditions(index, 'shop', 'cross'), [{ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' }]);
    const w = watcher(index, ALL);
    index.delete('ReferenceGrant', g);
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop']);
    assert.deepEqual(conditions(index, 'shop', 'cross'), [{ Accepted: 'True/Accepted', ResolvedRefs: 'False/RefNotPermitted' }]);
    const v = index.view(ALL.webFromClient);
    assert.equal(v.kind, 'service');
    const target = v.kind === 'service' && v.policy.routes !== 'none' ? v.policy.routes[0]?.rules[0]?.backends[0]?.target : undefined;
    assert.deepEqual(target && { kind: target.kind, ...(target.kind === 'error' ? { status: target.status, reason: target.reason } : {}) }, {
      kind: 'error',
      status: 500,
      reason: 'RefNotPermitted',
    });
  });

  test("an XBackendTrafficPolicy on a backend Service recomputes the parents routing to it and reports its status", () => {
    const index = world();
    index.apply('HTTPRoute', httpRoute('shop', 'split', { name: 'web' }, [{ name: 'web-v2' }]));
    index.flush();
    const w = watcher(index, ALL);
    const told: string[][] = [];
    index.onBackendPolicyStatus((ids) => told.push([...ids]));
    const policy: XBackendTrafficPolicy = {
      metadata: meta('shop', 'budget', { resourceVersion: '1' }) as XBackendTrafficPolicy['metadata'],
      spec: { targetRefs: [{ group: '', kind: 'Service', name: 'web-v2' }, { group: '', kind: 'Service', name: 'nope' }], retryConstraint: { budget: { percent: 50 } } },
    };
    index.apply('XBackendTrafficPolicy', policy);
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop'], 'only the views routing to web-v2 change');
    assert.deepEqual(told, [['shop/budget']]);
    const v = index.view(ALL.webFromClient);
    const target = v.kind === 'service' && v.policy.routes !== 'none' ? v.policy.routes[0]?.rules[0]?.backends[0]?.target : undefined;
    assert.equal(target?.kind === 'service' ? target.retryBudget?.percent : undefined, 50);
    const st = index.backendPolicyStatus('shop', 'budget');
    assert.deepEqual(st?.ancestors.map((a) => `${a.ancestorRef.name}:${a.conditions[0]?.status}/${a.conditions[0]?.reason}`), ['web-v2:True/Accepted', 'nope:False/TargetNotFound']);
    index.apply('Service', service('shop', 'nope', '10.96.0.12'));
    index.flush();
    assert.deepEqual(told.at(-1), ['shop/budget'], 'a new Service in the namespace may change the status');
    assert.equal(index.backendPolicyStatus('shop', 'budget')?.ancestors[1]?.conditions[0]?.status, 'True');
    const other = { ...policy, metadata: { ...policy.metadata, name: 'other', resourceVersion: '2' } } as XBackendTrafficPolicy;
    index.apply('XBackendTrafficPolicy', other);
    assert.deepEqual(w.take(), [], 'a second policy with the same budget changes no view');
    assert.equal(index.backendPolicyStatus('shop', 'other')?.ancestors[0]?.conditions[0]?.reason, 'Conflicted');
    index.delete('XBackendTrafficPolicy', policy);
    assert.deepEqual(w.take(), [], 'the younger policy takes over with the same budget');
    assert.equal(index.backendPolicyStatus('shop', 'budget'), undefined);
    assert.equal(index.backendPolicyStatus('shop', 'other')?.ancestors[0]?.conditions[0]?.reason, 'Accepted');
    index.delete('XBackendTrafficPolicy', other);
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop'], 'without a policy the default budget applies again');
  });

  test('a FaultInjection a route names resolves it when it appears, changes its views, and a FaultInjection elsewhere changes nothing', () => {
    const index = world();
    const filters = [{ type: 'ExtensionRef', extensionRef: { group: 'policy.weft.dev', kind: 'FaultInjection', name: 'chaos' } }];
    index.apply('HTTPRoute', httpRoute('shop', 'faulty', { name: 'web' }, [{ name: 'web-v2' }], { filters }));
    index.flush();
    assert.equal(conditions(index, 'shop', 'faulty')[0]?.['Accepted'], 'False/UnsupportedValue', 'a missing FaultInjection: not Accepted');
    const w = watcher(index, ALL);
    const chaos: FaultInjection = { metadata: meta('shop', 'chaos', { resourceVersion: '1' }) as FaultInjection['metadata'], spec: { abort: { httpStatus: 503, percentage: 10 } } };
    index.apply('FaultInjection', chaos);
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop']);
    assert.equal(conditions(index, 'shop', 'faulty')[0]?.['Accepted'], 'True/Accepted');
    const v = index.view(ALL.webFromClient);
    const f = v.kind === 'service' && v.policy.routes !== 'none' ? v.policy.routes[0]?.rules[0]?.filters[0] : undefined;
    assert.deepEqual(f, { kind: 'fault', fault: { ref: 'shop/chaos', abort: { status: 503, percentage: 10 } } });
    index.apply('FaultInjection', { metadata: meta('client', 'chaos', { resourceVersion: '2' }) as FaultInjection['metadata'], spec: { delay: { duration: '1s', percentage: 5 } } });
    assert.deepEqual(w.take(), [], 'a FaultInjection in a namespace without routes changes no view');
    index.delete('FaultInjection', chaos);
    assert.deepEqual(w.take(), ['webFromClient', 'webFromShop']);
    assert.equal(conditions(index, 'shop', 'faulty')[0]?.['Accepted'], 'False/UnsupportedValue');
  });

  test('a ReferenceGrant in an unrelated namespace recomputes nothing', () => {
    const index = world();
    index.apply('HTTPRoute', httpRoute('shop', 'cross', { name: 'web' }, [{ ns: 'pay', name: 'api' }]));
    index.flush();
    const w = watcher(index, ALL);
    index.apply('ReferenceGrant', grant('client', 'unrelated', 'shop'));
    assert.deepEqual(w.take(), []);
  });

  test('a GRPCRoute on the same port wins and the HTTPRoute is Conflicted', () => {
    const index = world();
    index.apply('HTTPRoute', httpRoute('shop', 'h', { name: 'web' }, [{ name: 'web' }]));
    const g: GRPCRoute = {
      metadata: meta('shop', 'g'),
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web' }], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] },
    };
    index.apply('GRPCRoute', g);
    index.flush();
    assert.deepEqual(routesOf(index.view(ALL.webFromClient)), ['shop/g']);
    assert.deepEqual(conditions(index, 'shop', 'h'), [{ Accepted: 'False/Conflicted', ResolvedRefs: 'True/ResolvedRefs' }]);
    assert.deepEqual(conditions(index, 'shop', 'g', 'GRPCRoute'), [{ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' }]);
  });

  test('a route with an unsupported filter is not Accepted and says which filter', () => {
    const index = world();
    index.apply('HTTPRoute', httpRoute('shop', 'cors', { name: 'web' }, [{ name: 'web' }], { filters: [{ type: 'ExternalAuth' }] }));
    index.flush();
    const st = index.routeStatus(routeId('HTTPRoute', 'shop', 'cors'));
    const accepted = st?.[0]?.conditions.find((c) => c.type === 'Accepted');
    assert.equal(accepted?.status, 'False');
    assert.match(accepted?.message ?? '', /ExternalAuth/);
  });

  test('route status listeners hear about the routes an event touched', () => {
    const index = world();
    const heard: string[] = [];
    index.onRouteStatus((ids) => heard.push(...ids));
    index.apply('HTTPRoute', httpRoute('shop', 'a', { name: 'web' }, [{ name: 'web' }]));
    index.apply('HTTPRoute', httpRoute('pay', 'b', { name: 'api' }, [{ name: 'api' }]));
    index.flush();
    heard.length = 0;
    index.apply('Service', service('pay', 'api', '10.96.0.20', [80, 81]));
    index.flush();
    assert.deepEqual(heard, ['HTTPRoute/pay/b']);
  });
});

describe('PolicyIndex: endpoints and pods', () => {
  test('an EndpointSlice update changes only discovery, not route policy', () => {
    const index = world();
    index.apply('HTTPRoute', httpRoute('shop', 'split', { name: 'web' }, [{ name: 'web' }]));
    index.flush();
    const w = watcher(index, ALL);
    index.apply('Pod', pod('shop', 'web-1', '10.244.0.11', { sa: 'web', labels: { app: 'web' } }));
    w.take();
    index.apply('EndpointSlice', slice('shop', 'web', 'web-abc', [{ ip: '10.244.0.10', pod: 'web-0' }, { ip: '10.244.0.11', pod: 'web-1' }]));
    assert.deepEqual(w.take(), ['webEndpoints']);
    const v = index.view(ALL.webEndpoints);
    assert.deepEqual(v.endpoints.map((e) => `${e.ip}:${e.port} ${e.identity ?? '-'}`), [
      '10.244.0.10:8080 spiffe://cluster.local/ns/shop/sa/web',
      '10.244.0.11:8080 spiffe://cluster.local/ns/shop/sa/web',
    ]);
  });

  test('a pod becoming unready changes its endpoints only; its inbound policy stays', () => {
    const index = world();
    const w = watcher(index, ALL);
    index.apply('EndpointSlice', slice('shop', 'web', 'web-abc', [{ ip: '10.244.0.10', pod: 'web-0', ready: false }]));
    index.apply('Pod', pod('shop', 'web-0', '10.244.0.10', { sa: 'web', ready: false, labels: { app: 'web' } }));
    assert.deepEqual(w.take(), ['webEndpoints']);
    assert.equal(index.view(ALL.webEndpoints).endpoints[0]?.ready, false);
  });

  test('an endpoint\'s identity follows its pod\'s ServiceAccount and meshed label', () => {
    const index = world();
    const w = watcher(index, ALL);
    index.apply('Pod', { ...pod('shop', 'web-0', '10.244.0.10', { sa: 'web', labels: { app: 'web' } }), metadata: meta('shop', 'web-0', { labels: { app: 'web' } }) });
    assert.deepEqual(w.take(), ['webEndpoints']);
    const ep = index.view(ALL.webEndpoints).endpoints[0];
    assert.equal(ep?.meshed, false);
    assert.equal(ep?.identity, undefined);
  });

  test('endpoints of a missing Service say so and report it once it exists', () => {
    const index = world();
    const key = eps('shop', 'new');
    const w = watcher(index, { key });
    assert.equal(index.view(key).serviceExists, false);
    index.apply('Service', service('shop', 'new', '10.96.0.50'));
    assert.deepEqual(w.take(), ['key']);
    assert.equal(index.view(key).serviceExists, true);
  });

  test('a destination pod IP resolves to the pod endpoint, and to the Service once one takes the IP', () => {
    const index = world();
    const v = index.view(dest('client', '10.244.0.20', 8080));
    assert.equal(v.kind, 'pod');
    assert.equal(v.kind === 'pod' ? v.endpoint.identity : '', 'spiffe://cluster.local/ns/pay/sa/api');
    assert.equal(index.view(dest('client', '192.0.2.1')).kind, 'unknown');
    const w = watcher(index, { u: dest('client', '10.96.0.77') });
    index.apply('Service', service('pay', 'late', '10.96.0.77'));
    assert.deepEqual(w.take(), ['u']);
    assert.equal(index.view(dest('client', '10.96.0.77')).kind, 'service');
  });

  test('lookup answers for pod addresses only', () => {
    const index = world();
    assert.equal(index.lookup('10.244.0.10', 8080)?.pod?.name, 'web-0');
    assert.equal(index.lookup('10.96.0.10', 80), undefined);
  });
});

describe('PolicyIndex: inbound', () => {
  function server(ns: string, name: string, app: string): Server {
    return { metadata: meta(ns, name), spec: { podSelector: { matchLabels: { app } }, port: 8080, proxyProtocol: 'HTTP/1' } };
  }

  test('a Server changes the inbound views of the pods it selects in its namespace only', () => {
    const index = world();
    const w = watcher(index, ALL);
    index.apply('Server', server('shop', 'web-http', 'web'));
    assert.deepEqual(w.take(), ['webPod']);
    assert.equal(index.view(ALL.webPod)?.server?.name, 'web-http');
    assert.equal(index.view(ALL.apiPod)?.server, undefined);
  });

  test('an InboundLimitPolicy changes the inbound view of its Server\'s pods and reports its status (TargetNotFound until the Server exists)', () => {
    const index = world();
    const told: string[][] = [];
    index.onLimitPolicyStatus((ids) => told.push([...ids]));
    const limit: InboundLimitPolicy = {
      metadata: meta('shop', 'web-rate', { generation: 1 }) as InboundLimitPolicy['metadata'],
      spec: { targetRef: { group: 'policy.weft.dev', kind: 'Server', name: 'web-http' }, rateLimit: { requestsPerSecond: 50 } },
    };
    index.apply('InboundLimitPolicy', limit);
    index.flush();
    assert.deepEqual(told, [['shop/web-rate']]);
    assert.equal(index.limitPolicyStatus('shop', 'web-rate')?.reason, 'TargetNotFound');
    const w = watcher(index, ALL);
    index.apply('Server', server('shop', 'web-http', 'web'));
    index.flush();
    assert.deepEqual(w.take(), ['webPod']);
    assert.deepEqual(told.at(-1), ['shop/web-rate'], 'a Server in the namespace may change the status');
    assert.deepEqual(index.view(ALL.webPod)?.limits?.rate, { requestsPerSecond: 50, burst: 50 });
    assert.deepEqual(index.limitPolicyStatus('shop', 'web-rate'), { namespace: 'shop', name: 'web-rate', accepted: true, reason: 'Accepted', message: '50/s burst 50 on Server web-http, per proxy' });
    index.apply('InboundLimitPolicy', { ...limit, metadata: { ...limit.metadata, resourceVersion: '2', generation: 2 }, spec: { ...limit.spec, rateLimit: { requestsPerSecond: 0 } } });
    assert.deepEqual(w.take(), ['webPod']);
    assert.equal(index.view(ALL.webPod)?.limits, undefined, 'a bad policy applies nowhere');
    assert.match(index.limitPolicyStatus('shop', 'web-rate')?.message ?? '', /^spec\.rateLimit\.requestsPerSecond: 0/);
  });

  test('an AuthorizationPolicy with authentications changes the inbound view of its Server\'s pods', () => {
    const index = world();
    index.apply('Server', server('shop', 'web-http', 'web'));
    index.flush();
    const w = watcher(index, ALL);
    const mtls: MeshTLSAuthentication = { metadata: meta('shop', 'clients'), spec: { identityRefs: [{ kind: 'ServiceAccount', name: 'client', namespace: 'client' }] } };
    const net: NetworkAuthentication = { metadata: meta('shop', 'cluster'), spec: { networks: [{ cidr: '10.0.0.0/8' }] } };
    index.apply('MeshTLSAuthentication', mtls);
    index.apply('NetworkAuthentication', net);
    assert.deepEqual(w.take(), [], 'authentications nothing references change no view');
    const policy: AuthorizationPolicy = {
      metadata: meta('shop', 'allow'),
      spec: {
        targetRef: { group: 'policy.weft.dev', kind: 'Server', name: 'web-http' },
        requiredAuthenticationRefs: [
          { group: 'policy.weft.dev', kind: 'MeshTLSAuthentication', name: 'clients' },
          { group: 'policy.weft.dev', kind: 'NetworkAuthentication', name: 'cluster' },
        ],
      },
    };
    index.apply('AuthorizationPolicy', policy);
    assert.deepEqual(w.take(), ['webPod']);
    assert.deepEqual(index.view(ALL.webPod)?.authorizations.map((a) => a.authentications.map((x) => x.kind)), [['MeshTLSAuthentication', 'NetworkAuthentication']]);
    index.apply('MeshTLSAuthentication', { ...mtls, metadata: meta('shop', 'clients'), spec: { identities: ['*'] } });
    assert.deepEqual(w.take(), ['webPod']);
    index.delete('AuthorizationPolicy', policy);
    assert.deepEqual(w.take(), ['webPod']);
  });

  test('a namespace\'s default-policy annotation changes the inbound views of its pods only', () => {
    const index = world();
    const w = watcher(index, ALL);
    index.apply('Namespace', namespace('pay', { 'config.weft.dev/default-inbound-policy': 'deny' }));
    assert.deepEqual(w.take(), ['apiPod']);
    assert.equal(index.view(ALL.apiPod)?.fallback.policy, 'deny');
  });

  test('an HTTPRoute with a Server parent changes that Server\'s pods and reports NoMatchingParent without the Server', () => {
    const index = world();
    const route: HTTPRoute = {
      metadata: meta('shop', 'inb'),
      spec: { parentRefs: [{ group: 'policy.weft.dev', kind: 'Server', name: 'web-http' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }] }] },
    };
    index.apply('HTTPRoute', route);
    index.flush();
    assert.deepEqual(conditions(index, 'shop', 'inb'), [{ Accepted: 'False/NoMatchingParent', ResolvedRefs: 'True/ResolvedRefs' }]);
    const w = watcher(index, ALL);
    index.apply('Server', server('shop', 'web-http', 'web'));
    assert.deepEqual(w.take(), ['webPod']);
    assert.deepEqual(index.view(ALL.webPod)?.routes.map((r) => r.name), ['inb']);
    assert.deepEqual(conditions(index, 'shop', 'inb'), [{ Accepted: 'True/Accepted', ResolvedRefs: 'True/ResolvedRefs' }]);
  });

  test('a pod that is deleted has no inbound view', () => {
    const index = world();
    const w = watcher(index, ALL);
    index.delete('Pod', pod('shop', 'web-0', '10.244.0.10'));
    assert.deepEqual(w.take(), ['webEndpoints', 'webPod']);
    assert.equal(index.view(ALL.webPod), undefined);
  });
});

describe('PolicyIndex: sharing', () => {
  test('subscribers of one key share one computation and each is told once', () => {
    const index = world();
    let a = 0;
    let b = 0;
    index.subscribe(ALL.webFromClient, () => a++);
    index.subscribe(ALL.webFromClient, () => b++);
    const before = index.sizes();
    index.apply('HTTPRoute', httpRoute('shop', 'x', { name: 'web' }, [{ name: 'web' }]));
    index.flush();
    assert.equal(a, 1);
    assert.equal(b, 1);
    assert.equal(index.sizes().subscribedViews, before.subscribedViews);
    assert.equal(index.sizes().subscribers, 2);
  });

  test('closing the last subscription drops the view from the cache', () => {
    const index = world();
    const sub = index.subscribe(ALL.apiFromClient, () => undefined);
    assert.equal(index.sizes().cachedViews, 1);
    sub.close();
    assert.equal(index.sizes().cachedViews, 0);
  });
});

describe('PolicyIndex: status-only updates', () => {
  test('a route update that changes only status recomputes no view but rechecks the route\'s status', () => {
    const index = world();
    const route = httpRoute('shop', 'split', { name: 'web' }, [{ name: 'web-v2' }]);
    index.apply('HTTPRoute', route);
    index.flush();
    const w = watcher(index, ALL);
    const heard: string[] = [];
    index.onRouteStatus((ids) => heard.push(...ids));
    index.apply('HTTPRoute', { ...route, metadata: { ...route.metadata, resourceVersion: String(rv++) }, status: { parents: [] } });
    assert.deepEqual(w.take(), []);
    assert.deepEqual(heard, ['HTTPRoute/shop/split']);
  });
});
