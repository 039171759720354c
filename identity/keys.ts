/**
 * RSA keys and signing. node-forge builds certificates and CSRs but its RSA is pure JavaScript
 * (tens of milliseconds per signature); keys are generated and every signature is computed with
 * node:crypto, and forge only lays out the ASN.1.
 *
 * RSA-2048 because forge can only encode RSA keys and 2048 bits is the smallest size still accepted
 * everywhere (design.md section 5).
 */
import { constants, generateKeyPair, createPrivateKey, privateEncrypt, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPairAsync = promisify(generateKeyPair);

export const RSA_KEY_BITS = 2048;

export interface KeyPairPem {
  /** PKCS#8 PEM ("PRIVATE KEY"). */
  readonly privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM ("PUBLIC KEY"). */
  readonly publicKeyPem: string;
}

export async function generateRsaKeyPair(): Promise<KeyPairPem> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: RSA_KEY_BITS,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { privateKeyPem: privateKey, publicKeyPem: publicKey };
}

/** The DER DigestInfo header of a SHA-256 digest (RFC 8017 section 9.2, note 1). */
const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * A forge-compatible private key whose `sign(md)` computes the RSASSA-PKCS1-v1_5 signature of forge's
 * SHA-256 digest with node:crypto. forge's `cert.sign` and `csr.sign` only call `key.sign(md)`.
 */
export function nodeSigner(privateKeyPem: string): forge.pki.rsa.PrivateKey {
  const key: KeyObject = createPrivateKey(privateKeyPem);
  const signer = {
    sign(md: forge.md.MessageDigest): string {
      if (md.algorithm !== 'sha256') throw new Error(`unsupported digest ${md.algorithm}`);
      const digest = Buffer.from(md.digest().getBytes(), 'binary');
      const sig = privateEncrypt(
        { key, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]),
      );
      return sig.toString('binary');
    },
  };
  return signer as unknown as forge.pki.rsa.PrivateKey;
}

export function forgePublicKey(publicKeyPem: string): forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromPem(publicKeyPem);
}

/** SPKI PEM of the public half of a private key. */
export function publicKeyPemOf(privateKeyPem: string): string {
  return createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }).toString();
}
