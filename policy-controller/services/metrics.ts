/**
 * Metrics of the policy and discovery streams (names documented in docs/configuration.md):
 * subscribers per service, pushes, identical snapshots skipped, and the latency from the watch
 * event that changed a view to the push of the new snapshot.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type StreamService = 'inbound' | 'outbound' | 'discovery' | 'gateway';

export interface StreamMetrics {
  readonly subscribers: Gauge<'service'>;
  readonly pushes: Counter<'service'>;
  readonly skipped: Counter<'service'>;
  readonly refusals: Counter<'service' | 'code'>;
  readonly pushLatency: Histogram<'service'>;
}

export function streamMetrics(registry: Registry): StreamMetrics {
  return {
    subscribers: new Gauge({ name: 'weft_policy_subscribers', help: 'Open policy and discovery streams', labelNames: ['service'], registers: [registry] }),
    pushes: new Counter({ name: 'weft_policy_pushes_total', help: 'Snapshots sent on policy and discovery streams', labelNames: ['service'], registers: [registry] }),
    skipped: new Counter({
      name: 'weft_policy_pushes_skipped_total',
      help: 'Recomputed snapshots not sent because they equalled the last one sent on the stream',
      labelNames: ['service'],
      registers: [registry],
    }),
    refusals: new Counter({ name: 'weft_policy_refusals_total', help: 'Streams refused', labelNames: ['service', 'code'], registers: [registry] }),
    pushLatency: new Histogram({
      name: 'weft_policy_push_latency_seconds',
      help: 'From the watch event that changed a view to the push of the new snapshot',
      labelNames: ['service'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}
