/**
 * Volume planning (pure): what files a volume holds, given the objects it refers to. Secrets, config
 * maps, downward API items and projected sources become file lists; ServiceAccount token sources stay
 * symbolic (audience, lifetime) because the runtime requests them from the TokenRequest API, bound to
 * the pod, and refreshes them. emptyDir is a fresh directory; hostPath is the host path itself.
 */
import type { V1DownwardAPIVolumeFile, V1KeyToPath, V1Volume } from '@kubernetes/client-node';
import { fieldPathValue, resourceFieldValue } from './env.js';
import type { EnvSources } from './env.js';
import type { Pod } from './types.js';

export const DEFAULT_FILE_MODE = 0o644;
/** The kubelet's default lifetime of a projected token (expirationSeconds unset). */
export const DEFAULT_TOKEN_SECONDS = 3600;

export type FileSource =
  | { readonly type: 'bytes'; readonly data: Buffer }
  | { readonly type: 'token'; readonly audience: string | undefined; readonly expirationSeconds: number };

export interface FileItem {
  readonly path: string;
  readonly mode: number;
  readonly source: FileSource;
}

export type VolumePlan =
  | { readonly kind: 'emptyDir'; readonly medium: string | undefined }
  | { readonly kind: 'hostPath'; readonly path: string }
  | { readonly kind: 'files'; readonly items: readonly FileItem[] };

export type VolumeResult = { readonly ok: true; readonly plan: VolumePlan } | { readonly ok: false; readonly message: string };

/** Objects as the API returns them: Secret `data` is base64, ConfigMap `data` is text and `binaryData` base64. */
export interface VolumeSources extends Pick<EnvSources, 'nodeName' | 'hostIP' | 'podIP' | 'nodeAllocatable'> {
  readonly secretBytes: (name: string) => Readonly<Record<string, Buffer>> | undefined;
  readonly configMapBytes: (name: string) => Readonly<Record<string, Buffer>> | undefined;
}

class MountError extends Error {}

function keyed(kind: string, name: string, data: Readonly<Record<string, Buffer>> | undefined, items: readonly V1KeyToPath[] | undefined,
  optional: boolean | undefined, mode: number, prefix = ''): FileItem[] {
  if (data === undefined) {
    if (optional === true) return [];
    throw new MountError(`${kind} "${name}" not found`);
  }
  if (items === undefined || items.length === 0) {
    return Object.keys(data).sort().map((k) => ({ path: prefix + k, mode, source: { type: 'bytes', data: data[k] ?? Buffer.alloc(0) } }));
  }
  const out: FileItem[] = [];
  for (const it of items) {
    const v = data[it.key];
    if (v === undefined) {
      if (optional === true) continue;
      throw new MountError(`configuration of ${kind} "${name}" references non-existent key "${it.key}"`);
    }
    out.push({ path: prefix + it.path, mode: it.mode ?? mode, source: { type: 'bytes', data: v } });
  }
  return out;
}

function downward(pod: Pod, items: readonly V1DownwardAPIVolumeFile[] | undefined, mode: number, src: VolumeSources): FileItem[] {
  return (items ?? []).map((it) => {
    let value: string;
    if (it.fieldRef !== undefined) value = fieldPathValue(pod, it.fieldRef.fieldPath, src);
    else if (it.resourceFieldRef !== undefined) {
      const c = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((x) => x.name === it.resourceFieldRef?.containerName);
      value = resourceFieldValue(c?.resources, it.resourceFieldRef.resource, it.resourceFieldRef.divisor === undefined ? undefined : String(it.resourceFieldRef.divisor), src.nodeAllocatable);
    } else value = '';
    return { path: it.path, mode: it.mode ?? mode, source: { type: 'bytes', data: Buffer.from(value) } };
  });
}

