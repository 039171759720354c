/**
 * `weft explain gateway/NAME` as a pure function: what a Gateway's proxy does with one request, with
 * the proxy's own decision (core/gateway/route.ts routeGateway) on the view the controller streams to
 * it (cli/observe/gateway.ts lookupGateway), and what each backend's server proxy decides for the
 * gateway's identity (explain.ts explainServerSide: the gateway talks mTLS to meshed backends as
 * `spiffe://<td>/ns/<ns>/sa/<gateway>-weft-gateway`).
 *
 *   request (listener port, Host, method, path, headers)
 *     -> the port's valid listeners, the one whose hostname serves the Host (none: 404, and which
 *        listeners exist on the port with their hostnames, or why a listener there is not valid)
 *     -> the rule: its route, rule, matches, filters and timeouts (none: 404, and each route on the
 *        listener with its matches, and the routes naming the Gateway that are refused, with why)
 *     -> per backend with a positive weight: the decision in that backend's weight slot (forward,
 *        redirect, 500 not-permitted for a cross-namespace backend without a ReferenceGrant, ...),
 *        then the server side of a pod behind it
 */
import type { OutboundDecision } from '../../core/outbound/route.js';
import { spiffeId } from '../../core/contract.js';
import { routeGateway, type GatewayDecision } from '../../core/gateway/route.js';
import { selectGatewayRule, selectListener } from '../../core/gateway/view.js';
import { indexInboundPolicy } from '../../core/inbound/compile.js';
import type { ClusterSnapshot } from '../../core/kube.js';
import { answerFor } from '../../core/reasons.js';
import { makeRequestInfo } from '../../core/request.js';
import {
  decisionText, describeFilter, explainOutbound, explainServerSide, forwardedRequest, serverSideLines, type BackendOutcome, type ExplainOptions,
} from './explain.js';
import { conditionsCell, describeMatch, gatewayWorkloadName, listenerRows, routeProblems, ruleLabel, type GatewayFound } from './gateway.js';

export interface GatewayRequest {
  readonly method: string;
  /** The listener port the request arrives on. */
  readonly port: number;
  /** The Host header (a port in it is allowed and ignored for listener matching, as the gateway does). */
  readonly host: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
}

export type GatewayExplanation =
  | { readonly ok: false; readonly error: string }
  | {
      readonly ok: true;
      readonly gateway: { readonly namespace: string; readonly name: string; readonly gatewayClass: string; readonly identity: string; readonly addresses: readonly string[] };
      readonly request: { readonly method: string; readonly port: number; readonly host: string; readonly path: string };
      /** The listener that serves the request; absent when none does. */
      readonly listener?: { readonly name: string; readonly port: number; readonly hostname: string };
      readonly route?: { readonly kind: string; readonly namespace: string; readonly name: string; readonly rule: string; readonly matched: string; readonly filters: readonly string[]; readonly timeouts: string };
      /** routed: a rule matched (see backends); redirect: the rule answers a redirect; not-found: 404. */
      readonly outcome: 'routed' | 'redirect' | 'not-found' | 'error';
      /** What the gateway answers itself (not-found, redirect, or an error without backends). */
      readonly answer?: { readonly status: number; readonly code?: string; readonly header?: string; readonly message: string };
      readonly backends: readonly BackendOutcome[];
      /** Why not: the listeners, routes and refusals that explain a 404. */
      readonly why: readonly string[];
    };

export interface GatewayExplainOptions extends ExplainOptions {
  /** The gateway pod's IP, for NetworkAuthentications on the backends. */
  readonly gatewayIp?: string;
}

