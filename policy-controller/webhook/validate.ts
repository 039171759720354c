/**
 * Admission checks for what the CRD schemas cannot express, for Weft's policy kinds and for
 * HTTPRoutes/GRPCRoutes that attach to a Service or a Server. Every refusal names the field and
 * says what to change (`spec.rules[0].matches[0].path.value: ...`).
 *
 * Refused: patterns RE2 cannot compile (backreferences, lookaround) and other matches Weft cannot
 * evaluate; CIDRs core cannot parse, and `except` blocks outside their network; identities that
 * are not exact SPIFFE IDs of this trust domain (or "*"); an AuthorizationPolicy that targets
 * another Namespace. Allowed with a warning: filters and fields Weft does not implement (the route
 * is then not Accepted and its affected rules answer 500, as its status explains), so a route
 * written for another implementation is not blocked outright.
 * Routes with no Service or Server parent belong to other controllers and are always allowed.
 */
import { compileNetworks, parseCidr, cidrContains, parseIp } from '../../core/cidr.js';
import { ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import { compileMeshTLSAuthentication, parseSpiffeId } from '../../core/identity-match.js';
import type { GRPCRoute, HTTPRoute, HTTPRouteMatch, GRPCRouteMatch } from '../../core/kube.js';
import type { AuthorizationPolicy, InboundLimitPolicy, MeshTLSAuthentication, NetworkAuthentication, Server } from '../../core/kube-policy.js';
import { compileInboundLimitPolicy } from '../../core/inbound/limits.js';
import { compileGrpcRoute, compileHttpRoute, type ExtensionResolver } from '../../core/routes/compile.js';
import { isFaultInjectionRef } from '../../core/routes/fault.js';
import { compileGrpcMatch, compileHttpMatch } from '../../core/routes/match.js';
import { isServerParent, isServiceParentRef } from '../index/server-parents.js';

export interface Verdict {
  readonly allowed: boolean;
  /** Set when refused: what is wrong and where. */
  readonly message?: string;
  readonly warnings: readonly string[];
}

export interface ValidateOptions {
  readonly trustDomain: string;
}

const RE2_HINT = 'Weft matches RegularExpression values with RE2 syntax (linear time): backreferences and lookaround are not available; rewrite the pattern without them';

function refuse(errors: string[], warnings: string[] = []): Verdict {
  return { allowed: false, message: errors.join('; '), warnings };
}

function httpMatchErrors(m: HTTPRouteMatch, at: string): string[] {
  const errors: string[] = [];
  if (m.path !== undefined) {
    const r = compileHttpMatch({ path: m.path });
    if (!r.ok) {
      const field = r.reason.includes('match type') ? 'type' : 'value';
      errors.push(`${at}.path.${field}: ${r.reason}${m.path.type === 'RegularExpression' ? `. ${RE2_HINT}` : ''}`);
    }
  }
  (m.headers ?? []).forEach((h, k) => {
    const r = compileHttpMatch({ headers: [h] });
    if (!r.ok) errors.push(`${at}.headers[${k}].value: ${r.reason}${h.type === 'RegularExpression' ? `. ${RE2_HINT}` : ''}`);
  });
  (m.queryParams ?? []).forEach((q, k) => {
    const r = compileHttpMatch({ queryParams: [q] });
    if (!r.ok) errors.push(`${at}.queryParams[${k}].value: ${r.reason}${q.type === 'RegularExpression' ? `. ${RE2_HINT}` : ''}`);
  });
  if (m.method !== undefined) {
    const r = compileHttpMatch({ method: m.method });
    if (!r.ok) errors.push(`${at}.method: ${r.reason}`);
  }
  return errors;
}

function grpcMatchErrors(m: GRPCRouteMatch, at: string): string[] {
  const errors: string[] = [];
  if (m.method !== undefined) {
    for (const field of ['service', 'method'] as const) {
      if (m.method[field] === undefined) continue;
      const r = compileGrpcMatch({ method: { ...(m.method.type !== undefined ? { type: m.method.type } : {}), [field]: m.method[field] } });
      if (!r.ok) errors.push(`${at}.method.${field}: ${r.reason}${m.method.type === 'RegularExpression' ? `. ${RE2_HINT}` : ''}`);
    }
  }
  (m.headers ?? []).forEach((h, k) => {
    const r = compileGrpcMatch({ headers: [h] });
    if (!r.ok) errors.push(`${at}.headers[${k}].value: ${r.reason}${h.type === 'RegularExpression' ? `. ${RE2_HINT}` : ''}`);
  });
  return errors;
}

export function validateRoute(kind: 'HTTPRoute' | 'GRPCRoute', route: HTTPRoute | GRPCRoute): Verdict {
  const parents = route.spec?.parentRefs ?? [];
  if (!parents.some((p) => isServiceParentRef(p) || isServerParent(p))) return { allowed: true, warnings: [] };
  const errors: string[] = [];
  (route.spec?.rules ?? []).forEach((rule, i) => {
    ((rule.matches ?? []) as readonly (HTTPRouteMatch | GRPCRouteMatch)[]).forEach((m, j) => {
      const at = `spec.rules[${i}].matches[${j}]`;
      errors.push(...(kind === 'HTTPRoute' ? httpMatchErrors(m as HTTPRouteMatch, at) : grpcMatchErrors(m as GRPCRouteMatch, at)));
    });
  });
  const ns = route.metadata.namespace ?? '';
  const resolveAny = () => ({ kind: 'service' as const, namespace: ns, name: 'admission', port: 1 });
  // Whether a FaultInjection exists is the controller's to say (the route's status); admission
  // only warns about a kind Weft does not know.
  const extensionAny: ExtensionResolver = (ref) => (isFaultInjectionRef(ref)
    ? { kind: 'fault', fault: { ref: `${ns}/${ref.name}` } }
    : { kind: 'error', message: `Weft knows no filter kind ${JSON.stringify(ref.kind)} in group ${JSON.stringify(ref.group)}` });
  const result = kind === 'HTTPRoute' ? compileHttpRoute(route as HTTPRoute, resolveAny, extensionAny) : compileGrpcRoute(route as GRPCRoute, resolveAny, extensionAny);
  if (errors.length === 0 && result.fatal !== undefined) errors.push(result.fatal);
  const warnings = result.unsupported.map((u) => `${u} (the route will not be Accepted by ${ROUTE_CONTROLLER_NAME})`);
  return errors.length > 0 ? refuse(errors, warnings) : { allowed: true, warnings };
}

export function validateServer(s: Server): Verdict {
  const errors: string[] = [];
  const port = s.spec?.port;
  if (typeof port === 'number' && !(Number.isInteger(port) && port >= 1 && port <= 65535)) errors.push(`spec.port: ${port} is not a port number from 1 to 65535`);
  (s.spec?.podSelector?.matchExpressions ?? []).forEach((e, i) => {
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) errors.push(`spec.podSelector.matchExpressions[${i}].operator: use In, NotIn, Exists or DoesNotExist`);
  });
  return errors.length > 0 ? refuse(errors) : { allowed: true, warnings: [] };
}

