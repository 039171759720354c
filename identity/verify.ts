/**
 * Verification of workload certificate chains: leaf -> intermediates -> trust anchor.
 *
 * Rules (each failure has its own IdentityError code):
 * - every certificate in the path is within its validity period at `now`;
 * - each certificate is signed by the next (issuer name and signature both checked);
 * - every certificate above the leaf is a CA with keyCertSign (when keyUsage is present) and its
 *   pathLen admits the intermediates below it;
 * - the path ends at one of the anchors (matched by signature, so a foreign root with the same name
 *   does not pass);
 * - the leaf is not a CA and carries exactly one URI SAN, a Weft SPIFFE ID (the expected one, if given).
 *
 * node:crypto's X509Certificate does the signature, name and time checks; the CA constraints come
 * from x509-constraints.ts.
 */
import { X509Certificate } from 'node:crypto';
import { IdentityError } from './errors.js';
import { splitCertificates } from './pem.js';
import { parseSpiffeId } from './spiffe.js';
import { readCaConstraints } from './x509-constraints.js';

export type CertInput = string | Buffer | X509Certificate;

export interface VerifyChainInput {
  readonly leaf: CertInput;
  /** Intermediates in any order (a TLS peer's chain beyond its leaf, or the Certify response chain). */
  readonly intermediates?: readonly CertInput[];
  /** Trust anchors: a PEM bundle or certificates. */
  readonly anchors: string | readonly CertInput[];
  /** When set, the leaf's SPIFFE ID must equal it. */
  readonly expectedSpiffeId?: string;
  readonly now?: Date;
}

export interface VerifiedLeaf {
  readonly spiffeId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The path from the leaf up to and including the anchor. */
  readonly path: readonly X509Certificate[];
}

/** The longest path accepted (leaf + intermediates + anchor); Weft issues paths of three. */
const MAX_PATH = 5;

function toX509(c: CertInput): X509Certificate {
  if (c instanceof X509Certificate) return c;
  try {
    return new X509Certificate(c);
  } catch (err) {
    throw new IdentityError('CHAIN_UNTRUSTED', `a certificate cannot be parsed: ${(err as Error).message}`);
  }
}

function checkTime(c: X509Certificate, now: Date, what: string): void {
  const from = new Date(c.validFrom);
  const to = new Date(c.validTo);
  if (now.getTime() < from.getTime()) {
    throw new IdentityError('CERT_NOT_YET_VALID', `${what} is not valid before ${from.toISOString()}`);
  }
  if (now.getTime() > to.getTime()) {
    throw new IdentityError('CERT_EXPIRED', `${what} expired at ${to.toISOString()}`);
  }
}

/** The URI SANs of a certificate, parsed from node's subjectAltName string. */
export function uriSans(c: X509Certificate): string[] {
  const san = c.subjectAltName;
  if (san === undefined) return [];
  // node escapes values containing separators in JSON-like quotes: URI:"..." ; Weft's IDs never need it.
  return san.split(', ').filter((s) => s.startsWith('URI:')).map((s) => s.slice('URI:'.length).replace(/^"(.*)"$/, '$1'));
}

/** The SPIFFE ID of a leaf: its only URI SAN, when that is a Weft workload ID. */
export function spiffeIdOf(c: CertInput): string | undefined {
  const uris = uriSans(toX509(c));
  return uris.length === 1 && uris[0] !== undefined && parseSpiffeId(uris[0]) !== undefined ? uris[0] : undefined;
}

/**
 * Whether `parent` signed `child`: names chain and the signature verifies. (X509Certificate.checkIssued
 * also rejects parents without keyCertSign; checkCa reports that case with a precise code instead.)
 */
function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return child.issuer === parent.subject && child.verify(parent.publicKey);
}

function checkCa(c: X509Certificate, intermediatesBelow: number, what: string): void {
  const k = readCaConstraints(c.raw);
  if (!c.ca || !k.isCa) throw new IdentityError('CHAIN_CONSTRAINT', `${what} is not a CA`);
  if (k.keyCertSign === false) throw new IdentityError('CHAIN_CONSTRAINT', `${what} may not sign certificates (keyUsage lacks keyCertSign)`);
  if (k.pathLen !== undefined && intermediatesBelow > k.pathLen) {
    throw new IdentityError('CHAIN_CONSTRAINT', `${what} allows ${k.pathLen} intermediate(s) below it, the path has ${intermediatesBelow}`);
  }
}

export function verifyChain(input: VerifyChainInput): VerifiedLeaf {
  const now = input.now ?? new Date();
  const leaf = toX509(input.leaf);
  const intermediates = (input.intermediates ?? []).map(toX509);
  const anchors = (typeof input.anchors === 'string' ? splitCertificates(input.anchors) : input.anchors).map(toX509);
  if (anchors.length === 0) throw new IdentityError('CHAIN_UNTRUSTED', 'no trust anchors given');

  if (leaf.ca) throw new IdentityError('LEAF_INVALID', 'the leaf certificate is a CA');
  const uris = uriSans(leaf);
  const id = uris[0];
  if (uris.length !== 1 || id === undefined || parseSpiffeId(id) === undefined) {
    throw new IdentityError('LEAF_INVALID', `the leaf must carry exactly one SPIFFE URI SAN, it has ${uris.length === 0 ? 'none' : uris.join(', ')}`);
  }
  checkTime(leaf, now, 'the leaf certificate');

  const path: X509Certificate[] = [leaf];
  let current = leaf;
  for (;;) {
    const anchor = anchors.find((a) => issuedBy(current, a));
    if (anchor !== undefined) {
      checkTime(anchor, now, 'the trust anchor');
      checkCa(anchor, path.length - 1, 'the trust anchor');
      path.push(anchor);
      break;
    }
    const parent = intermediates.find((p) => !path.includes(p) && issuedBy(current, p));
    if (parent === undefined || path.length >= MAX_PATH - 1) {
      throw new IdentityError('CHAIN_UNTRUSTED', `the certificate of ${id} does not chain to a trust anchor`);
    }
    checkTime(parent, now, 'an intermediate certificate');
    checkCa(parent, path.length - 1, 'an intermediate certificate');
    path.push(parent);
    current = parent;
  }

  if (input.expectedSpiffeId !== undefined && id !== input.expectedSpiffeId) {
    throw new IdentityError('SPIFFE_ID_MISMATCH', `the certificate is for ${id}, expected ${input.expectedSpiffeId}`);
  }
  return { spiffeId: id, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo), path };
}

/**
 * Verifies a TLS peer: `chainDer` is the peer's certificates as sent (leaf first), e.g. from
 * `socket.getPeerX509Certificate()` walked through `issuerCertificate`, or the raw DERs.
 */
export function verifyPeer(chainDer: readonly Buffer[], anchors: string | readonly CertInput[], expectedSpiffeId?: string, now?: Date): VerifiedLeaf {
  const [leaf, ...rest] = chainDer;
  if (leaf === undefined) throw new IdentityError('LEAF_INVALID', 'the peer sent no certificate');
  return verifyChain({
    leaf,
    intermediates: rest,
    anchors,
    ...(expectedSpiffeId !== undefined ? { expectedSpiffeId } : {}),
    ...(now !== undefined ? { now } : {}),
  });
}
