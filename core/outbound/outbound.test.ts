import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTE_CONTROLLER_NAME } from '../contract.js';
import type { ClusterSnapshot, GRPCRoute, HTTPRoute, HTTPRouteRule, ParentReference, ReferenceGrant, Service } from '../kube.js';
import { EMPTY_SNAPSHOT } from '../kube.js';
import { makeRequestInfo, type RequestInfo } from '../request.js';
import { answerFor } from '../reasons.js';
import { applyHeaderOps, replacePrefix } from '../routes/filters.js';
import { compileOutbound, indexSnapshot, outboundView, type OutboundOptions, type OutboundPolicy, type RouteStatus } from './policy.js';
import { pickWeighted, routeOutbound, type OutboundDecision } from './route.js';

// --- fixtures ---------------------------------------------------------------------------------------

function service(ns: string, name: string, ports: Service['spec'] extends infer S ? (S extends { ports?: infer P } ? P : never) : never): Service {
  return { metadata: { name, namespace: ns }, spec: { clusterIP: `10.96.0.${name.length}`, ports } };
}

const SERVICES: readonly Service[] = [
  service('prod', 'web', [
    { name: 'http', port: 80, appProtocol: 'http' },
    { name: 'admin', port: 8080 },
    { name: 'grpc', port: 7070, appProtocol: 'grpc' },
  ]),
  service('prod', 'web-v2', [{ name: 'http', port: 80 }]),
  service('other', 'remote', [{ name: 'http', port: 80 }]),
];

const NAMESPACES = ['prod', 'client-a', 'client-b', 'other'].map((name) => ({ metadata: { name } }));

let seq = 0;
function httpRoute(ns: string, name: string, rules: readonly HTTPRouteRule[], parentRefs?: readonly ParentReference[]): HTTPRoute {
  seq++;
  return {
    metadata: { name, namespace: ns, generation: 3, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString() },
    spec: { parentRefs: parentRefs ?? [{ group: '', kind: 'Service', name: 'web', namespace: 'prod', port: 80 }], rules },
  };
}

