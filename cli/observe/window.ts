/**
 * From two scrapes of one proxy, taken at both ends of a window, to the increase of every counter
 * series in between: what PromQL's `increase()` answers, without its extrapolation (the CLI knows
 * the exact instants it scraped).
 *
 * Rules: a series present only in the second scrape started at 0 inside the window (prom-client
 * creates a labelled series on its first increment); a series whose value went down was reset (the
 * proxy restarted), so its increase is its new value; a series gone from the second scrape adds
 * nothing. Only the names asked for are kept.
 */
import type { Sample } from './prom-text.js';

/** A counter (or histogram bucket) series and its increase over the window. */
export interface DeltaSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}

export function increases(before: readonly Sample[], after: readonly Sample[], names: ReadonlySet<string>): DeltaSample[] {
  const start = new Map<string, number>();
  for (const s of before) if (names.has(s.name)) start.set(seriesKey(s.name, s.labels), s.value);
  const out: DeltaSample[] = [];
  for (const s of after) {
    if (!names.has(s.name) || !Number.isFinite(s.value)) continue;
    const prev = start.get(seriesKey(s.name, s.labels)) ?? 0;
    const value = s.value >= prev ? s.value - prev : s.value;
    out.push({ name: s.name, labels: s.labels, value });
  }
  return out;
}

/** Adds labels (the scrape target's namespace and pod) to every sample, as Prometheus' relabelling does. */
export function withTargetLabels(samples: readonly DeltaSample[], target: Readonly<Record<string, string>>): DeltaSample[] {
  return samples.map((s) => ({ ...s, labels: { ...s.labels, ...target } }));
}
