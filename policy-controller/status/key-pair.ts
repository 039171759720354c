/**
 * The controller's check of a Gateway certificate Secret (core/gateway/evaluate.ts KeyPairCheck): the
 * PEM chain's first certificate parses, the key parses (unencrypted), and the key is the certificate's.
 * The answer is the reason a listener is `ResolvedRefs=False InvalidCertificateRef`; the messages name
 * the part that failed and never include key material.
 *
 * Results are remembered per (chain, key) text, bounded: every gateway pass re-evaluates every
 * listener, and parsing an RSA key is the costly part.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';

const MAX_REMEMBERED = 1024;
const remembered = new Map<string, string | undefined>();

function check(certPem: string, keyPem: string): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    return `tls.crt is not a PEM certificate (${(err as Error).message})`;
  }
  let key;
  try {
    key = createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (err) {
    return `tls.key is not an unencrypted PEM private key (${(err as Error).message})`;
  }
  let matches = false;
  try {
    matches = cert.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) return `tls.key is not the private key of the certificate in tls.crt (subject ${cert.subject.replace(/\n/g, ', ')})`;
  return undefined;
}

/** Why the pair cannot terminate TLS, or undefined when it can. */
export function checkKeyPair(certPem: string, keyPem: string): string | undefined {
  const id = `${certPem}\u0000${keyPem}`;
  if (remembered.has(id)) return remembered.get(id);
  const r = check(certPem, keyPem);
  if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.keys().next().value as string);
  remembered.set(id, r);
  return r;
}

const rememberedCa = new Map<string, string | undefined>();

/**
 * The controller's check of a BackendTLSPolicy CA bundle (core/gateway/backend-tls.ts CaBundleCheck):
 * at least one PEM certificate, and every PEM block of the bundle parses. Remembered per text, bounded.
 */
export function checkCaBundle(pem: string): string | undefined {
  if (rememberedCa.has(pem)) return rememberedCa.get(pem);
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  let why: string | undefined = blocks.length === 0 ? 'ca.crt holds no PEM certificate' : undefined;
  for (const [i, b] of blocks.entries()) {
    if (why !== undefined) break;
    try {
      new X509Certificate(b);
    } catch (err) {
      why = `certificate ${i + 1} of ca.crt does not parse (${(err as Error).message})`;
    }
  }
  if (rememberedCa.size >= MAX_REMEMBERED) rememberedCa.clear();
  rememberedCa.set(pem, why);
  return why;
}
