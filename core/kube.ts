/**
 * Plain Kubernetes objects as JSON, typed minimally and owned by Weft (not @kubernetes/client-node's
 * classes): the controller's watch layer converts whatever the client library hands it into these
 * shapes, and every decision in core/ reads only these.
 *
 * Model: `ClusterSnapshot` is an immutable view of the cluster (namespaces, Services, EndpointSlices,
 * Pods, Gateway API routes and grants, Weft's policy kinds). Compilers are pure functions of it.
 *
 * Invariants:
 * - Every field is optional unless the API server guarantees it (metadata.name, namespace for
 *   namespaced kinds after admission). Code reading these types must handle absence.
 * - Nothing is silently lost: each object and spec carries an index signature of `unknown`, so a
 *   field this module does not model (a newer Gateway API field, an experimental one such as
 *   `retry`) survives conversion and a compiler can detect it and refuse it (fail closed) instead
 *   of ignoring it.
 * - Gateway API route specs follow the v1 standard channel CRDs of v1.6.1 field by field; v1.7.0 adds
 *   HTTPRoute rule `retry` (modelled here, not yet implemented: the route compiler reports it).
 */

/** Fields a type does not model are kept as `unknown` (never dropped). */
export interface Extra {
  readonly [field: string]: unknown;
}

// --- metadata ---------------------------------------------------------------------------------------

export interface OwnerReference extends Extra {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly controller?: boolean;
}

export interface ObjectMeta extends Extra {
  readonly name: string;
  /** Absent for cluster-scoped kinds (Namespace). */
  readonly namespace?: string;
  readonly uid?: string;
  readonly generation?: number;
  /** RFC 3339, as the API server writes it. */
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly resourceVersion?: string;
  readonly ownerReferences?: readonly OwnerReference[];
}

export interface KubeObject extends Extra {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: ObjectMeta;
}

