/**
 * Percentiles from cumulative histogram buckets, computed exactly as Prometheus' `histogram_quantile`
 * does (promql/quantile.go, classic histograms), so that the scrape mode and the Prometheus mode of
 * `weft stat|routes|authz` print the same figure for the same bucket counts:
 *
 *   - buckets are sorted by upper bound and merged when two share one; counts are made monotonic;
 *   - the last bucket must be +Inf and there must be at least two; otherwise there is no answer;
 *   - rank = q * total; the first bucket whose cumulative count reaches the rank holds the answer,
 *     interpolated linearly between its lower and upper bound (the first bucket starts at 0);
 *   - a rank in the +Inf bucket answers the largest finite upper bound.
 *
 * `undefined` stands for Prometheus' NaN (no observations, malformed buckets).
 */

export interface Bucket {
  /** Upper bound (`le`), +Infinity for the last. */
  readonly le: number;
  /** Cumulative count of observations <= le. */
  readonly count: number;
}

export function histogramQuantile(q: number, input: readonly Bucket[]): number | undefined {
  if (Number.isNaN(q)) return undefined;
  if (q < 0) return Number.NEGATIVE_INFINITY;
  if (q > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...input].sort((a, b) => a.le - b.le);
  const buckets: { le: number; count: number }[] = [];
  for (const b of sorted) {
    const last = buckets.at(-1);
    if (last !== undefined && last.le === b.le) last.count += b.count;
    else buckets.push({ le: b.le, count: b.count });
  }
  if (buckets.length < 2 || buckets.at(-1)?.le !== Number.POSITIVE_INFINITY) return undefined;
  // Scrapes of different buckets are not atomic: a later bucket below an earlier one is raised.
  for (let i = 1; i < buckets.length; i++) {
    const prev = buckets[i - 1]!;
    const cur = buckets[i]!;
    if (cur.count < prev.count) cur.count = prev.count;
  }
  const total = buckets.at(-1)!.count;
  if (!(total > 0)) return undefined;
  let rank = q * total;
  let b = buckets.findIndex((x) => x.count >= rank);
  if (b < 0) b = buckets.length - 1;
  if (b === buckets.length - 1) return buckets[buckets.length - 2]!.le;
  if (b === 0 && buckets[0]!.le <= 0) return buckets[0]!.le;
  let start = 0;
  const end = buckets[b]!.le;
  let count = buckets[b]!.count;
  if (b > 0) {
    start = buckets[b - 1]!.le;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return start + (end - start) * (rank / count);
}
