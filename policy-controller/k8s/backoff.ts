/**
 * Jittered exponential backoff for watch restarts: the n-th consecutive failure waits a uniformly
 * random time in [base/2, base] with base = min(max, initial * 2^n) ("equal jitter"), so many
 * controllers restarting together against a recovering API server spread out.
 */
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const WATCH_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };

export class Backoff {
  private failures = 0;

  constructor(
    private readonly options: BackoffOptions = WATCH_BACKOFF,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures += 1;
    return Math.round(base / 2 + this.random() * (base / 2));
  }

  reset(): void {
    this.failures = 0;
  }

  get attempts(): number {
    return this.failures;
  }
}
