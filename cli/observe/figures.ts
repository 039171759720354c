/**
 * The figures `weft stat|routes|authz` print, from counter and bucket increases over a window: the
 * one computation both data sources feed (the scrape mode from two scrapes per pod, the Prometheus
 * mode from `increase()` queries), so both print the same numbers for the same data.
 *
 * Model: DeltaSample[] (the proxies' metrics, labelled with the scrape target's namespace and pod)
 *   -> grouped by a key the caller derives from labels common to the counter and the histogram
 *   -> per group: requests, successes, failures, denials, timeouts, and the p50/p95/p99 of the
 *      duration histogram (histogramQuantile: Prometheus' algorithm).
 *
 * Classification (the metrics contract): a request failed when the proxy reported an `error`, the
 * HTTP status was 5xx, or the gRPC status was not OK. An inbound request the policy denied counts as
 * denied, not as a failure: success rate is over the requests that were let through, and the
 * latency histogram of denied requests (the app never saw them) is left out. An inbound request an
 * InboundLimitPolicy refused (error rate-limited or concurrency-limited) counts as limited, apart from
 * failures and denials likewise.
 */
import { PROXY_METRICS } from '../../core/contract.js';
import { ERROR_TABLE } from '../../core/reasons.js';
import { histogramQuantile, type Bucket } from './histogram.js';
import type { DeltaSample } from './window.js';

export type Direction = 'outbound' | 'inbound';

/** Label names of the metrics contract, and of the scrape target. */
export const LABEL = {
  namespace: 'namespace',
  pod: 'pod',
  serviceNamespace: 'service_namespace',
  serviceName: 'service_name',
  servicePort: 'service_port',
  routeKind: 'route_kind',
  routeNamespace: 'route_namespace',
  routeName: 'route_name',
  routeRule: 'route_rule',
  backendNamespace: 'backend_namespace',
  backendName: 'backend_name',
  backendPort: 'backend_port',
  statusCode: 'status_code',
  grpcStatus: 'grpc_status',
  error: 'error',
  classification: 'classification',
  targetPort: 'target_port',
  server: 'server',
  route: 'route',
  authorization: 'authorization',
  decision: 'decision',
  clientId: 'client_id',
  tls: 'tls',
  le: 'le',
} as const;

export const QUANTILES = [0.5, 0.95, 0.99] as const;

export interface Figures {
  /** Every request counted (allowed and denied). */
  readonly requests: number;
  readonly successes: number;
  readonly failures: number;
  /** Inbound only: requests the policy denied. */
  readonly denied: number;
  /** Requests the proxy answered because a route timeout expired (error=timeout). */
  readonly timeouts: number;
  /**
   * Requests an InboundLimitPolicy refused: inbound, those this proxy refused (429 rate-limited, 503
   * concurrency-limited); outbound, those the server proxies refused (weft_outbound_limited_total).
   */
  readonly limited: number;
  /** Outbound only: retries sent (weft_outbound_retries_total). */
  readonly retries: number;
  /** Outbound only: retries the route's policy wanted but the retry budget did not allow. */
  readonly budgetSkipped: number;
  /** Outbound only: endpoints ejected by circuit breaking after this route's failed attempts. */
  readonly ejections: number;
  /** Seconds; undefined without observations. Same order as QUANTILES. */
  readonly latency: readonly (number | undefined)[];
}

export interface Group<K> {
  readonly key: K;
  readonly figures: Figures;
}

export function metricNames(direction: Direction): { readonly requests: string; readonly buckets: string; readonly resilience: readonly string[] } {
  return direction === 'outbound'
    ? {
        requests: PROXY_METRICS.outboundRequests, buckets: `${PROXY_METRICS.outboundDuration}_bucket`,
        resilience: [PROXY_METRICS.outboundRetries, PROXY_METRICS.outboundRetriesSkipped, PROXY_METRICS.outboundEjections, PROXY_METRICS.outboundLimited],
      }
    : { requests: PROXY_METRICS.inboundRequests, buckets: `${PROXY_METRICS.inboundDuration}_bucket`, resilience: [] };
}

/** Every metric a source collects for `direction`. */
export function collectedNames(direction: Direction): string[] {
  const n = metricNames(direction);
  return [n.requests, n.buckets, ...n.resilience];
}

/** Whether a counted request failed, by the contract's classification. */
export function isFailure(labels: Readonly<Record<string, string>>): boolean {
  const error = labels[LABEL.error] ?? '';
  const status = labels[LABEL.statusCode] ?? '';
  const grpc = labels[LABEL.grpcStatus] ?? '';
  return error !== '' || status.startsWith('5') || (grpc !== '' && grpc !== '0');
}

