import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cidrContains, intToIp, ipToInt, IpPool, parseCidr } from './ipam.js';

test('addresses convert to integers and back', () => {
  assert.equal(intToIp(ipToInt('10.244.1.2')), '10.244.1.2');
  assert.equal(intToIp(ipToInt('255.255.255.255')), '255.255.255.255');
  assert.throws(() => ipToInt('10.0.0'));
  assert.deepEqual(parseCidr('10.244.7.9/16'), { base: ipToInt('10.244.0.0'), size: 65536, prefix: 16 });
  assert.equal(cidrContains('10.245.0.0/16', '10.245.3.4'), true);
  assert.equal(cidrContains('10.245.0.0/16', '10.244.3.4'), false);
});

test('the real node hands out 10.244.1.1 upward, one address per pod, stable per key', () => {
  const pool = new IpPool('10.244.0.0/16', 257);
  assert.equal(pool.allocate('a'), '10.244.1.1');
  assert.equal(pool.allocate('b'), '10.244.1.2');
  assert.equal(pool.allocate('a'), '10.244.1.1');
  assert.equal(pool.ipOf('b'), '10.244.1.2');
});

test('released addresses are reused, reserved ones are skipped', () => {
  const pool = new IpPool('10.245.0.0/16', 1);
  assert.equal(pool.reserve('x', '10.245.0.2'), true);
  assert.equal(pool.reserve('y', '10.245.0.2'), false);
  assert.equal(pool.reserve('y', '10.1.0.2'), false);
  assert.equal(pool.allocate('a'), '10.245.0.1');
  assert.equal(pool.allocate('b'), '10.245.0.3');
  pool.release('a');
  assert.equal(pool.allocate('c'), '10.245.0.1');
  assert.equal(pool.allocatedCount, 3);
});

test('a small CIDR runs out with an error', () => {
  const pool = new IpPool('10.0.0.0/30', 1);
  assert.equal(pool.allocate('a'), '10.0.0.1');
  assert.equal(pool.allocate('b'), '10.0.0.2');
  assert.throws(() => pool.allocate('c'), /exhausted/);
});

test('the simulated CIDR holds thousands of pods', () => {
  const pool = new IpPool('10.245.0.0/16', 1);
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(pool.allocate(`p${i}`));
  assert.equal(seen.size, 5000);
});
