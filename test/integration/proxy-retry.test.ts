/**
 * Retries only for requests that provably never reached an app, and graceful drain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import { HEADER_PROXY_ERROR } from '../../core/contract.js';
import { get, keepAliveAgent } from '../support/proxy-client.js';
import { SERVICE, deadPort, id, listenHttp, meshPair } from '../support/proxy-fixtures.js';


test("a dead endpoint's connection failures are retried elsewhere: no request fails", async (t) => {
  let served = 0;
  const app = await listenHttp((_req, res) => {
    served++;
    res.end('ok');
  });
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  // Two more endpoints whose proxies are gone: nothing listens there.
  mesh.discovery.setEndpoints(SERVICE, [
    ...mesh.endpoints,
    { ip: '127.0.0.1', port: await deadPort(), meshed: true, identity: id('demo', 'gone-1') },
    { ip: '127.0.0.1', port: await deadPort(), meshed: true, identity: id('demo', 'gone-2') },
  ]);
  const agent = keepAliveAgent(8);
  t.after(() => agent.destroy());
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => get(mesh.client.outboundPort, `/${i}`, i % 2 ? { agent, method: 'POST', body: 'small body' } : { agent })));
  assert.deepEqual(results.filter((r) => r.status !== 200).map((r) => r.status), []);
  assert.equal(served, 200);
  assert.ok(mesh.client.stats.outbound.retries > 0, 'some attempts went to the dead endpoints and were retried');
});

test('a server proxy whose app is gone makes the client proxy retry elsewhere: no request fails', async (t) => {
  const live = await listenHttp((_req, res) => res.end('live'));
  const mesh = await meshPair({ appPorts: [live.port, await deadPort()] });
  t.after(async () => {
    await mesh.close();
    live.close();
  });
  const agent = keepAliveAgent(8);
  t.after(() => agent.destroy());
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => get(mesh.client.outboundPort, `/${i}`, { agent })));
  assert.deepEqual(results.filter((r) => r.status !== 200).map((r) => r.status), []);
  assert.ok(results.every((r) => r.body.toString() === 'live'));
  assert.ok((mesh.servers[1]!.stats.inbound.errors.get('APP_UNREACHABLE') ?? 0) > 0, 'the second server proxy did answer app-unreachable');
  assert.ok(mesh.client.stats.outbound.retries > 0);
});

test('the server proxy names an unreachable app in weft-proxy-error', async (t) => {
  const mesh = await meshPair({ appPorts: [await deadPort()] });
  t.after(() => mesh.close());
  const r = await get(mesh.client.outboundPort, '/');
  assert.equal(r.status, 502);
  assert.equal(r.headers[HEADER_PROXY_ERROR], 'app-unreachable');
});

test('bodies above 64 KiB are not buffered for retry: the request fails rather than replays', async (t) => {
  const mesh = await meshPair({ appPorts: [await deadPort()] });
  t.after(() => mesh.close());
  const live = await listenHttp((_req, res) => res.end('live'));
  t.after(() => live.close());
  const r = await get(mesh.client.outboundPort, '/', { method: 'POST', body: Buffer.alloc(100 * 1024, 1) });
  assert.equal(r.status, 502);
  assert.equal(mesh.client.stats.outbound.retries, 0);
});

test('HTTP/2 streams refused by a dead endpoint are retried elsewhere', async (t) => {
  const app = createH2Server();
  app.on('stream', (s) => {
    s.respond({ ':status': 200 });
    s.end('h2 ok');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const mesh = await meshPair({ appPorts: [(app.address() as AddressInfo).port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  mesh.discovery.setEndpoints(SERVICE, [...mesh.endpoints, { ip: '127.0.0.1', port: await deadPort(), meshed: true, identity: id('demo', 'gone') }]);
  const session = h2connect(`http://127.0.0.1:${mesh.client.outboundPort}`);
  t.after(() => session.close());
  const one = () => new Promise<number>((resolve, reject) => {
    const req = session.request({ ':path': '/' });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', reject);
    req.resume();
    req.end();
  });
  const statuses = await Promise.all(Array.from({ length: 50 }, one));
  assert.deepEqual(statuses.filter((s) => s !== 200), []);
});

test('drain on shutdown: in-flight requests all complete, the listener stops accepting, exit within the grace period', async (t) => {
  let arrived = 0;
  let allArrived: () => void = () => undefined;
  const inApp = new Promise<void>((r) => { allArrived = r; });
  const app = await listenHttp((req, res) => {
    if (req.url !== '/warm' && ++arrived === 20) allArrived();
    setTimeout(() => res.end('slow ok'), 300);
  });
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const agent = keepAliveAgent(20);
  t.after(() => agent.destroy());
  await get(mesh.client.outboundPort, '/warm', { agent });
  const inflight = Array.from({ length: 20 }, (_, i) => get(mesh.client.outboundPort, `/${i}`, { agent }));
  // In flight means: every request reached the app through both proxies (on a loaded machine a fixed
  // sleep can start the drain while some are still in the client's socket buffer).
  await inApp;
  const t0 = Date.now();
  const [server] = mesh.servers;
  const clientDone = mesh.client.shutdown(5_000);
  const serverDone = server!.shutdown(5_000);
  const results = await Promise.all(inflight);
  assert.deepEqual(results.map((r) => r.status), new Array(20).fill(200));
  await Promise.all([clientDone, serverDone]);
  assert.ok(Date.now() - t0 < 5_000, 'drained before the grace period');
  await assert.rejects(get(mesh.client.outboundPort, '/after'), /ECONNREFUSED/);
});

test('drain closes HTTP/2 sessions with GOAWAY after their streams finish', async (t) => {
  const app = createH2Server();
  app.on('stream', (s) => setTimeout(() => {
    s.respond({ ':status': 200 });
    s.end('done');
  }, 200));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const mesh = await meshPair({ appPorts: [(app.address() as AddressInfo).port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const session = h2connect(`http://127.0.0.1:${mesh.client.outboundPort}`);
  session.on('error', () => undefined);
  let goaway = false;
  session.on('goaway', () => {
    goaway = true;
  });
  const pending = Array.from({ length: 5 }, () => new Promise<number>((resolve, reject) => {
    const req = session.request({ ':path': '/' });
    req.on('response', (h) => resolve(Number(h[':status'])));
    req.on('error', reject);
    req.resume();
    req.end();
  }));
  await new Promise((r) => setTimeout(r, 80));
  const done = mesh.client.shutdown(3_000);
  assert.deepEqual(await Promise.all(pending), [200, 200, 200, 200, 200]);
  await done;
  assert.ok(goaway, 'the client saw GOAWAY');
});

test('an idempotent request whose keep-alive connection the app closes under it is sent once more; a POST is not', async (t) => {
  // Every connection serves one request, then closes the socket the moment the next request arrives,
  // without answering: the race of a server closing an idle connection while a request is on the way.
  const seen: string[] = [];
  const perSocket = new WeakMap<object, number>();
  const app = await listenHttp((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    seen.push(`${req.method} ${req.url} #${n}`);
    if (n > 1) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.end(`served ${req.method} ${req.url}`));
  });
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const agent = keepAliveAgent(1);
  t.after(() => agent.destroy());
  const statuses: number[] = [];
  for (const m of ['GET', 'HEAD', 'PUT', 'DELETE', 'GET', 'OPTIONS']) {
    const r = await get(mesh.client.outboundPort, `/${m.toLowerCase()}`, m === 'PUT' ? { agent, method: m, body: 'small' } : { agent, method: m });
    statuses.push(r.status);
  }
  assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200], `the app saw: ${seen.join(', ')}`);
  assert.ok(seen.some((s) => s.endsWith('#2')), `some request met a connection the app then closed: ${seen.join(', ')}`);
  const retriesBefore = mesh.servers[0]!.stats.inbound.retries;
  assert.ok(retriesBefore > 0, 'the server proxy sent requests again');
  // A POST may have reached the app: it is never sent twice.
  const posts: number[] = [];
  for (let i = 0; i < 3; i++) posts.push((await get(mesh.client.outboundPort, '/post', { agent, method: 'POST', body: 'once' })).status);
  assert.ok(posts.includes(502), `a POST on a connection closed under it fails (statuses ${posts.join(', ')})`);
  assert.equal(seen.filter((s) => s.startsWith('POST')).length, 3, `each POST reached the app once: ${seen.join(', ')}`);
  assert.equal(mesh.servers[0]!.stats.inbound.retries, retriesBefore, 'no POST was sent again');
});
