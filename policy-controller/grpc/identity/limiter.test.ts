import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimiter } from './limiter.js';
import { CertifyRefusal } from './refusal.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('at most `concurrency` calls run; the rest wait; beyond the queue a call is refused as overloaded', async () => {
  const limiter = new ConcurrencyLimiter(2, 1);
  const gates = [deferred(), deferred(), deferred()];
  let running = 0;
  let peak = 0;
  const job = (i: number) => limiter.run(async () => {
    running++;
    peak = Math.max(peak, running);
    await gates[i]?.promise;
    running--;
    return i;
  });
  const a = job(0);
  const b = job(1);
  const c = job(2); // queued
  await assert.rejects(job(3), (err: unknown) => err instanceof CertifyRefusal && err.reason === 'overloaded');
  assert.equal(limiter.inFlight, 2);
  gates[0]?.resolve();
  assert.equal(await a, 0);
  gates[1]?.resolve();
  gates[2]?.resolve();
  assert.deepEqual(await Promise.all([b, c]), [1, 2]);
  assert.equal(peak, 2);
  assert.equal(limiter.inFlight, 0);
});

test('a failing call releases its slot', async () => {
  const limiter = new ConcurrencyLimiter(1, 0);
  await assert.rejects(limiter.run(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await limiter.run(async () => 'next'), 'next');
});
