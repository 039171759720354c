import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { CertificateAuthority, createCsr, createTrustAnchor, parseCsr, serialNumber } from './ca.js';
import type { CaCredential } from './ca.js';
import { IdentityError } from './errors.js';
import { generateRsaKeyPair, nodeSigner } from './keys.js';
import { credentialFromSecretData, credentialToSecretData } from './secret.js';
import { controllerSpiffeId, parseSpiffeId } from './spiffe.js';
import { spiffeIdOf, uriSans, verifyChain, verifyPeer } from './verify.js';
import { certPemToDer, splitCertificates } from './pem.js';
import { readCaConstraints } from './x509-constraints.js';

const TD = 'cluster.local';
const WEB = 'spiffe://cluster.local/ns/shop/sa/web';
const API = 'spiffe://cluster.local/ns/shop/sa/api';

function code(c: string) {
  return (err: unknown) => err instanceof IdentityError && err.code === c;
}

let anchor: CaCredential;
let issuer: CertificateAuthority;
let webKeys: { privateKeyPem: string; publicKeyPem: string };

before(async () => {
  anchor = await createTrustAnchor({ trustDomain: TD });
  issuer = CertificateAuthority.load(await CertificateAuthority.load(anchor).createIssuer({ trustDomain: TD }));
  webKeys = await generateRsaKeyPair();
});

describe('trust anchor and issuer', () => {
  test('the anchor is a self-signed CA allowing one intermediate; the issuer is a CA allowing none', () => {
    const a = new X509Certificate(anchor.certPem);
    assert.ok(a.ca);
    assert.ok(a.verify(a.publicKey));
    assert.equal(readCaConstraints(a.raw).pathLen, 1);
    assert.equal(readCaConstraints(a.raw).keyCertSign, true);
    const i = new X509Certificate(issuer.credential.certPem);
    assert.ok(i.ca);
    assert.ok(i.verify(a.publicKey));
    assert.equal(readCaConstraints(i.raw).pathLen, 0);
  });

  test('a CA whose key does not match its certificate is refused on load', () => {
    const other = { ...issuer.credential, keyPem: webKeys.privateKeyPem };
    assert.throws(() => CertificateAuthority.load(other), code('CA_MATERIAL_INVALID'));
  });

  test('an issuer that does not chain to the given anchors is refused on load', async () => {
    const foreign = await createTrustAnchor({ trustDomain: TD });
    assert.throws(() => CertificateAuthority.load({ ...issuer.credential, anchorsPem: foreign.certPem }), code('CHAIN_UNTRUSTED'));
  });
});

