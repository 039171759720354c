/**
 * What `weft dashboard` keeps between page loads: the cluster objects and the proxies' metrics, read
 * every interval with the CLI's own readers (cli/observe: listSnapshot, the pod-proxy fetcher or the
 * Prometheus source), and sparkline history.
 *
 * Model:
 *   tick: list the snapshot -> meshed running pods -> one scrape of each proxy's /metrics (the four
 *         request/duration series only) -> ring of scrapes covering the longest window
 *         -> the interval's figures per workload, route and edge appended to the history
 *   window(W): the newest scrape and the one nearest W seconds before it -> their counter increases
 *         (window.ts, as `weft stat` computes between its two scrapes)
 *   With --prometheus the window's increases come from Prometheus (the same source `weft routes
 *   --prometheus` uses) and the history still grows from each tick's interval query.
 *
 * Invariants: the ring and the history are bounded (keepMs, HISTORY_POINTS); a failed tick keeps
 * what was there and is reported in `status().errors`, never thrown out of the timer.
 */
import type { ClusterSnapshot, Pod } from '../../core/kube.js';
import { collectedNames, type Direction } from '../observe/figures.js';
import type { Sample } from '../observe/prom-text.js';
import type { Fetcher, MetricsSource, PodTarget } from '../observe/sources.js';
import { increases, withTargetLabels, type DeltaSample } from '../observe/window.js';
import { isMeshedPod } from '../observe/workloads.js';
import { intervalPoints, type History, type Point, type WindowInput } from './model.js';

/** Sparkline length: 10 minutes at the default 5 s interval. */
export const HISTORY_POINTS = 120;

export interface Scrape {
  /** Wall clock (ms since the epoch) and monotonic (ms) instants of the scrape. */
  readonly at: number;
  readonly mono: number;
  /** `<ns>/<pod>` -> that proxy's request and duration samples. */
  readonly pods: ReadonlyMap<string, readonly Sample[]>;
}

const ALL_NAMES = new Set([...(['outbound', 'inbound'] as const).flatMap((d) => collectedNames(d))]);

/** The increases of one direction between two scrapes, for the pods present in both. */
export function samplesBetween(before: Scrape, after: Scrape, direction: Direction): DeltaSample[] {
  const names = new Set(collectedNames(direction));
  const out: DeltaSample[] = [];
  for (const [key, samples] of after.pods) {
    const prev = before.pods.get(key);
    if (prev === undefined) continue;
    const slash = key.indexOf('/');
    out.push(...withTargetLabels(increases(prev, samples, names), { namespace: key.slice(0, slash), pod: key.slice(slash + 1) }));
  }
  return out;
}

/** The scrape to measure a `seconds` window from: the one nearest `seconds` before the newest, never the newest. */
export function windowStart(scrapes: readonly Scrape[], seconds: number): Scrape | undefined {
  const last = scrapes.at(-1);
  if (last === undefined || scrapes.length < 2) return undefined;
  const want = last.mono - seconds * 1000;
  let best: Scrape | undefined;
  for (const s of scrapes.slice(0, -1)) if (best === undefined || Math.abs(s.mono - want) < Math.abs(best.mono - want)) best = s;
  return best;
}

/** History with one more interval's points appended, each series cut to `max` points. */
export function appendHistory(history: History, points: ReadonlyMap<string, Point>, max = HISTORY_POINTS): Map<string, Point[]> {
  const out = new Map<string, Point[]>();
  for (const [k, series] of history) out.set(k, [...series]);
  for (const [k, p] of points) out.set(k, [...(out.get(k) ?? []), p].slice(-max));
  return out;
}

export const scrapeTargets = (pods: readonly Pod[]): PodTarget[] =>
  pods.filter((p) => isMeshedPod(p) && p.status?.phase === 'Running' && p.metadata.deletionTimestamp === undefined)
    .map((p) => ({ namespace: p.metadata.namespace ?? '', name: p.metadata.name }));

export interface CollectorDeps {
  readonly listSnapshot: () => Promise<ClusterSnapshot>;
  /** Scrape mode: reads one proxy's metrics. */
  readonly fetcher: Fetcher;
  /** Prometheus mode: the windows' increases come from it. */
  readonly prometheus?: MetricsSource;
  readonly intervalMs: number;
  /** How far back scrapes are kept: the longest window the page may ask for. */
  readonly keepMs: number;
  readonly now?: () => number;
  readonly mono?: () => number;
}

