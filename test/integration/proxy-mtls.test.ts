/**
 * mTLS between proxies and the trust rules around it (security cases 15, 16, 38, 39, 40).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { HEADER_CLIENT_ID, HEADER_PROXY_ERROR, MESH_ALPN } from '../../core/contract.js';
import type { Certificate } from '../../proxy/io.js';
import type { PolicyHook } from '../../proxy/policy-hook.js';
import { X509Certificate } from 'node:crypto';
import { get, keepAliveAgent, raw } from '../support/proxy-client.js';
import { allowAll, CLUSTER_IP, fixedDestination, id, listenHttp, meshPair, SERVICE, startTestProxy, StaticCertificates, StaticDiscovery, TestPki } from '../support/proxy-fixtures.js';

test('a server presenting another identity than discovery announced is refused', async (t) => {
  let reached = 0;
  const app = await listenHttp((_req, res) => {
    reached++;
    res.end();
  });
  const mesh = await meshPair({ appPorts: [app.port], announcedIdentity: () => id('demo', 'someone-else') });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const r = await get(mesh.client.outboundPort, '/');
  assert.equal(r.status, 502);
  assert.equal(r.headers[HEADER_PROXY_ERROR], 'peer-identity');
  assert.equal(reached, 0);
});

/** Connects to an inbound listener as a client proxy would, with `cert`, and tries one request. */
function meshRequest(port: number, cert: Certificate, anchorsPem: string): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({
      host: '127.0.0.1', port, key: cert.keyPem, cert: cert.certChainPem, ca: anchorsPem, ALPNProtocols: [MESH_ALPN.http1],
      checkServerIdentity: () => undefined,
    });
    let out = '';
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'));
    s.on('data', (d: Buffer) => {
      out += d.toString();
    });
    s.on('error', (e: Error) => resolve(`error: ${e.message}`));
    s.on('close', () => resolve(out));
  });
}

test('inbound mTLS rejects client certificates from another trust anchor, expired ones, and none', async (t) => {
  const app = await listenHttp((req, res) => res.end(`id=${String(req.headers[HEADER_CLIENT_ID])}`));
  const pki = await TestPki.create();
  const server = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'srv'))), inboundDst: fixedDestination('127.0.0.1', app.port) });
  t.after(async () => {
    await server.shutdown(0);
    app.close();
  });
  const good = await meshRequest(server.inboundPort, await pki.certificate(id('demo', 'cli')), pki.anchorsPem);
  assert.match(good, /^HTTP\/1\.1 200/);
  assert.match(good, new RegExp(`id=${id('demo', 'cli')}`));

  const foreign = await TestPki.create();
  const other = await meshRequest(server.inboundPort, await foreign.certificate(id('demo', 'cli')), pki.anchorsPem);
  assert.doesNotMatch(other, /HTTP\/1\.1 200/);

  const expired = await pki.certificate(id('demo', 'cli'), { now: new Date(Date.now() - 3 * 86_400_000), lifetimeMs: 3_600_000 });
  const old = await meshRequest(server.inboundPort, expired, pki.anchorsPem);
  assert.doesNotMatch(old, /HTTP\/1\.1 200/);

  const none = await new Promise<string>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: server.inboundPort, ca: pki.anchorsPem, ALPNProtocols: [MESH_ALPN.http1], checkServerIdentity: () => undefined });
    let out = '';
    s.on('secureConnect', () => s.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    s.on('data', (d: Buffer) => {
      out += d.toString();
    });
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
  });
  assert.doesNotMatch(none, /HTTP\/1\.1 200/);
});

const requireIdentity: PolicyHook = {
  outbound: allowAll.outbound,
  inbound: { authorize: (ctx) => (ctx.peerIdentity !== undefined ? { kind: 'allow' } : { kind: 'deny', code: 'FORBIDDEN' }) },
};

test('plaintext to a port whose policy requires mTLS is denied: 403 for HTTP, closed for opaque', async (t) => {
  let reached = 0;
  const app = await listenHttp((_req, res) => {
    reached++;
    res.end();
  });
  const pki = await TestPki.create();
  const server = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'srv'))), policy: requireIdentity, inboundDst: fixedDestination('127.0.0.1', app.port) });
  t.after(async () => {
    await server.shutdown(0);
    app.close();
  });
  const r = await get(server.inboundPort, '/');
  assert.equal(r.status, 403);
  assert.equal(r.headers[HEADER_PROXY_ERROR], 'forbidden');
  const opaque = await raw(server.inboundPort, Buffer.from([0, 1, 2, 3]));
  assert.equal(opaque, '');
  assert.equal(reached, 0);
  assert.equal(server.stats.inbound.authzDeny, 2);
});

test("client-sent weft-* headers never reach the app; weft-client-id is absent on plaintext", async (t) => {
  let seen: Record<string, unknown> = {};
  const app = await listenHttp((req, res) => {
    seen = req.headers;
    res.end();
  });
  const pki = await TestPki.create();
  const server = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'srv'))), inboundDst: fixedDestination('127.0.0.1', app.port) });
  t.after(async () => {
    await server.shutdown(0);
    app.close();
  });
  await get(server.inboundPort, '/', { headers: { [HEADER_CLIENT_ID]: id('demo', 'forged'), 'weft-internal': 'x', 'Weft-Other': 'y', 'x-keep': '1' } });
  assert.equal(seen[HEADER_CLIENT_ID], undefined);
  assert.equal(seen['weft-internal'], undefined);
  assert.equal(seen['weft-other'], undefined);
  assert.equal(seen['x-keep'], '1');
});

