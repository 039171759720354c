/**
 * `weft explain` as a pure function: ClusterSnapshot + client + request -> what the client proxy and
 * the server proxy decide, and why. It runs the proxies' own decisions (core/outbound routeOutbound,
 * core/inbound authorizeInbound) on the compiled policy of the snapshot, so an explanation cannot
 * drift from what the mesh enforces.
 *
 * Model:
 *   request URL host:port -> Service port (by DNS name or ClusterIP)
 *     -> OutboundPolicy(client namespace, Service port) -> route, rule, filters, weighted backends
 *     -> per backend with a positive weight: routeOutbound (the backend chosen by its weight slot),
 *        then a pod behind that backend (EndpointSlices, else the selector) and its target port
 *     -> InboundPortPolicy(pod, port) -> authorizeInbound(client identity, client IP, request as
 *        forwarded: rewritten path, added/removed headers)
 *   A denial lists each AuthorizationPolicy that applies to the request and which of its required
 *   authentications this client fails, or says that none applies.
 *
 * Statuses come from core/reasons.ts, the table the proxies answer through, keyed by the decision's reason.
 *
 * Assumptions (stated in the output): mTLS carries the client's ServiceAccount identity only when both
 * pods are meshed; a client given by --service-account counts as meshed.
 */
import { networkSetContains, parseIp } from '../../core/cidr.js';
import { MESHED_LABEL, MESHED_LABEL_VALUE, spiffeId } from '../../core/contract.js';
import { identityMatches } from '../../core/identity-match.js';
import { authorizeInbound, type InboundDecision } from '../../core/inbound/authorize.js';
import { describeLimits } from '../../core/inbound/limits.js';
import { inboundRuleEffect, type InboundRuleEffect } from '../../core/inbound/filters.js';
import { compileInboundPort, indexInboundPolicy, type InboundCompileOptions } from '../../core/inbound/compile.js';
import type { CompiledAuthentication, CompiledAuthorization, InboundPortPolicy } from '../../core/inbound/types.js';
import { matchLabelSelector } from '../../core/inbound/label-selector.js';
import type { ClusterSnapshot, Pod, Service } from '../../core/kube.js';
import { SERVICE_NAME_LABEL } from '../../core/kube.js';
import { indexSnapshot, outboundView, type OutboundOptions, type OutboundPolicy } from '../../core/outbound/policy.js';
import { routeOutbound, type ErrorDecision, type OutboundDecision } from '../../core/outbound/route.js';
import { answerFor, type Reason } from '../../core/reasons.js';
import { makeRequestInfo, type RequestInfo } from '../../core/request.js';
import { applyHeaderOps } from '../../core/routes/filters.js';
import { corsFilterOf } from '../../core/routes/cors.js';
import { selectInTable } from '../../core/routes/match.js';
import type { CompiledFilter, HeaderOps, ServiceTarget } from '../../core/routes/types.js';

export interface ExplainClient {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** The client pod, when given: its IP and whether it is meshed. */
  readonly pod?: Pod;
  /** Overrides the pod's IP (or gives one when there is no pod). */
  readonly ip?: string;
}

export interface ExplainRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: readonly (readonly [string, string])[];
}

export interface ExplainOptions extends InboundCompileOptions, OutboundOptions {}

/**
 * What the proxy answers for a decision that names a reason, read from core/reasons.ts's ERROR_TABLE:
 * the HTTP status and the grpc-status. Core's decisions carry no status; `weft explain` shows (and its
 * JSON output keeps, as `status`/`grpcStatus`) the ones the proxies send.
 */
export interface AnswerStatus {
  readonly status?: number;
  readonly grpcStatus?: number;
}

/** An inbound decision with, on a denial, the status and grpc-status the server proxy answers. */
export type ExplainedInboundDecision = InboundDecision & AnswerStatus;

/** An outbound decision; an error carries the status the client proxy answers (grpcStatus for a gRPC call). */
export type ExplainedOutboundDecision = Exclude<OutboundDecision, ErrorDecision> | (ErrorDecision & AnswerStatus);

