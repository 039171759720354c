/**
 * The injection decision and its JSON patch: a PURE function of (pod, namespace, config), shared by
 * the admission webhook and `weft inject`.
 *
 *   pod + namespace + config -> { action: inject | skip | none, reason, patch }
 *
 * - none:   the pod is not selected (neither its namespace nor the pod says `weft.dev/inject: enabled`)
 *           or it already has the proxy. The patch is empty, so injecting twice changes nothing.
 * - skip:   the pod is selected but cannot or must not be injected (hostNetwork, disabled by the pod,
 *           the control-plane namespace, invalid config annotations, an app running as the proxy's
 *           UID). The patch only sets the weft.dev/inject-skipped annotation to the reason.
 * - inject: proxy-init as the first init container, the proxy as a native sidecar right after it
 *           (restartPolicy Always, startupProbe on /ready: app containers and later init containers
 *           start only once the proxy is ready), the projected identity token, the meshed label and
 *           the proxy-version annotation.
 *
 * Invariant: the patch only adds or removes what it names; any other field of the pod is untouched.
 */
import {
  CONFIG_ANNOTATIONS, CONTROL_PLANE_NAMESPACE, INJECT_ANNOTATION, INJECT_DISABLED, INJECT_ENABLED,
  INJECT_SKIPPED_ANNOTATION, MESHED_LABEL, MESHED_LABEL_VALUE, PROXY_ADMIN_PORT, PROXY_ADMIN_PORT_NAME, PROXY_CONTAINER_NAME, PROXY_ENV,
  PROXY_INBOUND_PORT, PROXY_INIT_CONTAINER_NAME, PROXY_UID, PROXY_VERSION_ANNOTATION,
} from '../core/contract.js';
import { identityTokenMount, identityTokenVolume, proxyBaseEnv } from '../core/proxy-env.js';
import type { ContainerLike, NamespaceLike, PodLike } from './pod.js';
import { formatPorts, portInRanges, resolveSettings } from './settings.js';
import type { InboundPolicy, PortRange, ProxyLogLevel, ProxyResources, ProxySettings } from './settings.js';

/** Install-wide injection settings (the injector's config; `weft inject` builds the same). */
export interface InjectionConfig {
  readonly image: string;
  /** The version the proxy-version annotation records. */
  readonly proxyVersion: string;
  readonly trustDomain: string;
  readonly trustAnchorsPem: string;
  /** host:port of the controller's gRPC server (policy, discovery, identity). */
  readonly controllerAddr: string;
  readonly clusterNetworks: readonly string[];
  readonly logLevel: ProxyLogLevel;
  readonly defaultInboundPolicy: InboundPolicy;
  readonly resources: ProxyResources;
  readonly initResources: ProxyResources;
}

export interface JsonPatchOp {
  readonly op: 'add' | 'remove' | 'replace';
  readonly path: string;
  readonly value?: unknown;
}

export type SkipCode = 'HostNetwork' | 'DisabledByPod' | 'InvalidInjectAnnotation' | 'ControlPlaneNamespace' | 'InvalidConfig' | 'ProxyUidConflict';

export type InjectionResult =
  | { readonly action: 'inject'; readonly reason: string; readonly patch: readonly JsonPatchOp[] }
  | { readonly action: 'skip'; readonly code: SkipCode; readonly reason: string; readonly patch: readonly JsonPatchOp[] }
  | { readonly action: 'none'; readonly reason: string; readonly patch: readonly JsonPatchOp[] };

/** Namespaces never injected even when annotated: the control plane, and the cluster's own. */
const NEVER_INJECTED = new Set([CONTROL_PLANE_NAMESPACE, 'kube-system']);

/** The identity token volume and the proxy's base environment are core's (core/proxy-env.ts), shared with the gateway. */
export { IDENTITY_TOKEN_DIR, IDENTITY_TOKEN_VOLUME } from '../core/proxy-env.js';
/** proxy-init's writable /run (the xtables lock) under a read-only root filesystem. */
export const INIT_RUN_VOLUME = 'weft-init-run';
/** The proxy gets this long to become ready (first certificate, first config) before a restart. */
const STARTUP_PROBE_SECONDS = 120;

