/**
 * `weft gateway` serving GRPCRoutes on an HTTP listener (h2c with prior knowledge), in one process:
 * startGateway on a view the controller's code computed (core computeGatewayStatuses, GRPCRoute now
 * among the writer's GATEWAY_ROUTE_KINDS) and sent through the wire types; calls from @grpc/grpc-js.
 *
 * Checked: a method + header match wins over a service-only match (GRPCRoute precedence), its
 * RequestHeaderModifier reaches the backend; a service-only rule splits 50/50 by weight (counted);
 * an unknown method is UNIMPLEMENTED and a backend that does not exist INTERNAL, as gRPC statuses with
 * weft-proxy-error; HTTPRoutes on the same listener serve HTTP/1, one of them on the GRPCRoute's own
 * hostname (both attach: Gateway API v1.7 lets an implementation keep both kinds on a hostname).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { computeGatewayStatuses } from '../../core/gateway/status.js';
import type { GRPCRoute, HTTPRoute, Service } from '../../core/kube.js';
import { GATEWAY_ROUTE_KINDS } from '../../policy-controller/status/gateway-writer.js';
import { startGateway } from '../../proxy/gateway/server.js';
import { RouteMetrics } from '../../proxy/metrics.js';
import { createPolicyHook, PolicyStore } from '../../proxy/policy/hook.js';
import { get } from '../support/proxy-client.js';
import { overTheWire, TestViewSource } from '../support/gateway-view.js';
import { id, StaticCertificates, StaticDiscovery, TEST_LIMITS, TestPki } from '../support/proxy-fixtures.js';
import { echoApp } from './proxy-policy-harness.js';

const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const method = (path: string) => ({ path, requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize });
const ECHO = { unary: method('/test.Echo/Unary'), other: method('/test.Echo/Other'), nope: method('/test.Nope/Call'), missing: method('/test.Missing/Call') } satisfies grpc.ServiceDefinition;

type Unary = (req: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, reply: Buffer) => void) => grpc.ClientUnaryCall;
interface EchoClient {
  unary: Unary;
  other: Unary;
  nope: Unary;
  missing: Unary;
  close(): void;
}

/** A gRPC backend answering every method with `<name>|<x-route metadata>|<request>`. */
async function grpcApp(name: string): Promise<{ port: number; close: () => void }> {
  const server = new grpc.Server();
  const answer = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
    cb(null, Buffer.from(`${name}|${String(call.metadata.get('x-route')[0] ?? '')}|${call.request.toString()}`));
  server.addService(ECHO, { unary: answer, other: answer, nope: answer, missing: answer });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, close: () => server.forceShutdown() };
}

const svc = (name: string): Service => ({ metadata: { namespace: 'edge', name }, spec: { ports: [{ port: 80 }] } });