export function explainGateway(found: GatewayFound, snapshot: ClusterSnapshot, request: GatewayRequest, options: GatewayExplainOptions = {}): GatewayExplanation {
  const parsed = makeRequestInfo({ method: request.method, target: request.path, headers: [...request.headers], authority: request.host });
  if (!parsed.ok) return { ok: false, error: `bad request: ${parsed.reason}` };
  const req = parsed.request;
  const identity = spiffeId(options.trustDomain ?? 'cluster.local', found.namespace, gatewayWorkloadName(found.name));
  const gateway = {
    namespace: found.namespace, name: found.name, gatewayClass: found.className, identity,
    addresses: (found.gateway.status?.addresses ?? []).map((a) => a.value),
  };
  const common = { ok: true as const, gateway, request: { method: req.method, port: request.port, host: req.host, path: req.path + (req.rawQuery !== '' ? `?${req.rawQuery}` : '') } };
  const notFound = (message: string, why: string[], listener?: { name: string; port: number; hostname: string }) => ({
    ...common, ...(listener !== undefined ? { listener } : {}), outcome: 'not-found' as const, backends: [], why,
    answer: { status: answerFor('ROUTE_NOT_FOUND').http, code: 'ROUTE_NOT_FOUND', header: answerFor('ROUTE_NOT_FOUND').header, message },
  });

  const portView = found.view.ports.find((p) => p.port === request.port);
  if (portView === undefined) {
    const why = listenerRows(found).filter((l) => l.port === request.port).map((l) => `listener ${l.name} (port ${l.port}, ${l.protocol}) is not served: ${conditionsCell(l.conditions)}`);
    const ports = found.view.ports.map((p) => p.port);
    why.push(ports.length === 0 ? 'the Gateway has no valid listener' : `the gateway serves port${ports.length === 1 ? '' : 's'} ${ports.join(', ')}`);
    return notFound(`Gateway ${found.namespace}/${found.name} has no valid listener on port ${request.port}`, why);
  }
  const listener = selectListener(portView, req.host, new Set(['HTTP']));
  if (listener === undefined) {
    return notFound(`no HTTP listener of Gateway ${found.namespace}/${found.name} on port ${request.port} serves host ${req.host}`,
      portView.listeners.map((l) => `listener ${l.name} serves ${l.protocol} for host ${l.hostname === '' ? '*' : l.hostname}`));
  }
  const listenerInfo = { name: listener.name, port: request.port, hostname: listener.hostname === '' ? '*' : listener.hostname };
  const sel = selectGatewayRule(listener, req);
  if (sel === undefined) {
    const why: string[] = [];
    for (const h of listener.hosts) {
      for (const r of h.routes) {
        for (const rule of r.rules) why.push(`${r.kind === 'grpc' ? 'GRPCRoute' : 'HTTPRoute'} ${r.namespace}/${r.name} rule ${ruleLabel(rule)} (host ${h.hostname === '' ? '*' : h.hostname}): ${rule.matches.map(describeMatch).join(' | ') || 'any'}`);
      }
    }
    if (why.length === 0) why.push(`no route is attached to listener ${listener.name}`);
    for (const p of routeProblems(found)) for (const line of p.problems) why.push(`${p.route}: ${line}`);
    const d = routeGateway(found.view, request.port, req, () => 0);
    return notFound(d.kind === 'error' ? d.message : 'no rule matches', why, listenerInfo);
  }
  const { route: r, rule } = sel;
  const t = [
    ...(rule.timeouts.requestMs !== undefined ? [`request ${rule.timeouts.requestMs}ms`] : []),
    ...(rule.timeouts.backendRequestMs !== undefined ? [`backendRequest ${rule.timeouts.backendRequestMs}ms`] : []),
  ];
  const routeInfo = {
    kind: r.kind === 'grpc' ? 'GRPCRoute' : 'HTTPRoute', namespace: r.namespace, name: r.name, rule: ruleLabel(rule),
    matched: describeMatch(sel.match) || 'any', filters: rule.filters.flatMap(describeFilter), timeouts: t.length === 0 ? 'none' : t.join(', '),
  };
  const grpc = req.grpc !== undefined;
  const first = explainOutbound(asOutbound(routeGateway(found.view, request.port, req, () => 0, { faultRand: () => 1 })), grpc);
  if (first.kind === 'redirect') {
    return { ...common, listener: listenerInfo, route: routeInfo, outcome: 'redirect', backends: [], why: [], answer: { status: first.status, message: `Location: ${first.location}` } };
  }
  const positive = rule.backends.filter((b) => b.weight > 0);
  if (positive.length === 0 && first.kind === 'error') {
    return {
      ...common, listener: listenerInfo, route: routeInfo, outcome: 'error', backends: [], why: [],
      answer: { status: first.status ?? answerFor(first.code).http, code: first.code, header: answerFor(first.code).header, message: first.message },
    };
  }
  const inIndex = indexInboundPolicy(snapshot, options);
  const backends: BackendOutcome[] = [];
  let offset = 0;
  for (const b of rule.backends) {
    const slot = offset;
    offset += b.weight;
    if (b.weight <= 0) continue;
    const decision = explainOutbound(asOutbound(routeGateway(found.view, request.port, req, () => (slot + 0.5) / rule.totalWeight, { faultRand: () => 1 })), grpc);
    const target = b.target.kind === 'service' ? `${b.target.namespace}/${b.target.name}:${b.target.port}` : `unresolved (${b.target.reason}: ${b.target.message})`;
    backends.push({
      share: b.weight / rule.totalWeight, weight: b.weight, target, decision,
      ...(decision.kind === 'forward' ? {
        server: explainServerSide(snapshot, inIndex, decision.backend, forwardedRequest(req, decision), { identity, tls: true, proxy: 'the gateway', ...(options.gatewayIp !== undefined ? { ip: options.gatewayIp } : {}) }),
      } : {}),
    });
  }
  return { ...common, listener: listenerInfo, route: routeInfo, outcome: 'routed', backends, why: [] };
}

