/**
 * The mesh CA: a trust anchor (self-signed root, long-lived, pathLen 1) signs issuers (intermediates,
 * pathLen 0), and an issuer signs workload leaves from CSRs.
 *
 *   trust anchor  --signs-->  issuer  --signs-->  leaf (URI SAN spiffe://<td>/ns/<ns>/sa/<sa>)
 *
 * Invariants:
 * - A leaf's only SAN is its SPIFFE URI, which must be exactly what the CSR asked for and what the
 *   caller (the identity service, after TokenReview) expected.
 * - A leaf never outlives its issuer: notAfter is clamped to the issuer's.
 * - Rotating the issuer (createIssuer again from the same anchor) keeps every proxy's trust: leaves of
 *   the old and new issuer chain to the same anchor.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { IdentityError } from './errors.js';
import { forgePublicKey, generateRsaKeyPair, nodeSigner, publicKeyPemOf, RSA_KEY_BITS } from './keys.js';
import { splitCertificates } from './pem.js';
import { mustParseSpiffeId } from './spiffe.js';

/** A CA certificate with its key, and the anchors it chains to (an anchor lists itself). */
export interface CaCredential {
  readonly certPem: string;
  readonly keyPem: string;
  readonly anchorsPem: string;
}

export interface IssuedCertificate {
  readonly certPem: string;
  /** Intermediates from the issuer up to (excluding) the anchor. */
  readonly chainPem: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface ServingCertificate extends IssuedCertificate {
  readonly keyPem: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Anchors are replaced by hand, rarely: ten years. */
export const DEFAULT_ANCHOR_LIFETIME_MS = 3650 * DAY_MS;
/** Issuers rotate on upgrade or by hand: one year. */
export const DEFAULT_ISSUER_LIFETIME_MS = 365 * DAY_MS;
/** Workload leaves: 24 h (design.md section 5); proxies renew at 70%. */
export const DEFAULT_LEAF_LIFETIME_MS = 24 * HOUR_MS;
/** notBefore is moved back this much so a peer whose clock is slightly behind accepts a fresh leaf. */
export const DEFAULT_BACKDATE_MS = 30_000;

const SHA256 = () => forge.md.sha256.create();

/**
 * A random positive serial in minimal DER: the first byte is 0x01..0x7f. A zero first byte would be
 * padding DER forbids (OpenSSL refuses such a certificate with "illegal padding"), one of 0x80 or more
 * a negative number.
 */
export function serialNumber(random: (n: number) => Buffer = randomBytes): string {
  const bytes = random(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) || 0x01;
  return bytes.toString('hex');
}

function subjectKeyId(publicKey: forge.pki.rsa.PublicKey): string {
  return forge.pki.getPublicKeyFingerprint(publicKey, { type: 'RSAPublicKey' }).getBytes();
}

function caExtensions(pathLen: number, ski: string, aki: string): object[] {
  return [
    { name: 'basicConstraints', cA: true, pathLenConstraint: pathLen, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier', subjectKeyIdentifier: forge.util.bytesToHex(ski) },
    { name: 'authorityKeyIdentifier', keyIdentifier: aki },
  ];
}

export interface CaOptions {
  readonly trustDomain: string;
  readonly lifetimeMs?: number;
  readonly now?: Date;
}

/** A new self-signed trust anchor for the trust domain. */
export async function createTrustAnchor(opts: CaOptions): Promise<CaCredential> {
  const keys = await generateRsaKeyPair();
  const now = opts.now ?? new Date();
  const cert = forge.pki.createCertificate();
  cert.serialNumber = serialNumber();
  cert.publicKey = forgePublicKey(keys.publicKeyPem);
  cert.validity.notBefore = new Date(now.getTime() - DEFAULT_BACKDATE_MS);
  cert.validity.notAfter = new Date(now.getTime() + (opts.lifetimeMs ?? DEFAULT_ANCHOR_LIFETIME_MS));
  const name = [{ name: 'organizationName', value: 'Weft' }, { name: 'commonName', value: `trust-anchor.${opts.trustDomain}` }];
  cert.setSubject(name);
  cert.setIssuer(name);
  const ski = subjectKeyId(cert.publicKey);
  cert.setExtensions(caExtensions(1, ski, ski));
  cert.sign(nodeSigner(keys.privateKeyPem), SHA256());
  const certPem = forge.pki.certificateToPem(cert);
  return { certPem, keyPem: keys.privateKeyPem, anchorsPem: certPem };
}

/**
 * A CA certificate and key ready to sign, parsed once. Construct with `load`, which checks that the
 * key matches the certificate, that it is a CA allowed to sign, and that it chains to its anchors.
 */
export class CertificateAuthority {
  private constructor(
    readonly credential: CaCredential,
    private readonly cert: forge.pki.Certificate,
    private readonly ski: string,
    readonly notAfter: Date,
  ) {}

  static load(credential: CaCredential, now: Date = new Date()): CertificateAuthority {
    const pems = splitCertificates(credential.certPem);
    const first = pems[0];
    if (first === undefined) throw new IdentityError('CA_MATERIAL_INVALID', 'the CA certificate PEM holds no certificate');
    if (splitCertificates(credential.anchorsPem).length === 0) {
      throw new IdentityError('CA_MATERIAL_INVALID', 'the trust anchor PEM holds no certificate');
    }
    let x509: X509Certificate;
    let cert: forge.pki.Certificate;
    let keyPublicPem: string;
    try {
      x509 = new X509Certificate(first);
      cert = forge.pki.certificateFromPem(first);
      keyPublicPem = publicKeyPemOf(credential.keyPem);
    } catch (err) {
      throw new IdentityError('CA_MATERIAL_INVALID', `cannot parse the CA certificate or key: ${(err as Error).message}`);
    }
    if (!x509.ca) throw new IdentityError('CA_MATERIAL_INVALID', 'the CA certificate is not a CA (basicConstraints cA is false)');
    const certPublicPem = x509.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    if (certPublicPem !== keyPublicPem) {
      throw new IdentityError('CA_MATERIAL_INVALID', 'the CA key does not match the CA certificate');
    }
    if (x509.publicKey.asymmetricKeyDetails?.modulusLength !== undefined && x509.publicKey.asymmetricKeyDetails.modulusLength < RSA_KEY_BITS) {
      throw new IdentityError('CA_MATERIAL_INVALID', `the CA key is shorter than ${RSA_KEY_BITS} bits`);
    }
    const notAfter = new Date(x509.validTo);
    if (notAfter.getTime() <= now.getTime()) throw new IdentityError('CERT_EXPIRED', `the CA certificate expired at ${notAfter.toISOString()}`);
    const anchors = splitCertificates(credential.anchorsPem).map((p) => new X509Certificate(p));
    // Walk from the CA certificate through the rest of certPem (intermediates) to an anchor.
    let current = x509;
    const rest = pems.slice(1).map((p) => new X509Certificate(p));
    for (let depth = 0; ; depth++) {
      if (anchors.some((a) => a.raw.equals(current.raw) || (current.checkIssued(a) && current.verify(a.publicKey)))) break;
      const parent = rest.find((p) => current.checkIssued(p) && current.verify(p.publicKey));
      if (parent === undefined || depth > 4) {
        throw new IdentityError('CHAIN_UNTRUSTED', 'the CA certificate does not chain to the given trust anchors');
      }
      current = parent;
    }
    const skiExt = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
    const ski = skiExt?.subjectKeyIdentifier !== undefined
      ? forge.util.hexToBytes(skiExt.subjectKeyIdentifier)
      : subjectKeyId(cert.publicKey as forge.pki.rsa.PublicKey);
    return new CertificateAuthority(credential, cert, ski, notAfter);
  }

  /** PEM bundle of the trust anchors this CA chains to. */
  get anchorsPem(): string {
    return this.credential.anchorsPem;
  }

  /** The intermediates a leaf of this CA is sent with: the CA itself and any above it, not the anchor. */
  get chainPem(): string[] {
    const anchors = new Set(splitCertificates(this.credential.anchorsPem).map((p) => p.trim()));
    return splitCertificates(this.credential.certPem).filter((p) => !anchors.has(p.trim()));
  }

  private sign(
    publicKey: forge.pki.rsa.PublicKey,
    subject: forge.pki.CertificateField[],
    extensions: object[],
    lifetimeMs: number,
    backdateMs: number,
    now: Date,
  ): IssuedCertificate {
    const cert = forge.pki.createCertificate();
    cert.serialNumber = serialNumber();
    cert.publicKey = publicKey;
    const notBefore = new Date(Math.floor((now.getTime() - backdateMs) / 1000) * 1000);
    // X.509 times have one-second precision: round down so the returned times equal the certificate's.
    const notAfter = new Date(Math.floor(Math.min(now.getTime() + lifetimeMs, this.notAfter.getTime()) / 1000) * 1000);
    cert.validity.notBefore = notBefore;
    cert.validity.notAfter = notAfter;
    cert.setSubject(subject);
    cert.setIssuer(this.cert.subject.attributes);
    cert.setExtensions([
      ...extensions,
      { name: 'subjectKeyIdentifier', subjectKeyIdentifier: forge.util.bytesToHex(subjectKeyId(publicKey)) },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.ski },
    ]);
    cert.sign(nodeSigner(this.credential.keyPem), SHA256());
    return {
      certPem: forge.pki.certificateToPem(cert),
      chainPem: this.chainPem,
      notBefore: cert.validity.notBefore,
      notAfter: cert.validity.notAfter,
    };
  }

  /** Signs an intermediate (pathLen 0) for a new issuer. Only an anchor should do this. */
  async createIssuer(opts: CaOptions): Promise<CaCredential> {
    const keys = await generateRsaKeyPair();
    const issued = this.sign(
      forgePublicKey(keys.publicKeyPem),
      [{ name: 'organizationName', value: 'Weft' }, { name: 'commonName', value: `issuer.${opts.trustDomain}` }],
      [
        { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
        { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      ],
      opts.lifetimeMs ?? DEFAULT_ISSUER_LIFETIME_MS,
      DEFAULT_BACKDATE_MS,
      opts.now ?? new Date(),
    );
    const chain = [issued.certPem, ...issued.chainPem].join('');
    return { certPem: chain, keyPem: keys.privateKeyPem, anchorsPem: this.credential.anchorsPem };
  }

  /**
   * Signs a workload leaf for a CSR. `expectedSpiffeId` is what the caller authenticated; the CSR must
   * ask for exactly that URI and nothing else.
   */
  issueLeaf(csrPem: string, opts: LeafOptions): IssuedCertificate {
    mustParseSpiffeId(opts.expectedSpiffeId);
    const csr = parseCsr(csrPem);
    if (csr.uris.length !== 1 || csr.uris[0] !== opts.expectedSpiffeId || csr.dnsNames.length > 0 || csr.otherSans > 0) {
      const asked = [...csr.uris, ...csr.dnsNames.map((d) => `DNS:${d}`)].join(', ') || 'no SAN';
      throw new IdentityError('CSR_IDENTITY_MISMATCH', `the CSR asks for ${asked}, expected exactly ${opts.expectedSpiffeId}`);
    }
    return this.sign(
      csr.publicKey,
      [],
      leafExtensions([{ type: 6, value: opts.expectedSpiffeId }]),
      opts.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS,
      opts.backdateMs ?? DEFAULT_BACKDATE_MS,
      opts.now ?? new Date(),
    );
  }

  /**
   * A key and certificate for a server of the control plane, e.g. the controller's gRPC server:
   * the SPIFFE URI plus DNS names (clients check the SPIFFE ID; the names serve tools like curl).
   */
  async issueServing(opts: { spiffeId: string; dnsNames: readonly string[]; lifetimeMs?: number; now?: Date }): Promise<ServingCertificate> {
    mustParseSpiffeId(opts.spiffeId);
    const keys = await generateRsaKeyPair();
    const issued = this.sign(
      forgePublicKey(keys.publicKeyPem),
      [],
      leafExtensions([{ type: 6, value: opts.spiffeId }, ...opts.dnsNames.map((value) => ({ type: 2, value }))]),
      opts.lifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS,
      DEFAULT_BACKDATE_MS,
      opts.now ?? new Date(),
    );
    return { ...issued, keyPem: keys.privateKeyPem };
  }
}

export interface LeafOptions {
  readonly expectedSpiffeId: string;
  readonly lifetimeMs?: number;
  readonly backdateMs?: number;
  readonly now?: Date;
}

function leafExtensions(altNames: { type: number; value: string }[]): object[] {
  return [
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    // The subject is empty, so the SAN extension must be critical (RFC 5280 4.2.1.6).
    { name: 'subjectAltName', altNames, critical: true },
  ];
}

export interface ParsedCsr {
  readonly publicKey: forge.pki.rsa.PublicKey;
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  /** SANs of any other type (IP, email, ...). */
  readonly otherSans: number;
}

/** Parses a PKCS#10 CSR and checks its self-signature and key. Throws CSR_MALFORMED. */
export function parseCsr(csrPem: string): ParsedCsr {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (err) {
    throw new IdentityError('CSR_MALFORMED', `the CSR cannot be parsed (RSA PKCS#10 PEM expected): ${(err as Error).message}`);
  }
  let signatureOk = false;
  try {
    signatureOk = csr.verify();
  } catch {
    signatureOk = false;
  }
  if (!signatureOk) throw new IdentityError('CSR_MALFORMED', 'the CSR signature does not verify with its own public key');
  const publicKey = csr.publicKey as forge.pki.rsa.PublicKey | null;
  if (publicKey === null || publicKey.n.bitLength() < RSA_KEY_BITS) {
    throw new IdentityError('CSR_MALFORMED', `the CSR key must be RSA of at least ${RSA_KEY_BITS} bits`);
  }
  const uris: string[] = [];
  const dnsNames: string[] = [];
  let otherSans = 0;
  const extReq = csr.getAttribute({ name: 'extensionRequest' }) as { extensions?: { name?: string; altNames?: { type: number; value: string }[] }[] } | null;
  for (const ext of extReq?.extensions ?? []) {
    if (ext.name !== 'subjectAltName') continue;
    for (const alt of ext.altNames ?? []) {
      if (alt.type === 6) uris.push(alt.value);
      else if (alt.type === 2) dnsNames.push(alt.value);
      else otherSans++;
    }
  }
  return { publicKey, uris, dnsNames, otherSans };
}

/** A CSR for a SPIFFE ID (the proxy side): empty subject, the URI as the only SAN. */
export function createCsr(spiffeIdUri: string, keyPair: { privateKeyPem: string; publicKeyPem: string }): string {
  mustParseSpiffeId(spiffeIdUri);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forgePublicKey(keyPair.publicKeyPem);
  csr.setSubject([]);
  csr.setAttributes([
    { name: 'extensionRequest', extensions: [{ name: 'subjectAltName', altNames: [{ type: 6, value: spiffeIdUri }] }] },
  ]);
  csr.sign(nodeSigner(keyPair.privateKeyPem), SHA256());
  return forge.pki.certificationRequestToPem(csr);
}
