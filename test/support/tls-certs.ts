/**
 * Self-signed server certificates for tests of TLS termination (a Gateway's HTTPS listeners): the key
 * from node:crypto, the X.509 certificate built with node-forge. Each certificate is its own trust
 * anchor: a client verifies it with `ca: certPem` and the usual hostname check.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

export interface TestServerCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** A certificate for `dnsNames` (exact or `*.` wildcard), its first name as the subject's CN, valid for a day. */
export function selfSignedServer(dnsNames: readonly string[]): TestServerCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60_000);
  cert.validity.notAfter = new Date(now + 24 * 3600_000);
  const subject = [{ name: 'commonName', value: dnsNames[0] ?? 'test' }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: dnsNames.map((value) => ({ type: 2, value })) },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKey), forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}