export function validateAuthorizationPolicy(p: AuthorizationPolicy): Verdict {
  const t = p.spec?.targetRef;
  if (t?.kind === 'Namespace' && t.name !== p.metadata.namespace) {
    return refuse([`spec.targetRef.name: an AuthorizationPolicy may only target its own Namespace (${p.metadata.namespace ?? ''}), not ${t.name}; create the policy in ${t.name} instead`]);
  }
  return { allowed: true, warnings: [] };
}

export function validateMeshTLSAuthentication(m: MeshTLSAuthentication, o: ValidateOptions): Verdict {
  const errors: string[] = [];
  (m.spec?.identities ?? []).forEach((id, i) => {
    if (id === '*') return;
    const parts = parseSpiffeId(id);
    if (parts === undefined) errors.push(`spec.identities[${i}]: ${JSON.stringify(id)} is not "*" or spiffe://<trust-domain>/ns/<namespace>/sa/<serviceaccount>`);
    else if (parts.trustDomain !== o.trustDomain) errors.push(`spec.identities[${i}]: trust domain ${parts.trustDomain} is not this mesh's (${o.trustDomain}); no client can present it`);
  });
  if (errors.length > 0) return refuse(errors);
  const r = compileMeshTLSAuthentication(m.spec, m.metadata.namespace ?? '', o.trustDomain);
  return r.ok ? { allowed: true, warnings: [] } : refuse([`spec: ${r.reason}`]);
}

export function validateNetworkAuthentication(n: NetworkAuthentication): Verdict {
  const errors: string[] = [];
  (n.spec?.networks ?? []).forEach((net, i) => {
    const block = parseCidr(net.cidr);
    if (!block.ok) {
      errors.push(`spec.networks[${i}].cidr: ${block.reason}`);
      return;
    }
    (net.except ?? []).forEach((ex, j) => {
      const e = parseCidr(ex);
      if (!e.ok) errors.push(`spec.networks[${i}].except[${j}]: ${e.reason}`);
      else {
        const first = parseIp(e.cidr.text.split('/')[0] ?? '');
        if (first === undefined || e.cidr.family !== block.cidr.family || e.cidr.prefix < block.cidr.prefix || !cidrContains(block.cidr, first)) {
          errors.push(`spec.networks[${i}].except[${j}]: ${ex} is not inside ${net.cidr}; an exception must be a sub-block of its network`);
        }
      }
    });
  });
  if (errors.length === 0) {
    const r = compileNetworks(n.spec?.networks ?? []);
    if (!r.ok) errors.push(`spec.networks: ${r.reason}`);
  }
  return errors.length > 0 ? refuse(errors) : { allowed: true, warnings: [] };
}

/** InboundLimitPolicy: the checks the controller applies (core/inbound/limits.ts), each naming its field. */
export function validateInboundLimitPolicy(p: InboundLimitPolicy): Verdict {
  const c = compileInboundLimitPolicy(p);
  return c.ok ? { allowed: true, warnings: [] } : refuse(c.problems);
}

/** Dispatches on the AdmissionReview's kind; kinds Weft does not check are allowed. */
export function validate(kind: string, obj: unknown, o: ValidateOptions): Verdict {
  switch (kind) {
    case 'HTTPRoute':
    case 'GRPCRoute':
      return validateRoute(kind, obj as HTTPRoute);
    case 'Server':
      return validateServer(obj as Server);
    case 'AuthorizationPolicy':
      return validateAuthorizationPolicy(obj as AuthorizationPolicy);
    case 'MeshTLSAuthentication':
      return validateMeshTLSAuthentication(obj as MeshTLSAuthentication, o);
    case 'NetworkAuthentication':
      return validateNetworkAuthentication(obj as NetworkAuthentication);
    case 'InboundLimitPolicy':
      return validateInboundLimitPolicy(obj as InboundLimitPolicy);
    default:
      return { allowed: true, warnings: [] };
  }
}
