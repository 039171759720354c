/**
 * The state of the inbound limits (InboundLimitPolicy) a proxy enforces: one token bucket and one
 * in-flight count per limit of each app port. Core decides (core/inbound/limits.ts); this module keeps
 * the state across policy snapshots; `admit` (core) decides per request.
 *
 * Invariants:
 * - A new snapshot of a port keeps the state of every limit it still has with the same values (a
 *   route added elsewhere resets nobody's bucket); a limit whose values changed starts afresh, and its
 *   requests in flight release the state they took.
 * - Only limits present in a port's current snapshot are remembered (bounded by the policy).
 */
import { InFlight, TokenBucket } from '../../core/inbound/limits.js';
import type { CompiledLimits, Limiter } from '../../core/inbound/limits.js';
import type { InboundPortPolicy } from '../../core/inbound/types.js';

function identity(l: CompiledLimits): string {
  return `${l.namespace}/${l.name}>${l.target.kind}/${l.target.name}`;
}

export class PortLimiters {
  private readonly buckets = new Map<number, Map<string, TokenBucket>>();
  private readonly inFlights = new Map<number, Map<string, InFlight>>();
  private readonly byLimits = new WeakMap<CompiledLimits, Limiter>();

  /** Takes the limits of a port's new snapshot, keeping the state of those that did not change. */
  sync(port: number, policy: InboundPortPolicy): void {
    const oldBuckets = this.buckets.get(port);
    const oldInFlights = this.inFlights.get(port);
    const buckets = new Map<string, TokenBucket>();
    const inFlights = new Map<string, InFlight>();
    const all = [policy.limits, ...[...policy.routePolicies.values()].map((r) => r.limits)];
    for (const l of all) {
      if (l === undefined) continue;
      const id = identity(l);
      let bucket: TokenBucket | undefined;
      if (l.rate !== undefined) {
        const k = `${id}|${l.rate.requestsPerSecond}|${l.rate.burst}`;
        bucket = buckets.get(k) ?? oldBuckets?.get(k) ?? new TokenBucket(l.rate.requestsPerSecond, l.rate.burst);
        buckets.set(k, bucket);
      }
      let inFlight: InFlight | undefined;
      if (l.concurrency !== undefined) {
        const k = `${id}|${l.concurrency.maxInFlight}`;
        inFlight = inFlights.get(k) ?? oldInFlights?.get(k) ?? new InFlight(l.concurrency.maxInFlight);
        inFlights.set(k, inFlight);
      }
      this.byLimits.set(l, { limits: l, ...(bucket !== undefined ? { bucket } : {}), ...(inFlight !== undefined ? { inFlight } : {}) });
    }
    this.buckets.set(port, buckets);
    this.inFlights.set(port, inFlights);
  }

  of(l: CompiledLimits): Limiter | undefined {
    return this.byLimits.get(l);
  }
}
