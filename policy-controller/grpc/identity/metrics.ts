/** Prometheus metrics of the identity service. */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';

export interface IdentityMetrics {
  readonly requests: Counter<'result'>;
  readonly duration: Histogram<'result'>;
  readonly tokenReviewsInFlight: Gauge;
}

export function identityMetrics(registry: Registry): IdentityMetrics {
  return {
    requests: new Counter({
      name: 'weft_identity_certify_requests_total',
      help: 'Certify calls by result: "ok" or the refusal reason',
      labelNames: ['result'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'weft_identity_certify_duration_seconds',
      help: 'Certify latency (TokenReview and signing included) by result',
      labelNames: ['result'],
      // TokenReview is one API round trip (~ms); signing ~1 ms; queueing can add seconds.
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    tokenReviewsInFlight: new Gauge({
      name: 'weft_identity_token_reviews_in_flight',
      help: 'TokenReview calls in progress',
      registers: [registry],
    }),
  };
}