describe('leaf signing', () => {
  test('a leaf carries the SPIFFE URI as its only SAN, leaf key usages, and chains to the anchor', () => {
    const now = new Date();
    const leaf = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB, now });
    const x = new X509Certificate(leaf.certPem);
    assert.equal(x.subjectAltName, `URI:${WEB}`);
    assert.equal(x.ca, false);
    assert.deepEqual([...(x.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const k = readCaConstraints(x.raw);
    assert.equal(k.digitalSignature, true);
    assert.equal(k.keyCertSign, false);
    assert.equal(x.publicKey.export({ type: 'spki', format: 'pem' }), webKeys.publicKeyPem);
    assert.equal(leaf.chainPem.length, 1);
    const v = verifyChain({ leaf: leaf.certPem, intermediates: leaf.chainPem, anchors: anchor.certPem, expectedSpiffeId: WEB });
    assert.equal(v.spiffeId, WEB);
    assert.equal(v.path.length, 3);
  });

  test('leaf lifetime defaults to 24 h, is configurable, and notBefore is backdated for clock skew', () => {
    const now = new Date('2026-11-22T10:00:00Z');
    const day = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB, now });
    assert.equal(day.notAfter.getTime() - now.getTime(), 24 * 3600_000);
    assert.ok(day.notBefore.getTime() < now.getTime() && day.notBefore.getTime() >= now.getTime() - 120_000);
    const short = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB, now, lifetimeMs: 3000 });
    assert.equal(short.notAfter.getTime() - now.getTime(), 3000);
  });

  test('a leaf never outlives its issuer', async () => {
    const now = new Date();
    const shortIssuer = CertificateAuthority.load(await CertificateAuthority.load(anchor).createIssuer({ trustDomain: TD, lifetimeMs: 3600_000, now }));
    const leaf = shortIssuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB, now });
    assert.ok(leaf.notAfter.getTime() <= shortIssuer.notAfter.getTime());
  });

  test('a CSR whose SAN differs from the requested identity is refused', () => {
    assert.throws(() => issuer.issueLeaf(createCsr(API, webKeys), { expectedSpiffeId: WEB }), code('CSR_IDENTITY_MISMATCH'));
  });

  test('a CSR with an extra DNS SAN is refused', () => {
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = forge.pki.publicKeyFromPem(webKeys.publicKeyPem);
    csr.setSubject([]);
    csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: WEB }, { type: 2, value: 'evil.example' }] }] }]);
    csr.sign(nodeSigner(webKeys.privateKeyPem), forge.md.sha256.create());
    assert.throws(() => issuer.issueLeaf(forge.pki.certificationRequestToPem(csr), { expectedSpiffeId: WEB }), code('CSR_IDENTITY_MISMATCH'));
  });

  test('a CSR that is not PEM PKCS#10 is malformed', () => {
    assert.throws(() => issuer.issueLeaf('not a csr', { expectedSpiffeId: WEB }), code('CSR_MALFORMED'));
  });

  test('a CSR whose signature does not match its key is malformed', async () => {
    const other = await generateRsaKeyPair();
    const csr = forge.pki.createCertificationRequest();
    csr.publicKey = forge.pki.publicKeyFromPem(webKeys.publicKeyPem);
    csr.setAttributes([{ name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: WEB }] }] }]);
    csr.sign(nodeSigner(other.privateKeyPem), forge.md.sha256.create());
    assert.throws(() => parseCsr(forge.pki.certificationRequestToPem(csr)), code('CSR_MALFORMED'));
  });

  test('the controller serving certificate has its SPIFFE ID and the DNS SANs', async () => {
    const id = controllerSpiffeId(TD);
    assert.equal(id, 'spiffe://cluster.local/ns/weft-system/sa/weft-controller');
    const s = await issuer.issueServing({ spiffeId: id, dnsNames: ['weft-controller.weft-system.svc'] });
    const x = new X509Certificate(s.certPem);
    assert.equal(x.subjectAltName, `URI:${id}, DNS:weft-controller.weft-system.svc`);
    assert.equal(spiffeIdOf(x), id);
    verifyChain({ leaf: s.certPem, intermediates: s.chainPem, anchors: anchor.certPem, expectedSpiffeId: id });
  });
});

