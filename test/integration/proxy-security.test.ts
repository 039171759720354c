/**
 * security-cases.md against the real proxy, in process: HTTP/1 framing and smuggling (1-9, 12-14)
 * on both listeners with raw sockets, HTTP/2 header rules and floods (11, 27-32) with raw frames,
 * exhaustion (33) and robustness (37). Cases 15-16 and 38-40 are in proxy-mtls.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createH2Server, connect as h2connect } from 'node:http2';
import type { Http2Server } from 'node:http2';
import { createServer as createNetServer, connect as netConnect } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import type { IncomingHttpHeaders, Server } from 'node:http';
import { HEADER_CLIENT_ID } from '../../core/contract.js';
import type { RunningProxy } from '../../proxy/proxy.js';
import { get, raw } from '../support/proxy-client.js';
import { F, T, frame, goawayCode, headerBlock, rawH2, requestHeaders, rstCode } from '../support/proxy-h2-frames.js';
import { fixedDestination, id, listenHttp, meshPair, startTestProxy, StaticCertificates, StaticDiscovery, TestPki } from '../support/proxy-fixtures.js';
import type { MeshPair } from '../support/proxy-fixtures.js';
import { rssMbOf, startHarness } from '../support/proxy-spawn.js';

// Case 37: nothing may escape the event loop while these run.
const escaped: unknown[] = [];
const onEscape = (e: unknown) => escaped.push(e);
process.on('uncaughtException', onEscape);
process.on('unhandledRejection', onEscape);

let app: Server & { port: number };
let h2app: Http2Server;
let h2appPort = 0;
let seen: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[] = [];
let server: RunningProxy;
let h2server: RunningProxy;
let client: RunningProxy;
let mesh: MeshPair;
/** The HTTP/2 floods hit a proxy process of its own, run with production's V8 flags, whose RSS is read from /proc. */
let floodProxy: { child: ChildProcess; ports: { inbound: number } };
const targets: { name: string; port: () => number }[] = [
  { name: 'inbound', port: () => server.inboundPort },
  { name: 'outbound', port: () => client.outboundPort },
];
const LIMITS = { headersTimeoutMs: 1_000, maxConnectionsPerPeer: 20 };

before(async () => {
  app = await listenHttp((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304).end();
      else res.end('ok');
    });
  });
  h2app = createH2Server();
  h2app.on('stream', (s) => {
    s.on('error', () => undefined);
    s.respond({ ':status': 200 });
    s.end('h2 ok');
  });
  await new Promise<void>((r) => h2app.listen(0, '127.0.0.1', r));
  h2appPort = (h2app.address() as AddressInfo).port;
  const pki = await TestPki.create();
  server = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'srv'))), inboundDst: fixedDestination('127.0.0.1', app.port), limits: LIMITS });
  h2server = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'srv2'))), inboundDst: fixedDestination('127.0.0.1', h2appPort), limits: LIMITS });
  // The outbound listener sends to a non-meshed pod: plain HTTP from the client proxy to the app.
  client = await startTestProxy({
    certificates: new StaticCertificates(await pki.certificate(id('demo', 'cli'))),
    discovery: new StaticDiscovery().pod('127.0.0.1', app.port, false),
    outboundDst: fixedDestination('127.0.0.1', app.port),
    limits: LIMITS,
  });
  mesh = await meshPair({ appPorts: [app.port], pki });
  floodProxy = await startHarness({
    certificate: await pki.certificate(id('demo', 'flood')), podIp: '127.0.0.1',
    outbound: { host: '127.0.0.1', port: 0 }, inbound: { host: '127.0.0.1', port: 0 },
    originalDst: { inbound: { address: '127.0.0.1', port: h2appPort } },
  });
});

after(async () => {
  floodProxy.child.kill('SIGKILL');
  await Promise.all([server.shutdown(0), h2server.shutdown(0), client.shutdown(0), mesh.close()]);
  app.close();
  h2app.close();
});

/** Sends raw bytes; returns the response text and how many requests the app saw meanwhile. */
async function exchange(port: number, bytes: string, ms = 700): Promise<{ out: string; forwarded: number }> {
  seen = [];
  const out = await raw(port, bytes, ms);
  return { out, forwarded: seen.length };
}

