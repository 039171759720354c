/**
 * The three observability tables (and their JSON), as pure functions of summarized figures:
 *
 *   stat    one row per workload (deployment, pod or namespace): meshed pods, success rate, RPS, p50/95/99
 *   routes  one row per route and backend of a Service (wide: per Service port and rule)
 *   authz   one row per Server, route and authorization of a workload (wide: per target port)
 *
 * Keys are built from metric labels by the `*KeyOf` functions, so the commands and the golden tests
 * group exactly alike.
 */
import { LABEL, QUANTILES, rps, successRate, type Figures, type Group } from './figures.js';
import { formatLatency, formatPercent, formatRps, renderTable, round } from './table.js';

export type OutputFormat = 'table' | 'wide' | 'json';

export interface Rendered {
  readonly text: string;
}

const latencyHeaders = QUANTILES.map((q) => `LATENCY_P${Math.round(q * 100)}`);

function latencyCells(f: Figures | undefined): string[] {
  return QUANTILES.map((_, i) => formatLatency(f?.latency[i]));
}

function latencyJson(f: Figures | undefined): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  QUANTILES.forEach((q, i) => {
    out[`p${Math.round(q * 100)}Seconds`] = round(f?.latency[i], 6);
  });
  return out;
}

function json(value: unknown): Rendered {
  return { text: `${JSON.stringify(value, null, 2)}\n` };
}

// --- stat -------------------------------------------------------------------------------------------

export interface StatResource {
  /** `deploy/books`, `pod/books-7d9f-abcde`, `ns/booksapp`. */
  readonly name: string;
  readonly namespace?: string;
  /** The key of its figures in the groups (default: name). */
  readonly key?: string;
  readonly meshed: number;
  readonly pods: number;
}

export function renderStat(resources: readonly StatResource[], groups: readonly Group<string>[], windowSeconds: number, format: OutputFormat, options: { readonly namespaceColumn?: boolean } = {}): Rendered {
  const figures = new Map(groups.map((g) => [g.key, g.figures]));
  const byName = { get: (key: string) => figures.get(key) };
  const keyOf = (r: StatResource) => r.key ?? r.name;
  if (format === 'json') {
    return json(resources.map((r) => {
      const f = byName.get(keyOf(r));
      return {
        name: r.name,
        ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
        meshedPods: r.meshed,
        pods: r.pods,
        windowSeconds,
        requests: round(f?.requests ?? 0, 3),
        successRate: round(f === undefined ? undefined : successRate(f), 4),
        rps: round(rps(f?.requests ?? 0, windowSeconds), 4),
        denied: round(f?.denied ?? 0, 3),
        limited: round(f?.limited ?? 0, 3),
        ...latencyJson(f),
      };
    }));
  }
  const wide = format === 'wide';
  const nsColumn = options.namespaceColumn === true;
  const headers = [...(nsColumn ? ['NAMESPACE'] : []), 'NAME', 'MESHED', 'SUCCESS', 'RPS', ...latencyHeaders, ...(wide ? ['REQUESTS', 'FAILURES', 'DENIED', 'LIMITED'] : [])];
  const rows = resources.map((r) => {
    const f = byName.get(keyOf(r));
    return [
      ...(nsColumn ? [r.namespace ?? ''] : []),
      r.name,
      `${r.meshed}/${r.pods}`,
      formatPercent(f === undefined ? undefined : successRate(f)),
      f === undefined ? '-' : formatRps(rps(f.requests, windowSeconds)),
      ...latencyCells(f),
      ...(wide ? [String(Math.round(f?.requests ?? 0)), String(Math.round(f?.failures ?? 0)), String(Math.round(f?.denied ?? 0)), String(Math.round(f?.limited ?? 0))] : []),
    ];
  });
  return { text: renderTable(headers, rows) };
}

// --- routes -----------------------------------------------------------------------------------------

export interface RouteKey {
  readonly port?: string;
  readonly routeKind: string;
  readonly routeNamespace: string;
  readonly routeName: string;
  readonly rule?: string;
  readonly backendNamespace: string;
  readonly backendName: string;
  readonly backendPort: string;
}

