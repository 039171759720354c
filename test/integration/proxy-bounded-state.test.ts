/**
 * Bounded state (issue 17): an app that dials ever new addresses must not grow its proxy without
 * bound. One proxy process, run with the injector's runtime settings and the real control-plane
 * adapter against a controller double, is dialled at 20,000 distinct original destinations (a third
 * unknown to the mesh, a third Services, a third pods); it must stay up, forget every destination once
 * idle (its policy and discovery watches end at the controller), and its RSS must come back within 10%
 * of what it was before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROXY_ENV } from '../../core/contract.js';
import { get } from '../support/proxy-client.js';
import { DOUBLE_TOKEN, startControllerDouble, wireEndpoint } from '../support/controller-double.js';
import { deadPort, id, listenHttp, TestPki } from '../support/proxy-fixtures.js';
import { rssMbOf, startHarness } from '../support/proxy-spawn.js';

const DESTINATIONS = 20_000;
const IDLE_MS = 3_000;


/** One connection through the outbound listener: a request, then whatever comes back or the close. */
function dial(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    const done = (): void => {
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    const timer = setTimeout(done, 10_000);
    s.once('data', done);
    s.once('close', done);
    s.once('error', done);
  });
}

async function dialMany(port: number, count: number, concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next++;
      await dial(port);
    }
  }));
}

function gauge(text: string, cache: string): number {
  const m = new RegExp(`^weft_proxy_live_destinations\\{cache="${cache}"\\} (\\S+)$`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

test(`${DESTINATIONS} distinct destinations through one proxy: it stays up, forgets them when idle, and its RSS comes back`, { timeout: 600_000 }, async (t) => {
  const pki = await TestPki.create();
  const app = await listenHttp((_req, res) => res.end('ok'));
  const port = await deadPort();
  // Which kind each address is: by its last octet, so every kind is dialled throughout.
  const kindOf = (ip: string): number => Number(ip.split('.')[3]) % 3;
  const double = await startControllerDouble(pki, (ip, p) => {
    const k = kindOf(ip);
    if (k === 1) return { kind: 'service', namespace: 'demo', name: `svc-${ip.replaceAll('.', '-')}`, port: p };
    if (k === 2) return { kind: 'pod', namespace: 'demo', name: `pod-${ip.replaceAll('.', '-')}` };
    return { kind: 'unknown' };
  }, (svc) => [wireEndpoint('127.0.0.1', app.port, `${svc.name}-0`)]);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bounded-'));
  writeFileSync(join(dir, 'token'), `${DOUBLE_TOKEN}\n`);
  const proxy = await startHarness({
    certificate: await pki.certificate(id('demo', 'unused')),
    podIp: '127.0.0.1',
    outbound: { host: '127.0.0.1', port: 0 },
    inbound: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    originalDst: { outbound: { rotate: { port } } },
    controlPlane: {
      [PROXY_ENV.podName]: 'dialer-0', [PROXY_ENV.podNamespace]: 'demo', [PROXY_ENV.podIp]: '127.0.0.1', [PROXY_ENV.serviceAccount]: 'dialer',
      [PROXY_ENV.trustAnchorsPem]: pki.anchorsPem, [PROXY_ENV.controllerAddr]: `127.0.0.1:${double.port}`,
      [PROXY_ENV.identityTokenFile]: join(dir, 'token'), [PROXY_ENV.destinationIdleTimeout]: `${IDLE_MS}ms`,
    },
  });
  const pid = proxy.child.pid!;
  const admin = (proxy.ports as unknown as { admin: number }).admin;
  t.after(() => {
    proxy.child.kill('SIGKILL');
    double.close();
    app.closeAllConnections();
    app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const metrics = async (): Promise<string> => (await get(admin, '/metrics')).body.toString();
  const forgotten = async (): Promise<string> => {
    const deadline = Date.now() + IDLE_MS * 5;
    for (;;) {
      const text = await metrics();
      const live = [gauge(text, 'lookups'), gauge(text, 'balancers')];
      if ((live.every((n) => n === 0) && double.open.outbound === 0 && double.open.discovery === 0) || Date.now() > deadline) return text;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  // Warm up (code paths, pools of the first kinds), let it all be forgotten, then take the start RSS.
  await dialMany(proxy.ports.outbound, 600, 32);
  await forgotten();
  const startRss = rssMbOf(pid);

  let peakRss = startRss;
  const alive = (): boolean => proxy.child.exitCode === null && proxy.child.signalCode === null;
  const sampler = setInterval(() => {
    if (alive()) peakRss = Math.max(peakRss, rssMbOf(pid));
  }, 200);
  const t0 = Date.now();
  await dialMany(proxy.ports.outbound, DESTINATIONS, 64);
  const loadMs = Date.now() - t0;
  clearInterval(sampler);
  assert.ok(alive(), `the proxy exited (${String(proxy.child.exitCode ?? proxy.child.signalCode)}) during the load: ${proxy.stderr().slice(-3000)}`);
  const during = await metrics();
  assert.ok(double.lookups.count >= DESTINATIONS, `the controller was asked about ${double.lookups.count} destinations`);

  const text = await forgotten();
  // Give the allocator a moment to hand freed pages back before the RSS is read.
  await new Promise((r) => setTimeout(r, 2_000));
  const endRss = rssMbOf(pid);
  t.diagnostic(`${DESTINATIONS} destinations in ${loadMs} ms; live during: lookups ${gauge(during, 'lookups')}, balancers ${gauge(during, 'balancers')}, pools ${gauge(during, 'upstream_pools')}; RSS start ${startRss.toFixed(1)} MB, peak ${peakRss.toFixed(1)} MB, end ${endRss.toFixed(1)} MB`);
  assert.ok(alive(), `the proxy exited after the load: ${proxy.stderr().slice(-3000)}`);
  assert.equal(gauge(text, 'lookups'), 0, 'policy lookups forgotten');
  assert.equal(gauge(text, 'balancers'), 0, 'balancers forgotten');
  assert.equal(double.open.outbound, 0, 'the controller still holds outbound watches');
  assert.equal(double.open.discovery, 0, 'the controller still holds discovery watches');
  assert.ok(endRss <= startRss * 1.1, `RSS ${startRss.toFixed(1)} MB before, ${endRss.toFixed(1)} MB after the idle period`);
  // Still serving.
  assert.equal((await get(admin, '/ready')).status, 200);
});
