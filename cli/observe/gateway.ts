/**
 * Gateways in `weft stat|routes|explain`, as pure functions of listed objects: which Gateway a
 * `gateway/NAME` argument names and whether Weft serves it, what its proxy serves (the controller's
 * own decision, core/gateway/status.ts, narrowed by core/gateway/served.ts exactly as the controller
 * narrows it), and the tables.
 *
 *   GatewayWorld (listed) + namespace/name
 *     -> lookupGateway: the Gateway, its class (Weft's and Accepted, else an error naming why), the
 *        decision's statuses and the view `weft gateway` receives (listeners, attached routes)
 *     -> gatewayRouteRows: per listener, route, rule and backend of the view, joined with the gateway
 *        pods' outbound figures (service_* labels name the Gateway and the listener port); figures of
 *        series no row names (404s with no route: `[no route]`) come last
 *     -> renderGatewayRoutes / renderGatewayStat / renderGatewayList
 *
 * What the controller observed (addresses, Programmed, the proxy's readiness) is only in the Gateway's
 * written status: the listener and Gateway conditions shown are the written ones; the routes and rules
 * are the decision's, so they show what the gateway serves even before the controller writes.
 */
import { GATEWAY_CONTROLLER_NAME } from '../../core/contract.js';
import type { GatewayRuntime } from '../../core/gateway/evaluate.js';
import { GATEWAY_NAME_LABEL, gatewayWorkloadName } from '../../core/gateway/render.js';
import { GATEWAY_SERVED_PROTOCOLS, GATEWAY_SERVED_ROUTE_KINDS } from '../../core/gateway/served.js';
import { computeGatewayStatuses, type GatewayStatuses, type GatewayWorld } from '../../core/gateway/status.js';
import type { Gateway, GatewayClass, GatewayStatusJson, ListenerStatusJson } from '../../core/gateway/types.js';
import type { GatewayView, ListenerView } from '../../core/gateway/view.js';
import type { Condition, Pod } from '../../core/kube.js';
import type { RouteParentStatus } from '../../core/outbound/policy.js';
import type { BackendTarget, CompiledMatch, CompiledRoute, CompiledRule, StringMatcher } from '../../core/routes/types.js';
import { describeFilter } from './explain.js';
import { LABEL, QUANTILES, rps, successRate, type Figures, type Group } from './figures.js';
import { formatLatency, formatPercent, formatRps, renderTable, round } from './table.js';
import type { OutputFormat, Rendered } from './views.js';

export { GATEWAY_NAME_LABEL, gatewayWorkloadName };

/** What the gateway decision reads, as listed from the API server. */
export type GatewayObjects = GatewayWorld;

export interface GatewayFound {
  readonly ok: true;
  readonly gateway: Gateway;
  readonly namespace: string;
  readonly name: string;
  readonly className: string;
  readonly statuses: GatewayStatuses;
  /** What the gateway's proxy serves: the view the controller streams to it. */
  readonly view: GatewayView;
  /** The decision's status of this Gateway (listeners' attachedRoutes, conditions). */
  readonly computed: GatewayStatusJson;
}

export type GatewayLookup = GatewayFound | { readonly ok: false; readonly error: string };

const key = (ns: string, name: string) => `${ns}/${name}`;

/** The runtime the decision needs for Programmed: taken from the written status (only the controller observes the proxy). */
function runtimeFrom(gateways: readonly Gateway[]): (ns: string, name: string) => GatewayRuntime {
  return (ns, name) => {
    const gw = gateways.find((g) => (g.metadata.namespace ?? 'default') === ns && g.metadata.name === name);
    const address = gw?.status?.addresses?.[0]?.value;
    const programmed = gw?.status?.conditions?.find((c) => c.type === 'Programmed')?.status === 'True';
    return { ready: programmed, ...(address !== undefined ? { address } : {}) };
  };
}

