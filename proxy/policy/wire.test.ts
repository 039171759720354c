import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PortPolicy } from '../../api/gen/weft/inbound/v1/inbound.js';
import type { ServicePolicy } from '../../api/gen/weft/outbound/v1/outbound.js';
import { Backend as WireBackendMsg, type Backend as WireBackend, type Filter, type HttpRoute } from '../../api/gen/weft/route/v1/route.js';
import { backendTargetOf, failureAccrualOf, gatewayViewOf, httpRouteOf, portPolicyOf, retryBudgetOf, retryOf, servicePortPolicyOf } from './wire.js';

const service = { namespace: 'prod', name: 'web', port: 80, authority: 'web.prod.svc.cluster.local:80' };
const backend = { name: 'prod/v1:80', kind: { $case: 'service' as const, value: { namespace: 'prod', name: 'v1', port: 80, authority: '' } } };

function route(name: string, filters: Filter[] = [], matches: HttpRoute['rules'][number]['matches'] = []): HttpRoute {
  return { meta: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'prod', name }, rules: [{ name: '', matches, filters, backends: [{ backend, weight: 1, filters: [] }] }] };
}

test('an unset or Unsupported filter, match or path modifier makes its rule unsupported (fail closed)', () => {
  const unset = httpRouteOf(route('a', [{ kind: undefined }]), 0);
  assert.ok(unset.rules[0]!.unsupported !== undefined);
  const unsupported = httpRouteOf(route('b', [{ kind: { $case: 'unsupported', value: { kind: 'HTTPRoute filter CORS', reason: 'not implemented' } } }]), 0);
  assert.match(unsupported.rules[0]!.unsupported ?? '', /CORS/);
  const badMatch = httpRouteOf(route('c', [], [{ path: { kind: undefined }, headers: [], queryParams: [], method: '' }]), 0);
  assert.ok(badMatch.rules[0]!.unsupported !== undefined);
  assert.equal(badMatch.rules[0]!.matches.length, 1, 'the rule stays selectable so that it can answer 500');
  const badRegex = httpRouteOf(route('d', [], [{ path: { kind: { $case: 'regex', value: '(' } }, headers: [], queryParams: [], method: '' }]), 0);
  assert.ok(badRegex.rules[0]!.unsupported !== undefined);
  const okRoute = httpRouteOf(route('e', [{ kind: { $case: 'requestHeaderModifier', value: { set: [{ name: 'X-A', value: '1' }], add: [], remove: ['X-B'] } } }]), 3);
  assert.equal(okRoute.rules[0]!.unsupported, undefined);
  assert.equal(okRoute.createdAt, 3, 'list position orders ties as the controller listed them');
  assert.deepEqual(okRoute.rules[0]!.filters[0], { kind: 'requestHeaders', ops: { set: [['x-a', '1']], add: [], remove: ['x-b'] } });
});

test('backends: failures keep their reason; unknown kinds are InvalidKind failures', () => {
  assert.deepEqual(backendTargetOf(backend), { kind: 'service', namespace: 'prod', name: 'v1', port: 80 });
  const refused = backendTargetOf({ name: 'x', kind: { $case: 'failure', value: { status: 500, reason: 'RefNotPermitted', message: 'no grant' } } });
  assert.equal(refused.kind === 'error' && refused.reason, 'RefNotPermitted');
  const unknown = backendTargetOf({ name: 'x', kind: undefined });
  assert.equal(unknown.kind === 'error' && unknown.reason, 'InvalidKind');
});

test('ServicePolicy: passthrough has no routes; routes of an unknown kind mark the port unsupported', () => {
  const pass = servicePortPolicyOf({ service, protocol: 'PROTOCOL_HINT_UNSPECIFIED', routes: { $case: 'passthrough', value: {} } }, 'prod');
  assert.equal(pass?.policy.routes, 'none');
  assert.equal(pass?.unsupported, undefined);
  const unknown = servicePortPolicyOf({ service, protocol: 'PROTOCOL_HINT_UNSPECIFIED', routes: undefined } as ServicePolicy, 'prod');
  assert.ok(unknown?.unsupported !== undefined);
  assert.equal(servicePortPolicyOf({ protocol: 'PROTOCOL_HINT_UNSPECIFIED', routes: undefined } as ServicePolicy, 'prod'), undefined);
});

