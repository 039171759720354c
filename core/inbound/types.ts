/**
 * The compiled inbound policy of one (pod, port): what core/inbound/compile.ts produces from a
 * ClusterSnapshot and core/inbound/authorize.ts evaluates per request.
 *
 * Model: `Pod -> Port <- Server <- AuthorizationPolicy -> Authentications`.
 *   - At most one Server governs a port (the oldest of those selecting it). Without one, the port
 *     runs a default policy (pod annotation > namespace annotation > cluster setting).
 *   - Authorizations targeting the Server or the pod's Namespace apply to every request on the
 *     port; those targeting an HTTPRoute/GRPCRoute attached to the Server apply to requests that
 *     route selects. A request is allowed when ANY applicable authorization has ALL its
 *     authentications satisfied; otherwise the fallback (Server accessPolicy, default `deny`; or the
 *     default policy) decides.
 *
 * Invariants:
 * - Everything a request needs is precomputed here: CIDRs are parsed to words, identity sets built,
 *   the route table sorted. Evaluation allocates nothing but its result.
 * - `invalid` on an authorization or authentication means Weft cannot enforce it as written; it
 *   never allows anything (fail closed), and its reason is kept for `weft explain`.
 * - Names (server, route, authorization) are for metrics and explanations; they are object names,
 *   never request data.
 */
import type { NetworkSet } from '../cidr.js';
import type { IdentityMatcher } from '../identity-match.js';
import type { DefaultInboundPolicy, ProxyProtocol } from '../kube-policy.js';
import type { RouteTable } from '../routes/match.js';
import type { CompiledLimits } from './limits.js';
import type { CompiledRoute } from '../routes/types.js';

export interface ObjectRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** A condition-like problem report about one object, for status, events and `weft explain`. */
export interface PolicyDiagnostic {
  readonly object: ObjectRef;
  readonly type: 'Accepted';
  readonly status: 'False';
  /** Stable, CamelCase: Conflicted, Unsupported, Invalid, RefNotFound, NoMatchingTarget. */
  readonly reason: 'Conflicted' | 'Unsupported' | 'Invalid' | 'RefNotFound' | 'NoMatchingTarget';
  readonly message: string;
}

export type CompiledAuthentication =
  | {
      readonly kind: 'MeshTLSAuthentication';
      readonly namespace: string;
      readonly name: string;
      readonly identities: IdentityMatcher;
    }
  | {
      readonly kind: 'NetworkAuthentication';
      readonly namespace: string;
      readonly name: string;
      readonly networks: NetworkSet;
    }
  | {
      readonly kind: 'ServiceAccount';
      readonly namespace: string;
      readonly name: string;
      /** The ServiceAccount's SPIFFE ID in this trust domain. */
      readonly identity: string;
    };

export interface CompiledAuthorization {
  /** The AuthorizationPolicy. */
  readonly namespace: string;
  readonly name: string;
  readonly target: { readonly kind: 'Server' | 'HTTPRoute' | 'GRPCRoute' | 'Namespace'; readonly name: string };
  /** All must hold. Empty only when `invalid` is set. */
  readonly authentications: readonly CompiledAuthentication[];
  /** Why this authorization cannot be enforced; when set it never allows. */
  readonly invalid?: string;
}

export interface InboundRoute {
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  readonly namespace: string;
  readonly name: string;
  readonly authorizations: readonly CompiledAuthorization[];
  /** The InboundLimitPolicy targeting this route, counted after the Server's (core/inbound/limits.ts). */
  readonly limits?: CompiledLimits;
}

export interface ProbeExemption {
  /** Normalised probe paths (core/path.ts) of httpGet probes aimed at this port. */
  readonly paths: ReadonlySet<string>;
  readonly networks: NetworkSet;
}

export type FallbackSource = 'cluster' | 'namespace' | 'pod' | 'server';

export interface InboundServer {
  readonly namespace: string;
  readonly name: string;
  readonly accessPolicy: DefaultInboundPolicy;
}

export interface InboundPortPolicy {
  readonly pod: { readonly namespace: string; readonly name: string };
  readonly port: number;
  readonly protocol: ProxyProtocol;
  /** The Server that governs the port; absent when the default policy applies. */
  readonly server?: InboundServer;
  /** Set when the governing Server (or the default-policy annotation) cannot be enforced: deny all. */
  readonly invalid?: string;
  /** What decides when no authorization allows: the Server's accessPolicy or the default policy. */
  readonly fallback: { readonly policy: DefaultInboundPolicy; readonly source: FallbackSource };
  /** Authorizations targeting the Server or the Namespace: apply to every request. */
  readonly authorizations: readonly CompiledAuthorization[];
  /** Routes attached to the Server (empty: every request is one implicit route). */
  readonly routes: readonly CompiledRoute[];
  readonly routeTable: RouteTable;
  /** Per attached route (keyed by the compiled route object selectInTable returns): its authorizations. */
  readonly routePolicies: ReadonlyMap<CompiledRoute, InboundRoute>;
  readonly probes: ProbeExemption;
  /** The InboundLimitPolicy targeting the governing Server: counts every HTTP request on the port. */
  readonly limits?: CompiledLimits;
  readonly clusterNetworks: NetworkSet;
  /** Problems met while compiling this port (the index also keeps cluster-wide ones). */
  readonly diagnostics: readonly PolicyDiagnostic[];
}
