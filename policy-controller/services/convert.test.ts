/**
 * Domain -> wire conversion (convert.ts). Every case builds a domain value by hand, converts it, and
 * asserts on what a proxy would decode: each message goes through the generated encoder and decoder
 * (`wire()`), so a field the codec drops or a oneof left unset shows up here.
 *
 * Fail-closed marking (api/README.md, "Unknown features fail closed"): the controller never omits what
 * it cannot express; it sends `weft.common.v1.Unsupported` in its place. Covered: a filter Weft does
 * not implement, a rule marked unsupported, a gRPC method match mixing Exact and RegularExpression,
 * HTTPRoutes and GRPCRoutes selected together for one Service port, an AuthorizationPolicy that cannot
 * be enforced. (The domain model has no unsupported path, header, query or backend kind: those
 * produce errors or 500 `failure` backends earlier, so convert.ts has no Unsupported case for them.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolHint as WireHint } from '../../api/gen/weft/common/v1/common.js';
import { Endpoints } from '../../api/gen/weft/discovery/v1/discovery.js';
import { PortPolicy, TargetKind } from '../../api/gen/weft/inbound/v1/inbound.js';
import { DestinationPolicy } from '../../api/gen/weft/outbound/v1/outbound.js';
import { Backend, GrpcRoute, HttpRoute } from '../../api/gen/weft/route/v1/route.js';
import { compileNetworks } from '../../core/cidr.js';
import type { NetworkSet } from '../../core/cidr.js';
import type { CompiledAuthorization, InboundPortPolicy, InboundRoute } from '../../core/inbound/types.js';
import type { DefaultInboundPolicy, ProxyProtocol } from '../../core/kube-policy.js';
import type { OutboundPolicy, ProtocolHint } from '../../core/outbound/policy.js';
import { compileRegex, type CompiledRegex } from '../../core/regex.js';
import { buildRouteTable } from '../../core/routes/match.js';
import type { CompiledFilter, CompiledMatch, CompiledRoute, CompiledRule } from '../../core/routes/types.js';
import {
  backend,
  defaultAuthorizations,
  DEFAULT_CONVERT_OPTIONS,
  destinationPolicy,
  endpoints,
  grpcRoute,
  httpRoute,
  portPolicy,
  type ConvertOptions,
} from './convert.js';

const OPTS: ConvertOptions = { clusterDomain: 'corp.example', detectTimeoutMs: 2500 };

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** Encodes with the generated codec and decodes the bytes again: what the proxy sees. */
function wire<T>(codec: Codec<T>, msg: T): T {
  return codec.decode(codec.encode(msg).finish());
}

function re(source: string): CompiledRegex {
  const r = compileRegex(source);
  if (!r.ok) throw new Error(r.reason);
  return r.regex;
}

function nets(specs: { cidr: string; except?: string[] }[]): NetworkSet {
  const r = compileNetworks(specs);
  if (!r.ok) throw new Error(r.reason);
  return r.networks;
}

const anyPath: CompiledMatch = { path: { kind: 'prefix', value: '/', withSlash: '/' }, headers: [], query: [] };

function rule(over: Partial<CompiledRule> = {}): CompiledRule {
  return { index: 0, matches: [anyPath], filters: [], backends: [], totalWeight: 0, timeouts: {}, ...over };
}

function route(over: Partial<CompiledRoute> & { name: string }): CompiledRoute {
  return { kind: 'http', namespace: 'shop', createdAt: 1000, rules: [rule()], ...over };
}

const svc = (name: string, port = 80, namespace = 'shop') => ({ kind: 'service', namespace, name, port }) as const;

function wireHttp(r: CompiledRoute): HttpRoute {
  return wire(HttpRoute, httpRoute(r, OPTS));
}

function wireGrpc(r: CompiledRoute): GrpcRoute {
  return wire(GrpcRoute, grpcRoute(r, OPTS));
}

function outbound(routes: OutboundPolicy['routes'], protocol: ProtocolHint = 'detect'): OutboundPolicy {
  return {
    key: 'client|shop/web:80',
    clientNamespace: 'client',
    service: { namespace: 'shop', name: 'web' },
    port: 80,
    clusterIPs: ['10.96.0.10'],
    protocol,
    routes,
    table: buildRouteTable(routes === 'none' ? [] : routes),
  };
}

function wireDestination(p: OutboundPolicy) {
  const m = wire(DestinationPolicy, { ...destinationPolicy({ kind: 'service', policy: p }, OPTS), version: 1 });
  assert.equal(m.destination?.$case, 'service');
  return m.destination.value;
}

