import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { classify, detect } from './detect.js';

test('the HTTP/2 preface is http2 only once complete; its prefix could still be an HTTP/1 method', () => {
  assert.deepEqual(classify(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')), { protocol: 'http2' });
  assert.equal(classify(Buffer.from('PRI * HTTP/2.0\r\n')), 'more');
});

test('a method token then a space is HTTP/1', () => {
  for (const m of ['GET', 'POST', 'M-SEARCH', 'PROPFIND', 'PRI']) {
    assert.deepEqual(classify(Buffer.from(`${m} /x HTTP/1.1\r\n`)), { protocol: 'http1' }, m);
  }
  assert.equal(classify(Buffer.from('GE')), 'more');
});

test('a TLS handshake record is tls; other bytes are opaque', () => {
  assert.equal((classify(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0, 0, 1, 0])) as { protocol: string }).protocol, 'tls');
  assert.deepEqual(classify(Buffer.from([0x00, 0x01])), { protocol: 'opaque' });
  assert.deepEqual(classify(Buffer.from('get / HTTP/1.1')), { protocol: 'opaque' }, 'lower-case is no method');
  assert.deepEqual(classify(Buffer.from(' GET')), { protocol: 'opaque' });
  assert.deepEqual(classify(Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ')), { protocol: 'opaque' }, 'too long for a method');
});

async function pair(): Promise<{ server: Socket; client: Socket; close: () => void }> {
  const srv = createServer();
  const accepted = new Promise<Socket>((r) => srv.once('connection', r));
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = connect((srv.address() as AddressInfo).port, '127.0.0.1');
  const server = await accepted;
  return { server, client, close: () => { client.destroy(); server.destroy(); srv.close(); } };
}

test('detected bytes are put back: the next reader sees the stream from its first byte', async () => {
  const p = await pair();
  p.client.write('GE');
  setTimeout(() => p.client.write('T / HTTP/1.1\r\n\r\nrest'), 50);
  const d = await detect(p.server, 2_000);
  assert.deepEqual(d, { protocol: 'http1' });
  p.server.resume();
  const first = await new Promise<Buffer>((r) => p.server.once('data', r));
  assert.ok(first.toString().startsWith('GET / HTTP/1.1'));
  p.close();
});

test('a client that never speaks is opaque after the timeout; one that closes first is closed', async () => {
  const silent = await pair();
  const t0 = Date.now();
  assert.deepEqual(await detect(silent.server, 200), { protocol: 'opaque' });
  assert.ok(Date.now() - t0 >= 190);
  silent.close();
  const gone = await pair();
  gone.client.end();
  assert.deepEqual(await detect(gone.server, 2_000), { protocol: 'closed' });
  gone.close();
});