export interface ServerSide {
  readonly backend: ServiceTarget;
  readonly pod?: string;
  readonly podCount: number;
  readonly port?: number;
  readonly meshed: boolean;
  readonly decision?: ExplainedInboundDecision;
  /** What the selected Server route rule does to an allowed request (its filters, a redirect). */
  readonly effect?: readonly string[];
  /** Why each applicable AuthorizationPolicy did not allow (on a denial). */
  readonly candidates: readonly string[];
  /** The InboundLimitPolicies an allowed request is counted against (the Server's, then the route's). */
  readonly limits?: readonly string[];
  readonly note?: string;
}

export interface BackendOutcome {
  readonly share: number;
  readonly weight: number;
  readonly target: string;
  readonly decision: ExplainedOutboundDecision;
  readonly server?: ServerSide;
}

export type Explanation =
  | { readonly ok: false; readonly error: string }
  | {
      readonly ok: true;
      readonly client: { readonly namespace: string; readonly serviceAccount: string; readonly identity?: string; readonly ip?: string; readonly meshed: boolean };
      readonly request: { readonly method: string; readonly path: string; readonly authority: string };
      readonly service: { readonly namespace: string; readonly name: string; readonly port: number };
      readonly route?: { readonly kind: string; readonly namespace: string; readonly name: string; readonly rule: number; readonly ruleName?: string; readonly filters: readonly string[]; readonly timeouts: string };
      readonly outcome: 'passthrough' | 'routed' | 'no-route' | 'unsupported';
      /** Whether the request is a gRPC call (the proxies then answer with a grpc-status). */
      readonly grpc: boolean;
      readonly message?: string;
      readonly backends: readonly BackendOutcome[];
    };

const isMeshed = (pod: Pod | undefined) => pod?.metadata.labels?.[MESHED_LABEL] === MESHED_LABEL_VALUE;

/** The proxies' answer for `code` (the ERROR_TABLE row); grpc-status only when `grpc`. */
function answerStatus(code: Reason, grpc: boolean): Required<Pick<AnswerStatus, 'status'>> & AnswerStatus {
  const a = answerFor(code);
  return grpc ? { status: a.http, grpcStatus: a.grpc } : { status: a.http };
}

/** An inbound decision with its answer: a denial gets the status and grpc-status the server proxy answers with. */
export function explainInbound(d: InboundDecision): ExplainedInboundDecision {
  return d.code === undefined ? d : { ...d, ...answerStatus(d.code, true) };
}

/** An outbound decision with its answer: an error gets the status (and, for gRPC, grpc-status) the client proxy answers with. */
export function explainOutbound(d: OutboundDecision, grpc: boolean): ExplainedOutboundDecision {
  return d.kind === 'error' ? { ...d, ...answerStatus(d.code, grpc) } : d;
}

/** `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<domain>`, or a ClusterIP -> Service. */
export function findService(snapshot: ClusterSnapshot, host: string, clientNs: string): Service | undefined {
  const h = host.replace(/^\[|\]$/g, '');
  const byIp = snapshot.services.find((s) => s.spec?.clusterIP === h || (s.spec?.clusterIPs ?? []).includes(h));
  if (byIp !== undefined) return byIp;
  const parts = h.split('.');
  const name = parts[0];
  const ns = parts.length >= 2 ? parts[1] : clientNs;
  if (parts.length > 2 && parts[2] !== 'svc') return undefined;
  return snapshot.services.find((s) => s.metadata.name === name && (s.metadata.namespace ?? '') === ns);
}

function describeOps(prefix: string, ops: HeaderOps): string[] {
  return [
    ...ops.set.map(([n, v]) => `${prefix} set ${n}: ${v}`),
    ...ops.add.map(([n, v]) => `${prefix} add ${n}: ${v}`),
    ...ops.remove.map((n) => `${prefix} remove ${n}`),
  ];
}

