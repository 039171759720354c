import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutboundPolicyService, OutboundTarget, DestinationPolicy } from './gen/weft/outbound/v1/outbound.js';
import { Filter } from './gen/weft/route/v1/route.js';
import { ProtocolHint } from './gen/weft/common/v1/common.js';

const web = { namespace: 'books', name: 'web', port: 80, authority: 'web.books.svc.cluster.local:80', retryBudget: undefined, failureAccrual: undefined };

const routed: DestinationPolicy = {
  version: 3,
  generatedAt: new Date('2026-03-01T10:00:00.000Z'),
  destination: {
    $case: 'service',
    value: {
      service: web,
      protocol: ProtocolHint.HTTP1,
      routes: {
        $case: 'http',
        value: {
          routes: [
            {
              meta: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'books', name: 'canary' },
              rules: [
                {
                  name: 'v2',
                  matches: [
                    {
                      path: { kind: { $case: 'exact', value: '/v2' } },
                      headers: [{ name: 'x-canary', value: { $case: 'regex', value: '^(yes|1)$' } }],
                      queryParams: [{ name: 'debug', value: { $case: 'exact', value: 'on' } }],
                      method: 'GET',
                    },
                  ],
                  filters: [
                    { kind: { $case: 'requestHeaderModifier', value: { set: [{ name: 'x-a', value: '1' }], add: [], remove: ['x-b'] } } },
                    { kind: { $case: 'urlRewrite', value: { hostname: '', path: { kind: { $case: 'replacePrefixMatch', value: '/' } } } } },
                    { kind: { $case: 'requestRedirect', value: { scheme: 'https', hostname: '', path: undefined, port: 0, statusCode: 301 } } },
                    { kind: { $case: 'requestMirror', value: { backend: { name: 'books/shadow:80', kind: { $case: 'service', value: { ...web, name: 'shadow' } } }, numerator: 1, denominator: 10 } } },
                    { kind: { $case: 'unsupported', value: { kind: 'CORS', reason: 'not implemented by weft' } } },
                  ],
                  backends: [
                    { backend: { name: 'books/web-v2:80', kind: { $case: 'service', value: { ...web, name: 'web-v2' } } }, weight: 90, filters: [{ kind: { $case: 'responseHeaderModifier', value: { set: [], add: [{ name: 'x-v', value: '2' }], remove: [] } } }] },
                    { backend: { name: 'other/db:5432', kind: { $case: 'failure', value: { status: 500, reason: 'RefNotPermitted', message: 'no ReferenceGrant in other' } } }, weight: 10, filters: [] },
                  ],
                  timeouts: { request: { seconds: 2, nanos: 0 }, backendRequest: { seconds: 0, nanos: 500_000_000 } },
                  retry: { attempts: 2, codes: [503, 502], backoff: { seconds: 0, nanos: 100_000_000 } },
                },
              ],
            },
          ],
        },
      },
    },
  },
};

test('DestinationPolicy with routes, filters, failures and timeouts survives an encode/decode round trip', () => {
  assert.deepEqual(DestinationPolicy.decode(DestinationPolicy.encode(routed).finish()), routed);
});

test('passthrough, grpc routes, pod and unknown destinations each keep their case through the wire', () => {
  const cases: DestinationPolicy[] = [
    { version: 1, generatedAt: undefined, destination: { $case: 'service', value: { service: web, protocol: ProtocolHint.OPAQUE, routes: { $case: 'passthrough', value: {} } } } },
    {
      version: 2,
      generatedAt: undefined,
      destination: {
        $case: 'service',
        value: {
          service: web,
          protocol: ProtocolHint.GRPC,
          routes: { $case: 'grpc', value: { routes: [{ meta: { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', namespace: 'books', name: 'g' }, rules: [{ name: '', matches: [{ method: { kind: { $case: 'regex', value: { service: 'weft\\..*', method: '' } } }, headers: [] }], filters: [], backends: [], timeouts: undefined }] }] } },
        },
      },
    },
    { version: 3, generatedAt: undefined, destination: { $case: 'pod', value: { ip: '10.1.2.3', port: 8080, ready: true, serving: true, terminating: false, podNamespace: 'books', podName: 'web-1', zone: '', node: 'n1', meshed: true, identity: 'spiffe://cluster.local/ns/books/sa/web', protocol: ProtocolHint.UNSPECIFIED } } },
    { version: 4, generatedAt: undefined, destination: { $case: 'unknown', value: {} } },
  ];
  for (const c of cases) {
    const decoded = DestinationPolicy.decode(DestinationPolicy.encode(c).finish());
    assert.deepEqual(decoded, c);
  }
});

test('a filter that is not set at all (e.g. from a newer schema) has no case, so the rule must fail closed', () => {
  assert.equal(Filter.decode(Filter.encode({}).finish()).kind, undefined);
});

test('OutboundTarget survives an encode/decode round trip', () => {
  const target: OutboundTarget = { namespace: 'client-ns', pod: 'client-0', ip: '10.96.0.42', port: 80 };
  assert.deepEqual(OutboundTarget.decode(OutboundTarget.encode(target).finish()), target);
});

test('OutboundPolicy service exposes the server-streaming Watch and the bidirectional Follow', () => {
  assert.deepEqual(Object.keys(OutboundPolicyService), ['watch', 'follow']);
  assert.equal(OutboundPolicyService.follow.path, '/weft.outbound.v1.OutboundPolicy/Follow');
  assert.equal(OutboundPolicyService.follow.requestStream, true);
  assert.equal(OutboundPolicyService.follow.responseStream, true);
  assert.equal(OutboundPolicyService.watch.path, '/weft.outbound.v1.OutboundPolicy/Watch');
  assert.equal(OutboundPolicyService.watch.requestStream, false);
  assert.equal(OutboundPolicyService.watch.responseStream, true);
});
