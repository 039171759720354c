import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_FAILURE_ACCRUAL, EndpointAccrual, failureAccrualOf } from './failure-accrual.js';

const A = 'config.weft.dev/failure-accrual';

test('no annotation: no circuit breaking; consecutive: Linkerd defaults 7 failures, 1 s to 1 min', () => {
  assert.deepEqual(failureAccrualOf(undefined), { ok: true, config: undefined });
  assert.deepEqual(failureAccrualOf({ [A]: 'consecutive' }), { ok: true, config: DEFAULT_FAILURE_ACCRUAL });
  assert.deepEqual(failureAccrualOf({ [A]: 'consecutive', [`${A}-max-failures`]: '3', [`${A}-min-penalty`]: '200ms', [`${A}-max-penalty`]: '5s' }), {
    ok: true, config: { maxFailures: 3, minPenaltyMs: 200, maxPenaltyMs: 5000 },
  });
});

test('bad annotations apply nothing and each names its annotation', () => {
  const cases: [Record<string, string>, string][] = [
    [{ [A]: 'ratio' }, `${A}: "ratio" is not a failure accrual`],
    [{ [A]: 'consecutive', [`${A}-max-failures`]: '0' }, `${A}-max-failures: "0" must be an integer from 1 to 1000`],
    [{ [A]: 'consecutive', [`${A}-max-failures`]: 'many' }, `${A}-max-failures: "many"`],
    [{ [A]: 'consecutive', [`${A}-min-penalty`]: '5' }, `${A}-min-penalty: "5": a number needs a unit`],
    [{ [A]: 'consecutive', [`${A}-min-penalty`]: '10s', [`${A}-max-penalty`]: '1s' }, `${A}-max-penalty must not be below ${A}-min-penalty`],
    [{ [`${A}-max-failures`]: '3' }, `set without ${A}: consecutive`],
  ];
  for (const [annotations, words] of cases) {
    const r = failureAccrualOf(annotations);
    assert.equal(r.ok, false, JSON.stringify(annotations));
    const text = r.ok ? '' : r.problems.join('; ');
    assert.ok(text.includes(words), `${text} names ${words}`);
  }
});

test('max failures in a row eject; a success in between starts the count again', () => {
  const e = new EndpointAccrual({ maxFailures: 3, minPenaltyMs: 100, maxPenaltyMs: 1000 });
  e.failure(0);
  e.failure(0);
  e.success();
  assert.equal(e.failure(0), false);
  assert.equal(e.failure(0), false);
  assert.equal(e.failure(10), true);
  assert.equal(e.state, 'ejected');
  assert.equal(e.available(50), false);
  assert.equal(e.ejectedUntil, 110);
});

test('after the penalty one probe goes; its failure doubles the penalty, its success closes the circuit', () => {
  const e = new EndpointAccrual({ maxFailures: 1, minPenaltyMs: 100, maxPenaltyMs: 250 });
  e.failure(0);
  assert.equal(e.available(100), true, 'the probe');
  e.sent();
  assert.equal(e.available(100), false, 'one probe at a time');
  assert.equal(e.failure(120), true);
  assert.equal(e.ejectedUntil, 320, 'penalty doubled to 200');
  assert.equal(e.available(320), true);
  e.sent();
  e.failure(320);
  assert.equal(e.ejectedUntil, 570, 'capped at 250');
  assert.equal(e.available(570), true);
  e.sent();
  e.success();
  assert.equal(e.state, 'ready');
  assert.equal(e.available(570), true);
  e.failure(600);
  assert.equal(e.ejectedUntil, 700, 'a success resets the back-off to the minimum');
});
