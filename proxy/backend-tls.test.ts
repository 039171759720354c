import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { CertificateAuthority, createTrustAnchor } from '../identity/ca.js';
import { BackendTlsContexts, BackendTlsError, originateKey, type OriginateTls } from './backend-tls.js';
import { connectReason } from './errors.js';
import { UpstreamPools } from './pool.js';
import { SelfAddresses } from './self-guard.js';
import { endpointKey } from './balancer.js';
import type { MeshTls } from './mtls.js';
import { DEFAULT_LIMITS } from './config.js';
import { request } from 'undici';

const SPIFFE = 'spiffe://backend.test/ns/apps/sa/secure';
let ca: { certPem: string };
let otherCa: { certPem: string };
let client: { certPem: string; keyPem: string };
let server: Server;
let port = 0;
/** The client certificate the last request presented (subject alt names), or 'none'. */
let lastClientSans = 'none';

before(async () => {
  const anchor = await createTrustAnchor({ trustDomain: 'backend.test' });
  const other = await createTrustAnchor({ trustDomain: 'other.test' });
  ca = anchor;
  otherCa = other;
  const issuer = CertificateAuthority.load(anchor);
  const leaf = await issuer.issueServing({ spiffeId: SPIFFE, dnsNames: ['secure.example', '*.wild.example'] });
  const c = await issuer.issueServing({ spiffeId: 'spiffe://backend.test/ns/infra/sa/gw', dnsNames: [] });
  client = { certPem: c.certPem, keyPem: c.keyPem };
  server = createHttpsServer({ cert: leaf.certPem, key: leaf.keyPem, ca: anchor.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    lastClientSans = peer.subjectaltname ?? 'none';
    res.end(`ok ${req.url ?? ''}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(() => server.close());

const tls = (over: Partial<OriginateTls> = {}): OriginateTls => ({
  servername: 'secure.example', ca: { kind: 'pem', pem: ca.certPem }, subjectAltNames: [], ...over,
});

async function attempt(t: OriginateTls): Promise<string> {
  const contexts = new BackendTlsContexts();
  try {
    const s = await contexts.connect('127.0.0.1', port, t, ['http/1.1'], 2_000);
    s.destroy();
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof BackendTlsError, `a BackendTlsError, got ${String(err)}`);
    assert.equal(connectReason(err.code), 'BACKEND_TLS');
    return err.message;
  }
}

test('the policy\'s CA and hostname verify the backend', async () => {
  assert.equal(await attempt(tls()), 'ok');
  assert.equal(await attempt(tls({ servername: 'a.wild.example' })), 'ok');
});

test('a wrong CA or a wrong name is refused, and the error says which', async () => {
  assert.match(await attempt(tls({ ca: { kind: 'pem', pem: otherCa.certPem } })), /does not chain to the policy's CA certificate/);
  assert.match(await attempt(tls({ servername: 'other.example' })), /does not name other\.example/);
  // The System store does not know a private CA.
  assert.match(await attempt(tls({ ca: { kind: 'system' } })), /well-known CAs/);
});

test('subjectAltNames replace the hostname check: any one of them suffices', async () => {
  assert.equal(await attempt(tls({ servername: 'sni-only.example', subjectAltNames: [{ type: 'Hostname', value: 'nope.example' }, { type: 'Hostname', value: 'secure.example' }] })), 'ok');
  assert.equal(await attempt(tls({ servername: 'sni-only.example', subjectAltNames: [{ type: 'URI', value: SPIFFE }] })), 'ok');
  assert.match(await attempt(tls({ subjectAltNames: [{ type: 'URI', value: 'spiffe://backend.test/ns/apps/sa/other' }] })), /include none of URI:spiffe:\/\/backend\.test\/ns\/apps\/sa\/other/);
});

test('pooled requests originate TLS, present the client certificate, and pool apart per configuration', async () => {
  const pools = new UpstreamPools({} as MeshTls, DEFAULT_LIMITS, new SelfAddresses('10.255.255.1'));
  try {
    const t = tls({ clientCert: client });
    const ep = { ip: '127.0.0.1', port, meshed: false, tls: t, tlsKey: originateKey(t) };
    const res = await request(`http://127.0.0.1:${port}/x`, { dispatcher: pools.http1(ep), headers: { host: 'secure.example' } });
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'ok /x');
    assert.match(lastClientSans, /URI:spiffe:\/\/backend\.test\/ns\/infra\/sa\/gw/);

    const plain = { ip: '127.0.0.1', port, meshed: false };
    assert.notEqual(endpointKey(plain), endpointKey(ep));
    const bad = tls({ servername: 'other.example' });
    const badEp = { ...plain, tls: bad, tlsKey: originateKey(bad) };
    assert.notEqual(endpointKey(badEp), endpointKey(ep));
    await assert.rejects(
      request(`http://127.0.0.1:${port}/x`, { dispatcher: pools.http1(badEp) }),
      (err: Error & { code?: string }) => err.code === 'ERR_WEFT_BACKEND_TLS' && /does not name other\.example/.test(err.message),
    );
  } finally {
    pools.destroy();
  }
});

test('a policy that cannot be honoured makes no connection and says why', async () => {
  assert.match(await attempt(tls({ invalid: 'BackendTLSPolicy apps/p: caCertificateRef ConfigMap apps/ca: ConfigMap not found' })), /ConfigMap apps\/ca: ConfigMap not found/);
});
