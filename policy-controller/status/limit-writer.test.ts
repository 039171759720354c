import assert from 'node:assert/strict';
import { test } from 'node:test';
import { limitConditions } from './limit-writer.js';

const accepted = { namespace: 'shop', name: 'l', accepted: true, reason: 'Accepted' as const, message: '50/s burst 50 on Server web, per proxy' };

test('the Accepted condition is written when it changes, keeps its transition time while its status holds, and leaves other conditions', () => {
  const first = limitConditions(undefined, accepted, 1, '2026-12-07T09:00:00Z');
  assert.deepEqual(first, [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: accepted.message, observedGeneration: 1, lastTransitionTime: '2026-12-07T09:00:00Z' }]);
  assert.equal(limitConditions(first, accepted, 1, '2026-12-07T09:05:00Z'), undefined, 'unchanged: nothing to write');
  const newer = limitConditions(first, { ...accepted, message: '60/s burst 60 on Server web, per proxy' }, 2, '2026-12-07T09:05:00Z');
  assert.equal(newer?.[0]?.lastTransitionTime, '2026-12-07T09:00:00Z', 'still True: the transition time stays');
  const other = { type: 'Ready', status: 'True' as const, reason: 'X', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' };
  const invalid = limitConditions([other, ...(newer ?? [])], { ...accepted, accepted: false, reason: 'Invalid', message: 'spec.rateLimit.burst: 0 must be an integer from 1 to 1000000; it applies nowhere' }, 3, '2026-12-07T09:10:00Z');
  assert.deepEqual(invalid?.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime]), [['Ready', 'True', 'X', '2026-01-01T00:00:00Z'], ['Accepted', 'False', 'Invalid', '2026-12-07T09:10:00Z']]);
});