describe('convert: route matches', () => {
  test('HTTP path matches keep their kind: Exact, PathPrefix and RegularExpression (by source)', () => {
    const r = wireHttp(
      route({
        name: 'paths',
        rules: [
          rule({
            matches: [
              { path: { kind: 'exact', value: '/login' }, headers: [], query: [] },
              { path: { kind: 'prefix', value: '/api', withSlash: '/api/' }, headers: [], query: [] },
              { path: { kind: 'regex', regex: re('/items/[0-9]+') }, headers: [], query: [] },
            ],
          }),
        ],
      }),
    );
    assert.deepEqual(
      r.rules[0]!.matches.map((m) => m.path?.kind),
      [
        { $case: 'exact', value: '/login' },
        { $case: 'prefix', value: '/api' },
        { $case: 'regex', value: '/items/[0-9]+' },
      ],
    );
  });

  test('header and query matches keep name, kind and value; the method is carried; no method is ""', () => {
    const r = wireHttp(
      route({
        name: 'hq',
        rules: [
          rule({
            matches: [
              {
                path: { kind: 'prefix', value: '/', withSlash: '/' },
                method: 'POST',
                headers: [
                  { name: 'x-env', matcher: { kind: 'exact', value: 'canary' } },
                  { name: 'x-user', matcher: { kind: 'regex', regex: re('u-[a-z]+') } },
                ],
                query: [
                  { name: 'Debug', matcher: { kind: 'exact', value: '1' } },
                  { name: 'q', matcher: { kind: 'regex', regex: re('.*x') } },
                ],
              },
              anyPath,
            ],
          }),
        ],
      }),
    );
    const [m0, m1] = r.rules[0]!.matches;
    assert.equal(m0!.method, 'POST');
    assert.deepEqual(m0!.headers, [
      { name: 'x-env', value: { $case: 'exact', value: 'canary' } },
      { name: 'x-user', value: { $case: 'regex', value: 'u-[a-z]+' } },
    ]);
    assert.deepEqual(m0!.queryParams, [
      { name: 'Debug', value: { $case: 'exact', value: '1' } },
      { name: 'q', value: { $case: 'regex', value: '.*x' } },
    ]);
    assert.equal(m1!.method, '');
    assert.deepEqual(m1!.headers, []);
  });

  test('gRPC method matches: Exact, RegularExpression, service only, and "any method" (no method match)', () => {
    const r = wireGrpc(
      route({
        name: 'g',
        kind: 'grpc',
        rules: [
          rule({
            matches: [
              { headers: [], query: [], grpc: { service: { kind: 'exact', value: 'shop.Cart' }, method: { kind: 'exact', value: 'Add' } } },
              { headers: [], query: [], grpc: { service: { kind: 'regex', regex: re('shop\\..*') }, method: { kind: 'regex', regex: re('Get.*') } } },
              { headers: [], query: [], grpc: { service: { kind: 'exact', value: 'shop.Cart' } } },
              { headers: [{ name: 'x-tenant', matcher: { kind: 'exact', value: 'a' } }], query: [], grpc: {} },
            ],
          }),
        ],
      }),
    );
    const m = r.rules[0]!.matches;
    assert.deepEqual(m[0]!.method?.kind, { $case: 'exact', value: { service: 'shop.Cart', method: 'Add' } });
    assert.deepEqual(m[1]!.method?.kind, { $case: 'regex', value: { service: 'shop\\..*', method: 'Get.*' } });
    assert.deepEqual(m[2]!.method?.kind, { $case: 'exact', value: { service: 'shop.Cart', method: '' } });
    assert.equal(m[3]!.method, undefined, 'a match with no service and no method carries no method match');
    assert.deepEqual(m[3]!.headers, [{ name: 'x-tenant', value: { $case: 'exact', value: 'a' } }]);
  });

  test('a gRPC method match mixing Exact and RegularExpression is sent as Unsupported, not guessed', () => {
    const r = wireGrpc(
      route({
        name: 'mixed',
        kind: 'grpc',
        rules: [rule({ matches: [{ headers: [], query: [], grpc: { service: { kind: 'exact', value: 'shop.Cart' }, method: { kind: 'regex', regex: re('Get.*') } } }] })],
      }),
    );
    const kind = r.rules[0]!.matches[0]!.method?.kind;
    assert.equal(kind?.$case, 'unsupported');
    assert.equal(kind.value.kind, 'GRPCRoute method match');
    assert.match(kind.value.reason, /Exact and RegularExpression/);
  });
});

