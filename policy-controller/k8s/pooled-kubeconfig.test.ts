/**
 * PooledKubeConfig against a real HTTPS server on port 0 that counts TLS connections: requests made
 * through kubeRequest reuse kept-alive connections (undici may open a second one while the first is
 * being released), where the library's own KubeConfig opens one per request; a refresh moves new
 * requests to a new Agent and closes the old one's connections.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { webhookCertificate } from '../../test/support/policy-controller.js';
import { kubeRequest } from './http.js';
import { PooledKubeConfig } from './pooled-kubeconfig.js';

let server: Server;
let url = '';
let caPem = '';
const sockets: TLSSocket[] = [];

before(async () => {
  const pki = webhookCertificate('127.0.0.1');
  caPem = pki.caPem;
  server = createServer({ cert: pki.certPem, key: pki.keyPem }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ auth: req.headers.authorization ?? '' }));
  });
  server.on('secureConnection', (s: TLSSocket) => sockets.push(s));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => {
  server.closeAllConnections();
  server.close();
});

function load<T extends KubeConfig>(kc: T): T {
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, caData: Buffer.from(caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function get(kc: KubeConfig, n: number): Promise<string[]> {
  const auth: string[] = [];
  for (let i = 0; i < n; i++) auth.push((await kubeRequest<{ auth: string }>(kc, 'GET', '/api/v1/namespaces')).body.auth);
  return auth;
}

test('the library KubeConfig opens a TLS connection per request (the problem)', async () => {
  const start = sockets.length;
  await get(load(new KubeConfig()), 4);
  assert.equal(sockets.length - start, 4);
});

test('PooledKubeConfig reuses kept-alive connections across requests, with their credentials', async () => {
  const start = sockets.length;
  const auth = await get(load(new PooledKubeConfig()), 12);
  assert.deepEqual(auth, Array(12).fill('Bearer secret-token'));
  assert.ok(sockets.length - start <= 2, `${sockets.length - start} connections for 12 requests`);
});

test('after the refresh period new requests use a new Agent and the old connection is closed', async () => {
  let now = 0;
  const kc = load(new PooledKubeConfig(1000, () => now));
  const start = sockets.length;
  await get(kc, 6);
  const old = sockets.slice(start);
  assert.ok(old.length >= 1 && old.length <= 2);
  const oldClosed = Promise.all(old.map((s) => (s.destroyed ? undefined : once(s, 'close'))));
  now = 1000;
  await get(kc, 6);
  const fresh = sockets.slice(start + old.length);
  assert.ok(fresh.length >= 1 && fresh.length <= 2, `${fresh.length} new connections`);
  await oldClosed;
  assert.ok(old.every((s) => s.destroyed));
  assert.ok(fresh.every((s) => !s.destroyed));
});