/**
 * The V8 flags the proxy runs with (docs/proxy.md, "Memory"), passed through NODE_OPTIONS so the
 * image's `weft proxy` command stays as it is (Node allows both flags there):
 * - `--max-semi-space-size=2`: V8 otherwise sizes the young generation from the machine's memory (up
 *   to 32 MB per semi-space on a large node), most of it resident under load; 2 MB semi-spaces mean
 *   more, cheaper scavenges of the proxy's short-lived per-request garbage;
 * - `--max-old-space-size=64`: above what the proxy keeps with every destination cache full (about
 *   40 MB live after a full GC at 500 destinations per cache, in the 20,000-destination test; 48 ran
 *   out there), so a leak fails loudly instead of growing the pod, and V8 grows the old generation by
 *   smaller steps (at 96 the heap grew to 60 MB and RSS stayed 30% up after the churn).
 * bench/proxy-hop and the proxy process tests start their proxies with exactly these.
 */
export const PROXY_NODE_FLAGS: readonly string[] = ['--max-old-space-size=64', '--max-semi-space-size=2'];

/**
 * The proxy container's runtime settings besides its own PROXY_ENV configuration: the V8 flags above
 * and `MALLOC_ARENA_MAX=2` (glibc otherwise gives each of Node's threads its own malloc arena, up to 8
 * per core, each keeping freed memory resident).
 */
export const PROXY_RUNTIME_ENV: readonly { readonly name: string; readonly value: string }[] = [
  { name: 'NODE_OPTIONS', value: PROXY_NODE_FLAGS.join(' ') },
  { name: 'MALLOC_ARENA_MAX', value: '2' },
];

export function isInjected(pod: PodLike): boolean {
  const names = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c) => c.name);
  return names.includes(PROXY_CONTAINER_NAME) || names.includes(PROXY_INIT_CONTAINER_NAME);
}

/** Whether the annotations ask for injection: the pod's value overrides the namespace's. */
export function injectionRequested(pod: PodLike, namespace: NamespaceLike): boolean {
  const podValue = pod.metadata?.annotations?.[INJECT_ANNOTATION];
  if (podValue !== undefined) return podValue === INJECT_ENABLED;
  return namespace.annotations?.[INJECT_ANNOTATION] === INJECT_ENABLED;
}

export function decideInjection(pod: PodLike, namespace: NamespaceLike, config: InjectionConfig): InjectionResult {
  const podAnnotations = pod.metadata?.annotations ?? {};
  const nsValue = namespace.annotations?.[INJECT_ANNOTATION];
  const podValue = podAnnotations[INJECT_ANNOTATION];
  const nsEnabled = nsValue === INJECT_ENABLED;

  if (isInjected(pod)) return { action: 'none', reason: 'the pod already has the proxy', patch: [] };
  if (podValue !== undefined && podValue !== INJECT_ENABLED && podValue !== INJECT_DISABLED) {
    return skip(pod, 'InvalidInjectAnnotation',
      `the pod's ${INJECT_ANNOTATION} annotation is ${JSON.stringify(podValue)}; expected ${INJECT_ENABLED} or ${INJECT_DISABLED}`);
  }
  if (podValue === INJECT_DISABLED) {
    return nsEnabled
      ? skip(pod, 'DisabledByPod', `the pod's ${INJECT_ANNOTATION} annotation is ${INJECT_DISABLED}`)
      : { action: 'none', reason: `the pod's ${INJECT_ANNOTATION} annotation is ${INJECT_DISABLED}`, patch: [] };
  }
  if (podValue !== INJECT_ENABLED && !nsEnabled) {
    return { action: 'none', reason: `neither the pod nor namespace ${namespace.name} has ${INJECT_ANNOTATION}: ${INJECT_ENABLED}`, patch: [] };
  }
  if (NEVER_INJECTED.has(namespace.name)) {
    return skip(pod, 'ControlPlaneNamespace', `pods of namespace ${namespace.name} are never injected`);
  }
  if (pod.spec.hostNetwork === true) {
    return skip(pod, 'HostNetwork', 'the pod uses the host network: redirecting its traffic would redirect the node\'s');
  }
  const podUid = pod.spec.securityContext?.runAsUser;
  const asProxy = pod.spec.containers.filter((c) => (c.securityContext?.runAsUser ?? podUid) === PROXY_UID).map((c) => c.name);
  if (asProxy.length > 0) {
    return skip(pod, 'ProxyUidConflict',
      `container ${asProxy.join(', ')} runs as UID ${PROXY_UID}, the proxy's: its traffic would bypass the proxy`);
  }
  const allContainers = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])];
  const resolved = resolveSettings(namespace.annotations ?? {}, podAnnotations, allContainers, config);
  if (!resolved.ok) return skip(pod, 'InvalidConfig', `invalid configuration: ${resolved.errors.join('; ')}`);

  const why = podValue === INJECT_ENABLED ? `the pod's ${INJECT_ANNOTATION} annotation` : `namespace ${namespace.name}'s ${INJECT_ANNOTATION} annotation`;
  return { action: 'inject', reason: `injected: ${why} is ${INJECT_ENABLED}`, patch: injectionPatch(pod, resolved.settings, config) };
}

