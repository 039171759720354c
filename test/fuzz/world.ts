/**
 * A generated route table turned into one small cluster in which routing and authorization both key
 * on paths, plus an independent reference of Gateway API precedence to check selection against.
 *
 * Model: namespace `shop`, Service `web` (port 80), pod `api-0` serving port 8080 and Server `api`
 * on it (accessPolicy deny). Every generated route `r<i>` is ONE HTTPRoute object with two parents:
 * the Service (outbound, GAMMA) and the Server (inbound). Each route has its own AuthorizationPolicy
 * `ap-r<i>` requiring the MeshTLSAuthentication `m-r<i>`, which admits only the identity
 * `sa-r<i>`. So:
 *   - outbound routing (core/outbound/route.ts) names the rule a request selects;
 *   - inbound authorization (core/inbound/authorize.ts) admits a client iff its identity belongs to the
 *     route that selection attributes the request to, and says which route and rule that was.
 * The two must agree for every request, and both must agree with `referenceSelection` below.
 */
import { RE2JS } from 're2js';
import { GATEWAY_API_GROUP, POLICY_API_GROUP } from '../../core/contract.js';
import { authorizeInbound, type InboundDecision } from '../../core/inbound/authorize.js';
import { compileInboundPolicy } from '../../core/inbound/compile.js';
import type { InboundPortPolicy } from '../../core/inbound/types.js';
import { EMPTY_SNAPSHOT, type ClusterSnapshot, type HTTPRoute, type HTTPRouteMatch } from '../../core/kube.js';
import type { AuthorizationPolicy, MeshTLSAuthentication, Server } from '../../core/kube-policy.js';
import { indexSnapshot, outboundView, type OutboundPolicy, type RouteStatus } from '../../core/outbound/policy.js';
import { routeOutbound, type OutboundDecision } from '../../core/outbound/route.js';
import { normalizeRequestTarget } from '../../core/path.js';
import type { RequestInfo } from '../../core/request.js';
import type { MatchSpec, RouteSpec } from './arbitraries.js';

export const NS = 'shop';
const EPOCH = Date.UTC(2026, 0, 1);
export const identityOf = (route: string): string => `spiffe://cluster.local/ns/${NS}/sa/sa-${route}`;
export const routeName = (i: number): string => `r${i}`;