function world() {
  const grpcRoutes: GRPCRoute[] = [{
    metadata: { namespace: 'edge', name: 'rpc', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      parentRefs: [{ name: 'gw' }], hostnames: ['grpc.example'],
      rules: [
        {
          matches: [{ method: { service: 'test.Echo', method: 'Unary' }, headers: [{ name: 'x-canary', value: 'yes' }] }],
          filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-route', value: 'canary' }] } }],
          backendRefs: [{ name: 'g2', port: 80 }],
        },
        { matches: [{ method: { service: 'test.Echo' } }], backendRefs: [{ name: 'g1', port: 80, weight: 50 }, { name: 'g2', port: 80, weight: 50 }] },
        { matches: [{ method: { service: 'test.Missing' } }], backendRefs: [{ name: 'absent', port: 80 }] },
      ],
    },
  }];
  const httpRoutes: HTTPRoute[] = [
    { metadata: { namespace: 'edge', name: 'www', creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { parentRefs: [{ name: 'gw' }], hostnames: ['www.example'], rules: [{ backendRefs: [{ name: 'web', port: 80 }] }] } },
    {
      metadata: { namespace: 'edge', name: 'pages', creationTimestamp: '2026-02-01T00:00:00Z' },
      spec: { parentRefs: [{ name: 'gw' }], hostnames: ['grpc.example'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/pages' } }], backendRefs: [{ name: 'web', port: 80 }] }] },
    },
  ];
  const s = computeGatewayStatuses({
    gatewayClasses: [{ metadata: { name: 'weft' }, spec: { controllerName: 'weft.dev/gateway-controller' } }],
    gateways: [{ metadata: { namespace: 'edge', name: 'gw' }, spec: { gatewayClassName: 'weft', listeners: [{ name: 'web', port: 8080, protocol: 'HTTP' }] } }],
    httpRoutes, grpcRoutes, services: [svc('g1'), svc('g2'), svc('web')], referenceGrants: [], namespaces: [],
  }, { controllerName: 'weft.dev/gateway-controller', secrets: [], checkKeyPair: () => undefined, protocols: new Set(['HTTP']), routeKinds: GATEWAY_ROUTE_KINDS, runtime: () => ({ ready: true }) });
  return { statuses: s, view: overTheWire({ namespace: 'edge', name: 'gw' }, s.views.get('edge/gw')) };
}


const call = (fn: Unary, body: string, md = new grpc.Metadata()) =>
  new Promise<{ reply?: string; err?: grpc.ServiceError }>((resolve) => fn(Buffer.from(body), md, (err, reply) => resolve(err ? { err } : { reply: reply.toString() })));

test('GRPCRoutes on an HTTP listener: method and header matches, weights, filters, gRPC statuses; an HTTPRoute beside them', async (t) => {
  const pki = await TestPki.create();
  const g1 = await grpcApp('g1');
  const g2 = await grpcApp('g2');
  const web = await echoApp('web-0');
  t.after(() => {
    g1.close();
    g2.close();
    web.close();
  });

  const { statuses, view } = world();
  const cond = (key: string, type: string) => statuses.routes.get(key)?.[0]?.conditions.find((c) => c.type === type);
  assert.equal(cond('GRPCRoute/edge/rpc', 'Accepted')?.status, 'True');
  assert.equal(cond('HTTPRoute/edge/www', 'Accepted')?.status, 'True');
  assert.equal(cond('HTTPRoute/edge/pages', 'Accepted')?.status, 'True', 'an HTTPRoute may share the GRPCRoute\'s hostname');
  assert.deepEqual(statuses.gateways.get('edge/gw')?.listeners?.map((l) => [l.name, l.attachedRoutes, l.supportedKinds.map((k) => k.kind).join()]), [['web', 3, 'HTTPRoute,GRPCRoute']]);
  assert.ok(view);

  const discovery = new StaticDiscovery();
  discovery.setEndpoints({ namespace: 'edge', name: 'g1', port: 80 }, [{ ip: '127.0.0.1', port: g1.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'g2', port: 80 }, [{ ip: '127.0.0.1', port: g2.port, meshed: false }]);
  discovery.setEndpoints({ namespace: 'edge', name: 'web', port: 80 }, [{ ip: '127.0.0.1', port: web.port, meshed: false }]);
  const metrics = new RouteMetrics();
  const source = new TestViewSource(view);
  const gateway = await startGateway({
    limits: TEST_LIMITS, podIp: '127.0.0.1', endpoints: discovery,
    policy: createPolicyHook({ store: new PolicyStore(), metrics, gateway: () => source.current() }),
    certificates: new StaticCertificates(await pki.certificate(id('edge', 'gw-weft-gateway'))), readiness: [], view: source,
    host: '127.0.0.1', bindPort: () => 0,
  });
  t.after(() => gateway.shutdown(0));
  const port = gateway.ports().get(8080);
  assert.ok(port !== undefined);

  const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'grpc.example' }) as unknown as EchoClient;
  t.after(() => client.close());

  // Method + header match: the canary rule, with its header filter.
  const canary = new grpc.Metadata();
  canary.set('x-canary', 'yes');
  for (let i = 0; i < 10; i++) assert.deepEqual(await call(client.unary.bind(client), `c${i}`, canary), { reply: `g2|canary|c${i}` });

  // Service-only match: 50/50 by weight, counted.
  const N = 100;
  const shares = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const r = await call(client.other.bind(client), `o${i}`);
    assert.ok(r.reply !== undefined, `call ${i}: ${r.err?.code} ${r.err?.details}`);
    const [name, routeHeader] = r.reply.split('|');
    assert.equal(routeHeader, '', 'the canary filter applies only to its rule');
    shares.set(name!, (shares.get(name!) ?? 0) + 1);
  }
  // 50/50 over 100 calls: a share below 25 has probability under 1e-6.
  assert.ok((shares.get('g1') ?? 0) >= 25 && (shares.get('g2') ?? 0) >= 25, JSON.stringify([...shares]));
  assert.equal((shares.get('g1') ?? 0) + (shares.get('g2') ?? 0), N);

  // No rule: UNIMPLEMENTED; a backend that does not exist: INTERNAL; both carry weft-proxy-error.
  const none = await call(client.nope.bind(client), 'x');
  assert.equal(none.err?.code, grpc.status.UNIMPLEMENTED, none.err?.details);
  assert.equal(none.err?.details, 'no-route');
  const missing = await call(client.missing.bind(client), 'x');
  assert.equal(missing.err?.code, grpc.status.INTERNAL, missing.err?.details);
  assert.equal(missing.err?.details, 'backend-unresolved');

  // HTTPRoutes on the same listener serve HTTP/1: on another hostname, and on the GRPCRoute's own
  // hostname for the paths they match (gRPC calls above were not taken by it); a path no HTTPRoute
  // matches is 404 there, since GRPCRoute rules match only gRPC calls.
  const page = await get(port, '/index.html', { headers: { host: 'www.example' } });
  assert.equal(page.status, 200);
  assert.equal(page.headers['x-echo-pod'], 'web-0');
  const shared = await get(port, '/pages/a', { headers: { host: 'grpc.example' } });
  assert.equal(shared.status, 200);
  assert.equal(shared.headers['x-echo-pod'], 'web-0');
  const unmatched = await get(port, '/test.Echo/Unary', { headers: { host: 'grpc.example' } });
  assert.equal(unmatched.status, 404);
  assert.equal(unmatched.headers['weft-proxy-error'], 'no-route');
});
