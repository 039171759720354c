/**
 * One plan per request, protocol-neutral: what a listener does with a request it has parsed.
 *
 *   HookRequest -> Direction.plan -> forward: where (an endpoint picker), the target and authority to
 *                                    send, header operations, response header operations, the deadline,
 *                                    mirrors, the route's metric observer
 *                                 -> answer: a synthetic answer (a reason, or the policy's own response)
 *                                 -> undefined: the policy hook threw (the responder's policyFailed)
 *
 * The outbound direction plans with PolicyHook.outbound.route (a Service port) or forwards to the pod
 * the app dialled; the inbound one with PolicyHook.inbound.authorize, always to its app. The protocol
 * adapters (proxy/adapters/) turn a plan into an exchange; the responders (proxy/respond.ts) render the
 * answers. A Direction carries what differs between the two listeners, and nothing else does.
 */
import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Reason } from '../core/reasons.js';
import type { RetryPolicy } from '../core/retry.js';
import type { EndpointState } from './balancer.js';
import type { ProxyDeps } from './deps.js';
import { applyFlatHeaderOps, applyResponseHeaderOps, isSafeHeaderValue, setHost } from './headers.js';
import type { Upstream } from './http1-exchange.js';
import type { DirectionStats } from './metrics.js';
import type { EndpointPicker } from './picker.js';
import type { ExchangeObserver, HeaderOps, HookRequest, OutboundAction } from './policy-hook.js';
import type { ServicePort } from './io.js';
import { isRetired } from './pool.js';
import { h2Responder, http1Responder, upgradeResponder } from './respond.js';
import type { H2Sink, Responder, Synthetic } from './respond.js';

export interface ForwardPlan {
  readonly kind: 'forward';
  /** Where each attempt goes. */
  readonly picker: EndpointPicker;
  /** The target to send (normalised, rewritten; query included). Absent: as received. */
  readonly path?: string | undefined;
  /** The Host / :authority to send (URLRewrite hostname). Absent: as received. */
  readonly authority?: string | undefined;
  /** Applied in order; within one: set, add, remove. */
  readonly requestHeaders?: readonly HeaderOps[] | undefined;
  /** Set after the operations, values already checked (inbound: weft-client-id from the certificate). */
  readonly extraHeaders?: readonly (readonly [string, string])[] | undefined;
  /** Applied to the upstream's response headers, in order. */
  readonly responseHeaders?: readonly HeaderOps[] | undefined;
  /** Bounds the whole exchange, every attempt and backoff included: expiry answers UPSTREAM_TIMEOUT. */
  readonly timeoutMs?: number | undefined;
  /** Bounds each attempt (`timeouts.backendRequest`); an attempt that hits it may be retried. */
  readonly attemptTimeoutMs?: number | undefined;
  /** The route's retry policy (HTTPRoute `retry`); the picker's budget bounds it. */
  readonly retry?: RetryPolicy | undefined;
  /** Fire-and-forget copies of the request (RequestMirror). */
  readonly mirrors?: readonly EndpointPicker[] | undefined;
  /** A FaultInjection delay: the request waits this long before anything is sent (timeouts start after). */
  readonly delayMs?: number | undefined;
  readonly observe?: ExchangeObserver | undefined;
  /** Called once when the downstream side of the exchange closes (an inbound concurrency limit's slot). */
  readonly onClose?: (() => void) | undefined;
}

/** A routing action (the sidecar's outbound or the gateway's) as a plan; `pickerFor` gives each Service port's picker. */
export function planOfAction(a: OutboundAction, pickerFor: (sp: ServicePort) => EndpointPicker): Plan {
  switch (a.kind) {
    case 'respond':
      return { kind: 'answer', answer: { kind: 'respond', status: a.status, headers: a.headers, body: a.body }, observe: a.observe };
    case 'error':
      return { kind: 'answer', answer: { kind: 'reason', code: a.code }, observe: a.observe };
    case 'forward':
      return {
        kind: 'forward',
        picker: pickerFor(a.backend),
        path: a.path,
        authority: a.authority,
        requestHeaders: a.requestHeaders === undefined ? undefined : opsList(a.requestHeaders),
        responseHeaders: a.responseHeaders,
        timeoutMs: a.timeoutMs,
        attemptTimeoutMs: a.attemptTimeoutMs,
        retry: a.retry,
        mirrors: a.mirrors?.map((m) => pickerFor(m.backend)),
        delayMs: a.delayMs,
        observe: a.observe,
      };
  }
}

function opsList(ops: HeaderOps | readonly HeaderOps[]): readonly HeaderOps[] {
  return Array.isArray(ops) ? (ops as readonly HeaderOps[]) : [ops as HeaderOps];
}

/** Runs `go` after the plan's fault delay (at once without one), unless the client went away meanwhile. */
export function afterFaultDelay(plan: ForwardPlan, alive: () => boolean, go: () => void): void {
  if (plan.delayMs === undefined || plan.delayMs <= 0) {
    go();
    return;
  }
  setTimeout(() => {
    if (alive()) go();
  }, plan.delayMs).unref();
}

export interface AnswerPlan {
  readonly kind: 'answer';
  readonly answer: Synthetic;
  readonly observe?: ExchangeObserver | undefined;
}

export type Plan = ForwardPlan | AnswerPlan;