function httpRoute(i: number, spec: RouteSpec): HTTPRoute {
  return {
    apiVersion: `${GATEWAY_API_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: { name: routeName(i), namespace: NS, creationTimestamp: new Date(EPOCH + spec.createdAt * 1000).toISOString() },
    spec: {
      parentRefs: [
        { group: '', kind: 'Service', name: 'web', port: 80 },
        { group: POLICY_API_GROUP, kind: 'Server', name: 'api' },
      ],
      rules: spec.rules.map((r) => ({
        ...(r.matches.length > 0 ? { matches: r.matches.map((m): HTTPRouteMatch => ({
          ...(m.path !== undefined ? { path: { ...m.path } } : {}),
          ...(m.method !== undefined ? { method: m.method } : {}),
          ...(m.headers !== undefined ? { headers: m.headers.map((h) => ({ ...h })) } : {}),
          ...(m.queryParams !== undefined ? { queryParams: m.queryParams.map((h) => ({ ...h })) } : {}),
        })) } : {}),
        backendRefs: [{ name: 'web', port: 80 }],
      })),
    },
  };
}

export function snapshotOf(routes: readonly RouteSpec[]): ClusterSnapshot {
  const names = routes.map((_, i) => routeName(i));
  const server: Server = {
    apiVersion: `${POLICY_API_GROUP}/v1alpha1`,
    kind: 'Server',
    metadata: { name: 'api', namespace: NS, creationTimestamp: new Date(EPOCH).toISOString() },
    spec: { podSelector: { matchLabels: { app: 'api' } }, port: 8080, accessPolicy: 'deny' },
  };
  const policies: AuthorizationPolicy[] = names.map((n) => ({
    metadata: { name: `ap-${n}`, namespace: NS },
    spec: {
      targetRef: { group: GATEWAY_API_GROUP, kind: 'HTTPRoute', name: n },
      requiredAuthenticationRefs: [{ group: POLICY_API_GROUP, kind: 'MeshTLSAuthentication', name: `m-${n}` }],
    },
  }));
  const authns: MeshTLSAuthentication[] = names.map((n) => ({ metadata: { name: `m-${n}`, namespace: NS }, spec: { identities: [identityOf(n)] } }));
  return {
    ...EMPTY_SNAPSHOT,
    namespaces: [{ metadata: { name: NS } }],
    services: [{ metadata: { name: 'web', namespace: NS }, spec: { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80 }] } }],
    pods: [{
      metadata: { name: 'api-0', namespace: NS, labels: { app: 'api' } },
      spec: { containers: [{ name: 'app', ports: [{ name: 'http', containerPort: 8080 }] }] },
      status: { podIP: '10.1.0.5', hostIP: '192.168.50.10', hostIPs: [{ ip: '192.168.50.10' }] },
    }],
    servers: [server],
    httpRoutes: routes.map((r, i) => httpRoute(i, r)),
    authorizationPolicies: policies,
    meshTLSAuthentications: authns,
  };
}

export interface World {
  readonly routes: readonly RouteSpec[];
  readonly outbound: OutboundPolicy;
  readonly inbound: InboundPortPolicy;
  readonly statuses: readonly RouteStatus[];
}

export function buildWorld(routes: readonly RouteSpec[]): World {
  const snap = snapshotOf(routes);
  const index = indexSnapshot(snap);
  const outbound = outboundView(index, NS, NS, 'web', 80);
  const inbound = compileInboundPolicy(snap, { namespace: NS, name: 'api-0' }, 8080);
  if (outbound === undefined || inbound === undefined) throw new Error('the fuzz world lost its Service or pod');
  return { routes, outbound, inbound, statuses: index.statuses };
}

/** Which route rule a side attributed a request to; `none` when no rule matched. */
export type Attribution = { readonly route: string; readonly rule: number } | 'none';

export function outboundAttribution(d: OutboundDecision): Attribution | { readonly other: string } {
  if (d.kind === 'forward') return { route: d.route.name, rule: d.rule.index };
  if (d.kind === 'error' && d.code === 'ROUTE_NOT_FOUND') return 'none';
  return { other: d.kind === 'error' ? d.code : d.kind };
}

export function inboundAttribution(d: InboundDecision): Attribution | { readonly other: string } {
  if (d.selection !== undefined) return { route: d.selection.route.name, rule: d.selection.rule.index };
  if (d.code === 'ROUTE_NOT_FOUND') return 'none';
  return { other: d.code ?? 'allowed-without-route' };
}

export function decideOutbound(w: World, req: RequestInfo): OutboundDecision {
  return routeOutbound(w.outbound, req, () => 0);
}

export function decideInbound(w: World, req: RequestInfo, identity: string | undefined): InboundDecision {
  return authorizeInbound(w.inbound, {
    ...(identity !== undefined ? { clientIdentity: identity } : {}),
    tls: identity !== undefined,
    clientIp: '10.2.0.7',
    req,
  });
}

// --- reference precedence (written from the Gateway API spec, not from core/routes/match.ts) ---------

function normalizedValue(v: string): string {
  const n = normalizeRequestTarget(v);
  if (!n.ok) throw new Error(`generated route path ${JSON.stringify(v)} does not normalise: ${n.reason}`);
  return n.path;
}

const regexCache = new Map<string, RE2JS>();
function fullMatch(pattern: string, s: string): boolean {
  let re = regexCache.get(pattern);
  if (re === undefined) regexCache.set(pattern, (re = RE2JS.compile(pattern)));
  return re.matches(s);
}

function decodeOrRaw(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function queryValues(rawQuery: string, name: string): string[] {
  const out: string[] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decodeOrRaw(eq < 0 ? part : part.slice(0, eq));
    if (k === name) out.push(decodeOrRaw(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return out;
}

/** Gateway API: of several entries with an equivalent name, only the first counts. */
function firstByName<T extends { readonly name: string }>(list: readonly T[] | undefined, fold: boolean): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const m of list ?? []) {
    const k = fold ? m.name.toLowerCase() : m.name;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(m);
  }
  return out;
}

function valueOk(type: string, expected: string, got: string): boolean {
  return type === 'Exact' ? expected === got : fullMatch(expected, got);
}

function matches(m: MatchSpec, req: RequestInfo): boolean {
  const p = m.path ?? { type: 'PathPrefix', value: '/' };
  if (p.type === 'Exact' && req.path !== normalizedValue(p.value)) return false;
  if (p.type === 'PathPrefix') {
    let v = normalizedValue(p.value);
    if (v.length > 1 && v.endsWith('/')) v = v.slice(0, -1);
    // Whole segments only: `/v2` matches `/v2` and `/v2/x`, never `/v2x`.
    if (v !== '/' && req.path !== v && !req.path.startsWith(v + '/')) return false;
  }
  if (p.type === 'RegularExpression' && !fullMatch(p.value, req.path)) return false;
  if (m.method !== undefined && m.method !== req.method) return false;
  for (const h of firstByName(m.headers, true)) {
    const values = req.headers.get(h.name.toLowerCase()) ?? [];
    // Every value of a repeated header must satisfy the match (security case 17).
    if (values.length === 0 || !values.every((v) => valueOk(h.type, h.value, v))) return false;
  }
  for (const q of firstByName(m.queryParams, false)) {
    const values = queryValues(req.rawQuery, q.name);
    if (values.length === 0 || !values.every((v) => valueOk(q.type, q.value, v))) return false;
  }
  return true;
}

/** Smaller sorts first: Exact > longest PathPrefix > RegularExpression > method > headers > query. */
function precedenceKey(m: MatchSpec): number[] {
  const p = m.path ?? { type: 'PathPrefix', value: '/' };
  let rank = 1;
  let len = 0;
  if (p.type === 'Exact') rank = 0;
  else if (p.type === 'RegularExpression') rank = 2;
  else {
    const v = normalizedValue(p.value);
    len = v === '/' ? 0 : v.replace(/\/$/, '').length;
  }
  return [rank, -len, m.method !== undefined ? 0 : 1, -firstByName(m.headers, true).length, -firstByName(m.queryParams, false).length];
}

/** The rule Gateway API precedence selects among all rules of all routes, or 'none'. */
export function referenceSelection(routes: readonly RouteSpec[], req: RequestInfo): Attribution {
  let best: { key: (number | string)[]; route: string; rule: number } | undefined;
  routes.forEach((route, i) => {
    route.rules.forEach((rule, r) => {
      const list: readonly MatchSpec[] = rule.matches.length > 0 ? rule.matches : [{}];
      list.forEach((m, k) => {
        if (!matches(m, req)) return;
        // Then the oldest route, then namespace/name, then rule order, then match order.
        const key = [...precedenceKey(m), route.createdAt, routeName(i), r, k];
        if (best === undefined || lessThan(key, best.key)) best = { key, route: routeName(i), rule: r };
      });
    });
  });
  const b = best as { route: string; rule: number } | undefined;
  return b === undefined ? 'none' : { route: b.route, rule: b.rule };
}

function lessThan(a: readonly (number | string)[], b: readonly (number | string)[]): boolean {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x !== y) return x < y;
  }
  return false;
}
