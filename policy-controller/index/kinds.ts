/**
 * The Kubernetes kinds the policy controller watches, named once. The watch layer (../k8s) maps
 * each to an API path; the index (./index.ts) maps each to what it invalidates.
 */
import type {
  AuthorizationPolicy,
  EndpointSlice,
  FaultInjection,
  GRPCRoute,
  HTTPRoute,
  InboundLimitPolicy,
  KubeObject,
  MeshTLSAuthentication,
  Namespace,
  NetworkAuthentication,
  Pod,
  ReferenceGrant,
  Server,
  Service,
  XBackendTrafficPolicy,
} from '../../core/kube.js';
import type { Gateway, GatewayClass, ListenerSet, Secret, TLSRoute } from '../../core/gateway/types.js';
import type { BackendTLSPolicy, CaSource } from '../../core/gateway/backend-tls.js';

export interface KindObjects {
  Namespace: Namespace;
  Service: Service;
  EndpointSlice: EndpointSlice;
  Pod: Pod;
  HTTPRoute: HTTPRoute;
  GRPCRoute: GRPCRoute;
  ReferenceGrant: ReferenceGrant;
  Server: Server;
  AuthorizationPolicy: AuthorizationPolicy;
  MeshTLSAuthentication: MeshTLSAuthentication;
  NetworkAuthentication: NetworkAuthentication;
  XBackendTrafficPolicy: XBackendTrafficPolicy;
  FaultInjection: FaultInjection;
  GatewayClass: GatewayClass;
  Gateway: Gateway;
  InboundLimitPolicy: InboundLimitPolicy;
  /** Only type kubernetes.io/tls (../k8s/resources.ts): the certificates of Gateways' HTTPS listeners. */
  Secret: Secret;
  BackendTLSPolicy: BackendTLSPolicy;
  /** Kept: only data['ca.crt'] (../k8s/slim.ts), the CA bundles BackendTLSPolicies name. */
  ConfigMap: CaSource;
  TLSRoute: TLSRoute;
  /** Listeners added to Gateways (spec.allowedListeners decides which). */
  ListenerSet: ListenerSet;
}

export type ResourceKind = keyof KindObjects;

export const RESOURCE_KINDS: readonly ResourceKind[] = [
  'Namespace',
  'Service',
  'EndpointSlice',
  'Pod',
  'HTTPRoute',
  'GRPCRoute',
  'ReferenceGrant',
  'Server',
  'AuthorizationPolicy',
  'MeshTLSAuthentication',
  'NetworkAuthentication',
  'XBackendTrafficPolicy',
  'FaultInjection',
  'GatewayClass',
  'Gateway',
  'InboundLimitPolicy',
  'Secret',
  'BackendTLSPolicy',
  'ConfigMap',
  'TLSRoute',
  'ListenerSet',
];

export type AnyKubeObject = KubeObject;