test('PortPolicy: an unknown authentication admits nobody, an unknown protocol invalidates the port, default authorizations are labelled default:<policy>', () => {
  const base: PortPolicy = {
    version: 1,
    server: { meta: { group: 'weft.dev', kind: 'default', namespace: 'shop', name: 'all-unauthenticated' }, protocol: { kind: { $case: 'detect', value: { timeoutMs: 10_000 } } } },
    authorizations: [
      { meta: { group: 'weft.dev', kind: 'default', namespace: 'shop', name: 'all-unauthenticated' }, target: 'TARGET_KIND_DEFAULT', required: [{ kind: { $case: 'unauthenticated', value: {} } }] },
      { meta: { group: 'policy.weft.dev', kind: 'AuthorizationPolicy', namespace: 'shop', name: 'newer' }, target: 'TARGET_KIND_SERVER', required: [{ kind: undefined }] },
    ],
    httpRoutes: [{ route: { meta: { group: 'weft.dev', kind: 'default', namespace: '', name: 'default' }, rules: [{ name: '', matches: [], filters: [], backends: [] }] }, authorizations: [] }],
    grpcRoutes: [],
    defaultPolicy: 'all-unauthenticated',
    probes: { paths: ['/healthz'], networks: [{ cidr: '192.168.0.1', except: [] }] },
    audit: false,
  };
  const v = portPolicyOf(base, { namespace: 'shop', name: 'api-0' }, 8080, 'cluster.local');
  assert.equal(v.serverLabel, 'default:all-unauthenticated');
  assert.equal(v.policy.routes.length, 0, 'the synthesised default route is the implicit one');
  assert.equal(v.policy.fallback.policy, 'deny', 'what the default admits is in the authorizations');
  assert.equal(v.policy.authorizations[0]!.invalid, undefined);
  assert.ok(v.policy.authorizations[1]!.invalid !== undefined);
  assert.equal(v.authorizationLabels.get('shop/all-unauthenticated'), 'default:all-unauthenticated');
  assert.equal(v.authorizationLabels.get('shop/newer'), 'newer');
  const badProtocol = portPolicyOf({ ...base, server: { ...base.server!, protocol: { kind: undefined } } }, { namespace: 'shop', name: 'api-0' }, 8080, 'cluster.local');
  assert.ok(badProtocol.policy.invalid !== undefined);
  const audit = portPolicyOf({ ...base, audit: true, defaultPolicy: 'audit', authorizations: [] }, { namespace: 'shop', name: 'api-0' }, 8080, 'cluster.local');
  assert.equal(audit.policy.fallback.policy, 'audit');
  // Limits: only on a Server; a zero rate (unreadable) is left out, never read as "refuse everything".
  const meta = { group: 'policy.weft.dev', kind: 'InboundLimitPolicy', namespace: 'shop', name: 'lim' };
  const withServer = { ...base, server: { ...base.server!, meta: { group: 'policy.weft.dev', kind: 'Server', namespace: 'shop', name: 'api-http' } } };
  const limited = portPolicyOf({ ...withServer, limits: { meta, rate: { requestsPerSecond: 50, burst: 0 }, concurrency: { maxInFlight: 0 } } }, { namespace: 'shop', name: 'api-0' }, 8080, 'cluster.local');
  assert.deepEqual(limited.policy.limits, { namespace: 'shop', name: 'lim', target: { kind: 'Server', name: 'api-http' }, rate: { requestsPerSecond: 50, burst: 1 } });
  const zero = portPolicyOf({ ...withServer, limits: { meta, rate: { requestsPerSecond: 0, burst: 5 }, concurrency: undefined } }, { namespace: 'shop', name: 'api-0' }, 8080, 'cluster.local');
  assert.equal(zero.policy.limits, undefined);
  const noServer = portPolicyOf({ ...base, limits: { meta, rate: { requestsPerSecond: 5, burst: 5 }, concurrency: undefined } }, { namespace: 'shop', name: 'api-0' }, 8080, 'cluster.local');
  assert.equal(noServer.policy.limits, undefined);
});

test('a wire retry becomes the policy the exchange enforces; codes outside 400-599 are dropped', () => {
  assert.equal(retryOf(undefined), undefined);
  assert.deepEqual(retryOf({ attempts: 2, codes: [503, 200, 600], backoff: { seconds: 0, nanos: 250_000_000 } }), { attempts: 2, codes: [503], backoffMs: 250 });
  assert.deepEqual(retryOf({ attempts: 0, codes: [], backoff: undefined }), { attempts: 0, codes: [], backoffMs: 25 });
});