/** Keys outbound samples of one Service by route and backend (wide: also by port and rule). */
export function routeKeyOf(service: { readonly namespace: string; readonly name: string }, wide: boolean) {
  return (l: Readonly<Record<string, string>>): RouteKey | undefined => {
    if (l[LABEL.serviceNamespace] !== service.namespace || l[LABEL.serviceName] !== service.name) return undefined;
    return {
      ...(wide ? { port: l[LABEL.servicePort] ?? '' } : {}),
      routeKind: l[LABEL.routeKind] ?? '',
      routeNamespace: l[LABEL.routeNamespace] ?? '',
      routeName: l[LABEL.routeName] ?? '',
      ...(wide ? { rule: l[LABEL.routeRule] ?? '' } : {}),
      backendNamespace: l[LABEL.backendNamespace] ?? '',
      backendName: l[LABEL.backendName] ?? '',
      backendPort: l[LABEL.backendPort] ?? '',
    };
  };
}

function routeName(k: RouteKey, serviceNs: string): string {
  if (k.routeKind === '' || k.routeKind === 'none' || k.routeName === '') return '[no route]';
  const kind = k.routeKind === 'grpc' ? 'grpcroute' : 'httproute';
  return k.routeNamespace !== '' && k.routeNamespace !== serviceNs ? `${kind}/${k.routeNamespace}/${k.routeName}` : `${kind}/${k.routeName}`;
}

function backendName(k: RouteKey, serviceNs: string): string {
  if (k.backendName === '') return '-';
  const ns = k.backendNamespace !== '' && k.backendNamespace !== serviceNs ? `${k.backendNamespace}/` : '';
  return `${ns}${k.backendName}${k.backendPort !== '' ? `:${k.backendPort}` : ''}`;
}

export function renderRoutes(service: { readonly namespace: string; readonly name: string }, groups: readonly Group<RouteKey>[], windowSeconds: number, format: OutputFormat): Rendered {
  if (format === 'json') {
    return json(groups.map(({ key: k, figures: f }) => ({
      service: `${service.namespace}/${service.name}`,
      ...(k.port !== undefined ? { port: k.port } : {}),
      route: k.routeKind === 'none' || k.routeName === '' ? null : { kind: k.routeKind === 'grpc' ? 'GRPCRoute' : 'HTTPRoute', namespace: k.routeNamespace, name: k.routeName },
      ...(k.rule !== undefined ? { rule: k.rule } : {}),
      backend: k.backendName === '' ? null : { namespace: k.backendNamespace, name: k.backendName, port: k.backendPort === '' ? null : Number(k.backendPort) },
      windowSeconds,
      requests: round(f.requests, 3),
      successRate: round(successRate(f), 4),
      rps: round(rps(f.requests, windowSeconds), 4),
      timeouts: round(f.timeouts, 3),
      retries: round(f.retries, 3),
      retriesSkippedBudget: round(f.budgetSkipped, 3),
      ejections: round(f.ejections, 3),
      limited: round(f.limited, 3),
      ...latencyJson(f),
    })));
  }
  const wide = format === 'wide';
  const headers = [...(wide ? ['PORT'] : []), 'ROUTE', ...(wide ? ['RULE'] : []), 'BACKEND', 'SUCCESS', 'RPS', ...latencyHeaders, 'TIMEOUTS', 'RETRIES', 'BUDGET_SKIPS', 'EJECTIONS', 'LIMITED', ...(wide ? ['REQUESTS', 'FAILURES'] : [])];
  const rows = groups.map(({ key: k, figures: f }) => [
    ...(wide ? [k.port === '' || k.port === undefined ? '-' : k.port] : []),
    routeName(k, service.namespace),
    ...(wide ? [k.rule === '' || k.rule === undefined ? '-' : k.rule] : []),
    backendName(k, service.namespace),
    formatPercent(successRate(f)),
    formatRps(rps(f.requests, windowSeconds)),
    ...latencyCells(f),
    String(Math.round(f.timeouts)),
    String(Math.round(f.retries)),
    String(Math.round(f.budgetSkipped)),
    String(Math.round(f.ejections)),
    String(Math.round(f.limited)),
    ...(wide ? [String(Math.round(f.requests)), String(Math.round(f.failures))] : []),
  ]);
  return { text: renderTable(headers, rows) };
}

