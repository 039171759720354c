/**
 * Typed failures of the identity library. Each has a stable `code`; callers (the identity service,
 * the proxy) map codes to gRPC statuses or TLS refusals and never match on message text.
 */

export type IdentityErrorCode =
  /** The CSR is not parseable PKCS#10, its key is not RSA >= 2048 bits, or its signature is wrong. */
  | 'CSR_MALFORMED'
  /** The CSR asks for SANs other than exactly the requested SPIFFE URI. */
  | 'CSR_IDENTITY_MISMATCH'
  /** A string is not a SPIFFE ID of the form spiffe://<td>/ns/<ns>/sa/<sa>. */
  | 'SPIFFE_ID_INVALID'
  /** A certificate (leaf, intermediate or anchor) is outside its validity period. */
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  /** No path from the leaf through the given intermediates ends at a trust anchor. */
  | 'CHAIN_UNTRUSTED'
  /** A certificate in the path breaks a CA constraint (CA flag, keyCertSign, path length). */
  | 'CHAIN_CONSTRAINT'
  /** The leaf is not a workload certificate (CA flag set, no or several URI SANs). */
  | 'LEAF_INVALID'
  /** The leaf carries a SPIFFE ID other than the expected one. */
  | 'SPIFFE_ID_MISMATCH'
  /** Stored CA material is missing a field, unparseable, or its key does not match its certificate. */
  | 'CA_MATERIAL_INVALID';

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
  }
}
