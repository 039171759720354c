/**
 * Weft's policy CRDs (group policy.weft.dev, version v1alpha1; see core/contract.ts) as plain objects.
 * Field names follow Linkerd's policy.linkerd.io kinds, so a Linkerd manifest ports by changing
 * `apiVersion`.
 *
 * Model: `Pod -> Port <- Server <- AuthorizationPolicy -> Authentications`. A Server selects a port on
 * pods; an AuthorizationPolicy targets a Server, a route attached to a Server, or a Namespace, and
 * lists authentications that must all hold (MeshTLSAuthentication, NetworkAuthentication,
 * ServiceAccount).
 *
 * Invariants: like core/kube.ts, every object and spec keeps unmodelled fields (`Extra`), so the
 * compiler (core/inbound/compile.ts) can see a field it does not implement and fail closed. Enum-like
 * fields admit any string for the same reason: an unknown value is representable and rejected by name.
 */
import type { Extra, KubeObject } from './kube.js';

// --- shared -------------------------------------------------------------------------------------

export interface LabelSelectorRequirement extends Extra {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | (string & {});
  readonly values?: readonly string[];
}

/** metav1.LabelSelector: all matchLabels and all matchExpressions must hold; `{}` selects all. */
export interface LabelSelector extends Extra {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

// --- Server ---------------------------------------------------------------------------------------

export type ProxyProtocol = 'unknown' | 'HTTP/1' | 'HTTP/2' | 'gRPC' | 'opaque' | 'TLS';
export const PROXY_PROTOCOLS: readonly ProxyProtocol[] = ['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'];

/** The default inbound policies (design.md section 4); also the values of Server accessPolicy. */
export type DefaultInboundPolicy =
  | 'all-unauthenticated'
  | 'all-authenticated'
  | 'cluster-authenticated'
  | 'cluster-unauthenticated'
  | 'deny'
  | 'audit';
export const DEFAULT_INBOUND_POLICIES: readonly DefaultInboundPolicy[] = [
  'all-unauthenticated',
  'all-authenticated',
  'cluster-authenticated',
  'cluster-unauthenticated',
  'deny',
  'audit',
];
/** What a port without a Server gets when nothing else is configured. */
export const FALLBACK_DEFAULT_INBOUND_POLICY: DefaultInboundPolicy = 'all-unauthenticated';
/** What a Server does with a request no authorization allows, when spec.accessPolicy is absent. */
export const DEFAULT_SERVER_ACCESS_POLICY: DefaultInboundPolicy = 'deny';

export function isDefaultInboundPolicy(value: unknown): value is DefaultInboundPolicy {
  return typeof value === 'string' && (DEFAULT_INBOUND_POLICIES as readonly string[]).includes(value);
}

export interface ServerSpec extends Extra {
  readonly podSelector?: LabelSelector;
  /** A port number or the name of a container port. */
  readonly port?: number | string;
  readonly proxyProtocol?: ProxyProtocol | (string & {});
  readonly accessPolicy?: DefaultInboundPolicy | (string & {});
}

export interface Server extends KubeObject {
  readonly spec?: ServerSpec;
}

// --- AuthorizationPolicy ------------------------------------------------------------------------

export type TargetKind = 'Server' | 'HTTPRoute' | 'GRPCRoute' | 'Namespace';

export interface PolicyTargetRef extends Extra {
  readonly group?: string;
  readonly kind: TargetKind | (string & {});
  readonly name: string;
}

export type AuthenticationKind = 'MeshTLSAuthentication' | 'NetworkAuthentication' | 'ServiceAccount';

export interface AuthenticationRef extends Extra {
  readonly group?: string;
  readonly kind: AuthenticationKind | (string & {});
  readonly name: string;
  /** Defaults to the AuthorizationPolicy's namespace. */
  readonly namespace?: string;
}

export interface AuthorizationPolicySpec extends Extra {
  readonly targetRef?: PolicyTargetRef;
  /** All must hold. An empty list authenticates nobody (Weft fails closed; see compile.ts). */
  readonly requiredAuthenticationRefs?: readonly AuthenticationRef[];
}

export interface AuthorizationPolicy extends KubeObject {
  readonly spec?: AuthorizationPolicySpec;
}

// --- MeshTLSAuthentication ----------------------------------------------------------------------

export interface IdentityRef extends Extra {
  readonly group?: string;
  readonly kind: 'ServiceAccount' | 'Namespace' | (string & {});
  readonly name: string;
  /** For ServiceAccount; defaults to the MeshTLSAuthentication's namespace. */
  readonly namespace?: string;
}

export interface MeshTLSAuthenticationSpec extends Extra {
  /** Exact SPIFFE IDs, or `*` for any authenticated client. */
  readonly identities?: readonly string[];
  readonly identityRefs?: readonly IdentityRef[];
}

export interface MeshTLSAuthentication extends KubeObject {
  readonly spec?: MeshTLSAuthenticationSpec;
}

// --- NetworkAuthentication ----------------------------------------------------------------------

export interface Network extends Extra {
  readonly cidr: string;
  readonly except?: readonly string[];
}

export interface NetworkAuthenticationSpec extends Extra {
  readonly networks?: readonly Network[];
}

export interface NetworkAuthentication extends KubeObject {
  readonly spec?: NetworkAuthenticationSpec;
}

// --- InboundLimitPolicy -------------------------------------------------------------------------

/** Rate and concurrency limits on a Server or a route of a Server (core/inbound/limits.ts validates). */
export interface InboundLimitPolicySpec extends Extra {
  readonly targetRef?: { readonly group?: string; readonly kind?: string; readonly name?: string } & Extra;
  readonly rateLimit?: { readonly requestsPerSecond?: unknown; readonly burst?: unknown } & Extra;
  readonly concurrency?: { readonly maxInFlight?: unknown } & Extra;
}

export interface InboundLimitPolicy extends KubeObject {
  readonly spec?: InboundLimitPolicySpec;
}

/** Kind names as they appear in manifests and in diagnostics. */
export const POLICY_KINDS = {
  server: 'Server',
  authorizationPolicy: 'AuthorizationPolicy',
  meshTLSAuthentication: 'MeshTLSAuthentication',
  networkAuthentication: 'NetworkAuthentication',
  inboundLimitPolicy: 'InboundLimitPolicy',
} as const;