describe('chain verification', () => {
  test('an expired leaf is refused', () => {
    const past = new Date(Date.now() - 48 * 3600_000);
    const leaf = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB, now: past, lifetimeMs: 3600_000 });
    assert.throws(() => verifyChain({ leaf: leaf.certPem, intermediates: leaf.chainPem, anchors: anchor.certPem }), code('CERT_EXPIRED'));
  });

  test('a leaf whose chain ends at a foreign anchor is refused', async () => {
    const foreignAnchor = await createTrustAnchor({ trustDomain: TD });
    const foreignIssuer = CertificateAuthority.load(await CertificateAuthority.load(foreignAnchor).createIssuer({ trustDomain: TD }));
    const leaf = foreignIssuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB });
    // Same subject names as ours: only the signatures tell them apart.
    assert.equal(new X509Certificate(foreignAnchor.certPem).subject, new X509Certificate(anchor.certPem).subject);
    assert.throws(() => verifyChain({ leaf: leaf.certPem, intermediates: leaf.chainPem, anchors: anchor.certPem }), code('CHAIN_UNTRUSTED'));
    assert.throws(() => verifyChain({ leaf: leaf.certPem, intermediates: issuer.chainPem, anchors: anchor.certPem }), code('CHAIN_UNTRUSTED'));
  });

  test('a leaf without its intermediate does not chain', () => {
    const leaf = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB });
    assert.throws(() => verifyChain({ leaf: leaf.certPem, anchors: anchor.certPem }), code('CHAIN_UNTRUSTED'));
  });

  test('a leaf for another identity than expected is refused', () => {
    const leaf = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB });
    assert.throws(
      () => verifyChain({ leaf: leaf.certPem, intermediates: leaf.chainPem, anchors: anchor.certPem, expectedSpiffeId: API }),
      code('SPIFFE_ID_MISMATCH'),
    );
  });

  test('a leaf whose SAN is not a SPIFFE URI is refused', () => {
    const x = forgeLeaf(issuer.credential, [{ type: 2, value: 'web.shop.svc' }], false);
    assert.throws(() => verifyChain({ leaf: x, intermediates: issuer.chainPem, anchors: anchor.certPem }), code('LEAF_INVALID'));
    const y = forgeLeaf(issuer.credential, [{ type: 6, value: WEB }, { type: 6, value: API }], false);
    assert.throws(() => verifyChain({ leaf: y, intermediates: issuer.chainPem, anchors: anchor.certPem }), code('LEAF_INVALID'));
  });

  test('a certificate signed by a leaf (not a CA) is refused', async () => {
    const leafKeys = await generateRsaKeyPair();
    const leaf = issuer.issueLeaf(createCsr(WEB, leafKeys), { expectedSpiffeId: WEB });
    const child = forgeLeaf({ certPem: leaf.certPem, keyPem: leafKeys.privateKeyPem, anchorsPem: anchor.certPem }, [{ type: 6, value: API }], false);
    assert.throws(
      () => verifyChain({ leaf: child, intermediates: [leaf.certPem, ...leaf.chainPem], anchors: anchor.certPem }),
      code('CHAIN_CONSTRAINT'),
    );
  });

  test('an intermediate below the pathLen-0 issuer breaks the path length', async () => {
    const subKeys = await generateRsaKeyPair();
    const sub = forgeLeaf(issuer.credential, [], true, subKeys.publicKeyPem);
    const leaf = forgeLeaf({ certPem: sub, keyPem: subKeys.privateKeyPem, anchorsPem: anchor.certPem }, [{ type: 6, value: WEB }], false);
    assert.throws(
      () => verifyChain({ leaf, intermediates: [sub, ...issuer.chainPem], anchors: anchor.certPem }),
      code('CHAIN_CONSTRAINT'),
    );
  });

  test('a leaf signed by a rotated issuer verifies against the same anchor as the old one', async () => {
    const rotated = CertificateAuthority.load(await CertificateAuthority.load(anchor).createIssuer({ trustDomain: TD }));
    assert.notEqual(rotated.credential.certPem, issuer.credential.certPem);
    const oldLeaf = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB });
    const newLeaf = rotated.issueLeaf(createCsr(API, webKeys), { expectedSpiffeId: API });
    assert.equal(verifyChain({ leaf: oldLeaf.certPem, intermediates: oldLeaf.chainPem, anchors: anchor.certPem }).spiffeId, WEB);
    assert.equal(verifyChain({ leaf: newLeaf.certPem, intermediates: newLeaf.chainPem, anchors: anchor.certPem }).spiffeId, API);
    // A new leaf presented with the old issuer's chain does not verify: the chain must come with it.
    assert.throws(() => verifyChain({ leaf: newLeaf.certPem, intermediates: oldLeaf.chainPem, anchors: anchor.certPem }), code('CHAIN_UNTRUSTED'));
  });

  test('verifyPeer takes the raw DER chain a TLS socket reports', () => {
    const leaf = issuer.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB });
    const ders = [leaf.certPem, ...leaf.chainPem].map(certPemToDer);
    assert.equal(verifyPeer(ders, anchor.certPem, WEB).spiffeId, WEB);
    assert.throws(() => verifyPeer(ders, anchor.certPem, API), code('SPIFFE_ID_MISMATCH'));
    assert.throws(() => verifyPeer([], anchor.certPem), code('LEAF_INVALID'));
  });
});

