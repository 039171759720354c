/**
 * The proxy's policy enforcement point: the PolicyHook the transport calls per request, over the
 * policy the controller pushed (held in a PolicyStore, replaced atomically per snapshot).
 *
 *   outbound  HookRequest -> RequestInfo (core/request.ts: THE path normalisation)
 *             -> core routeOutbound(Service port policy of this pod's namespace) -> transport decision:
 *             forward (backend by weight, header ops, rewritten path/authority, timeout, mirrors),
 *             redirect, or core's reason (ROUTE_NOT_FOUND, UNSUPPORTED, BACKEND_UNRESOLVED, NOT_PERMITTED)
 *   inbound   HookRequest | null (opaque) -> core authorizeInbound(port policy) -> allow (the normalised
 *             path is what the app gets) or deny with core's reason (FORBIDDEN, ROUTE_NOT_FOUND, UNSUPPORTED)
 *
 * Statuses are nobody's business here: a reason becomes an HTTP / gRPC answer only in the responders,
 * through core/reasons.ts. The metric labels come from the route and rule the decision carries.
 *
 * Every decision carries an `observe` callback bound to its per-route metric series (RouteMetrics);
 * series are cached per compiled rule/backend object, so a request builds no label strings outbound.
 *
 * Invariants:
 * - A policy swap changes only what NEW requests see: a decision holds its own objects, so in-flight
 *   exchanges finish as decided.
 * - Until a port's inbound policy is known the port is not served: requests get 503 `not-ready`,
 *   opaque connections are closed (security case 26). The first request to an unknown port asks the
 *   store to watch it.
 * - Only the socket's peer address and the verified certificate identity feed authorization; request
 *   headers only select routes (case 18).
 */
import type { RequestInfo, RawRequest } from '../../core/request.js';
import { makeRequestInfo } from '../../core/request.js';
import { authorizeInbound, isKubeletProbe } from '../../core/inbound/authorize.js';
import { parseIp } from '../../core/cidr.js';
import { inboundRuleEffect } from '../../core/inbound/filters.js';
import type { InboundDecision as CoreInboundDecision } from '../../core/inbound/authorize.js';
import { routeOutbound } from '../../core/outbound/route.js';
import { routeGateway, routeGatewayPassthrough, type GatewayDecision } from '../../core/gateway/route.js';
import type { GatewayView } from '../../core/gateway/view.js';
import type { OutboundDecision as CoreOutboundDecision } from '../../core/outbound/route.js';
import type { RouteRef, RuleRef } from '../../core/outbound/route.js';
import { applyHeaderOps } from '../../core/routes/filters.js';
import type { ServiceTarget } from '../../core/routes/types.js';
import type { Reason } from '../../core/reasons.js';
import type { RouteMetrics, RouteSeries } from '../metrics.js';
import type { ServicePort } from '../io.js';
import type { ExchangeObserver, HookRequest, InboundContext, InboundAction, MirrorTarget, OutboundContext, OutboundAction, PolicyHook, GatewayPassthroughAction } from '../policy-hook.js';
import type { PortPolicyView, ServicePortPolicy } from './wire.js';
import { admit, retryAfterSeconds, type Limiter } from '../../core/inbound/limits.js';
import { PortLimiters } from './limiters.js';

/** The policy currently in force, per Service port (outbound) and per app port (inbound). */
export class PolicyStore {
  private readonly outbound = new Map<string, ServicePortPolicy>();
  private readonly inbound = new Map<number, PortPolicyView>();
  private readonly asked = new Set<number>();
  /** The state of each port's InboundLimitPolicies, kept across snapshots. */
  readonly limiters = new PortLimiters();
  /** Called once per app port the proxy saw traffic for without knowing its policy. */
  onUnknownPort: (port: number) => void = () => undefined;

  setOutbound(sp: ServicePort, p: ServicePortPolicy | undefined): void {
    const k = spKey(sp);
    if (p === undefined) this.outbound.delete(k);
    else this.outbound.set(k, p);
  }

  outboundFor(sp: ServicePort): ServicePortPolicy | undefined {
    return this.outbound.get(spKey(sp));
  }

  setInbound(port: number, view: PortPolicyView): void {
    this.limiters.sync(port, view.policy);
    this.inbound.set(port, view);
  }

  inboundFor(port: number): PortPolicyView | undefined {
    const v = this.inbound.get(port);
    if (v === undefined && !this.asked.has(port)) {
      this.asked.add(port);
      this.onUnknownPort(port);
    }
    return v;
  }