/** The text `weft explain gateway/NAME` prints. */
export function renderGatewayExplanation(e: GatewayExplanation): string {
  if (!e.ok) return `error: ${e.error}\n`;
  const out: string[] = [];
  out.push(`Gateway:  ${e.gateway.namespace}/${e.gateway.name} (class ${e.gateway.gatewayClass}, identity ${e.gateway.identity})${e.gateway.addresses.length > 0 ? `, address ${e.gateway.addresses.join(', ')}` : ''}`);
  out.push(`Request:  ${e.request.method} ${e.request.path} (host ${e.request.host}) on port ${e.request.port}`);
  out.push('');
  out.push('Gateway side');
  if (e.listener !== undefined) out.push(`  listener: ${e.listener.name} (port ${e.listener.port}, hostname ${e.listener.hostname})`);
  if (e.route !== undefined) {
    out.push(`  route:    ${e.route.kind} ${e.route.namespace}/${e.route.name}, rule ${e.route.rule}`);
    out.push(`  matched:  ${e.route.matched}`);
    out.push(`  filters:  ${e.route.filters.length === 0 ? 'none' : e.route.filters.join('; ')}`);
    out.push(`  timeouts: ${e.route.timeouts}`);
  }
  if (e.answer !== undefined) {
    out.push(`  result:   ${e.outcome === 'redirect' ? 'redirected' : 'answered'} ${e.answer.status}${e.answer.header !== undefined ? ` (weft-proxy-error: ${e.answer.header})` : ''} by the gateway: ${e.answer.message}`);
  }
  for (const w of e.why) out.push(`  - ${w}`);
  for (const b of e.backends) {
    const header = b.decision.kind === 'error' ? ` (weft-proxy-error: ${answerFor(b.decision.code).header})` : '';
    out.push(`  backend ${b.target}: weight ${b.weight} (${(b.share * 100).toFixed(1)}%): ${decisionText(b.decision, 'the gateway')}${header}`);
    if (b.server !== undefined) out.push(...serverSideLines(b.server));
  }
  return `${out.join('\n')}\n`;
}

/**
 * The gateway's decision as the mesh's: routeGateway answers MISDIRECTED only on a TLS connection whose
 * SNI chose another listener, and an explained request has no connection.
 */
function asOutbound(d: GatewayDecision): OutboundDecision {
  if (d.kind === 'error' && d.code === 'MISDIRECTED') return { kind: 'error', code: 'ROUTE_NOT_FOUND', message: d.message };
  return d as OutboundDecision;
}