/** The controller's decision over the listed objects, narrowed to what `weft gateway` serves. */
export function gatewayDecision(world: GatewayObjects): GatewayStatuses {
  return computeGatewayStatuses(world, {
    controllerName: GATEWAY_CONTROLLER_NAME, secrets: [], checkKeyPair: () => undefined,
    protocols: GATEWAY_SERVED_PROTOCOLS, routeKinds: GATEWAY_SERVED_ROUTE_KINDS, runtime: runtimeFrom(world.gateways),
  });
}

const condText = (c: Condition) => `${c.type}=${c.status} ${c.reason ?? ''}${c.message !== undefined && c.message !== '' ? `: ${c.message}` : ''}`;

/** Why a GatewayClass does not make its Gateways Weft's, or undefined when it does. */
export function classProblem(gc: GatewayClass | undefined, className: string): string | undefined {
  if (gc === undefined) return `its GatewayClass ${className} does not exist`;
  if (gc.spec?.controllerName !== GATEWAY_CONTROLLER_NAME) {
    return `its GatewayClass ${className} is controlled by ${gc.spec?.controllerName ?? '(none)'}, not ${GATEWAY_CONTROLLER_NAME}: Weft does not serve it`;
  }
  return undefined;
}

/** The Gateway `namespace/name`, when Weft serves it; else why not (not found, another controller's class, class not accepted). */
export function lookupGateway(world: GatewayObjects, namespace: string, name: string, decision: GatewayStatuses = gatewayDecision(world)): GatewayLookup {
  const gw = world.gateways.find((g) => (g.metadata.namespace ?? 'default') === namespace && g.metadata.name === name);
  if (gw === undefined) return { ok: false, error: `Gateway ${namespace}/${name} not found (kubectl get gateways -n ${namespace})` };
  const className = gw.spec?.gatewayClassName ?? '';
  const gc = world.gatewayClasses.find((c) => c.metadata.name === className);
  const problem = classProblem(gc, className);
  if (problem !== undefined) return { ok: false, error: `Gateway ${namespace}/${name} is not Weft's: ${problem}` };
  const computed = decision.gateways.get(key(namespace, name));
  const view = decision.views.get(key(namespace, name));
  if (computed === undefined || view === undefined) {
    const accepted = (decision.classes.get(className) ?? []).find((c) => c.type === 'Accepted');
    return { ok: false, error: `Gateway ${namespace}/${name}: its GatewayClass ${className} is not accepted${accepted !== undefined ? ` (${condText(accepted)})` : ''}` };
  }
  return { ok: true, gateway: gw, namespace, name, className, statuses: decision, view, computed };
}

/** The Gateways Weft serves (an accepted Weft class), in `namespace` or everywhere, sorted by namespace and name. */
export function weftGateways(world: GatewayObjects, namespace: string | undefined, decision: GatewayStatuses = gatewayDecision(world)): Gateway[] {
  return world.gateways
    .filter((g) => (namespace === undefined || (g.metadata.namespace ?? 'default') === namespace) && decision.views.has(key(g.metadata.namespace ?? 'default', g.metadata.name)))
    .sort((a, b) => key(a.metadata.namespace ?? '', a.metadata.name).localeCompare(key(b.metadata.namespace ?? '', b.metadata.name)));
}

