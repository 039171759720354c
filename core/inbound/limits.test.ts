import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POLICY_API_GROUP } from '../contract.js';
import type { InboundLimitPolicy } from '../kube-policy.js';
import { compileInboundPolicy, indexInboundPolicy } from './compile.js';
import { admit, compileInboundLimitPolicy, describeLimits, InFlight, retryAfterSeconds, TokenBucket, type Limiter } from './limits.js';
import { NS, pod, server, serverRoute, snapshot } from './testdata/fixtures.js';

function limitPolicy(name: string, spec: Record<string, unknown>, created = '2026-01-01T00:00:00Z'): InboundLimitPolicy {
  return { apiVersion: `${POLICY_API_GROUP}/v1alpha1`, kind: 'InboundLimitPolicy', metadata: { name, namespace: NS, creationTimestamp: created }, spec };
}
const onServer = (name: string) => ({ group: POLICY_API_GROUP, kind: 'Server', name });

test('a token bucket starts full, admits its burst at once, then one request per 1/rate seconds', () => {
  const b = new TokenBucket(50, 5);
  for (let i = 0; i < 5; i++) assert.deepEqual(b.take(1000), { ok: true });
  const refused = b.take(1000);
  assert.deepEqual(refused, { ok: false, retryAfterMs: 20 });
  assert.equal(b.take(1010).ok, false, 'half a token after 10 ms');
  assert.equal(b.take(1020).ok, true, 'one token after 20 ms');
  // A long pause refills to the burst, never above it.
  assert.equal(b.ready(60_000), true);
  let n = 0;
  while (b.take(60_000).ok) n++;
  assert.equal(n, 5);
});

test('a token bucket admits the rate over a long run whatever the arrival pattern', () => {
  const b = new TokenBucket(50, 50);
  let admitted = 0;
  // 200 requests a second for 10 s, 5 ms apart.
  for (let t = 0; t < 10_000; t += 5) if (b.take(t).ok) admitted++;
  // The burst (50) plus 50/s over 10 s (less the first tick).
  assert.ok(admitted >= 540 && admitted <= 550, String(admitted));
});

test('a clock that goes backwards neither refills nor throws', () => {
  const b = new TokenBucket(1, 1);
  assert.equal(b.take(5000).ok, true);
  assert.equal(b.take(4000).ok, false);
  assert.equal(b.take(5999).ok, false);
  assert.equal(b.take(6000).ok, true);
});

test('Retry-After is whole seconds, at least 1', () => {
  assert.equal(retryAfterSeconds(20), 1);
  assert.equal(retryAfterSeconds(1000), 1);
  assert.equal(retryAfterSeconds(1001), 2);
});

test('in flight admits up to its maximum and releases', () => {
  const f = new InFlight(2);
  assert.equal(f.acquire(), true);
  assert.equal(f.acquire(), true);
  assert.equal(f.acquire(), false);
  f.release();
  assert.equal(f.acquire(), true);
  f.release(); f.release(); f.release();
  assert.equal(f.current, 0, 'never below zero');
});

test('admit checks every limit before taking anything: a refusal takes no token and no slot', () => {
  const limits = { namespace: NS, name: 'l', target: { kind: 'Server' as const, name: 's' } };
  const server: Limiter = { limits, bucket: new TokenBucket(10, 1), inFlight: new InFlight(5) };
  const route: Limiter = { limits, inFlight: new InFlight(1) };
  const first = admit([server, route], 0);
  assert.equal(first.ok, true);
  const second = admit([server, route], 0);
  assert.equal(second.ok, false);
  assert.equal(!second.ok && second.code, 'CONCURRENCY_LIMITED');
  assert.equal(server.inFlight?.current, 1, 'the refusal took no slot of the server');
  if (first.ok) first.release?.();
  if (first.ok) first.release?.();
  assert.equal(route.inFlight?.current, 0, 'release is idempotent');
  const third = admit([server, route], 0);
  assert.equal(!third.ok && third.code, 'RATE_LIMITED');
  assert.equal(!third.ok && third.retryAfterMs, 100);
  assert.equal(route.inFlight?.current, 0);
});

