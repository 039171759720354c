/**
 * Bounds concurrent TokenReviews: at most `concurrency` run, at most `queue` wait; a call beyond that
 * is refused at once (overloaded) rather than piling up on the API server. A proxy whose Certify is
 * refused retries with backoff, which spreads a fleet restart over time.
 */
import { CertifyRefusal } from './refusal.js';

export class ConcurrencyLimiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly queue: number,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queue) {
        throw new CertifyRefusal('overloaded', `too many certificate requests in progress (${this.running} running, ${this.waiting.length} waiting); retry later`);
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter (running stays the same), else release it.
      if (next !== undefined) next();
      else this.running--;
    }
  }
}