export interface CollectorStatus {
  readonly source: 'scrape' | 'prometheus';
  readonly scrapes: number;
  readonly lastScrape: number | null;
  readonly intervalSeconds: number;
  /** Pods that could not be read in the last tick, and a failed tick's reason. */
  readonly errors: readonly string[];
}

export class Collector {
  #scrapes: Scrape[] = [];
  #snapshot: ClusterSnapshot | undefined;
  #history: Map<string, Point[]> = new Map();
  #errors: string[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  readonly #now: () => number;
  readonly #mono: () => number;

  constructor(private readonly deps: CollectorDeps) {
    this.#now = deps.now ?? Date.now;
    this.#mono = deps.mono ?? (() => performance.now());
  }

  /** One read of the cluster and the proxies; never rejects (a failure is kept in status().errors). */
  tick(): Promise<void> {
    this.#running ??= this.#tick().finally(() => { this.#running = undefined; });
    return this.#running;
  }

  async #tick(): Promise<void> {
    try {
      const snapshot = await this.deps.listSnapshot();
      const targets = scrapeTargets(snapshot.pods);
      const errors: string[] = [];
      const at = this.#now();
      const mono = this.#mono();
      const pods = new Map<string, readonly Sample[]>();
      if (this.deps.prometheus === undefined) {
        await Promise.all(targets.map(async (t) => {
          const r = await this.deps.fetcher(t);
          if (r.ok) pods.set(`${t.namespace}/${t.name}`, r.samples.filter((s) => ALL_NAMES.has(s.name)));
          else errors.push(`pod ${t.namespace}/${t.name}: ${r.why}`);
        }));
      }
      const scrape: Scrape = { at, mono, pods };
      const prev = this.#scrapes.at(-1);
      this.#snapshot = snapshot;
      this.#scrapes = [...this.#scrapes.filter((s) => mono - s.mono <= this.deps.keepMs), scrape];
      let input: WindowInput | undefined;
      if (this.deps.prometheus !== undefined) {
        input = await this.#fromPrometheus(snapshot, targets, this.deps.intervalMs / 1000, errors);
      } else if (prev !== undefined) {
        input = { snapshot, outbound: samplesBetween(prev, scrape, 'outbound'), inbound: samplesBetween(prev, scrape, 'inbound'), windowSeconds: (mono - prev.mono) / 1000 };
      }
      if (input !== undefined) this.#history = appendHistory(this.#history, intervalPoints(input, at));
      this.#errors = errors;
    } catch (err) {
      this.#errors = [`reading the cluster: ${(err as Error).message}`];
    }
  }

  async #fromPrometheus(snapshot: ClusterSnapshot, targets: readonly PodTarget[], seconds: number, errors: string[]): Promise<WindowInput> {
    const source = this.deps.prometheus;
    if (source === undefined) throw new Error('no Prometheus');
    const [outbound, inbound] = await Promise.all([source.collect('outbound', targets, seconds), source.collect('inbound', targets, seconds)]);
    errors.push(...new Set([...outbound.problems, ...inbound.problems]));
    return { snapshot, outbound: outbound.samples, inbound: inbound.samples, windowSeconds: outbound.windowSeconds };
  }

  /** Reads at once, then every interval; the first page load then has data after one interval. */
  start(): void {
    void this.tick();
    this.#timer = setInterval(() => void this.tick(), this.deps.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#running;
  }

  get snapshot(): ClusterSnapshot | undefined {
    return this.#snapshot;
  }

  get history(): History {
    return this.#history;
  }

  status(): CollectorStatus {
    return {
      source: this.deps.prometheus === undefined ? 'scrape' : 'prometheus',
      scrapes: this.#scrapes.length,
      lastScrape: this.#scrapes.at(-1)?.at ?? null,
      intervalSeconds: this.deps.intervalMs / 1000,
      errors: this.#errors,
    };
  }

  /**
   * The figures over about the last `seconds` (the span between two kept scrapes, reported as
   * windowSeconds); undefined until two scrapes exist. With Prometheus: its increases over exactly `seconds`.
   */
  async window(seconds: number): Promise<WindowInput | undefined> {
    const snapshot = this.#snapshot;
    if (snapshot === undefined) return undefined;
    if (this.deps.prometheus !== undefined) return this.#fromPrometheus(snapshot, scrapeTargets(snapshot.pods), seconds, []);
    const last = this.#scrapes.at(-1);
    const first = windowStart(this.#scrapes, seconds);
    if (last === undefined || first === undefined) return undefined;
    return { snapshot, outbound: samplesBetween(first, last, 'outbound'), inbound: samplesBetween(first, last, 'inbound'), windowSeconds: (last.mono - first.mono) / 1000 };
  }
}