test('inbound traffic reaches the app on the pod IP, so an app bound to 127.0.0.1 is not exposed', async (t) => {
  const app = await listenHttp((_req, res) => res.end('loopback only'), '127.0.0.1');
  const pki = await TestPki.create();
  const server = await startTestProxy({
    certificates: new StaticCertificates(await pki.certificate(id('demo', 'srv'))),
    podIp: '127.0.0.2',
    inboundDst: fixedDestination('127.0.0.2', app.port),
  });
  t.after(async () => {
    await server.shutdown(0);
    app.close();
  });
  const r = await get(server.inboundPort, '/');
  assert.equal(r.status, 502);
  assert.equal(r.headers[HEADER_PROXY_ERROR], 'app-unreachable');
});

test('nothing is served before the proxy has its certificate; /ready turns true after', async (t) => {
  const pki = await TestPki.create();
  const certs = new StaticCertificates();
  let started = false;
  const pending = startTestProxy({ certificates: certs, admin: true }).then((p) => {
    started = true;
    return p;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(started, false, 'the data listeners wait for the certificate');
  certs.set(await pki.certificate(id('demo', 'late')));
  const proxy = await pending;
  t.after(() => proxy.shutdown(0));
  const ready = await get(proxy.adminPort!, '/ready');
  assert.equal(ready.status, 200);
});

test('the admin port is read-only and separate from the data ports', async (t) => {
  const app = await listenHttp((req, res) => res.end(`app saw ${req.url ?? ''}`));
  const pki = await TestPki.create();
  const proxy = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'a'))), admin: true, inboundDst: fixedDestination('127.0.0.1', app.port) });
  t.after(async () => {
    await proxy.shutdown(0);
    app.close();
  });
  for (const method of ['POST', 'PUT', 'DELETE']) {
    for (const path of ['/ready', '/metrics', '/config', '/shutdown', '/quitquitquit']) {
      const r = await get(proxy.adminPort!, path, { method });
      assert.equal(r.status, 405, `${method} ${path}`);
    }
  }
  assert.equal((await get(proxy.adminPort!, '/shutdown')).status, 404);
  assert.equal((await get(proxy.adminPort!, '/live')).status, 200);
  const metrics = await get(proxy.adminPort!, '/metrics');
  assert.match(metrics.body.toString(), /weft_proxy_responses_total/);
  const config = JSON.parse((await get(proxy.adminPort!, '/config')).body.toString()) as Record<string, unknown>;
  assert.equal(config['identity'], id('demo', 'a'));
  assert.doesNotMatch(JSON.stringify(config), /PRIVATE KEY/);
  // Through the data port, /metrics is the app's path, not the admin's.
  const viaData = await get(proxy.inboundPort, '/metrics');
  assert.equal(viaData.body.toString(), 'app saw /metrics');
  // The admin server still answers after all that.
  assert.equal((await get(proxy.adminPort!, '/live')).status, 200);
});

test('certificate rotation under load: zero failed requests across two rotations; new connections use the new certificate', async (t) => {
  const app = await listenHttp((req, res) => res.end(String(req.headers[HEADER_CLIENT_ID])));
  const pki = await TestPki.create();
  const serverCerts = new StaticCertificates(await pki.certificate(id('demo', 'srv')));
  const clientCerts = new StaticCertificates(await pki.certificate(id('demo', 'cli')));
  const server = await startTestProxy({ certificates: serverCerts, inboundDst: fixedDestination('127.0.0.1', app.port) });
  const discovery = new StaticDiscovery().service(CLUSTER_IP, SERVICE, [{ ip: '127.0.0.1', port: server.inboundPort, meshed: true, identity: id('demo', 'srv') }]);
  const client = await startTestProxy({ certificates: clientCerts, discovery, outboundDst: fixedDestination(CLUSTER_IP, 80) });
  t.after(async () => {
    await Promise.all([client.shutdown(0), server.shutdown(0)]);
    app.close();
  });
  const agent = keepAliveAgent(8);
  t.after(() => agent.destroy());
  let stop = false;
  const statuses: number[] = [];
  const load = Promise.all(Array.from({ length: 8 }, async () => {
    while (!stop) statuses.push((await get(client.outboundPort, '/', { agent })).status);
  }));
  // A request that throws ends the pacing below; `await load` then reports it.
  load.catch(() => { stop = true; });
  const newServer = [await pki.certificate(id('demo', 'srv')), await pki.certificate(id('demo', 'srv'))];
  const newClient = [await pki.certificate(id('demo', 'cli')), await pki.certificate(id('demo', 'cli'))];
  // Rotations are paced by completed requests, not by time, so each one happens under load however
  // slow the machine: 15 requests before the first, between the two, and after the second.
  const afterRequests = async (n: number): Promise<void> => {
    while (!stop && statuses.length < n) await new Promise((r) => setTimeout(r, 10));
  };
  for (let i = 0; i < 2; i++) {
    await afterRequests(15 * (i + 1));
    serverCerts.set(newServer[i]!);
    clientCerts.set(newClient[i]!);
  }
  await afterRequests(45);
  stop = true;
  await load;
  assert.deepEqual(statuses.filter((s) => s !== 200), []);
  // A fresh connection after rotation presents the newest server certificate.
  const presented = await new Promise<string>((resolve, reject) => {
    const cert = newClient[1]!;
    const s = tlsConnect({ host: '127.0.0.1', port: server.inboundPort, key: cert.keyPem, cert: cert.certChainPem, ca: pki.anchorsPem, ALPNProtocols: [MESH_ALPN.http1], checkServerIdentity: () => undefined });
    s.on('secureConnect', () => {
      resolve(s.getPeerX509Certificate()?.serialNumber ?? '');
      s.destroy();
    });
    s.on('error', reject);
  });
  assert.equal(presented, new X509Certificate(newServer[1]!.certChainPem).serialNumber);
});
