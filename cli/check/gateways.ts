/**
 * What `weft check` says about gateways, from the status the controller wrote. Pure: listed objects in,
 * findings out; each finding names the object, the condition, its reason and message, and a fix.
 *
 *   classes    GatewayClasses with controllerName weft.dev/gateway-controller: Accepted=True
 *   gateways   accepted Gateways of those classes: Programmed=True (Weft's proxy serves them)
 *   workloads  each such Gateway's proxy Deployment (`<gateway>-weft-gateway`) has an available pod
 *   specs      Gateways of those classes: Accepted=True            (a warning: the user's object)
 *   listeners  each listener: Accepted, ResolvedRefs, Programmed True and Conflicted not True (warning)
 *   routes     HTTPRoute/GRPCRoute status.parents[] entries of weft.dev/gateway-controller:
 *              Accepted=True and ResolvedRefs=True                  (warning)
 *
 * Warnings are printed but do not fail `weft check`: a refused route or an invalid listener is a
 * problem of that object, not of the mesh (and e2e tests, which wait for `weft check` to pass, must
 * not wait on another test's deliberately broken route).
 */
import { GATEWAY_CONTROLLER_NAME } from '../../core/contract.js';
import { gatewayWorkloadName } from '../../core/gateway/render.js';
import type { Gateway, GatewayClass } from '../../core/gateway/types.js';
import type { Condition, RouteStatusJson } from '../../core/kube.js';

export interface GatewayRouteLike {
  readonly kind: 'HTTPRoute' | 'GRPCRoute';
  readonly metadata: { readonly name: string; readonly namespace?: string | undefined };
  readonly status?: RouteStatusJson | undefined;
}

export interface DeploymentLike {
  readonly metadata?: { readonly name?: string | undefined; readonly namespace?: string | undefined } | undefined;
  readonly spec?: { readonly replicas?: number | undefined } | undefined;
  readonly status?: { readonly availableReplicas?: number | undefined; readonly readyReplicas?: number | undefined } | undefined;
}

export interface Finding {
  readonly problem: string;
  readonly hint: string;
}

export interface GatewayFindings {
  /** Names of Weft's GatewayClasses, and how many Gateways use them (for the passing details). */
  readonly classNames: readonly string[];
  readonly gatewayNames: readonly string[];
  readonly classes: readonly Finding[];
  /** Accepted Gateways that are not Programmed: Weft's proxy does not serve them (a failure). */
  readonly gateways: readonly Finding[];
  /** Gateways not Accepted: their spec is invalid (a warning: the user's object). */
  readonly specs: readonly Finding[];
  readonly workloads: readonly Finding[];
  readonly listeners: readonly Finding[];
  readonly routes: readonly Finding[];
  readonly routesChecked: number;
}

const condText = (c: Condition | undefined, type: string) => (c === undefined ? `${type}: no condition yet` : `${c.type}=${c.status} ${c.reason}${c.message !== undefined && c.message !== '' ? ` (${c.message})` : ''}`);
const find = (conds: readonly Condition[] | undefined, type: string) => (conds ?? []).find((c) => c.type === type);
const isTrue = (conds: readonly Condition[] | undefined, type: string) => find(conds, type)?.status === 'True';

const CONTROLLER_HINT = 'kubectl -n weft-system logs deploy/weft-controller (the controller writes gateway status; is it running and the leader?)';

/** The fix for a route's parent condition, by reason (the Gateway API's reasons). */
export function routeHint(reason: string, route: string, ns: string): string {
  switch (reason) {
    case 'RefNotPermitted':
      return `create a ReferenceGrant in the backend's namespace allowing ${route.split('/')[0] ?? 'HTTPRoute'}s from namespace ${ns} to refer to its Service`;
    case 'BackendNotFound':
      return 'fix the backendRef: the Service must exist with that port (kubectl get svc -n <namespace>)';
    case 'InvalidKind':
      return 'backendRefs must name core Services (group "", kind Service)';
    case 'NoMatchingParent':
      return "fix the parentRef's sectionName or port to name a listener of the Gateway (weft routes gateway/NAME lists them)";
    case 'NotAllowedByListeners':
      return "the listener's allowedRoutes (namespaces, kinds) must admit this route: widen allowedRoutes.namespaces, or attach the route to another listener";
    case 'NoMatchingListenerHostname':
      return "the route's hostnames must intersect the listener's hostname";
    case 'UnsupportedValue':
      return 'remove what Weft does not support from the rule (the message names it); until then matching requests are answered 500';
    default:
      return `kubectl -n ${ns} describe ${route.split('/')[0]?.toLowerCase() ?? 'httproute'} ${route.split('/').pop() ?? ''}`;
  }
}

/** The fix for a listener condition, by reason. */
function listenerHint(reason: string): string {
  switch (reason) {
    case 'UnsupportedProtocol':
      return "Weft's gateway serves HTTP listeners for now (docs/gateway.md): change the protocol or remove the listener";
    case 'ProtocolConflict':
    case 'HostnameConflict':
      return 'give the listeners on this port distinct hostnames and one protocol, or distinct ports';
    case 'InvalidRouteKinds':
      return "allowedRoutes.kinds may name only kinds the gateway serves (HTTPRoute)";
    case 'InvalidCertificateRef':
    case 'RefNotPermitted':
      return 'fix tls.certificateRefs: a kubernetes.io/tls Secret, in another namespace only with a ReferenceGrant';
    default:
      return 'kubectl -n <namespace> describe gateway <name>';
  }
}