export function planVolume(pod: Pod, vol: V1Volume, src: VolumeSources): VolumeResult {
  try {
    if (vol.emptyDir !== undefined) return { ok: true, plan: { kind: 'emptyDir', medium: vol.emptyDir.medium } };
    if (vol.hostPath !== undefined) return { ok: true, plan: { kind: 'hostPath', path: vol.hostPath.path } };
    if (vol.secret !== undefined) {
      const name = vol.secret.secretName ?? '';
      return { ok: true, plan: { kind: 'files', items: keyed('secret', name, src.secretBytes(name), vol.secret.items, vol.secret.optional, vol.secret.defaultMode ?? DEFAULT_FILE_MODE) } };
    }
    if (vol.configMap !== undefined) {
      const name = vol.configMap.name ?? '';
      return { ok: true, plan: { kind: 'files', items: keyed('configmap', name, src.configMapBytes(name), vol.configMap.items, vol.configMap.optional, vol.configMap.defaultMode ?? DEFAULT_FILE_MODE) } };
    }
    if (vol.downwardAPI !== undefined) {
      return { ok: true, plan: { kind: 'files', items: downward(pod, vol.downwardAPI.items, vol.downwardAPI.defaultMode ?? DEFAULT_FILE_MODE, src) } };
    }
    if (vol.projected !== undefined) {
      const mode = vol.projected.defaultMode ?? DEFAULT_FILE_MODE;
      const items: FileItem[] = [];
      for (const s of vol.projected.sources ?? []) {
        if (s.serviceAccountToken !== undefined) {
          const t = s.serviceAccountToken;
          items.push({ path: t.path, mode, source: { type: 'token', audience: t.audience === '' ? undefined : t.audience, expirationSeconds: t.expirationSeconds ?? DEFAULT_TOKEN_SECONDS } });
        } else if (s.configMap !== undefined) {
          const name = s.configMap.name ?? '';
          items.push(...keyed('configmap', name, src.configMapBytes(name), s.configMap.items, s.configMap.optional, mode));
        } else if (s.secret !== undefined) {
          const name = s.secret.name ?? '';
          items.push(...keyed('secret', name, src.secretBytes(name), s.secret.items, s.secret.optional, mode));
        } else if (s.downwardAPI !== undefined) {
          items.push(...downward(pod, s.downwardAPI.items, mode, src));
        }
      }
      return { ok: true, plan: { kind: 'files', items } };
    }
    return { ok: false, message: `volume "${vol.name}": this volume type is not supported by the node agent` };
  } catch (err) {
    if (err instanceof MountError || err instanceof Error) return { ok: false, message: `MountVolume.SetUp failed for volume "${vol.name}": ${err.message}` };
    throw err;
  }
}

/** Volumes the pod refers to by name, so the runtime fetches each object once. */
export function referencedObjects(pod: Pod): { secrets: Set<string>; configMaps: Set<string> } {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const v of pod.spec.volumes ?? []) {
    if (v.secret?.secretName !== undefined) secrets.add(v.secret.secretName);
    if (v.configMap?.name !== undefined) configMaps.add(v.configMap.name);
    for (const s of v.projected?.sources ?? []) {
      if (s.secret?.name !== undefined) secrets.add(s.secret.name);
      if (s.configMap?.name !== undefined) configMaps.add(s.configMap.name);
    }
  }
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
    for (const f of c.envFrom ?? []) {
      if (f.secretRef?.name !== undefined) secrets.add(f.secretRef.name);
      if (f.configMapRef?.name !== undefined) configMaps.add(f.configMapRef.name);
    }
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef?.name !== undefined) secrets.add(e.valueFrom.secretKeyRef.name);
      if (e.valueFrom?.configMapKeyRef?.name !== undefined) configMaps.add(e.valueFrom.configMapKeyRef.name);
    }
  }
  return { secrets, configMaps };
}

/** When to refresh a token: at 80% of its lifetime, as the kubelet does. */
export function tokenRefreshAtMs(issuedAtMs: number, expiresAtMs: number): number {
  return issuedAtMs + Math.floor(0.8 * (expiresAtMs - issuedAtMs));
}
