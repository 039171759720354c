/**
 * What the watch layer drops from an object before the index caches it: fields nothing in the
 * controller reads, which are most of a Pod's bytes. The cache holds every Pod of the cluster (5,000
 * in the scale benchmark), so each byte kept per Pod is kept 5,000 times.
 *
 * Dropped (a deny list, so a field nobody named here is kept, as core/kube.ts promises):
 * - every kind: `metadata.managedFields` and the `kubectl.kubernetes.io/last-applied-configuration`
 *   annotation (a copy of the whole object as last applied);
 * - Pod: container statuses, and the parts of the spec that only the kubelet and the scheduler use
 *   (volumes, tolerations, affinity, scheduling and DNS settings, and per container its image,
 *   command, environment, mounts, resources and security context).
 * - ConfigMap: every data key but ca.crt (BackendTLSPolicy CA bundles), and binaryData.
 * - Secret (only kubernetes.io/tls ones are watched): every data key but tls.crt and tls.key (a
 *   ca.crt, say), and stringData.
 * Kept for a Pod: metadata (labels, the config annotations, deletionTimestamp), the containers' and
 * init containers' names, ports, probes and restartPolicy (inbound policy, probe exemptions, native
 * sidecars), serviceAccountName, nodeName, hostNetwork, and the status with its IPs and conditions.
 * policy-controller/k8s/slim.test.ts checks that what the index serves is the same either way.
 */
import type { ResourceKind } from '../index/kinds.js';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

const POD_SPEC_DROPPED = [
  'volumes', 'tolerations', 'affinity', 'topologySpreadConstraints', 'nodeSelector', 'securityContext', 'dnsPolicy',
  'dnsConfig', 'schedulerName', 'enableServiceLinks', 'preemptionPolicy', 'priority', 'priorityClassName',
  'terminationGracePeriodSeconds', 'activeDeadlineSeconds', 'imagePullSecrets', 'readinessGates', 'overhead',
  'resourceClaims', 'schedulingGates', 'hostAliases', 'automountServiceAccountToken', 'serviceAccount', 'resources',
] as const;

const CONTAINER_DROPPED = [
  'image', 'imagePullPolicy', 'command', 'args', 'workingDir', 'env', 'envFrom', 'volumeMounts', 'volumeDevices',
  'resources', 'resizePolicy', 'securityContext', 'lifecycle', 'terminationMessagePath', 'terminationMessagePolicy',
  'stdin', 'stdinOnce', 'tty',
] as const;

const POD_STATUS_DROPPED = [
  'containerStatuses', 'initContainerStatuses', 'ephemeralContainerStatuses', 'resourceClaimStatuses', 'qosClass',
  'startTime', 'resize', 'nominatedNodeName',
] as const;

type Mutable = Record<string, unknown>;

function isRecord(v: unknown): v is Mutable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Sets the fields to undefined rather than deleting them: `delete` turns a V8 object into a
 * dictionary (a hash table per object, larger than what it removes), while an undefined field keeps
 * the object's shared shape and costs one slot. Readers see `undefined` either way, and
 * JSON.stringify leaves both out.
 */
function drop(obj: unknown, fields: readonly string[]): void {
  if (!isRecord(obj)) return;
  for (const f of fields) if (obj[f] !== undefined) obj[f] = undefined;
}

/** Removes, in place, what the controller never reads (see the head comment). */
export function slimObject(kind: ResourceKind, obj: Mutable): void {
  const meta = obj['metadata'];
  if (isRecord(meta)) {
    drop(meta, ['managedFields']);
    const annotations = meta['annotations'];
    // Annotation keys vary per object: these maps are dictionaries anyway, so delete is right here.
    if (isRecord(annotations) && LAST_APPLIED_ANNOTATION in annotations) delete annotations[LAST_APPLIED_ANNOTATION];
  }
  if (kind === 'ConfigMap') {
    const data = obj['data'];
    if (isRecord(data)) for (const k of Object.keys(data)) if (k !== 'ca.crt') delete data[k];
    drop(obj, ['binaryData']);
    return;
  }
  if (kind === 'Secret') {
    const data = obj['data'];
    if (isRecord(data)) {
      // Keys vary per Secret (a dictionary anyway): delete is right here.
      for (const k of Object.keys(data)) if (k !== 'tls.crt' && k !== 'tls.key') delete data[k];
    }
    drop(obj, ['stringData']);
    return;
  }
  if (kind !== 'Pod') return;
  const spec = obj['spec'];
  if (isRecord(spec)) {
    drop(spec, POD_SPEC_DROPPED);
    for (const list of ['containers', 'initContainers']) {
      const cs = spec[list];
      if (Array.isArray(cs)) for (const c of cs) drop(c, CONTAINER_DROPPED);
    }
    drop(spec, ['ephemeralContainers']);
  }
  drop(obj['status'], POD_STATUS_DROPPED);
}