function grpcRoute(ns: string, name: string, parentRefs: readonly ParentReference[]): GRPCRoute {
  return {
    metadata: { name, namespace: ns, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { parentRefs, rules: [{ backendRefs: [{ name: 'web-v2', port: 80 }] }] },
  };
}

function snapshot(parts: Partial<ClusterSnapshot>): ClusterSnapshot {
  return { ...EMPTY_SNAPSHOT, namespaces: NAMESPACES, services: SERVICES, ...parts };
}

function view(snap: ClusterSnapshot, clientNs: string, port = 80, svc = 'web', options: OutboundOptions = {}): OutboundPolicy {
  const v = outboundView(indexSnapshot(snap, options), clientNs, 'prod', svc, port);
  assert.ok(v);
  return v;
}

function req(target: string, headers: readonly (readonly [string, string])[] = [], method = 'GET'): RequestInfo {
  const r = makeRequestInfo({ method, target, headers: [['host', 'web.prod'], ...headers] });
  assert.ok(r.ok);
  return r.request;
}

const ALWAYS = (): number => 0;

function decide(p: OutboundPolicy, r: RequestInfo, rand: () => number = ALWAYS): OutboundDecision {
  return routeOutbound(p, r, rand);
}

function backendOf(d: OutboundDecision): string {
  if (d.kind === 'forward') return `${d.backend.namespace}/${d.backend.name}:${d.backend.port}`;
  if (d.kind === 'error') return `error ${answerFor(d.code).http} ${d.code}`;
  return d.kind;
}

function status(snap: ClusterSnapshot, name: string, options: OutboundOptions = {}): RouteStatus {
  const s = indexSnapshot(snap, options).statuses.find((x) => x.name === name);
  assert.ok(s, `no status for ${name}`);
  return s;
}

function cond(s: RouteStatus, type: string, parent = 0): { status: string; reason?: string; message?: string } {
  const c = s.parents[parent]?.conditions.find((x) => x.type === type);
  assert.ok(c, `no ${type} condition`);
  return c;
}

const toWebV2: HTTPRouteRule = { backendRefs: [{ name: 'web-v2', port: 80 }] };

// --- attachment -------------------------------------------------------------------------------------

describe('outbound attachment', () => {
  test('no route attached passes through', () => {
    assert.deepEqual(decide(view(snapshot({}), 'client-a'), req('/')), { kind: 'passthrough' });
  });

  test('routes attached but no rule matching answers 404', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'r', [{ matches: [{ path: { value: '/only' } }], ...toWebV2 }])] });
    const d = decide(view(snap, 'client-a'), req('/other'));
    assert.equal(backendOf(d), 'error 404 ROUTE_NOT_FOUND');
  });

  test('no matching rule for a gRPC call is UNIMPLEMENTED', () => {
    const snap = snapshot({ grpcRoutes: [{ ...grpcRoute('prod', 'g', [{ kind: 'Service', group: '', name: 'web', port: 7070 }]), spec: { parentRefs: [{ kind: 'Service', group: '', name: 'web', port: 7070 }], rules: [{ matches: [{ method: { service: 'a.B' } }], backendRefs: [{ name: 'web-v2', port: 80 }] }] } }] });
    const r = makeRequestInfo({ method: 'POST', target: '/x.Y/Z', headers: { 'content-type': 'application/grpc', host: 'web.prod:7070' } });
    assert.ok(r.ok);
    const d = decide(view(snap, 'client-a', 7070), r.request);
    assert.equal(d.kind === 'error' ? answerFor(d.code).grpc : undefined, 12);
  });

  test('a producer route applies to clients in every namespace', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'producer', [toWebV2])] });
    for (const ns of ['prod', 'client-a', 'client-b']) assert.equal(backendOf(decide(view(snap, ns), req('/'))), 'prod/web-v2:80');
  });

  test('a consumer route applies only to its own namespace and replaces producer routes there', () => {
    const snap = snapshot({
      httpRoutes: [
        httpRoute('prod', 'producer', [toWebV2]),
        httpRoute('client-a', 'consumer', [{ matches: [{ path: { value: '/c' } }], backendRefs: [{ name: 'web', namespace: 'prod', port: 8080 }] }]),
      ],
    });
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/c'))), 'prod/web:8080');
    // The producer route is replaced, so a path only it would match gets 404 for client-a.
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/p'))), 'error 404 ROUTE_NOT_FOUND');
    assert.equal(backendOf(decide(view(snap, 'client-b'), req('/c'))), 'prod/web-v2:80');
  });

  test('parentRef port limits the route to that port', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'r', [toWebV2])] });
    assert.equal(decide(view(snap, 'client-a', 80), req('/')).kind, 'forward');
    assert.equal(decide(view(snap, 'client-a', 8080), req('/')).kind, 'passthrough');
  });

  test('parentRef sectionName limits the route to the named port', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'r', [toWebV2], [{ group: '', kind: 'Service', name: 'web', sectionName: 'admin' }])] });
    assert.equal(decide(view(snap, 'client-a', 8080), req('/')).kind, 'forward');
    assert.equal(decide(view(snap, 'client-a', 80), req('/')).kind, 'passthrough');
  });

  test('a parentRef without port covers every port', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'r', [toWebV2], [{ group: 'core', kind: 'Service', name: 'web' }])] });
    for (const port of [80, 8080, 7070]) assert.equal(decide(view(snap, 'client-a', port), req('/')).kind, 'forward');
  });

  test('a parentRef to a missing port or Service is NoMatchingParent', () => {
    const snap = snapshot({
      httpRoutes: [
        httpRoute('prod', 'bad-port', [toWebV2], [{ group: '', kind: 'Service', name: 'web', port: 9999 }]),
        httpRoute('prod', 'bad-section', [toWebV2], [{ group: '', kind: 'Service', name: 'web', sectionName: 'nope' }]),
        httpRoute('prod', 'bad-svc', [toWebV2], [{ group: '', kind: 'Service', name: 'ghost' }]),
      ],
    });
    for (const name of ['bad-port', 'bad-section', 'bad-svc']) {
      const c = cond(status(snap, name), 'Accepted');
      assert.equal(c.status, 'False');
      assert.equal(c.reason, 'NoMatchingParent');
    }
  });

  test('a GRPCRoute beats an HTTPRoute on one port; the HTTPRoute is Conflicted', () => {
    const parent: ParentReference = { group: '', kind: 'Service', name: 'web', port: 7070 };
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'h', [{ backendRefs: [{ name: 'web', port: 8080 }] }], [parent])], grpcRoutes: [grpcRoute('prod', 'g', [parent])] });
    const p = view(snap, 'client-a', 7070);
    assert.ok(p.routes !== 'none');
    assert.deepEqual(p.routes.map((r) => r.kind), ['grpc']);
    const c = cond(status(snap, 'h'), 'Accepted');
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'Conflicted');
    assert.equal(cond(status(snap, 'g'), 'Accepted').status, 'True');
  });

  test('an HTTPRoute on all ports keeps the ports where no GRPCRoute attaches', () => {
    const snap = snapshot({
      httpRoutes: [httpRoute('prod', 'h', [toWebV2], [{ group: '', kind: 'Service', name: 'web' }])],
      grpcRoutes: [grpcRoute('prod', 'g', [{ group: '', kind: 'Service', name: 'web', port: 7070 }])],
    });
    assert.equal(decide(view(snap, 'client-a', 80), req('/')).kind, 'forward');
    assert.equal(cond(status(snap, 'h'), 'Accepted').status, 'True');
  });

  test('views are keyed by client namespace and Service port and carry protocol hints', () => {
    const { policies } = compileOutbound(snapshot({}));
    const p = policies.get('client-a|prod/web:7070');
    assert.ok(p);
    assert.equal(p.protocol, 'grpc');
    assert.deepEqual(p.clusterIPs, ['10.96.0.3']);
    assert.equal(policies.get('client-a|prod/web:80')?.protocol, 'http1');
  });
});

