/**
 * Matching a client's verified SPIFFE ID against MeshTLSAuthentication identities and identityRefs,
 * and against a ServiceAccount authentication ref.
 *
 * Model: identities come from the client certificate's URI SAN, `spiffe://<trust-domain>/ns/<ns>/sa/<sa>`
 * (core/contract.ts `spiffeId`). A compiled `IdentityMatcher` holds an exact-ID set (from `identities`
 * and ServiceAccount refs), a namespace set (Namespace refs: any ServiceAccount in it, within this
 * trust domain) and an `any` flag (`*`: any authenticated client), so a request costs one set lookup
 * and at most one parse.
 *
 * Invariants:
 * - Only exact SPIFFE IDs and `*` are accepted in `identities`. Anything else (a Linkerd DNS-style
 *   name, a partial wildcard such as `spiffe://td/ns/x/sa/*`) is an error that makes the whole
 *   authentication fail closed, never a string that silently matches nothing or something else.
 * - An identityRef of a kind other than ServiceAccount or Namespace fails the whole authentication.
 * - No identity (plaintext or unverified peer) never matches, not even `*`.
 */
import { spiffeId } from './contract.js';
import type { IdentityRef, MeshTLSAuthenticationSpec } from './kube-policy.js';

export interface SpiffeParts {
  readonly trustDomain: string;
  readonly namespace: string;
  readonly serviceAccount: string;
}

const SPIFFE_WORKLOAD = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

/** Splits a workload SPIFFE ID; undefined for anything that is not exactly that shape. */
export function parseSpiffeId(id: string): SpiffeParts | undefined {
  const m = SPIFFE_WORKLOAD.exec(id);
  if (m === null) return undefined;
  return { trustDomain: m[1] as string, namespace: m[2] as string, serviceAccount: m[3] as string };
}

export interface IdentityMatcher {
  /** `*`: any verified identity. */
  readonly any: boolean;
  readonly exact: ReadonlySet<string>;
  /** Namespaces whose every ServiceAccount (in `trustDomain`) matches. */
  readonly namespaces: ReadonlySet<string>;
  readonly trustDomain: string;
}

export type IdentityMatcherResult =
  | { readonly ok: true; readonly matcher: IdentityMatcher }
  | { readonly ok: false; readonly reason: string };

const CORE_GROUPS = new Set(['', 'core']);
const IDENTITY_REF_FIELDS = new Set(['group', 'kind', 'name', 'namespace']);
const MESH_TLS_SPEC_FIELDS = new Set(['identities', 'identityRefs']);

function unknownField(obj: object, known: ReadonlySet<string>): string | undefined {
  return Object.keys(obj).find((k) => !known.has(k));
}

/**
 * Compiles a MeshTLSAuthentication spec that lives in `namespace`. Exactly one of `identities` and
 * `identityRefs` must be set and non-empty (as Linkerd's CRD requires); both or neither is an error.
 */
export function compileMeshTLSAuthentication(
  spec: MeshTLSAuthenticationSpec | undefined,
  namespace: string,
  trustDomain: string,
): IdentityMatcherResult {
  if (spec === undefined) return { ok: false, reason: 'has no spec' };
  const extra = unknownField(spec, MESH_TLS_SPEC_FIELDS);
  if (extra !== undefined) return { ok: false, reason: `has field spec.${extra}, which Weft does not implement` };
  const identities = spec.identities ?? [];
  const refs = spec.identityRefs ?? [];
  if (identities.length > 0 && refs.length > 0) return { ok: false, reason: 'sets both identities and identityRefs' };
  if (identities.length === 0 && refs.length === 0) return { ok: false, reason: 'lists no identities or identityRefs' };
  let any = false;
  const exact = new Set<string>();
  const namespaces = new Set<string>();
  for (const id of identities) {
    if (id === '*') { any = true; continue; }
    if (typeof id !== 'string' || parseSpiffeId(id) === undefined || id.includes('*')) {
      return { ok: false, reason: `identity ${JSON.stringify(id)} is neither "*" nor an exact spiffe://<trust-domain>/ns/<ns>/sa/<sa> ID` };
    }
    exact.add(id);
  }
  for (const ref of refs) {
    const r = resolveIdentityRef(ref, namespace, trustDomain);
    if (!r.ok) return r;
    if (r.kind === 'identity') exact.add(r.value);
    else namespaces.add(r.value);
  }
  return { ok: true, matcher: { any, exact, namespaces, trustDomain } };
}

function resolveIdentityRef(
  ref: IdentityRef,
  namespace: string,
  trustDomain: string,
): { ok: true; kind: 'identity' | 'namespace'; value: string } | { ok: false; reason: string } {
  const extra = unknownField(ref, IDENTITY_REF_FIELDS);
  if (extra !== undefined) return { ok: false, reason: `identityRef has field ${extra}, which Weft does not implement` };
  if (ref.group !== undefined && !CORE_GROUPS.has(ref.group)) {
    return { ok: false, reason: `identityRef group ${JSON.stringify(ref.group)} is not the core group` };
  }
  if (typeof ref.name !== 'string' || ref.name === '' || ref.name.includes('*') || ref.name.includes('/')) {
    return { ok: false, reason: `identityRef name ${JSON.stringify(ref.name)} is not an object name` };
  }
  switch (ref.kind) {
    case 'ServiceAccount':
      return { ok: true, kind: 'identity', value: spiffeId(trustDomain, ref.namespace ?? namespace, ref.name) };
    case 'Namespace':
      if (ref.namespace !== undefined) return { ok: false, reason: 'a Namespace identityRef takes no namespace' };
      return { ok: true, kind: 'namespace', value: ref.name };
    default:
      return { ok: false, reason: `identityRef kind ${JSON.stringify(ref.kind)} is not ServiceAccount or Namespace` };
  }
}

/** True when `identity` (a verified SPIFFE ID, or undefined without one) is accepted. */
export function identityMatches(matcher: IdentityMatcher, identity: string | undefined): boolean {
  if (identity === undefined || identity === '') return false;
  if (matcher.any) return true;
  if (matcher.exact.has(identity)) return true;
  if (matcher.namespaces.size === 0) return false;
  const parts = parseSpiffeId(identity);
  return parts !== undefined && parts.trustDomain === matcher.trustDomain && matcher.namespaces.has(parts.namespace);
}
