/**
 * The proxy's counters. The hot path only bumps plain numbers in arrays and objects; prom-client reads
 * them at scrape time through `collect`, so a request never pays for label hashing. Labels are fixed
 * sets (direction, protocol, status class, error code): never a path, authority or header value
 * (security case 35).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PROXY_DURATION_BUCKETS, PROXY_METRICS } from '../core/contract.js';
import { ERROR_TABLE } from '../core/reasons.js';
import type { Reason } from '../core/reasons.js';
import { registerEventLoopDelay } from './event-loop-delay.js';

export type Direction = 'outbound' | 'inbound';
export type RetrySkip = 'body_too_large' | 'budget_exhausted';
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

export class DirectionStats {
  readonly responses: Record<StatusClass, number> = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  readonly errors = new Map<Reason, number>();
  retries = 0;
  /** Retries a route's policy wanted but did not make: the body was not kept, or the budget was spent. */
  readonly retriesSkipped: Record<RetrySkip, number> = { body_too_large: 0, budget_exhausted: 0 };
  connections = 0;
  openConnections = 0;
  authzAllow = 0;
  authzDeny = 0;
  floodsClosed = 0;
  /** RequestMirror copies sent, failed (no endpoint, error, timeout) and skipped (body over 64 KiB). */
  mirrorsSent = 0;
  mirrorsFailed = 0;
  mirrorsSkipped = 0;

  /** Latency is measured per route, in seconds (weft_{outbound,inbound}_request_duration_seconds). */
  response(status: number): void {
    const cls = status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : status >= 200 ? '2xx' : '1xx';
    this.responses[cls]++;
  }

  retrySkipped(why: RetrySkip): void {
    this.retriesSkipped[why]++;
  }

  error(code: Reason): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

export class ProxyStats {
  readonly outbound = new DirectionStats();
  readonly inbound = new DirectionStats();
  tlsHandshakesOut = (): number => 0;
  tlsHandshakesIn = (): number => 0;
  /** Destinations remembered now, by cache: policy lookups, balancers (discovery watches), upstream pools. */
  liveDestinations = (): Readonly<Record<string, number>> => ({});
  /** Circuit breaking (outbound): ejections so far, endpoints ejected now. */
  accrual = (): { readonly ejections: number; readonly ejected: number } => ({ ejections: 0, ejected: 0 });
}

/**
 * A prom-client registry exposing `stats`, the per-route series of `routes` and the process's default
 * metrics (CPU, RSS, heap, event-loop lag, open handles: prom-client's `process_*` and `nodejs_*`; the
 * event-loop delay statistics from event-loop-delay.ts, which never writes NaN).
 */