// --- backends -----------------------------------------------------------------------------------------

describe('outbound backends', () => {
  test('weights split traffic in proportion and weight 0 is never chosen', () => {
    const snap = snapshot({
      httpRoutes: [
        httpRoute('prod', 'w', [
          {
            backendRefs: [
              { name: 'web', port: 8080, weight: 70 },
              { name: 'web-v2', port: 80, weight: 0 },
              { name: 'web-v2', port: 80, weight: 30 },
            ],
          },
        ]),
      ],
    });
    const p = view(snap, 'client-a');
    const counts = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      const b = backendOf(decide(p, req('/'), () => i / 100));
      counts.set(b, (counts.get(b) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(counts), { 'prod/web:8080': 70, 'prod/web-v2:80': 30 });
  });

  test('pickWeighted never returns a zero-weight item even at the edges', () => {
    const items = [{ weight: 0 }, { weight: 1 }, { weight: 0 }];
    for (const r of [0, 0.5, 0.999999, 1, -1, Number.NaN]) assert.equal(pickWeighted(items, 1, () => r), items[1]);
  });

  test('all weights 0 answers 500', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'w', [{ backendRefs: [{ name: 'web-v2', port: 80, weight: 0 }] }])] });
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'error 500 BACKEND_UNRESOLVED');
  });

  test('an unresolvable backend answers 500 for its share only', () => {
    const snap = snapshot({
      httpRoutes: [httpRoute('prod', 'w', [{ backendRefs: [{ name: 'ghost', port: 80, weight: 1 }, { name: 'web-v2', port: 80, weight: 1 }] }])],
    });
    const p = view(snap, 'client-a');
    assert.equal(backendOf(decide(p, req('/'), () => 0.1)), 'error 500 BACKEND_UNRESOLVED');
    assert.equal(backendOf(decide(p, req('/'), () => 0.9)), 'prod/web-v2:80');
    const c = cond(status(snap, 'w'), 'ResolvedRefs');
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'BackendNotFound');
    assert.match(c.message ?? '', /prod\/ghost/);
  });

  test('a backend port the Service lacks is BackendNotFound', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'w', [{ backendRefs: [{ name: 'web-v2', port: 81 }] }])] });
    assert.equal(cond(status(snap, 'w'), 'ResolvedRefs').reason, 'BackendNotFound');
  });

  test('a backend that is not a Service is InvalidKind', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'w', [{ backendRefs: [{ group: 'example.com', kind: 'Bucket', name: 'b', port: 80 }] }])] });
    assert.equal(cond(status(snap, 'w'), 'ResolvedRefs').reason, 'InvalidKind');
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'error 500 BACKEND_UNRESOLVED');
  });

  const crossNs: HTTPRouteRule = { backendRefs: [{ name: 'remote', namespace: 'other', port: 80 }] };
  const grant: ReferenceGrant = {
    metadata: { name: 'allow-prod', namespace: 'other' },
    spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'prod' }], to: [{ group: '', kind: 'Service' }] },
  };

  test('a cross-namespace backend with a ReferenceGrant is allowed', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'x', [crossNs])], referenceGrants: [grant] });
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'other/remote:80');
    assert.equal(cond(status(snap, 'x'), 'ResolvedRefs').status, 'True');
  });

  test('a cross-namespace backend without a ReferenceGrant is RefNotPermitted and answers 500', () => {
    const wrongKind: ReferenceGrant = { ...grant, spec: { ...grant.spec, from: [{ group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', namespace: 'prod' }] } };
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'x', [crossNs])], referenceGrants: [wrongKind] });
    const c = cond(status(snap, 'x'), 'ResolvedRefs');
    assert.equal(c.reason, 'RefNotPermitted');
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'error 500 NOT_PERMITTED');
  });

  test('a consumer route may send to its own parent Service without a grant', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('client-a', 'c', [{ backendRefs: [{ name: 'web', namespace: 'prod', port: 80 }] }])] });
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'prod/web:80');
    assert.equal(cond(status(snap, 'c'), 'ResolvedRefs').status, 'True');
  });

  test('the grant check can be turned off', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'x', [crossNs])] });
    assert.equal(backendOf(decide(view(snap, 'client-a', 80, 'web', { referenceGrantCheck: false }), req('/'))), 'other/remote:80');
    assert.equal(cond(status(snap, 'x', { referenceGrantCheck: false }), 'ResolvedRefs').status, 'True');
  });

  test('retry compiles with the CRD defaults: attempts 1, the default backoff, no codes', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'r', [{ ...toWebV2, retry: {} }])] });
    const d = decide(view(snap, 'client-a'), req('/'));
    assert.deepEqual(d.kind === 'forward' ? d.retry : undefined, { attempts: 1, codes: [], backoffMs: 25 });
    assert.equal(cond(status(snap, 'r'), 'Accepted').status, 'True');
  });

  test('retry attempts, codes and backoff are carried through; attempts 0 is kept (it disables retries)', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'r', [{ ...toWebV2, retry: { attempts: 2, codes: [503, 502, 503], backoff: '1s500ms' } }])] });
    const d = decide(view(snap, 'client-a'), req('/'));
    assert.deepEqual(d.kind === 'forward' ? d.retry : undefined, { attempts: 2, codes: [503, 502], backoffMs: 1500 });
    const zero = snapshot({ httpRoutes: [httpRoute('prod', 'z', [{ ...toWebV2, retry: { attempts: 0 } }])] });
    const dz = decide(view(zero, 'client-a'), req('/'));
    assert.equal(dz.kind === 'forward' ? dz.retry?.attempts : undefined, 0);
  });

  test('retry.attempts has no maximum (the API sets none): 100 is Accepted and kept', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'many', [{ ...toWebV2, retry: { attempts: 100, codes: [503] } as never }])] });
    assert.equal(cond(status(snap, 'many'), 'Accepted').status, 'True');
    const d = decide(view(snap, 'client-a'), req('/'));
    assert.ok(d.kind === 'forward');
    assert.equal(d.retry?.attempts, 100);
  });

  test('a bad retry is not Accepted, names the field, and its rule answers UNSUPPORTED', () => {
    for (const [retry, words] of [
      [{ attempts: -1 }, 'retry.attempts -1'],
      [{ attempts: 1.5 }, 'retry.attempts 1.5'],
      [{ codes: [200] }, 'retry.codes: 200'],
      [{ backoff: 'soon' }, 'retry.backoff "soon"'],
      [{ perTryTimeout: '1s' }, 'retry.perTryTimeout'],
    ] as const) {
      const snap = snapshot({ httpRoutes: [httpRoute('prod', 'bad', [{ ...toWebV2, retry: retry as never }])] });
      const c = cond(status(snap, 'bad'), 'Accepted');
      assert.equal(c.status, 'False', JSON.stringify(retry));
      assert.equal(c.reason, 'UnsupportedValue');
      assert.ok((c.message ?? '').includes(words), `${String(c.message)} names ${words}`);
      assert.equal(decide(view(snap, 'client-a'), req('/')).kind, 'error');
    }
  });

  test("an XBackendTrafficPolicy's retry budget travels with every backendRef to its Service", () => {
    const snap = snapshot({
      httpRoutes: [httpRoute('prod', 'b', [{ ...toWebV2, retry: {} }])],
      backendTrafficPolicies: [{
        metadata: { name: 'budget', namespace: 'prod' },
        spec: { targetRefs: [{ group: '', kind: 'Service', name: 'web-v2' }], retryConstraint: { budget: { percent: 50 } } },
      }],
    });
    const d = decide(view(snap, 'client-a'), req('/'));
    assert.deepEqual(d.kind === 'forward' ? d.backend.retryBudget : undefined, { percent: 50, intervalMs: 10_000, minRetries: 10, minIntervalMs: 1000 });
    assert.equal(indexSnapshot(snap).backendPolicyStatuses[0]?.ancestors[0]?.conditions[0]?.status, 'True');
  });

  test("a backend Service's failure-accrual annotations travel with its backendRefs; bad ones apply nothing", () => {
    const annotated = (annotations: Record<string, string>) => SERVICES.map((s) => (s.metadata.name === 'web-v2' ? { ...s, metadata: { ...s.metadata, annotations } } : s));
    const on = snapshot({ services: annotated({ 'config.weft.dev/failure-accrual': 'consecutive', 'config.weft.dev/failure-accrual-max-failures': '4' }), httpRoutes: [httpRoute('prod', 'fa', [toWebV2])] });
    const d = decide(view(on, 'client-a'), req('/'));
    assert.deepEqual(d.kind === 'forward' ? d.backend.failureAccrual : undefined, { maxFailures: 4, minPenaltyMs: 1000, maxPenaltyMs: 60_000 });
    const bad = snapshot({ services: annotated({ 'config.weft.dev/failure-accrual': 'always' }), httpRoutes: [httpRoute('prod', 'fa', [toWebV2])] });
    const db = decide(view(bad, 'client-a'), req('/'));
    assert.equal(db.kind === 'forward' ? db.backend.failureAccrual : 'not forwarded', undefined);
  });

  test('timeouts are carried through in milliseconds', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 't', [{ ...toWebV2, timeouts: { request: '1m30s', backendRequest: '500ms' } }])] });
    const d = decide(view(snap, 'client-a'), req('/'));
    assert.deepEqual(d.kind === 'forward' ? d.timeouts : undefined, { requestMs: 90_000, backendRequestMs: 500 });
  });
});