export function gatewayFindings(
  classes: readonly GatewayClass[],
  gateways: readonly Gateway[],
  deployments: readonly DeploymentLike[],
  routes: readonly GatewayRouteLike[],
): GatewayFindings {
  const ours = classes.filter((c) => c.spec?.controllerName === GATEWAY_CONTROLLER_NAME);
  const classFindings: Finding[] = [];
  for (const c of ours) {
    const a = find(c.status?.conditions, 'Accepted');
    if (a?.status !== 'True') {
      classFindings.push({
        problem: `GatewayClass ${c.metadata.name}: ${condText(a, 'Accepted')}`,
        hint: a === undefined ? CONTROLLER_HINT : a.reason === 'InvalidParameters' ? `remove spec.parametersRef (kubectl edit gatewayclass ${c.metadata.name})` : `kubectl describe gatewayclass ${c.metadata.name}`,
      });
    }
  }
  const classNames = new Set(ours.map((c) => c.metadata.name));
  const mine = gateways.filter((g) => classNames.has(g.spec?.gatewayClassName ?? ''));
  const gatewayFindings: Finding[] = [];
  const specFindings: Finding[] = [];
  const workloadFindings: Finding[] = [];
  const listenerFindings: Finding[] = [];
  for (const g of mine) {
    const ns = g.metadata.namespace ?? 'default';
    const what = `Gateway ${ns}/${g.metadata.name}`;
    const conds = g.status?.conditions;
    const a = find(conds, 'Accepted');
    if (a === undefined) {
      gatewayFindings.push({ problem: `${what}: no status yet`, hint: CONTROLLER_HINT });
    } else if (a.status !== 'True') {
      specFindings.push({
        problem: `${what}: ${condText(a, 'Accepted')}`,
        hint: `fix the Gateway (kubectl -n ${ns} describe gateway ${g.metadata.name}); weft routes gateway/${g.metadata.name} -n ${ns} shows its listeners`,
      });
    } else if (!isTrue(conds, 'Programmed')) {
      gatewayFindings.push({
        problem: `${what}: ${condText(find(conds, 'Programmed'), 'Programmed')}`,
        hint: `the gateway proxy is not ready or has no address yet: kubectl -n ${ns} describe deploy/${gatewayWorkloadName(g.metadata.name)}; kubectl -n ${ns} logs deploy/${gatewayWorkloadName(g.metadata.name)}`,
      });
    }
    if (isTrue(conds, 'Accepted')) {
      const name = gatewayWorkloadName(g.metadata.name);
      const d = deployments.find((x) => x.metadata?.name === name && (x.metadata?.namespace ?? '') === ns);
      if (d === undefined) {
        workloadFindings.push({ problem: `${what}: its Deployment ${ns}/${name} does not exist`, hint: CONTROLLER_HINT });
      } else if ((d.status?.availableReplicas ?? 0) < 1) {
        workloadFindings.push({
          problem: `${what}: Deployment ${ns}/${name} has no available pod (${d.status?.availableReplicas ?? 0}/${d.spec?.replicas ?? 1})`,
          hint: `kubectl -n ${ns} describe pods -l gateway.networking.k8s.io/gateway-name=${g.metadata.name}; kubectl -n ${ns} logs deploy/${name}`,
        });
      }
    }
    for (const l of g.status?.listeners ?? []) {
      const problems = l.conditions.filter((c) => (c.type === 'Conflicted' ? c.status === 'True' : c.status !== 'True'));
      for (const c of problems) {
        listenerFindings.push({ problem: `${what} listener ${l.name}: ${condText(c, c.type)}`, hint: listenerHint(c.reason ?? '') });
      }
    }
  }
  const routeFindings: Finding[] = [];
  let routesChecked = 0;
  for (const r of routes) {
    const ns = r.metadata.namespace ?? 'default';
    const name = `${r.kind}/${r.metadata.name}`;
    const entries = (r.status?.parents ?? []).filter((p) => p.controllerName === GATEWAY_CONTROLLER_NAME);
    if (entries.length > 0) routesChecked++;
    for (const e of entries) {
      const parent = `${e.parentRef.namespace ?? ns}/${e.parentRef.name}${e.parentRef.sectionName !== undefined ? ` sectionName ${e.parentRef.sectionName}` : ''}`;
      for (const type of ['Accepted', 'ResolvedRefs']) {
        const c = find(e.conditions, type);
        if (c?.status === 'True') continue;
        routeFindings.push({
          problem: `${r.kind} ${ns}/${r.metadata.name} (parent Gateway ${parent}): ${condText(c, type)}`,
          hint: c === undefined ? CONTROLLER_HINT : routeHint(c.reason ?? '', name, ns),
        });
      }
    }
  }
  return {
    classNames: [...classNames].sort(), gatewayNames: mine.map((g) => `${g.metadata.namespace ?? 'default'}/${g.metadata.name}`).sort(),
    classes: classFindings, gateways: gatewayFindings, specs: specFindings, workloads: workloadFindings, listeners: listenerFindings, routes: routeFindings, routesChecked,
  };
}
