import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FaultInjection } from '../kube.js';
import { compileFaultInjection, decideFaults, isFaultInjectionRef, type FaultSpec } from './fault.js';

const fi = (spec: unknown): FaultInjection => ({ metadata: { name: 'f', namespace: 'ns' }, spec: spec as NonNullable<FaultInjection['spec']> });
/** A random source that returns the given draws in order (then fails the test if asked again). */
const draws = (...xs: number[]) => () => {
  const x = xs.shift();
  assert.ok(x !== undefined, 'no more draws expected');
  return x;
};

test('a FaultInjection compiles to an abort and a delay in ms, named namespace/name', () => {
  const c = compileFaultInjection(fi({ abort: { httpStatus: 503, percentage: 10 }, delay: { duration: '1s500ms', percentage: 20 } }));
  assert.deepEqual(c, { ok: true, fault: { ref: 'ns/f', abort: { status: 503, percentage: 10 }, delay: { ms: 1500, percentage: 20 } } });
});

test('every bad field of a FaultInjection is named, and nothing is compiled', () => {
  const c = compileFaultInjection(fi({ abort: { httpStatus: 99, percentage: 101 }, delay: { duration: '2m', percentage: 1.5 }, retry: {} }));
  assert.equal(c.ok, false);
  assert.deepEqual(!c.ok && c.problems, [
    'spec.retry is not a FaultInjection field',
    'spec.abort.httpStatus 99 must be a status from 200 to 599',
    'spec.abort.percentage 101 must be an integer from 0 to 100',
    'spec.delay.duration "2m" must be a duration from 1ms to 60s',
    'spec.delay.percentage 1.5 must be an integer from 0 to 100',
  ]);
  const empty = compileFaultInjection(fi({}));
  assert.deepEqual(!empty.ok && empty.problems, ['spec needs abort, delay or both']);
});

test('only policy.weft.dev FaultInjection is a fault reference', () => {
  assert.equal(isFaultInjectionRef({ group: 'policy.weft.dev', kind: 'FaultInjection', name: 'x' }), true);
  assert.equal(isFaultInjectionRef({ group: 'example.com', kind: 'FaultInjection', name: 'x' }), false);
  assert.equal(isFaultInjectionRef({ group: 'policy.weft.dev', kind: 'Fault', name: 'x' }), false);
});

const abort = (status: number, percentage: number): FaultSpec => ({ ref: `ns/abort-${status}`, abort: { status, percentage } });
const delay = (ms: number, percentage: number): FaultSpec => ({ ref: `ns/delay-${ms}`, delay: { ms, percentage } });

test('a fault fires when its draw x 100 falls under its percentage', () => {
  assert.deepEqual(decideFaults([abort(503, 10)], draws(0.099)), { delayMs: 0, abortStatus: 503 });
  assert.deepEqual(decideFaults([abort(503, 10)], draws(0.1)), { delayMs: 0 });
  assert.deepEqual(decideFaults([delay(200, 50)], draws(0.2)), { delayMs: 200 });
});

test('0% never fires and 100% always does, without drawing', () => {
  assert.deepEqual(decideFaults([abort(500, 0), delay(5, 0)], draws()), { delayMs: 0 });
  assert.deepEqual(decideFaults([abort(500, 100)], draws()), { delayMs: 0, abortStatus: 500 });
  assert.deepEqual(decideFaults([], draws()), { delayMs: 0 });
});

test('delays of several filters add up; the first abort drawn answers, with no delay', () => {
  assert.deepEqual(decideFaults([delay(100, 100), delay(50, 100)], draws()), { delayMs: 150 });
  assert.deepEqual(decideFaults([delay(100, 100), abort(503, 50), abort(429, 100)], draws(0.9)), { delayMs: 0, abortStatus: 429 });
  assert.deepEqual(decideFaults([abort(503, 50), abort(429, 50)], draws(0.1)), { delayMs: 0, abortStatus: 503 });
});

test('over many seeded draws the abort share follows the percentage', () => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  let aborted = 0;
  for (let i = 0; i < 10_000; i++) if (decideFaults([abort(503, 25)], rand).abortStatus !== undefined) aborted++;
  assert.ok(Math.abs(aborted / 10_000 - 0.25) < 0.02, `${aborted} of 10000`);
});
