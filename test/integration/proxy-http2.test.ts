/**
 * HTTP/2 and gRPC (unary, server streaming, bidi; trailers and status codes) through the meshed hop,
 * and opaque TCP (meshed, the app's own TLS passed through, unknown destinations) in process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HEADER_CLIENT_ID } from '../../core/contract.js';
import { fixedDestination, id, meshPair, startTestProxy, StaticCertificates, StaticDiscovery, TestPki } from '../support/proxy-fixtures.js';

const bytes = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const ECHO = {
  unary: { path: '/test.Echo/Unary', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
  fail: { path: '/test.Echo/Fail', requestStream: false, responseStream: false, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
  serverStream: { path: '/test.Echo/ServerStream', requestStream: false, responseStream: true, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
  bidi: { path: '/test.Echo/Bidi', requestStream: true, responseStream: true, requestSerialize: bytes.serialize, requestDeserialize: bytes.deserialize, responseSerialize: bytes.serialize, responseDeserialize: bytes.deserialize },
} satisfies grpc.ServiceDefinition;

interface EchoClient {
  unary(req: Buffer, cb: (err: grpc.ServiceError | null, reply: Buffer) => void): grpc.ClientUnaryCall;
  fail(req: Buffer, cb: (err: grpc.ServiceError | null, reply: Buffer) => void): grpc.ClientUnaryCall;
  serverStream(req: Buffer): grpc.ClientReadableStream<Buffer>;
  bidi(): grpc.ClientDuplexStream<Buffer, Buffer>;
  close(): void;
}

async function grpcApp(): Promise<{ port: number; close: () => void }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const md = new grpc.Metadata();
      md.set('x-trailer', 'kept');
      cb(null, Buffer.concat([Buffer.from(`${String(call.metadata.get(HEADER_CLIENT_ID)[0])}|`), call.request]), md);
    },
    fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.FAILED_PRECONDITION, details: 'nope' }),
    serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      for (let i = 0; i < 5; i++) call.write(Buffer.from(`m${i}`));
      call.end();
    },
    bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (b: Buffer) => call.write(Buffer.concat([Buffer.from('re:'), b])));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, close: () => server.forceShutdown() };
}

test('gRPC unary, server-streaming and bidi calls cross the hop with trailers and status codes', async (t) => {
  const app = await grpcApp();
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const Client = grpc.makeGenericClientConstructor(ECHO, 'Echo');
  const client = new Client(`127.0.0.1:${mesh.client.outboundPort}`, grpc.credentials.createInsecure()) as unknown as EchoClient;
  t.after(() => client.close());

  const unary = await new Promise<{ reply: Buffer; trailer: unknown }>((resolve, reject) => {
    let trailer: unknown;
    const call = client.unary(Buffer.from('hi'), (err: Error | null, reply: Buffer) => (err ? reject(err) : setImmediate(() => resolve({ reply, trailer }))));
    (call as grpc.ClientUnaryCall).on('status', (s: grpc.StatusObject) => {
      trailer = s.metadata.get('x-trailer')[0];
    });
  });
  assert.equal(unary.reply.toString(), `${id('demo', 'client')}|hi`);
  assert.equal(unary.trailer, 'kept');

  const failed = await new Promise<grpc.ServiceError>((resolve, reject) => client.fail(Buffer.from('x'), (err) => (err ? resolve(err) : reject(new Error('expected an error')))));
  assert.equal(failed.code, grpc.status.FAILED_PRECONDITION);
  assert.equal(failed.details, 'nope');

  const streamed = await new Promise<string[]>((resolve, reject) => {
    const out: string[] = [];
    const call = client.serverStream(Buffer.from('go')) as grpc.ClientReadableStream<Buffer>;
    call.on('data', (b: Buffer) => out.push(b.toString()));
    call.on('error', reject);
    call.on('end', () => resolve(out));
  });
  assert.deepEqual(streamed, ['m0', 'm1', 'm2', 'm3', 'm4']);

  // Bidi: each message is answered before the next is sent, so nothing may wait for the request to end.
  const bidi = client.bidi() as grpc.ClientDuplexStream<Buffer, Buffer>;
  const answers: string[] = [];
  for (const m of ['a', 'b', 'c']) {
    bidi.write(Buffer.from(m));
    answers.push(await new Promise<string>((resolve) => bidi.once('data', (b: Buffer) => resolve(b.toString()))));
  }
  const status = new Promise<grpc.StatusObject>((resolve, reject) => {
    bidi.on('status', resolve);
    bidi.on('error', reject);
    bidi.resume();
  });
  bidi.end();
  assert.deepEqual(answers, ['re:a', 're:b', 're:c']);
  assert.equal((await status).code, grpc.status.OK);
});

test('plain HTTP/2 requests keep their headers, bodies and end of stream', async (t) => {
  const app = createH2Server();
  app.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      stream.respond({ ':status': 201, 'x-path': String(headers[':path']), 'x-id': String(headers[HEADER_CLIENT_ID]) });
      stream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const mesh = await meshPair({ appPorts: [(app.address() as AddressInfo).port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const session = h2connect(`http://127.0.0.1:${mesh.client.outboundPort}`);
  t.after(() => session.close());
  const res = await new Promise<{ status: number; path: string; id: string; body: string }>((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/p?q', [HEADER_CLIENT_ID]: 'forged' });
    req.on('error', reject);
    let head: Record<string, unknown> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      head = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve({ status: Number(head[':status']), path: String(head['x-path']), id: String(head['x-id']), body: Buffer.concat(chunks).toString() }));
    req.end('payload');
  });
  assert.deepEqual(res, { status: 201, path: '/p?q', id: id('demo', 'client'), body: 'payload' });
});

function echoTcp(): Promise<{ port: number; close: () => void }> {
  const server = createNetServer((s) => {
    s.on('error', () => undefined);
    s.pipe(s);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as AddressInfo).port, close: () => server.close() })));
}

function tcpRoundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = netConnect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let n = 0;
    s.on('error', reject);
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      n += c.length;
      if (n >= payload.length) {
        s.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    s.write(payload);
  });
}

test('opaque TCP crosses the hop over mTLS; bytes that are not HTTP are piped unchanged', async (t) => {
  const app = await echoTcp();
  const mesh = await meshPair({ appPorts: [app.port] });
  t.after(async () => {
    await mesh.close();
    app.close();
  });
  const payload = Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.alloc(300_000, 9)]);
  const before = mesh.servers[0]!.stats.tlsHandshakesIn();
  const echoed = await tcpRoundTrip(mesh.client.outboundPort, payload);
  assert.ok(echoed.equals(payload));
  assert.equal(mesh.servers[0]!.stats.tlsHandshakesIn() - before, 1, 'the opaque stream was carried over mesh mTLS');
});

test('an unknown destination is passed through as plain TCP, without detection', async (t) => {
  const app = await echoTcp();
  const pki = await TestPki.create();
  const client = await startTestProxy({
    certificates: new StaticCertificates(await pki.certificate(id('demo', 'c'))),
    discovery: new StaticDiscovery(),
    outboundDst: fixedDestination('127.0.0.1', app.port),
  });
  t.after(async () => {
    await client.shutdown(0);
    app.close();
  });
  const echoed = await tcpRoundTrip(client.outboundPort, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  assert.equal(echoed.toString(), 'GET / HTTP/1.1\r\n\r\n');
  assert.equal(client.stats.tlsHandshakesOut(), 0);
});

test("the app's own TLS (no mesh ALPN) passes through the inbound proxy untouched", async (t) => {
  const app = await echoTcp();
  const pki = await TestPki.create();
  const server = await startTestProxy({ certificates: new StaticCertificates(await pki.certificate(id('demo', 's'))), inboundDst: fixedDestination('127.0.0.1', app.port) });
  t.after(async () => {
    await server.shutdown(0);
    app.close();
  });
  // A ClientHello offering only h2: the inbound proxy must not terminate it; the echo app returns it.
  const hello = Buffer.from(
    '16030100' + '45' + '01000041' + '0303' + '00'.repeat(32) + '00' + '0002' + '1301' + '0100' + '0016' +
    '0010000b0009' + '08' + Buffer.from('http/1.1').toString('hex') + '000000050003' + '020068', 'hex');
  const echoed = await tcpRoundTrip(server.inboundPort, hello);
  assert.ok(echoed.equals(hello));
  assert.equal(server.stats.tlsHandshakesIn(), 0);
});