test('a wire retry budget becomes the budget config; an out-of-range one falls back to the default', () => {
  assert.deepEqual(retryBudgetOf({ percent: 40, interval: { seconds: 5, nanos: 0 }, minRetries: 3, minInterval: { seconds: 2, nanos: 0 } }), { percent: 40, intervalMs: 5000, minRetries: 3, minIntervalMs: 2000 });
  assert.equal(retryBudgetOf({ percent: 140, interval: { seconds: 5, nanos: 0 }, minRetries: 3, minInterval: { seconds: 2, nanos: 0 } }), undefined);
  assert.equal(retryBudgetOf({ percent: 40, interval: undefined, minRetries: 3, minInterval: { seconds: 2, nanos: 0 } }), undefined);
});

test('a wire failure accrual becomes the circuit-breaking config; a malformed one turns it off', () => {
  assert.deepEqual(failureAccrualOf({ maxFailures: 3, minPenalty: { seconds: 0, nanos: 500_000_000 }, maxPenalty: { seconds: 2, nanos: 0 } }), { maxFailures: 3, minPenaltyMs: 500, maxPenaltyMs: 2000 });
  assert.equal(failureAccrualOf({ maxFailures: 0, minPenalty: { seconds: 1, nanos: 0 }, maxPenalty: { seconds: 2, nanos: 0 } }), undefined);
  assert.equal(failureAccrualOf({ maxFailures: 3, minPenalty: { seconds: 3, nanos: 0 }, maxPenalty: { seconds: 2, nanos: 0 } }), undefined);
});

test('a wire FaultInjection filter becomes the fault core decides; one out of bounds makes its rule unsupported', () => {
  const fault = (abortStatus: number, delayS: number) => route('f', [{
    kind: { $case: 'faultInjection', value: { name: 'prod/chaos', abort: { httpStatus: abortStatus, percentage: 10 }, delay: { duration: { seconds: delayS, nanos: 0 }, percentage: 20 } } },
  }]);
  const ok = httpRouteOf(fault(503, 2), 0);
  assert.equal(ok.rules[0]!.unsupported, undefined);
  assert.deepEqual(ok.rules[0]!.filters[0], { kind: 'fault', fault: { ref: 'prod/chaos', abort: { status: 503, percentage: 10 }, delay: { ms: 2000, percentage: 20 } } });
  assert.match(httpRouteOf(fault(700, 2), 0).rules[0]!.unsupported ?? '', /FaultInjection prod\/chaos/);
  assert.match(httpRouteOf(fault(503, 600), 0).rules[0]!.unsupported ?? '', /FaultInjection prod\/chaos/);
});

test('gatewayViewOf: not served is undefined; HTTP, HTTPS (with their certificates) and TLS (with their TLSRoutes) listeners are kept, listeners of a protocol this proxy does not serve are left out', () => {
  assert.equal(gatewayViewOf({ version: 1, namespace: 'edge', name: 'gw', served: false, ports: [], backendTls: [] }), undefined);
  const v = gatewayViewOf({
    version: 1, namespace: 'edge', name: 'gw', served: true,
    ports: [
      { port: 443, listeners: [{ name: 'tls', protocol: 'HTTPS', hostname: '', hosts: [], certificates: [{ certChainPem: 'CERT', keyPem: 'KEY' }], tlsRoutes: [] }] },
      {
        port: 8443, listeners: [{
          name: 'pass', protocol: 'TLS', hostname: '', hosts: [], certificates: [],
          tlsRoutes: [{ namespace: 'edge', name: 'db', hostnames: ['DB.example.com'], hostnameOrigins: ['*.Example.com'], backends: [{ weight: 3, filters: [], backend: { name: 'edge/db:5432', kind: { $case: 'service', value: { namespace: 'edge', name: 'db', port: 5432, authority: 'db.edge.svc.cluster.local:5432' } } } }] }],
        }, { name: 'tcp', protocol: 'TCP', hostname: '', hosts: [], certificates: [], tlsRoutes: [] }],
      },
      {
        port: 80, listeners: [
          { name: 'any', protocol: 'HTTP', hostname: '', hosts: [], certificates: [], tlsRoutes: [] },
          { name: 'shop', protocol: 'HTTP', hostname: 'Shop.Example.com', certificates: [], tlsRoutes: [], hosts: [{
            hostname: '',
            httpRoutes: [{ meta: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: 'edge', name: 'r' }, rules: [] }],
            grpcRoutes: [{ meta: { group: 'gateway.networking.k8s.io', kind: 'GRPCRoute', namespace: 'edge', name: 'g' }, rules: [] }],
          }] },
        ],
      },
    ],
    backendTls: [],
  });
  assert.ok(v);
  assert.equal(v.backendTls, undefined);
  assert.deepEqual(v.ports.map((p) => [p.port, p.listeners.map((l) => `${l.name}:${l.protocol}:${l.hostname}`)]), [[80, ['shop:HTTP:shop.example.com', 'any:HTTP:']], [443, ['tls:HTTPS:']], [8443, ['pass:TLS:']]]);
  assert.deepEqual(v.ports[0]!.listeners[0]!.hosts[0]!.routes.map((r) => `${r.kind} ${r.namespace}/${r.name}`), ['http edge/r', 'grpc edge/g']);
  assert.deepEqual(v.ports[1]!.listeners[0]!.certificates, [{ certPem: 'CERT', keyPem: 'KEY' }]);
  const pass = v.ports[2]!.listeners[0]!.tlsRoutes;
  assert.deepEqual(pass.map((r) => [r.name, r.hostnames, r.origins, r.backends.map((b) => [b.weight, b.target.kind === 'service' ? `${b.target.name}:${b.target.port}` : b.target.kind])]), [['db', ['db.example.com'], ['*.example.com'], [[3, 'db:5432']]]]);
});