export function createRegistry(stats: ProxyStats, routes?: RouteMetrics): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  registerEventLoopDelay(registry);
  if (routes !== undefined) registerRouteMetrics(registry, routes);
  const dirs: Direction[] = ['outbound', 'inbound'];
  new Counter({
    name: 'weft_proxy_responses_total',
    help: 'HTTP responses sent downstream, by direction and status class',
    labelNames: ['direction', 'status_class'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of dirs) for (const [cls, n] of Object.entries(stats[d].responses)) this.inc({ direction: d, status_class: cls }, n);
    },
  });
  new Counter({
    name: 'weft_proxy_errors_total',
    help: 'Errors the proxy produced, by direction and stable error code',
    labelNames: ['direction', 'code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of dirs) for (const [code, n] of stats[d].errors) this.inc({ direction: d, code }, n);
    },
  });
  new Counter({
    name: 'weft_proxy_retries_total',
    help: 'Requests sent again: to another endpoint because an attempt provably never reached the app, or as a route retry policy says',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of dirs) this.inc({ direction: d }, stats[d].retries);
    },
  });
  new Counter({
    name: 'weft_proxy_retries_skipped_total',
    help: 'Retries a route retry policy wanted but did not make: the request body was larger than the replay bound or streamed (body_too_large), or the destination retry budget was spent (budget_exhausted)',
    labelNames: ['direction', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of dirs) for (const [reason, n] of Object.entries(stats[d].retriesSkipped)) this.inc({ direction: d, reason }, n);
    },
  });
  new Counter({
    name: 'weft_proxy_endpoint_ejections_total',
    help: 'Endpoints ejected by circuit breaking (failure accrual) after failures in a row',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(stats.accrual().ejections);
    },
  });
  new Gauge({
    name: 'weft_proxy_ejected_endpoints',
    help: 'Endpoints ejected by circuit breaking now, over every Service port the proxy balances',
    registers: [registry],
    collect() {
      this.set(stats.accrual().ejected);
    },
  });
  new Counter({
    name: 'weft_proxy_authorizations_total',
    help: 'Inbound authorization decisions',
    labelNames: ['decision'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ decision: 'allow' }, stats.inbound.authzAllow);
      this.inc({ decision: 'deny' }, stats.inbound.authzDeny);
    },
  });
  new Counter({
    name: 'weft_proxy_tls_handshakes_total',
    help: 'Mesh mTLS handshakes, as client (outbound) and as server (inbound)',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ direction: 'outbound' }, stats.tlsHandshakesOut());
      this.inc({ direction: 'inbound' }, stats.tlsHandshakesIn());
    },
  });
  new Gauge({
    name: 'weft_proxy_live_destinations',
    help: 'Destinations the proxy remembers now, by cache (lookups: policy watches per original destination; balancers: discovery watches per Service port; upstream_pools); each is forgotten after the destination idle timeout',
    labelNames: ['cache'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [cache, n] of Object.entries(stats.liveDestinations())) this.set({ cache }, n);
    },
  });
  new Gauge({
    name: 'weft_proxy_open_connections',
    help: 'Downstream connections open now',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      for (const d of dirs) this.set({ direction: d }, stats[d].openConnections);
    },
  });
  new Counter({
    name: 'weft_proxy_flood_closed_connections_total',
    help: 'Connections closed for HTTP/2 floods (rapid reset, PING, SETTINGS)',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of dirs) this.inc({ direction: d }, stats[d].floodsClosed);
    },
  });
  new Counter({
    name: 'weft_proxy_mirrors_total',
    help: 'RequestMirror copies: sent, failed (no endpoint, error, timeout) or skipped (body above 64 KiB)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const o = stats.outbound;
      this.inc({ result: 'sent' }, o.mirrorsSent);
      this.inc({ result: 'failed' }, o.mirrorsFailed);
      this.inc({ result: 'skipped' }, o.mirrorsSkipped);
    },
  });
  return registry;
}

// --- per-route metrics (the contract in docs/metrics.md, read by `weft stat` / `weft routes`) ---------

/** Seconds; the contract's buckets (core/contract.ts), shared with the CLI that reads them. */
export const ROUTE_DURATION_BUCKETS_S: readonly number[] = PROXY_DURATION_BUCKETS;

export const OUTBOUND_ROUTE_LABELS = [
  'service_namespace', 'service_name', 'service_port', 'route_kind', 'route_namespace', 'route_name', 'route_rule',
  'backend_namespace', 'backend_name', 'backend_port',
] as const;
export const INBOUND_DECISION_LABELS = ['target_port', 'server', 'route', 'authorization', 'decision'] as const;
/** weft_proxy_requests_limited_total: the inbound decision's port, Server and route, the policy and why. */
export const LIMITED_LABELS = ['target_port', 'server', 'route', 'policy', 'reason'] as const;
export type LimitedLabels = Readonly<Record<(typeof LIMITED_LABELS)[number], string>>;

export type OutboundRouteLabels = Readonly<Record<(typeof OUTBOUND_ROUTE_LABELS)[number], string>>;
export type InboundDecisionLabels = Readonly<Record<(typeof INBOUND_DECISION_LABELS)[number], string>>;