// --- filters --------------------------------------------------------------------------------------------

function forward(rules: readonly HTTPRouteRule[], r: RequestInfo, port = 80): Extract<OutboundDecision, { kind: 'forward' }> {
  const d = decide(view(snapshot({ httpRoutes: [httpRoute('prod', 'f', rules, [{ group: '', kind: 'Service', name: 'web' }])] }), 'client-a', port), r);
  assert.equal(d.kind, 'forward', JSON.stringify(d));
  return d as Extract<OutboundDecision, { kind: 'forward' }>;
}

function redirect(filter: Record<string, unknown>, target: string, port = 80, match = '/'): string {
  const rules: HTTPRouteRule[] = [{ matches: [{ path: { type: 'PathPrefix', value: match } }], filters: [{ type: 'RequestRedirect', requestRedirect: filter }] }];
  const snap = snapshot({ httpRoutes: [httpRoute('prod', 'rd', rules, [{ group: '', kind: 'Service', name: 'web' }])] });
  const d = decide(view(snap, 'client-a', port), req(target));
  assert.equal(d.kind, 'redirect', JSON.stringify(d));
  return (d as Extract<OutboundDecision, { kind: 'redirect' }>).location;
}

describe('outbound filters', () => {
  test('RequestHeaderModifier set replaces, add appends, remove drops; names case-insensitive', () => {
    const d = forward(
      [
        {
          ...toWebV2,
          filters: [
            {
              type: 'RequestHeaderModifier',
              requestHeaderModifier: { set: [{ name: 'X-Set', value: 'new' }], add: [{ name: 'X-Add', value: 'two' }], remove: ['X-Gone'] },
            },
          ],
        },
      ],
      req('/', [['x-set', 'old'], ['x-set', 'older'], ['X-ADD', 'one'], ['x-gone', 'v']]),
    );
    const h = applyHeaderOps(new Map([['x-set', ['old', 'older']], ['x-add', ['one']], ['x-gone', ['v']]]), d.requestHeaderOps);
    assert.deepEqual(Object.fromEntries(h), { 'x-set': ['new'], 'x-add': ['one', 'two'] });
  });

  test('ResponseHeaderModifier ops are returned for the response', () => {
    const d = forward([{ ...toWebV2, filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { add: [{ name: 'X-R', value: '1' }] } }] }], req('/'));
    assert.deepEqual(Object.fromEntries(applyHeaderOps(new Map([['x-r', ['0']]]), d.responseHeaderOps)), { 'x-r': ['0', '1'] });
  });

  test('backend-level filters apply after rule-level ones', () => {
    const d = forward(
      [
        {
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: 'rule' }] } }],
          backendRefs: [{ name: 'web-v2', port: 80, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { add: [{ name: 'x', value: 'backend' }] } }] }],
        },
      ],
      req('/'),
    );
    assert.deepEqual(applyHeaderOps(new Map(), d.requestHeaderOps).get('x'), ['rule', 'backend']);
  });

  test('RequestMirror names the mirror Service and fraction', () => {
    const d = forward([{ ...toWebV2, filters: [{ type: 'RequestMirror', requestMirror: { backendRef: { name: 'web', port: 8080 }, percent: 25 } }] }], req('/'));
    assert.deepEqual(d.mirrors, [{ target: { kind: 'service', namespace: 'prod', name: 'web', port: 8080 }, numerator: 25, denominator: 100 }]);
  });

  test('URLRewrite ReplacePrefixMatch replaces the matched prefix per segment', () => {
    const rule: HTTPRouteRule = {
      ...toWebV2,
      matches: [{ path: { type: 'PathPrefix', value: '/prefix/one' } }],
      filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/one' } } }],
    };
    const d = forward([rule], req('/prefix/one/two?q=1'));
    assert.equal(d.path, '/one/two');
    assert.equal(d.pathRewritten, true);
  });

  const prefixCases: readonly [string, string, string, string][] = [
    ['/foo', '/xyz', '/foo/bar', '/xyz/bar'],
    ['/foo', '/xyz/', '/foo/bar', '/xyz/bar'],
    ['/foo', '/xyz', '/foo', '/xyz'],
    ['/foo', '/xyz', '/foo/', '/xyz/'],
    ['/foo', '/', '/foo', '/'],
    ['/foo', '/', '/foo/', '/'],
    ['/foo', '/', '/foo/bar', '/bar'],
    ['/', '/xyz', '/bar', '/xyz/bar'],
  ];
  for (const [prefix, replacement, path, expected] of prefixCases) {
    test(`ReplacePrefixMatch ${prefix} -> ${replacement} turns ${path} into ${expected}`, () => {
      assert.equal(replacePrefix(path, prefix, replacement), expected);
    });
  }

  test('URLRewrite ReplaceFullPath and hostname replace path and authority', () => {
    const d = forward(
      [{ ...toWebV2, filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'Rewritten.Example', path: { type: 'ReplaceFullPath', replaceFullPath: '/one' } } }] }],
      req('/full/one/two'),
    );
    assert.equal(d.path, '/one');
    assert.equal(d.authority, 'rewritten.example');
    assert.equal(d.hostRewritten, true);
  });

  test('ReplacePrefixMatch on a rule whose match is not a PathPrefix is not Accepted', () => {
    const snap = snapshot({
      httpRoutes: [httpRoute('prod', 'bad', [{ ...toWebV2, matches: [{ path: { type: 'Exact', value: '/a' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/b' } } }] }])],
    });
    assert.equal(cond(status(snap, 'bad'), 'Accepted').reason, 'UnsupportedValue');
  });
});

describe('redirect Location composition', () => {
  const cases: readonly [string, Record<string, unknown>, string, number, string][] = [
    ['defaults keep scheme, host and path; port 80 omitted', {}, '/a?x=1', 80, 'http://web.prod/a?x=1'],
    ['the dialled Service port is kept when not the default', {}, '/a', 8080, 'http://web.prod:8080/a'],
    ['hostname replaces the host', { hostname: 'example.org' }, '/a', 80, 'http://example.org/a'],
    ['an explicit port is written', { port: 8083 }, '/a', 80, 'http://web.prod:8083/a'],
    ['scheme https without port uses 443, omitted', { scheme: 'https' }, '/a', 8080, 'https://web.prod/a'],
    ['scheme https with port 443 omits it', { scheme: 'https', port: 443 }, '/a', 80, 'https://web.prod/a'],
    ['scheme http with port 443 writes it', { scheme: 'http', port: 443 }, '/a', 80, 'http://web.prod:443/a'],
    ['ReplaceFullPath replaces the path', { path: { type: 'ReplaceFullPath', replaceFullPath: '/full' } }, '/a/b', 80, 'http://web.prod/full'],
  ];
  for (const [rule, filter, target, port, expected] of cases) {
    test(rule, () => assert.equal(redirect(filter, target, port), expected));
  }

  test('ReplacePrefixMatch in a redirect replaces the matched prefix', () => {
    assert.equal(
      redirect({ path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/replacement-prefix' }, statusCode: 301 }, '/original-prefix/lemon', 80, '/original-prefix'),
      'http://web.prod/replacement-prefix/lemon',
    );
  });

  test('the redirect status defaults to 302 and follows statusCode', () => {
    const snap = (code?: number): OutboundDecision =>
      decide(
        view(snapshot({ httpRoutes: [httpRoute('prod', 's', [{ filters: [{ type: 'RequestRedirect', requestRedirect: code === undefined ? {} : { statusCode: code } }] }])] }), 'client-a'),
        req('/'),
      );
    assert.equal((snap() as { status: number }).status, 302);
    assert.equal((snap(308) as { status: number }).status, 308);
  });
});

// --- fault injection (ExtensionRef FaultInjection) ---------------------------------------------------

describe('fault injection filters', () => {
  const faultRef = (name: string) => ({ type: 'ExtensionRef', extensionRef: { group: 'policy.weft.dev', kind: 'FaultInjection', name } });
  const fault = (name: string, spec: Record<string, unknown>) => ({ metadata: { name, namespace: 'prod' }, spec });
  const withFaults = (rule: HTTPRouteRule, ...faults: ReturnType<typeof fault>[]) =>
    snapshot({ httpRoutes: [httpRoute('prod', 'f', [rule])], faultInjections: faults });

  test('a rule-level ExtensionRef to a FaultInjection aborts its share with the configured status', () => {
    const snap = withFaults({ ...toWebV2, filters: [faultRef('half')] }, fault('half', { abort: { httpStatus: 503, percentage: 50 } }));
    assert.equal(cond(status(snap, 'f'), 'Accepted').status, 'True');
    const v = view(snap, 'client-a');
    const aborted = routeOutbound(v, req('/'), () => 0, { faultRand: () => 0.4 });
    assert.equal(aborted.kind, 'abort');
    assert.equal(aborted.kind === 'abort' && aborted.status, 503);
    assert.equal(aborted.kind === 'abort' && aborted.fault, 'prod/half');
    const sent = routeOutbound(v, req('/'), () => 0, { faultRand: () => 0.6 });
    assert.equal(sent.kind, 'forward');
    assert.equal(sent.kind === 'forward' && sent.delayMs, undefined);
  });

  test('a backendRef-level FaultInjection delays the requests that go to that backend only', () => {
    const rule: HTTPRouteRule = { backendRefs: [{ name: 'web-v2', port: 80, weight: 1, filters: [faultRef('slow')] }, { name: 'web', port: 80, weight: 1 }] };
    const snap = withFaults(rule, fault('slow', { delay: { duration: '250ms', percentage: 100 } }));
    const v = view(snap, 'client-a');
    const toV2 = routeOutbound(v, req('/'), () => 0.1);
    const toWeb = routeOutbound(v, req('/'), () => 0.9);
    assert.equal(toV2.kind === 'forward' && `${toV2.backend.name} ${String(toV2.delayMs)}`, 'web-v2 250');
    assert.equal(toWeb.kind === 'forward' && `${toWeb.backend.name} ${String(toWeb.delayMs)}`, 'web undefined');
  });

  test('an ExtensionRef to a missing FaultInjection makes the route not Accepted, naming it, and its rule answer 500', () => {
    const snap = withFaults({ ...toWebV2, filters: [faultRef('gone')] });
    const c = cond(status(snap, 'f'), 'Accepted');
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'UnsupportedValue');
    assert.match(c.message ?? '', /FaultInjection prod\/gone does not exist/);
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'error 500 UNSUPPORTED');
  });

  test('an ExtensionRef of a kind Weft does not know, or to an invalid FaultInjection, is named in the status', () => {
    const unknown = withFaults({ ...toWebV2, filters: [{ type: 'ExtensionRef', extensionRef: { group: 'policy.weft.dev', kind: 'RateLimit', name: 'x' } }] });
    assert.match(cond(status(unknown, 'f'), 'Accepted').message ?? '', /no filter kind "RateLimit".*FaultInjection in policy.weft.dev/);
    const invalid = withFaults({ ...toWebV2, filters: [faultRef('bad')] }, fault('bad', { abort: { httpStatus: 700, percentage: 10 } }));
    const c = cond(status(invalid, 'f'), 'Accepted');
    assert.equal(c.status, 'False');
    assert.match(c.message ?? '', /FaultInjection prod\/bad is invalid: spec.abort.httpStatus 700/);
  });

  test('a FaultInjection in another namespace does not resolve (ExtensionRef is a local reference)', () => {
    const snap = snapshot({
      httpRoutes: [httpRoute('prod', 'f', [{ ...toWebV2, filters: [faultRef('elsewhere')] }])],
      faultInjections: [{ metadata: { name: 'elsewhere', namespace: 'other' }, spec: { abort: { httpStatus: 500, percentage: 100 } } }],
    });
    assert.match(cond(status(snap, 'f'), 'Accepted').message ?? '', /FaultInjection prod\/elsewhere does not exist/);
  });

  test('GRPCRoute ExtensionRef filters are refused by name', () => {
    const g: GRPCRoute = {
      metadata: { name: 'g', namespace: 'prod', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 7070 }], rules: [{ filters: [faultRef('x')], backendRefs: [{ name: 'web-v2', port: 80 }] }] },
    };
    const snap = snapshot({ grpcRoutes: [g], faultInjections: [fault('x', { abort: { httpStatus: 503, percentage: 10 } })] });
    assert.match(cond(status(snap, 'g'), 'Accepted').message ?? '', /apply to HTTPRoutes only/);
  });
});

// --- what Weft does not support ---------------------------------------------------------------------

describe('unsupported input fails closed with status', () => {
  for (const filter of [
    { type: 'ExtensionRef', extensionRef: { group: 'example.com', kind: 'Auth', name: 'x' } },
    { type: 'CORS', cors: { allowOrigins: ['not-an-origin'] } },
    { type: 'ExternalAuth' },
  ]) {
    test(`a ${filter.type} filter makes the route not Accepted and its rule answer 500`, () => {
      const snap = snapshot({ httpRoutes: [httpRoute('prod', 'u', [{ ...toWebV2, filters: [filter] }])] });
      const c = cond(status(snap, 'u'), 'Accepted');
      assert.equal(c.status, 'False');
      assert.equal(c.reason, 'UnsupportedValue');
      assert.match(c.message ?? '', new RegExp(filter.type));
      assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'error 500 UNSUPPORTED');
    });
  }

  test('an unknown rule field (experimental sessionPersistence) makes the rule answer 500', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'u', [{ ...toWebV2, sessionPersistence: { type: 'Cookie' } }])] });
    assert.equal(cond(status(snap, 'u'), 'Accepted').reason, 'UnsupportedValue');
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/'))), 'error 500 UNSUPPORTED');
  });

  test('an unknown rule field of a later release is named the same way', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'u', [{ ...toWebV2, someFutureField: { x: 1 } }])] });
    assert.match(cond(status(snap, 'u'), 'Accepted').message ?? '', /spec\.rules\[0\]\.someFutureField is not supported by Weft/);
  });

  test('a header value with CR/LF is refused', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'u', [{ ...toWebV2, filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x', value: 'a\r\nb: c' }] } }] }])] });
    assert.equal(cond(status(snap, 'u'), 'Accepted').status, 'False');
  });

  test('a malformed duration is refused', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 'u', [{ ...toWebV2, timeouts: { request: '10 seconds' } }])] });
    assert.equal(cond(status(snap, 'u'), 'Accepted').reason, 'UnsupportedValue');
  });

  test('a RegularExpression re2js rejects ((a)\\1) makes the route not Accepted and not in effect', () => {
    const snap = snapshot({ httpRoutes: [httpRoute('prod', 're', [{ ...toWebV2, matches: [{ path: { type: 'RegularExpression', value: '(a)\\1' } }] }])] });
    const c = cond(status(snap, 're'), 'Accepted');
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'UnsupportedValue');
    assert.match(c.message ?? '', /RE2 cannot compile/);
    assert.equal(view(snap, 'client-a').routes, 'none');
  });
});

