/**
 * The two data sources of `weft stat|routes|authz`; both return the same DeltaSample[] (counter and
 * bucket increases labelled with the target's namespace and pod), which figures.ts turns into rows.
 *
 *   scrape      GET each proxy's /metrics (admin port) through the API server's pod proxy at both
 *               ends of the window; increases are exact differences (window.ts).
 *   prometheus  PromQL `increase(<metric>[<window>])` over the last window (no waiting) against a
 *               Prometheus that scrapes the proxies with Weft's scrape config (manifests/prometheus),
 *               which labels every series with its namespace and pod; `up` says which pods it does
 *               not scrape. Counts are Prometheus' extrapolated increases, so they are approximate. Percentiles are then computed from the bucket increases with the
 *               same histogram_quantile algorithm (histogram.ts), so per-workload merging of pods
 *               happens in one place for both sources.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { fetch } from 'undici';
import { PROXY_ADMIN_PORT } from '../../core/contract.js';
import { apiGet, podProxyPath } from './cluster.js';
import { collectedNames, type Direction } from './figures.js';
import { parseExposition, type Sample } from './prom-text.js';
import { increases, withTargetLabels, type DeltaSample } from './window.js';

export interface PodTarget {
  readonly namespace: string;
  readonly name: string;
}

export interface Collected {
  readonly samples: readonly DeltaSample[];
  /** The window the figures cover, in seconds (the measured one for scrapes). */
  readonly windowSeconds: number;
  /** Pods that could not be read, with why. */
  readonly problems: readonly string[];
}

export interface MetricsSource {
  collect(direction: Direction, pods: readonly PodTarget[], windowSeconds: number): Promise<Collected>;
}

export type Fetcher = (pod: PodTarget) => Promise<{ ok: true; samples: readonly Sample[] } | { ok: false; why: string }>;

/** A fetcher reading a proxy's /metrics through the API server's pod proxy. */
export function podProxyFetcher(kc: KubeConfig, port = PROXY_ADMIN_PORT): Fetcher {
  return async (pod) => {
    try {
      const r = await apiGet(kc, podProxyPath(pod.namespace, pod.name, port, '/metrics'), 10_000);
      if (r.status !== 200) return { ok: false, why: `HTTP ${r.status}: ${r.text.trim().slice(0, 200)}` };
      return { ok: true, samples: parseExposition(r.text).samples };
    } catch (err) {
      return { ok: false, why: (err as Error).message };
    }
  };
}

export function scrapeSource(fetcher: Fetcher, sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): MetricsSource {
  return {
    async collect(direction, pods, windowSeconds) {
      const names = new Set(collectedNames(direction));
      const scrapeAll = () => Promise.all(pods.map(async (p) => ({ pod: p, at: performance.now(), r: await fetcher(p) })));
      const first = await scrapeAll();
      await sleep(windowSeconds * 1000);
      const second = await scrapeAll();
      const samples: DeltaSample[] = [];
      const problems: string[] = [];
      const spans: number[] = [];
      second.forEach((s, i) => {
        const f = first[i];
        const label = `pod ${s.pod.namespace}/${s.pod.name}`;
        if (f === undefined || !f.r.ok) {
          problems.push(`${label}: ${f !== undefined && !f.r.ok ? f.r.why : 'not scraped'}`);
          return;
        }
        if (!s.r.ok) {
          problems.push(`${label}: ${s.r.why}`);
          return;
        }
        spans.push((s.at - f.at) / 1000);
        samples.push(...withTargetLabels(increases(f.r.samples, s.r.samples, names), { namespace: s.pod.namespace, pod: s.pod.name }));
      });
      const measured = spans.length > 0 ? spans.reduce((a, b) => a + b, 0) / spans.length : windowSeconds;
      return { samples, windowSeconds: measured, problems };
    },
  };
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A PromQL double-quoted string: Go's escapes, so a regex's backslashes are doubled. */
const promString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The label matchers selecting these pods (namespace and pod regexes; callers keep only the exact pairs). */
function podMatchers(pods: readonly PodTarget[]): string {
  const namespaces = [...new Set(pods.map((p) => p.namespace))].map(escapeRegex).join('|');
  const names = [...new Set(pods.map((p) => p.name))].map(escapeRegex).join('|');
  return `namespace=~${promString(namespaces)},pod=~${promString(names)}`;
}

/** The PromQL of one metric's increases over the window for these pods. */
export function increaseQuery(metric: string, pods: readonly PodTarget[], windowSeconds: number): string {
  return `increase(${metric}{${podMatchers(pods)}}[${Math.max(1, Math.round(windowSeconds))}s])`;
}

/** The PromQL of the scrape health (`up`) of these pods' targets. */
export function upQuery(pods: readonly PodTarget[]): string {
  return `up{${podMatchers(pods)}}`;
}

interface PromVectorResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * An instant query, POSTed as a form (the pod regexes of a large cluster would make a GET URL too
 * long for some proxies in front of Prometheus).
 */
export async function promQuery(baseUrl: string, query: string): Promise<PromVectorResponse['data'] & object> {
  const url = `${baseUrl.replace(/\/$/, '')}/api/v1/query`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query }).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: PromVectorResponse;
  try {
    body = JSON.parse(text) as PromVectorResponse;
  } catch {
    throw new Error(`Prometheus ${url}: HTTP ${res.status}: ${text.trim().slice(0, 200)}`);
  }
  if (body.status !== 'success' || body.data === undefined) throw new Error(`Prometheus ${url}: HTTP ${res.status} ${body.error ?? ''}`);
  return body.data;
}

export function prometheusSource(baseUrl: string): MetricsSource {
  return {
    async collect(direction, pods, windowSeconds) {
      if (pods.length === 0) return { samples: [], windowSeconds, problems: [] };
      const wanted = new Set(pods.map((p) => `${p.namespace}/${p.name}`));
      const key = (m: Record<string, string>) => `${m['namespace'] ?? ''}/${m['pod'] ?? ''}`;
      // Like the scrape source, say which pods the figures leave out: no target (the scrape config
      // is not installed, or the pod is too new to be discovered) or a target Prometheus cannot scrape.
      const up = new Map<string, boolean>();
      for (const r of (await promQuery(baseUrl, upQuery(pods))).result) {
        if (wanted.has(key(r.metric))) up.set(key(r.metric), (up.get(key(r.metric)) ?? false) || Number(r.value[1]) === 1);
      }
      const problems: string[] = [];
      for (const p of wanted) {
        const u = up.get(p);
        if (u === undefined) problems.push(`pod ${p}: not a target of this Prometheus (see manifests/prometheus/scrape-config.yaml)`);
        else if (!u) problems.push(`pod ${p}: Prometheus cannot scrape it (up == 0)`);
      }
      const samples: DeltaSample[] = [];
      for (const name of collectedNames(direction)) {
        const data = await promQuery(baseUrl, increaseQuery(name, pods, windowSeconds));
        for (const r of data.result) {
          if (!wanted.has(key(r.metric))) continue;
          const value = Number(r.value[1]);
          if (!Number.isFinite(value)) continue;
          const { __name__: _drop, ...labels } = r.metric;
          samples.push({ name, labels, value });
        }
      }
      return { samples, windowSeconds, problems };
    },
  };
}
