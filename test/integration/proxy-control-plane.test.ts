/**
 * The control-plane adapter against a controller double speaking the real api/ contracts over TLS:
 * Certify issues the proxy's certificate, OutboundPolicy.Watch describes destinations, Discovery.Watch
 * streams endpoints; then a proxy started on those ports serves a request end to end.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { PROXY_ENV } from '../../core/contract.js';
import { DiscoveryService } from '../../api/gen/weft/discovery/v1/discovery.js';
import type { Endpoints as WireEndpoints, ServicePortTarget } from '../../api/gen/weft/discovery/v1/discovery.js';
import { IdentityService } from '../../api/gen/weft/identity/v1/identity.js';
import type { CertifyRequest, CertifyResponse } from '../../api/gen/weft/identity/v1/identity.js';
import { OutboundPolicyService } from '../../api/gen/weft/outbound/v1/outbound.js';
import type { DestinationPolicy, OutboundTarget } from '../../api/gen/weft/outbound/v1/outbound.js';
import { controllerSpiffeId } from '../../identity/spiffe.js';
import { parseProxyConfig } from '../../proxy/config.js';
import { connectControlPlane } from '../../proxy/control-plane.js';
import type { Destinations, Endpoint } from '../../proxy/io.js';
import { startProxy } from '../../proxy/proxy.js';
import { get } from '../support/proxy-client.js';
import { DOUBLE_TOKEN, startControllerDouble } from '../support/controller-double.js';
import { fixedDestination, id, listenHttp, meshPair, TestPki } from '../support/proxy-fixtures.js';

test('the proxy gets its certificate, destinations and endpoints from the controller over the api/ contracts', async (t) => {
  const pki = await TestPki.create();
  const app = await listenHttp((_req, res) => res.end('through the control plane'));
  // A server pod to send to (its own proxy fed by test doubles).
  const mesh = await meshPair({ appPorts: [app.port], pki });
  const serverEp = mesh.endpoints[0]!;
  const certified: string[] = [];
  let unknownAsked = 0;

  const server = new grpc.Server();
  server.addService(IdentityService, {
    certify: (call: grpc.ServerUnaryCall<CertifyRequest, CertifyResponse>, cb: grpc.sendUnaryData<CertifyResponse>) => {
      if (call.request.token !== 'the-token') {
        cb({ code: grpc.status.UNAUTHENTICATED, details: 'bad token' });
        return;
      }
      certified.push(call.request.identity);
      const s = pki.signCsr(call.request.csrPem, call.request.identity);
      cb(null, { leafPem: s.leafPem, chainPem: s.chainPem, validUntil: s.notAfter });
    },
  });
  server.addService(OutboundPolicyService, {
    watch: (call: grpc.ServerWritableStream<OutboundTarget, DestinationPolicy>) => {
      const r = call.request;
      if (r.ip === '10.96.0.10' && r.port === 80) {
        call.write({ version: 1, destination: { $case: 'service', value: { service: { namespace: 'demo', name: 'web', port: 80, authority: 'web.demo.svc.cluster.local:80' }, protocol: 'PROTOCOL_HINT_UNSPECIFIED', routes: { $case: 'passthrough', value: {} } } } });
      } else if (r.ip === '10.96.0.99') {
        call.write({ version: 1, destination: { $case: 'unsupported', value: { kind: 'x', reason: 'test' } } });
      } else {
        unknownAsked++;
        call.write({ version: 1, destination: { $case: 'unknown', value: {} } });
      }
    },
  });
  server.addService(DiscoveryService, {
    watch: (call: grpc.ServerWritableStream<ServicePortTarget, WireEndpoints>) => {
      call.write({
        version: 1, serviceExists: true,
        endpoints: [
          { ip: serverEp.ip, port: serverEp.port, ready: true, serving: true, terminating: false, podNamespace: 'demo', podName: 'web-0', zone: '', node: '', meshed: true, identity: serverEp.identity!, protocol: 'PROTOCOL_HINT_UNSPECIFIED' },
          { ip: '127.0.0.1', port: 1, ready: false, serving: false, terminating: true, podNamespace: 'demo', podName: 'web-1', zone: '', node: '', meshed: true, identity: id('demo', 'web-1'), protocol: 'PROTOCOL_HINT_UNSPECIFIED' },
        ],
      });
    },
    lookup: (_call: unknown, cb: grpc.sendUnaryData<never>) => cb({ code: grpc.status.UNIMPLEMENTED }),
  });
  const ctl = await pki.serving(controllerSpiffeId('cluster.local'), ['weft-controller.weft-system.svc']);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createSsl(Buffer.from(pki.anchorsPem), [{ private_key: Buffer.from(ctl.keyPem), cert_chain: Buffer.from(ctl.certChainPem) }], false),
    (e, p) => (e ? reject(e) : resolve(p))));

  const dir = mkdtempSync(join(tmpdir(), 'weft-cp-'));
  writeFileSync(join(dir, 'token'), 'the-token\n');
  const parsed = parseProxyConfig({
    [PROXY_ENV.podName]: 'client-0', [PROXY_ENV.podNamespace]: 'demo', [PROXY_ENV.podIp]: '127.0.0.1', [PROXY_ENV.serviceAccount]: 'client',
    [PROXY_ENV.trustAnchorsPem]: pki.anchorsPem, [PROXY_ENV.controllerAddr]: `127.0.0.1:${port}`, [PROXY_ENV.identityTokenFile]: join(dir, 'token'),
  });
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const cp = await connectControlPlane(parsed.config, { lookupTimeoutMs: 2_000 });
  const proxy = await startProxy({
    limits: parsed.config.limits, podIp: '127.0.0.1', opaquePorts: parsed.config.opaquePorts,
    destinations: cp.destinations, endpoints: cp.endpoints, policy: cp.policy, certificates: cp.certificates, readiness: cp.readiness,
    originalDestination: fixedDestination('10.96.0.10', 80), outbound: { host: '127.0.0.1', port: 0 }, inbound: { host: '127.0.0.1', port: 0 },
  });
  t.after(async () => {
    await proxy.shutdown(0);
    cp.close();
    await mesh.close();
    server.forceShutdown();
    app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  assert.deepEqual(certified, [id('demo', 'client')]);
  assert.equal(cp.certificates.current()?.identity, id('demo', 'client'));
  assert.deepEqual(await cp.destinations.resolve('10.96.0.10', 80), { kind: 'service', service: { namespace: 'demo', name: 'web', port: 80 }, protocolHint: 'detect' });
  assert.equal((await cp.destinations.resolve('10.96.0.99', 80)).kind, 'refused', 'unsupported destinations fail closed');
  assert.deepEqual(await cp.destinations.resolve('192.0.2.7', 443), { kind: 'unknown' });
  await cp.destinations.resolve('192.0.2.7', 443);
  assert.equal(unknownAsked, 1, 'a destination is watched once, then answered from the cache');
  const eps = await new Promise<readonly Endpoint[]>((resolve) => {
    const stop = cp.endpoints.watch({ namespace: 'demo', name: 'web', port: 80 }, (e) => {
      stop();
      resolve(e);
    });
  });
  assert.deepEqual(eps, [{ ip: serverEp.ip, port: serverEp.port, meshed: true, identity: serverEp.identity }], 'only ready, non-terminating endpoints');
  assert.ok(proxy.isReady());

  const r = await get(proxy.outboundPort, '/');
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), 'through the control plane');
});

test('a controller that never answers: each lookup is refused at its timeout and forgotten, so the cache and the watches stay bounded', async (t) => {
  const pki = await TestPki.create();
  const double = await startControllerDouble(pki, () => ({ kind: 'silent' }), () => []);
  t.after(() => double.close());
  const max = 20;
  const { cp } = await controlPlaneOn(t, pki, double.port, max, 30);

  // As the outbound listener does: resolve, then release when the connection closes, 10 at a time.
  const destinations = 400;
  let largest = 0;
  for (let i = 0; i < destinations; i += 10) {
    const batch = Array.from({ length: 10 }, (_, j) => `192.0.2.${(i + j) % 250}|${1000 + Math.floor((i + j) / 250)}`);
    const answers = await Promise.all(batch.map(async (key) => {
      const [ip, port] = key.split('|') as [string, string];
      const d = await cp.destinations.resolve(ip, Number(port));
      largest = Math.max(largest, cp.destinations.size?.() ?? 0);
      cp.destinations.release?.(ip, Number(port));
      return d;
    }));
    for (const d of answers) assert.equal(d.kind, 'refused');
  }
  assert.ok(double.lookups.count >= max, `the controller was asked ${double.lookups.count} times`);
  assert.ok(largest <= max + 10, `${largest} destinations remembered at once for a bound of ${max} and 10 in use`);
  const deadline = Date.now() + 5_000;
  while (double.open.outbound > max && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(double.open.outbound <= max, `${double.open.outbound} watches open at the controller for a bound of ${max}`);
});

/** A control plane against `double`, with a destination bound of `max`, its log lines collected. */
async function controlPlaneOn(t: TestContext, pki: TestPki, port: number, max: number, lookupTimeoutMs: number) {
  const dir = mkdtempSync(join(tmpdir(), 'weft-cp-'));
  writeFileSync(join(dir, 'token'), `${DOUBLE_TOKEN}\n`);
  const parsed = parseProxyConfig({
    [PROXY_ENV.podName]: 'client-0', [PROXY_ENV.podNamespace]: 'demo', [PROXY_ENV.podIp]: '127.0.0.1', [PROXY_ENV.serviceAccount]: 'client',
    [PROXY_ENV.trustAnchorsPem]: pki.anchorsPem, [PROXY_ENV.controllerAddr]: `127.0.0.1:${port}`, [PROXY_ENV.identityTokenFile]: join(dir, 'token'),
    [PROXY_ENV.maxDestinations]: String(max),
  });
  assert.ok(parsed.ok);
  if (!parsed.ok) throw new Error('config');
  const lines: string[] = [];
  const cp = await connectControlPlane(parsed.config, { lookupTimeoutMs, log: (l) => lines.push(l) });
  t.after(() => {
    cp.close();
    rmSync(dir, { recursive: true, force: true });
  });
  while (cp.certificates.current() === undefined) await new Promise((r) => setTimeout(r, 20));
  return { cp, lines };
}

