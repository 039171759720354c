/**
 * The Kubernetes object shapes the agent reads and writes, as they are on the wire (JSON, timestamps as
 * strings). Specs reuse the generated client types, which have no timestamps; metadata and status are
 * declared here because the generated ones type timestamps as Date.
 */
import type { V1PodSpec } from '@kubernetes/client-node';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  creationTimestamp?: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[];
}

export interface ContainerStateWire {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; signal?: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string; containerID?: string };
}

export interface ContainerStatusWire {
  name: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  state?: ContainerStateWire;
  lastState?: ContainerStateWire;
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastProbeTime?: string | null;
}

export interface PodStatusWire {
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  reason?: string;
  message?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  hostIP?: string;
  hostIPs?: { ip: string }[];
  startTime?: string;
  conditions?: PodCondition[];
  containerStatuses?: ContainerStatusWire[];
  initContainerStatuses?: ContainerStatusWire[];
  observedGeneration?: number;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec: V1PodSpec;
  status?: PodStatusWire;
}

export interface KeyedData {
  metadata: ObjectMeta;
  /** Secrets: base64 values. */
  data?: Record<string, string>;
  /** ConfigMaps: plain values. */
  stringData?: Record<string, string>;
  binaryData?: Record<string, string>;
}

/** Identity of a pod for file names and logs: `<namespace>_<name>_<uid>`. */
export function podKey(pod: { metadata: ObjectMeta }): string {
  return `${pod.metadata.namespace ?? 'default'}_${pod.metadata.name}_${pod.metadata.uid ?? ''}`;
}