describe('Secret shape', () => {
  test('an issuer survives a round trip through Secret data and still signs chaining leaves', () => {
    const secret = credentialToSecretData(issuer.credential);
    assert.deepEqual(Object.keys(secret.data).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
    // Values are base64 as in a Kubernetes Secret's data.
    assert.match(Buffer.from(secret.data['tls.crt'] ?? '', 'base64').toString(), /BEGIN CERTIFICATE/);
    const back = credentialFromSecretData(JSON.parse(JSON.stringify(secret)) as typeof secret);
    assert.deepEqual(back, issuer.credential);
    const ca = CertificateAuthority.load(back);
    const leaf = ca.issueLeaf(createCsr(WEB, webKeys), { expectedSpiffeId: WEB });
    verifyChain({ leaf: leaf.certPem, intermediates: leaf.chainPem, anchors: anchor.certPem });
  });

  test('a Secret missing a key names what is missing', () => {
    assert.throws(
      () => credentialFromSecretData({ data: { 'ca.crt': 'eA==' } }),
      (err: unknown) => err instanceof IdentityError && err.code === 'CA_MATERIAL_INVALID' && /tls\.crt, tls\.key/.test(err.message),
    );
  });
});

describe('SPIFFE IDs', () => {
  test('only spiffe://<td>/ns/<ns>/sa/<sa> parses', () => {
    assert.deepEqual(parseSpiffeId(WEB), { trustDomain: TD, namespace: 'shop', serviceAccount: 'web' });
    for (const bad of ['spiffe://cluster.local/ns/shop', 'spiffe://cluster.local/ns/shop/sa/web/x', 'https://cluster.local/ns/a/sa/b', 'spiffe://cluster.local/ns/Shop/sa/web', 'spiffe://cluster.local/ns//sa/web']) {
      assert.equal(parseSpiffeId(bad), undefined, bad);
    }
  });

  test('uriSans lists URI SANs only', () => {
    const x = new X509Certificate(splitCertificates(forgeLeaf(issuer.credential, [{ type: 6, value: WEB }, { type: 2, value: 'a.b' }], false))[0] ?? '');
    assert.deepEqual(uriSans(x), [WEB]);
  });
});

/** Builds an arbitrary certificate signed by `signer` (for shapes the CA itself refuses to make). */
function forgeLeaf(signer: CaCredential, altNames: { type: number; value: string }[], ca: boolean, publicKeyPem = webKeys.publicKeyPem): string {
  const parent = forge.pki.certificateFromPem(splitCertificates(signer.certPem)[0] ?? '');
  const cert = forge.pki.createCertificate();
  cert.serialNumber = '0a';
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3600_000);
  cert.setSubject(ca ? [{ name: 'commonName', value: 'sub' }] : []);
  cert.setIssuer(parent.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: ca, critical: true },
    ...(ca ? [{ name: 'keyUsage', keyCertSign: true }] : []),
    ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames, critical: true }] : []),
  ]);
  cert.sign(nodeSigner(signer.keyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

test('serials are positive minimal DER integers: a zero or high first byte is never issued (OpenSSL refused 1 in 256)', () => {
  const fixed = (first: number, second: number) => (n: number) => { const b = Buffer.alloc(n, 0x11); b[0] = first; b[1] = second; return b; };
  assert.equal(serialNumber(fixed(0x00, 0x10)).slice(0, 4), '0110');
  assert.equal(serialNumber(fixed(0x80, 0x10)).slice(0, 4), '0110');
  assert.equal(serialNumber(fixed(0xff, 0x90)).slice(0, 4), '7f90');
  assert.equal(serialNumber(fixed(0x42, 0x00)).slice(0, 4), '4200');
  for (let i = 0; i < 2000; i++) {
    const first = Number.parseInt(serialNumber().slice(0, 2), 16);
    assert.ok(first >= 0x01 && first <= 0x7f, `first byte ${first}`);
  }
});