/** Resolves and releases `count` distinct destinations, `batch` at a time, as connections would. */
async function churn(cp: { readonly destinations: Destinations }, count: number, batch: number): Promise<string[]> {
  const kinds: string[] = [];
  for (let i = 0; i < count; i += batch) {
    kinds.push(...await Promise.all(Array.from({ length: Math.min(batch, count - i) }, async (_, j) => {
      const n = i + j;
      const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      const d = await cp.destinations.resolve(ip, 80);
      cp.destinations.release?.(ip, 80);
      return d.kind;
    })));
  }
  return kinds;
}

test('forgotten destinations end by half-close, not by reset: 3,000 of them never trip the controller\'s rapid-reset guard', async (t) => {
  const pki = await TestPki.create();
  // Services, so each answer also puts (and its end takes) the Service's routes in the store.
  const double = await startControllerDouble(pki, (ip) => ({ kind: 'service', namespace: 'demo', name: `s-${ip.replaceAll('.', '-')}`, port: 80 }), () => []);
  t.after(() => double.close());
  const { cp, lines } = await controlPlaneOn(t, pki, double.port, 20, 5_000);
  const kinds = await churn(cp, 3_000, 20);
  assert.deepEqual([...new Set(kinds)], ['service'], 'every destination answered');
  const deadline = Date.now() + 10_000;
  while (double.open.outbound > 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.diagnostic(`${double.lookups.count} lookups; streams ended cleanly ${double.ended.clean}, by a reset ${double.ended.reset}; open ${double.open.outbound}`);
  assert.equal(double.lookups.count, 3_000, 'each destination asked once: no stream was failed and re-opened');
  assert.equal(double.ended.reset, 0, 'no stream was reset');
  assert.ok(double.ended.clean >= 3_000 - 20, `${double.ended.clean} streams ended cleanly`);
  assert.deepEqual(lines.filter((l) => /stream failed/.test(l)), [], 'no stream failed');
});

test('a controller without Follow (older than the proxy): the proxy says so once and uses Watch', async (t) => {
  const pki = await TestPki.create();
  const double = await startControllerDouble(pki, () => ({ kind: 'unknown' }), () => [], { follow: false });
  t.after(() => double.close());
  const { cp, lines } = await controlPlaneOn(t, pki, double.port, 20, 5_000);
  const kinds = await churn(cp, 60, 10);
  assert.deepEqual([...new Set(kinds)], ['unknown']);
  assert.equal(double.lookups.count, 60);
  assert.equal(lines.filter((l) => /does not serve outbound Follow; using Watch/.test(l)).length, 1, lines.join('\n'));
  assert.deepEqual(lines.filter((l) => /stream failed/.test(l)), []);
});