interface Acc<K> {
  key: K;
  requests: number;
  successes: number;
  failures: number;
  denied: number;
  timeouts: number;
  limited: number;
  retries: number;
  budgetSkipped: number;
  ejections: number;
  buckets: Map<number, number>;
}

/** The `error` label values of the inbound limits' refusals. */
const LIMITED_ERRORS: ReadonlySet<string> = new Set([ERROR_TABLE.RATE_LIMITED.header, ERROR_TABLE.CONCURRENCY_LIMITED.header]);

/**
 * Groups the samples of one direction by `keyOf` (undefined leaves a sample out) and computes each
 * group's figures. Groups come back in the order `compare` gives (default: by the key's values, in code-unit order).
 */
export function summarize<K>(
  samples: readonly DeltaSample[],
  direction: Direction,
  keyOf: (labels: Readonly<Record<string, string>>) => K | undefined,
  compare?: (a: K, b: K) => number,
): Group<K>[] {
  const names = metricNames(direction);
  const groups = new Map<string, Acc<K>>();
  const accFor = (key: K): Acc<K> => {
    const id = JSON.stringify(key);
    let acc = groups.get(id);
    if (acc === undefined) {
      acc = { key, requests: 0, successes: 0, failures: 0, denied: 0, timeouts: 0, limited: 0, retries: 0, budgetSkipped: 0, ejections: 0, buckets: new Map() };
      groups.set(id, acc);
    }
    return acc;
  };
  const resilience = new Set(names.resilience);
  for (const s of samples) {
    if (s.name !== names.requests && s.name !== names.buckets && !resilience.has(s.name)) continue;
    const key = keyOf(s.labels);
    if (key === undefined) continue;
    const acc = accFor(key);
    if (resilience.has(s.name)) {
      if (s.name === PROXY_METRICS.outboundRetries) acc.retries += s.value;
      else if (s.name === PROXY_METRICS.outboundRetriesSkipped) { if (s.labels['reason'] === 'budget_exhausted') acc.budgetSkipped += s.value; }
      else if (s.name === PROXY_METRICS.outboundEjections) acc.ejections += s.value;
      else if (s.name === PROXY_METRICS.outboundLimited) acc.limited += s.value;
    } else if (s.name === names.requests) {
      acc.requests += s.value;
      if (direction === 'inbound' && s.labels[LABEL.decision] === 'deny') acc.denied += s.value;
      else if (direction === 'inbound' && LIMITED_ERRORS.has(s.labels[LABEL.error] ?? '')) acc.limited += s.value;
      else if (isFailure(s.labels)) acc.failures += s.value;
      else acc.successes += s.value;
      if (s.labels[LABEL.error] === 'timeout') acc.timeouts += s.value;
    } else {
      if (direction === 'inbound' && s.labels[LABEL.decision] === 'deny') continue;
      const le = Number(s.labels[LABEL.le] === '+Inf' ? Number.POSITIVE_INFINITY : s.labels[LABEL.le]);
      if (Number.isNaN(le)) continue;
      acc.buckets.set(le, (acc.buckets.get(le) ?? 0) + s.value);
    }
  }
  const out = [...groups.values()].map((a) => {
    const buckets: Bucket[] = [...a.buckets].map(([le, count]) => ({ le, count }));
    return {
      key: a.key,
      figures: {
        requests: a.requests,
        successes: a.successes,
        failures: a.failures,
        denied: a.denied,
        timeouts: a.timeouts,
        limited: a.limited,
        retries: a.retries,
        budgetSkipped: a.budgetSkipped,
        ejections: a.ejections,
        latency: QUANTILES.map((q) => histogramQuantile(q, buckets)),
      },
    };
  });
  const text = (k: K) => (typeof k === 'object' && k !== null ? Object.values(k).join('\u0000') : String(k));
  const cmp = compare ?? ((x: K, y: K) => (text(x) < text(y) ? -1 : text(x) > text(y) ? 1 : 0));
  return out.sort((x, y) => cmp(x.key, y.key));
}

/** Successes over the requests that were let through; undefined when there were none. */
export function successRate(f: Figures): number | undefined {
  const decided = f.successes + f.failures;
  return decided > 0 ? f.successes / decided : undefined;
}

export function rps(count: number, windowSeconds: number): number {
  return windowSeconds > 0 ? count / windowSeconds : 0;
}
