/**
 * What the controller deploys for a Gateway of Weft's class, and the address it publishes. Pure; the
 * controller applies it (policy-controller/status/gateway-workload.ts). docs/gateway.md.
 *
 *   Gateway (+ its listener evaluation) -> ServiceAccount, Deployment, Service, each owned by the Gateway
 *   the Service (as the API server returns it)  -> the Gateway's status.addresses
 *
 * - Names: `<gateway>-weft-gateway`, shortened with a hash to stay a DNS label (63 characters).
 * - The ServiceAccount is the gateway's identity: the CA issues `spiffe://<td>/ns/<ns>/sa/<that name>`,
 *   so an AuthorizationPolicy can name it.
 * - The Deployment runs `weft gateway` from Weft's image with the proxy's base environment
 *   (core/proxy-env.ts: identity, trust, controller) plus the Gateway's name; the pod may bind ports
 *   below 1024 as non-root through the safe sysctl `net.ipv4.ip_unprivileged_port_start=0`.
 * - The Deployment leaves its replica count to `kubectl scale` or an autoscaler (one at creation);
 *   the container has requests and a memory limit (GATEWAY_RESOURCES).
 * - The Service (type LoadBalancer) has one port per distinct port of the valid listeners.
 * - `spec.infrastructure.labels` and `annotations` are put on the three objects and the pod template
 *   (Weft's own keys, the gateway-name label and the injection opt-out, take precedence).
 */
import { GATEWAY_API_GROUP, INJECT_ANNOTATION, INJECT_DISABLED, PROXY_ADMIN_PORT, PROXY_ADMIN_PORT_NAME, PROXY_UID } from '../contract.js';
import type { KubeObject, Service } from '../kube.js';
import { identityTokenMount, identityTokenVolume, proxyBaseEnv, type EnvVar } from '../proxy-env.js';
import type { ListenerEvaluation } from './evaluate.js';
import type { Gateway } from './types.js';

/** The Gateway API's well-known label naming the Gateway a workload serves. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** The environment variable naming the Gateway the `weft gateway` process serves (its namespace is the pod's). */
export const GATEWAY_NAME_ENV = 'WEFT_GATEWAY_NAME';
export const GATEWAY_CONTAINER_NAME = 'gateway';
const SUFFIX = '-weft-gateway';
const MAX_NAME = 63;

/** FNV-1a, 32 bits, as 8 hex digits: a stable short hash without node:crypto (core is pure). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/** The name of the ServiceAccount, Deployment and Service of a Gateway: a DNS label. */
export function gatewayWorkloadName(gatewayName: string): string {
  const full = `${gatewayName}${SUFFIX}`;
  if (full.length <= MAX_NAME) return full;
  const hash = fnv1a(gatewayName);
  const keep = MAX_NAME - SUFFIX.length - hash.length - 1;
  return `${gatewayName.slice(0, keep).replace(/[-.]+$/, '')}-${hash}${SUFFIX}`;
}

export interface GatewayWorkloadOptions {
  readonly image: string;
  readonly trustDomain: string;
  readonly trustAnchorsPem: string;
  readonly controllerAddr: string;
  readonly clusterNetworks: readonly string[];
  readonly logLevel: string;
  /** Appended to the container's environment (the proxy's runtime settings: V8 flags, malloc arenas). */
  readonly runtimeEnv?: readonly EnvVar[];
  readonly shutdownGraceSeconds?: number;
}

/**
 * The gateway container's runtime settings (passed as GatewayWorkloadOptions.runtimeEnv; bench/gateway-tls
 * runs the gateway, and its Node.js floor, with the same flags):
 * - `--max-semi-space-size=16`: a gateway is one proxy for many clients, where a sidecar (2 MB
 *   semi-spaces, injector/patch.ts) serves one pod; a larger young generation trades about 30 MB of
 *   memory for far fewer scavenges of the per-request garbage, and bounds what V8 would otherwise size
 *   from the node's memory. No old-space limit: the heap a gateway needs grows with its connections
 *   and routes, so V8's default (from the node's memory) applies.
 * - `MALLOC_ARENA_MAX=2`: glibc otherwise keeps up to 8 malloc arenas per core for Node's threads.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
export const GATEWAY_RUNTIME_ENV: readonly { readonly name: string; readonly value: string }[] = [
  { name: 'NODE_OPTIONS', value: GATEWAY_NODE_FLAGS.join(' ') },
  { name: 'MALLOC_ARENA_MAX', value: '2' },
];

/**
 * The gateway container's requests and limits: requests so the scheduler (and a namespace's
 * ResourceQuota, which refuses pods without them) can place it; a memory limit so a runaway process is
 * restarted rather than starving its node (V8 sizes its heap from the cgroup's limit); no CPU limit,
 * as for the sidecar (injector/config.ts): throttling adds latency to every request. The CPU request is
 * small on purpose: every Gateway gets its own proxy, and sixteen Gateways at 100m each (upstream's
 * conformance suite runs that many) did not fit a 2-core node; an idle gateway uses almost none.
 */
export const GATEWAY_RESOURCES = { requests: { cpu: '10m', memory: '128Mi' }, limits: { memory: '1Gi' } } as const;

