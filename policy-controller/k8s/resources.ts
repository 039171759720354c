/**
 * What the controller watches: one API resource per index kind. Gateway API and Weft kinds are
 * CRDs that may be missing from a cluster; their watch reports that and keeps retrying.
 *
 * ReferenceGrant: Gateway API v1.6.1 and v1.7.0 serve v1 and v1beta1 (storage); v1beta1 is watched since
 * every release that has ReferenceGrant serves it.
 *
 * XBackendTrafficPolicy comes from the experimental channel (gateway.networking.x-k8s.io v1alpha1,
 * Gateway API v1.7.0); on a cluster with only the standard channel its watch reports the CRD missing.
 */
import { GATEWAY_API_EXPERIMENTAL_GROUP, GATEWAY_API_GROUP, POLICY_API_GROUP, POLICY_API_VERSION, TLS_SECRET_TYPE } from '../../core/contract.js';
import type { ResourceKind } from '../index/kinds.js';

export interface ResourceSpec {
  readonly kind: ResourceKind;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** Name of the CRD that defines the kind; absent for built-in kinds. */
  readonly crd?: string;
  /** A field selector the list and the watch carry: the API server sends only the matching objects. */
  readonly fieldSelector?: string;
}

function crd(kind: ResourceKind, group: string, version: string, plural: string): ResourceSpec {
  return { kind, group, version, plural, crd: `${plural}.${group}` };
}

export const RESOURCES: readonly ResourceSpec[] = [
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces' },
  { kind: 'Service', group: '', version: 'v1', plural: 'services' },
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods' },
  crd('HTTPRoute', GATEWAY_API_GROUP, 'v1', 'httproutes'),
  crd('GRPCRoute', GATEWAY_API_GROUP, 'v1', 'grpcroutes'),
  crd('ReferenceGrant', GATEWAY_API_GROUP, 'v1beta1', 'referencegrants'),
  crd('Server', POLICY_API_GROUP, POLICY_API_VERSION, 'servers'),
  crd('AuthorizationPolicy', POLICY_API_GROUP, POLICY_API_VERSION, 'authorizationpolicies'),
  crd('MeshTLSAuthentication', POLICY_API_GROUP, POLICY_API_VERSION, 'meshtlsauthentications'),
  crd('NetworkAuthentication', POLICY_API_GROUP, POLICY_API_VERSION, 'networkauthentications'),
  crd('GatewayClass', GATEWAY_API_GROUP, 'v1', 'gatewayclasses'),
  crd('Gateway', GATEWAY_API_GROUP, 'v1', 'gateways'),
  crd('XBackendTrafficPolicy', GATEWAY_API_EXPERIMENTAL_GROUP, 'v1alpha1', 'xbackendtrafficpolicies'),
  crd('FaultInjection', POLICY_API_GROUP, POLICY_API_VERSION, 'faultinjections'),
  crd('InboundLimitPolicy', POLICY_API_GROUP, POLICY_API_VERSION, 'inboundlimitpolicies'),
  // Gateways' HTTPS certificates. Only TLS Secrets: the API server filters them (a field selector
  // Secrets support), so the cache never holds tokens, registry credentials or other Secrets; and of
  // those only tls.crt and tls.key are kept (./slim.ts).
  { kind: 'Secret', group: '', version: 'v1', plural: 'secrets', fieldSelector: `type=${TLS_SECRET_TYPE}` },
  crd('BackendTLSPolicy', GATEWAY_API_GROUP, 'v1', 'backendtlspolicies'),
  // BackendTLSPolicies' CA bundles; only data['ca.crt'] is kept (./slim.ts).
  { kind: 'ConfigMap', group: '', version: 'v1', plural: 'configmaps' },
  // TLS listeners in Passthrough mode; Gateway API v1.7.0's standard channel serves v1 (v1alpha2 and
  // v1alpha3 are defined but not served).
  crd('TLSRoute', GATEWAY_API_GROUP, 'v1', 'tlsroutes'),
  crd('ListenerSet', GATEWAY_API_GROUP, 'v1', 'listenersets'),
];

/** The cluster-wide collection path, e.g. /api/v1/pods, /apis/gateway.networking.k8s.io/v1/httproutes. */
export function collectionPath(r: ResourceSpec): string {
  return r.group === '' ? `/api/${r.version}/${r.plural}` : `/apis/${r.group}/${r.version}/${r.plural}`;
}

/** The path of one object, e.g. for its status subresource. */
export function objectPath(r: ResourceSpec, namespace: string | undefined, name: string): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  return namespace === undefined ? `${base}/${r.plural}/${name}` : `${base}/namespaces/${namespace}/${r.plural}/${name}`;
}

export function resourceOf(kind: ResourceKind): ResourceSpec {
  const r = RESOURCES.find((x) => x.kind === kind);
  if (r === undefined) throw new Error(`no resource for kind ${kind}`);
  return r;
}
