import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RETRY_BUDGET, RetryBudget, SlidingCounter } from './retry-budget.js';

test('a sliding counter forgets events one bucket at a time, and all after a window', () => {
  const c = new SlidingCounter(1000);
  c.add(0, 5);
  c.add(450, 3);
  assert.equal(c.total(900), 8);
  assert.equal(c.total(1050), 3);
  assert.equal(c.total(1500), 0);
  c.add(10_000);
  assert.equal(c.total(10_000), 1);
});

test('the default budget is 20% of requests over 10 s plus 10 retries per second', () => {
  assert.deepEqual({ ...DEFAULT_RETRY_BUDGET }, { percent: 20, intervalMs: 10_000, minRetries: 10, minIntervalMs: 1000 });
});

test('without traffic the minimum rate allows 10 retries a second, then refuses', () => {
  const b = new RetryBudget();
  let allowed = 0;
  for (let i = 0; i < 30; i++) if (b.tryRetry(100)) allowed++;
  assert.equal(allowed, 10);
  assert.equal(b.denied, 20);
  assert.equal(b.tryRetry(1200), true, 'a new second allows retries again');
});

test('under steady failure retries stay within 20% of requests plus the minimum rate', () => {
  const b = new RetryBudget();
  let requests = 0;
  let retries = 0;
  // 200 requests/s for 20 s, each wanting 2 retries.
  for (let t = 0; t < 20_000; t += 5) {
    b.request(t);
    requests++;
    for (let k = 0; k < 2; k++) if (b.tryRetry(t)) retries++;
  }
  // Windows of 10 buckets may let a minimum-rate window span 0.9 s: at most 10 per 0.9 s.
  const bound = 0.2 * requests + 10 * (20 / 0.9 + 1);
  assert.ok(retries <= bound, `${retries} retries for ${requests} requests, bound ${bound}`);
  assert.ok(retries >= 0.2 * requests + 10 * 20 * 0.9, `both allowances add up: ${retries}`);
});

test('a budget of 0% with no minimum refuses every retry', () => {
  const b = new RetryBudget({ percent: 0, intervalMs: 10_000, minRetries: 0, minIntervalMs: 1000 });
  for (let t = 0; t < 100; t++) b.request(t);
  assert.equal(b.tryRetry(100), false);
});
