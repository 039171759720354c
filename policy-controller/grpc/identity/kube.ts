/**
 * The identity service's Kubernetes calls, isolated here: TokenReview, existence of a token's bound
 * pod or ServiceAccount, and reading the issuer Secret. Nothing else in identity/ or grpc/ imports
 * the Kubernetes client.
 *
 * RBAC the controller needs for these: create tokenreviews (authentication.k8s.io); get pods and
 * serviceaccounts; get the issuer Secret.
 */
import { ApiException, AuthenticationV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { CaCredential } from '../../../identity/ca.js';
import { credentialFromSecretData } from '../../../identity/secret.js';
import { PooledKubeConfig } from '../../k8s/pooled-kubeconfig.js';
import type { BoundObject, TokenReviewer, TokenReviewResult } from './token.js';

/** The controller's KubeConfig: every API call it makes shares one connection pool (PooledKubeConfig). */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new PooledKubeConfig();
  if (path !== undefined) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

/** Races a call against the signal: the generated client takes no AbortSignal. */
async function withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p, aborted]);
  } finally {
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

export class KubeTokenReviewer implements TokenReviewer {
  private readonly auth: AuthenticationV1Api;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.auth = kc.makeApiClient(AuthenticationV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async review(token: string, audiences: readonly string[], signal: AbortSignal): Promise<TokenReviewResult> {
    const res = await withSignal(
      this.auth.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } } }),
      signal,
    );
    const s = res.status ?? {};
    return { authenticated: s.authenticated === true, username: s.user?.username, audiences: s.audiences, error: s.error };
  }

  async exists(object: BoundObject, signal: AbortSignal): Promise<boolean> {
    try {
      const got = await withSignal(
        object.kind === 'Pod'
          ? this.core.readNamespacedPod({ namespace: object.namespace, name: object.name })
          : this.core.readNamespacedServiceAccount({ namespace: object.namespace, name: object.name }),
        signal,
      );
      // A new object with the same name is not the one the token was bound to.
      return object.uid === undefined || got.metadata?.uid === object.uid;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }
}

export async function readIssuerSecret(kc: KubeConfig, namespace: string, name: string): Promise<CaCredential> {
  const core = kc.makeApiClient(CoreV1Api);
  const secret = await core.readNamespacedSecret({ namespace, name });
  return credentialFromSecretData({ data: secret.data }, `Secret ${namespace}/${name}`);
}
