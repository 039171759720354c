import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
import { delayFigures } from './event-loop-delay.js';
import { classify, createRegistry, ProxyStats, RouteMetrics } from './metrics.js';

const LABELS = {
  service_namespace: 'prod', service_name: 'web', service_port: '80', route_kind: 'http', route_namespace: 'prod', route_name: 'r',
  route_rule: '0', backend_namespace: 'prod', backend_name: 'v1', backend_port: '80',
};

test('every metric the proxy exposes is documented in docs/metrics.md', async () => {
  const routes = new RouteMetrics();
  routes.outbound(LABELS).record({ status: 200, grpcStatus: undefined, error: undefined, durationMs: 1 });
  const text = await createRegistry(new ProxyStats(), routes).metrics();
  const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'metrics.md'), 'utf8');
  assert.ok(names.length > 20);
  for (const n of names) assert.ok(doc.includes(`\`${n}\``), `${n} is not documented`);
});

test('durations are exported once, in seconds: every histogram is a *_seconds histogram (no millisecond duplicate)', async () => {
  const routes = new RouteMetrics();
  routes.outbound(LABELS).record({ status: 200, grpcStatus: undefined, error: undefined, durationMs: 1 });
  const stats = new ProxyStats();
  stats.outbound.response(200);
  const text = await createRegistry(stats, routes).metrics();
  const histograms = [...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]!);
  assert.ok(histograms.includes('weft_outbound_request_duration_seconds') && histograms.includes('weft_inbound_request_duration_seconds'));
  assert.deepEqual(histograms.filter((h) => !h.endsWith('_seconds')), []);
  assert.ok(!text.includes('latency_ms'));
  assert.match(text, /weft_proxy_responses_total\{direction="outbound",status_class="2xx"\} 1/);
});

test('per-route series: counters by outcome, histograms by classification, buckets in seconds', async () => {
  const routes = new RouteMetrics();
  const s = routes.outbound(LABELS);
  s.record({ status: 200, grpcStatus: undefined, error: undefined, durationMs: 3 });
  s.record({ status: 200, grpcStatus: undefined, error: undefined, durationMs: 40 });
  s.record({ status: 504, grpcStatus: undefined, error: 'UPSTREAM_TIMEOUT', durationMs: 100 });
  const text = await createRegistry(new ProxyStats(), routes).metrics();
  assert.match(text, /weft_outbound_requests_total\{[^}]*status_code="200",grpc_status="",error=""\} 2/);
  assert.match(text, /weft_outbound_requests_total\{[^}]*status_code="504",grpc_status="",error="timeout"\} 1/);
  assert.match(text, /weft_outbound_request_duration_seconds_bucket\{[^}]*classification="success",le="0.005"\} 1/);
  assert.match(text, /weft_outbound_request_duration_seconds_bucket\{[^}]*classification="success",le="0.05"\} 2/);
  assert.match(text, /weft_outbound_request_duration_seconds_count\{[^}]*classification="failure"\} 1/);
});

test('a failure is a 5xx, a non-OK gRPC status or a proxy error', () => {
  const o = { grpcStatus: undefined, error: undefined, durationMs: 0 };
  assert.equal(classify({ ...o, status: 200 }), 'success');
  assert.equal(classify({ ...o, status: 404 }), 'success');
  assert.equal(classify({ ...o, status: 503 }), 'failure');
  assert.equal(classify({ ...o, status: 200, grpcStatus: 14 }), 'failure');
  assert.equal(classify({ ...o, status: 200, grpcStatus: 0 }), 'success');
  assert.equal(classify({ ...o, status: 403, error: 'FORBIDDEN' }), 'failure');
});

test('two scrapes within one event-loop sample never write NaN: the second repeats the last window (prom-client wrote "Nan")', async () => {
  const registry = createRegistry(new ProxyStats(), new RouteMetrics());
  await new Promise((r) => setTimeout(r, 100)); // samples every 10 ms
  const first = await registry.metrics();
  const second = await registry.metrics(); // no sample since the first scrape: an empty window
  for (const text of [first, second]) {
    // The value is the last field of a sample line (no timestamps here): a number, never NaN.
    assert.deepEqual(text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !/ -?\d+(\.\d+)?(e[-+]?\d+)?$/.test(l)), []);
  }
  const mean = (text: string) => Number(/^nodejs_eventloop_lag_mean_seconds (\S+)$/m.exec(text)?.[1]);
  assert.ok(mean(first) > 0, `a real mean delay: ${mean(first)}`);
  assert.equal(mean(second), mean(first));
  const names = (text: string) => [...text.matchAll(/^# TYPE (nodejs_eventloop_lag\S*) /gm)].map((m) => m[1]!);
  assert.deepEqual(names(second).sort(), [
    'nodejs_eventloop_lag_max_seconds', 'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_p50_seconds',
    'nodejs_eventloop_lag_p90_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_stddev_seconds',
  ], 'each statistic exactly once, under prom-client\'s names');
});

test('an empty delay window has no figures; a sampled one is converted from nanoseconds to seconds', () => {
  const empty = { count: 0, min: 9223372036854776000, max: 0, mean: Number.NaN, stddev: Number.NaN, percentile: () => 0 };
  assert.equal(delayFigures(empty), undefined);
  const one = { count: 3, min: 1e6, max: 3e6, mean: 2e6, stddev: 1e6, percentile: (p: number) => p * 1e4 };
  assert.deepEqual(delayFigures(one), { min: 0.001, max: 0.003, mean: 0.002, stddev: 0.001, p50: 0.0005, p90: 0.0009, p99: 0.00099 });
});
