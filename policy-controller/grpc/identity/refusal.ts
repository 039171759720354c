/**
 * Why the identity service refuses a Certify call. The stable `reason` names the metric label and
 * log field; grpc/status.ts maps each reason to its gRPC status (one table for the server).
 */

export type CertifyRefusalReason =
  /** The requested identity is not spiffe://<td>/ns/<ns>/sa/<sa>. */
  | 'identity_invalid'
  /** The CSR is unparsable, not RSA >= 2048, or its signature does not verify. */
  | 'csr_malformed'
  /** The CSR asks for another SAN than exactly the requested identity. */
  | 'csr_identity_mismatch'
  | 'token_missing'
  /** The token is not for audience IDENTITY_TOKEN_AUDIENCE. */
  | 'token_wrong_audience'
  | 'token_expired'
  /** The pod the token is bound to no longer exists (or is another pod with the same name). */
  | 'token_pod_deleted'
  /** The ServiceAccount the token is for no longer exists. */
  | 'token_service_account_deleted'
  /** TokenReview refused the token for any other reason (bad signature, unknown issuer, not a JWT). */
  | 'token_invalid'
  /** The token's ServiceAccount (or the trust domain) is not the requested identity. */
  | 'identity_mismatch'
  /** TokenReview could not be asked (API server unreachable, timeout). */
  | 'token_review_unavailable'
  /** Too many Certify calls waiting for TokenReview. */
  | 'overloaded'
  | 'internal';

export class CertifyRefusal extends Error {
  override readonly name = 'CertifyRefusal';
  constructor(
    readonly reason: CertifyRefusalReason,
    message: string,
  ) {
    super(message);
  }
}
