import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ServerCredentials, credentials } from '@grpc/grpc-js';
import {
  DiscoveryClient,
  DiscoveryService,
  Endpoints,
  LookupResponse,
  type DiscoveryServer,
  type Endpoint,
} from './gen/weft/discovery/v1/discovery.js';
import { ProtocolHint } from './gen/weft/common/v1/common.js';

const endpoint: Endpoint = {
  ip: '10.244.1.7',
  port: 8080,
  ready: true,
  serving: true,
  terminating: false,
  podNamespace: 'books',
  podName: 'web-7c9-xk2lp',
  zone: 'zone-a',
  node: 'node-1',
  meshed: true,
  identity: 'spiffe://cluster.local/ns/books/sa/web',
  protocol: ProtocolHint.HTTP2,
};

test('Endpoints snapshot survives an encode/decode round trip', () => {
  const snapshot: Endpoints = { version: 12, generatedAt: new Date(1_700_000_000_123), serviceExists: true, endpoints: [endpoint, { ...endpoint, ip: '10.244.2.9', ready: false, terminating: true }] };
  assert.deepEqual(Endpoints.decode(Endpoints.encode(snapshot).finish()), snapshot);
});

test('LookupResponse keeps found and not-found apart on the wire', () => {
  const found: LookupResponse = { result: { $case: 'endpoint', value: endpoint } };
  const missing: LookupResponse = { result: { $case: 'notFound', value: {} } };
  assert.deepEqual(LookupResponse.decode(LookupResponse.encode(found).finish()), found);
  assert.deepEqual(LookupResponse.decode(LookupResponse.encode(missing).finish()), missing);
});

test('a version above 2^53 is refused at decode instead of being rounded', () => {
  const bytes = Endpoints.encode({ version: 0, serviceExists: false, endpoints: [] }).finish();
  assert.equal(bytes.length, 0);
  // field 1, varint 2^60
  const big = Uint8Array.from([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
  assert.throws(() => Endpoints.decode(big), /MAX_SAFE_INTEGER/);
});

test('Discovery service exposes a server-streaming Watch, a bidirectional Follow and a unary Lookup', () => {
  assert.deepEqual(Object.keys(DiscoveryService).sort(), ['follow', 'lookup', 'watch']);
  assert.equal(DiscoveryService.watch.path, '/weft.discovery.v1.Discovery/Watch');
  assert.equal(DiscoveryService.watch.responseStream, true);
  assert.equal(DiscoveryService.follow.path, '/weft.discovery.v1.Discovery/Follow');
  assert.equal(DiscoveryService.follow.requestStream, true);
  assert.equal(DiscoveryService.follow.responseStream, true);
  assert.equal(DiscoveryService.lookup.path, '/weft.discovery.v1.Discovery/Lookup');
  assert.equal(DiscoveryService.lookup.responseStream, false);
  assert.equal(DiscoveryService.lookup.requestStream, false);
});

test('Watch streams successive full snapshots and Lookup answers, through grpc-js', async (t) => {
  const server = new Server();
  const impl: DiscoveryServer = {
    watch: (call) => {
      call.write({ version: 1, serviceExists: true, endpoints: [endpoint] });
      call.write({ version: 2, serviceExists: true, endpoints: [] });
      call.end();
    },
    follow: (call) => call.emit('error', { code: 12, details: 'not in this test' }),
    lookup: (call, callback) => {
      callback(null, call.request.ip === endpoint.ip ? { result: { $case: 'endpoint', value: endpoint } } : { result: { $case: 'notFound', value: {} } });
    },
  };
  server.addService(DiscoveryService, impl);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  const client = new DiscoveryClient(`127.0.0.1:${port}`, credentials.createInsecure());
  t.after(() => {
    client.close();
    server.forceShutdown();
  });
  const seen: Endpoints[] = [];
  for await (const msg of client.watch({ namespace: 'books', name: 'web', port: 80 })) seen.push(msg as Endpoints);
  assert.deepEqual(seen.map((m) => [m.version, m.endpoints.length]), [[1, 1], [2, 0]]);
  const lookup = (ip: string) =>
    new Promise<LookupResponse>((resolve, reject) => {
      client.lookup({ ip, port: 8080 }, (err, res) => (err ? reject(err) : resolve(res)));
    });
  assert.equal((await lookup(endpoint.ip)).result?.$case, 'endpoint');
  assert.equal((await lookup('10.0.0.1')).result?.$case, 'notFound');
});
