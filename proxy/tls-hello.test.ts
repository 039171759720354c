import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseClientHello } from './tls-hello.js';

/** A real ClientHello, as node's TLS client sends it, captured by a plain TCP server. */
async function captureHello(opts: { servername?: string; ALPNProtocols?: string[] }): Promise<Buffer> {
  const server = createServer();
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => {
    resolve(d);
    s.destroy();
  })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = tlsConnect({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', rejectUnauthorized: false, ...opts });
  c.on('error', () => undefined);
  const hello = await got;
  c.destroy();
  server.close();
  return hello;
}

test('SNI and ALPN are read from a real ClientHello', async () => {
  const hello = await captureHello({ servername: 'web.demo.svc', ALPNProtocols: ['weft/http1.1', 'h2'] });
  assert.deepEqual(parseClientHello(hello), { kind: 'hello', sni: 'web.demo.svc', alpn: ['weft/http1.1', 'h2'] });
});

test('a ClientHello without extensions of interest has no SNI and no ALPN', async () => {
  const hello = await captureHello({});
  const p = parseClientHello(hello);
  assert.equal(p.kind, 'hello');
  assert.deepEqual(p.kind === 'hello' ? p.alpn : null, []);
});

test('a truncated ClientHello asks for the rest of its record', async () => {
  const hello = await captureHello({ ALPNProtocols: ['h2'] });
  assert.deepEqual(parseClientHello(hello.subarray(0, 3)), { kind: 'incomplete', need: 5 });
  const p = parseClientHello(hello.subarray(0, 40));
  assert.equal(p.kind, 'incomplete');
  assert.equal(p.kind === 'incomplete' ? p.need : 0, hello.length);
});

test('lengths that run past their container are invalid, never read out of bounds', async () => {
  const hello = Buffer.from(await captureHello({ ALPNProtocols: ['h2'] }));
  // Every single-byte corruption either parses or is reported invalid: nothing throws.
  for (let i = 5; i < hello.length; i++) {
    for (const v of [0x00, 0xff]) {
      const b = Buffer.from(hello);
      b[i] = v;
      const p = parseClientHello(b);
      assert.ok(['hello', 'invalid', 'incomplete'].includes(p.kind));
    }
  }
});

test('bytes that are not a TLS handshake record are invalid', () => {
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).kind, 'invalid');
  assert.equal(parseClientHello(Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff])).kind, 'invalid', 'a record above 16 KiB');
});