export function describeFilter(f: CompiledFilter): string[] {
  switch (f.kind) {
    case 'requestHeaders':
      return describeOps('RequestHeaderModifier:', f.ops);
    case 'responseHeaders':
      return describeOps('ResponseHeaderModifier:', f.ops);
    case 'redirect':
      return [`RequestRedirect: ${f.statusCode}${f.scheme !== undefined ? ` scheme ${f.scheme}` : ''}${f.hostname !== undefined ? ` host ${f.hostname}` : ''}${f.port !== undefined ? ` port ${f.port}` : ''}${f.path !== undefined ? ` path ${f.path.kind === 'full' ? '' : 'prefix '}${f.path.value}` : ''}`];
    case 'rewrite':
      return [`URLRewrite:${f.hostname !== undefined ? ` host ${f.hostname}` : ''}${f.path !== undefined ? ` path ${f.path.kind === 'full' ? '' : 'prefix '}${f.path.value}` : ''}`];
    case 'mirror':
      return [`RequestMirror: ${f.target.kind === 'service' ? `${f.target.namespace}/${f.target.name}:${f.target.port}` : `unresolved (${f.target.reason})`} ${f.numerator}/${f.denominator}`];
    case 'cors':
      return [`CORS: origins ${corsFilterOf(f.cors).allowOrigins.join(', ') || '(none)'}${f.cors.credentials ? ', credentials' : ''}; preflights answered by the proxy`];
    case 'fault':
      return [`FaultInjection ${f.fault.ref}:${f.fault.abort !== undefined ? ` abort ${f.fault.abort.status} for ${f.fault.abort.percentage}%` : ''}${f.fault.delay !== undefined ? ` delay ${f.fault.delay.ms}ms for ${f.fault.delay.percentage}%` : ''}`];
    case 'unsupported':
      return [`${f.type}: not supported by Weft (the rule answers ${answerFor('UNSUPPORTED').http})`];
  }
}

function serviceTargetText(t: ServiceTarget): string {
  return `${t.namespace}/${t.name}:${t.port}`;
}