describe('convert: filters', () => {
  const headerOps = { set: [['x-a', '1']] as const, add: [['x-b', '2'], ['x-b', '3']] as const, remove: ['x-c'] };
  const filters: CompiledFilter[] = [
    { kind: 'requestHeaders', ops: headerOps },
    { kind: 'responseHeaders', ops: { set: [], add: [['x-served-by', 'weft']], remove: [] } },
    { kind: 'redirect', scheme: 'https', hostname: 'new.example', port: 8443, statusCode: 301, path: { kind: 'full', value: '/moved' } },
    { kind: 'redirect', statusCode: 302, path: { kind: 'prefix', value: '/v2' } },
    { kind: 'redirect', statusCode: 302 },
    { kind: 'rewrite', hostname: 'internal', path: { kind: 'prefix', value: '/' } },
    { kind: 'rewrite', path: { kind: 'full', value: '/index.html' } },
    { kind: 'mirror', target: svc('shadow', 8080), numerator: 1, denominator: 10 },
    { kind: 'mirror', target: { kind: 'error', status: 500, reason: 'RefNotPermitted', message: 'no ReferenceGrant' }, numerator: 100, denominator: 100 },
  ];

  test('a FaultInjection filter keeps its name, abort and delay on the wire', () => {
    const r = wireHttp(route({ name: 'f', rules: [rule({ filters: [{ kind: 'fault', fault: { ref: 'shop/chaos', abort: { status: 503, percentage: 10 }, delay: { ms: 1500, percentage: 20 } } }] })] }));
    assert.deepEqual(r.rules[0]!.filters[0]!.kind, {
      $case: 'faultInjection',
      value: { name: 'shop/chaos', abort: { httpStatus: 503, percentage: 10 }, delay: { duration: { seconds: 1, nanos: 500_000_000 }, percentage: 20 } },
    });
  });

  test('every implemented filter kind keeps its parameters on the wire', () => {
    const r = wireHttp(route({ name: 'f', rules: [rule({ filters })] }));
    const got = r.rules[0]!.filters.map((f) => f.kind);
    assert.deepEqual(got, [
      { $case: 'requestHeaderModifier', value: { set: [{ name: 'x-a', value: '1' }], add: [{ name: 'x-b', value: '2' }, { name: 'x-b', value: '3' }], remove: ['x-c'] } },
      { $case: 'responseHeaderModifier', value: { set: [], add: [{ name: 'x-served-by', value: 'weft' }], remove: [] } },
      { $case: 'requestRedirect', value: { scheme: 'https', hostname: 'new.example', port: 8443, statusCode: 301, path: { kind: { $case: 'replaceFullPath', value: '/moved' } } } },
      { $case: 'requestRedirect', value: { scheme: '', hostname: '', port: 0, statusCode: 302, path: { kind: { $case: 'replacePrefixMatch', value: '/v2' } } } },
      { $case: 'requestRedirect', value: { scheme: '', hostname: '', port: 0, statusCode: 302, path: undefined } },
      { $case: 'urlRewrite', value: { hostname: 'internal', path: { kind: { $case: 'replacePrefixMatch', value: '/' } } } },
      { $case: 'urlRewrite', value: { hostname: '', path: { kind: { $case: 'replaceFullPath', value: '/index.html' } } } },
      {
        $case: 'requestMirror',
        value: {
          backend: { name: 'shop/shadow:8080', kind: { $case: 'service', value: { namespace: 'shop', name: 'shadow', port: 8080, authority: 'shadow.shop.svc.corp.example:8080', retryBudget: undefined, failureAccrual: undefined } } },
          numerator: 1,
          denominator: 10,
        },
      },
      {
        $case: 'requestMirror',
        value: {
          backend: { name: 'RefNotPermitted', kind: { $case: 'failure', value: { status: 500, reason: 'RefNotPermitted', message: 'no ReferenceGrant' } } },
          numerator: 100,
          denominator: 100,
        },
      },
    ]);
  });

  test('a filter Weft does not implement is sent as Unsupported in its place (same position), naming the type', () => {
    const r = wireHttp(
      route({ name: 'ext', rules: [rule({ filters: [filters[0]!, { kind: 'unsupported', type: 'ExtensionRef' }, filters[1]!], unsupported: 'filter ExtensionRef' })] }),
    );
    const f = r.rules[0]!.filters;
    assert.equal(f.length, 3, 'the unsupported rule keeps one Unsupported filter, not two');
    assert.equal(f[0]!.kind?.$case, 'requestHeaderModifier');
    assert.deepEqual(f[1]!.kind, { $case: 'unsupported', value: { kind: 'HTTPRoute filter ExtensionRef', reason: 'not implemented by weft' } });
    assert.equal(f[2]!.kind?.$case, 'responseHeaderModifier');
  });

  test('a rule marked unsupported without an unsupported filter gets an Unsupported filter naming the rule and the reason', () => {
    const r = wireGrpc(
      route({
        name: 'odd',
        kind: 'grpc',
        rules: [
          rule({ index: 0, name: 'named', matches: [{ headers: [], query: [], grpc: {} }], unsupported: 'field sessionPersistence' }),
          rule({ index: 1, matches: [{ headers: [], query: [], grpc: {} }], unsupported: 'field retry' }),
          rule({ index: 2, matches: [{ headers: [], query: [], grpc: {} }] }),
        ],
      }),
    );
    assert.deepEqual(r.rules[0]!.filters, [{ kind: { $case: 'unsupported', value: { kind: 'GRPCRoute rule named', reason: 'field sessionPersistence' } } }]);
    assert.deepEqual(r.rules[1]!.filters, [{ kind: { $case: 'unsupported', value: { kind: 'GRPCRoute rule 1', reason: 'field retry' } } }]);
    assert.deepEqual(r.rules[2]!.filters, [], 'a supported rule carries no Unsupported filter');
  });
});

