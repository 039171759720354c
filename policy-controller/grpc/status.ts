/**
 * The one table of the gRPC server that turns typed failures into statuses. Handlers throw typed
 * errors (CertifyRefusal, ...); nothing else builds a status.
 */
import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import type { CertifyRefusalReason } from './identity/refusal.js';
import { CertifyRefusal } from './identity/refusal.js';

/** Each Certify refusal's status; docs/identity.md shows the same table. */
export const CERTIFY_REFUSAL_STATUS: Readonly<Record<CertifyRefusalReason, status>> = {
  identity_invalid: status.INVALID_ARGUMENT,
  csr_malformed: status.INVALID_ARGUMENT,
  csr_identity_mismatch: status.INVALID_ARGUMENT,
  token_missing: status.UNAUTHENTICATED,
  token_wrong_audience: status.UNAUTHENTICATED,
  token_invalid: status.UNAUTHENTICATED,
  // The token was fine once: the proxy must read a fresh one, not just retry the same.
  token_expired: status.FAILED_PRECONDITION,
  token_pod_deleted: status.NOT_FOUND,
  token_service_account_deleted: status.NOT_FOUND,
  identity_mismatch: status.PERMISSION_DENIED,
  token_review_unavailable: status.UNAVAILABLE,
  overloaded: status.RESOURCE_EXHAUSTED,
  internal: status.INTERNAL,
};

/** Metadata key carrying the stable refusal reason next to the status. */
export const REFUSAL_REASON_METADATA = 'refusal-reason';

export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof CertifyRefusal) {
    const metadata = new Metadata();
    metadata.set(REFUSAL_REASON_METADATA, err.reason);
    return { code: CERTIFY_REFUSAL_STATUS[err.reason], details: err.message, metadata };
  }
  return { code: status.INTERNAL, details: 'internal error' };
}
