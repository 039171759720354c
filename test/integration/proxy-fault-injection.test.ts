/**
 * Fault injection as a route filter through a real client proxy: HTTPRoutes whose ExtensionRef filters
 * name FaultInjections, compiled by core, converted to the wire by the controller's converter and back
 * by the proxy, exercised over loopback sockets against echo apps (HTTP/1.1 and HTTP/2).
 *
 * Figures are printed (`# ...`); timings are asserted with generous bounds (the machine is shared).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultInjection, HTTPRoute, HTTPRouteRule } from '../../core/kube.js';
import { OutboundWorld } from './proxy-policy-harness.js';

const SERVICES = [
  { namespace: 'prod', name: 'web', clusterIP: '10.96.4.1', ports: [{ port: 80 }], pods: ['web-0'] },
  { namespace: 'prod', name: 'v2', clusterIP: '10.96.4.2', ports: [{ port: 80 }], pods: ['v2-0'] },
  { namespace: 'prod', name: 'web2', clusterIP: '10.96.4.3', ports: [{ port: 80, h2: true }], pods: ['web2-0'] },
];

let seq = 0;
function route(name: string, rules: readonly HTTPRouteRule[], parent = 'web'): HTTPRoute {
  seq++;
  return {
    metadata: { name, namespace: 'prod', generation: 1, creationTimestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString() },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: parent, namespace: 'prod' }], rules },
  };
}
const ref = (name: string) => ({ type: 'ExtensionRef', extensionRef: { group: 'policy.weft.dev', kind: 'FaultInjection', name } });
const fault = (name: string, spec: NonNullable<FaultInjection['spec']>): FaultInjection => ({ metadata: { name, namespace: 'prod' }, spec });

let world: OutboundWorld;
before(async () => {
  world = await OutboundWorld.start({ services: SERVICES });
});
after(async () => {
  await world.close();
});

test('abort: 1,000 requests through a 30% abort filter: the share of 503s lies within 3 standard deviations of 30%', async () => {
  world.setSnapshot({
    httpRoutes: [route('abort', [{ filters: [ref('thirty')], backendRefs: [{ name: 'web', port: 80 }] }])],
    faultInjections: [fault('thirty', { abort: { httpStatus: 503, percentage: 30 } })],
  });
  const N = 1000;
  let aborted = 0;
  let served = 0;
  for (let i = 0; i < N; i++) {
    const r = await world.request('prod', 'http://web.prod/');
    if (r.status === 503) {
      aborted++;
      assert.equal(r.pod, '', 'an aborted request never reaches the app');
      assert.match(r.body, /fault injected by prod\/thirty/);
    } else if (r.status === 200 && r.pod === 'web-0') {
      served++;
    }
  }
  const sd = Math.sqrt(N * 0.3 * 0.7);
  console.log(`# abort 30%: ${aborted}/${N} aborted (${(aborted / N * 100).toFixed(1)}%; 3 sd = ${(3 * sd).toFixed(1)} requests), ${served} served by the app`);
  assert.equal(aborted + served, N, 'every request was either aborted with 503 or served by the app');
  assert.ok(Math.abs(aborted - 0.3 * N) <= 3 * sd, `${aborted} aborted: within 3 sd (${(3 * sd).toFixed(1)}) of ${0.3 * N}`);
});

test('delay: a 100% 300 ms delay holds every request that long before it is sent; 0% never delays', async () => {
  world.setSnapshot({
    httpRoutes: [route('delay', [{ filters: [ref('slow')], backendRefs: [{ name: 'web', port: 80 }] }])],
    faultInjections: [fault('slow', { delay: { duration: '300ms', percentage: 100 } })],
  });
  await world.request('prod', 'http://web.prod/'); // the client proxy starts outside the timing
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await world.request('prod', 'http://web.prod/');
    times.push(performance.now() - t0);
    assert.equal(r.status, 200);
  }
  world.setSnapshot({
    httpRoutes: [route('delay', [{ filters: [ref('slow')], backendRefs: [{ name: 'web', port: 80 }] }])],
    faultInjections: [fault('slow', { delay: { duration: '300ms', percentage: 0 } })],
  });
  const t0 = performance.now();
  const fast = await world.request('prod', 'http://web.prod/');
  const undelayed = performance.now() - t0;
  console.log(`# delay 300ms at 100%: ${times.map((t) => t.toFixed(0)).join(', ')} ms; at 0%: ${undelayed.toFixed(0)} ms`);
  assert.equal(fast.status, 200);
  for (const t of times) assert.ok(t >= 295 && t < 2000, `delayed about 300 ms: ${t.toFixed(0)} ms`);
  assert.ok(undelayed < 250, `not delayed at 0%: ${undelayed.toFixed(0)} ms`);
});

test('a delay comes before the route timeouts start: a 300 ms delay with a 200 ms request timeout still answers', async () => {
  world.setSnapshot({
    httpRoutes: [route('delay-timeout', [{ filters: [ref('slow')], backendRefs: [{ name: 'web', port: 80 }], timeouts: { request: '200ms' } }])],
    faultInjections: [fault('slow', { delay: { duration: '300ms', percentage: 100 } })],
  });
  const r = await world.request('prod', 'http://web.prod/');
  assert.equal(r.status, 200);
});

test('backendRef level: only the share sent to the faulty backend is aborted', async () => {
  world.setSnapshot({
    httpRoutes: [route('split', [{ backendRefs: [{ name: 'web', port: 80, weight: 1 }, { name: 'v2', port: 80, weight: 1, filters: [ref('v2-down')] }] }])],
    faultInjections: [fault('v2-down', { abort: { httpStatus: 502, percentage: 100 } })],
  });
  const counts = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const r = await world.request('prod', 'http://web.prod/');
    const k = `${r.status} ${r.pod}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  console.log(`# backend-level abort on v2: ${[...counts].map(([k, n]) => `${k}=${n}`).join(', ')}`);
  assert.deepEqual([...counts.keys()].sort(), ['200 web-0', '502 '], 'web answers, v2 never does: its share is aborted with 502');
  assert.equal(counts.get('200 v2-0'), undefined);
});

test('HTTP/2: an abort filter answers the stream with the configured status', async () => {
  world.setSnapshot({
    httpRoutes: [route('h2', [{ filters: [ref('all')], backendRefs: [{ name: 'web2', port: 80 }] }], 'web2')],
    faultInjections: [fault('all', { abort: { httpStatus: 429, percentage: 100 } })],
  });
  const r = await world.h2('prod', 'http://web2.prod/x');
  assert.equal(r.headers[':status'], 429);
});

test('an ExtensionRef to a missing FaultInjection answers 500 for its rule (the route is not Accepted)', async () => {
  world.setSnapshot({ httpRoutes: [route('missing', [{ filters: [ref('nope')], backendRefs: [{ name: 'web', port: 80 }] }])] });
  const r = await world.request('prod', 'http://web.prod/');
  assert.equal(r.status, 500);
  assert.equal(r.pod, '');
});
