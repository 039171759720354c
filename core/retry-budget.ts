/**
 * A retry budget per destination, so that retries cannot multiply the load on a failing backend.
 *
 * Model (Gateway API XBackendTrafficPolicy `retryConstraint`): two allowances that add up. A retry is
 * granted by the percentage while the retries it granted over the last `intervalMs` stay within
 * `percent` of the requests of that interval; otherwise by the minimum rate while the retries that one
 * granted over the last `minIntervalMs` stay under `minRetries` (so low traffic stays retryable).
 * Without a policy the default is Linkerd's: 20% of requests plus 10 retries per second, over 10 s.
 * Over any stretch of T seconds the retries granted are at most percent% of the requests of the
 * interval plus about minRetries per minIntervalMs.
 *
 * Time is passed in (ms, monotonic), so the budget is a deterministic state machine: the proxy owns one
 * per destination and forgets it with the destination. Counts live in BUCKETS buckets per window, so
 * memory is fixed and an old burst leaves the window one bucket at a time.
 */

export interface RetryBudgetConfig {
  /** Retries may be at most this percentage (0-100) of the requests of `intervalMs`. */
  readonly percent: number;
  readonly intervalMs: number;
  /** Retries always allowed per `minIntervalMs`, whatever the percentage says. */
  readonly minRetries: number;
  readonly minIntervalMs: number;
}

/** The CRD's defaults (budget 20% over 10 s, minRetryRate 10 per 1 s), also Linkerd's default budget. */
export const DEFAULT_RETRY_BUDGET: RetryBudgetConfig = Object.freeze({ percent: 20, intervalMs: 10_000, minRetries: 10, minIntervalMs: 1000 });

const BUCKETS = 10;

/** Events counted over a sliding window of BUCKETS buckets. */
export class SlidingCounter {
  private readonly counts = new Array<number>(BUCKETS).fill(0);
  private readonly bucketMs: number;
  private head = 0;
  private headStart = Number.NEGATIVE_INFINITY;
  private sum = 0;

  constructor(windowMs: number) {
    this.bucketMs = Math.max(1, windowMs / BUCKETS);
  }

  private advance(now: number): void {
    if (now < this.headStart + this.bucketMs) return;
    const steps = this.headStart === Number.NEGATIVE_INFINITY ? BUCKETS : Math.floor((now - this.headStart) / this.bucketMs);
    for (let i = 0; i < Math.min(steps, BUCKETS); i++) {
      this.head = (this.head + 1) % BUCKETS;
      this.sum -= this.counts[this.head] ?? 0;
      this.counts[this.head] = 0;
    }
    this.headStart = this.headStart === Number.NEGATIVE_INFINITY ? now : this.headStart + steps * this.bucketMs;
  }

  add(now: number, n = 1): void {
    this.advance(now);
    this.counts[this.head] = (this.counts[this.head] ?? 0) + n;
    this.sum += n;
  }

  total(now: number): number {
    this.advance(now);
    return this.sum;
  }
}

export class RetryBudget {
  private readonly requests: SlidingCounter;
  /** Retries the percentage granted, over `intervalMs`. */
  private readonly retries: SlidingCounter;
  /** Retries the minimum rate granted, over `minIntervalMs`. */
  private readonly recentRetries: SlidingCounter;
  /** Retries refused since the budget was made (for metrics). */
  denied = 0;

  constructor(readonly config: RetryBudgetConfig = DEFAULT_RETRY_BUDGET) {
    this.requests = new SlidingCounter(config.intervalMs);
    this.retries = new SlidingCounter(config.intervalMs);
    this.recentRetries = new SlidingCounter(config.minIntervalMs);
  }

  /** Counts one request (its first attempt) to the destination. */
  request(now: number): void {
    this.requests.add(now);
  }

  /** Whether one more retry may be sent now; a granted retry is counted, a refused one too. */
  tryRetry(now: number): boolean {
    const c = this.config;
    if (this.retries.total(now) + 1 <= (c.percent / 100) * this.requests.total(now)) {
      this.retries.add(now);
      return true;
    }
    if (this.recentRetries.total(now) < c.minRetries) {
      this.recentRetries.add(now);
      return true;
    }
    this.denied++;
    return false;
  }
}