function skip(pod: PodLike, code: SkipCode, reason: string): InjectionResult {
  return { action: 'skip', code, reason, patch: [...ensureMetadata(pod), ...setMapEntries(pod.metadata?.annotations, '/metadata/annotations', { [INJECT_SKIPPED_ANNOTATION]: reason })] };
}

/** A pod template may have no metadata at all (a CronJob's, often). */
function ensureMetadata(pod: PodLike): JsonPatchOp[] {
  return pod.metadata === undefined ? [{ op: 'add', path: '/metadata', value: {} }] : [];
}

/** JSON pointer escaping (RFC 6901): `weft.dev/meshed` -> `weft.dev~1meshed`. */
export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** Adds entries to a string map that may be absent (add the whole map) or present (add each key). */
function setMapEntries(existing: Readonly<Record<string, string>> | undefined, path: string, entries: Record<string, string>): JsonPatchOp[] {
  if (existing === undefined) return [{ op: 'add', path, value: entries }];
  return Object.entries(entries)
    .filter(([k, v]) => existing[k] !== v)
    .map(([k, v]) => ({ op: 'add', path: `${path}/${escapePointer(k)}`, value: v }));
}

function injectionPatch(pod: PodLike, settings: ProxySettings, config: InjectionConfig): JsonPatchOp[] {
  const ops: JsonPatchOp[] = ensureMetadata(pod);
  ops.push(...setMapEntries(pod.metadata?.labels, '/metadata/labels', { [MESHED_LABEL]: MESHED_LABEL_VALUE }));
  ops.push(...setMapEntries(pod.metadata?.annotations, '/metadata/annotations', { [PROXY_VERSION_ANNOTATION]: config.proxyVersion }));
  if (pod.metadata?.annotations?.[INJECT_SKIPPED_ANNOTATION] !== undefined) {
    ops.push({ op: 'remove', path: `/metadata/annotations/${escapePointer(INJECT_SKIPPED_ANNOTATION)}` });
  }

  const init = proxyInitContainer(settings, config);
  const proxy = proxyContainer(pod, settings, config);
  if (pod.spec.initContainers === undefined) {
    ops.push({ op: 'add', path: '/spec/initContainers', value: [init, proxy] });
  } else {
    // Each add at index 0 shifts the rest: after both, [init, proxy, ...the pod's own].
    ops.push({ op: 'add', path: '/spec/initContainers/0', value: proxy });
    ops.push({ op: 'add', path: '/spec/initContainers/0', value: init });
  }
  const volumes = [identityTokenVolume(), { name: INIT_RUN_VOLUME, emptyDir: {} }];
  if (pod.spec.volumes === undefined) ops.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else for (const v of volumes) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });
  return ops;
}

