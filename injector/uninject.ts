/**
 * The inverse of the injection patch, for `weft uninject`: removes proxy-init, the proxy, their
 * volumes, the meshed label and the injector's annotations. Pure; returns a new pod, leaving every
 * other field as it was. A pod without the proxy comes back equal.
 */
import { INJECT_SKIPPED_ANNOTATION, MESHED_LABEL, PROXY_CONTAINER_NAME, PROXY_INIT_CONTAINER_NAME, PROXY_VERSION_ANNOTATION } from '../core/contract.js';
import { IDENTITY_TOKEN_VOLUME, INIT_RUN_VOLUME } from './patch.js';
import type { PodLike } from './pod.js';

const INJECTED_CONTAINERS = new Set([PROXY_CONTAINER_NAME, PROXY_INIT_CONTAINER_NAME]);
const INJECTED_VOLUMES = new Set([IDENTITY_TOKEN_VOLUME, INIT_RUN_VOLUME]);

function without(map: Readonly<Record<string, string>> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  if (map === undefined) return undefined;
  const out = Object.fromEntries(Object.entries(map).filter(([k]) => !keys.includes(k)));
  return Object.keys(out).length > 0 ? out : undefined;
}

export function uninjectPod<T extends PodLike>(pod: T): { pod: T; changed: boolean } {
  const spec = pod.spec;
  const init = spec.initContainers?.filter((c) => !INJECTED_CONTAINERS.has(c.name));
  const containers = spec.containers.filter((c) => !INJECTED_CONTAINERS.has(c.name));
  const volumes = spec.volumes?.filter((v) => !INJECTED_VOLUMES.has(v.name));
  const changed = init?.length !== spec.initContainers?.length || containers.length !== spec.containers.length || volumes?.length !== spec.volumes?.length
    || pod.metadata?.labels?.[MESHED_LABEL] !== undefined || pod.metadata?.annotations?.[PROXY_VERSION_ANNOTATION] !== undefined
    || pod.metadata?.annotations?.[INJECT_SKIPPED_ANNOTATION] !== undefined;
  if (!changed) return { pod, changed: false };
  const newSpec: Record<string, unknown> = { ...spec, containers };
  if (init === undefined || init.length === 0) delete newSpec['initContainers'];
  else newSpec['initContainers'] = init;
  if (volumes === undefined || volumes.length === 0) delete newSpec['volumes'];
  else newSpec['volumes'] = volumes;
  const meta: Record<string, unknown> = { ...(pod.metadata ?? {}) };
  const labels = without(pod.metadata?.labels, [MESHED_LABEL]);
  const annotations = without(pod.metadata?.annotations, [PROXY_VERSION_ANNOTATION, INJECT_SKIPPED_ANNOTATION]);
  if (labels === undefined) delete meta['labels'];
  else meta['labels'] = labels;
  if (annotations === undefined) delete meta['annotations'];
  else meta['annotations'] = annotations;
  const next = { ...(pod as Record<string, unknown>), spec: newSpec } as Record<string, unknown>;
  if (Object.keys(meta).length > 0) next['metadata'] = meta;
  else delete next['metadata'];
  return { pod: next as unknown as T, changed: true };
}