/** The pods of a Gateway's proxy (the Deployment's selector label), and how many are ready. */
export function gatewayPods(pods: readonly Pod[], namespace: string, name: string): { readonly pods: readonly Pod[]; readonly ready: readonly Pod[] } {
  const mine = pods.filter((p) => (p.metadata.namespace ?? '') === namespace && p.metadata.labels?.[GATEWAY_NAME_LABEL] === name
    && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const ready = mine.filter((p) => p.status?.phase === 'Running' && p.metadata.deletionTimestamp === undefined
    && (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
  return { pods: mine, ready };
}

// --- describing rules -----------------------------------------------------------------------------------

function stringMatch(m: StringMatcher): string {
  return m.kind === 'exact' ? m.value : `~${m.regex.source}`;
}

/** One match in the Gateway API's words: `PathPrefix /api`, `Exact /x GET header x-env=canary`. */
export function describeMatch(m: CompiledMatch): string {
  const parts: string[] = [];
  if (m.path !== undefined) {
    parts.push(m.path.kind === 'exact' ? `Exact ${m.path.value}` : m.path.kind === 'prefix' ? `PathPrefix ${m.path.value}` : `RegularExpression ${m.path.regex.source}`);
  }
  if (m.grpc !== undefined) parts.push(`gRPC ${m.grpc.service !== undefined ? stringMatch(m.grpc.service) : '*'}/${m.grpc.method !== undefined ? stringMatch(m.grpc.method) : '*'}`);
  if (m.method !== undefined) parts.push(m.method);
  for (const h of m.headers) parts.push(`header ${h.name}=${stringMatch(h.matcher)}`);
  for (const q of m.query) parts.push(`query ${q.name}=${stringMatch(q.matcher)}`);
  return parts.join(' ');
}

export const ruleLabel = (rule: CompiledRule) => rule.name ?? String(rule.index);
/** A route's kind from its series' `route_kind` (`http`, `grpc`, `tls`) or its object kind. */
const routeKindOf = (kind: string): 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute' =>
  kind === 'grpc' || kind === 'GRPCRoute' ? 'GRPCRoute' : kind === 'tls' || kind === 'TLSRoute' ? 'TLSRoute' : 'HTTPRoute';
const routeText = (r: { readonly kind: string; readonly namespace: string; readonly name: string }, ns: string) =>
  `${routeKindOf(r.kind).toLowerCase()}/${r.namespace !== ns ? `${r.namespace}/` : ''}${r.name}`;
/** The TLS passthrough rule label: a TLSRoute's connections are counted on rule 0 (proxy/policy/hook.ts). */
const TLS_RULE = '0';

// --- the routes table -------------------------------------------------------------------------------------

/** The figures' key of a gateway series: listener port, route, rule, backend. */
export interface GatewaySeriesKey {
  readonly port: string;
  readonly routeKind: string;
  readonly routeNamespace: string;
  readonly routeName: string;
  readonly rule: string;
  readonly backendNamespace: string;
  readonly backendName: string;
  readonly backendPort: string;
}

/** Keys the gateway pods' outbound series of this Gateway (others, if any, are left out). */
export function gatewaySeriesKeyOf(gateway: { readonly namespace: string; readonly name: string }) {
  return (l: Readonly<Record<string, string>>): GatewaySeriesKey | undefined => {
    if (l[LABEL.serviceNamespace] !== gateway.namespace || l[LABEL.serviceName] !== gateway.name) return undefined;
    return {
      port: l[LABEL.servicePort] ?? '',
      routeKind: l[LABEL.routeKind] ?? '',
      routeNamespace: l[LABEL.routeNamespace] ?? '',
      routeName: l[LABEL.routeName] ?? '',
      rule: l[LABEL.routeRule] ?? '',
      backendNamespace: l[LABEL.backendNamespace] ?? '',
      backendName: l[LABEL.backendName] ?? '',
      backendPort: l[LABEL.backendPort] ?? '',
    };
  };
}

export interface GatewayRouteRow {
  readonly listener: string;
  readonly port: number;
  /** The route's hostnames on this listener ('*' for any). */
  readonly hostnames: readonly string[];
  /** undefined: a `[no route]` row (requests no rule matched). */
  readonly route?: { readonly kind: 'HTTPRoute' | 'GRPCRoute' | 'TLSRoute'; readonly namespace: string; readonly name: string };
  readonly rule?: string;
  readonly matches: readonly string[];
  readonly filters: readonly string[];
  readonly timeouts: string;
  /** `ns/name:port`, or `unresolved (Reason)`; '-' without a backend. */
  readonly backend: string;
  readonly weight?: number;
  readonly figures?: Figures;
}

const seriesId = (k: GatewaySeriesKey) => JSON.stringify([k.port, k.routeNamespace, k.routeName, k.rule, k.backendNamespace, k.backendName, k.backendPort]);

function timeoutsText(rule: CompiledRule): string {
  const t = [
    ...(rule.timeouts.requestMs !== undefined ? [`request ${rule.timeouts.requestMs}ms`] : []),
    ...(rule.timeouts.backendRequestMs !== undefined ? [`backendRequest ${rule.timeouts.backendRequestMs}ms`] : []),
  ];
  return t.length === 0 ? '-' : t.join(', ');
}

/** The routes of a listener of the view, each once, with the hostnames it serves there. */
function listenerRoutes(l: ListenerView): { route: CompiledRoute; hostnames: string[] }[] {
  const out: { route: CompiledRoute; hostnames: string[] }[] = [];
  for (const h of l.hosts) {
    for (const r of h.routes) {
      let e = out.find((x) => x.route === r);
      if (e === undefined) out.push((e = { route: r, hostnames: [] }));
      e.hostnames.push(h.hostname === '' ? '*' : h.hostname);
    }
  }
  return out.sort((a, b) => key(a.route.namespace, a.route.name).localeCompare(key(b.route.namespace, b.route.name)));
}

/**
 * A rule's rows, one per backend with its series' figures. Requests refused for an unresolved backend
 * are counted on the rule's series (no backend labels): the first unresolved backend's row shows them.
 */
function backendRows(
  base: Omit<GatewayRouteRow, 'backend' | 'weight' | 'figures'>,
  backends: readonly { readonly target: BackendTarget; readonly weight: number }[],
  key: (b: { namespace: string; name: string; port: string }) => GatewaySeriesKey,
  take: (k: GatewaySeriesKey) => Figures | undefined,
): GatewayRouteRow[] {
  const rows: GatewayRouteRow[] = [];
  let ruleFigures = take(key({ namespace: '', name: '', port: '' }));
  for (const b of backends) {
    const t = b.target;
    if (t.kind === 'service') {
      const f = take(key({ namespace: t.namespace, name: t.name, port: String(t.port) }));
      rows.push({ ...base, backend: `${t.namespace}/${t.name}:${t.port}`, weight: b.weight, ...(f !== undefined ? { figures: f } : {}) });
    } else {
      rows.push({ ...base, backend: `unresolved (${t.reason})`, weight: b.weight, ...(ruleFigures !== undefined ? { figures: ruleFigures } : {}) });
      ruleFigures = undefined;
    }
  }
  return rows;
}

/**
 * One row per listener, route, rule and backend the gateway serves (a rule without backends: one row),
 * with its figures; then a row per series no configured row names (`[no route]`: requests no rule
 * matched, or a route since removed), by port.
 */
export function gatewayRouteRows(view: GatewayView, groups: readonly Group<GatewaySeriesKey>[]): GatewayRouteRow[] {
  const figures = new Map(groups.map((g) => [seriesId(g.key), g.figures]));
  const used = new Set<string>();
  const take = (k: GatewaySeriesKey) => {
    const id = seriesId(k);
    if (!figures.has(id)) return undefined;
    if (used.has(id)) return undefined;
    used.add(id);
    return figures.get(id);
  };
  const rows: GatewayRouteRow[] = [];
  for (const p of view.ports) {
    for (const l of p.listeners) {
      for (const { route, hostnames } of listenerRoutes(l)) {
        const routeRef = { kind: route.kind === 'grpc' ? 'GRPCRoute' as const : 'HTTPRoute' as const, namespace: route.namespace, name: route.name };
        for (const rule of route.rules) {
          const base = { listener: l.name, port: l.port, hostnames, route: routeRef, rule: ruleLabel(rule), matches: rule.matches.map(describeMatch), filters: rule.filters.flatMap(describeFilter), timeouts: timeoutsText(rule) };
          const k = (b: { namespace: string; name: string; port: string }): GatewaySeriesKey => ({
            port: String(l.port), routeKind: route.kind, routeNamespace: route.namespace, routeName: route.name, rule: ruleLabel(rule),
            backendNamespace: b.namespace, backendName: b.name, backendPort: b.port,
          });
          if (rule.backends.length === 0) {
            const f = take(k({ namespace: '', name: '', port: '' }));
            rows.push({ ...base, backend: '-', ...(f !== undefined ? { figures: f } : {}) });
            continue;
          }
          rows.push(...backendRows(base, rule.backends, k, take));
        }
      }
      // TLS passthrough: one row per TLSRoute backend, its connections counted as the series' requests.
      for (const r of l.tlsRoutes) {
        const base = {
          listener: l.name, port: l.port, hostnames: r.hostnames.map((h) => (h === '' ? '*' : h)), route: { kind: 'TLSRoute' as const, namespace: r.namespace, name: r.name },
          rule: TLS_RULE, matches: [], filters: [], timeouts: '-',
        };
        const k = (b: { namespace: string; name: string; port: string }): GatewaySeriesKey => ({
          port: String(l.port), routeKind: 'tls', routeNamespace: r.namespace, routeName: r.name, rule: TLS_RULE, backendNamespace: b.namespace, backendName: b.name, backendPort: b.port,
        });
        rows.push(...backendRows(base, r.backends, k, take));
      }
    }
  }
  for (const g of groups) {
    if (used.has(seriesId(g.key))) continue;
    const port = Number(g.key.port);
    const l = view.ports.find((p) => p.port === port)?.listeners[0];
    const named = g.key.routeName !== '' && g.key.routeKind !== 'none';
    rows.push({
      listener: l?.name ?? '-', port, hostnames: [],
      ...(named ? { route: { kind: routeKindOf(g.key.routeKind), namespace: g.key.routeNamespace, name: g.key.routeName }, rule: g.key.rule } : {}),
      matches: [], filters: [], timeouts: '-',
      backend: g.key.backendName === '' ? '-' : `${g.key.backendNamespace}/${g.key.backendName}:${g.key.backendPort}`,
      figures: g.figures,
    });
  }
  return rows;
}

/** The listeners of a Gateway as spec'd, with the written status (else the decision's) of each. */
export interface ListenerRow {
  readonly name: string;
  readonly port: number;
  readonly protocol: string;
  readonly hostname: string;
  readonly attachedRoutes: number;
  readonly conditions: readonly Condition[];
  /** The decision's attachedRoutes when the written status differs (the controller has not written yet). */
  readonly computedAttachedRoutes?: number;
}

export function listenerRows(found: GatewayFound): ListenerRow[] {
  return (found.gateway.spec?.listeners ?? []).map((l) => {
    const written: ListenerStatusJson | undefined = found.gateway.status?.listeners?.find((s) => s.name === l.name);
    const computed = found.computed.listeners?.find((s) => s.name === l.name);
    const attached = written?.attachedRoutes ?? computed?.attachedRoutes ?? 0;
    return {
      name: l.name, port: l.port, protocol: l.protocol, hostname: l.hostname ?? '*',
      attachedRoutes: attached,
      conditions: written?.conditions ?? computed?.conditions ?? [],
      ...(computed !== undefined && computed.attachedRoutes !== attached ? { computedAttachedRoutes: computed.attachedRoutes } : {}),
    };
  });
}

/** A listener's conditions in one cell: the types when all are as they should be, else each problem with its reason. */
export function conditionsCell(conds: readonly Condition[]): string {
  const bad = conds.filter((c) => (c.type === 'Conflicted' ? c.status !== 'False' : c.status !== 'True'));
  if (conds.length === 0) return 'no status yet';
  if (bad.length === 0) return conds.filter((c) => c.type !== 'Conflicted').map((c) => c.type).join(', ');
  return bad.map((c) => `${c.type}=${c.status} ${c.reason ?? ''}`).join(', ');
}

/** The parentRef entries of routes that refer to this Gateway but are refused or have unresolved references. */
export function routeProblems(found: GatewayFound): { readonly route: string; readonly problems: readonly string[] }[] {
  const out: { route: string; problems: string[] }[] = [];
  for (const [k, entries] of found.statuses.routes) {
    const [kind = '', ns = '', name = ''] = k.split('/');
    const mine = entries.filter((e: RouteParentStatus) => (e.parentRef.namespace ?? ns) === found.namespace && e.parentRef.name === found.name
      && (e.parentRef.kind ?? 'Gateway') === 'Gateway');
    const problems = mine.flatMap((e) => e.conditions.filter((c) => c.status !== 'True').map((c) => `${e.parentRef.sectionName !== undefined ? `sectionName ${e.parentRef.sectionName}: ` : ''}${condText(c)}`));
    if (problems.length > 0) out.push({ route: routeText({ kind, namespace: ns, name }, found.namespace), problems });
  }
  return out.sort((a, b) => a.route.localeCompare(b.route));
}

const latencyHeaders = QUANTILES.map((q) => `LATENCY_P${Math.round(q * 100)}`);
const latencyCells = (f: Figures | undefined) => QUANTILES.map((_, i) => formatLatency(f?.latency[i]));
const count = (n: number | undefined) => (n === undefined ? '-' : String(Math.round(n)));

function latencyJson(f: Figures | undefined): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  QUANTILES.forEach((q, i) => { out[`p${Math.round(q * 100)}Seconds`] = round(f?.latency[i], 6); });
  return out;
}

function figuresJson(f: Figures | undefined, windowSeconds: number) {
  return {
    requests: round(f?.requests ?? 0, 3),
    successRate: round(f === undefined ? undefined : successRate(f), 4),
    rps: round(rps(f?.requests ?? 0, windowSeconds), 4),
    timeouts: round(f?.timeouts ?? 0, 3),
    retries: round(f?.retries ?? 0, 3),
    retriesSkippedBudget: round(f?.budgetSkipped ?? 0, 3),
    ejections: round(f?.ejections ?? 0, 3),
    ...latencyJson(f),
  };
}

/**
 * `weft routes gateway/NAME`: the Gateway (class, address, conditions), its listeners, then one row
 * per listener, route, rule and backend with the figures the sidecar's routes table has, then the
 * routes that name the Gateway but are refused or have unresolved references, with why.
 */
export function renderGatewayRoutes(found: GatewayFound, rows: readonly GatewayRouteRow[], windowSeconds: number, format: OutputFormat): Rendered {
  const listeners = listenerRows(found);
  const problems = routeProblems(found);
  const status = found.gateway.status;
  if (format === 'json') {
    return {
      text: `${JSON.stringify({
        gateway: {
          namespace: found.namespace, name: found.name, gatewayClass: found.className,
          addresses: (status?.addresses ?? []).map((a) => a.value),
          conditions: status?.conditions ?? [],
        },
        listeners: listeners.map((l) => ({ name: l.name, port: l.port, protocol: l.protocol, hostname: l.hostname, attachedRoutes: l.attachedRoutes, conditions: l.conditions })),
        routes: rows.map((r) => ({
          listener: r.listener, port: r.port, hostnames: r.hostnames,
          route: r.route ?? null, rule: r.rule ?? null, matches: r.matches, filters: r.filters, routeTimeouts: r.timeouts,
          backend: r.backend === '-' ? null : r.backend, weight: r.weight ?? null,
          windowSeconds, ...figuresJson(r.figures, windowSeconds),
        })),
        routeProblems: problems,
      }, null, 2)}\n`,
    };
  }
  const wide = format === 'wide';
  const out: string[] = [];
  const addresses = (status?.addresses ?? []).map((a) => a.value);
  out.push(`Gateway ${found.namespace}/${found.name} (class ${found.className}), address ${addresses.length > 0 ? addresses.join(', ') : 'none yet'}: ${conditionsCell(status?.conditions ?? [])}`);
  out.push('');
  out.push(renderTable(['LISTENER', 'PORT', 'PROTOCOL', 'HOSTNAME', 'ROUTES', 'STATUS'], listeners.map((l) => [
    l.name, String(l.port), l.protocol, l.hostname,
    l.computedAttachedRoutes !== undefined ? `${l.attachedRoutes} (decision: ${l.computedAttachedRoutes}; status not written yet)` : String(l.attachedRoutes),
    conditionsCell(l.conditions),
  ])).trimEnd());
  for (const l of listeners) {
    for (const c of l.conditions.filter((x) => (x.type === 'Conflicted' ? x.status !== 'False' : x.status !== 'True'))) out.push(`  listener ${l.name}: ${condText(c)}`);
  }
  out.push('');
  const headers = ['LISTENER', 'ROUTE', 'RULE', 'MATCHES', 'BACKEND', 'WEIGHT', 'SUCCESS', 'RPS', ...latencyHeaders, 'TIMEOUTS', 'RETRIES', 'BUDGET_SKIPS', 'EJECTIONS', ...(wide ? ['HOSTNAMES', 'FILTERS', 'ROUTE_TIMEOUTS', 'REQUESTS', 'FAILURES'] : [])];
  out.push(renderTable(headers, rows.map((r) => [
    `${r.listener}:${r.port}`,
    r.route === undefined ? '[no route]' : routeText(r.route, found.namespace),
    r.rule ?? '-',
    r.matches.length === 0 ? '-' : r.matches.join(' | '),
    r.backend,
    r.weight === undefined ? '-' : String(r.weight),
    formatPercent(r.figures === undefined ? undefined : successRate(r.figures)),
    r.figures === undefined ? '-' : formatRps(rps(r.figures.requests, windowSeconds)),
    ...latencyCells(r.figures),
    count(r.figures?.timeouts), count(r.figures?.retries), count(r.figures?.budgetSkipped), count(r.figures?.ejections),
    ...(wide ? [r.hostnames.length === 0 ? '-' : r.hostnames.join(','), r.filters.length === 0 ? '-' : r.filters.join('; '), r.timeouts, count(r.figures?.requests), count(r.figures?.failures)] : []),
  ])).trimEnd());
  if (problems.length > 0) {
    out.push('', 'Routes naming this Gateway with problems:');
    for (const p of problems) for (const line of p.problems) out.push(`  ${p.route}: ${line}`);
  }
  return { text: `${out.join('\n')}\n` };
}

/** The key of `weft stat gateway/NAME`'s rows: listener port and route (wide: and rule). */
export interface GatewayStatKey {
  readonly port: string;
  readonly routeKind: string;
  readonly routeNamespace: string;
  readonly routeName: string;
  readonly rule?: string;
}

export function gatewayStatKeyOf(gateway: { readonly namespace: string; readonly name: string }, wide: boolean) {
  const series = gatewaySeriesKeyOf(gateway);
  return (l: Readonly<Record<string, string>>): GatewayStatKey | undefined => {
    const k = series(l);
    if (k === undefined) return undefined;
    const none = k.routeKind === 'none' || k.routeName === '';
    return { port: k.port, routeKind: none ? 'none' : k.routeKind, routeNamespace: none ? '' : k.routeNamespace, routeName: none ? '' : k.routeName, ...(wide ? { rule: none ? '' : k.rule } : {}) };
  };
}

/**
 * `weft stat gateway/NAME`: one row per listener port and route the gateway serves (wide: and rule),
 * with traffic or not, then `[no route]` and routes no longer served that had traffic. Percentiles
 * are computed per row from the merged buckets (summarize), never averaged.
 */
export function renderGatewayStat(found: GatewayFound, groups: readonly Group<GatewayStatKey>[], windowSeconds: number, format: OutputFormat): Rendered {
  const wide = format === 'wide';
  const id = (k: GatewayStatKey) => JSON.stringify([k.port, k.routeNamespace, k.routeName, k.rule ?? '']);
  const byId = new Map(groups.map((g) => [id(g.key), g]));
  const keys: GatewayStatKey[] = [];
  const seen = new Set<string>();
  const add = (k: GatewayStatKey) => {
    if (seen.has(id(k))) return;
    seen.add(id(k));
    keys.push(k);
  };
  for (const p of found.view.ports) {
    for (const l of p.listeners) {
      for (const { route } of listenerRoutes(l)) {
        const base = { port: String(p.port), routeKind: route.kind, routeNamespace: route.namespace, routeName: route.name };
        if (wide) for (const rule of route.rules) add({ ...base, rule: ruleLabel(rule) });
        else add(base);
      }
      for (const r of l.tlsRoutes) {
        const base = { port: String(p.port), routeKind: 'tls', routeNamespace: r.namespace, routeName: r.name };
        add(wide ? { ...base, rule: TLS_RULE } : base);
      }
    }
  }
  for (const g of groups) add(g.key);
  const listenerOf = (port: string) => found.view.ports.find((p) => String(p.port) === port)?.listeners[0]?.name ?? '-';
  const rowsOf = keys.map((k) => ({ k, f: byId.get(id(k))?.figures, route: k.routeKind === 'none' ? '[no route]' : routeText({ kind: k.routeKind, namespace: k.routeNamespace, name: k.routeName }, found.namespace) }));
  if (format === 'json') {
    return {
      text: `${JSON.stringify(rowsOf.map(({ k, f, route }) => ({
        gateway: `${found.namespace}/${found.name}`, listener: listenerOf(k.port), port: Number(k.port), route: k.routeKind === 'none' ? null : route,
        ...(wide ? { rule: k.rule ?? null } : {}), windowSeconds, ...figuresJson(f, windowSeconds), failures: round(f?.failures ?? 0, 3),
      })), null, 2)}\n`,
    };
  }
  const headers = ['LISTENER', 'ROUTE', ...(wide ? ['RULE'] : []), 'SUCCESS', 'RPS', ...latencyHeaders, ...(wide ? ['REQUESTS', 'FAILURES', 'TIMEOUTS', 'RETRIES'] : [])];
  return {
    text: renderTable(headers, rowsOf.map(({ k, f, route }) => [
      `${listenerOf(k.port)}:${k.port}`, route, ...(wide ? [k.rule === undefined || k.rule === '' ? '-' : k.rule] : []),
      formatPercent(f === undefined ? undefined : successRate(f)),
      f === undefined ? '-' : formatRps(rps(f.requests, windowSeconds)),
      ...latencyCells(f),
      ...(wide ? [count(f?.requests ?? 0), count(f?.failures ?? 0), count(f?.timeouts ?? 0), count(f?.retries ?? 0)] : []),
    ])),
  };
}

export interface GatewayListRow {
  readonly namespace: string;
  readonly name: string;
  readonly ready: number;
  readonly pods: number;
  readonly figures?: Figures;
}

/** `weft stat gateway`: one row per Gateway Weft serves: READY (ready proxy pods / pods), success rate, RPS, latency. */
export function renderGatewayList(rows: readonly GatewayListRow[], windowSeconds: number, format: OutputFormat, options: { readonly namespaceColumn?: boolean } = {}): Rendered {
  if (format === 'json') {
    return {
      text: `${JSON.stringify(rows.map((r) => ({
        name: `gateway/${r.name}`, namespace: r.namespace, readyPods: r.ready, pods: r.pods, windowSeconds,
        requests: round(r.figures?.requests ?? 0, 3), successRate: round(r.figures === undefined ? undefined : successRate(r.figures), 4),
        rps: round(rps(r.figures?.requests ?? 0, windowSeconds), 4), ...latencyJson(r.figures),
      })), null, 2)}\n`,
    };
  }
  const wide = format === 'wide';
  const ns = options.namespaceColumn === true;
  return {
    text: renderTable([...(ns ? ['NAMESPACE'] : []), 'NAME', 'READY', 'SUCCESS', 'RPS', ...latencyHeaders, ...(wide ? ['REQUESTS', 'FAILURES'] : [])], rows.map((r) => [
      ...(ns ? [r.namespace] : []), `gateway/${r.name}`, `${r.ready}/${r.pods}`,
      formatPercent(r.figures === undefined ? undefined : successRate(r.figures)),
      r.figures === undefined ? '-' : formatRps(rps(r.figures.requests, windowSeconds)),
      ...latencyCells(r.figures),
      ...(wide ? [count(r.figures?.requests ?? 0), count(r.figures?.failures ?? 0)] : []),
    ])),
  };
}