function resourcesOf(r: ProxyResources): Record<string, Record<string, string>> {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (r.cpuRequest !== undefined) requests['cpu'] = r.cpuRequest;
  if (r.memoryRequest !== undefined) requests['memory'] = r.memoryRequest;
  if (r.cpuLimit !== undefined) limits['cpu'] = r.cpuLimit;
  if (r.memoryLimit !== undefined) limits['memory'] = r.memoryLimit;
  return { ...(Object.keys(requests).length > 0 ? { requests } : {}), ...(Object.keys(limits).length > 0 ? { limits } : {}) };
}

/** The arguments of `weft proxy-init` for these settings (ports it leaves alone). */
export function proxyInitArgs(settings: Pick<ProxySettings, 'skipInboundPorts' | 'skipOutboundPorts'>): string[] {
  const args = ['proxy-init'];
  if (settings.skipInboundPorts.length > 0) args.push('--skip-inbound-ports', formatPorts(settings.skipInboundPorts));
  if (settings.skipOutboundPorts.length > 0) args.push('--skip-outbound-ports', formatPorts(settings.skipOutboundPorts));
  return args;
}

function proxyInitContainer(settings: ProxySettings, config: InjectionConfig): Record<string, unknown> {
  return {
    name: PROXY_INIT_CONTAINER_NAME,
    image: config.image,
    args: proxyInitArgs(settings),
    resources: resourcesOf(config.initResources),
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
    volumeMounts: [{ name: INIT_RUN_VOLUME, mountPath: '/run' }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** TCP ports the pod's containers declare, minus those proxy-init leaves alone. */
function inboundPorts(pod: PodLike, skip: readonly PortRange[]): number[] {
  const ports = new Set<number>();
  for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])] as ContainerLike[]) {
    for (const p of c.ports ?? []) {
      if ((p.protocol ?? 'TCP') === 'TCP' && !portInRanges(p.containerPort, skip)) ports.add(p.containerPort);
    }
  }
  return [...ports].sort((a, b) => a - b);
}

function proxyContainer(pod: PodLike, settings: ProxySettings, config: InjectionConfig): Record<string, unknown> {
  const inbound = inboundPorts(pod, settings.skipInboundPorts);
  const env = proxyBaseEnv({
    trustDomain: config.trustDomain,
    trustAnchorsPem: config.trustAnchorsPem,
    controllerAddr: config.controllerAddr,
    logLevel: settings.logLevel,
    defaultInboundPolicy: settings.defaultInboundPolicy,
    clusterNetworks: config.clusterNetworks,
    shutdownGraceSeconds: pod.spec.terminationGracePeriodSeconds ?? 30,
  });
  if (inbound.length > 0) env.push({ name: PROXY_ENV.inboundPorts, value: inbound.join(',') });
  if (settings.opaquePorts.length > 0) env.push({ name: PROXY_ENV.opaquePorts, value: formatPorts(settings.opaquePorts) });
  if (settings.headersWithUnderscores !== undefined) env.push({ name: PROXY_ENV.headersWithUnderscores, value: settings.headersWithUnderscores });
  for (const e of PROXY_RUNTIME_ENV) env.push({ ...e });
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({
    httpGet: { path, port: PROXY_ADMIN_PORT },
    periodSeconds,
    timeoutSeconds: 1,
    failureThreshold,
  });
  return {
    name: PROXY_CONTAINER_NAME,
    image: config.image,
    args: ['proxy'],
    restartPolicy: 'Always',
    ports: [
      { name: 'weft-inbound', containerPort: PROXY_INBOUND_PORT, protocol: 'TCP' },
      { name: PROXY_ADMIN_PORT_NAME, containerPort: PROXY_ADMIN_PORT, protocol: 'TCP' },
    ],
    env,
    resources: resourcesOf(settings.resources),
    securityContext: {
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    startupProbe: probe('/ready', 1, STARTUP_PROBE_SECONDS),
    readinessProbe: probe('/ready', 5, 3),
    livenessProbe: probe('/live', 10, 3),
    volumeMounts: [identityTokenMount()],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** The config annotation keys, for `weft inject --help` and the docs. */
export const CONFIG_ANNOTATION_KEYS: readonly string[] = Object.values(CONFIG_ANNOTATIONS);
