import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer, EndpointState, endpointKey } from './balancer.js';
import type { Endpoint } from './io.js';

const ep = (i: number): Endpoint => ({ ip: `10.0.0.${i}`, port: 8080, meshed: true, identity: `spiffe://cluster.local/ns/a/sa/s${i}` });

test('of the two endpoints drawn, the one with lower latency x (in-flight + 1) is picked', () => {
  let draws = [0, 0];
  const b = new Balancer(() => draws.shift() ?? 0);
  b.update([ep(1), ep(2)]);
  const [a, c] = b.endpoints as EndpointState[];
  a!.ewmaMs = 10;
  c!.ewmaMs = 2;
  draws = [0, 0]; // i = 0, j = 1
  assert.equal(b.pick(), c);
  c!.inFlight = 9; // 2 * 10 > 10 * 1
  draws = [0, 0];
  assert.equal(b.pick(), a);
});

test('an endpoint whose connection failed is avoided while another is available', () => {
  const b = new Balancer();
  b.update([ep(1), ep(2)]);
  const [a] = b.endpoints as EndpointState[];
  a!.fail();
  for (let i = 0; i < 50; i++) assert.notEqual(b.pick(), a);
});

test('endpoints already tried by a request are never picked again', () => {
  const b = new Balancer();
  b.update([ep(1), ep(2), ep(3)]);
  const [a, c] = b.endpoints as EndpointState[];
  for (let i = 0; i < 50; i++) {
    const p = b.pick(new Set([a!, c!]));
    assert.equal(p, b.endpoints[2]);
  }
  assert.equal(b.pick(new Set(b.endpoints)), undefined);
});

test('endpoint state survives discovery updates for endpoints that stay', () => {
  const b = new Balancer();
  b.update([ep(1), ep(2)]);
  const kept = b.endpoints[1]!;
  kept.ewmaMs = 42;
  b.update([ep(2), ep(3)]);
  assert.equal(b.endpoints[0], kept);
  assert.equal(b.endpoints[0]!.ewmaMs, 42);
  assert.equal(b.size, 2);
});

test('the latency average follows peaks at once and decays towards faster answers', () => {
  const s = new EndpointState(ep(1), endpointKey(ep(1)));
  s.observe(50, 0);
  assert.equal(s.ewmaMs, 50);
  s.observe(1, 10_000);
  assert.ok(s.ewmaMs < 50 && s.ewmaMs > 1);
});

test('an endpoint that answered slowly once is not starved: its estimate decays while it is not picked', () => {
  const slow = new EndpointState(ep(1), endpointKey(ep(1)));
  const fast = new EndpointState(ep(2), endpointKey(ep(2)));
  slow.observe(50, 0);
  fast.observe(2, 0);
  assert.ok(slow.cost(1) > fast.cost(1), 'at first the slow one costs more');
  // The fast one keeps answering in 2 ms; the slow one is never picked meanwhile.
  for (let t = 100; t <= 40_000; t += 100) fast.observe(2, t);
  assert.ok(slow.cost(40_000) < fast.cost(40_000), `after 40 s unpicked the slow one is tried again: ${slow.cost(40_000)} < ${fast.cost(40_000)}`);
});

test('an empty endpoint set picks nothing, a single endpoint always itself', () => {
  const b = new Balancer();
  assert.equal(b.pick(), undefined);
  b.update([ep(1)]);
  assert.equal(b.pick(), b.endpoints[0]);
});

test('Balancers: a balancer no request asked for during the idle time is forgotten and its watch ends; over the bound the least recently used goes first', async () => {
  const { Balancers } = await import('./deps.js');
  const open = new Set<string>();
  const endpoints = {
    watch(sp: { namespace: string; name: string; port: number }, onUpdate: (e: readonly Endpoint[]) => void) {
      const k = `${sp.name}:${sp.port}`;
      open.add(k);
      onUpdate([{ ip: '10.0.0.1', port: sp.port, meshed: false }]);
      return () => open.delete(k);
    },
  };
  const b = new Balancers(endpoints, 1_000, 2);
  const a = { namespace: 'n', name: 'a', port: 80 };
  const c = { namespace: 'n', name: 'c', port: 80 };
  const d = { namespace: 'n', name: 'd', port: 80 };
  const t0 = Date.now();
  b.sweep(t0);
  const first = b.get(a);
  assert.ok(first.known);
  b.get(c);
  assert.deepEqual([...open].sort(), ['a:80', 'c:80']);
  b.sweep(t0 + 500);
  b.get(c); // c used more recently than a
  b.get(d); // over the bound of 2: a goes
  assert.deepEqual([...open].sort(), ['c:80', 'd:80']);
  assert.equal(b.sweep(t0 + 2_000), 0, 'idle for longer than 1 s: all forgotten');
  assert.equal(open.size, 0);
  // The same ServicePort object asked again gets a new balancer with a new watch, not the retired one.
  const again = b.get(a);
  assert.notEqual(again, first);
  assert.deepEqual([...open], ['a:80']);
});

test('circuit breaking: an endpoint failing max-failures in a row leaves the draw, one probe later decides', () => {
  const b = new Balancer();
  b.configureAccrual({ maxFailures: 2, minPenaltyMs: 1_000_000, maxPenaltyMs: 1_000_000 });
  b.update([ep(1), ep(2)]);
  const [a, c] = b.endpoints as EndpointState[];
  a!.outcome(true);
  a!.outcome(true);
  assert.equal(b.ejected(), 1);
  for (let i = 0; i < 50; i++) assert.equal(b.pick(), c, 'the ejected endpoint is not drawn');
  // Every candidate ejected: the draw is made over all of them (fail open).
  c!.outcome(true);
  c!.outcome(true);
  assert.notEqual(b.pick(), undefined);
  b.configureAccrual(undefined);
  assert.equal(b.ejected(), 0, 'turning it off forgets the ejections');
});

test('circuit breaking: the same settings keep the counts; new settings start them again', () => {
  const b = new Balancer();
  const cfg = { maxFailures: 2, minPenaltyMs: 1_000_000, maxPenaltyMs: 1_000_000 };
  b.configureAccrual(cfg);
  b.update([ep(1), ep(2)]);
  const [a] = b.endpoints as EndpointState[];
  a!.outcome(true);
  b.configureAccrual({ ...cfg });
  a!.outcome(true);
  assert.equal(b.ejected(), 1, 'equal settings from a new policy object keep the count');
  b.configureAccrual({ ...cfg, maxFailures: 3 });
  assert.equal(b.ejected(), 0);
});
