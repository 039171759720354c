/**
 * Load balancing over the ready endpoints of one Service port: power of two choices over a
 * latency EWMA weighted by in-flight requests (the "peak EWMA" idea of Finagle and Linkerd).
 *
 *   cost(e) = ewmaMs(e) * (inFlight(e) + 1)      pick two at random, send to the cheaper
 *
 * The average decays towards zero between answers (TAU_MS), so an endpoint left out of the draws
 * becomes cheap again and is tried (without it, one slow answer starved a pod under sequential load).
 *
 * An endpoint whose connection just failed is penalised for PENALTY_MS: it is only picked when every
 * other candidate is penalised too. Endpoint state survives discovery updates for endpoints that stay.
 *
 * Circuit breaking (a Service's failure-accrual annotations, core/failure-accrual.ts): an endpoint
 * ejected for failures in a row is left out of the draw until its penalty is over, then gets one
 * probe. When every candidate is ejected the draw is made over all of them (fail open): an outage of
 * every endpoint is answered by the endpoints, not by the proxy.
 */
import { DEFAULT_RETRY_BUDGET, RetryBudget } from '../core/retry-budget.js';
import type { RetryBudgetConfig } from '../core/retry-budget.js';
import { EndpointAccrual } from '../core/failure-accrual.js';
import type { FailureAccrualConfig } from '../core/failure-accrual.js';
import { performance } from 'node:perf_hooks';
import type { Endpoint } from './io.js';

/** How fast old latency observations fade: after TAU_MS they weigh 1/e. */
const TAU_MS = 10_000;
/** The latency assumed for an endpoint before its first answer: optimistic so new pods get traffic. */
const DEFAULT_RTT_MS = 1;
/** How long a connection failure keeps an endpoint out of the draw. */
const PENALTY_MS = 2_000;

export class EndpointState {
  ewmaMs = DEFAULT_RTT_MS;
  inFlight = 0;
  private lastAt = performance.now();
  penaltyUntil = 0;
  /** Circuit breaking, when the Service asks for it. */
  accrual: EndpointAccrual | undefined;
  /** Ejections counted for metrics (shared by every balancer of a proxy). */
  counters: AccrualCounters | undefined;
  constructor(public endpoint: Endpoint, readonly key: string) {}

  /** One finished attempt: a failure is a connection error, a timeout or a 5xx from the endpoint. */
  /** Returns true when this failure ejected the endpoint. */
  outcome(failed: boolean, now: number = performance.now()): boolean {
    const a = this.accrual;
    if (a === undefined) return false;
    if (!failed) {
      a.success();
      return false;
    }
    if (!a.failure(now)) return false;
    if (this.counters !== undefined) this.counters.ejections++;
    return true;
  }

  /**
   * The latency estimate now: it decays towards zero while the endpoint gets no answer, as Linkerd's
   * and Finagle's peak EWMA do, so an endpoint that once answered slowly is tried again instead of
   * losing every draw for good (with sequential requests nothing else would ever update it).
   */
  estimateMs(now: number): number {
    return this.ewmaMs * Math.exp(-Math.max(0, now - this.lastAt) / TAU_MS);
  }

  cost(now: number): number {
    return (now < this.penaltyUntil ? 1e9 : 1) * this.estimateMs(now) * (this.inFlight + 1);
  }

  /** Records one finished request's latency (peak-sensitive: a slower sample replaces the average). */
  observe(rttMs: number, now: number = performance.now()): void {
    if (rttMs > this.ewmaMs) {
      this.ewmaMs = rttMs;
    } else {
      const w = Math.exp(-(now - this.lastAt) / TAU_MS);
      this.ewmaMs = this.ewmaMs * w + rttMs * (1 - w);
    }
    this.lastAt = now;
  }

  fail(now: number = performance.now()): void {
    this.penaltyUntil = now + PENALTY_MS;
  }
}

