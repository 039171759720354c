/**
 * The proxy's counters. The hot path only bumps plain numbers in arrays and objects; prom-client reads
 * them at scrape time through `collect`, so a request never pays for label hashing. Labels are fixed
 * sets (direction, protocol, status class, error code): never a path, authority or header value
 * (security case 35).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProxyErrorCode } from './errors.js';

export type Direction = 'outbound' | 'inbound';
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx';

/** Upper bounds in ms of the latency buckets; the last one is +Inf. */
export const LATENCY_BUCKETS_MS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

export class DirectionStats {
  readonly responses: Record<StatusClass, number> = { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  readonly errors = new Map<ProxyErrorCode, number>();
  readonly latencyCounts: number[] = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  latencySumMs = 0;
  retries = 0;
  connections = 0;
  openConnections = 0;
  authzAllow = 0;
  authzDeny = 0;
  floodsClosed = 0;

  response(status: number, latencyMs: number): void {
    const cls = status >= 500 ? '5xx' : status >= 400 ? '4xx' : status >= 300 ? '3xx' : status >= 200 ? '2xx' : '1xx';
    this.responses[cls]++;
    let i = 0;
    while (i < LATENCY_BUCKETS_MS.length && latencyMs > LATENCY_BUCKETS_MS[i]!) i++;
    this.latencyCounts[i]!++;
    this.latencySumMs += latencyMs;
  }

  error(code: ProxyErrorCode): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }
}

export class ProxyStats {
  readonly outbound = new DirectionStats();
  readonly inbound = new DirectionStats();
  tlsHandshakesOut = (): number => 0;
  tlsHandshakesIn = (): number => 0;
}

/** A prom-client registry exposing `stats` (and the process's default metrics). */
export function createRegistry(stats: ProxyStats): Registry {
  const registry = new Registry();
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
    help: 'Requests re-sent to another endpoint because the first attempt provably never reached the app',
    labelNames: ['direction'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of dirs) this.inc({ direction: d }, stats[d].retries);
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
  // The latency histogram is rebuilt from the cumulative bucket counts at scrape time.
  const hist = new Histogram({
    name: 'weft_proxy_response_latency_ms',
    help: 'Time from request received to response complete, in milliseconds',
    labelNames: ['direction'],
    buckets: [...LATENCY_BUCKETS_MS],
    registers: [registry],
  });
  const baseGet = hist.get.bind(hist);
  hist.get = async () => {
    const m = await baseGet();
    m.values = [];
    for (const d of dirs) {
      const s = stats[d];
      let cum = 0;
      LATENCY_BUCKETS_MS.forEach((le, i) => {
        cum += s.latencyCounts[i]!;
        m.values.push({ labels: { direction: d, le } as never, value: cum, metricName: 'weft_proxy_response_latency_ms_bucket' });
      });
      cum += s.latencyCounts[LATENCY_BUCKETS_MS.length]!;
      m.values.push({ labels: { direction: d, le: '+Inf' } as never, value: cum, metricName: 'weft_proxy_response_latency_ms_bucket' });
      m.values.push({ labels: { direction: d }, value: s.latencySumMs, metricName: 'weft_proxy_response_latency_ms_sum' });
      m.values.push({ labels: { direction: d }, value: cum, metricName: 'weft_proxy_response_latency_ms_count' });
    }
    return m;
  };
  return registry;
}
