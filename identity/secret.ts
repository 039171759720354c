/**
 * CA material in the shape of a Kubernetes Secret's `data` (base64 values), without the Kubernetes
 * client: the controller and `weft install` make the API calls.
 *
 *   ca.crt   trust anchors (PEM bundle; several during an anchor rotation)
 *   tls.crt  the CA certificate (the issuer, followed by any intermediates above it)
 *   tls.key  its private key (PKCS#8 PEM)
 *
 * The same shape holds the issuer (weft-identity-issuer) and, for install, the anchor itself.
 */
import type { CaCredential } from './ca.js';
import { IdentityError } from './errors.js';
import { splitCertificates } from './pem.js';

export const SECRET_KEYS = { anchors: 'ca.crt', cert: 'tls.crt', key: 'tls.key' } as const;

export interface SecretShape {
  readonly data?: Readonly<Record<string, string>> | undefined;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

export function credentialToSecretData(cred: CaCredential): { data: Record<string, string> } {
  return {
    data: {
      [SECRET_KEYS.anchors]: b64(cred.anchorsPem),
      [SECRET_KEYS.cert]: b64(cred.certPem),
      [SECRET_KEYS.key]: b64(cred.keyPem),
    },
  };
}

/**
 * Reads CA material from a Secret. Only the shape is checked here; CertificateAuthority.load checks
 * that the key matches and that the certificate chains to the anchors.
 */
export function credentialFromSecretData(secret: SecretShape, what = 'the issuer Secret'): CaCredential {
  const data = secret.data ?? {};
  const missing = Object.values(SECRET_KEYS).filter((k) => typeof data[k] !== 'string' || data[k] === '');
  if (missing.length > 0) {
    throw new IdentityError('CA_MATERIAL_INVALID', `${what} lacks ${missing.join(', ')}`);
  }
  const decode = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
  const anchorsPem = decode(SECRET_KEYS.anchors);
  const certPem = decode(SECRET_KEYS.cert);
  const keyPem = decode(SECRET_KEYS.key);
  if (splitCertificates(anchorsPem).length === 0) throw new IdentityError('CA_MATERIAL_INVALID', `${what}: ca.crt holds no PEM certificate`);
  if (splitCertificates(certPem).length === 0) throw new IdentityError('CA_MATERIAL_INVALID', `${what}: tls.crt holds no PEM certificate`);
  if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(keyPem)) throw new IdentityError('CA_MATERIAL_INVALID', `${what}: tls.key holds no PEM private key`);
  return { anchorsPem, certPem, keyPem };
}