describe('route status', () => {
  test('one parent entry per Service parentRef with controllerName and observedGeneration', () => {
    const snap = snapshot({
      httpRoutes: [
        httpRoute('prod', 's', [toWebV2], [
          { group: '', kind: 'Service', name: 'web', port: 80 },
          { group: '', kind: 'Service', name: 'web-v2' },
          { name: 'some-gateway' },
        ]),
      ],
    });
    const s = status(snap, 's');
    assert.equal(s.parents.length, 2);
    for (const p of s.parents) {
      assert.equal(p.controllerName, ROUTE_CONTROLLER_NAME);
      assert.deepEqual(p.conditions.map((c) => [c.type, c.status, c.reason, c.observedGeneration]), [
        ['Accepted', 'True', 'Accepted', 3],
        ['ResolvedRefs', 'True', 'ResolvedRefs', 3],
      ]);
    }
  });
});

// --- CORS ---------------------------------------------------------------------------------------------

describe('the CORS filter', () => {
  const cors = { type: 'CORS', cors: { allowOrigins: ['https://app.example'], allowMethods: ['GET'], exposeHeaders: ['x-total'] } };
  const snap = () => snapshot({ httpRoutes: [httpRoute('prod', 'c', [{ ...toWebV2, filters: [cors] }])] });

  test('the route is Accepted; a preflight is answered by the proxy with the allow headers, never forwarded', () => {
    const s = snap();
    assert.equal(cond(status(s, 'c'), 'Accepted').status, 'True');
    const d = decide(view(s, 'client-a'), req('/x', [['origin', 'https://app.example'], ['access-control-request-method', 'GET']], 'OPTIONS'));
    assert.equal(d.kind, 'preflight');
    if (d.kind !== 'preflight') return;
    assert.equal(d.status, 204);
    const headers = applyHeaderOps(new Map(), d.responseHeaderOps);
    assert.deepEqual(headers.get('access-control-allow-origin'), ['https://app.example']);
    assert.deepEqual(headers.get('access-control-allow-methods'), ['GET']);
  });

  test('an actual request from an allowed origin is forwarded with the allow headers on its response; others untouched', () => {
    const s = snap();
    const d = decide(view(s, 'client-a'), req('/x', [['origin', 'https://app.example']]));
    assert.equal(backendOf(d), 'prod/web-v2:80');
    assert.ok(d.kind === 'forward');
    const headers = applyHeaderOps(new Map(), d.responseHeaderOps);
    assert.deepEqual(headers.get('access-control-allow-origin'), ['https://app.example']);
    assert.deepEqual(headers.get('access-control-expose-headers'), ['x-total']);
    const other = decide(view(s, 'client-a'), req('/x', [['origin', 'https://evil.example']]));
    assert.ok(other.kind === 'forward');
    assert.deepEqual(other.responseHeaderOps, []);
  });
});

