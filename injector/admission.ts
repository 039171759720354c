/**
 * AdmissionReview (admission.k8s.io/v1) in, AdmissionReview out: the webhook's protocol around the
 * pure decision in patch.ts. The only I/O is the namespace lookup it is given.
 *
 * A pod is always allowed: the injector mutates, it never denies. When it cannot decide (the
 * namespace cannot be read), `review` throws, the server answers 500, and the API server applies the
 * webhook's failurePolicy (Ignore: the pod is created without the proxy and `weft check` reports it;
 * Fail: the create fails and its controller retries).
 */
import { decideInjection } from './patch.js';
import type { InjectionConfig, InjectionResult } from './patch.js';
import type { NamespaceLike, PodLike } from './pod.js';

export interface AdmissionRequest {
  readonly uid: string;
  readonly kind?: { readonly group?: string; readonly version?: string; readonly kind?: string };
  readonly namespace?: string;
  readonly operation?: string;
  readonly object?: unknown;
}

export interface AdmissionReview {
  readonly apiVersion: string;
  readonly kind: 'AdmissionReview';
  readonly response: {
    readonly uid: string;
    readonly allowed: true;
    readonly patchType?: 'JSONPatch';
    readonly patch?: string;
    readonly warnings?: readonly string[];
  };
}

export class AdmissionError extends Error {
  constructor(readonly code: 'BAD_REVIEW' | 'NAMESPACE_UNAVAILABLE', message: string) {
    super(message);
  }
}

export type NamespaceLookup = (name: string) => Promise<NamespaceLike>;

export interface Reviewed {
  readonly review: AdmissionReview;
  /** undefined when the request was not a pod creation. */
  readonly result: InjectionResult | undefined;
  readonly pod: string;
}

function parseRequest(body: unknown): AdmissionRequest {
  const req = (body as { request?: AdmissionRequest } | null)?.request;
  if (typeof body !== 'object' || body === null || (body as { kind?: unknown }).kind !== 'AdmissionReview' || req === undefined || typeof req.uid !== 'string') {
    throw new AdmissionError('BAD_REVIEW', 'expected an admission.k8s.io/v1 AdmissionReview with a request');
  }
  return req;
}

export async function review(body: unknown, lookupNamespace: NamespaceLookup, config: InjectionConfig): Promise<Reviewed> {
  const req = parseRequest(body);
  const apiVersion = (body as { apiVersion?: string }).apiVersion ?? 'admission.k8s.io/v1';
  const allow = (extra: Partial<AdmissionReview['response']> = {}): AdmissionReview => ({ apiVersion, kind: 'AdmissionReview', response: { uid: req.uid, allowed: true, ...extra } });
  const pod = req.object as PodLike | undefined;
  const isPodCreate = req.kind?.kind === 'Pod' && (req.kind.group ?? '') === '' && req.operation === 'CREATE';
  if (!isPodCreate || pod === undefined || typeof pod !== 'object' || !Array.isArray(pod.spec?.containers)) {
    return { review: allow(), result: undefined, pod: '' };
  }
  const nsName = req.namespace ?? pod.metadata?.namespace ?? '';
  const podName = `${nsName}/${pod.metadata?.name ?? `${pod.metadata?.generateName ?? ''}*`}`;
  let namespace: NamespaceLike;
  try {
    namespace = await lookupNamespace(nsName);
  } catch (err) {
    throw new AdmissionError('NAMESPACE_UNAVAILABLE', `cannot read namespace ${nsName}: ${(err as Error).message}`);
  }
  const result = decideInjection(pod, namespace, config);
  if (result.patch.length === 0) return { review: allow(), result, pod: podName };
  const warnings = result.action === 'skip' && (result.code === 'InvalidConfig' || result.code === 'InvalidInjectAnnotation')
    ? [`weft: the proxy was not injected: ${result.reason}`]
    : undefined;
  return {
    review: allow({
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(result.patch)).toString('base64'),
      ...(warnings !== undefined ? { warnings } : {}),
    }),
    result,
    pod: podName,
  };
}