/** Pods behind a Service: its EndpointSlices' pod targets (ready first), else its selector. */
export function podsBehind(snapshot: ClusterSnapshot, ns: string, name: string): Pod[] {
  const byName = new Map(snapshot.pods.filter((p) => (p.metadata.namespace ?? '') === ns).map((p) => [p.metadata.name, p]));
  const ready: Pod[] = [];
  const other: Pod[] = [];
  for (const slice of snapshot.endpointSlices) {
    if ((slice.metadata.namespace ?? '') !== ns || slice.metadata.labels?.[SERVICE_NAME_LABEL] !== name) continue;
    for (const ep of slice.endpoints ?? []) {
      const pod = ep.targetRef?.kind === 'Pod' && ep.targetRef.name !== undefined ? byName.get(ep.targetRef.name) : undefined;
      if (pod === undefined || ready.includes(pod) || other.includes(pod)) continue;
      (ep.conditions?.ready === false ? other : ready).push(pod);
    }
  }
  if (ready.length + other.length > 0) return [...ready, ...other];
  const svc = snapshot.services.find((s) => s.metadata.name === name && (s.metadata.namespace ?? '') === ns);
  const selector = svc?.spec?.selector;
  if (selector === undefined || Object.keys(selector).length === 0) return [];
  return [...byName.values()]
    .filter((p) => matchLabelSelector({ matchLabels: selector }, p.metadata.labels).kind === 'match')
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

/** The pod port a Service port sends to (targetPort number, or the pod's container port of that name). */
export function targetPortOf(svc: Service | undefined, port: number, pod: Pod): number | undefined {
  const sp = svc?.spec?.ports?.find((p) => p.port === port);
  if (sp === undefined) return undefined;
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  for (const c of [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]) {
    const cp = c.ports?.find((p) => p.name === tp);
    if (cp !== undefined) return cp.containerPort;
  }
  return undefined;
}

function authnFails(a: CompiledAuthentication, identity: string | undefined, ip: string | undefined): string | undefined {
  const what = `${a.kind} ${a.namespace}/${a.name}`;
  switch (a.kind) {
    case 'MeshTLSAuthentication':
      if (identity === undefined) return `${what} needs an mTLS identity; this client has none`;
      return identityMatches(a.identities, identity) ? undefined : `${what}: ${identity} is not one of its identities`;
    case 'NetworkAuthentication': {
      const parsed = ip === undefined ? undefined : parseIp(ip);
      if (parsed === undefined) return `${what}: the client IP is unknown (give --client-ip)`;
      return networkSetContains(a.networks, parsed) ? undefined : `${what}: ${ip ?? ''} is in none of its networks`;
    }
    case 'ServiceAccount':
      return identity === a.identity ? undefined : `${what}: needs identity ${a.identity}, the client is ${identity ?? 'unauthenticated'}`;
  }
}

/** For a denial: each applicable AuthorizationPolicy and what this client lacks; or their absence. */
function denialCandidates(policy: InboundPortPolicy, decision: InboundDecision, identity: string | undefined, ip: string | undefined): string[] {
  if (decision.allowed || decision.code !== 'FORBIDDEN') return [];
  const route = decision.selection !== undefined ? policy.routePolicies.get(decision.selection.route) : undefined;
  const applicable: CompiledAuthorization[] = [...policy.authorizations, ...(route?.authorizations ?? [])];
  if (applicable.length === 0) {
    const targets = [
      ...(policy.server !== undefined ? [`Server ${policy.server.name}`] : []),
      ...(route !== undefined ? [`${route.kind} ${route.name}`] : []),
      `Namespace ${policy.pod.namespace}`,
    ];
    return [`no AuthorizationPolicy targets ${targets.join(', ')}: none can allow this request`];
  }
  return applicable.map((a) => {
    const head = `AuthorizationPolicy ${a.namespace}/${a.name} (targets ${a.target.kind} ${a.target.name})`;
    if (a.invalid !== undefined) return `${head} cannot be enforced: ${a.invalid}`;
    const fails = a.authentications.map((x) => authnFails(x, identity, ip)).filter((x): x is string => x !== undefined);
    return fails.length === 0 ? `${head} would allow this client` : `${head} would allow it, but ${fails.join('; ')}`;
  });
}

/** The server-side effect of an allowed request's Server route rule, as lines; empty: the rule has no filters. */
/**
 * The inbound limits an allowed request is counted against, in words. The limits' state lives in each
 * proxy, so explain says what applies, not whether this request would find a token or a free slot.
 */
function limitsText(policy: InboundPortPolicy, decision: InboundDecision): string[] {
  const route = decision.selection === undefined ? undefined : policy.routePolicies.get(decision.selection.route)?.limits;
  return [policy.limits, route].filter((l) => l !== undefined).map((l) =>
    `InboundLimitPolicy ${l.namespace}/${l.name} on ${l.target.kind} ${l.target.name}: ${describeLimits(l)} per proxy (over it: ${
      [l.rate !== undefined ? `${answerFor('RATE_LIMITED').http} with Retry-After` : '', l.concurrency !== undefined ? `${answerFor('CONCURRENCY_LIMITED').http}` : ''].filter((x) => x !== '').join(', ')})`);
}

function inboundEffectText(effect: InboundRuleEffect, filters: readonly CompiledFilter[]): string[] {
  const listed = filters.flatMap(describeFilter);
  if (effect.kind === 'redirect') return [...listed, `the server proxy answers ${effect.status} Location: ${effect.location}`];
  if (effect.kind === 'unsupported') return [effect.message];
  return listed;
}

export function forwardedRequest(req: RequestInfo, d: OutboundDecision): RequestInfo {
  if (d.kind !== 'forward') return req;
  const headers = applyHeaderOps(new Map([...req.headers].map(([k, v]) => [k, [...v]])), d.requestHeaderOps);
  return { ...req, path: d.path, headers };
}

/** Who the server proxy sees: the client's mTLS identity (when meshed), its IP, and whether the connection is mTLS. */
export interface ServerSideClient {
  readonly identity?: string;
  readonly ip?: string;
  readonly tls: boolean;
  /** Who answers when no pod is behind the backend (default: the client proxy). */
  readonly proxy?: string;
}

/**
 * The server side of a forwarded request: the first ready pod behind `backend`, its target port, and
 * what its inbound proxy decides (core authorizeInbound) for this client; `weft explain` runs it for
 * each backend of the mesh's client side and of a gateway.
 */
export function explainServerSide(snapshot: ClusterSnapshot, inIndex: ReturnType<typeof indexInboundPolicy>, backend: ServiceTarget, fwd: RequestInfo, client: ServerSideClient): ServerSide {
  const { identity, ip } = client;
  const pods = podsBehind(snapshot, backend.namespace, backend.name);
  const pod = pods[0];
  if (pod === undefined) return { backend, podCount: 0, meshed: false, candidates: [], note: `Service ${backend.namespace}/${backend.name} has no pods: ${client.proxy ?? 'the client proxy'} answers ${answerFor('NO_ENDPOINTS').http}` };
  const backendSvc = snapshot.services.find((s) => s.metadata.name === backend.name && (s.metadata.namespace ?? '') === backend.namespace);
  const targetPort = targetPortOf(backendSvc, backend.port, pod);
  const base = { backend, pod: pod.metadata.name, podCount: pods.length, meshed: isMeshed(pod) };
  if (targetPort === undefined) return { ...base, candidates: [], note: `the target port of ${serviceTargetText(backend)} does not resolve on pod ${pod.metadata.name}` };
  if (!base.meshed) return { ...base, port: targetPort, candidates: [], note: `pod ${pod.metadata.name} is not meshed: no inbound policy is enforced` };
  const portPolicy = compileInboundPort(inIndex, pod, targetPort);
  const tls = client.tls;
  const decision = explainInbound(authorizeInbound(portPolicy, { ...(identity !== undefined ? { clientIdentity: identity } : {}), tls, clientIp: ip ?? '', req: fwd }));
  const effect = decision.allowed && decision.selection !== undefined ? inboundEffectText(inboundRuleEffect(decision.selection, fwd, targetPort), decision.selection.rule.filters) : undefined;
  const limits = decision.allowed ? limitsText(portPolicy, decision) : [];
  return {
    ...base, port: targetPort, decision, ...(effect !== undefined ? { effect } : {}), candidates: denialCandidates(portPolicy, decision, tls ? identity : undefined, ip),
    ...(limits.length > 0 ? { limits } : {}),
  };
}

export function explain(snapshot: ClusterSnapshot, client: ExplainClient, request: ExplainRequest, options: ExplainOptions = {}): Explanation {
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    return { ok: false, error: `${JSON.stringify(request.url)} is not an absolute URL (http://<service>.<namespace>.svc.cluster.local:<port>/path)` };
  }
  const port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  const parsed = makeRequestInfo({
    method: request.method,
    target: `${url.pathname}${url.search}`,
    headers: [...request.headers],
    authority: url.host,
  });
  if (!parsed.ok) return { ok: false, error: `bad request: ${parsed.reason}` };
  const req = parsed.request;
  const svc = findService(snapshot, url.hostname, client.namespace);
  if (svc === undefined) return { ok: false, error: `no Service answers to ${url.hostname} (from namespace ${client.namespace})` };
  const svcNs = svc.metadata.namespace ?? '';
  const svcName = svc.metadata.name;
  const outIndex = indexSnapshot(snapshot, options);
  const policy: OutboundPolicy | undefined = outboundView(outIndex, client.namespace, svcNs, svcName, port);
  if (policy === undefined) return { ok: false, error: `Service ${svcNs}/${svcName} has no port ${port}` };

  const clientMeshed = client.pod === undefined ? true : isMeshed(client.pod);
  const identity = clientMeshed ? spiffeId(options.trustDomain ?? 'cluster.local', client.namespace, client.serviceAccount) : undefined;
  const ip = client.ip ?? client.pod?.status?.podIP;
  const inIndex = indexInboundPolicy(snapshot, options);

  const serverSide = (backend: ServiceTarget, fwd: RequestInfo): ServerSide => explainServerSide(snapshot, inIndex, backend, fwd, { ...(identity !== undefined ? { identity } : {}), ...(ip !== undefined ? { ip } : {}), tls: clientMeshed });

  const clientInfo = {
    namespace: client.namespace,
    serviceAccount: client.serviceAccount,
    ...(identity !== undefined ? { identity } : {}),
    ...(ip !== undefined ? { ip } : {}),
    meshed: clientMeshed,
  };
  const common = { ok: true as const, client: clientInfo, request: { method: req.method, path: req.path, authority: req.authority }, service: { namespace: svcNs, name: svcName, port }, grpc: req.grpc !== undefined };

  if (policy.routes === 'none') {
    const target: ServiceTarget = { kind: 'service', namespace: svcNs, name: svcName, port };
    return { ...common, outcome: 'passthrough', message: 'no route is attached to this Service port: the request goes to the Service as without a mesh', backends: [{ share: 1, weight: 1, target: serviceTargetText(target), decision: { kind: 'passthrough' }, server: serverSide(target, req) }] };
  }
  const sel = selectInTable(policy.table, req);
  if (sel === undefined) {
    const d = routeOutbound(policy, req, () => 0);
    return { ...common, outcome: 'no-route', message: d.kind === 'error' ? `${answerFor(d.code).http}: ${d.message}` : 'no rule matches', backends: [] };
  }
  const { route: r, rule } = sel;
  const timeouts = [
    ...(rule.timeouts.requestMs !== undefined ? [`request ${rule.timeouts.requestMs}ms`] : []),
    ...(rule.timeouts.backendRequestMs !== undefined ? [`backendRequest ${rule.timeouts.backendRequestMs}ms`] : []),
  ].join(', ');
  const routeInfo = {
    kind: r.kind === 'grpc' ? 'GRPCRoute' : 'HTTPRoute',
    namespace: r.namespace,
    name: r.name,
    rule: rule.index,
    ...(rule.name !== undefined ? { ruleName: rule.name } : {}),
    filters: rule.filters.flatMap(describeFilter),
    timeouts: timeouts === '' ? 'none' : timeouts,
  };
  const backends: BackendOutcome[] = [];
  let offset = 0;
  for (const b of rule.backends) {
    const slot = offset;
    offset += b.weight;
    if (b.weight <= 0) continue;
    // The weighted pick with the random draw that lands in this backend's slot.
    const decision = explainOutbound(routeOutbound(policy, req, () => (slot + 0.5) / rule.totalWeight, { faultRand: () => 1 }), req.grpc !== undefined);
    const target = b.target.kind === 'service' ? serviceTargetText(b.target) : `unresolved (${b.target.reason}: ${b.target.message})`;
    backends.push({
      share: b.weight / rule.totalWeight,
      weight: b.weight,
      target,
      decision,
      ...(decision.kind === 'forward' ? { server: serverSide(decision.backend, forwardedRequest(req, decision)) } : {}),
    });
  }
  const unsupported = rule.unsupported !== undefined || rule.filters.some((f) => f.kind === 'unsupported');
  return { ...common, route: routeInfo, outcome: unsupported ? 'unsupported' : 'routed', backends };
}