const REJECTED: [string, string][] = [
  ['1 Content-Length with Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['2 two differing Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
  ['2 Content-Length list "5, 6"', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!'],
  ['3 Transfer-Encoding "chunked, identity"', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['3 Transfer-Encoding "xchunked"', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['3 folded Transfer-Encoding', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n'],
  ['4 bare LF line endings', 'GET / HTTP/1.1\nHost: a\n\n'],
  ['4 bare CR line endings', 'GET / HTTP/1.1\rHost: a\r\r'],
  ['4 bare LF inside the header block', 'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n'],
  ['5 whitespace before the colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n'],
  ['5 whitespace before a header name', 'GET / HTTP/1.1\r\nHost: a\r\n X: y\r\n\r\n'],
  ['6 obs-fold continuation line', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tcontinued\r\n\r\n'],
  ['7 header block ended by \\r\\n\\rX', 'GET / HTTP/1.1\r\nHost: a\r\n\rX'],
  ['8 bare LF in a chunk extension', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nxx\r\nhello\r\n0\r\n\r\n'],
  ['8 unbounded chunk extension', `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;${'a'.repeat(70_000)}\r\nhello\r\n0\r\n\r\n`],
  ['9 CL.TE desync probe', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG'],
  ['9 TE.CL desync probe', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n'],
  ['9 TE.TE desync probe', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n'],
];

for (const target of targets) {
  for (const [name, bytes] of REJECTED) {
    test(`case ${name} -> 400 and nothing forwarded (${target.name})`, async () => {
      const { out, forwarded } = await exchange(target.port(), bytes);
      assert.match(out, /^HTTP\/1\.1 400 /, JSON.stringify(out.slice(0, 80)));
      assert.equal(forwarded, 0);
    });
  }

  test(`case 8: a valid chunk extension is dropped, the body forwarded intact (${target.name})`, async () => {
    const { out, forwarded } = await exchange(target.port(), 'POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;name=val\r\nhello\r\n0\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200 /);
    assert.equal(forwarded, 1);
    assert.equal(seen[0]!.body, 'hello');
  });

  test(`case 9: pipelined requests reach the app exactly once each (${target.name})`, async () => {
    const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n`;
    const { out, forwarded } = await exchange(target.port(), `${req('/1')}POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc${req('/3')}`, 1_000);
    assert.equal(forwarded, 3);
    // The proxy forwards pipelined requests concurrently; the responses keep their order.
    assert.deepEqual(seen.map((s) => s.url).sort(), ['/1', '/2', '/3']);
    assert.equal(seen.find((s) => s.url === '/2')!.body, 'abc');
    assert.equal((out.match(/HTTP\/1\.1 200/g) ?? []).length, 3);
  });

  test(`case 12: Upgrade: h2c is stripped, the request served as HTTP/1.1 (${target.name})`, async () => {
    const { out, forwarded } = await exchange(target.port(), 'GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n');
    assert.match(out, /^HTTP\/1\.1 200 /);
    assert.equal(forwarded, 1);
    assert.equal(seen[0]!.headers.upgrade, undefined);
    assert.equal(seen[0]!.headers['http2-settings'], undefined);
  });

  test(`case 13: headers named in Connection are removed (${target.name})`, async () => {
    const { forwarded } = await exchange(target.port(), 'GET / HTTP/1.1\r\nHost: a\r\nConnection: x-secret, keep-alive\r\nX-Secret: 1\r\nX-Kept: 2\r\nKeep-Alive: timeout=5\r\n\r\n');
    assert.equal(forwarded, 1);
    assert.equal(seen[0]!.headers['x-secret'], undefined);
    assert.equal(seen[0]!.headers['keep-alive'], undefined);
    assert.equal(seen[0]!.headers['x-kept'], '2');
  });

  test(`case 14: framing preserved: no TE added, content-length: 0 kept, HEAD/204/304 bodiless, HTTP/1.0 (${target.name})`, async () => {
    let r = await exchange(target.port(), 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.equal(seen[0]!.headers['transfer-encoding'], undefined);
    assert.equal(seen[0]!.headers['content-length'], undefined);
    r = await exchange(target.port(), 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.equal(seen[0]!.headers['content-length'], '0');
    assert.equal(seen[0]!.headers['transfer-encoding'], undefined);
    r = await exchange(target.port(), 'HEAD / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.match(r.out, /^HTTP\/1\.1 200 /);
    assert.ok(r.out.endsWith('\r\n\r\n'), 'no body after HEAD');
    for (const code of ['204', '304']) {
      r = await exchange(target.port(), `GET /${code} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`);
      assert.match(r.out, new RegExp(`^HTTP/1\\.1 ${code} `));
      assert.ok(r.out.endsWith('\r\n\r\n'));
      assert.doesNotMatch(r.out, /transfer-encoding/i);
    }
    r = await exchange(target.port(), 'GET /v10 HTTP/1.0\r\n\r\n');
    assert.match(r.out, /^HTTP\/1\.[01] 200 /);
    assert.equal(r.forwarded, 1);
    r = await exchange(target.port(), 'GET /v10h HTTP/1.0\r\nHost: a\r\n\r\n');
    assert.match(r.out, /^HTTP\/1\.[01] 200 /);
    r = await exchange(target.port(), 'GET http://other.example/abs?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    assert.equal(r.forwarded, 1);
    assert.equal(seen[0]!.url, '/abs?q=1');
    assert.equal(seen[0]!.headers.host, 'other.example', 'the absolute-form authority wins over Host');
  });

  test(`case 32: an oversized header block -> 431 (${target.name})`, async () => {
    const { out, forwarded } = await exchange(target.port(), `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`);
    assert.match(out, /^HTTP\/1\.1 431 /);
    assert.equal(forwarded, 0);
  });

  test(`case 33: slowloris headers are cut off by the header timeout (${target.name})`, async () => {
    const t0 = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const s = netConnect(target.port(), '127.0.0.1');
      s.on('error', () => undefined);
      s.write('GET / HTTP/1.1\r\nHost: a\r\n');
      const drip = setInterval(() => s.write('X-Drip: 1\r\n'), 200);
      s.on('close', () => {
        clearInterval(drip);
        resolve(Date.now() - t0);
      });
      setTimeout(() => s.destroy(), 8_000);
    });
    assert.ok(closedAfter < 4_000, `closed after ${closedAfter} ms`);
  });
}

test('case 13: a client cannot use Connection: to drop the identity header the proxy adds', async () => {
  seen = [];
  const r = await get(mesh.client.outboundPort, '/', { headers: { connection: `${HEADER_CLIENT_ID}, keep-alive` } });
  assert.equal(r.status, 200);
  assert.equal(seen[0]!.headers[HEADER_CLIENT_ID], id('demo', 'client'));
});

test('case 33: connections from one client beyond the cap are closed', async () => {
  const sockets: Socket[] = [];
  for (let i = 0; i < LIMITS.maxConnectionsPerPeer + 5; i++) {
    const s = netConnect(server.inboundPort, '127.0.0.1');
    s.on('error', () => undefined);
    sockets.push(s);
  }
  await new Promise((r) => setTimeout(r, 300));
  const closed = sockets.filter((s) => s.destroyed || s.readableEnded).length;
  for (const s of sockets) s.destroy();
  assert.ok(closed >= 5, `${closed} of ${sockets.length} closed`);
});

// --- HTTP/2 -----------------------------------------------------------------------------------------

test('case 11: HTTP/2 connection-specific headers -> stream error; a field with CR/LF never reaches the app', async () => {
  const upstream: IncomingHttpHeaders[] = [];
  const counter = (_s: unknown, h: IncomingHttpHeaders): void => {
    upstream.push(h);
  };
  h2app.on('stream', counter);
  const h = await rawH2(h2server.inboundPort);
  h.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, requestHeaders('/1', [['connection', 'keep-alive']])));
  h.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 3, requestHeaders('/3', [['x-bad', 'a\nb'], ['x-nul', 'a\0b']])));
  h.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 5, requestHeaders('/5', [['transfer-encoding', 'chunked']])));
  h.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 7, requestHeaders('/7', [['X-Upper', 'a']])));
  h.send(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 9, requestHeaders('/9')));
  await new Promise((r) => setTimeout(r, 500));
  h.socket.destroy();
  h2app.removeListener('stream', counter);
  for (const s of [1, 5, 7]) {
    assert.ok(!h.frames.some((f) => f.type === T.HEADERS && f.stream === s), `stream ${s} must not be answered`);
    assert.ok(rstCode(h, s) !== undefined || goawayCode(h) !== undefined, `stream ${s} reset`);
  }
  const paths = upstream.map((x) => x[':path']).sort();
  assert.ok(!paths.includes('/1') && !paths.includes('/5') && !paths.includes('/7'), `forwarded: ${paths.join(',')}`);
  // nghttp2 drops a field whose value holds CR, LF or NUL before node sees it: the rest is served.
  for (const x of upstream) {
    assert.equal(x['x-bad'], undefined);
    assert.equal(x['x-nul'], undefined);
  }
  assert.ok(paths.includes('/9'));
});

/** Other clients are still served: HTTP/1 by the in-process proxy, HTTP/2 by the flooded one. */
async function stillServes(): Promise<void> {
  const r = await get(server.inboundPort, '/alive');
  assert.equal(r.status, 200);
  const session = h2connect(`http://127.0.0.1:${floodProxy.ports.inbound}`);
  session.on('error', () => undefined);
  const status = await new Promise<number>((resolve, reject) => {
    const req = session.request({ ':path': '/' });
    req.on('response', (hh) => resolve(Number(hh[':status'])));
    req.on('error', reject);
    req.resume();
    req.end();
  });
  session.close();
  assert.equal(status, 200);
}

/**
 * `goaway`: the GOAWAY codes docs/proxy.md promises for this flood: ENHANCE_YOUR_CALM (0xb) where the
 * proxy's own guard trips (PINGs, SETTINGS, client resets), INTERNAL_ERROR (0x2) where node's limit on
 * refused streams trips first (rapid reset), none where nghttp2 drops a connection whose SETTINGS ACKs
 * flood its output queue within one read.
 */
async function flood(name: string, make: (i: number) => Buffer, count: number, goaway?: readonly (number | 'none')[]): Promise<void> {
  const h = await rawH2(floodProxy.ports.inbound);
  const t0 = Date.now();
  const batch: Buffer[] = [];
  for (let i = 0; i < count; i++) batch.push(make(i));
  // Written in slices so that the other clients are served in between.
  let peakRss = 0;
  for (let i = 0; i < batch.length && !h.socket.destroyed; i += 500) {
    h.send(Buffer.concat(batch.slice(i, i + 500)));
    await new Promise((r) => setImmediate(r));
    peakRss = Math.max(peakRss, rssMbOf(floodProxy.child.pid!));
  }
  await stillServes();
  const closedIn = await Promise.race([h.closed.then(() => Date.now() - t0), new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
  h.socket.destroy();
  peakRss = Math.max(peakRss, rssMbOf(floodProxy.child.pid!));
  assert.ok(closedIn >= 0, `${name}: the offending connection was not closed within 10 s`);
  assert.ok(peakRss < 200, `${name}: proxy RSS reached ${peakRss.toFixed(0)} MB`);
  if (goaway !== undefined) {
    const code = goawayCode(h) ?? 'none';
    assert.ok(goaway.includes(code), `${name}: GOAWAY code ${String(code)}, expected one of ${goaway.join(', ')}`);
  }
}

test('case 27: rapid reset (HEADERS + RST_STREAM flood) -> GOAWAY, connection closed, others served', async () => {
  await flood('rapid reset', (i) => Buffer.concat([frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 2 * i + 1, requestHeaders('/')), frame(T.RST_STREAM, 0, 2 * i + 1, Buffer.from([0, 0, 0, 8]))]), 20_000, [0xb, 0x2]);
});

test('case 28: CONTINUATION flood without END_HEADERS -> closed, bounded memory', async () => {
  const junk = headerBlock([['x-junk', 'j'.repeat(1000)]]);
  await flood('continuation', (i) => (i === 0 ? frame(T.HEADERS, F.END_STREAM, 1, requestHeaders('/')) : frame(T.CONTINUATION, 0, 1, junk)), 20_000);
});

test('case 29: PING flood -> closed', async () => {
  // Either the proxy's guard (GOAWAY ENHANCE_YOUR_CALM) or nghttp2's own outbound-queue limit closes
  // the connection first; in the second case, or when the socket is destroyed with PING ACKs still
  // queued ahead of the GOAWAY, the client reads no GOAWAY. Closed it is, either way (as for SETTINGS).
  await flood('ping', () => frame(T.PING, 0, 0, Buffer.alloc(8)), 20_000, [0xb, 'none']);
});

test('case 29: SETTINGS flood -> closed', async () => {
  await flood('settings', () => frame(T.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100])), 20_000, [0xb, 'none']);
});

test('case 29: empty DATA flood -> closed', async () => {
  await flood('empty data', (i) => (i === 0 ? frame(T.HEADERS, F.END_HEADERS, 1, headerBlock([[':method', 'POST'], [':scheme', 'http'], [':path', '/'], [':authority', 't']])) : frame(T.DATA, 0, 1)), 20_000);
});

test('case 29: PRIORITY flood -> closed', async () => {
  await flood('priority', (i) => frame(T.PRIORITY, 0, 2 * i + 1, Buffer.from([0, 0, 0, 0, 16])), 40_000);
});

test('case 32: an HTTP/2 header list above the limit is refused (431 or reset), the connection survives for others', async () => {
  const session = h2connect(`http://127.0.0.1:${h2server.inboundPort}`);
  session.on('error', () => undefined);
  const outcome = await new Promise<string>((resolve) => {
    const req = session.request({ ':path': '/', 'x-big': 'b'.repeat(60_000) });
    req.on('response', (hh) => resolve(`status ${String(hh[':status'])}`));
    req.on('error', (e: Error) => resolve(`error ${e.message}`));
    req.on('close', () => resolve(`closed ${req.rstCode}`));
    req.end();
  });
  session.destroy();
  assert.doesNotMatch(outcome, /status 200/);
  await stillServes();
});

test('case 30: an upstream GOAWAY followed by SETTINGS_MAX_CONCURRENT_STREAMS=0 in one read -> an error answer, no crash', async (t) => {
  const evil: NetServer = createNetServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => {
      s.write(Buffer.concat([
        frame(T.SETTINGS, 0, 0),
        frame(T.GOAWAY, 0, 0, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])),
        frame(T.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 0])),
      ]));
    });
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  const pki = await TestPki.create();
  const p = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 'e'))), inboundDst: fixedDestination('127.0.0.1', (evil.address() as AddressInfo).port) });
  t.after(async () => {
    await p.shutdown(0);
    evil.close();
  });
  for (let i = 0; i < 3; i++) {
    const session = h2connect(`http://127.0.0.1:${p.inboundPort}`);
    session.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => {
      const req = session.request({ ':path': '/' });
      req.on('response', (hh) => resolve(Number(hh[':status'])));
      req.on('error', () => resolve(-1));
      req.resume();
      req.end();
    });
    session.close();
    assert.ok(status >= 500 || status === -1, `got ${status}`);
  }
  await stillServes();
});

test('case 31: a downstream resetting streams cannot make the proxy churn upstream streams without bound', async () => {
  let upstreamStreams = 0;
  const counter = (): void => {
    upstreamStreams++;
  };
  h2app.on('stream', counter);
  await flood('rapid reset via proxy', (i) => Buffer.concat([frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 2 * i + 1, requestHeaders('/')), frame(T.RST_STREAM, 0, 2 * i + 1, Buffer.from([0, 0, 0, 8]))]), 20_000, [0xb, 0x2]);
  h2app.removeListener('stream', counter);
  assert.ok(upstreamStreams < 5_000, `${upstreamStreams} upstream streams for 20,000 reset downstream ones`);
});

test('case 37: random bytes on every listener never throw out of the event loop', async () => {
  for (const port of [server.inboundPort, client.outboundPort, h2server.inboundPort]) {
    await Promise.all(Array.from({ length: 40 }, (_, i) => {
      const prefix = ['', 'GET / HTTP/1.1\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', '\x16\x03\x01'][i % 4]!;
      return raw(port, Buffer.concat([Buffer.from(prefix, 'latin1'), randomBytes(50 + i * 37)]), 300);
    }));
  }
  await stillServes();
  assert.deepEqual(escaped, []);
});
