import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from './backoff.js';

test('backoff doubles up to the maximum, with jitter between half and the full base', () => {
  const lo = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
  assert.deepEqual([1, 2, 3, 4, 5].map(() => lo.next()), [50, 100, 200, 400, 500]);
  const hi = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0.999999);
  assert.deepEqual([1, 2, 3, 4, 5].map(() => hi.next()), [100, 200, 400, 800, 1000]);
});

test('reset starts over from the initial delay', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000 }, () => 0);
  b.next();
  b.next();
  b.reset();
  assert.equal(b.next(), 50);
});
