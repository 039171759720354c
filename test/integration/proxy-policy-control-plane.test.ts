/**
 * The policy streams end to end: a test policy server speaks the api/ contracts over mTLS
 * (Identity.Certify, OutboundPolicy.Watch with routes, InboundPolicy.Watch, Discovery.Watch), the
 * proxy is assembled by connectControlPlane exactly as `weft proxy` does, and real requests check
 * that pushed routes, route changes on an open stream and inbound authorization are enforced, and
 * that a configured app port keeps the proxy not ready until its policy arrives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HEADER_CLIENT_ID, PROXY_ENV } from '../../core/contract.js';
import { DiscoveryService } from '../../api/gen/weft/discovery/v1/discovery.js';
import type { Endpoints as WireEndpoints, ServicePortTarget } from '../../api/gen/weft/discovery/v1/discovery.js';
import { IdentityService } from '../../api/gen/weft/identity/v1/identity.js';
import type { CertifyRequest, CertifyResponse } from '../../api/gen/weft/identity/v1/identity.js';
import { InboundPolicyService } from '../../api/gen/weft/inbound/v1/inbound.js';
import type { InboundTarget, PortPolicy } from '../../api/gen/weft/inbound/v1/inbound.js';
import { OutboundPolicyService } from '../../api/gen/weft/outbound/v1/outbound.js';
import type { DestinationPolicy, OutboundTarget } from '../../api/gen/weft/outbound/v1/outbound.js';
import { authz, mtls, mtlsRef, NS, policyFor, server, sid, snapshot, toServer } from '../../core/inbound/testdata/fixtures.js';
import type { HTTPRoute } from '../../core/kube.js';
import { EMPTY_SNAPSHOT } from '../../core/kube.js';
import { indexSnapshot, outboundView } from '../../core/outbound/policy.js';
import { controllerSpiffeId } from '../../identity/spiffe.js';
import { DEFAULT_CONVERT_OPTIONS, servicePolicy } from '../../policy-controller/services/convert.js';
import { parseProxyConfig } from '../../proxy/config.js';
import { connectControlPlane } from '../../proxy/control-plane.js';
import { startProxy } from '../../proxy/proxy.js';
import { get } from '../support/proxy-client.js';
import { fixedDestination } from '../support/proxy-fixtures.js';
import { echoApp, TestPki, wirePortPolicy } from './proxy-policy-harness.js';

const route = (backend: string): HTTPRoute => ({
  metadata: { name: 'canary', namespace: 'demo', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web', port: 80 }], rules: [{ backendRefs: [{ name: backend, port: 80 }] }] },
});

function destination(backend: string, version: number): DestinationPolicy {
  const snap = {
    ...EMPTY_SNAPSHOT,
    namespaces: [{ metadata: { name: 'demo' } }],
    services: ['web', 'web-v2'].map((name, i) => ({ metadata: { name, namespace: 'demo' }, spec: { clusterIP: `10.96.0.${10 + i}`, ports: [{ port: 80 }] } })),
    httpRoutes: [route(backend)],
  };
  const view = outboundView(indexSnapshot(snap), 'demo', 'demo', 'web', 80);
  assert.ok(view);
  return { version, destination: { $case: 'service', value: servicePolicy(view, DEFAULT_CONVERT_OPTIONS) } };
}

test('routes and authorizations pushed over the policy streams are enforced, and a route change on an open stream applies to new requests', async (t) => {
  const pki = await TestPki.create();
  const v1 = await echoApp('web-0');
  const v2 = await echoApp('web-v2-0');
  const local = await echoApp('client-app');
  const outboundStreams: grpc.ServerWritableStream<OutboundTarget, DestinationPolicy>[] = [];
  let releaseInbound: (() => void) | undefined;
  const inboundAsked: number[] = [];

  const server_ = new grpc.Server();
  server_.addService(IdentityService, {
    certify: (call: grpc.ServerUnaryCall<CertifyRequest, CertifyResponse>, cb: grpc.sendUnaryData<CertifyResponse>) => {
      const s = pki.signCsr(call.request.csrPem, call.request.identity);
      cb(null, { leafPem: s.leafPem, chainPem: s.chainPem, validUntil: s.notAfter });
    },
  });
  server_.addService(OutboundPolicyService, {
    watch: (call: grpc.ServerWritableStream<OutboundTarget, DestinationPolicy>) => {
      if (call.request.ip === '10.96.0.10' && call.request.port === 80) {
        outboundStreams.push(call);
        call.write(destination('web', 1));
      } else {
        call.write({ version: 1, destination: { $case: 'unknown', value: {} } });
      }
    },
  });
  server_.addService(DiscoveryService, {
    watch: (call: grpc.ServerWritableStream<ServicePortTarget, WireEndpoints>) => {
      const app = call.request.name === 'web' ? v1 : v2;
      call.write({
        version: 1, serviceExists: true,
        endpoints: [{ ip: '127.0.0.1', port: app.port, ready: true, serving: true, terminating: false, podNamespace: 'demo', podName: app.pod, zone: '', node: '', meshed: false, identity: '', protocol: 'PROTOCOL_HINT_UNSPECIFIED' }],
      });
    },
    lookup: (_call: unknown, cb: grpc.sendUnaryData<never>) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  server_.addService(InboundPolicyService, {
    watch: (call: grpc.ServerWritableStream<InboundTarget, PortPolicy>) => {
      inboundAsked.push(call.request.port);
      // The controller answers when the test says so: until then the port has no policy.
      releaseInbound = () => {
        const snap = snapshot({
          servers: [server('api-http')],
          meshTLSAuthentications: [mtls('frontend', { identities: [sid(NS, 'frontend')] })],
          authorizationPolicies: [authz('frontend-in', toServer('api-http'), [mtlsRef('frontend')])],
        });
        call.write(wirePortPolicy(policyFor(snap, 8080, { probeNetworks: [] })));
      };
    },
  });
  const ctl = await pki.serving(controllerSpiffeId('cluster.local'), ['weft-controller.weft-system.svc']);
  const port = await new Promise<number>((resolve, reject) => server_.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createSsl(Buffer.from(pki.anchorsPem), [{ private_key: Buffer.from(ctl.keyPem), cert_chain: Buffer.from(ctl.certChainPem) }], false),
    (e, p) => (e ? reject(e) : resolve(p))));

  const dir = mkdtempSync(join(tmpdir(), 'weft-policy-cp-'));
  writeFileSync(join(dir, 'token'), 'token\n');
  const parsed = parseProxyConfig({
    [PROXY_ENV.podName]: 'client-0', [PROXY_ENV.podNamespace]: 'demo', [PROXY_ENV.podIp]: '127.0.0.1', [PROXY_ENV.serviceAccount]: 'client',
    [PROXY_ENV.trustAnchorsPem]: pki.anchorsPem, [PROXY_ENV.controllerAddr]: `127.0.0.1:${port}`, [PROXY_ENV.identityTokenFile]: join(dir, 'token'),
    [PROXY_ENV.inboundPorts]: String(local.port),
  });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.errors.join('; '));
  if (!parsed.ok) return;
  const cp = await connectControlPlane(parsed.config, { lookupTimeoutMs: 2_000 });
  let outboundPort = -1;
  const proxy = await startProxy({
    limits: parsed.config.limits, podIp: '127.0.0.1', opaquePorts: parsed.config.opaquePorts,
    destinations: cp.destinations, endpoints: cp.endpoints, policy: cp.policy, routeMetrics: cp.routeMetrics, certificates: cp.certificates, readiness: cp.readiness,
    originalDestination: (s) => (s.localPort === outboundPort ? fixedDestination('10.96.0.10', 80)() : fixedDestination('127.0.0.1', local.port)()),
    outbound: { host: '127.0.0.1', port: 0 }, inbound: { host: '127.0.0.1', port: 0 },
  });
  outboundPort = proxy.outboundPort;
  t.after(async () => {
    await proxy.shutdown(0);
    cp.close();
    server_.forceShutdown();
    for (const a of [v1, v2, local]) a.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Outbound: the pushed route sends to web; a new snapshot on the same stream moves new requests to web-v2.
  assert.equal((await get(proxy.outboundPort, '/')).headers['x-echo-pod'], 'web-0');
  assert.equal(outboundStreams.length, 1);
  outboundStreams[0]!.write(destination('web-v2', 2));
  let pod = '';
  for (let i = 0; i < 50 && pod !== 'web-v2-0'; i++) {
    pod = String((await get(proxy.outboundPort, '/')).headers['x-echo-pod']);
    if (pod !== 'web-v2-0') await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(pod, 'web-v2-0');

  // Inbound: the configured app port was watched at start; until its policy arrives the proxy is not
  // ready and the port is not served.
  for (let i = 0; i < 100 && inboundAsked.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(inboundAsked, [local.port]);
  assert.equal(proxy.isReady(), false);
  assert.equal((await get(proxy.inboundPort, '/in')).status, 503);
  releaseInbound!();
  for (let i = 0; i < 100 && !proxy.isReady(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(proxy.isReady(), true);
  const denied = await get(proxy.inboundPort, '/in', { headers: { [HEADER_CLIENT_ID]: sid(NS, 'frontend') } });
  assert.equal(denied.status, 403, 'plaintext with a forged identity header is denied by the Server');
  assert.equal(local.seen.length, 0);
});