  /** Marks ports as watched already (the configured app ports). */
  watching(ports: Iterable<number>): void {
    for (const p of ports) this.asked.add(p);
  }

  hasInbound(port: number): boolean {
    return this.inbound.has(port);
  }
}

const keys = new WeakMap<ServicePort, string>();
function spKey(sp: ServicePort): string {
  let k = keys.get(sp);
  if (k === undefined) keys.set(sp, (k = `${sp.namespace}/${sp.name}:${sp.port}`));
  return k;
}

function pairs(flat: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

/** HookRequest -> RequestInfo through core's one normalisation. */
function requestInfo(req: HookRequest): ReturnType<typeof makeRequestInfo> {
  const h2 = req.protocol !== 'http1';
  let headers: RawRequest['headers'];
  if (req.rawHeaders !== undefined) headers = pairs(req.rawHeaders);
  else {
    const out: [string, string][] = [];
    for (const name of ['host', 'content-type']) {
      const v = req.header(name);
      if (typeof v === 'string') out.push([name, v]);
    }
    headers = out;
  }
  return makeRequestInfo({ method: req.method, target: req.path, headers, ...(h2 ? { authority: req.authority } : {}) });
}

function headerList(headers: ReadonlyMap<string, readonly string[]>): [string, string][] {
  const list: [string, string][] = [];
  for (const [name, values] of headers) for (const v of values) list.push([name, v]);
  return list;
}

function target(path: string, rawQuery: string): string {
  return rawQuery === '' ? path : `${path}?${rawQuery}`;
}

export interface PolicyHookOptions {
  readonly store: PolicyStore;
  readonly metrics: RouteMetrics;
  /** Random source in [0, 1) for weights and mirror fractions (tests seed it). */
  readonly random?: () => number;
  /** Monotonic milliseconds for the inbound token buckets (tests pass their own). */
  readonly now?: () => number;
  /** `weft gateway`: the Gateway's current view (undefined until the controller sent one). */
  readonly gateway?: () => GatewayView | undefined;
}

type RoutedDecision = Exclude<CoreOutboundDecision, { readonly kind: 'passthrough' }>;

interface DecisionSeries {
  backend(backend: ServiceTarget, route: RouteRef, rule: RuleRef): RouteSeries;
  rule(route: RouteRef, rule: RuleRef): RouteSeries;
  unrouted(): RouteSeries;
}

export function createPolicyHook(o: PolicyHookOptions): PolicyHook {
  const { store, metrics } = o;
  const random = o.random ?? Math.random;
  const now = o.now ?? (() => performance.now());
  const series = new WeakMap<object, RouteSeries>();
  const seriesFor = (key: object, make: () => RouteSeries): RouteSeries => {
    let s = series.get(key);
    if (s === undefined) series.set(key, (s = make()));
    return s;
  };
  const observer = (s: RouteSeries): ExchangeObserver => (outcome) => s.record(outcome);

  const serviceLabels = (sp: ServicePort) => ({ service_namespace: sp.namespace, service_name: sp.name, service_port: String(sp.port) });
  const noRoute = (sp: ServicePort) => ({ ...serviceLabels(sp), route_kind: 'none', route_namespace: '', route_name: '', route_rule: '', backend_namespace: '', backend_name: '', backend_port: '' });
  const ruleLabels = (sp: ServicePort, route: RouteRef, rule: RuleRef, backend: ServiceTarget | undefined) => ({
    ...serviceLabels(sp), route_kind: route.kind, route_namespace: route.namespace, route_name: route.name, route_rule: rule.name ?? String(rule.index),
    backend_namespace: backend?.namespace ?? '', backend_name: backend?.name ?? '', backend_port: backend !== undefined ? String(backend.port) : '',
  });

  /** A rule's series without a backend (redirects, errors); core hands back one RuleRef per compiled rule. */
  const ruleSeries = (sp: ServicePort, route: RouteRef, rule: RuleRef): RouteSeries => seriesFor(rule, () => metrics.outbound(ruleLabels(sp, route, rule, undefined)));

  const route = (ctx: OutboundContext, req: HookRequest): OutboundAction => {
    const sp = ctx.target;
    const entry = store.outboundFor(sp);
    const unrouted = (): RouteSeries => seriesFor(entry ?? sp, () => metrics.outbound(noRoute(sp)));
    const built = requestInfo(req);
    if (!built.ok) return { kind: 'error', code: 'BAD_REQUEST', message: built.reason, observe: observer(unrouted()) };
    const info = built.request;
    if (entry === undefined) {
      // No policy for this Service port (a destination known only to discovery): pass through.
      return { kind: 'forward', backend: sp, path: target(info.path, info.rawQuery), observe: observer(unrouted()) };
    }
    if (entry.unsupported !== undefined) return { kind: 'error', code: 'UNSUPPORTED', message: entry.unsupported, observe: observer(unrouted()) };
    // One draw per routed request, whether or not a weighted pick needs it (seeded tests rely on the sequence).
    const r = random();
    // FaultInjection filters draw from the same source, after it (only routes that have them).
    const d: CoreOutboundDecision = routeOutbound(entry.policy, info, () => r, { faultRand: random });
    if (d.kind === 'passthrough') return { kind: 'forward', backend: sp, path: target(info.path, info.rawQuery), observe: observer(unrouted()) };
    return actionOf(d, info, {
      backend: (backend, route, rule) => seriesFor(backend, () => metrics.outbound(ruleLabels(sp, route, rule, backend))),
      rule: (route, rule) => ruleSeries(sp, route, rule),
      unrouted,
    });
  };

  /** A routed decision (the sidecar's or the gateway's) as the transport's action, with its metric series. */
  const actionOf = (d: RoutedDecision | GatewayDecision, info: RequestInfo, series: DecisionSeries): OutboundAction => {
    switch (d.kind) {
      case 'forward': {
        const backend = d.backend;
        const s = series.backend(backend, d.route, d.rule);
        const t = d.timeouts;
        let mirrors: MirrorTarget[] | undefined;
        for (const m of d.mirrors) {
          if (m.numerator < m.denominator && random() * m.denominator >= m.numerator) continue;
          (mirrors ??= []).push({ backend: m.target });
        }
        return {
          kind: 'forward',
          backend,
          path: target(d.path, info.rawQuery),
          ...(d.hostRewritten ? { authority: d.authority } : {}),
          ...(d.requestHeaderOps.length > 0 ? { requestHeaders: d.requestHeaderOps } : {}),
          ...(d.responseHeaderOps.length > 0 ? { responseHeaders: d.responseHeaderOps } : {}),
          ...(t.requestMs !== undefined ? { timeoutMs: t.requestMs } : {}),
          ...(t.backendRequestMs !== undefined ? { attemptTimeoutMs: t.backendRequestMs } : {}),
          ...(d.retry !== undefined ? { retry: d.retry } : {}),
          ...(mirrors !== undefined ? { mirrors } : {}),
          ...(d.delayMs !== undefined ? { delayMs: d.delayMs } : {}),
          observe: observer(s),
        };
      }
      case 'abort': {
        const s = series.rule(d.route, d.rule);
        const headers = applyHeaderOps(new Map([['content-type', ['text/plain']]]), d.responseHeaderOps);
        return { kind: 'respond', status: d.status, headers: headerList(headers), body: `fault injected by ${d.fault}\n`, observe: observer(s) };
      }
      case 'redirect': {
        const s = series.rule(d.route, d.rule);
        const headers = applyHeaderOps(new Map([['location', [d.location]]]), d.responseHeaderOps);
        return { kind: 'respond', status: d.status, headers: headerList(headers), observe: observer(s) };
      }
      case 'preflight': {
        const s = series.rule(d.route, d.rule);
        return { kind: 'respond', status: d.status, headers: headerList(applyHeaderOps(new Map(), d.responseHeaderOps)), observe: observer(s) };
      }
      case 'error': {
        const s = d.route !== undefined && d.rule !== undefined ? series.rule(d.route, d.rule) : series.unrouted();
        return { kind: 'error', code: d.code, message: d.message, observe: observer(s) };
      }
    }
  };

  /**
   * The gateway's routing (`weft gateway`): core's routeGateway over the Gateway's current view, for a
   * request that arrived on `port`. Metric series as the sidecar's outbound ones, the `service_*`
   * labels naming the Gateway and the listener's port.
   */
  const gatewayRoute = (port: number, req: HookRequest, tlsListener?: string): OutboundAction => {
    const view = o.gateway?.();
    const gwLabels = { service_namespace: view?.namespace ?? '', service_name: view?.name ?? '', service_port: String(port) };
    const none = { ...gwLabels, route_kind: 'none', route_namespace: '', route_name: '', route_rule: '', backend_namespace: '', backend_name: '', backend_port: '' };
    const unrouted = (): RouteSeries => metrics.outbound(none);
    const built = requestInfo(req);
    if (!built.ok) return { kind: 'error', code: 'BAD_REQUEST', message: built.reason, observe: observer(unrouted()) };
    if (view === undefined) return { kind: 'error', code: 'NOT_READY', message: 'the gateway has not received its configuration yet', observe: observer(unrouted()) };
    const info = built.request;
    const r = random();
    const d = routeGateway(view, port, info, () => r, { faultRand: random }, tlsListener !== undefined ? { tls: { listener: tlsListener } } : {});
    const labels = (route: RouteRef, rule: RuleRef, backend: ServiceTarget | undefined) => ({
      ...gwLabels, route_kind: route.kind, route_namespace: route.namespace, route_name: route.name, route_rule: rule.name ?? String(rule.index),
      backend_namespace: backend?.namespace ?? '', backend_name: backend?.name ?? '', backend_port: backend !== undefined ? String(backend.port) : '',
    });
    return actionOf(d, info, {
      backend: (backend, route, rule) => seriesFor(backend, () => metrics.outbound(labels(route, rule, backend))),
      rule: (route, rule) => seriesFor(rule, () => metrics.outbound(labels(route, rule, undefined))),
      unrouted,
    });
  };

  const authorize = (ctx: InboundContext, req: HookRequest | null): InboundAction => {
    const clientId = ctx.tls && ctx.peerIdentity !== undefined ? ctx.peerIdentity : 'unauthenticated';
    const port = String(ctx.port);
    const view = store.inboundFor(ctx.port);
    const record = (labels: { server: string; route: string; authorization: string; decision: string }, outcome?: { error?: Reason; status?: number }): ExchangeObserver => {
      const s = metrics.inbound({ target_port: port, ...labels }, clientId, ctx.tls);
      if (req === null) {
        // An opaque connection is decided once: counted now, with no HTTP status.
        s.record({ status: 0, grpcStatus: undefined, error: outcome?.error, durationMs: 0 });
        return () => undefined;
      }
      return observer(s);
    };
    if (view === undefined) {
      const observe = record({ server: '', route: '', authorization: '', decision: 'deny' }, { error: 'NOT_READY' });
      return { kind: 'deny', code: 'NOT_READY', observe };
    }
    let info: RequestInfo | undefined;
    if (req !== null) {
      const built = requestInfo(req);
      if (!built.ok) {
        const observe = record({ server: view.serverLabel, route: '', authorization: '', decision: 'deny' });
        return { kind: 'deny', code: 'BAD_REQUEST', observe };
      }
      info = built.request;
    }
    const d: CoreInboundDecision = authorizeInbound(view.policy, {
      ...(ctx.peerIdentity !== undefined ? { clientIdentity: ctx.peerIdentity } : {}),
      tls: ctx.tls,
      clientIp: ctx.clientIp,
      ...(info !== undefined ? { req: info } : {}),
    });
    const a = d.authorization;
    let authorization = '';
    if (a?.kind === 'AuthorizationPolicy') authorization = view.authorizationLabels.get(a.name) ?? a.name;
    else if (a?.kind === 'probe') authorization = 'probe';
    else if (a !== undefined && (d.allowed || view.policy.server === undefined)) authorization = `default:${d.audit === true ? 'audit' : view.defaultPolicy}`;
    const labels = { server: view.serverLabel, route: d.route ?? '', authorization, decision: d.allowed ? (d.audit === true ? 'audit' : 'allow') : 'deny' };
    if (d.allowed) {
      if (info === undefined) return { kind: 'allow', observe: record(labels) };
      const effect = d.selection === undefined ? undefined : inboundRuleEffect(d.selection, info, ctx.port);
      // Inbound limits count what reaches the app: HTTP requests forwarded, after authorization. Kubelet
      // probes are exempt, as from authorization: a busy pod must not be restarted for being busy.
      let release: (() => void) | undefined;
      if (effect === undefined || effect.kind === 'forward') {
        const applying: Limiter[] = [];
        const serverLimits = view.policy.limits;
        const routeLimits = d.selection === undefined ? undefined : view.policy.routePolicies.get(d.selection.route)?.limits;
        for (const l of [serverLimits, routeLimits]) {
          const st = l === undefined ? undefined : store.limiters.of(l);
          if (st !== undefined) applying.push(st);
        }
        if (applying.length > 0 && !isKubeletProbe(view.policy, info, parseIp(ctx.clientIp))) {
          const a = admit(applying, now());
          if (!a.ok) {
            const lim = a.limiter.limits;
            metrics.limited({ target_port: port, server: view.serverLabel, route: d.route ?? '', policy: lim.name, reason: a.code === 'RATE_LIMITED' ? 'rate' : 'concurrency' });
            const observe = record(labels, { error: a.code });
            const headers: [string, string][] | undefined = a.retryAfterMs !== undefined ? [['retry-after', String(retryAfterSeconds(a.retryAfterMs))]] : undefined;
            return { kind: 'deny', code: a.code, ...(headers !== undefined ? { headers } : {}), observe };
          }
          release = a.release;
        }
      }
      const observe = record(labels);
      const held = release !== undefined ? { release } : {};
      if (d.selection === undefined || effect === undefined) return { kind: 'allow', path: target(info.path, info.rawQuery), observe, ...held };
      switch (effect.kind) {
        case 'redirect':
          return { kind: 'respond', status: effect.status, headers: headerList(applyHeaderOps(new Map([['location', [effect.location]]]), effect.responseHeaderOps)), observe };
        case 'preflight':
          return { kind: 'respond', status: effect.status, headers: headerList(applyHeaderOps(new Map(), effect.responseHeaderOps)), observe };
        case 'unsupported':
          // authorizeInbound already refuses such a rule; kept so a future filter cannot pass unenforced.
          return { kind: 'deny', code: 'UNSUPPORTED', observe };
        case 'forward':
          return {
            kind: 'allow',
            path: target(effect.path, info.rawQuery),
            ...(effect.requestHeaderOps.length > 0 ? { requestHeaders: effect.requestHeaderOps } : {}),
            ...(effect.responseHeaderOps.length > 0 ? { responseHeaders: effect.responseHeaderOps } : {}),
            ...(effect.authority !== undefined ? { authority: effect.authority } : {}),
            ...(effect.timeouts.requestMs !== undefined ? { timeoutMs: effect.timeouts.requestMs } : {}),
            ...(effect.timeouts.backendRequestMs !== undefined ? { attemptTimeoutMs: effect.timeouts.backendRequestMs } : {}),
            ...(effect.retry !== undefined ? { retry: effect.retry } : {}),
            observe,
            ...held,
          };
      }
    }
    const code = d.code ?? 'FORBIDDEN';
    const observe = record(labels, { error: code });
    return { kind: 'deny', code, observe };
  };

  const opaque = (port: number): boolean => store.inboundFor(port)?.policy.protocol === 'opaque';
  /** The gateway's TLS passthrough (`weft gateway`, TLSRoute): core's routeGatewayPassthrough per connection. */
  const gatewayPassthrough = (port: number, sni: string | undefined): GatewayPassthroughAction | undefined => {
    const view = o.gateway?.();
    const gwLabels = { service_namespace: view?.namespace ?? '', service_name: view?.name ?? '', service_port: String(port) };
    const tlsSeries = (route: { readonly namespace: string; readonly name: string } | undefined, backend: ServiceTarget | undefined) => metrics.outbound({
      ...gwLabels, route_kind: route === undefined ? 'none' : 'tls', route_namespace: route?.namespace ?? '', route_name: route?.name ?? '', route_rule: route === undefined ? '' : '0',
      backend_namespace: backend?.namespace ?? '', backend_name: backend?.name ?? '', backend_port: backend !== undefined ? String(backend.port) : '',
    });
    if (view === undefined) return { kind: 'error', code: 'NOT_READY', message: 'the gateway has not received its configuration yet', observe: observer(tlsSeries(undefined, undefined)) };
    const d = routeGatewayPassthrough(view, port, sni, random);
    if (d === undefined) return undefined;
    if (d.kind === 'error') return { kind: 'error', code: d.code, message: d.message, observe: observer(tlsSeries(d.route, undefined)) };
    return { kind: 'forward', backend: { namespace: d.backend.namespace, name: d.backend.name, port: d.backend.port }, observe: observer(tlsSeries(d.route, d.backend)) };
  };

  return { outbound: { route }, inbound: { authorize, opaque }, gateway: { route: gatewayRoute, passthrough: gatewayPassthrough } };
}
