/**
 * Identity.Certify: a proxy trades a CSR and its projected ServiceAccount token for a leaf.
 *
 *   request -> identity parses (our trust domain) -> CSR parses, verifies, asks for exactly that ID
 *           -> TokenReview(audience IDENTITY_TOKEN_AUDIENCE) authenticates the token   [bounded concurrency]
 *           -> token's ServiceAccount == requested ns/sa -> issuer signs -> leaf + chain
 *
 * A refusal is a CertifyRefusal (grpc/status.ts maps it), logged once and counted by reason.
 */
import type { sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { IDENTITY_TOKEN_AUDIENCE } from '../../../core/contract.js';
import type { CertifyRequest, CertifyResponse, IdentityServer } from '../../../api/gen/weft/identity/v1/identity.js';
import type { CertificateAuthority } from '../../../identity/ca.js';
import { parseCsr } from '../../../identity/ca.js';
import { IdentityError } from '../../../identity/errors.js';
import { parseSpiffeId } from '../../../identity/spiffe.js';
import { toServiceError } from '../status.js';
import type { ConcurrencyLimiter } from './limiter.js';
import type { IdentityMetrics } from './metrics.js';
import { CertifyRefusal } from './refusal.js';
import type { TokenReviewer, TokenReviewResult } from './token.js';
import { classifyRejectedToken, decodeUnverifiedClaims, existsOrUnknown, parseServiceAccountUsername } from './token.js';

export interface IdentityServiceOptions {
  readonly trustDomain: string;
  /** The issuer in effect (a function, so a rotated issuer is picked up without restarting). */
  readonly issuer: () => CertificateAuthority;
  readonly reviewer: TokenReviewer;
  readonly leafLifetimeMs: number;
  readonly limiter: ConcurrencyLimiter;
  readonly metrics: IdentityMetrics;
  readonly log: Logger;
  /** Bound on one TokenReview (or lookup) round trip. */
  readonly reviewTimeoutMs?: number;
}

/** Tokens are JWTs of a few hundred bytes to a few KB; CSRs about 1 KB. Anything far larger is abuse. */
const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_CSR_BYTES = 16 * 1024;

export class IdentityService {
  constructor(private readonly opts: IdentityServiceOptions) {}

  /** The grpc-js handlers of weft.identity.v1.Identity. */
  handlers(): IdentityServer {
    return {
      certify: (call: ServerUnaryCall<CertifyRequest, CertifyResponse>, callback: sendUnaryData<CertifyResponse>) => {
        this.certify(call.request, call.getPeer()).then(
          (res) => callback(null, res),
          (err: unknown) => callback(toServiceError(err)),
        );
      },
    };
  }

  async certify(req: CertifyRequest, peer = 'unknown'): Promise<CertifyResponse> {
    const started = process.hrtime.bigint();
    const claims = decodeUnverifiedClaims(req.token);
    const log = this.opts.log.child({ identity: req.identity, peer, pod: claims?.pod?.name, podNamespace: claims?.namespace });
    let result = 'ok';
    try {
      const res = await this.certifyUnlogged(req);
      log.info({ validUntil: res.validUntil?.toISOString() }, 'certified');
      return res;
    } catch (err) {
      const refusal = err instanceof CertifyRefusal ? err : new CertifyRefusal('internal', 'internal error');
      result = refusal.reason;
      if (refusal.reason === 'internal') log.error({ err }, 'certify failed');
      else log.warn({ reason: refusal.reason }, `certify refused: ${refusal.message}`);
      throw refusal;
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.opts.metrics.requests.inc({ result });
      this.opts.metrics.duration.observe({ result }, seconds);
    }
  }

  private async certifyUnlogged(req: CertifyRequest): Promise<CertifyResponse> {
    const id = parseSpiffeId(req.identity);
    if (id === undefined) {
      throw new CertifyRefusal('identity_invalid', `identity ${JSON.stringify(req.identity)} is not spiffe://<trust-domain>/ns/<ns>/sa/<sa>`);
    }
    if (id.trustDomain !== this.opts.trustDomain) {
      throw new CertifyRefusal('identity_mismatch', `identity ${req.identity} is not in this mesh's trust domain ${this.opts.trustDomain}`);
    }
    if (req.csrPem.length > MAX_CSR_BYTES) throw new CertifyRefusal('csr_malformed', `the CSR is larger than ${MAX_CSR_BYTES} bytes`);
    this.checkCsr(req.csrPem, req.identity);
    if (req.token === '') throw new CertifyRefusal('token_missing', 'no ServiceAccount token was sent');
    if (req.token.length > MAX_TOKEN_BYTES) throw new CertifyRefusal('token_invalid', `the token is larger than ${MAX_TOKEN_BYTES} bytes`);

    const review = await this.review(req.token);
    const account = parseServiceAccountUsername(review.username);
    if (account === undefined) {
      throw new CertifyRefusal('identity_mismatch', `the token authenticates ${review.username ?? 'nobody'}, not a ServiceAccount`);
    }
    if (account.namespace !== id.namespace || account.name !== id.serviceAccount) {
      throw new CertifyRefusal(
        'identity_mismatch',
        `the token is for ServiceAccount ${account.namespace}/${account.name}, but ${req.identity} was requested`,
      );
    }

    // The API server caches TokenReview verdicts for a few seconds, so an accepted token may belong to
    // a pod that is already gone (or replaced: another uid). Its Pod is read once more, uncached.
    const claims = decodeUnverifiedClaims(req.token);
    if (claims?.namespace !== undefined && claims.pod !== undefined) {
      const pod = { kind: 'Pod', namespace: claims.namespace, name: claims.pod.name, uid: claims.pod.uid } as const;
      if (!(await existsOrUnknown(this.opts.reviewer, pod, AbortSignal.timeout(this.opts.reviewTimeoutMs ?? 10_000)))) {
        throw new CertifyRefusal('token_pod_deleted', `the token is bound to pod ${pod.namespace}/${pod.name}, which no longer exists`);
      }
    }

    try {
      const leaf = this.opts.issuer().issueLeaf(req.csrPem, { expectedSpiffeId: req.identity, lifetimeMs: this.opts.leafLifetimeMs });
      return { leafPem: leaf.certPem, chainPem: [...leaf.chainPem], validUntil: leaf.notAfter };
    } catch (err) {
      if (err instanceof IdentityError && err.code === 'CSR_IDENTITY_MISMATCH') throw new CertifyRefusal('csr_identity_mismatch', err.message);
      if (err instanceof IdentityError && err.code === 'CSR_MALFORMED') throw new CertifyRefusal('csr_malformed', err.message);
      throw err;
    }
  }

  /** CSR checks before TokenReview, so a malformed request costs no API call. */
  private checkCsr(csrPem: string, identity: string): void {
    let parsed: ReturnType<typeof parseCsr>;
    try {
      parsed = parseCsr(csrPem);
    } catch (err) {
      throw new CertifyRefusal('csr_malformed', err instanceof IdentityError ? err.message : 'the CSR cannot be parsed');
    }
    if (parsed.uris.length !== 1 || parsed.uris[0] !== identity || parsed.dnsNames.length > 0 || parsed.otherSans > 0) {
      const asked = [...parsed.uris, ...parsed.dnsNames.map((d) => `DNS:${d}`)].join(', ') || 'no SAN';
      throw new CertifyRefusal('csr_identity_mismatch', `the CSR asks for ${asked}, but ${identity} was requested`);
    }
  }

  /** TokenReview under the concurrency bound; a rejected token is classified into its refusal. */
  private async review(token: string): Promise<TokenReviewResult> {
    const timeoutMs = this.opts.reviewTimeoutMs ?? 10_000;
    return this.opts.limiter.run(async () => {
      this.opts.metrics.tokenReviewsInFlight.inc();
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        let review: TokenReviewResult;
        try {
          review = await this.opts.reviewer.review(token, [IDENTITY_TOKEN_AUDIENCE], signal);
        } catch (err) {
          throw new CertifyRefusal('token_review_unavailable', `TokenReview failed: ${(err as Error).message}`);
        }
        if (!review.authenticated) {
          throw await classifyRejectedToken(token, review, IDENTITY_TOKEN_AUDIENCE, this.opts.reviewer, new Date(), signal);
        }
        // An authenticated review lists the audiences the token is valid for; ours must be among them.
        if (review.audiences !== undefined && !review.audiences.includes(IDENTITY_TOKEN_AUDIENCE)) {
          throw new CertifyRefusal('token_wrong_audience', `the token is not valid for audience ${IDENTITY_TOKEN_AUDIENCE}`);
        }
        return review;
      } finally {
        this.opts.metrics.tokenReviewsInFlight.dec();
      }
    });
  }
}
