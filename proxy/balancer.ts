/**
 * Load balancing over the ready endpoints of one Service port: power of two choices over a
 * latency EWMA weighted by in-flight requests (the "peak EWMA" idea of Finagle and Linkerd).
 *
 *   cost(e) = ewmaMs(e) * (inFlight(e) + 1)      pick two at random, send to the cheaper
 *
 * An endpoint whose connection just failed is penalised for PENALTY_MS: it is only picked when every
 * other candidate is penalised too. Endpoint state survives discovery updates for endpoints that stay.
 */
import { DEFAULT_RETRY_BUDGET, RetryBudget } from '../core/retry-budget.js';
import type { RetryBudgetConfig } from '../core/retry-budget.js';
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
  constructor(readonly endpoint: Endpoint, readonly key: string) {}

  cost(now: number): number {
    return (now < this.penaltyUntil ? 1e9 : 1) * this.ewmaMs * (this.inFlight + 1);
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
  return `${e.ip.includes(':') ? `[${e.ip}]` : e.ip}:${e.port}/${e.identity ?? ''}${e.source === undefined ? '' : `<${e.source}`}`;
}

export class Balancer {
  private states: EndpointState[] = [];
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
      return old.get(key) ?? new EndpointState(e, key);
    });
    this.known = true;
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
