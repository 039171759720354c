/**
 * Domain types of compiled routes, shared by the outbound (GAMMA) and inbound (Server) sides.
 *
 * Model: Route -> Rule[] -> (Match[] ORed, Filter[], Backend[]). A compiled route holds only plain,
 * validated, precomputed data: lowercased header names, compiled regexes, normalised path values,
 * integer weights. Nothing here refers to Kubernetes or wire types.
 *
 * Invariants:
 * - `CompiledRule.matches` is never empty (a rule without matches gets the match-everything
 *   match: PathPrefix `/` for HTTP, any method for gRPC), so selection has one code path.
 * - A header-name field is lowercase; a path value is the output of core/path.ts.
 * - `BackendTarget.kind === 'error'` carries why a backendRef could not be used; its weight share
 *   is answered with that status (500), never redistributed.
 */

import type { CompiledRegex } from '../regex.js';
import type { RetryPolicy } from '../retry.js';
import type { RetryBudgetConfig } from '../retry-budget.js';
import type { FailureAccrualConfig } from '../failure-accrual.js';
import type { FaultSpec } from './fault.js';
import type { CorsPolicy } from './cors.js';

export type StringMatcher =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'regex'; readonly regex: CompiledRegex };

export type PathMatcher =
  | { readonly kind: 'exact'; readonly value: string }
  /** `value` has no trailing slash (except `/`); `withSlash` is `value + '/'`. */
  | { readonly kind: 'prefix'; readonly value: string; readonly withSlash: string }
  | { readonly kind: 'regex'; readonly regex: CompiledRegex };

export interface NamedMatcher {
  /** Header names lowercase; query names as written (case-sensitive). */
  readonly name: string;
  readonly matcher: StringMatcher;
}

export interface GrpcMethodMatcher {
  readonly service?: StringMatcher;
  readonly method?: StringMatcher;
}

export interface CompiledMatch {
  /** HTTP: always set (default PathPrefix `/`). gRPC: absent. */
  readonly path?: PathMatcher;
  readonly method?: string;
  readonly headers: readonly NamedMatcher[];
  readonly query: readonly NamedMatcher[];
  /** gRPC routes only; `{}` matches any method. */
  readonly grpc?: GrpcMethodMatcher;
}

export interface HeaderOps {
  /** [lowercased name, value]; set replaces every existing value. */
  readonly set: readonly (readonly [string, string])[];
  /** [lowercased name, value]; add appends a value. */
  readonly add: readonly (readonly [string, string])[];
  /** lowercased names. */
  readonly remove: readonly string[];
}

export type PathModifier =
  | { readonly kind: 'full'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string };

export interface ServiceTarget {
  readonly kind: 'service';
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  /** The Service's retry budget from an XBackendTrafficPolicy; absent: the default budget. */
  readonly retryBudget?: RetryBudgetConfig;
  /** The Service's circuit breaking (its failure-accrual annotations); absent: off. */
  readonly failureAccrual?: FailureAccrualConfig;
  /**
   * A Service of type ExternalName: the DNS name it aliases (./external-name.ts). The proxy resolves
   * it and connects to its addresses at `port`; it watches no endpoints for it.
   */
  readonly externalName?: string;
}

export type BackendFailure = 'BackendNotFound' | 'RefNotPermitted' | 'InvalidKind';

export type BackendTarget =
  | ServiceTarget
  | { readonly kind: 'error'; readonly status: 500; readonly reason: BackendFailure; readonly message: string };

export type CompiledFilter =
  | { readonly kind: 'requestHeaders'; readonly ops: HeaderOps }
  | { readonly kind: 'responseHeaders'; readonly ops: HeaderOps }
  | {
      readonly kind: 'redirect';
      readonly scheme?: string;
      readonly hostname?: string;
      readonly port?: number;
      readonly path?: PathModifier;
      readonly statusCode: number;
    }
  | { readonly kind: 'rewrite'; readonly hostname?: string; readonly path?: PathModifier }
  | {
      readonly kind: 'mirror';
      readonly target: BackendTarget;
      readonly numerator: number;
      readonly denominator: number;
    }
  /** HTTPRoute's CORS filter (core/routes/cors.ts). */
  | { readonly kind: 'cors'; readonly cors: CorsPolicy }
  /** An ExtensionRef filter naming a FaultInjection (core/routes/fault.ts). */
  | { readonly kind: 'fault'; readonly fault: FaultSpec }
  /** A filter Weft does not implement: the rule fails closed (500) rather than ignoring it. */
  | { readonly kind: 'unsupported'; readonly type: string };

export interface CompiledBackend {
  readonly weight: number;
  readonly target: BackendTarget;
  readonly filters: readonly CompiledFilter[];
}

export interface RouteTimeouts {
  readonly requestMs?: number;
  readonly backendRequestMs?: number;
}

export interface CompiledRule {
  readonly index: number;
  readonly name?: string;
  readonly matches: readonly CompiledMatch[];
  readonly filters: readonly CompiledFilter[];
  readonly backends: readonly CompiledBackend[];
  /** Sum of backend weights (0 when there are no backends or all weights are 0). */
  readonly totalWeight: number;
  readonly timeouts: RouteTimeouts;
  /** HTTPRoute `retry`; absent: only requests that provably never reached an app are sent again. */
  readonly retry?: RetryPolicy;
  /**
   * Set when the rule uses something Weft does not implement (a filter kind, an unknown field):
   * its traffic is answered 500 (fail closed, security case 25), never routed without it.
   */
  readonly unsupported?: string;
}

export interface CompiledRoute {
  readonly kind: 'http' | 'grpc';
  readonly namespace: string;
  readonly name: string;
  /** creationTimestamp in ms since the epoch; +Infinity when absent (sorts last). */
  readonly createdAt: number;
  readonly generation?: number;
  readonly rules: readonly CompiledRule[];
}

export interface RuleSelection {
  readonly route: CompiledRoute;
  readonly rule: CompiledRule;
  readonly match: CompiledMatch;
  readonly matchIndex: number;
}
