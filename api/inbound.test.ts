import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { InboundPolicyService, InboundTarget, PortPolicy, Authentication, TargetKind } from './gen/weft/inbound/v1/inbound.js';

const policy: PortPolicy = {
  version: 7,
  generatedAt: new Date('2026-03-01T10:00:00.000Z'),
  server: {
    meta: { group: 'policy.weft.dev', kind: 'Server', namespace: 'books', name: 'web-http' },
    protocol: { kind: { $case: 'http1', value: {} } },
  },
  authorizations: [
    {
      meta: { group: 'policy.weft.dev', kind: 'AuthorizationPolicy', namespace: 'books', name: 'from-gateway' },
      target: TargetKind.SERVER,
      required: [
        { kind: { $case: 'meshTls', value: { identities: ['spiffe://cluster.local/ns/gw/sa/gw'], serviceAccounts: [{ namespace: 'books', name: 'api' }], namespaces: ['ops'] } } },
        { kind: { $case: 'network', value: { networks: [{ cidr: '10.0.0.0/8', except: ['10.9.0.0/16'] }] } } },
      ],
    },
  ],
  httpRoutes: [
    {
      route: {
        meta: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'books', name: 'admin' },
        rules: [{ name: 'admin', matches: [{ path: { kind: { $case: 'prefix', value: '/admin' } }, headers: [], queryParams: [], method: 'POST' }], filters: [], backends: [], timeouts: undefined, retry: undefined }],
      },
      authorizations: [
        { meta: { group: 'weft.dev', kind: 'default', namespace: '', name: 'x' }, target: TargetKind.HTTP_ROUTE, required: [{ kind: { $case: 'unsupported', value: { kind: 'JWTAuthentication', reason: 'not implemented by weft' } } }] },
      ],
      limits: { meta: { group: 'policy.weft.dev', kind: 'InboundLimitPolicy', namespace: 'books', name: 'admin-slow' }, rate: undefined, concurrency: { maxInFlight: 4 } },
    },
  ],
  grpcRoutes: [],
  defaultPolicy: 'all-unauthenticated',
  probes: { paths: ['/healthz', '/ready'], networks: [{ cidr: '172.18.0.2', except: [] }] },
  audit: false,
  limits: { meta: { group: 'policy.weft.dev', kind: 'InboundLimitPolicy', namespace: 'books', name: 'web' }, rate: { requestsPerSecond: 50, burst: 100 }, concurrency: undefined },
};

test('PortPolicy survives an encode/decode round trip with authentications, routes, probes and limits', () => {
  assert.deepEqual(PortPolicy.decode(PortPolicy.encode(policy).finish()), policy);
});

test('InboundTarget survives an encode/decode round trip', () => {
  const target: InboundTarget = { namespace: 'books', pod: 'web-5d8f-abcde', port: 8080 };
  assert.deepEqual(InboundTarget.decode(InboundTarget.encode(target).finish()), target);
});

test('an authentication kind this schema lacks decodes with no case set, which the proxy must treat as Unsupported', () => {
  // Field 9 of Authentication is not defined: a newer controller could send a new kind there.
  const bytes = new BinaryWriter().uint32((9 << 3) | 2).bytes(new Uint8Array([10, 1, 120])).finish();
  const decoded = Authentication.decode(bytes);
  assert.equal(decoded.kind, undefined);
});

test('an unknown TargetKind number decodes as UNRECOGNIZED rather than a known kind', () => {
  const bytes = new BinaryWriter().uint32((2 << 3) | 0).int32(42).finish();
  const decoded = PortPolicy.decode(new BinaryWriter().uint32((4 << 3) | 2).bytes(bytes).finish());
  assert.equal(decoded.authorizations[0]?.target, TargetKind.UNRECOGNIZED);
});

test('InboundPolicy service exposes exactly the server-streaming Watch method', () => {
  assert.deepEqual(Object.keys(InboundPolicyService), ['watch']);
  assert.equal(InboundPolicyService.watch.path, '/weft.inbound.v1.InboundPolicy/Watch');
  assert.equal(InboundPolicyService.watch.requestStream, false);
  assert.equal(InboundPolicyService.watch.responseStream, true);
});