/** What differs between the outbound and the inbound listener, for the protocol adapters. */
export interface Direction<C> {
  readonly stats: DirectionStats;
  readonly deps: ProxyDeps;
  /** The error answered when no connection to an upstream could be made. */
  readonly connectError: Reason;
  /** Request bodies up to this many bytes are kept to be sent again (0: never). */
  readonly replayBytes: number;
  /** Whether a request header name with `_` is refused, dropped or kept (inbound); absent: kept. */
  readonly underscores?: ProxyDeps['limits']['headersWithUnderscores'] | undefined;
  /**
   * A gateway: the HTTP version to the backend is the backend's (core/gateway/upstream-protocol.ts),
   * not the client's; an HTTP/2 request to an HTTP/1.1 backend is translated. The sidecar keeps the app's.
   */
  readonly followsBackendHttpVersion?: boolean | undefined;
  /** HTTP/2: CONNECT is refused before the header fields are checked (outbound) or after (inbound). */
  readonly connectBeforeFieldCheck: boolean;
  readonly http1: Responder<ServerResponse>;
  readonly upgrade: Responder<Duplex>;
  readonly h2: Responder<H2Sink>;
  readonly upstreams: Http1Upstreams;
  readonly draining: () => boolean;
  /** Hands a socket back to the HTTP/1 server (after an upgrade the upstream did not accept). */
  readonly resumeHttp1: (socket: Duplex) => void;
  plan(conn: C, req: HookRequest): Plan | undefined;
}

/** What a listener says of its direction; createDirection adds the responders and the upstream cache. */
export type DirectionOptions<C> = Omit<Direction<C>, 'http1' | 'upgrade' | 'h2' | 'upstreams'> & {
  /** HTTP/1 accounting of the plan's refusals (proxy/respond.ts ResponderOptions). */
  readonly countRefusals: boolean;
  readonly closeOnBadRequest: boolean;
};

export function createDirection<C>(o: DirectionOptions<C>): Direction<C> {
  const { stats, plan } = o;
  return {
    stats, deps: o.deps, connectError: o.connectError, replayBytes: o.replayBytes, underscores: o.underscores,
    connectBeforeFieldCheck: o.connectBeforeFieldCheck, followsBackendHttpVersion: o.followsBackendHttpVersion, draining: o.draining, resumeHttp1: o.resumeHttp1,
    http1: http1Responder({ stats, countRefusals: o.countRefusals, closeOnBadRequest: o.closeOnBadRequest }),
    upgrade: upgradeResponder({ stats }),
    h2: h2Responder({ stats }),
    upstreams: new Http1Upstreams(o.deps.pools),
    plan: (conn, req) => plan(conn, req),
  };
}

/**
 * The client side's direction (the sidecar's outbound listener and the gateway's listeners): an
 * upstream that cannot be reached is CONNECT_FAILED, bodies up to the retry bound are kept to be sent
 * again, HTTP/2 CONNECT is refused before the fields are checked, refusals are counted, and a bad
 * request does not close the connection.
 */
export function clientSideDirection<C>(
  deps: ProxyDeps,
  o: Pick<DirectionOptions<C>, 'draining' | 'resumeHttp1' | 'plan' | 'followsBackendHttpVersion'>,
): Direction<C> {
  return createDirection<C>({
    stats: deps.stats.outbound, deps, connectError: 'CONNECT_FAILED', replayBytes: deps.limits.maxRetryBodyBytes, connectBeforeFieldCheck: true,
    followsBackendHttpVersion: o.followsBackendHttpVersion,
    countRefusals: true, closeOnBadRequest: false, draining: o.draining,
    resumeHttp1: o.resumeHttp1,
    plan: (conn, req) => o.plan(conn, req),
  });
}

/**
 * Plans a request and, when the plan is an answer (or the policy hook threw), has the protocol's
 * responder write it. Returns the plan to forward, or undefined when the request is answered.
 */
export function forwardPlan<C, S>(dir: Direction<C>, conn: C, req: HookRequest, answer: { readonly responder: Responder<S>; readonly sink: S }): ForwardPlan | undefined {
  const plan = dir.plan(conn, req);
  if (plan === undefined) {
    answer.responder.policyFailed(answer.sink);
    return undefined;
  }
  if (plan.kind === 'answer') {
    answer.responder.answer(answer.sink, plan.answer, plan.observe);
    return undefined;
  }
  return plan;
}

/** The plan's header changes on an HTTP/1 header list (flat `[name, value, ...]`). */
export function applyPlanHttp1(headers: string[], p: ForwardPlan): void {
  if (p.requestHeaders !== undefined) applyFlatHeaderOps(headers, p.requestHeaders);
  if (p.authority !== undefined && isSafeHeaderValue(p.authority)) setHost(headers, p.authority);
  if (p.extraHeaders !== undefined) for (const [k, v] of p.extraHeaders) headers.push(k, v);
}

/** The plan's header changes on an HTTP/2 header object (pseudo-headers included). */
export function applyPlanH2(headers: Record<string, string | string[]>, p: ForwardPlan): void {
  if (p.requestHeaders !== undefined) applyResponseHeaderOps(headers, p.requestHeaders);
  if (p.path !== undefined) headers[':path'] = p.path;
  if (p.authority !== undefined && isSafeHeaderValue(p.authority)) headers[':authority'] = p.authority;
  if (p.extraHeaders !== undefined) for (const [k, v] of p.extraHeaders) headers[k] = v;
}

/** The pooled HTTP/1 upstream of each endpoint state, so a request builds no pool key. */
export class Http1Upstreams {
  private readonly upstreams = new WeakMap<EndpointState, Upstream>();
  constructor(private readonly pools: ProxyDeps['pools']) {}

  of(st: EndpointState): Upstream {
    let up = this.upstreams.get(st);
    // A pool the idle sweep closed is replaced (UpstreamPools.sweep).
    if (up === undefined || isRetired(up)) {
      const ep = st.endpoint;
      this.upstreams.set(st, (up = { dispatcher: this.pools.http1(ep), state: st, fresh: (): Dispatcher => this.pools.oneShot(ep) }));
    }
    return up;
  }
}