export function decisionText(d: ExplainedOutboundDecision, who = 'the client proxy'): string {
  switch (d.kind) {
    case 'passthrough':
      return 'forwarded to the Service';
    case 'forward':
      return `forwarded to ${serviceTargetText(d.backend)} as ${d.path}${d.hostRewritten ? ` (host ${d.authority})` : ''}${d.mirrors.length > 0 ? `, mirrored to ${d.mirrors.map((m) => serviceTargetText(m.target)).join(', ')}` : ''}`;
    case 'redirect':
      return `redirected: ${d.status} Location: ${d.location}`;
    case 'preflight':
      return `answered ${d.status} by the client proxy: a CORS preflight, answered by the route's CORS filter`;
    case 'abort':
      return `answered ${d.status} by ${who}: FaultInjection ${d.fault} aborted it`;
    case 'error':
      return `answered ${d.status ?? ''}${d.grpcStatus !== undefined ? ` (grpc-status ${d.grpcStatus})` : ''} by ${who}: ${d.message}`;
  }
}

/** The lines of a server-side explanation (indented under its backend). */
export function serverSideLines(s: ServerSide): string[] {
  const out: string[] = [];
  out.push(`    Server side (inbound)${s.pod !== undefined ? `: pod ${s.backend.namespace}/${s.pod}${s.podCount > 1 ? ` (1 of ${s.podCount})` : ''}${s.port !== undefined ? ` port ${s.port}` : ''}` : ''}`);
  if (s.note !== undefined) out.push(`      ${s.note}`);
  const d = s.decision;
  if (d === undefined) return out;
  out.push(`      server:        ${d.server ?? `none (default policy)`}`);
  out.push(`      route:         ${d.route ?? 'none'}`);
  out.push(`      authorization: ${d.authorization === undefined ? 'none' : `${d.authorization.kind === 'AuthorizationPolicy' ? 'AuthorizationPolicy ' : ''}${d.authorization.name}${d.authorization.kind === 'default' ? ' (default policy)' : d.authorization.kind === 'accessPolicy' ? ' (accessPolicy)' : ''}`}`);
  out.push(`      decision:      ${d.allowed ? (d.audit === true ? 'ALLOWED (audit)' : 'ALLOWED') : `DENIED (${d.status ?? ''}${d.grpcStatus !== undefined ? `, grpc-status ${d.grpcStatus}` : ''})`}`);
  out.push(`      reason:        ${d.reason}`);
  if (s.limits !== undefined) for (const l of s.limits) out.push(`      limit:         ${l}`);
  if (s.effect !== undefined && s.effect.length > 0) out.push(`      filters:       ${s.effect.join('; ')}`);
  for (const c of s.candidates) out.push(`      - ${c}`);
  return out;
}