// --- ExternalName backends ----------------------------------------------------------------------------

describe('outbound ExternalName backends', () => {
  test('a backendRef to an ExternalName Service forwards to it with its DNS name, ResolvedRefs True; without a name it is BackendNotFound', () => {
    const ext: Service = { metadata: { namespace: 'prod', name: 'legacy' }, spec: { type: 'ExternalName', externalName: 'legacy.example.com' } };
    const nameless: Service = { metadata: { namespace: 'prod', name: 'nameless' }, spec: { type: 'ExternalName' } };
    const snap = snapshot({
      services: [...SERVICES, ext, nameless],
      httpRoutes: [
        httpRoute('prod', 'to-legacy', [{ matches: [{ path: { value: '/legacy' } }], backendRefs: [{ name: 'legacy', port: 8443 }] }]),
        httpRoute('prod', 'to-nameless', [{ matches: [{ path: { value: '/nameless' } }], backendRefs: [{ name: 'nameless', port: 80 }] }]),
      ],
    });
    const d = decide(view(snap, 'client-a'), req('/legacy'));
    assert.equal(d.kind, 'forward');
    assert.ok(d.kind === 'forward');
    assert.deepEqual({ ns: d.backend.namespace, name: d.backend.name, port: d.backend.port, ext: d.backend.externalName }, { ns: 'prod', name: 'legacy', port: 8443, ext: 'legacy.example.com' });
    assert.equal(cond(status(snap, 'to-legacy'), 'ResolvedRefs').status, 'True');
    assert.equal(backendOf(decide(view(snap, 'client-a'), req('/nameless'))), 'error 500 BACKEND_UNRESOLVED');
    const c = cond(status(snap, 'to-nameless'), 'ResolvedRefs');
    assert.equal(c.status, 'False');
    assert.equal(c.reason, 'BackendNotFound');
  });
});
