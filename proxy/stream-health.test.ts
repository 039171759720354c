import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAILURE_LOG_INTERVAL_MS, StreamHealth } from './stream-health.js';

test('stream failures: the first and each new reason are logged, repeats are summarised, recovery is said once', () => {
  const lines: string[] = [];
  let now = 1_000;
  const h = new StreamHealth((l) => lines.push(l), () => now);
  const tls = Object.assign(new Error('x'), { details: 'No connection established. Last error: certificate signature failure' });
  h.answered('endpoints of a/b:80');
  assert.deepEqual(lines, [], 'nothing to say while healthy');
  h.failed('inbound policy of port 8080', tls, 500);
  h.failed('endpoints of a/b:80', tls, 500);
  h.failed('inbound policy of port 8080', tls, 1000);
  assert.deepEqual(lines, ['control plane: inbound policy of port 8080: stream failed: No connection established. Last error: certificate signature failure; retry within 500 ms']);
  h.failed('endpoints of a/b:80', new Error('connect ECONNREFUSED 10.96.0.5:8090'), 1000);
  assert.equal(lines.length, 2, 'a new reason is logged at once');
  assert.match(lines[1] ?? '', /ECONNREFUSED .*\(2 more stream failures since the last line\)$/);
  h.failed('endpoints of a/b:80', new Error('connect ECONNREFUSED 10.96.0.5:8090'), 2000);
  assert.equal(lines.length, 2);
  now += FAILURE_LOG_INTERVAL_MS;
  h.failed('endpoints of a/b:80', new Error('connect ECONNREFUSED 10.96.0.5:8090'), 4000);
  assert.equal(lines.length, 3, 'a repeat is logged again after the interval');
  h.answered('endpoints of a/b:80');
  h.answered('inbound policy of port 8080');
  assert.deepEqual(lines.slice(3), ['control plane: endpoints of a/b:80: stream answering again']);
});
