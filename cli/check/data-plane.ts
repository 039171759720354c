/**
 * What `weft check -n NS` says about the pods of a namespace. Pure: pods and namespace in, findings out.
 *
 * - a meshed pod whose proxy is not ready, or runs another version than this CLI's;
 * - a pod that should have the proxy (namespace or pod annotation) but has none and no
 *   weft.dev/inject-skipped reason: it was created while the injector was not answering (the
 *   webhook's failurePolicy Ignore let it through) and must be recreated;
 * - pods the injector skipped, with its reason (reported, not a failure);
 * - Services whose failure-accrual annotations are bad (core/failure-accrual.ts): the controller then
 *   applies none of them, so circuit breaking is off for that Service; each problem names its annotation.
 */
import { INJECT_SKIPPED_ANNOTATION, PROXY_CONTAINER_NAME, PROXY_VERSION_ANNOTATION } from '../../core/contract.js';
import { failureAccrualOf } from '../../core/failure-accrual.js';
import { injectionRequested, isInjected } from '../../injector/patch.js';
import type { NamespaceLike, PodLike } from '../../injector/pod.js';

export interface PodWithStatus extends PodLike {
  readonly status?: {
    readonly phase?: string | undefined;
    readonly initContainerStatuses?: readonly { readonly name: string; readonly ready?: boolean | undefined }[] | undefined;
    readonly containerStatuses?: readonly { readonly name: string; readonly ready?: boolean | undefined }[] | undefined;
  } | undefined;
}

export interface DataPlaneFindings {
  readonly meshed: readonly string[];
  readonly proxyNotReady: readonly string[];
  readonly wrongVersion: readonly { readonly pod: string; readonly version: string }[];
  readonly missingProxy: readonly string[];
  readonly skipped: readonly { readonly pod: string; readonly reason: string }[];
}

const FINISHED = new Set(['Succeeded', 'Failed']);

export function dataPlaneFindings(pods: readonly PodWithStatus[], namespace: NamespaceLike, version: string): DataPlaneFindings {
  const meshed: string[] = [];
  const proxyNotReady: string[] = [];
  const wrongVersion: { pod: string; version: string }[] = [];
  const missingProxy: string[] = [];
  const skipped: { pod: string; reason: string }[] = [];
  for (const pod of pods) {
    const name = pod.metadata?.name ?? '(unnamed)';
    if (FINISHED.has(pod.status?.phase ?? '')) continue;
    if (isInjected(pod)) {
      meshed.push(name);
      const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
      if (statuses.find((s) => s.name === PROXY_CONTAINER_NAME)?.ready !== true) proxyNotReady.push(name);
      const v = pod.metadata?.annotations?.[PROXY_VERSION_ANNOTATION] ?? '(none)';
      if (v !== version) wrongVersion.push({ pod: name, version: v });
      continue;
    }
    const reason = pod.metadata?.annotations?.[INJECT_SKIPPED_ANNOTATION];
    if (reason !== undefined) {
      skipped.push({ pod: name, reason });
      continue;
    }
    if (injectionRequested(pod, namespace)) missingProxy.push(name);
  }
  return { meshed, proxyNotReady, wrongVersion, missingProxy, skipped };
}

/** A Service as the failure-accrual check reads it. */
export interface ServiceLike {
  readonly metadata?: { readonly name?: string | undefined; readonly annotations?: Readonly<Record<string, string>> | undefined } | undefined;
}

/** Services whose failure-accrual annotations the controller refuses, with each problem (naming its annotation). */
export function failureAccrualFindings(services: readonly ServiceLike[]): { readonly service: string; readonly problems: readonly string[] }[] {
  const out: { service: string; problems: string[] }[] = [];
  for (const s of services) {
    const r = failureAccrualOf(s.metadata?.annotations);
    if (!r.ok) out.push({ service: s.metadata?.name ?? '(unnamed)', problems: r.problems });
  }
  return out;
}