describe('convert: backends and timeouts', () => {
  test('a Service backend carries its authority in the configured cluster domain; an error backend is a 500 failure', () => {
    const ok = wire(Backend, backend(svc('web', 8080, 'pay'), OPTS));
    assert.deepEqual(ok, { name: 'pay/web:8080', kind: { $case: 'service', value: { namespace: 'pay', name: 'web', port: 8080, authority: 'web.pay.svc.corp.example:8080', retryBudget: undefined, failureAccrual: undefined } } });
    const budgeted = wire(Backend, backend({ ...svc('web'), retryBudget: { percent: 40, intervalMs: 5000, minRetries: 3, minIntervalMs: 2000 } }, OPTS));
    assert.deepEqual(budgeted.kind?.$case === 'service' ? budgeted.kind.value.retryBudget : undefined, {
      percent: 40, interval: { seconds: 5, nanos: 0 }, minRetries: 3, minInterval: { seconds: 2, nanos: 0 },
    });
    const def = wire(Backend, backend(svc('web'), DEFAULT_CONVERT_OPTIONS));
    assert.equal(def.kind?.$case === 'service' ? def.kind.value.authority : '', 'web.shop.svc.cluster.local:80');
    for (const reason of ['BackendNotFound', 'RefNotPermitted', 'InvalidKind'] as const) {
      const bad = wire(Backend, backend({ kind: 'error', status: 500, reason, message: `why ${reason}` }, OPTS));
      assert.deepEqual(bad, { name: reason, kind: { $case: 'failure', value: { status: 500, reason, message: `why ${reason}` } } });
    }
  });

  test('an ExternalName Service backend is sent as externalName: its Service port and its DNS name', () => {
    const ext = wire(Backend, backend({ ...svc('legacy', 8443, 'pay'), externalName: 'legacy.example.com' }, OPTS));
    assert.deepEqual(ext, {
      name: 'pay/legacy:8443',
      kind: {
        $case: 'externalName',
        value: { externalName: 'legacy.example.com', service: { namespace: 'pay', name: 'legacy', port: 8443, authority: 'legacy.pay.svc.corp.example:8443', retryBudget: undefined, failureAccrual: undefined } },
      },
    });
  });

  test('weighted backends keep weight, order and their own filters', () => {
    const r = wireHttp(
      route({
        name: 'split',
        rules: [
          rule({
            backends: [
              { weight: 90, target: svc('web'), filters: [] },
              { weight: 10, target: svc('web-v2'), filters: [{ kind: 'requestHeaders', ops: { set: [['x-canary', 'yes']], add: [], remove: [] } }, { kind: 'unsupported', type: 'CORS' }] },
              { weight: 0, target: { kind: 'error', status: 500, reason: 'BackendNotFound', message: 'Service shop/gone not found' }, filters: [] },
            ],
            totalWeight: 100,
          }),
        ],
      }),
    );
    const b = r.rules[0]!.backends;
    assert.deepEqual(b.map((x) => [x.backend?.name, x.weight]), [['shop/web:80', 90], ['shop/web-v2:80', 10], ['BackendNotFound', 0]]);
    assert.deepEqual(b[1]!.filters.map((f) => f.kind?.$case), ['requestHeaderModifier', 'unsupported']);
    assert.deepEqual(b[1]!.filters[1]!.kind, { $case: 'unsupported', value: { kind: 'HTTPRoute filter CORS', reason: 'not implemented by weft' } });
    assert.equal(b[2]!.backend?.kind?.$case, 'failure');
  });

  test('timeouts become Durations (seconds + nanos); absent timeouts are absent, not zero', () => {
    const r = wireHttp(
      route({
        name: 't',
        rules: [rule({ index: 0, timeouts: { requestMs: 1500, backendRequestMs: 250 } }), rule({ index: 1, timeouts: { backendRequestMs: 3000 } }), rule({ index: 2 })],
      }),
    );
    assert.deepEqual(r.rules[0]!.timeouts, { request: { seconds: 1, nanos: 500_000_000 }, backendRequest: { seconds: 0, nanos: 250_000_000 } });
    assert.deepEqual(r.rules[1]!.timeouts, { request: undefined, backendRequest: { seconds: 3, nanos: 0 } });
    assert.equal(r.rules[2]!.timeouts, undefined);
  });

  test('a rule retry travels with attempts, codes and backoff; a rule without one has none', () => {
    const r = wireHttp(route({ name: 'r', rules: [rule({ index: 0, retry: { attempts: 0, codes: [503], backoffMs: 1500 } }), rule({ index: 1 })] }));
    assert.deepEqual(r.rules[0]!.retry, { attempts: 0, codes: [503], backoff: { seconds: 1, nanos: 500_000_000 } });
    assert.equal(r.rules[1]!.retry, undefined);
  });

    test('route meta names the Gateway API kind; a rule keeps its name ("" when unnamed)', () => {
    const h = wireHttp(route({ name: 'h', rules: [rule({ name: 'first' }), rule({ index: 1 })] }));
    assert.deepEqual(h.meta, { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'shop', name: 'h' });
    assert.deepEqual(h.rules.map((x) => x.name), ['first', '']);
    const g = wireGrpc(route({ name: 'g', kind: 'grpc', namespace: 'pay', rules: [rule({ matches: [{ headers: [], query: [], grpc: {} }] })] }));
    assert.deepEqual(g.meta, { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', namespace: 'pay', name: 'g' });
  });
});

describe('convert: outbound destinations', () => {
  test('a Service port without routes is passthrough, with the Service and its authority', () => {
    const d = wireDestination(outbound('none', 'http1'));
    assert.deepEqual(d.service, { namespace: 'shop', name: 'web', port: 80, authority: 'web.shop.svc.corp.example:80', retryBudget: undefined, failureAccrual: undefined });
    assert.equal(d.protocol, WireHint.HTTP1);
    assert.deepEqual(d.routes, { $case: 'passthrough', value: {} });
  });

  test('every protocol hint maps to its wire value; detect is UNSPECIFIED', () => {
    const cases: [ProtocolHint, string][] = [
      ['http1', WireHint.HTTP1],
      ['http2', WireHint.HTTP2],
      ['grpc', WireHint.GRPC],
      ['opaque', WireHint.OPAQUE],
      ['detect', WireHint.UNSPECIFIED],
    ];
    for (const [hint, want] of cases) assert.equal(wireDestination(outbound('none', hint)).protocol, want, hint);
  });

  test('HTTP routes are listed oldest first, then by namespace/name', () => {
    const routes = [
      route({ name: 'b', createdAt: 2000 }),
      route({ name: 'z', namespace: 'client', createdAt: 1000 }),
      route({ name: 'a', namespace: 'shop', createdAt: 2000 }),
      route({ name: 'never', createdAt: Number.POSITIVE_INFINITY }),
      route({ name: 'a', namespace: 'client', createdAt: 1000 }),
    ];
    const d = wireDestination(outbound(routes));
    assert.equal(d.routes?.$case, 'http');
    assert.deepEqual(
      d.routes.value.routes.map((r) => `${r.meta?.namespace}/${r.meta?.name}`),
      ['client/a', 'client/z', 'shop/a', 'shop/b', 'shop/never'],
    );
  });

  test('GRPCRoutes are sent as grpc routes', () => {
    const d = wireDestination(outbound([route({ name: 'g', kind: 'grpc', rules: [rule({ matches: [{ headers: [], query: [], grpc: {} }] })] })], 'grpc'));
    assert.equal(d.routes?.$case, 'grpc');
    assert.deepEqual(d.routes.value.routes.map((r) => r.meta?.name), ['g']);
  });

  test('HTTPRoutes and GRPCRoutes selected together are Unsupported for the whole port (fail closed)', () => {
    const d = wireDestination(outbound([route({ name: 'h' }), route({ name: 'g', kind: 'grpc', rules: [rule({ matches: [{ headers: [], query: [], grpc: {} }] })] })]));
    assert.deepEqual(d.routes, { $case: 'unsupported', value: { kind: 'mixed route kinds', reason: 'HTTPRoutes and GRPCRoutes selected together' } });
  });

  test('a pod destination is its endpoint; an unknown destination is explicit', () => {
    const pod = wire(DestinationPolicy, {
      ...destinationPolicy(
        {
          kind: 'pod',
          endpoint: { ip: '10.244.0.7', port: 8080, ready: true, serving: true, terminating: false, pod: { namespace: 'shop', name: 'web-0' }, node: 'n1', meshed: true, identity: 'spiffe://cluster.local/ns/shop/sa/web', protocol: 'detect' },
        },
        OPTS,
      ),
      version: 3,
    });
    assert.deepEqual(pod.destination, {
      $case: 'pod',
      value: {
        ip: '10.244.0.7', port: 8080, ready: true, serving: true, terminating: false, podNamespace: 'shop', podName: 'web-0', zone: '', node: 'n1', meshed: true,
        identity: 'spiffe://cluster.local/ns/shop/sa/web', protocol: WireHint.UNSPECIFIED,
      },
    });
    const unknown = wire(DestinationPolicy, { ...destinationPolicy({ kind: 'unknown' }, OPTS), version: 1 });
    assert.deepEqual(unknown.destination, { $case: 'unknown', value: {} });
  });

  test('endpoints keep every field; an endpoint without a pod or zone sends empty strings; a missing Service says so', () => {
    const e = wire(Endpoints, {
      ...endpoints({
        serviceExists: true,
        endpoints: [
          { ip: '10.244.0.8', port: 8080, ready: false, serving: true, terminating: true, pod: { namespace: 'shop', name: 'web-1' }, zone: 'z1', node: 'n2', meshed: true, identity: 'spiffe://cluster.local/ns/shop/sa/web', protocol: 'grpc' },
          { ip: '192.168.1.5', port: 9000, ready: true, serving: true, terminating: false, meshed: false, protocol: 'opaque' },
        ],
      }),
      version: 1,
    });
    assert.equal(e.serviceExists, true);
    assert.deepEqual(e.endpoints[0], {
      ip: '10.244.0.8', port: 8080, ready: false, serving: true, terminating: true, podNamespace: 'shop', podName: 'web-1', zone: 'z1', node: 'n2', meshed: true,
      identity: 'spiffe://cluster.local/ns/shop/sa/web', protocol: WireHint.GRPC,
    });
    assert.deepEqual(e.endpoints[1], {
      ip: '192.168.1.5', port: 9000, ready: true, serving: true, terminating: false, podNamespace: '', podName: '', zone: '', node: '', meshed: false, identity: '', protocol: WireHint.OPAQUE,
    });
    const gone = wire(Endpoints, { ...endpoints({ serviceExists: false, endpoints: [] }), version: 2 });
    assert.equal(gone.serviceExists, false);
    assert.deepEqual(gone.endpoints, []);
  });
});

describe('convert: inbound port policy', () => {
  const cluster = nets([{ cidr: '10.0.0.0/8' }]);
  const meshTls = (over: { any?: boolean; exact?: string[]; namespaces?: string[] }) =>
    ({
      kind: 'MeshTLSAuthentication',
      namespace: 'shop',
      name: 'mtls',
      identities: { any: over.any ?? false, exact: new Set(over.exact ?? []), namespaces: new Set(over.namespaces ?? []), trustDomain: 'cluster.local' },
    }) as const;
  const authz = (name: string, over: Partial<CompiledAuthorization> = {}): CompiledAuthorization => ({
    namespace: 'shop',
    name,
    target: { kind: 'Server', name: 'web-http' },
    authentications: [],
    ...over,
  });

  function port(over: Partial<InboundPortPolicy> = {}): InboundPortPolicy {
    const routes = over.routes ?? [];
    return {
      pod: { namespace: 'shop', name: 'web-0' },
      port: 8080,
      protocol: 'HTTP/1',
      fallback: { policy: 'all-unauthenticated', source: 'cluster' },
      authorizations: [],
      routes,
      routeTable: buildRouteTable(routes),
      routePolicies: new Map(),
      probes: { paths: new Set<string>(), networks: nets([]) },
      clusterNetworks: cluster,
      diagnostics: [],
      ...over,
    };
  }

  function wirePort(p: InboundPortPolicy): PortPolicy {
    return wire(PortPolicy, { ...portPolicy(p, OPTS), version: 1 });
  }

  test('each authentication kind converts: MeshTLS (any, exact sorted, namespaces), Network (with excepts), ServiceAccount', () => {
    const p = wirePort(
      port({
        server: { namespace: 'shop', name: 'web-http', accessPolicy: 'deny' },
        fallback: { policy: 'deny', source: 'server' },
        authorizations: [
          authz('mtls', {
            authentications: [
              meshTls({ any: true, exact: ['spiffe://cluster.local/ns/b/sa/z', 'spiffe://cluster.local/ns/a/sa/y'], namespaces: ['ops', 'infra'] }),
              { kind: 'NetworkAuthentication', namespace: 'shop', name: 'net', networks: nets([{ cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] }, { cidr: 'fd00::/8' }]) },
            ],
          }),
          authz('sa', { target: { kind: 'Namespace', name: 'shop' }, authentications: [{ kind: 'ServiceAccount', namespace: 'shop', name: 'gw', identity: 'spiffe://cluster.local/ns/shop/sa/gw' }] }),
        ],
      }),
    );
    assert.deepEqual(p.authorizations, [
      {
        meta: { group: 'policy.weft.dev', kind: 'AuthorizationPolicy', namespace: 'shop', name: 'mtls' },
        target: TargetKind.SERVER,
        required: [
          { kind: { $case: 'meshTls', value: { identities: ['*', 'spiffe://cluster.local/ns/a/sa/y', 'spiffe://cluster.local/ns/b/sa/z'], serviceAccounts: [], namespaces: ['infra', 'ops'] } } },
          { kind: { $case: 'network', value: { networks: [{ cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] }, { cidr: 'fd00::/8', except: [] }] } } },
        ],
      },
      {
        meta: { group: 'policy.weft.dev', kind: 'AuthorizationPolicy', namespace: 'shop', name: 'sa' },
        target: TargetKind.NAMESPACE,
        required: [{ kind: { $case: 'meshTls', value: { identities: ['spiffe://cluster.local/ns/shop/sa/gw'], serviceAccounts: [], namespaces: [] } } }],
      },
    ], 'a Server with accessPolicy deny adds no default authorization');
  });

  test('an AuthorizationPolicy that cannot be enforced is sent with an Unsupported authentication (admits nobody), not dropped', () => {
    const p = wirePort(
      port({
        server: { namespace: 'shop', name: 'web-http', accessPolicy: 'deny' },
        fallback: { policy: 'deny', source: 'server' },
        authorizations: [authz('broken', { invalid: 'references MeshTLSAuthentication shop/missing, which does not exist' })],
      }),
    );
    assert.equal(p.authorizations.length, 1);
    assert.deepEqual(p.authorizations[0]!.required, [
      { kind: { $case: 'unsupported', value: { kind: 'AuthorizationPolicy', reason: 'references MeshTLSAuthentication shop/missing, which does not exist' } } },
    ]);
  });

  test('each default policy is expressed as synthetic authorizations (deny and audit as none)', () => {
    const any = { kind: { $case: 'meshTls', value: { identities: ['*'], serviceAccounts: [], namespaces: [] } } };
    const inCluster = { kind: { $case: 'network', value: { networks: [{ cidr: '10.0.0.0/8', except: [] }] } } };
    const want: Record<DefaultInboundPolicy, unknown[] | undefined> = {
      'all-unauthenticated': [{ kind: { $case: 'unauthenticated', value: {} } }],
      'all-authenticated': [any],
      'cluster-authenticated': [any, inCluster],
      'cluster-unauthenticated': [inCluster],
      deny: undefined,
      audit: undefined,
    };
    for (const [policy, required] of Object.entries(want) as [DefaultInboundPolicy, unknown[] | undefined][]) {
      const p = wirePort(port({ fallback: { policy, source: 'namespace' } }));
      assert.equal(p.defaultPolicy, policy);
      assert.equal(p.audit, policy === 'audit', `${policy}: audit flag`);
      assert.deepEqual(p.server?.meta, { group: 'weft.dev', kind: 'default', namespace: 'shop', name: policy }, `${policy}: synthesised Server`);
      if (required === undefined) {
        assert.deepEqual(p.authorizations, [], `${policy}: no authorization (deny)`);
      } else {
        assert.deepEqual(p.authorizations, [{ meta: { group: 'weft.dev', kind: 'default', namespace: 'shop', name: policy }, target: TargetKind.DEFAULT, required }], policy);
      }
      // The exported helper agrees with what portPolicy sends.
      assert.equal(defaultAuthorizations(policy, 'shop', cluster).length, required === undefined ? 0 : 1);
    }
  });

  test('each proxy protocol maps to its oneof case; detect carries the configured timeout', () => {
    const cases: [ProxyProtocol, string][] = [
      ['unknown', 'detect'],
      ['HTTP/1', 'http1'],
      ['HTTP/2', 'http2'],
      ['gRPC', 'grpc'],
      ['opaque', 'opaque'],
      ['TLS', 'tls'],
    ];
    for (const [protocol, want] of cases) {
      const k = wirePort(port({ protocol })).server?.protocol?.kind;
      assert.equal(k?.$case, want, protocol);
      if (k?.$case === 'detect') assert.equal(k.value.timeoutMs, 2500);
    }
  });

  test('a port without routes gets the one default route; probe paths are sorted; probe networks are sent', () => {
    const p = wirePort(port({ probes: { paths: new Set(['/ready', '/healthz']), networks: nets([{ cidr: '172.18.0.2/32' }]) } }));
    assert.deepEqual(p.httpRoutes, [
      { route: { meta: { group: 'weft.dev', kind: 'default', namespace: '', name: 'default' }, rules: [{ name: '', matches: [], filters: [], backends: [], timeouts: undefined, retry: undefined }] }, authorizations: [], limits: undefined },
    ]);
    assert.deepEqual(p.grpcRoutes, []);
    assert.deepEqual(p.probes, { paths: ['/healthz', '/ready'], networks: [{ cidr: '172.18.0.2/32', except: [] }] });
  });

  test('attached routes are sorted and carry their own authorizations; a Server with gRPC routes sends only grpc routes', () => {
    const older = route({ name: 'admin', createdAt: 500, rules: [rule({ matches: [{ path: { kind: 'prefix', value: '/admin', withSlash: '/admin/' }, headers: [], query: [] }] })] });
    const newer = route({ name: 'all', createdAt: 900 });
    const policies = new Map<CompiledRoute, InboundRoute>([
      [older, { kind: 'HTTPRoute', namespace: 'shop', name: 'admin', authorizations: [authz('admins', { target: { kind: 'HTTPRoute', name: 'admin' }, authentications: [meshTls({ exact: ['spiffe://cluster.local/ns/ops/sa/admin'] })] })] }],
    ]);
    const p = wirePort(port({ server: { namespace: 'shop', name: 'web-http', accessPolicy: 'deny' }, fallback: { policy: 'deny', source: 'server' }, routes: [newer, older], routePolicies: policies }));
    assert.deepEqual(p.server?.meta, { group: 'policy.weft.dev', kind: 'Server', namespace: 'shop', name: 'web-http' });
    assert.deepEqual(p.httpRoutes.map((r) => r.route?.meta?.name), ['admin', 'all']);
    assert.deepEqual(p.httpRoutes[0]!.authorizations.map((a) => [a.meta?.name, a.target]), [['admins', TargetKind.HTTP_ROUTE]]);
    assert.deepEqual(p.httpRoutes[1]!.authorizations, []);

    const g = route({ name: 'rpc', kind: 'grpc', rules: [rule({ matches: [{ headers: [], query: [], grpc: {} }] })] });
    const grpcPolicies = new Map<CompiledRoute, InboundRoute>([[g, { kind: 'GRPCRoute', namespace: 'shop', name: 'rpc', authorizations: [authz('callers', { target: { kind: 'GRPCRoute', name: 'rpc' } , authentications: [meshTls({ namespaces: ['shop'] })] })] }]]);
    const q = wirePort(port({ protocol: 'gRPC', routes: [g], routePolicies: grpcPolicies }));
    assert.deepEqual(q.httpRoutes, []);
    assert.deepEqual(q.grpcRoutes.map((r) => [r.route?.meta?.kind, r.route?.meta?.name, r.authorizations[0]?.target]), [['GRPCRoute', 'rpc', TargetKind.GRPC_ROUTE]]);
    assert.equal(p.limits, undefined, 'no InboundLimitPolicy: no limits sent');
  });

  test('InboundLimitPolicies travel on the port (Server) and on their route; an unenforceable port sends none', () => {
    const r = route({ name: 'slow' });
    const onRoute = { namespace: 'shop', name: 'slow-conc', target: { kind: 'HTTPRoute' as const, name: 'slow' }, concurrency: { maxInFlight: 4 } };
    const onServer = { namespace: 'shop', name: 'web-rate', target: { kind: 'Server' as const, name: 'web-http' }, rate: { requestsPerSecond: 50, burst: 100 } };
    const policies = new Map<CompiledRoute, InboundRoute>([[r, { kind: 'HTTPRoute', namespace: 'shop', name: 'slow', authorizations: [], limits: onRoute }]]);
    const p = wirePort(port({ server: { namespace: 'shop', name: 'web-http', accessPolicy: 'deny' }, routes: [r], routePolicies: policies, limits: onServer }));
    assert.deepEqual(p.limits, { meta: { group: 'policy.weft.dev', kind: 'InboundLimitPolicy', namespace: 'shop', name: 'web-rate' }, rate: { requestsPerSecond: 50, burst: 100 }, concurrency: undefined });
    assert.deepEqual(p.httpRoutes[0]!.limits?.concurrency, { maxInFlight: 4 });
    assert.equal(p.httpRoutes[0]!.limits?.rate, undefined);
    const bad = wirePort(port({ server: { namespace: 'shop', name: 'web-http', accessPolicy: 'deny' }, invalid: 'x', limits: onServer }));
    assert.equal(bad.limits, undefined);
  });

  test('a port whose policy cannot be enforced denies everything but probes: no authorizations, the default route, policy deny', () => {
    const p = wirePort(
      port({
        server: { namespace: 'shop', name: 'bad', accessPolicy: 'all-unauthenticated' },
        invalid: 'Server shop/bad has field spec.extra, which Weft does not implement',
        fallback: { policy: 'all-unauthenticated', source: 'server' },
        authorizations: [authz('would-allow', { authentications: [meshTls({ any: true })] })],
        routes: [route({ name: 'r' })],
        probes: { paths: new Set(['/healthz']), networks: nets([{ cidr: '172.18.0.2/32' }]) },
      }),
    );
    assert.deepEqual(p.authorizations, []);
    assert.equal(p.defaultPolicy, 'deny');
    assert.equal(p.audit, false);
    assert.deepEqual(p.httpRoutes.map((r) => r.route?.meta?.kind), ['default']);
    assert.deepEqual(p.probes?.paths, ['/healthz']);
  });
});