export function endpointKey(e: Endpoint): string {
  return `${e.ip.includes(':') ? `[${e.ip}]` : e.ip}:${e.port}/${e.identity ?? ''}${e.source === undefined ? '' : `<${e.source}`}${e.tlsKey === undefined ? '' : `+tls:${e.tlsKey}`}`;
}

/** Circuit-breaking counts of one proxy's balancers (weft_proxy_endpoint_ejections_total). */
export class AccrualCounters {
  ejections = 0;
}

export class Balancer {
  private states: EndpointState[] = [];
  private accrualConfig: FailureAccrualConfig | undefined;
  counters: AccrualCounters | undefined;
  /** True once discovery has answered for this Service port (even with an empty set). */
  known = false;
  /** Route retries to this Service port (core/retry-budget.ts); forgotten with the balancer. */
  private budget = new RetryBudget();

  /** The retry budget, made anew (counts cleared) when the Service's policy changes it. */
  retryBudget(config: RetryBudgetConfig = DEFAULT_RETRY_BUDGET): RetryBudget {
    const c = this.budget.config;
    if (c !== config && (c.percent !== config.percent || c.intervalMs !== config.intervalMs || c.minRetries !== config.minRetries || c.minIntervalMs !== config.minIntervalMs)) {
      this.budget = new RetryBudget(config);
    }
    return this.budget;
  }

  constructor(private readonly random: () => number = Math.random) {}

  update(endpoints: readonly Endpoint[]): void {
    const old = new Map(this.states.map((s) => [s.key, s]));
    this.states = endpoints.map((e) => {
      const key = endpointKey(e);
      const st = old.get(key);
      if (st === undefined) return this.fresh(e, key);
      // The same connection key keeps its state; what else the controller says of it (the protocol hint) is the latest.
      st.endpoint = e;
      return st;
    });
    this.known = true;
  }

  private fresh(e: Endpoint, key: string): EndpointState {
    const st = new EndpointState(e, key);
    if (this.accrualConfig !== undefined) st.accrual = new EndpointAccrual(this.accrualConfig);
    st.counters = this.counters;
    return st;
  }

  /** Turns circuit breaking on, off or to new settings (counts start again) when the Service's differ. */
  configureAccrual(config: FailureAccrualConfig | undefined): void {
    const c = this.accrualConfig;
    if (c === config) return;
    if (c !== undefined && config !== undefined && c.maxFailures === config.maxFailures && c.minPenaltyMs === config.minPenaltyMs && c.maxPenaltyMs === config.maxPenaltyMs) return;
    this.accrualConfig = config;
    for (const st of this.states) st.accrual = config === undefined ? undefined : new EndpointAccrual(config);
  }

  /** Endpoints ejected now. */
  ejected(now: number = performance.now()): number {
    let n = 0;
    for (const st of this.states) if (st.accrual !== undefined && st.accrual.state === 'ejected' && now < st.accrual.ejectedUntil) n++;
    return n;
  }

  get size(): number {
    return this.states.length;
  }

  get endpoints(): readonly EndpointState[] {
    return this.states;
  }

  /** Picks an endpoint, never one in `exclude` (those already tried by this request). */
  pick(exclude?: ReadonlySet<EndpointState>): EndpointState | undefined {
    let list = this.states;
    if (exclude !== undefined && exclude.size > 0) list = list.filter((s) => !exclude.has(s));
    if (this.accrualConfig !== undefined && list.length > 0) {
      const now = performance.now();
      const open = list.filter((s) => s.accrual === undefined || s.accrual.available(now));
      if (open.length > 0) list = open;
    }
    const chosen = this.draw(list);
    chosen?.accrual?.sent();
    return chosen;
  }

  private draw(list: readonly EndpointState[]): EndpointState | undefined {
    const n = list.length;
    if (n === 0) return undefined;
    if (n === 1) return list[0];
    const i = Math.floor(this.random() * n);
    let j = Math.floor(this.random() * (n - 1));
    if (j >= i) j++;
    const a = list[i]!;
    const b = list[j]!;
    const now = performance.now();
    return a.cost(now) <= b.cost(now) ? a : b;
  }
}
