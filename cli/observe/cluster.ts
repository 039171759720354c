/**
 * What the observability verbs read from the API server, as plain JSON: the shapes of core/kube.ts,
 * the same the policy controller's watches list (not @kubernetes/client-node's classes, which turn
 * timestamps into Dates), so a listed object goes into a ClusterSnapshot unconverted.
 *
 *   listSnapshot     every kind the compilers read, cluster-wide (a missing CRD lists as empty)
 *   installSettings  trust domain, cluster networks, default inbound policy (the install ConfigMap)
 *   proxyGet         GET through the API server's pod or service proxy (/metrics, /debug/policy)
 */
import { HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import {
  CONTROL_PLANE_NAMESPACE, DEFAULT_CLUSTER_NETWORKS, DEFAULT_TRUST_DOMAIN, GATEWAY_API_GROUP, POLICY_API_GROUP, POLICY_API_VERSION,
} from '../../core/contract.js';
import type { ClusterSnapshot, KubeObject, Pod } from '../../core/kube.js';
import { INSTALL_CONFIGMAP } from '../install/render.js';
import { connectionCause, KubeUnreachableError } from '../kube/errors.js';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ApiResponse {
  readonly status: number;
  readonly text: string;
}

/** GET `path` on the API server with the kubeconfig's credentials; never throws on HTTP status. */
export async function apiGet(kc: KubeConfig, path: string, timeoutMs = 30_000): Promise<ApiResponse> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const url = cluster.server.replace(/\/$/, '') + path;
  const ctx = new RequestContext(url, HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  try {
    const res = await fetch(url, {
      headers: { ...ctx.getHeaders(), accept: 'application/json, text/plain;q=0.9, */*;q=0.5' },
      dispatcher: ctx.getDispatcher() as never,
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    throw new KubeUnreachableError(cluster.server, connectionCause(err) ?? (err as Error).message);
  }
}

function statusMessage(r: ApiResponse): string {
  try {
    const s = JSON.parse(r.text) as { message?: string };
    if (typeof s.message === 'string') return s.message;
  } catch {
    // not a Status
  }
  return r.text.trim().slice(0, 300);
}

export async function apiJson<T>(kc: KubeConfig, path: string): Promise<T> {
  const r = await apiGet(kc, path);
  if (r.status < 200 || r.status > 299) throw new ApiError(r.status, `the Kubernetes API server at ${kc.getCurrentCluster()?.server ?? ''} answered GET ${path} with HTTP ${r.status}: ${statusMessage(r)}`);
  return JSON.parse(r.text) as T;
}

async function list<T extends KubeObject>(kc: KubeConfig, path: string, optional: boolean): Promise<T[]> {
  try {
    return (await apiJson<{ items?: T[] }>(kc, path)).items ?? [];
  } catch (err) {
    if (optional && err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

const core = (plural: string, ns?: string) => (ns === undefined ? `/api/v1/${plural}` : `/api/v1/namespaces/${ns}/${plural}`);
const group = (g: string, v: string, plural: string) => `/apis/${g}/${v}/${plural}`;
const weft = (plural: string) => group(POLICY_API_GROUP, POLICY_API_VERSION, plural);

/** Lists everything the route and policy compilers read. CRDs not installed list as empty. */
export async function listSnapshot(kc: KubeConfig): Promise<ClusterSnapshot> {
  const [namespaces, services, endpointSlices, pods, httpRoutes, grpcRoutes, referenceGrants, servers, authorizationPolicies, meshTLSAuthentications, networkAuthentications, faultInjections, inboundLimitPolicies] =
    await Promise.all([
      list(kc, core('namespaces'), false),
      list(kc, core('services'), false),
      list(kc, group('discovery.k8s.io', 'v1', 'endpointslices'), false),
      list(kc, core('pods'), false),
      list(kc, group(GATEWAY_API_GROUP, 'v1', 'httproutes'), true),
      list(kc, group(GATEWAY_API_GROUP, 'v1', 'grpcroutes'), true),
      list(kc, group(GATEWAY_API_GROUP, 'v1beta1', 'referencegrants'), true),
      list(kc, weft('servers'), true),
      list(kc, weft('authorizationpolicies'), true),
      list(kc, weft('meshtlsauthentications'), true),
      list(kc, weft('networkauthentications'), true),
      list(kc, weft('faultinjections'), true),
      list(kc, weft('inboundlimitpolicies'), true),
    ]);
  return {
    namespaces, services, endpointSlices: endpointSlices as never, pods, httpRoutes, grpcRoutes, referenceGrants,
    servers, authorizationPolicies, meshTLSAuthentications, networkAuthentications, faultInjections, inboundLimitPolicies,
  };
}

/** Pods of a namespace (every namespace when undefined), only those matching `selector` when given. */
export async function listPods(kc: KubeConfig, namespace?: string, selector?: string): Promise<Pod[]> {
  const query = selector === undefined ? '' : `?labelSelector=${encodeURIComponent(selector)}`;
  return list<Pod>(kc, `${core('pods', namespace)}${query}`, false);
}

export interface InstallSettings {
  readonly trustDomain: string;
  readonly clusterNetworks: readonly string[];
  readonly defaultInboundPolicy?: string;
  /** Where the settings came from, for the output. */
  readonly source: string;
}

/** The install's settings from its ConfigMap; Weft's defaults when Weft is not installed. */
export async function installSettings(kc: KubeConfig): Promise<InstallSettings> {
  const defaults: InstallSettings = { trustDomain: DEFAULT_TRUST_DOMAIN, clusterNetworks: DEFAULT_CLUSTER_NETWORKS, source: 'defaults (no install ConfigMap)' };
  const path = `/api/v1/namespaces/${CONTROL_PLANE_NAMESPACE}/configmaps/${INSTALL_CONFIGMAP}`;
  const r = await apiGet(kc, path);
  if (r.status === 404) return defaults;
  if (r.status !== 200) throw new ApiError(r.status, `the Kubernetes API server at ${kc.getCurrentCluster()?.server ?? ''} answered GET ${path} with HTTP ${r.status}: ${statusMessage(r)}`);
  try {
    const cm = JSON.parse(r.text) as { data?: Record<string, string> };
    const v = JSON.parse(cm.data?.['values.json'] ?? '{}') as { trustDomain?: string; clusterNetworks?: string[]; defaultInboundPolicy?: string };
    return {
      trustDomain: v.trustDomain ?? DEFAULT_TRUST_DOMAIN,
      clusterNetworks: v.clusterNetworks ?? DEFAULT_CLUSTER_NETWORKS,
      ...(v.defaultInboundPolicy !== undefined ? { defaultInboundPolicy: v.defaultInboundPolicy } : {}),
      source: `ConfigMap ${CONTROL_PLANE_NAMESPACE}/${INSTALL_CONFIGMAP}`,
    };
  } catch {
    return defaults;
  }
}

/** `/api/v1/namespaces/<ns>/pods/<pod>:<port>/proxy<path>` */
export function podProxyPath(namespace: string, pod: string, port: number, path: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy${path}`;
}

/** `/api/v1/namespaces/<ns>/services/<svc>:<port>/proxy<path>` */
export function serviceProxyPath(namespace: string, service: string, port: number, path: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(service)}:${port}/proxy${path}`;
}
