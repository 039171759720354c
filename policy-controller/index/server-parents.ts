/**
 * Status of routes attached to a Server (policy.weft.dev) parent: the inbound counterpart of the
 * Service-parent status that core/outbound/policy.ts computes.
 *
 * Rules: the Server must exist in the route's namespace (a route attaches only to Servers in its
 * own namespace), else Accepted=False NoMatchingParent; a route that cannot be evaluated or uses
 * something Weft does not implement is Accepted=False UnsupportedValue (its rules answer 500);
 * backendRefs play no part on the server side (the request already reached its pod), so
 * ResolvedRefs is True.
 */
import { POLICY_API_GROUP, ROUTE_CONTROLLER_NAME } from '../../core/contract.js';
import type { Condition, GRPCRoute, HTTPRoute, ParentReference } from '../../core/kube.js';
import type { RouteParentStatus } from '../../core/outbound/policy.js';
import { compileGrpcRoute, compileHttpRoute } from '../../core/routes/compile.js';

export function isServerParent(p: ParentReference): boolean {
  return p.kind === 'Server' && p.group === POLICY_API_GROUP;
}

export function isServiceParentRef(p: ParentReference): boolean {
  return p.kind === 'Service' && (p.group === '' || p.group === 'core');
}

function cond(type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition {
  return {
    type,
    status: ok ? 'True' : 'False',
    reason,
    message,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

export function serverParentStatus(
  kind: 'HTTPRoute' | 'GRPCRoute',
  route: HTTPRoute | GRPCRoute,
  parent: ParentReference,
  serverExists: (namespace: string, name: string) => boolean,
): RouteParentStatus {
  const ns = route.metadata.namespace ?? '';
  const gen = route.metadata.generation;
  const resolveAny = () => ({ kind: 'service' as const, namespace: ns, name: 'inbound', port: 1 });
  const result = kind === 'HTTPRoute' ? compileHttpRoute(route as HTTPRoute, resolveAny) : compileGrpcRoute(route as GRPCRoute, resolveAny);
  let accepted: Condition;
  if (parent.namespace !== undefined && parent.namespace !== ns) {
    accepted = cond('Accepted', false, 'NoMatchingParent', `Server ${parent.namespace}/${parent.name} is in another namespace; a route attaches only to Servers in its own namespace`, gen);
  } else if (!serverExists(ns, parent.name)) {
    accepted = cond('Accepted', false, 'NoMatchingParent', `Server ${ns}/${parent.name} does not exist`, gen);
  } else if (result.fatal !== undefined) {
    accepted = cond('Accepted', false, 'UnsupportedValue', `route is not in effect; the Server denies every request: ${result.fatal}`, gen);
  } else if (result.unsupported.length > 0) {
    accepted = cond('Accepted', false, 'UnsupportedValue', `requests matching the affected rules are refused: ${result.unsupported.join('; ')}`, gen);
  } else {
    accepted = cond('Accepted', true, 'Accepted', 'route is attached to the Server', gen);
  }
  const resolved = cond('ResolvedRefs', true, 'ResolvedRefs', 'backendRefs are not used by routes attached to a Server', gen);
  return { parentRef: parent, controllerName: ROUTE_CONTROLLER_NAME, conditions: [accepted, resolved] };
}