export interface Condition extends Extra {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

// --- core/v1 ----------------------------------------------------------------------------------------

export interface Namespace extends KubeObject {
  readonly status?: Extra & { readonly phase?: string };
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePort extends Extra {
  readonly name?: string;
  readonly port: number;
  /** A number or the name of a container port. */
  readonly targetPort?: number | string;
  readonly protocol?: Protocol;
  readonly appProtocol?: string;
  readonly nodePort?: number;
}

export interface ServiceSpec extends Extra {
  readonly type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** `None` for a headless Service. */
  readonly clusterIP?: string;
  readonly clusterIPs?: readonly string[];
  readonly ports?: readonly ServicePort[];
  readonly selector?: Readonly<Record<string, string>>;
  readonly externalName?: string;
  readonly ipFamilies?: readonly string[];
}

export interface Service extends KubeObject {
  readonly spec?: ServiceSpec;
}

export interface ContainerPort extends Extra {
  readonly name?: string;
  readonly containerPort: number;
  readonly protocol?: Protocol;
  readonly hostPort?: number;
}

export interface HttpGetAction extends Extra {
  readonly path?: string;
  readonly port: number | string;
  readonly host?: string;
  readonly scheme?: 'HTTP' | 'HTTPS';
  readonly httpHeaders?: readonly { readonly name: string; readonly value: string }[];
}

export interface Probe extends Extra {
  readonly httpGet?: HttpGetAction;
  readonly tcpSocket?: Extra & { readonly port: number | string; readonly host?: string };
  readonly grpc?: Extra & { readonly port: number; readonly service?: string };
  readonly exec?: Extra & { readonly command?: readonly string[] };
  readonly initialDelaySeconds?: number;
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
  readonly failureThreshold?: number;
  readonly successThreshold?: number;
}

export interface Container extends Extra {
  readonly name: string;
  readonly image?: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly ports?: readonly ContainerPort[];
  readonly env?: readonly (Extra & { readonly name: string; readonly value?: string })[];
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly startupProbe?: Probe;
  /** `Always` on an init container makes it a native sidecar. */
  readonly restartPolicy?: string;
}

export interface PodSpec extends Extra {
  readonly containers: readonly Container[];
  readonly initContainers?: readonly Container[];
  readonly serviceAccountName?: string;
  readonly nodeName?: string;
  readonly hostNetwork?: boolean;
  readonly hostname?: string;
}

export type PodCondition = Condition;

export interface PodStatus extends Extra {
  readonly phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
  readonly podIP?: string;
  readonly podIPs?: readonly { readonly ip: string }[];
  readonly hostIP?: string;
  readonly hostIPs?: readonly { readonly ip: string }[];
  readonly conditions?: readonly PodCondition[];
}

export interface Pod extends KubeObject {
  readonly spec?: PodSpec;
  readonly status?: PodStatus;
}

// --- discovery.k8s.io/v1 ----------------------------------------------------------------------------

/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface EndpointConditions extends Extra {
  readonly ready?: boolean;
  readonly serving?: boolean;
  readonly terminating?: boolean;
}

export interface ObjectReference extends Extra {
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly uid?: string;
}

export interface Endpoint extends Extra {
  readonly addresses: readonly string[];
  readonly conditions?: EndpointConditions;
  readonly targetRef?: ObjectReference;
  readonly nodeName?: string;
  readonly hostname?: string;
  readonly zone?: string;
}

export interface EndpointPort extends Extra {
  readonly name?: string;
  readonly port?: number;
  readonly protocol?: Protocol;
  readonly appProtocol?: string;
}

export interface EndpointSlice extends KubeObject {
  readonly addressType: 'IPv4' | 'IPv6' | 'FQDN';
  readonly endpoints?: readonly Endpoint[];
  readonly ports?: readonly EndpointPort[];
}

// --- gateway.networking.k8s.io/v1 -------------------------------------------------------------------

/** A parentRef (ParentReference). For GAMMA: group "" or "core", kind Service. */
export interface ParentReference extends Extra {
  readonly group?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name: string;
  readonly sectionName?: string;
  readonly port?: number;
}

export interface BackendObjectReference extends Extra {
  readonly group?: string;
  readonly kind?: string;
  readonly name: string;
  readonly namespace?: string;
  readonly port?: number;
}

export interface HTTPHeader extends Extra {
  readonly name: string;
  readonly value: string;
}

export interface HeaderModifier extends Extra {
  readonly set?: readonly HTTPHeader[];
  readonly add?: readonly HTTPHeader[];
  readonly remove?: readonly string[];
}

export interface HTTPPathModifier extends Extra {
  readonly type: 'ReplaceFullPath' | 'ReplacePrefixMatch' | (string & {});
  readonly replaceFullPath?: string;
  readonly replacePrefixMatch?: string;
}

export interface HTTPRequestRedirectFilter extends Extra {
  readonly scheme?: 'http' | 'https' | (string & {});
  readonly hostname?: string;
  readonly path?: HTTPPathModifier;
  readonly port?: number;
  readonly statusCode?: number;
}

export interface HTTPURLRewriteFilter extends Extra {
  readonly hostname?: string;
  readonly path?: HTTPPathModifier;
}

export interface Fraction extends Extra {
  readonly numerator: number;
  readonly denominator?: number;
}

export interface HTTPRequestMirrorFilter extends Extra {
  readonly backendRef: BackendObjectReference;
  readonly percent?: number;
  readonly fraction?: Fraction;
}

export interface LocalObjectReference extends Extra {
  readonly group: string;
  readonly kind: string;
  readonly name: string;
}

export interface HTTPCORSFilter extends Extra {
  readonly allowOrigins?: readonly string[];
  readonly allowCredentials?: boolean;
  readonly allowMethods?: readonly string[];
  readonly allowHeaders?: readonly string[];
  readonly exposeHeaders?: readonly string[];
  readonly maxAge?: number;
}

export type HTTPRouteFilterType =
  | 'RequestHeaderModifier'
  | 'ResponseHeaderModifier'
  | 'RequestMirror'
  | 'RequestRedirect'
  | 'URLRewrite'
  | 'ExtensionRef'
  | 'CORS';

export interface HTTPRouteFilter extends Extra {
  /** A string outside the union is representable so a compiler can reject it by name. */
  readonly type: HTTPRouteFilterType | (string & {});
  readonly requestHeaderModifier?: HeaderModifier;
  readonly responseHeaderModifier?: HeaderModifier;
  readonly requestMirror?: HTTPRequestMirrorFilter;
  readonly requestRedirect?: HTTPRequestRedirectFilter;
  readonly urlRewrite?: HTTPURLRewriteFilter;
  readonly extensionRef?: LocalObjectReference;
  readonly cors?: HTTPCORSFilter;
}

export type GRPCRouteFilterType =
  | 'RequestHeaderModifier'
  | 'ResponseHeaderModifier'
  | 'RequestMirror'
  | 'ExtensionRef';

export interface GRPCRouteFilter extends Extra {
  readonly type: GRPCRouteFilterType | (string & {});
  readonly requestHeaderModifier?: HeaderModifier;
  readonly responseHeaderModifier?: HeaderModifier;
  readonly requestMirror?: HTTPRequestMirrorFilter;
  readonly extensionRef?: LocalObjectReference;
}

export interface HTTPPathMatch extends Extra {
  /** Default PathPrefix. */
  readonly type?: 'Exact' | 'PathPrefix' | 'RegularExpression' | (string & {});
  /** Default `/`. */
  readonly value?: string;
}

export interface HTTPHeaderMatch extends Extra {
  /** Default Exact. */
  readonly type?: 'Exact' | 'RegularExpression' | (string & {});
  readonly name: string;
  readonly value: string;
}

export interface HTTPQueryParamMatch extends Extra {
  readonly type?: 'Exact' | 'RegularExpression' | (string & {});
  readonly name: string;
  readonly value: string;
}

export type HTTPMethod =
  | 'GET'
  | 'HEAD'
  | 'POST'
  | 'PUT'
  | 'DELETE'
  | 'CONNECT'
  | 'OPTIONS'
  | 'TRACE'
  | 'PATCH';

export interface HTTPRouteMatch extends Extra {
  readonly path?: HTTPPathMatch;
  readonly headers?: readonly HTTPHeaderMatch[];
  readonly queryParams?: readonly HTTPQueryParamMatch[];
  readonly method?: HTTPMethod | (string & {});
}

export interface HTTPBackendRef extends BackendObjectReference {
  /** Default 1. */
  readonly weight?: number;
  readonly filters?: readonly HTTPRouteFilter[];
}

export interface HTTPRouteTimeouts extends Extra {
  /** Gateway API Duration, e.g. `10s`, `500ms`, `1h2m`. */
  readonly request?: string;
  readonly backendRequest?: string;
}

export interface HTTPRouteRetry extends Extra {
  /** Retries after the first request; default 1, 0 disables. */
  readonly attempts?: number;
  /** Status codes 400-599. */
  readonly codes?: readonly number[];
  /** Gateway API Duration: the base of the backoff. */
  readonly backoff?: string;
}

export interface HTTPRouteRule extends Extra {
  readonly name?: string;
  readonly matches?: readonly HTTPRouteMatch[];
  readonly filters?: readonly HTTPRouteFilter[];
  readonly backendRefs?: readonly HTTPBackendRef[];
  readonly timeouts?: HTTPRouteTimeouts;
  readonly retry?: HTTPRouteRetry;
}

export interface HTTPRouteSpec extends Extra {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly HTTPRouteRule[];
}

export interface RouteParentStatus extends Extra {
  readonly parentRef: ParentReference;
  readonly controllerName: string;
  readonly conditions?: readonly Condition[];
}

export interface RouteStatusJson extends Extra {
  readonly parents?: readonly RouteParentStatus[];
}

export interface HTTPRoute extends KubeObject {
  readonly spec?: HTTPRouteSpec;
  readonly status?: RouteStatusJson;
}

export interface GRPCMethodMatch extends Extra {
  /** Default Exact. */
  readonly type?: 'Exact' | 'RegularExpression' | (string & {});
  readonly service?: string;
  readonly method?: string;
}

export interface GRPCHeaderMatch extends Extra {
  readonly type?: 'Exact' | 'RegularExpression' | (string & {});
  readonly name: string;
  readonly value: string;
}

export interface GRPCRouteMatch extends Extra {
  readonly method?: GRPCMethodMatch;
  readonly headers?: readonly GRPCHeaderMatch[];
}

export interface GRPCBackendRef extends BackendObjectReference {
  readonly weight?: number;
  readonly filters?: readonly GRPCRouteFilter[];
}

export interface GRPCRouteRule extends Extra {
  readonly name?: string;
  readonly matches?: readonly GRPCRouteMatch[];
  readonly filters?: readonly GRPCRouteFilter[];
  readonly backendRefs?: readonly GRPCBackendRef[];
}

export interface GRPCRouteSpec extends Extra {
  readonly parentRefs?: readonly ParentReference[];
  readonly hostnames?: readonly string[];
  readonly rules?: readonly GRPCRouteRule[];
}

export interface GRPCRoute extends KubeObject {
  readonly spec?: GRPCRouteSpec;
  readonly status?: RouteStatusJson;
}

export interface ReferenceGrantFrom extends Extra {
  readonly group: string;
  readonly kind: string;
  readonly namespace: string;
}

export interface ReferenceGrantTo extends Extra {
  readonly group: string;
  readonly kind: string;
  readonly name?: string;
}

export interface ReferenceGrant extends KubeObject {
  readonly spec?: Extra & {
    readonly from?: readonly ReferenceGrantFrom[];
    readonly to?: readonly ReferenceGrantTo[];
  };
}

/** Gateway API XBackendTrafficPolicy (gateway.networking.x-k8s.io/v1alpha1, experimental channel). */
export interface XBackendTrafficPolicy extends KubeObject {
  readonly spec?: Extra & {
    readonly targetRefs?: readonly (Extra & { readonly group?: string; readonly kind?: string; readonly name: string; readonly sectionName?: string })[];
    readonly retryConstraint?: Extra & {
      readonly budget?: Extra & { readonly percent?: number; readonly interval?: string };
      readonly minRetryRate?: Extra & { readonly count?: number; readonly interval?: string };
    };
  };
}

// --- Weft policy kinds -----------------------------------------------------------------------------

/**
 * Weft FaultInjection (policy.weft.dev/v1alpha1): what an HTTPRoute ExtensionRef filter naming it does
 * to the requests it routes (core/routes/fault.ts).
 */
export interface FaultInjection extends KubeObject {
  readonly spec?: Extra & {
    readonly abort?: Extra & { readonly httpStatus?: number; readonly percentage?: number };
    readonly delay?: Extra & { readonly duration?: string; readonly percentage?: number };
  };
}

/** Weft's policy kinds are defined in ./kube-policy.js (owned by the inbound side). */
import type { AuthorizationPolicy, InboundLimitPolicy, MeshTLSAuthentication, NetworkAuthentication, Server } from './kube-policy.js';
export type { AuthorizationPolicy, InboundLimitPolicy, MeshTLSAuthentication, NetworkAuthentication, Server };

// --- snapshot ---------------------------------------------------------------------------------------

/** An immutable view of everything the compilers read. */
export interface ClusterSnapshot {
  readonly namespaces: readonly Namespace[];
  readonly services: readonly Service[];
  readonly endpointSlices: readonly EndpointSlice[];
  readonly pods: readonly Pod[];
  readonly httpRoutes: readonly HTTPRoute[];
  readonly grpcRoutes: readonly GRPCRoute[];
  readonly referenceGrants: readonly ReferenceGrant[];
  /** XBackendTrafficPolicies of the backends' namespaces; absent: none. */
  readonly backendTrafficPolicies?: readonly XBackendTrafficPolicy[];
  /** FaultInjections of the routes' namespaces (ExtensionRef filters name them); absent: none. */
  readonly faultInjections?: readonly FaultInjection[];
  readonly servers: readonly Server[];
  readonly authorizationPolicies: readonly AuthorizationPolicy[];
  readonly meshTLSAuthentications: readonly MeshTLSAuthentication[];
  readonly networkAuthentications: readonly NetworkAuthentication[];
  /** InboundLimitPolicies (core/inbound/limits.ts); absent: none. */
  readonly inboundLimitPolicies?: readonly InboundLimitPolicy[];
}

/** A snapshot with no objects; spread over it to build test fixtures. */
export const EMPTY_SNAPSHOT: ClusterSnapshot = {
  namespaces: [],
  services: [],
  endpointSlices: [],
  pods: [],
  httpRoutes: [],
  grpcRoutes: [],
  referenceGrants: [],
  servers: [],
  authorizationPolicies: [],
  meshTLSAuthentications: [],
  networkAuthentications: [],
};

/** `namespace/name` of a namespaced object (the key every index uses). */
export function objectKey(meta: ObjectMeta): string {
  return `${meta.namespace ?? ''}/${meta.name}`;
}