test('gatewayViewOf: BackendTLSPolicy decisions per Service port and the backend client certificate', () => {
  const v = gatewayViewOf({
    version: 1, namespace: 'edge', name: 'gw', served: true, ports: [],
    backendTls: [
      { namespace: 'apps', name: 'secure', port: 443, policy: 'apps/p', hostname: 'secure.example', caPem: 'CA', systemCa: false, subjectAltNames: [{ type: 'URI', value: 'spiffe://x' }, { type: 'Bogus', value: 'y' }], invalid: '' },
      { namespace: 'apps', name: 'public', port: 443, policy: 'apps/q', hostname: 'public.example', caPem: '', systemCa: true, subjectAltNames: [], invalid: '' },
      { namespace: 'apps', name: 'broken', port: 443, policy: 'apps/r', hostname: '', caPem: '', systemCa: false, subjectAltNames: [], invalid: 'BackendTLSPolicy apps/r: no valid CA' },
    ],
    backendClientCertificate: { certChainPem: 'CC', keyPem: 'CK' },
  });
  assert.ok(v?.backendTls);
  assert.deepEqual(v.backendTls.get('apps/secure/443'), { ok: true, config: { policy: { namespace: 'apps', name: 'p' }, hostname: 'secure.example', ca: { kind: 'pem', pem: 'CA' }, subjectAltNames: [{ type: 'URI', value: 'spiffe://x' }] } });
  const pub = v.backendTls.get('apps/public/443');
  assert.ok(pub?.ok && pub.config.ca.kind === 'system');
  assert.deepEqual(v.backendTls.get('apps/broken/443'), { ok: false, policy: { namespace: 'apps', name: 'r' }, message: 'BackendTLSPolicy apps/r: no valid CA' });
  assert.deepEqual(v.backendClientCertificate, { certPem: 'CC', keyPem: 'CK' });
});

test('backends: an ExternalName backend keeps its Service port and DNS name through the bytes; without its name it is BackendNotFound', () => {
  const wire: WireBackend = {
    name: 'edge/ext:8080',
    kind: { $case: 'externalName', value: { service: { namespace: 'edge', name: 'ext', port: 8080, authority: '' }, externalName: 'echo-v2.other-ns.svc.cluster.local' } },
  };
  const decoded = WireBackendMsg.decode(WireBackendMsg.encode(wire).finish());
  assert.deepEqual(backendTargetOf(decoded), { kind: 'service', namespace: 'edge', name: 'ext', port: 8080, externalName: 'echo-v2.other-ns.svc.cluster.local' });
  const nameless = backendTargetOf({ name: 'x', kind: { $case: 'externalName', value: { service: { namespace: 'edge', name: 'ext', port: 8080, authority: '' }, externalName: '' } } });
  assert.ok(nameless.kind === 'error' && nameless.reason === 'BackendNotFound');
});
