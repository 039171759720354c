import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { CertificateAuthority, createTrustAnchor } from './ca.js';
import type { CaCredential } from './ca.js';
import type { Certifier, CertifyCall, CertifyResult, FailureEvent } from './client.js';
import { IdentityClient } from './client.js';

const WEB = 'spiffe://cluster.local/ns/shop/sa/web';
let anchor: CaCredential;
let ca: CertificateAuthority;

before(async () => {
  anchor = await createTrustAnchor({ trustDomain: 'cluster.local' });
  ca = CertificateAuthority.load(await CertificateAuthority.load(anchor).createIssuer({ trustDomain: 'cluster.local' }));
});

/** Signs in memory; fails the first `failures` calls; `tamper` can alter what it returns. */
function certifier(failures = 0, tamper?: (r: CertifyResult, c: CertifyCall) => CertifyResult): Certifier & { calls: CertifyCall[] } {
  const calls: CertifyCall[] = [];
  return {
    calls,
    async certify(call) {
      calls.push(call);
      if (calls.length <= failures) throw new Error('UNAVAILABLE');
      const leaf = ca.issueLeaf(call.csrPem, { expectedSpiffeId: call.identity, lifetimeMs: 3_600_000 });
      const r = { leafPem: leaf.certPem, chainPem: leaf.chainPem, validUntil: leaf.notAfter };
      return tamper === undefined ? r : tamper(r, call);
    },
  };
}

test('the client sends a fresh token and a CSR for its identity, and publishes the verified leaf', async () => {
  const c = certifier();
  let reads = 0;
  const client = new IdentityClient({ spiffeId: WEB, anchorsPem: anchor.certPem, certifier: c, readToken: async () => `token-${++reads}\n` });
  const key = await client.start();
  client.stop();
  assert.equal(key.spiffeId, WEB);
  assert.equal(c.calls[0]?.token, 'token-1');
  assert.equal(c.calls[0]?.identity, WEB);
  assert.equal(client.provider.current(), key);
  assert.ok(client.provider.tlsOptions().cert.includes(key.chainPem[0] ?? 'missing'));
});

test('renewal is scheduled at 70% of the time left', async () => {
  const client = new IdentityClient({ spiffeId: WEB, anchorsPem: anchor.certPem, certifier: certifier(), readToken: async () => 't' });
  const certified = once(client, 'certified');
  const t0 = Date.now();
  await client.start();
  const [event] = (await certified) as [{ renewAt: Date; key: { notAfter: Date } }];
  client.stop();
  const expected = t0 + 0.7 * (event.key.notAfter.getTime() - t0);
  assert.ok(Math.abs(event.renewAt.getTime() - expected) < 2000, `${event.renewAt.toISOString()} vs ${new Date(expected).toISOString()}`);
});

test('failures are retried with growing, jittered delays until Certify succeeds', async () => {
  const failures: FailureEvent[] = [];
  const client = new IdentityClient({
    spiffeId: WEB, anchorsPem: anchor.certPem, certifier: certifier(3), readToken: async () => 't',
    backoff: { initialMs: 20, maxMs: 1000 },
  });
  client.on('failed', (e) => failures.push(e));
  await client.start();
  client.stop();
  assert.deepEqual(failures.map((f) => f.attempt), [1, 2, 3]);
  // Delay n lies in [c/2, c] with c = 20 * 2^(n-1).
  failures.forEach((f, i) => {
    const ceiling = 20 * 2 ** i;
    assert.ok(f.retryInMs >= ceiling / 2 && f.retryInMs <= ceiling, `attempt ${i + 1}: ${f.retryInMs}`);
  });
});

test('backoff stops growing at its maximum', () => {
  const client = new IdentityClient({
    spiffeId: WEB, anchorsPem: anchor.certPem, certifier: certifier(), readToken: async () => 't',
    backoff: { initialMs: 1000, maxMs: 30_000 }, random: () => 1,
  });
  assert.equal(client.retryDelay(1), 1000);
  assert.equal(client.retryDelay(4), 8000);
  assert.equal(client.retryDelay(50), 30_000);
});

test('a response for another identity is not accepted', async () => {
  const other = 'spiffe://cluster.local/ns/shop/sa/api';
  const wrong: Certifier = {
    async certify() {
      const s = await ca.issueServing({ spiffeId: other, dnsNames: [] });
      return { leafPem: s.certPem, chainPem: s.chainPem, validUntil: s.notAfter };
    },
  };
  const client = new IdentityClient({ spiffeId: WEB, anchorsPem: anchor.certPem, certifier: wrong, readToken: async () => 't' });
  await assert.rejects(client.certifyOnce(), /expected spiffe:\/\/cluster\.local\/ns\/shop\/sa\/web/);
});

test('a leaf for the right identity but another key is not accepted', async () => {
  const stolen: Certifier = {
    async certify() {
      const s = await ca.issueServing({ spiffeId: WEB, dnsNames: [] });
      return { leafPem: s.certPem, chainPem: s.chainPem, validUntil: s.notAfter };
    },
  };
  const client = new IdentityClient({ spiffeId: WEB, anchorsPem: anchor.certPem, certifier: stolen, readToken: async () => 't' });
  await assert.rejects(client.certifyOnce(), /does not certify the key/);
});
