/**
 * Projected ServiceAccount tokens: claims read locally (UNVERIFIED) to explain a refusal, and the
 * TokenReviewer interface the identity service authenticates with.
 *
 * Invariant: the service only ever accepts a token on TokenReview's verdict. The unverified claims
 * never grant anything; they only choose which refusal to report when TokenReview says no (its
 * error string is not a stable interface).
 */
import { CertifyRefusal } from './refusal.js';

export interface TokenReviewResult {
  readonly authenticated: boolean;
  /** system:serviceaccount:<ns>:<sa> when authenticated. */
  readonly username?: string | undefined;
  /** The audiences the token was found valid for (a subset of those asked). */
  readonly audiences?: readonly string[] | undefined;
  readonly error?: string | undefined;
}

export interface BoundObject {
  readonly kind: 'Pod' | 'ServiceAccount';
  readonly namespace: string;
  readonly name: string;
  readonly uid: string | undefined;
}

/** The Kubernetes calls the identity service needs (kube.ts implements them; tests use doubles). */
export interface TokenReviewer {
  review(token: string, audiences: readonly string[], signal: AbortSignal): Promise<TokenReviewResult>;
  /** Whether the object exists (with that uid when given). */
  exists(object: BoundObject, signal: AbortSignal): Promise<boolean>;
}

export interface UnverifiedClaims {
  readonly audiences: readonly string[];
  readonly expiresAt: Date | undefined;
  readonly subject: string | undefined;
  readonly namespace: string | undefined;
  readonly pod: { readonly name: string; readonly uid: string | undefined } | undefined;
  readonly serviceAccount: { readonly name: string; readonly uid: string | undefined } | undefined;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Decodes a JWT's payload without checking anything; undefined when it is not a JWT. */
export function decodeUnverifiedClaims(token: string): UnverifiedClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[1] === undefined) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObj(payload)) return undefined;
  const aud = payload['aud'];
  const audiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : [];
  const exp = payload['exp'];
  const k8s = isObj(payload['kubernetes.io']) ? payload['kubernetes.io'] : {};
  const ref = (v: unknown) => {
    if (!isObj(v)) return undefined;
    const name = str(v['name']);
    return name === undefined ? undefined : { name, uid: str(v['uid']) };
  };
  return {
    audiences,
    expiresAt: typeof exp === 'number' ? new Date(exp * 1000) : undefined,
    subject: str(payload['sub']),
    namespace: str(k8s['namespace']),
    pod: ref(k8s['pod']),
    serviceAccount: ref(k8s['serviceaccount']),
  };
}

/** system:serviceaccount:<ns>:<sa> -> {namespace, name}. */
export function parseServiceAccountUsername(username: string | undefined): { namespace: string; name: string } | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username ?? '');
  return m === null || m[1] === undefined || m[2] === undefined ? undefined : { namespace: m[1], name: m[2] };
}

/**
 * Chooses the refusal for a token TokenReview did not authenticate, from its unverified claims:
 * wrong audience, then expiry, then a bound pod or ServiceAccount that is gone, else invalid.
 */
export async function classifyRejectedToken(
  token: string,
  review: TokenReviewResult,
  audience: string,
  reviewer: TokenReviewer,
  now: Date,
  signal: AbortSignal,
): Promise<CertifyRefusal> {
  const claims = decodeUnverifiedClaims(token);
  const why = review.error !== undefined && review.error !== '' ? ` (TokenReview: ${review.error})` : '';
  if (claims === undefined) return new CertifyRefusal('token_invalid', `the token is not a JWT${why}`);
  if (!claims.audiences.includes(audience)) {
    return new CertifyRefusal(
      'token_wrong_audience',
      `the token is for audience ${claims.audiences.join(', ') || '(none)'}, not ${audience}: mount a projected ServiceAccount token with audience ${audience}`,
    );
  }
  if (claims.expiresAt !== undefined && claims.expiresAt.getTime() <= now.getTime()) {
    return new CertifyRefusal('token_expired', `the token expired at ${claims.expiresAt.toISOString()}: read the token file again (the kubelet refreshes it)`);
  }
  const ns = claims.namespace;
  if (ns !== undefined && claims.pod !== undefined) {
    const pod = { kind: 'Pod', namespace: ns, name: claims.pod.name, uid: claims.pod.uid } as const;
    if (!(await existsOrUnknown(reviewer, pod, signal))) {
      return new CertifyRefusal('token_pod_deleted', `the token is bound to pod ${ns}/${claims.pod.name}, which no longer exists${why}`);
    }
  }
  if (ns !== undefined && claims.serviceAccount !== undefined) {
    const sa = { kind: 'ServiceAccount', namespace: ns, name: claims.serviceAccount.name, uid: claims.serviceAccount.uid } as const;
    if (!(await existsOrUnknown(reviewer, sa, signal))) {
      return new CertifyRefusal(
        'token_service_account_deleted',
        `the token is for ServiceAccount ${ns}/${claims.serviceAccount.name}, which no longer exists${why}`,
      );
    }
  }
  return new CertifyRefusal('token_invalid', `the token was not authenticated${why}`);
}

/** A lookup failure is not evidence that the object is gone: report the generic refusal instead. */
export async function existsOrUnknown(reviewer: TokenReviewer, object: BoundObject, signal: AbortSignal): Promise<boolean> {
  try {
    return await reviewer.exists(object, signal);
  } catch {
    return true;
  }
}