/** What the transport reports for one finished exchange (policy-hook.ts ExchangeOutcome, minus the import). */
export interface Outcome {
  readonly status: number;
  readonly grpcStatus: number | undefined;
  readonly error: Reason | undefined;
  readonly durationMs: number;
  readonly resilience?: {
    readonly retries: number;
    readonly retrySkipped: RetrySkip | undefined;
    readonly ejections: number;
    readonly peerLimited: 'rate' | 'concurrency' | undefined;
  } | undefined;
}

/** What resilience did over one series' exchanges (outbound per-route metrics). */
export class ResilienceCounts {
  retries = 0;
  readonly skipped: Record<RetrySkip, number> = { body_too_large: 0, budget_exhausted: 0 };
  ejections = 0;
  readonly limited: Record<'rate' | 'concurrency', number> = { rate: 0, concurrency: 0 };
}

type Labels = Record<string, string>;

interface CounterEntry {
  readonly labels: Labels;
  value: number;
}

class HistogramEntry {
  readonly buckets = new Array<number>(ROUTE_DURATION_BUCKETS_S.length + 1).fill(0);
  sum = 0;
  constructor(readonly labels: Labels) {}
  observe(seconds: number): void {
    let i = 0;
    while (i < ROUTE_DURATION_BUCKETS_S.length && seconds > ROUTE_DURATION_BUCKETS_S[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
  }
}

function labelKey(labels: Labels): string {
  let k = '';
  for (const name in labels) k += `${labels[name]!}\u0000`;
  return k;
}

/** A failure is a 5xx, a non-OK gRPC status, or an error the proxy produced (resets included). */
export function classify(o: Outcome): 'success' | 'failure' {
  if (o.error !== undefined || o.status >= 500) return 'failure';
  if (o.grpcStatus !== undefined && o.grpcStatus !== 0) return 'failure';
  return 'success';
}

/**
 * The series of one fixed label set (one route rule and backend, or one inbound decision shape): a
 * request costs one small map lookup for its status labels and one bucket increment.
 */
export class RouteSeries {
  private readonly byOutcome = new Map<string, CounterEntry>();
  private readonly success: HistogramEntry;
  private readonly failure: HistogramEntry;
  private readonly histogramKeys: string[] = [];
  readonly resilience = new ResilienceCounts();
  constructor(
    private readonly counterBase: Labels,
    histogramBase: Labels,
    private readonly counters: Set<Map<string, CounterEntry>>,
    histograms: Map<string, HistogramEntry>,
  ) {
    counters.add(this.byOutcome);
    const hist = (classification: string): HistogramEntry => {
      const labels = { ...histogramBase, classification };
      const key = labelKey(labels);
      let h = histograms.get(key);
      if (h === undefined) histograms.set(key, (h = new HistogramEntry(labels)));
      this.histogramKeys.push(key);
      return h;
    };
    this.success = hist('success');
    this.failure = hist('failure');
  }

  /** The labels every series of this set carries. */
  get labels(): Readonly<Labels> {
    return this.counterBase;
  }

  /** Removes this set's counters and histograms from what a scrape reads. */
  detach(counters: Set<Map<string, CounterEntry>>, histograms: Map<string, HistogramEntry>): void {
    counters.delete(this.byOutcome);
    for (const k of this.histogramKeys) histograms.delete(k);
  }

  record(o: Outcome): void {
    const grpc = o.grpcStatus === undefined ? '' : String(o.grpcStatus);
    const error = o.error === undefined ? '' : ERROR_LABELS[o.error];
    const key = `${o.status}|${grpc}|${error}`;
    let e = this.byOutcome.get(key);
    if (e === undefined) {
      e = { labels: { ...this.counterBase, status_code: o.status === 0 ? '' : String(o.status), grpc_status: grpc, error }, value: 0 };
      this.byOutcome.set(key, e);
    }
    e.value++;
    (classify(o) === 'success' ? this.success : this.failure).observe(o.durationMs / 1000);
    const r = o.resilience;
    if (r !== undefined) {
      const c = this.resilience;
      c.retries += r.retries;
      if (r.retrySkipped !== undefined) c.skipped[r.retrySkipped]++;
      c.ejections += r.ejections;
      if (r.peerLimited !== undefined) c.limited[r.peerLimited]++;
    }
  }
}

/** Holds every per-route series; prom-client reads them at scrape time (createRegistry). */
export class RouteMetrics {
  readonly outboundCounters = new Set<Map<string, CounterEntry>>();
  readonly outboundHistograms = new Map<string, HistogramEntry>();
  readonly inboundCounters = new Set<Map<string, CounterEntry>>();
  readonly inboundHistograms = new Map<string, HistogramEntry>();
  private readonly outboundSeries = new Map<string, RouteSeries>();
  private readonly inboundSeries = new Map<string, RouteSeries>();
  /** Requests refused by an InboundLimitPolicy, per label set (LIMITED_LABELS). */
  readonly limitedCounters = new Map<string, CounterEntry>();

  /** Counts one request an inbound limit refused. */
  limited(labels: LimitedLabels): void {
    const key = labelKey(labels);
    let e = this.limitedCounters.get(key);
    if (e === undefined) this.limitedCounters.set(key, (e = { labels: { ...labels }, value: 0 }));
    e.value++;
  }

  /** The series of one outbound label set; callers cache it per compiled rule and backend. */
  outbound(labels: OutboundRouteLabels): RouteSeries {
    const key = labelKey(labels);
    let s = this.outboundSeries.get(key);
    if (s === undefined) {
      s = new RouteSeries({ ...labels }, { ...labels }, this.outboundCounters, this.outboundHistograms);
      this.outboundSeries.set(key, s);
    }
    return s;
  }

  /** Every outbound series (for the per-route resilience counters). */
  outboundSeriesList(): Iterable<RouteSeries> {
    return this.outboundSeries.values();
  }

  /**
   * Drops every outbound series of a Service port the proxy has forgotten (its destination went idle):
   * a later request starts them again from zero, which Prometheus reads as a counter reset.
   */
  forgetService(namespace: string, name: string, port: number): void {
    const p = String(port);
    for (const [key, s] of this.outboundSeries) {
      const l = s.labels;
      if (l['service_namespace'] !== namespace || l['service_name'] !== name || l['service_port'] !== p) continue;
      this.outboundSeries.delete(key);
      s.detach(this.outboundCounters, this.outboundHistograms);
    }
  }

  /** The series of one inbound decision (client identity and TLS label the counter only). */
  inbound(labels: InboundDecisionLabels, clientId: string, tls: boolean): RouteSeries {
    const counterBase = { ...labels, client_id: clientId, tls: tls ? 'true' : 'false' };
    const key = labelKey(counterBase);
    let s = this.inboundSeries.get(key);
    if (s === undefined) {
      s = new RouteSeries(counterBase, { ...labels }, this.inboundCounters, this.inboundHistograms);
      this.inboundSeries.set(key, s);
    }
    return s;
  }
}

/** The `error` label value of each code: the `weft-proxy-error` token of ERROR_TABLE. */
const ERROR_LABELS: Readonly<Record<Reason, string>> = Object.fromEntries(
  Object.entries(ERROR_TABLE).map(([code, m]) => [code, m.header]),
) as Record<Reason, string>;

function registerRouteMetrics(registry: Registry, routes: RouteMetrics): void {
  const counter = (name: string, help: string, labelNames: readonly string[], families: Set<Map<string, CounterEntry>>) =>
    new Counter({
      name, help, labelNames: [...labelNames], registers: [registry],
      collect() {
        this.reset();
        for (const family of families) for (const e of family.values()) this.inc(e.labels, e.value);
      },
    });
  const histogram = (name: string, help: string, labelNames: readonly string[], entries: Map<string, HistogramEntry>) => {
    const h = new Histogram({ name, help, labelNames: [...labelNames], buckets: [...ROUTE_DURATION_BUCKETS_S], registers: [registry] });
    overrideGet(h, async () => {
      const m = emptyHistogram(name, help);
      for (const e of entries.values()) {
        let cum = 0;
        ROUTE_DURATION_BUCKETS_S.forEach((le, i) => {
          cum += e.buckets[i]!;
          m.values.push({ labels: { ...e.labels, le } as never, value: cum, metricName: `${name}_bucket` });
        });
        cum += e.buckets[ROUTE_DURATION_BUCKETS_S.length]!;
        m.values.push({ labels: { ...e.labels, le: '+Inf' } as never, value: cum, metricName: `${name}_bucket` });
        m.values.push({ labels: e.labels as never, value: e.sum, metricName: `${name}_sum` });
        m.values.push({ labels: e.labels as never, value: cum, metricName: `${name}_count` });
      }
      return m;
    });
  };
  const outcome = ['status_code', 'grpc_status', 'error'];
  counter(PROXY_METRICS.outboundRequests, 'Requests the outbound side answered or forwarded, by Service port, route rule, backend and outcome',
    [...OUTBOUND_ROUTE_LABELS, ...outcome], routes.outboundCounters);
  histogram(PROXY_METRICS.outboundDuration, 'Outbound request duration, from request received to response complete',
    [...OUTBOUND_ROUTE_LABELS, 'classification'], routes.outboundHistograms);
  counter(PROXY_METRICS.inboundRequests, 'Requests (and opaque connections) the inbound side decided, by Server, route, authorization and outcome',
    [...INBOUND_DECISION_LABELS, 'client_id', 'tls', ...outcome], routes.inboundCounters);
  histogram(PROXY_METRICS.inboundDuration, 'Inbound request duration, from request received to response complete',
    [...INBOUND_DECISION_LABELS, 'classification'], routes.inboundHistograms);
  const resilienceCounter = (name: string, help: string, extra: readonly string[], each: (c: ResilienceCounts, inc: (extraLabels: Labels, n: number) => void) => void) =>
    new Counter({
      name, help, labelNames: [...OUTBOUND_ROUTE_LABELS, ...extra], registers: [registry],
      collect() {
        this.reset();
        for (const s of routes.outboundSeriesList()) each(s.resilience, (x, n) => { if (n > 0) this.inc({ ...s.labels, ...x }, n); });
      },
    });
  resilienceCounter(PROXY_METRICS.outboundRetries, 'Retries sent, by Service port, route rule and backend (a route retry policy, or an attempt that provably never reached the app)', [],
    (c, inc) => inc({}, c.retries));
  resilienceCounter(PROXY_METRICS.outboundRetriesSkipped, 'Retries a route retry policy wanted but did not make, by route and why: body_too_large or budget_exhausted', ['reason'],
    (c, inc) => { for (const [reason, n] of Object.entries(c.skipped)) inc({ reason }, n); });
  resilienceCounter(PROXY_METRICS.outboundEjections, 'Endpoints ejected by circuit breaking after a failed attempt of this route rule and backend', [],
    (c, inc) => inc({}, c.ejections));
  resilienceCounter(PROXY_METRICS.outboundLimited, 'Requests the server proxy refused for an InboundLimitPolicy (its weft-proxy-error), by route and reason: rate or concurrency', ['reason'],
    (c, inc) => { for (const [reason, n] of Object.entries(c.limited)) inc({ reason }, n); });
  counter(PROXY_METRICS.requestsLimited, 'Inbound requests an InboundLimitPolicy refused: rate (429, token bucket empty) or concurrency (503, maxInFlight reached)',
    LIMITED_LABELS, new Set([routes.limitedCounters]));
}

/** Makes a histogram report the values `get` computes, whichever method the registry calls. */
function overrideGet(h: Histogram, get: Histogram['get']): void {
  h.get = get;
  (h as unknown as { getForPromString?: Histogram['get'] }).getForPromString = get;
}

function emptyHistogram(name: string, help: string): Awaited<ReturnType<Histogram['get']>> {
  return { name, help, type: 'histogram' as never, values: [], aggregator: 'sum', collect: () => undefined };
}