// --- authz ------------------------------------------------------------------------------------------

export interface AuthzKey {
  readonly targetPort?: string;
  readonly server: string;
  readonly route: string;
  readonly authorization: string;
}

export function authzKeyOf(wide: boolean) {
  return (l: Readonly<Record<string, string>>): AuthzKey => ({
    ...(wide ? { targetPort: l[LABEL.targetPort] ?? '' } : {}),
    server: l[LABEL.server] ?? '',
    route: l[LABEL.route] ?? '',
    authorization: l[LABEL.authorization] ?? '',
  });
}

/**
 * The InboundLimitPolicies in force, as `weft authz` shows them: per target key `Kind/name`
 * (`Server/web-http`, `HTTPRoute/slow`), the policy's name and its limits in words.
 */
export type LimitsByTarget = ReadonlyMap<string, { readonly policy: string; readonly limits: string }>;

/** The limits a row is subject to: its Server's, then its route's (either Kind). */
function rowLimits(k: AuthzKey, limits: LimitsByTarget): { policy: string; limits: string }[] {
  const out: { policy: string; limits: string }[] = [];
  const s = limits.get(`Server/${k.server}`);
  if (s !== undefined) out.push(s);
  if (k.route !== '') {
    const r = limits.get(`HTTPRoute/${k.route}`) ?? limits.get(`GRPCRoute/${k.route}`);
    if (r !== undefined) out.push(r);
  }
  return out;
}

export function renderAuthz(groups: readonly Group<AuthzKey>[], windowSeconds: number, format: OutputFormat, limits: LimitsByTarget = new Map()): Rendered {
  if (format === 'json') {
    return json(groups.map(({ key: k, figures: f }) => ({
      ...(k.targetPort !== undefined ? { targetPort: k.targetPort === '' ? null : Number(k.targetPort) } : {}),
      server: k.server,
      route: k.route === '' ? null : k.route,
      authorization: k.authorization === '' ? null : k.authorization,
      windowSeconds,
      allowedRps: round(rps(f.requests - f.denied - f.limited, windowSeconds), 4),
      deniedRps: round(rps(f.denied, windowSeconds), 4),
      limitedRps: round(rps(f.limited, windowSeconds), 4),
      limits: rowLimits(k, limits),
      successRate: round(successRate(f), 4),
      ...latencyJson(f),
    })));
  }
  const wide = format === 'wide';
  const headers = [...(wide ? ['PORT'] : []), 'SERVER', 'ROUTE', 'AUTHORIZATION', 'ALLOWED_RPS', 'DENIED_RPS', 'LIMITED_RPS', 'SUCCESS', ...latencyHeaders, 'LIMITS', ...(wide ? ['ALLOWED', 'DENIED', 'LIMITED'] : [])];
  const dash = (s: string | undefined) => (s === undefined || s === '' ? '-' : s);
  const rows = groups.map(({ key: k, figures: f }) => [
    ...(wide ? [dash(k.targetPort)] : []),
    dash(k.server),
    dash(k.route),
    dash(k.authorization),
    formatRps(rps(f.requests - f.denied - f.limited, windowSeconds)),
    formatRps(rps(f.denied, windowSeconds)),
    formatRps(rps(f.limited, windowSeconds)),
    formatPercent(successRate(f)),
    ...latencyCells(f),
    dash(rowLimits(k, limits).map((l) => l.limits).join(' + ')),
    ...(wide ? [String(Math.round(f.requests - f.denied - f.limited)), String(Math.round(f.denied)), String(Math.round(f.limited))] : []),
  ]);
  return { text: renderTable(headers, rows) };
}