test('a valid policy compiles; burst defaults to the rate', () => {
  const c = compileInboundLimitPolicy(limitPolicy('api', { targetRef: onServer('api-http'), rateLimit: { requestsPerSecond: 50 }, concurrency: { maxInFlight: 20 } }));
  assert.ok(c.ok);
  assert.deepEqual(c.value, { namespace: NS, name: 'api', target: { kind: 'Server', name: 'api-http' }, rate: { requestsPerSecond: 50, burst: 50 }, concurrency: { maxInFlight: 20 } });
  assert.equal(describeLimits(c.value), '50/s burst 50, 20 in flight');
});

test('each bad field is named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ rateLimit: { requestsPerSecond: 5 } }, /spec\.targetRef: missing/],
    [{ targetRef: { kind: 'Service', name: 'x' }, rateLimit: { requestsPerSecond: 5 } }, /spec\.targetRef\.kind: "Service" is not Server, HTTPRoute or GRPCRoute/],
    [{ targetRef: { group: 'core', kind: 'Server', name: 'x' }, rateLimit: { requestsPerSecond: 5 } }, /spec\.targetRef\.group/],
    [{ targetRef: onServer('x'), rateLimit: { requestsPerSecond: 0 } }, /spec\.rateLimit\.requestsPerSecond: 0 must be an integer/],
    [{ targetRef: onServer('x'), rateLimit: { requestsPerSecond: '50' } }, /spec\.rateLimit\.requestsPerSecond: "50"/],
    [{ targetRef: onServer('x'), rateLimit: { requestsPerSecond: 5, burst: 1.5 } }, /spec\.rateLimit\.burst: 1\.5/],
    [{ targetRef: onServer('x'), rateLimit: { requestsPerSecond: 5, perIdentity: true } }, /spec\.rateLimit\.perIdentity: not a field/],
    [{ targetRef: onServer('x'), concurrency: { maxInFlight: -1 } }, /spec\.concurrency\.maxInFlight: -1/],
    [{ targetRef: onServer('x') }, /sets neither rateLimit nor concurrency/],
    [{ targetRef: onServer('x'), rateLimit: { requestsPerSecond: 5 }, overrides: [] }, /spec\.overrides: not a field/],
  ];
  for (const [spec, want] of cases) {
    const c = compileInboundLimitPolicy(limitPolicy('bad', spec));
    assert.equal(c.ok, false, JSON.stringify(spec));
    assert.match(c.ok ? '' : c.problems.join('; '), want);
  }
});

test('the compiler puts a Server limit on the port and a route limit on the route; a bad or younger policy applies nowhere and is reported', () => {
  const snap = snapshot({
    pods: [pod('api-0')],
    servers: [server('api-http')],
    httpRoutes: [serverRoute('slow', 'api-http', [{ matches: [{ path: { type: 'PathPrefix', value: '/slow' } }] }])],
    inboundLimitPolicies: [
      limitPolicy('port', { targetRef: onServer('api-http'), rateLimit: { requestsPerSecond: 100, burst: 10 } }),
      limitPolicy('younger', { targetRef: onServer('api-http'), concurrency: { maxInFlight: 1 } }, '2026-02-01T00:00:00Z'),
      limitPolicy('route', { targetRef: { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'slow' }, concurrency: { maxInFlight: 3 } }),
      limitPolicy('broken', { targetRef: onServer('api-http'), rateLimit: { requestsPerSecond: -5 } }),
    ],
  });
  const p = compileInboundPolicy(snap, { namespace: NS, name: 'api-0' }, 8080);
  assert.ok(p !== undefined);
  assert.equal(p.limits?.name, 'port');
  assert.deepEqual(p.limits?.rate, { requestsPerSecond: 100, burst: 10 });
  const route = [...p.routePolicies.values()].find((r) => r.name === 'slow');
  assert.deepEqual(route?.limits?.concurrency, { maxInFlight: 3 });
  const diags = indexInboundPolicy(snap).diagnostics.filter((d) => d.object.kind === 'InboundLimitPolicy');
  assert.deepEqual(diags.map((d) => [d.object.name, d.reason]), [['broken', 'Invalid'], ['younger', 'Conflicted']]);
  assert.match(diags[0]!.message, /spec\.rateLimit\.requestsPerSecond: -5/);
});