/** The ports the Service and the container expose: each distinct port of the valid listeners, ascending. */
export function gatewayPorts(listeners: readonly ListenerEvaluation[]): number[] {
  return [...new Set(listeners.filter((l) => l.valid).map((l) => l.listener.port))].sort((a, b) => a - b);
}

/** The Gateway must come from the API server (its uid is the objects' owner reference). */
export function renderGatewayWorkload(gw: Gateway & { readonly metadata: { readonly uid: string } }, listeners: readonly ListenerEvaluation[], o: GatewayWorkloadOptions): KubeObject[] {
  const ns = gw.metadata.namespace ?? 'default';
  const name = gatewayWorkloadName(gw.metadata.name);
  // spec.infrastructure's labels and annotations go on every object and the pods; Weft's own keys win.
  const infra = gw.spec?.infrastructure;
  const labels = { ...infra?.labels, [GATEWAY_NAME_LABEL]: gw.metadata.name, 'app.kubernetes.io/managed-by': 'weft' };
  const annotations = { ...infra?.annotations };
  const owner = { apiVersion: `${GATEWAY_API_GROUP}/v1`, kind: 'Gateway', name: gw.metadata.name, uid: gw.metadata.uid, controller: true, blockOwnerDeletion: true };
  const meta = { name, namespace: ns, labels, ...(Object.keys(annotations).length > 0 ? { annotations } : {}), ownerReferences: [owner] };
  const ports = gatewayPorts(listeners);
  const grace = o.shutdownGraceSeconds ?? 30;
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({ httpGet: { path, port: PROXY_ADMIN_PORT }, periodSeconds, timeoutSeconds: 1, failureThreshold });
  const serviceAccount: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta };
  const deployment: KubeObject = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta,
    spec: {
      // No replicas: the Deployment starts with one, and `kubectl scale` or an autoscaler owns the count
      // (server-side apply would otherwise take it back whenever the rendering changes).
      selector: { matchLabels: { [GATEWAY_NAME_LABEL]: gw.metadata.name } },
      template: {
        // The gateway is itself a proxy: the injector must not add a sidecar to it.
        metadata: { labels, annotations: { ...annotations, [INJECT_ANNOTATION]: INJECT_DISABLED } },
        spec: {
          serviceAccountName: name,
          terminationGracePeriodSeconds: grace,
          securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }] },
          containers: [{
            name: GATEWAY_CONTAINER_NAME,
            image: o.image,
            args: ['gateway'],
            env: [
              ...proxyBaseEnv({ trustDomain: o.trustDomain, trustAnchorsPem: o.trustAnchorsPem, controllerAddr: o.controllerAddr, logLevel: o.logLevel, clusterNetworks: o.clusterNetworks, shutdownGraceSeconds: grace }),
              { name: GATEWAY_NAME_ENV, value: gw.metadata.name },
              ...(o.runtimeEnv ?? []).map((e) => ({ ...e })),
            ],
            ports: [
              ...ports.map((p) => ({ name: `gw-${p}`, containerPort: p, protocol: 'TCP' })),
              { name: PROXY_ADMIN_PORT_NAME, containerPort: PROXY_ADMIN_PORT, protocol: 'TCP' },
            ],
            securityContext: {
              runAsUser: PROXY_UID, runAsGroup: PROXY_UID, runAsNonRoot: true, allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
            },
            resources: GATEWAY_RESOURCES,
            readinessProbe: probe('/ready', 5, 3),
            livenessProbe: probe('/live', 10, 3),
            volumeMounts: [identityTokenMount()],
            terminationMessagePolicy: 'FallbackToLogsOnError',
          }],
          volumes: [identityTokenVolume()],
        },
      },
    },
  };
  const service: KubeObject = {
    apiVersion: 'v1', kind: 'Service', metadata: meta,
    spec: {
      type: 'LoadBalancer',
      selector: { [GATEWAY_NAME_LABEL]: gw.metadata.name },
      ports: ports.map((p) => ({ name: `gw-${p}`, port: p, targetPort: p, protocol: 'TCP' })),
    },
  };
  return [serviceAccount, deployment, service];
}

export interface GatewayAddress {
  readonly type: 'IPAddress' | 'Hostname';
  readonly value: string;
}

/**
 * The addresses clients reach a gateway on, from its Service: the load balancer's ingress entries when
 * a load balancer implementation filled them (a cloud's controller manager: an IP, or a hostname), else
 * the ClusterIP(s); none while the Service has neither.
 */
export function gatewayAddresses(svc: Service | undefined): GatewayAddress[] {
  const status = (svc as (Service & { status?: { loadBalancer?: { ingress?: readonly { ip?: string; hostname?: string }[] } } }) | undefined)?.status;
  const ingress = (status?.loadBalancer?.ingress ?? []).flatMap((i): GatewayAddress[] => {
    if (i.ip !== undefined && i.ip !== '') return [{ type: 'IPAddress', value: i.ip }];
    if (i.hostname !== undefined && i.hostname !== '') return [{ type: 'Hostname', value: i.hostname }];
    return [];
  });
  if (ingress.length > 0) return ingress;
  const spec = svc?.spec;
  const ips = spec?.clusterIPs ?? (spec?.clusterIP !== undefined ? [spec.clusterIP] : []);
  return ips.filter((ip) => ip !== '' && ip !== 'None').map((ip) => ({ type: 'IPAddress', value: ip }));
}
