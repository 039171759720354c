/**
 * The event-loop delay statistics of /metrics (`nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds`,
 * prom-client's names and meaning), without prom-client's empty window.
 *
 * prom-client samples the delay with node's monitorEventLoopDelay every 10 ms and resets the histogram at
 * every scrape; a scrape that comes before the next sample (two scrapers within 10 ms: Prometheus and
 * `weft stat`/`weft authz` on the same pod, or two of those commands at once) reads an empty histogram and
 * writes mean and stddev as NaN ("Nan"), min as 2^63 ns and max and the percentiles as 0.
 *
 * Model: one histogram; a scrape that finds samples reports them and starts a new window; a scrape that
 * finds none repeats the last window's figures (0 before the first sample). So each figure is always a
 * real delay, over the samples taken since the last scrape that saw any.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

/** The statistics replaced here, each with Weft's own help text; `nodejs_eventloop_lag_seconds` stays prom-client's. */
const STATISTICS = {
  min: 'Shortest event-loop delay sampled since the previous scrape that found samples, in seconds.',
  max: 'Longest event-loop delay sampled since the previous scrape that found samples, in seconds.',
  mean: 'Average event-loop delay sampled since the previous scrape that found samples, in seconds.',
  stddev: 'Standard deviation of the event-loop delays sampled since the previous scrape that found samples, in seconds.',
  p50: 'Median event-loop delay sampled since the previous scrape that found samples, in seconds.',
  p90: '90th percentile of the event-loop delays sampled since the previous scrape that found samples, in seconds.',
  p99: '99th percentile of the event-loop delays sampled since the previous scrape that found samples, in seconds.',
} as const;

type Statistic = keyof typeof STATISTICS;

export const EVENT_LOOP_DELAY_METRICS: readonly string[] = Object.keys(STATISTICS).map((s) => `nodejs_eventloop_lag_${s}_seconds`);

/** The part of node's RecordableHistogram read here (nanoseconds). */
export interface DelayWindow {
  readonly count: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  readonly stddev: number;
  percentile(p: number): number;
}

/** The figures of a window with samples (nanoseconds in, seconds out); undefined when it has none. */
export function delayFigures(h: DelayWindow): Readonly<Record<Statistic, number>> | undefined {
  if (h.count === 0) return undefined;
  return {
    min: h.min / 1e9, max: h.max / 1e9, mean: h.mean / 1e9, stddev: h.stddev / 1e9,
    p50: h.percentile(50) / 1e9, p90: h.percentile(90) / 1e9, p99: h.percentile(99) / 1e9,
  };
}

/**
 * Replaces prom-client's default event-loop delay statistics in `registry` (registered by
 * collectDefaultMetrics) with ones that never report an empty window.
 */
export function registerEventLoopDelay(registry: Registry, resolutionMs = 10): void {
  for (const name of EVENT_LOOP_DELAY_METRICS) registry.removeSingleMetric(name);
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  let last: Readonly<Record<Statistic, number>> | undefined;
  const read = (): Readonly<Record<Statistic, number>> | undefined => {
    const now = delayFigures(histogram);
    if (now !== undefined) {
      last = now;
      histogram.reset();
    }
    return last;
  };
  // A scrape reads the gauges one after the other in one synchronous pass (no sample can land in
  // between): the first takes the window, the others find it empty and report the same figures.
  for (const s of Object.keys(STATISTICS) as Statistic[]) {
    new Gauge({
      name: `nodejs_eventloop_lag_${s}_seconds`,
      help: STATISTICS[s],
      registers: [registry],
      collect(this: Gauge) {
        const f = read();
        if (f !== undefined) this.set(f[s]);
      },
    });
  }
}
