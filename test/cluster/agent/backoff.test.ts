import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffPolicy, KUBELET_BACKOFF, nextStreak, parseRestartPolicy, restartDelayMs, shouldRestart } from './backoff.js';

test('crash-loop backoff: first restart immediate, then 10 s doubling, capped at 5 minutes', () => {
  const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => restartDelayMs(KUBELET_BACKOFF, s));
  assert.deepEqual(delays, [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
});

test('a shorter base scales the cap and the reset window with it', () => {
  const p = backoffPolicy(1000);
  assert.equal(p.maxMs, 30_000);
  assert.equal(p.resetAfterMs, 60_000);
  assert.equal(restartDelayMs(p, 3), 2000);
  assert.equal(backoffPolicy(10_000), KUBELET_BACKOFF);
});

test('a container that ran past the reset window starts a new streak', () => {
  assert.equal(nextStreak(KUBELET_BACKOFF, 5, 1000), 6);
  assert.equal(nextStreak(KUBELET_BACKOFF, 5, 600_000), 1);
});

test('restart decisions follow the pod policy; sidecars always restart; init containers only on failure', () => {
  assert.equal(shouldRestart('app', 'Always', 0), true);
  assert.equal(shouldRestart('app', 'OnFailure', 0), false);
  assert.equal(shouldRestart('app', 'OnFailure', 1), true);
  assert.equal(shouldRestart('app', 'Never', 1), false);
  assert.equal(shouldRestart('sidecar', 'Never', 0), true);
  assert.equal(shouldRestart('init', 'Always', 0), false);
  assert.equal(shouldRestart('init', 'Always', 2), true);
  assert.equal(shouldRestart('init', 'Never', 2), false);
  assert.equal(parseRestartPolicy(undefined), 'Always');
  assert.equal(parseRestartPolicy('Never'), 'Never');
});
