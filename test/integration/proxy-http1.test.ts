/**
 * HTTP/1.1 through a real meshed hop (client proxy -> mTLS -> server proxy -> app), in process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { HEADER_CLIENT_ID, HEADER_PROXY_ERROR } from '../../core/contract.js';
import { get, keepAliveAgent } from '../support/proxy-client.js';
import { CLUSTER_IP, SERVICE, fixedDestination, id, listenHttp, meshPair, startTestProxy, StaticCertificates, StaticDiscovery, TestPki } from '../support/proxy-fixtures.js';

test('HTTP/1.1 over the meshed hop: keep-alive GETs reach the app with the verified client identity', async (t) => {
  const seen: { path: string; clientId: unknown; host: unknown }[] = [];
  const app = await listenHttp((req, res) => {
    seen.push({ path: req.url ?? '', clientId: req.headers[HEADER_CLIENT_ID], host: req.headers.host });
    res.end('hello');
  });
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const agent = keepAliveAgent(4);
  t.after(() => agent.destroy());
  for (let i = 0; i < 20; i++) {
    const r = await get(mesh.client.outboundPort, `/x/${i}?q=1`, { agent, headers: { host: 'web.demo', [HEADER_CLIENT_ID]: 'spiffe://evil/ns/x/sa/y' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), 'hello');
  }
  assert.equal(seen.length, 20);
  assert.equal(seen[3]!.path, '/x/3?q=1');
  assert.equal(seen[3]!.host, 'web.demo');
  assert.equal(seen[3]!.clientId, id('demo', 'client'), 'weft-client-id comes from the certificate, never from the client');
});

test('chunked and large bodies stream both ways unchanged', async (t) => {
  const app = await listenHttp((req, res) => {
    const h = createHash('sha256');
    let n = 0;
    req.on('data', (c: Buffer) => {
      h.update(c);
      n += c.length;
    });
    req.on('end', () => {
      res.setHeader('x-req-te', String(req.headers['transfer-encoding'] ?? ''));
      res.setHeader('x-req-sha', h.digest('hex'));
      res.setHeader('x-req-len', String(n));
      // A large chunked response.
      const block = Buffer.alloc(64 * 1024, 7);
      for (let i = 0; i < 64; i++) res.write(block);
      res.end();
    });
  });
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const parts = Array.from({ length: 50 }, (_, i) => Buffer.alloc(100_000, i));
  const whole = Buffer.concat(parts);
  const r = await get(mesh.client.outboundPort, '/upload', { method: 'POST', body: parts, headers: { 'transfer-encoding': 'chunked' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-req-te'], 'chunked');
  assert.equal(r.headers['x-req-len'], String(whole.length));
  assert.equal(r.headers['x-req-sha'], createHash('sha256').update(whole).digest('hex'));
  assert.equal(r.body.length, 64 * 64 * 1024);
  const small = await get(mesh.client.outboundPort, '/small', { method: 'POST', body: 'abc', headers: { 'content-length': '3' } });
  assert.equal(small.headers['x-req-len'], '3');
  assert.equal(small.headers['x-req-te'], '');
});

test('at most one TLS handshake per 1,000 requests at steady state', async (t) => {
  const app = await listenHttp((_req, res) => res.end('ok'));
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const agent = keepAliveAgent(4);
  t.after(() => agent.destroy());
  const batch = async (n: number) => {
    for (let i = 0; i < n; i += 4) await Promise.all([0, 1, 2, 3].map(() => get(mesh.client.outboundPort, '/', { agent })));
  };
  await batch(40); // warm the pools
  const before = mesh.client.stats.tlsHandshakesOut();
  await batch(2000);
  const handshakes = mesh.client.stats.tlsHandshakesOut() - before;
  assert.ok(handshakes <= 2, `${handshakes} handshakes for 2,000 requests`);
  assert.equal(mesh.client.stats.outbound.responses['2xx'], 2040);
});

test('WebSocket upgrades are tunnelled through the hop both ways', async (t) => {
  const app = await listenHttp((_req, res) => res.end());
  app.on('upgrade', (req, socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-client-id: ${String(req.headers[HEADER_CLIENT_ID])}\r\n\r\n`);
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
  });
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const got = await new Promise<string>((resolve, reject) => {
    const s = connect(mesh.client.outboundPort, '127.0.0.1');
    let buf = '';
    s.on('error', reject);
    s.write('GET /ws HTTP/1.1\r\nhost: web\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: x\r\nsec-websocket-version: 13\r\n\r\n');
    s.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\r\n\r\n') && !buf.includes('echo:')) s.write('ping');
      if (buf.includes('echo:ping')) {
        s.destroy();
        resolve(buf);
      }
    });
  });
  assert.match(got, /^HTTP\/1\.1 101/);
  assert.match(got, new RegExp(`x-client-id: ${id('demo', 'client')}`));
});

test('a Service with no ready endpoint is answered 503 at once', async (t) => {
  const pki = await TestPki.create();
  const discovery = new StaticDiscovery().service(CLUSTER_IP, SERVICE, []);
  const client = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'c'))), discovery, outboundDst: fixedDestination(CLUSTER_IP, 80) });
  t.after(() => client.shutdown(0));
  const t0 = Date.now();
  const r = await get(client.outboundPort, '/');
  assert.equal(r.status, 503);
  assert.equal(r.headers[HEADER_PROXY_ERROR], 'no-endpoints');
  assert.ok(Date.now() - t0 < 500);
});