/** The text `weft explain` prints. */
export function renderExplanation(e: Explanation): string {
  if (!e.ok) return `error: ${e.error}\n`;
  const out: string[] = [];
  out.push(`Client:   ${e.client.namespace}/sa/${e.client.serviceAccount}${e.client.meshed ? ` (meshed, identity ${e.client.identity ?? ''})` : ' (not meshed: no mTLS identity)'}${e.client.ip !== undefined ? `, IP ${e.client.ip}` : ''}`);
  out.push(`Request:  ${e.request.method} ${e.request.path} (authority ${e.request.authority})`);
  out.push(`Service:  ${e.service.namespace}/${e.service.name}:${e.service.port}`);
  out.push('');
  out.push('Client side (outbound)');
  if (e.route !== undefined) {
    out.push(`  route:    ${e.route.kind} ${e.route.namespace}/${e.route.name}, rule ${e.route.rule}${e.route.ruleName !== undefined ? ` (${e.route.ruleName})` : ''}`);
    out.push(`  filters:  ${e.route.filters.length === 0 ? 'none' : e.route.filters.join('; ')}`);
    out.push(`  timeouts: ${e.route.timeouts}`);
  }
  if (e.message !== undefined) out.push(`  ${e.outcome === 'no-route' ? 'result:   ' : ''}${e.message}`);
  if (e.backends.length === 0 && e.outcome === 'routed') out.push(`  backends: none with a positive weight: the client proxy answers ${answerFor('BACKEND_UNRESOLVED').http}`);
  for (const b of e.backends) {
    out.push(`  backend ${b.target}: weight ${b.weight} (${(b.share * 100).toFixed(1)}%): ${decisionText(b.decision)}`);
    const s = b.server;
    if (s === undefined) continue;
    out.push(...serverSideLines(s));
  }
  return `${out.join('\n')}\n`;
}
