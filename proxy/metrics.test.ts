import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/support/paths.js';
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
